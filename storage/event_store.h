// EventStore: the durable, append-only event log of caseledger, over RocksDB.
//
// Owns: one RocksDB database with the column families of column_families.h,
// and the in-memory log head (last global position and hash).
//
// Promises:
//  - Append is atomic: all events of one call are written in one WriteBatch, or
//    none are. A rejected call writes nothing.
//  - Append is durable before it returns OK: the WAL is synced (unless
//    options.sync is false, which only tests and benchmarks may set).
//  - Group commit: concurrent Appends are combined by one leader thread into
//    one synced WriteBatch. Each caller gets its own result; a conflict or bad
//    input in one call never fails another call of the same group.
//    AppendAsync joins the same queue without waiting: its callback runs on
//    the thread that commits it (see AppendAsync), so a server need not park
//    one thread per append while the WAL is synced.
//  - Optimistic concurrency: ExpectedVersion Any / NoStream / StreamExists /
//    Exact(n). A mismatch is ABORTED and names the stream's current version
//    (also attached as payload kCurrentVersionPayloadUrl, decimal text).
//  - Idempotency by event id: a call whose events are all already stored with
//    identical content returns the original versions and positions and writes
//    nothing (deduplicated = true). The same event id with different content,
//    or a call mixing stored and new event ids, is ALREADY_EXISTS. This holds
//    across restarts (the event-id index is on disk) and between concurrent
//    calls: the ids are looked up before a call queues, outside the serial
//    group commit, and the commit checks them again against the ids written
//    since (kept in memory, options.recent_event_ids) or in RocksDB.
//  - Stream versions start at 1 and global positions start at 1; both are gap
//    free. Each event carries the hash of the event before it in the global log
//    and its own SHA-256 over its canonical bytes (event_codec.h); Verify
//    recomputes the chain and names the first broken position.
//  - The Merkle log (RFC 6962) over the global log is kept in the same
//    WriteBatch as the events: O(log n) node writes per event, never
//    recomputed. Tree size = LastPosition(); roots and proofs for any size.
//  - Open reads O(log n) metadata and the newest (at most 15) events, to
//    rebuild the Merkle frontier; it never scans the log. If one of those
//    events is damaged, Open refuses (DATA_LOSS naming the position) rather
//    than extend a damaged log.
//
// Thread-safety: an EventStore is shared between threads; every public method
// may be called concurrently. Reads do not block on appends (RocksDB snapshots
// per read). The object must outlive every call made on it.
#ifndef CASELEDGER_STORAGE_EVENT_STORE_H_
#define CASELEDGER_STORAGE_EVENT_STORE_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/event_codec.h"
#include "storage/merkle.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Env;
class WriteBatch;
}  // namespace rocksdb

namespace caseledger::storage {

// The optimistic-concurrency check an Append asks for.
class ExpectedVersion {
 public:
  enum class Kind { kAny, kNoStream, kStreamExists, kExact };

  static ExpectedVersion Any() { return ExpectedVersion(Kind::kAny, 0); }
  static ExpectedVersion NoStream() { return ExpectedVersion(Kind::kNoStream, 0); }
  static ExpectedVersion StreamExists() { return ExpectedVersion(Kind::kStreamExists, 0); }
  // The stream must be at exactly this version; Exact(0) is the same as NoStream.
  static ExpectedVersion Exact(uint64_t version) { return ExpectedVersion(Kind::kExact, version); }

  Kind kind() const { return kind_; }
  uint64_t version() const { return version_; }
  bool Matches(uint64_t current_version) const;
  std::string ToString() const;

 private:
  ExpectedVersion(Kind kind, uint64_t version) : kind_(kind), version_(version) {}
  Kind kind_;
  uint64_t version_;
};

struct EventStoreOptions {
  // Largest accepted event: payload + personal data + all envelope strings.
  size_t max_event_bytes = 64 * 1024;
  // Most events accepted in one Append.
  size_t max_events_per_append = 1000;
  // A group commit stops adding callers once its batch holds this many bytes.
  size_t max_group_commit_bytes = 16 * 1024 * 1024;
  // Appends waiting for their group commit, at most; more are refused with
  // RESOURCE_EXHAUSTED (nothing written) so that a flood of callers cannot
  // queue unbounded memory. Asynchronous appends hold no thread while they
  // wait, so this, not a thread limit, is what bounds them.
  size_t max_queued_appends = 4096;
  size_t max_queued_bytes = 256 * 1024 * 1024;
  // Sync the WAL before acknowledging. Never false in production.
  bool sync = true;
  // Maintain the Merkle log. Only benchmarks may turn it off, to measure its
  // cost; a store written without it cannot serve proofs.
  bool merkle_log = true;
  // Source of recorded_at; injectable for tests.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Appends are refused (RESOURCE_EXHAUSTED, nothing written) while the
  // filesystem of the store has less than this many bytes free, plus what
  // RocksDB must still write for what it holds in memory (its memtables, and
  // the next preallocated WAL file). The reserve keeps room for access-log
  // records (reads go on) and compaction, so RocksDB itself never meets a full
  // disk; appends resume by themselves once space is freed. 0 disables the
  // check (caseledgerd sets 256 MiB by default: --min-free-mb).
  uint64_t min_free_bytes = 0;
  // The newest version of this many streams is kept in memory by the commits,
  // so that StreamVersion (asked once by every append's check and once by the
  // case cache) does not search RocksDB's stream index for a client that is
  // being written to. When full it is emptied and refills with the streams
  // appended to next. 0: always read RocksDB.
  size_t stream_head_cache_entries = 65536;
  // The write-ahead log is written into zero-filled room prepared this many
  // bytes at a time, ahead of the appends, so that each append's fdatasync
  // flushes data only and commits no file-size change
  // (storage/prefilled_wal.h). 0: RocksDB's own WAL files (preallocated,
  // growing).
  uint64_t wal_prefill_bytes = 4ull << 20;
  // An append looks its event ids up in RocksDB before it queues, outside the
  // serial group commit; the commit then needs to look only at the ids the
  // commits since then wrote, which it keeps in memory: the newest of them,
  // between this many and twice this many ids. An append that waited longer
  // than that is looked up again at its commit. 0: every append is looked up
  // at its commit only.
  size_t recent_event_ids = 32768;
};

struct AppendResult {
  uint64_t stream_version = 0;            // the stream's version after the last event of the call
  std::vector<uint64_t> global_positions; // one per event, in call order
  bool deduplicated = false;              // an exact retry: nothing was written
};

enum class ReadDirection { kForward, kBackward };

struct VerifyResult {
  uint64_t checked = 0;                // events whose hash and link were checked
  uint64_t first_broken_position = 0;  // 0 when the chain is intact
  std::string problem;                 // what is wrong at first_broken_position
  bool ok() const { return first_broken_position == 0; }
};

// Counters for operators and benchmarks; monotonic since Open.
struct EventStoreStats {
  uint64_t appends = 0;         // successful Append calls (deduplicated included)
  uint64_t events_written = 0;
  uint64_t group_commits = 0;   // synced WriteBatches
  uint64_t conflicts = 0;       // ABORTED appends
  // Events per group commit: bucket i counts groups of at most kGroupSizeBounds[i]
  // events (not cumulative); the last bucket is everything larger.
  static constexpr std::array<uint64_t, 9> kGroupSizeBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256};
  std::array<uint64_t, 10> group_size_buckets{};
  uint64_t group_size_sum = 0;
};

// What RocksDB reports that matters to an operator.
struct StorageFigures {
  uint64_t pending_compaction_bytes = 0;
  uint64_t sst_bytes = 0;
  uint64_t memtable_bytes = 0;
  uint64_t wal_syncs = 0;                // group commits written with a WAL fsync
  uint64_t commit_write_micros_sum = 0;  // time in those writes: WAL append + fsync + memtable
  // Time in the commit before its write, one group at a time: the
  // idempotency and version checks, the hash chain and Merkle hashes, building
  // the batch. Beside commit_write_micros_sum it tells a commit held up by the
  // CPU from one held up by the disk.
  uint64_t commit_stage_micros_sum = 0;
};

inline constexpr char kCurrentVersionPayloadUrl[] = "type.caseledger.nl/current_version";

// The ABORTED status of a failed expected-version check, naming the current
// version (also as payload kCurrentVersionPayloadUrl).
absl::Status VersionConflictError(absl::string_view stream_id, const ExpectedVersion& expected,
                                  uint64_t current);

template <typename T>
class GroupCommitQueue;

class EventStore {
 public:
  // Opens or creates the store at `path`.
  static absl::StatusOr<std::unique_ptr<EventStore>> Open(const std::string& path,
                                                          EventStoreOptions options = {});

  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;
  // Flushes the memtables (so the next Open replays no WAL) and closes
  // RocksDB. All calls on this object must have returned.
  ~EventStore();

  // Appends `events` to `stream_id` atomically. Errors:
  //   INVALID_ARGUMENT  bad stream id, event id, type, size or count
  //   ABORTED           expected version does not match (message names the current one)
  //   ALREADY_EXISTS    an event id is stored with different content
  //   UNAVAILABLE       the write to disk failed; nothing was acknowledged
  //   RESOURCE_EXHAUSTED too many appends are waiting (max_queued_*), or the disk is full
  absl::StatusOr<AppendResult> Append(absl::string_view stream_id, ExpectedVersion expected,
                                      std::vector<ProposedEvent> events);

  // Append without waiting: the same checks, group commit and results as
  // Append, delivered to `done`, which is called exactly once:
  //  - on the calling thread, before AppendAsync returns, when the request is
  //    refused before it is queued, or when the calling thread finds no group
  //    commit running and so leads one (it may then also commit, and call
  //    the callbacks of, appends that queue up meanwhile; it gives up the
  //    lead while it runs callbacks, and hands it to a blocking Append that
  //    is next);
  //  - otherwise on the thread of the leader that commits it.
  // `done` runs without any lock of the store held. It may call AppendAsync
  // (queued; committed after the current callbacks, by this thread or by a
  // thread that leads meanwhile) but never the blocking Append, which could
  // wait for the very thread it runs on. It should be short: it holds the
  // thread that committed its group (storage/group_commit.h).
  using AppendCallback = std::function<void(absl::StatusOr<AppendResult>)>;
  void AppendAsync(absl::string_view stream_id, ExpectedVersion expected, std::vector<ProposedEvent> events,
                   AppendCallback done);

  // Up to `limit` events of a stream. Forward: versions >= from_version.
  // Backward: versions <= from_version, newest first; from_version 0 means
  // from the newest. An unknown stream yields an empty result.
  absl::StatusOr<std::vector<RecordedEvent>> ReadStream(absl::string_view stream_id,
                                                        uint64_t from_version,
                                                        ReadDirection direction,
                                                        size_t limit) const;

  // The same events, read in place: `fn` gets each as a view into RocksDB's
  // bytes, valid only during that call (no copy is made; for readers that
  // encode the bytes straight into a response). Stops at, and returns, the
  // first error `fn` returns. ReadStream is this plus copies.
  absl::Status VisitStream(absl::string_view stream_id, uint64_t from_version, ReadDirection direction,
                           size_t limit, absl::FunctionRef<absl::Status(const EventView&)> fn) const;

  // Up to `limit` events of the global log with position >= from_position.
  absl::StatusOr<std::vector<RecordedEvent>> ReadAll(uint64_t from_position, size_t limit) const;

  // The event at a global position; NOT_FOUND past the end.
  absl::StatusOr<RecordedEvent> ReadEvent(uint64_t global_position) const;

  // The current version of a stream; 0 when it has no events. Never behind an
  // append that was acknowledged before the call.
  absl::StatusOr<uint64_t> StreamVersion(absl::string_view stream_id) const;

  // The global position of the event stored with this event id, or nullopt
  // when no event has it (one point read of the event-id index).
  absl::StatusOr<std::optional<uint64_t>> EventIdPosition(absl::string_view event_id) const;

  // Position and hash of the newest event (0 and zeros when empty).
  uint64_t LastPosition() const;
  Hash LastHash() const;

  // Blocks until the log holds an event past `position` or `timeout` passes;
  // returns the last position then. For subscribers that wait for new events.
  uint64_t WaitForPosition(uint64_t position, absl::Duration timeout) const;

  // Recomputes hashes and links for positions [from_position, to_position]
  // (clamped to the log). An error status means the check itself could not
  // run; a broken chain is reported in the result.
  absl::StatusOr<VerifyResult> Verify(uint64_t from_position, uint64_t to_position) const;

  // Merkle log: the root of the first `tree_size` events, and proofs.
  // INVALID_ARGUMENT for sizes or positions beyond the log.
  absl::StatusOr<Hash> MerkleRoot(uint64_t tree_size) const;
  absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t global_position,
                                                   uint64_t tree_size) const;
  absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t old_size, uint64_t new_size) const;

  EventStoreStats Stats() const;
  StorageFigures Figures() const;
  const EventStoreOptions& options() const { return options_; }

  // The underlying database, for the components that keep their own column
  // families beside the log (projections, checkpoints). Must not be used to
  // write into the event store's own column families.
  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* column_family(size_t id) const { return handles_[id]; }

 private:
  struct Writer;
  struct GroupState;

  EventStore(EventStoreOptions options, std::unique_ptr<rocksdb::Env> env, std::unique_ptr<rocksdb::DB> db,
             std::vector<rocksdb::ColumnFamilyHandle*> handles);

  absl::Status ValidateRequest(absl::string_view stream_id,
                               const std::vector<ProposedEvent>& events) const;
  // Before a writer queues: its events' content digests, and whether RocksDB
  // holds none of its event ids as of the commit count read first (then
  // Stage looks only at what the commits since then wrote). Any id found, or
  // a read error, leaves the whole check to Stage.
  void CheckIdsBeforeQueueing(Writer& writer) const ABSL_LOCKS_EXCLUDED(commit_mu_);
  // Whether a commit within recent_ids_' reach may have written this id
  // (false: it certainly did not).
  bool MaybeWrittenRecently(absl::string_view event_id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);
  // Adds a written group's event ids to the recent ones, forgetting the
  // oldest generation when the newest is full.
  void RememberEventIds(const GroupState& written) ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);
  absl::Status LoadHead();
  NodeSource MerkleNodes() const;
  absl::Status CheckTreeSize(uint64_t tree_size) const;
  // Runs by the group leader only: validates each writer against the log and
  // the writers before it in the group, then commits one synced WriteBatch.
  void CommitGroup(const std::vector<Writer*>& group) ABSL_LOCKS_EXCLUDED(mu_);
  // Records the stream versions a group commit wrote in heads_.
  void RememberHeads(const absl::flat_hash_map<std::string, uint64_t>& written)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);
  absl::StatusOr<AppendResult> Stage(Writer& writer, GroupState& state,
                                     rocksdb::WriteBatch& batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);
  absl::StatusOr<uint64_t> StreamVersionForCommit(absl::string_view stream_id,
                                                  const GroupState& state) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);

  // RESOURCE_EXHAUSTED when the disk has less than min_free_bytes free
  // (statvfs, at most every 100 ms).
  absl::Status CheckDiskReserve();

  // Constant after construction.
  std::string path_;
  const EventStoreOptions options_;
  // The Env the database was opened with, when not RocksDB's default (the
  // prefilled WAL); declared before db_ so that it outlives the database.
  const std::unique_ptr<rocksdb::Env> env_;
  const std::unique_ptr<rocksdb::DB> db_;
  const std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  uint64_t wal_preallocation_bytes_ = 0;  // set by Open
  std::atomic<int64_t> free_checked_micros_{0};
  std::atomic<uint64_t> free_bytes_{0};
  std::atomic<uint64_t> flush_headroom_bytes_{0};

  // std::mutex rather than absl::Mutex: Debian's Abseil is not built for
  // ThreadSanitizer, which then cannot see absl::Mutex hand-offs.
  //
  // The queue of waiting appends and its leader (storage/group_commit.h).
  std::unique_ptr<GroupCommitQueue<Writer>> queue_;
  mutable std::mutex mu_;
  mutable std::condition_variable head_advanced_;  // signalled when published_position_ grows
  uint64_t published_position_ ABSL_GUARDED_BY(mu_) = 0;
  Hash published_hash_ ABSL_GUARDED_BY(mu_){};

  // Held by the group leader while it validates and writes; owns the log head
  // as the leader sees it (ahead of published_* only while a write is in flight).
  std::mutex commit_mu_ ABSL_ACQUIRED_AFTER(mu_);
  uint64_t head_position_ ABSL_GUARDED_BY(commit_mu_) = 0;
  Hash head_hash_ ABSL_GUARDED_BY(commit_mu_){};
  absl::Time last_recorded_at_ ABSL_GUARDED_BY(commit_mu_) = absl::InfinitePast();
  MerkleFrontier frontier_ ABSL_GUARDED_BY(commit_mu_);
  // Successful group commits since Open. Incremented (release) under
  // commit_mu_ after the group's batch is in RocksDB and its ids are in
  // recent_ids_; read (acquire) by CheckIdsBeforeQueueing before it reads
  // RocksDB, so every commit it did not count is in recent_ids_.
  std::atomic<uint64_t> commits_{0};
  // The event ids the commits numbered (recent_ids_floor_, commits_] wrote,
  // as 64-bit hashes, in two generations: [0] the older, (floor, middle];
  // [1] the newer, (middle, commits_]. A writer checked as of commit
  // c >= floor has every id written since in here. A hash found here sends
  // Stage to RocksDB for the id itself, so a collision costs a read, never a
  // wrong answer.
  std::array<absl::flat_hash_set<uint64_t>, 2> recent_ids_ ABSL_GUARDED_BY(commit_mu_);
  uint64_t recent_ids_floor_ ABSL_GUARDED_BY(commit_mu_) = 0;
  uint64_t recent_ids_middle_ ABSL_GUARDED_BY(commit_mu_) = 0;

  // The newest version of recently appended streams
  // (options_.stream_head_cache_entries). Only CommitGroup writes it, after
  // its batch is written and before any of the group's appends is
  // acknowledged; StreamVersion reads it. A stream not in it is read from
  // RocksDB, which then has its newest version.
  mutable std::mutex heads_mu_ ABSL_ACQUIRED_AFTER(commit_mu_);
  absl::flat_hash_map<std::string, uint64_t> heads_ ABSL_GUARDED_BY(heads_mu_);

  std::atomic<uint64_t> stat_appends_{0};
  std::atomic<uint64_t> stat_events_written_{0};
  std::atomic<uint64_t> stat_group_commits_{0};
  std::atomic<uint64_t> stat_conflicts_{0};
  std::array<std::atomic<uint64_t>, 10> stat_group_sizes_{};
  std::atomic<uint64_t> stat_group_size_sum_{0};
  std::atomic<uint64_t> stat_write_micros_{0};
  std::atomic<uint64_t> stat_stage_nanos_{0};  // a group's stage can take less than a microsecond
};

}  // namespace caseledger::storage

#endif  // CASELEDGER_STORAGE_EVENT_STORE_H_
