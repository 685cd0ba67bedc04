#include "storage/prefilled_wal.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace caseledger::storage {
namespace {

// Writes zeros into [from, to) of `fd` and syncs them; false on any failure.
bool WriteZeros(int fd, uint64_t from, uint64_t to) {
  static const std::vector<char> kZeros(1 << 20, 0);
  while (from < to) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(to - from, kZeros.size()));
    const ssize_t written = pwrite(fd, kZeros.data(), n, static_cast<off_t>(from));
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    from += static_cast<uint64_t>(written);
  }
  return fdatasync(fd) == 0;
}

// A WAL file of the wrapped file system, whose appends land in zero-filled
// room prepared ahead of them (see the header).
class PrefilledWalFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  PrefilledWalFile(std::unique_ptr<rocksdb::FSWritableFile> target, int fd, uint64_t chunk_bytes)
      : rocksdb::FSWritableFileOwnerWrapper(std::move(target)), fd_(fd), chunk_bytes_(chunk_bytes) {}

  ~PrefilledWalFile() override {
    if (fd_ >= 0) close(fd_);
  }

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    return AppendAt(std::nullopt, data.size(), [&] { return target()->Append(data, options, dbg); });
  }

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& verification_info,
                           rocksdb::IODebugContext* dbg) override {
    return AppendAt(std::nullopt, data.size(),
                    [&] { return target()->Append(data, options, verification_info, dbg); });
  }

  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) override {
    return AppendAt(offset, data.size(), [&] { return target()->PositionedAppend(data, offset, options, dbg); });
  }

  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     const rocksdb::DataVerificationInfo& verification_info,
                                     rocksdb::IODebugContext* dbg) override {
    return AppendAt(offset, data.size(),
                    [&] { return target()->PositionedAppend(data, offset, options, verification_info, dbg); });
  }

  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    std::lock_guard<std::mutex> lock(mu_);
    rocksdb::IOStatus s = target()->Truncate(size, options, dbg);
    if (s.ok()) {
      appended_ = size;
      filled_ = std::min(filled_, size);  // the file ends at `size` now
    }
    return s;
  }

  rocksdb::IOStatus Close(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    std::lock_guard<std::mutex> lock(mu_);
    rocksdb::IOStatus s = target()->Close(options, dbg);
    if (fd_ >= 0) {
      // The zeros past what RocksDB appended are not needed once it is done
      // with the file. RocksDB's own close trims its preallocation the same
      // way; a failure here only leaves zeros that readers skip.
      if (s.ok() && filled_ > appended_ && ftruncate(fd_, static_cast<off_t>(appended_)) != 0) {
        // Left as it is: harmless (see the header).
      }
      close(fd_);
      fd_ = -1;
    }
    return s;
  }

 private:
  // One of RocksDB's writes (`write`) of `size` bytes at `offset` (nullopt:
  // right after what it appended so far), once there is room for it.
  template <typename Write>
  rocksdb::IOStatus AppendAt(std::optional<uint64_t> offset, size_t size, Write write) {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t end = offset.value_or(appended_) + size;
    PrepareRoom(end);
    rocksdb::IOStatus s = write();
    if (s.ok()) appended_ = std::max(appended_, end);
    return s;
  }

  // Makes [appended_, end) zero-filled room, if it is not yet and filling
  // still works. Never fails the append: without room the append only costs
  // more to sync.
  void PrepareRoom(uint64_t end) {
    if (fd_ < 0 || end <= filled_) return;
    const uint64_t from = std::max(filled_, appended_);
    const uint64_t to = end + chunk_bytes_;
    if (WriteZeros(fd_, from, to)) {
      filled_ = to;
    } else {
      close(fd_);  // e.g. a full disk: stop filling this file
      fd_ = -1;
    }
  }

  std::mutex mu_;
  int fd_;                    // our own descriptor of the file, for the zeros; -1: not filling
  const uint64_t chunk_bytes_;
  uint64_t appended_ = 0;     // bytes RocksDB appended (the file was created empty)
  uint64_t filled_ = 0;       // [0, filled_) is written: RocksDB's bytes, then zeros
};

}  // namespace

PrefilledWalFileSystem::PrefilledWalFileSystem(const std::shared_ptr<rocksdb::FileSystem>& target,
                                               uint64_t chunk_bytes)
    : rocksdb::FileSystemWrapper(target), chunk_bytes_(std::max<uint64_t>(chunk_bytes, 4096)) {}

bool PrefilledWalFileSystem::IsWalFile(const std::string& fname) {
  constexpr char kSuffix[] = ".log";
  constexpr size_t kSuffixLen = sizeof(kSuffix) - 1;
  // RocksDB names its WAL files NNNNNN.log; its info log is LOG (no suffix).
  return fname.size() > kSuffixLen && fname.compare(fname.size() - kSuffixLen, kSuffixLen, kSuffix) == 0;
}

rocksdb::IOStatus PrefilledWalFileSystem::NewWritableFile(const std::string& fname,
                                                          const rocksdb::FileOptions& options,
                                                          std::unique_ptr<rocksdb::FSWritableFile>* result,
                                                          rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->NewWritableFile(fname, options, result, dbg);
  if (!s.ok() || !IsWalFile(fname) || options.use_direct_writes || options.use_mmap_writes) return s;
  const int fd = open(fname.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return s;  // not filling this file; it works as RocksDB made it
  *result = std::make_unique<PrefilledWalFile>(std::move(*result), fd, chunk_bytes_);
  return s;
}

}  // namespace caseledger::storage
