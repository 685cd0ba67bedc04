// PrefilledWalFileSystem: RocksDB's file system, except that the write-ahead
// log is written into space that is already allocated and zero-filled, so
// that the fdatasync of every acknowledged append flushes data only.
//
// Why: a synced append to a growing file must also make the file's new size
// (and on ext4, the conversion of its preallocated, unwritten extents)
// durable before fdatasync returns: a journal commit, or on ext4 without a
// journal (the development machine) a synchronous write of the inode. An
// overwrite of blocks that are already written and inside the file's size
// needs neither. On the
// development machine a 600-byte write + fdatasync took about 250-280 us when
// appending to a file preallocated the way RocksDB does it (fallocate
// KEEP_SIZE) and about 180 us when overwriting zeros written before (3,000
// syncs each, idle disk); one synced append of the event store took 270-290 us
// instead of 370-390 us, with 40 us less CPU (tools/store_benchmark,
// wal_prefill_mb 4 against 0, interleaved). PostgreSQL
// zero-fills its WAL segments for the same reason. RocksDB's own answer, WAL
// recycling, is switched off by RocksDB 7.8 under point-in-time recovery.
//
// Owns: a reference to the file system it wraps (usually
// rocksdb::FileSystem::Default()) and one thread that zero-fills ahead of the
// appends, started with the first WAL file and joined once the file system
// and every WAL file it opened are gone (each holds a share of it). Each WAL
// file it opens holds a second descriptor of its own, for the zeros.
//
// Promises:
//  - Only WAL files (names ending in ".log") are affected; every other file
//    (SST, MANIFEST, OPTIONS, ...) is the wrapped file system's, untouched.
//  - A WAL file's bytes are exactly what RocksDB appended, followed by zeros.
//    Zeros are only ever written past everything RocksDB appended, and an
//    append never lands in a stretch while it is being zero-filled.
//  - The room is made ahead of the appends, off their path: the first
//    `chunk_bytes` of zeros when the file is made, and the next `chunk_bytes`
//    as soon as an append leaves less than half a chunk of room. The fill
//    thread writes the zeros in small pieces, each written back at once, and
//    then syncs the file, so its size and allocation reach the disk once per
//    chunk and a sync of RocksDB's meanwhile flushes at most one piece of
//    zeros besides its own bytes. (Before 2026-12-03 the append that reached
//    the end of the room filled the next chunk itself: a 4 MiB write and
//    sync, 4-6 ms, inside a group commit, every 4 MiB of log.)
//  - An append that reaches past the room waits for a fill under way, or, if
//    none is (the appends outran the fill thread), fills the room itself.
//  - A clean Close truncates the file to what RocksDB appended, after any
//    fill under way has ended.
//  - After a crash, a WAL may end in zeros. RocksDB's log reader reads a
//    zero-filled record header as the padding of a preallocated file and skips
//    it without reporting corruption (db/log_reader.cc, kZeroType; the same
//    path once served mmap writes), so recovery sees the same records as with
//    an unfilled file. A torn last record reads as it does without zeros: a
//    checksum or length error at the tail, where point-in-time recovery stops.
//  - Zero-filling is an optimisation only: if it fails (a full disk), the file
//    stops zero-filling and RocksDB's appends go on as they would without it.
//    Durability never depends on it: RocksDB's own sync makes the size of the
//    file durable when the fill's sync has not yet.
//
// Thread-safety: the file system may be used from any thread. RocksDB appends
// to one WAL file from one thread at a time (the write group's leader); the
// per-file state is shared with the fill thread and guarded by a mutex, which
// the fill thread does not hold while it writes zeros.
#ifndef CASELEDGER_STORAGE_PREFILLED_WAL_H_
#define CASELEDGER_STORAGE_PREFILLED_WAL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "rocksdb/file_system.h"

namespace caseledger::storage {

class PrefilledWalFileSystem : public rocksdb::FileSystemWrapper {
 public:
  // chunk_bytes: how much zero-filled room each extension adds (> 0).
  PrefilledWalFileSystem(const std::shared_ptr<rocksdb::FileSystem>& target, uint64_t chunk_bytes);

  static const char* kClassName() { return "CaseledgerPrefilledWalFileSystem"; }
  const char* Name() const override { return kClassName(); }

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;

  ~PrefilledWalFileSystem() override;

  // True for the names RocksDB gives its write-ahead log files.
  static bool IsWalFile(const std::string& fname);

  // Returns once no fill is queued or under way (tests, benchmarks).
  void WaitUntilFilled();

  class Filler;  // the fill thread and its queue (prefilled_wal.cc)

 private:
  const uint64_t chunk_bytes_;
  const std::shared_ptr<Filler> filler_;
};

}  // namespace caseledger::storage

#endif  // CASELEDGER_STORAGE_PREFILLED_WAL_H_
