#include "storage/prefilled_wal.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace caseledger::storage {
namespace {

// Zeros are written in pieces of this size, each written back before the
// next, so that a sync of RocksDB's that comes meanwhile flushes at most one
// piece besides its own bytes.
constexpr size_t kPieceBytes = 256 << 10;

// Writes zeros into [from, to) of `fd` and syncs them; false on any failure.
bool WriteZeros(int fd, uint64_t from, uint64_t to) {
  static const std::vector<char> kZeros(kPieceBytes, 0);
  while (from < to) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(to - from, kZeros.size()));
    const ssize_t written = pwrite(fd, kZeros.data(), n, static_cast<off_t>(from));
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    // Best effort: where the file system cannot, the final fdatasync writes
    // the pieces together.
    (void)sync_file_range(fd, static_cast<off64_t>(from), written,
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    from += static_cast<uint64_t>(written);
  }
  return fdatasync(fd) == 0;
}

}  // namespace

// What one WAL file shares with the fill thread.
struct WalFillState {
  WalFillState(int fd_in, uint64_t chunk) : fd(fd_in), chunk_bytes(chunk) {}

  std::mutex mu;
  std::condition_variable fill_ended;
  int fd;                      // guarded by mu: our descriptor, for the zeros; -1: not filling
  const uint64_t chunk_bytes;
  uint64_t appended = 0;       // guarded by mu: bytes RocksDB appended (the file was created empty)
  uint64_t filled = 0;         // guarded by mu: [0, filled) is written: RocksDB's bytes, then zeros
  bool filling = false;        // guarded by mu: a fill of [filled, filled + chunk) is queued or under way

  // Records how a fill of [.., to) ended. A failed one (e.g. a full disk)
  // stops filling this file; its appends go on without room.
  void FillEndedLocked(bool ok, uint64_t to) {
    if (ok) {
      filled = to;
    } else {
      CloseLocked();
    }
  }

  // Returns once no fill of this file is queued or under way.
  void WaitForFillLocked(std::unique_lock<std::mutex>& lock) {
    fill_ended.wait(lock, [&] { return !filling; });
  }

  // Stops filling for good, once a fill under way has ended.
  void StopLocked(std::unique_lock<std::mutex>& lock) {
    WaitForFillLocked(lock);
    CloseLocked();
  }

 private:
  void CloseLocked() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

// The fill thread and its queue: fills the next chunk of each file queued,
// one at a time, in the order they were queued.
class PrefilledWalFileSystem::Filler {
 public:
  ~Filler() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // Queues a fill of `state`'s next chunk; the caller has set state->filling.
  void Schedule(std::shared_ptr<WalFillState> state) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
    queue_.push_back(std::move(state));
    work_.notify_all();
  }

  void WaitUntilIdle() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      // Queued fills are done even when stopping: a file waits for its fill.
      work_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      std::shared_ptr<WalFillState> state = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      FillNextChunk(*state);
      lock.lock();
      busy_ = false;
      if (queue_.empty()) idle_.notify_all();
    }
  }

  static void FillNextChunk(WalFillState& state) {
    uint64_t from = 0, to = 0;
    int fd = -1;
    {
      std::lock_guard<std::mutex> lock(state.mu);
      fd = state.fd;
      from = state.filled;  // >= appended: appends wait while this fill is under way
      to = from + state.chunk_bytes;
    }
    // No lock held: appends inside [0, from) go on meanwhile. The descriptor
    // stays open: closing it waits for `filling` to clear.
    const bool ok = fd >= 0 && WriteZeros(fd, from, to);
    {
      std::lock_guard<std::mutex> lock(state.mu);
      state.FillEndedLocked(ok, to);
      state.filling = false;
    }
    state.fill_ended.notify_all();
  }

  std::mutex mu_;
  std::condition_variable work_;  // a fill was queued, or stop_ set
  std::condition_variable idle_;  // the queue ran empty
  std::deque<std::shared_ptr<WalFillState>> queue_;  // guarded by mu_
  bool busy_ = false;                              // guarded by mu_: a fill is under way
  bool stop_ = false;                              // guarded by mu_
  std::thread thread_;                             // started with the first fill
};

namespace {

// A WAL file of the wrapped file system, whose appends land in zero-filled
// room prepared ahead of them (see the header).
class PrefilledWalFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  PrefilledWalFile(std::unique_ptr<rocksdb::FSWritableFile> target, int fd, uint64_t chunk_bytes,
                   std::shared_ptr<PrefilledWalFileSystem::Filler> filler)
      : rocksdb::FSWritableFileOwnerWrapper(std::move(target)),
        state_(std::make_shared<WalFillState>(fd, chunk_bytes)),
        filler_(std::move(filler)) {
    // The first chunk, before the first append asks for it.
    std::lock_guard<std::mutex> lock(state_->mu);
    ScheduleFillLocked();
  }

  ~PrefilledWalFile() override {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->StopLocked(lock);
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
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->WaitForFillLocked(lock);
    rocksdb::IOStatus s = target()->Truncate(size, options, dbg);
    if (s.ok()) {
      state_->appended = size;
      state_->filled = std::min(state_->filled, size);  // the file ends at `size` now
    }
    return s;
  }

  rocksdb::IOStatus Close(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->WaitForFillLocked(lock);
    rocksdb::IOStatus s = target()->Close(options, dbg);
    if (state_->fd >= 0) {
      // The zeros past what RocksDB appended are not needed once it is done
      // with the file. RocksDB's own close trims its preallocation the same
      // way; a failure here only leaves zeros that readers skip.
      if (s.ok() && state_->filled > state_->appended &&
          ftruncate(state_->fd, static_cast<off_t>(state_->appended)) != 0) {
        // Left as it is: harmless (see the header).
      }
    }
    state_->StopLocked(lock);
    return s;
  }

 private:
  // One of RocksDB's writes (`write`) of `size` bytes at `offset` (nullopt:
  // right after what it appended so far), once there is room for it.
  template <typename Write>
  rocksdb::IOStatus AppendAt(std::optional<uint64_t> offset, size_t size, Write write) {
    WalFillState& st = *state_;
    std::unique_lock<std::mutex> lock(st.mu);
    const uint64_t end = offset.value_or(st.appended) + size;
    // A fill under way may make the room; never write into it meanwhile.
    if (end > st.filled) st.WaitForFillLocked(lock);
    if (st.fd >= 0 && end > st.filled) {
      // The appends outran the fill thread: make the room here. Never fails
      // the append: without room the append only costs more to sync.
      const uint64_t from = std::max(st.filled, st.appended);
      const uint64_t to = end + st.chunk_bytes;
      st.FillEndedLocked(WriteZeros(st.fd, from, to), to);
    }
    rocksdb::IOStatus s = write();
    if (s.ok()) st.appended = std::max(st.appended, end);
    // Less than half a chunk of room left: the next chunk, ahead of the
    // appends that will need it.
    if (st.fd >= 0 && !st.filling && st.filled < st.appended + st.chunk_bytes / 2) ScheduleFillLocked();
    return s;
  }

  // Queues a fill of the next chunk; state_->mu is held and no fill of this
  // file is queued or under way.
  void ScheduleFillLocked() {
    state_->filling = true;
    filler_->Schedule(state_);
  }

  const std::shared_ptr<WalFillState> state_;
  const std::shared_ptr<PrefilledWalFileSystem::Filler> filler_;
};

}  // namespace

PrefilledWalFileSystem::PrefilledWalFileSystem(const std::shared_ptr<rocksdb::FileSystem>& target,
                                               uint64_t chunk_bytes)
    : rocksdb::FileSystemWrapper(target),
      chunk_bytes_(std::max<uint64_t>(chunk_bytes, 4096)),
      filler_(std::make_shared<Filler>()) {}

PrefilledWalFileSystem::~PrefilledWalFileSystem() = default;

void PrefilledWalFileSystem::WaitUntilFilled() { filler_->WaitUntilIdle(); }

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
  *result = std::make_unique<PrefilledWalFile>(std::move(*result), fd, chunk_bytes_, filler_);
  return s;
}

}  // namespace caseledger::storage
