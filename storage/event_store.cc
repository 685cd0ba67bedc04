#include "storage/event_store.h"

#include "storage/group_commit.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/slice.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "storage/column_families.h"
#include "storage/prefilled_wal.h"
#include "storage/rocksdb_status.h"
#include "storage/status_macros.h"

namespace caseledger::storage {
namespace {

constexpr size_t kMaxStreamIdBytes = 128;
constexpr size_t kMaxEventIdBytes = 128;
constexpr size_t kMaxTypeBytes = 64;

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.' || c == ':';
}

absl::Status ValidateId(absl::string_view what, absl::string_view id, size_t max_bytes) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty; set it"));
  if (id.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is ", id.size(),
                                                   " bytes long; the limit is ", max_bytes));
  }
  for (char c : id) {
    if (!IsIdChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " '", id, "' contains a character outside [A-Za-z0-9._:-]; use only those"));
    }
  }
  return absl::OkStatus();
}

size_t EventBytes(const ProposedEvent& e) {
  return e.event_id.size() + e.type.size() + e.organisation.size() + e.user_id.size() +
         e.correlation_id.size() + e.payload.size() + e.personal.size();
}

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

// The event stored under `key` in the events CF, in place; DATA_LOSS naming
// its position when its bytes do not decode.
absl::StatusOr<EventView> DecodeStoredView(const rocksdb::Slice& key, const rocksdb::Slice& value) {
  absl::StatusOr<EventView> view = DecodeEventView(absl::string_view(value.data(), value.size()));
  if (!view.ok()) {
    absl::StatusOr<uint64_t> position = DecodeU64(absl::string_view(key.data(), key.size()));
    return absl::DataLossError(absl::StrCat("event at global position ", position.ok() ? *position : 0, ": ",
                                            view.status().message()));
  }
  return view;
}

// The same, copied.
absl::StatusOr<RecordedEvent> DecodeStoredEvent(const rocksdb::Slice& key, const rocksdb::Slice& value) {
  CASELEDGER_ASSIGN_OR_RETURN(EventView view, DecodeStoredView(key, value));
  return ToRecordedEvent(view);
}

// What EventStore::recent_ids_ keeps of an event id.
uint64_t RecentIdHash(absl::string_view event_id) { return absl::Hash<absl::string_view>{}(event_id); }

// An iterator over one stream's stream-index entries: runs of versions, one
// per append (event_codec.h). Owns the bounds it iterates within.
class StreamIndexIterator {
 public:
  StreamIndexIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* streams, absl::string_view stream_id)
      : stream_id_(stream_id), lower_(StreamKey(stream_id, 0)), upper_(StreamPrefix(stream_id)) {
    upper_.back() = '\x01';  // the first key after every stream_id|0x00|... key
    lower_slice_ = rocksdb::Slice(lower_);
    upper_slice_ = rocksdb::Slice(upper_);
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_slice_;
    ro.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(ro, streams));
  }
  StreamIndexIterator(const StreamIndexIterator&) = delete;
  StreamIndexIterator& operator=(const StreamIndexIterator&) = delete;

  rocksdb::Iterator* operator->() const { return it_.get(); }

  // The run under the iterator (which must be Valid): its first and last
  // version and the position of the first; DATA_LOSS when damaged.
  absl::Status Current(uint64_t* first, uint64_t* last, uint64_t* first_position) const {
    const absl::string_view key(it_->key().data(), it_->key().size());
    const size_t prefix = lower_.size() - 8;
    CASELEDGER_ASSIGN_OR_RETURN(*first, DecodeU64(key.substr(std::min(prefix, key.size()))));
    CASELEDGER_ASSIGN_OR_RETURN(StreamRun run, DecodeStreamRun(absl::string_view(it_->value().data(), it_->value().size())));
    *last = *first + (run.count - 1);
    *first_position = run.first_position;
    if (*first == 0 || *last < *first) {
      return absl::DataLossError(absl::StrCat("client ", stream_id_, "'s index holds a run of ", run.count,
                                              " from version ", *first, "; the store is damaged"));
    }
    return absl::OkStatus();
  }

 private:
  const std::string stream_id_;
  std::string lower_, upper_;
  rocksdb::Slice lower_slice_, upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace

absl::Status VersionConflictError(absl::string_view stream_id, const ExpectedVersion& expected,
                           uint64_t current) {
  absl::Status status = absl::AbortedError(absl::StrCat(
      "client ", stream_id, " is at version ", current, " but the append expected ",
      expected.ToString(), "; read the client's events from version ", current + 1,
      " and retry with expected_version ", current));
  status.SetPayload(kCurrentVersionPayloadUrl, absl::Cord(absl::StrCat(current)));
  return status;
}

// ---------------------------------------------------------------------------
// ExpectedVersion
// ---------------------------------------------------------------------------

bool ExpectedVersion::Matches(uint64_t current_version) const {
  switch (kind_) {
    case Kind::kAny:
      return true;
    case Kind::kNoStream:
      return current_version == 0;
    case Kind::kStreamExists:
      return current_version > 0;
    case Kind::kExact:
      return current_version == version_;
  }
  return false;
}

std::string ExpectedVersion::ToString() const {
  switch (kind_) {
    case Kind::kAny:
      return "any version";
    case Kind::kNoStream:
      return "no events yet";
    case Kind::kStreamExists:
      return "an existing stream";
    case Kind::kExact:
      return absl::StrCat("version ", version_);
  }
  return "?";
}

// ---------------------------------------------------------------------------
// Group commit state
// ---------------------------------------------------------------------------

// One append in the group-commit queue: its request and, once committed, its
// result. A blocking Append's lives on its caller's stack; an AppendAsync's
// is owned by the queue until its callback has run.
struct EventStore::Writer {
  Writer(absl::string_view stream, ExpectedVersion expected_version, std::vector<ProposedEvent> proposed)
      : stream_id(stream), expected(expected_version), events(std::move(proposed)) {
    for (const ProposedEvent& e : events) bytes += EventBytes(e) + stream_id.size() + 128;
  }

  std::string stream_id;  // owned: an asynchronous append outlives its caller's arguments
  ExpectedVersion expected;
  std::vector<ProposedEvent> events;  // moved into the WriteBatch by Stage
  size_t bytes = 0;
  // Filled by CheckIdsBeforeQueueing: each event's ContentDigest, and the
  // commit count as of which RocksDB held none of the event ids
  // (kIdsNotChecked: Stage looks every id up).
  static constexpr uint64_t kIdsNotChecked = UINT64_MAX;
  std::vector<Hash> digests;
  uint64_t ids_absent_as_of = kIdsNotChecked;
  absl::StatusOr<AppendResult> result;
  bool staged = false;  // contributed to the group's WriteBatch
};

// What the writers staged earlier in the same group, so later writers see it.
struct EventStore::GroupState {
  struct PendingEvent {
    uint64_t position;
    uint64_t stream_version;
    Hash digest;
  };
  uint64_t position;
  Hash hash;
  MerkleFrontier frontier;
  absl::flat_hash_map<std::string, uint64_t> stream_versions;
  absl::flat_hash_map<std::string, PendingEvent> event_ids;
};

// ---------------------------------------------------------------------------
// Open / close
// ---------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<EventStore>> EventStore::Open(const std::string& path,
                                                             EventStoreOptions options) {
  rocksdb::DBOptions db_options;
  std::unique_ptr<rocksdb::Env> env;
  if (options.wal_prefill_bytes > 0) {
    env = rocksdb::NewCompositeEnv(
        std::make_shared<PrefilledWalFileSystem>(rocksdb::FileSystem::Default(), options.wal_prefill_bytes));
    db_options.env = env.get();
  }
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  db_options.keep_log_file_num = 10;
  // RocksDB keeps a WAL file until every column family with data in it has
  // flushed, and replays what it keeps at the next open. The slow-filling
  // families (event ids, streams) would otherwise hold up to this much WAL:
  // 64 MiB replays in about 0.2 s after a crash (256 MiB took 0.9 s at
  // 1,000,000 events). A clean close flushes everything (~EventStore).
  db_options.max_total_wal_size = 64ull << 20;

  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.OptimizeLevelStyleCompaction(64ull << 20);
  // Most point reads ask for keys that do not exist: every new event id, the
  // head of a new stream, a new client's data key. Bloom filters (in the SST
  // files and in the memtables) answer those without searching; 10 bits per
  // key, about 1% false positives.
  rocksdb::BlockBasedTableOptions table_options;
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Block checksums with XXH3 rather than RocksDB 7.8's default CRC32c:
  // Debian's RocksDB is built for any x86-64 and so computes CRC32c in
  // software (Slow_CRC32 was 3.2% of the server's CPU under 100-event
  // appends, perf); XXH3 is fast everywhere. Each file records its own
  // checksum type, so files written before keep verifying.
  table_options.checksum = rocksdb::kXXH3;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
  cf_options.memtable_prefix_bloom_size_ratio = 0.02;
  cf_options.memtable_whole_key_filtering = true;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kColumnFamilyNames) descriptors.emplace_back(name, cf_options);
  // The log only ever grows at its end (keys are global positions), so every
  // file flushed from it covers keys after all the others, and RocksDB moves
  // it down the levels without rewriting it ("trivial move") -- but only
  // between levels that compress alike. OptimizeLevelStyleCompaction leaves
  // L0 and L1 uncompressed and compresses below, so every event was read and
  // rewritten once more, from L1 to L2: about 67 ms of CPU per 32 MB file,
  // some 6% of the server's CPU under 100-event appends (RocksDB's LOG, perf).
  // Here each event is compressed once, at the flush, with the bottom level's
  // compression (LZ4 where RocksDB has it); files written before keep theirs.
  // The other families have random keys and keep the default.
  std::vector<rocksdb::CompressionType>& log_levels = descriptors[kEventsCf].options.compression_per_level;
  if (!log_levels.empty()) log_levels.assign(log_levels.size(), log_levels.back());

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw_db);
  if (!s.ok()) {
    if (s.IsInvalidArgument()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot open the event store at ", path, ": ", s.ToString(),
          " (is this a caseledger data directory of a compatible version?)"));
    }
    return FromRocks(s, absl::StrCat("cannot open the event store at ", path));
  }
  std::unique_ptr<EventStore> store(new EventStore(std::move(options), std::move(env),
                                                  std::unique_ptr<rocksdb::DB>(raw_db), std::move(handles)));
  store->path_ = path;
  store->wal_preallocation_bytes_ = cf_options.write_buffer_size + cf_options.write_buffer_size / 10;
  CASELEDGER_RETURN_IF_ERROR(store->LoadHead());
  return store;
}

absl::Status EventStore::CheckDiskReserve() {
  if (options_.min_free_bytes == 0) return absl::OkStatus();
  const int64_t now = absl::ToUnixMicros(absl::Now());
  if (now - free_checked_micros_.load(std::memory_order_relaxed) > 100'000) {
    struct statvfs fs;
    if (statvfs(path_.c_str(), &fs) == 0) {
      free_bytes_.store(static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize, std::memory_order_relaxed);
    }
    // What RocksDB must still put on disk for what it holds: every memtable
    // byte goes into an SST file while its WAL is still there, and the next
    // memtable opens a WAL file that RocksDB preallocates (about 1.1 times a
    // write buffer). Without this a reserve smaller than one flush could be
    // eaten by RocksDB itself (seen: a 33 MiB flush and an 18 MiB WAL against a
    // 32 MiB reserve).
    uint64_t memtables = 0, v = 0;
    for (rocksdb::ColumnFamilyHandle* cf : handles_) {
      if (db_->GetIntProperty(cf, "rocksdb.cur-size-all-mem-tables", &v)) memtables += v;
    }
    flush_headroom_bytes_.store(memtables + wal_preallocation_bytes_, std::memory_order_relaxed);
    free_checked_micros_.store(now, std::memory_order_relaxed);
  }
  const uint64_t free = free_bytes_.load(std::memory_order_relaxed);
  const uint64_t headroom = flush_headroom_bytes_.load(std::memory_order_relaxed);
  if (free >= options_.min_free_bytes + headroom) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "the ledger's disk is nearly full: ", free >> 20, " MiB free, and caseledgerd keeps ",
      options_.min_free_bytes >> 20, " MiB in reserve (for the access log, so reads go on) plus ",
      headroom >> 20,
      " MiB for RocksDB to write out what it holds in memory; nothing was written. Free disk space on ",
      path_, "; appends resume by themselves. Retry with the same event ids"));
}

EventStore::EventStore(EventStoreOptions options, std::unique_ptr<rocksdb::Env> env,
                       std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : options_(std::move(options)), env_(std::move(env)), db_(std::move(db)), handles_(std::move(handles)) {
  GroupCommitQueue<Writer>::Limits limits;
  limits.max_group_bytes = options_.max_group_commit_bytes;
  limits.max_queued = options_.max_queued_appends;
  limits.max_queued_bytes = options_.max_queued_bytes;
  queue_ = std::make_unique<GroupCommitQueue<Writer>>(
      limits, [this](const std::vector<Writer*>& group) { CommitGroup(group); });
}

EventStore::~EventStore() {
  // Flush every memtable, so that the next Open replays no WAL and serves at
  // once. Its status does not matter: if it fails (a full disk), the synced
  // WAL is still there and the next Open replays it.
  rocksdb::FlushOptions flush;
  flush.wait = true;
  db_->Flush(flush, handles_).PermitUncheckedError();
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  // Close flushes nothing we need (the WAL is synced per append); its status
  // only reports background errors that were already surfaced to appends.
  db_->Close().PermitUncheckedError();
}

absl::Status EventStore::LoadHead() {
  rocksdb::ColumnFamilyHandle* meta = handles_[kMetaCf];
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta, ToSlice(kFormatKey), &value);
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading the format marker");
  if (s.ok() && value != kFormatVersion && value != kPreviousFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("the event store has on-disk format ", value, "; this build reads format ",
                     kFormatVersion, ". Use a matching caseledgerd version"));
  }
  // A new store is marked; so is a format-4 one, which differs only in the
  // stream index, whose entries read as runs of one: from now on it holds
  // runs, which a format-4 build cannot read.
  if (s.IsNotFound() || value == kPreviousFormatVersion) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    CASELEDGER_RETURN_IF_ERROR(FromRocks(
        db_->Put(wo, meta, ToSlice(kFormatKey), ToSlice(kFormatVersion)), "writing the format marker"));
  }

  uint64_t position = 0;
  Hash hash{};
  s = db_->Get(rocksdb::ReadOptions(), meta, ToSlice(kLogHeadKey), &value);
  if (s.ok()) {
    CASELEDGER_RETURN_IF_ERROR(DecodeLogHead(value, &position, &hash));
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading the log head");
  }

  // The head and the last event are written in the same batch; check they agree
  // (one seek, not a scan).
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kEventsCf]));
  it->SeekToLast();
  CASELEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "seeking the last event"));
  uint64_t last_key = 0;
  if (it->Valid()) {
    CASELEDGER_ASSIGN_OR_RETURN(last_key, DecodeU64(absl::string_view(it->key().data(), it->key().size())));
  }
  if (last_key != position) {
    return absl::DataLossError(absl::StrCat("the log head records position ", position,
                                            " but the last stored event is at position ",
                                            last_key, "; the store is damaged"));
  }

  MerkleFrontier frontier;
  if (options_.merkle_log) {
    absl::StatusOr<MerkleFrontier> loaded = MerkleFrontier::Load(position, MerkleNodes());
    if (!loaded.ok()) {
      return absl::DataLossError(absl::StrCat("cannot load the Merkle log for ", position,
                                              " events: ", loaded.status().message()));
    }
    frontier = *std::move(loaded);
  }
  {
    std::lock_guard<std::mutex> lock(commit_mu_);
    head_position_ = position;
    head_hash_ = hash;
    frontier_ = std::move(frontier);
  }
  std::lock_guard<std::mutex> lock(mu_);
  published_position_ = position;
  published_hash_ = hash;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Append
// ---------------------------------------------------------------------------

absl::Status EventStore::ValidateRequest(absl::string_view stream_id,
                                         const std::vector<ProposedEvent>& events) const {
  CASELEDGER_RETURN_IF_ERROR(ValidateId("client_id", stream_id, kMaxStreamIdBytes));
  if (events.empty()) {
    return absl::InvalidArgumentError("the append has no events; send at least one");
  }
  if (events.size() > options_.max_events_per_append) {
    return absl::InvalidArgumentError(
        absl::StrCat("the append has ", events.size(), " events; the limit is ",
                     options_.max_events_per_append, " per call; split it into several calls"));
  }
  absl::flat_hash_set<absl::string_view> ids;
  for (size_t i = 0; i < events.size(); ++i) {
    const ProposedEvent& e = events[i];
    std::string where = absl::StrCat("events[", i, "]");
    CASELEDGER_RETURN_IF_ERROR(ValidateId(absl::StrCat(where, ".event_id"), e.event_id, kMaxEventIdBytes));
    CASELEDGER_RETURN_IF_ERROR(ValidateId(absl::StrCat(where, ".type"), e.type, kMaxTypeBytes));
    if (!ids.insert(e.event_id).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".event_id '", e.event_id, "' appears twice in one append; give each event its own id"));
    }
    size_t bytes = EventBytes(e);
    if (bytes > options_.max_event_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(where, " (", e.event_id, ") is ", bytes,
                                                     " bytes; the limit is ",
                                                     options_.max_event_bytes, " bytes per event"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<AppendResult> EventStore::Append(absl::string_view stream_id,
                                                ExpectedVersion expected,
                                                std::vector<ProposedEvent> events) {
  CASELEDGER_RETURN_IF_ERROR(ValidateRequest(stream_id, events));
  Writer w(stream_id, expected, std::move(events));
  CheckIdsBeforeQueueing(w);
  CASELEDGER_RETURN_IF_ERROR(queue_->Submit(&w, w.bytes));
  return std::move(w.result);
}

void EventStore::AppendAsync(absl::string_view stream_id, ExpectedVersion expected,
                             std::vector<ProposedEvent> events, AppendCallback done) {
  if (absl::Status valid = ValidateRequest(stream_id, events); !valid.ok()) {
    done(std::move(valid));
    return;
  }
  auto w = std::make_unique<Writer>(stream_id, expected, std::move(events));
  CheckIdsBeforeQueueing(*w);
  const size_t bytes = w->bytes;
  queue_->SubmitAsyncForResult(std::move(w), bytes, std::move(done));
}

void EventStore::CheckIdsBeforeQueueing(Writer& w) const {
  w.digests.reserve(w.events.size());
  for (const ProposedEvent& e : w.events) w.digests.push_back(ContentDigest(w.stream_id, e));
  if (options_.recent_event_ids == 0) return;
  // Read the count first: a commit counted here is in RocksDB for the reads
  // below; one that is not counted is in recent_ids_ when Stage looks.
  const uint64_t as_of = commits_.load(std::memory_order_acquire);
  const size_t n = w.events.size();
  std::vector<rocksdb::Slice> keys;
  keys.reserve(n);
  for (const ProposedEvent& e : w.events) keys.emplace_back(e.event_id);
  std::vector<rocksdb::PinnableSlice> values(n);
  std::vector<rocksdb::Status> statuses(n);
  db_->MultiGet(rocksdb::ReadOptions(), handles_[kEventIdsCf], n, keys.data(), values.data(),
                statuses.data());
  for (const rocksdb::Status& s : statuses) {
    if (!s.IsNotFound()) return;  // stored already, or an error: Stage decides and reports
  }
  w.ids_absent_as_of = as_of;
}

bool EventStore::MaybeWrittenRecently(absl::string_view event_id) const {
  const uint64_t h = RecentIdHash(event_id);
  return recent_ids_[1].contains(h) || recent_ids_[0].contains(h);
}

void EventStore::RememberEventIds(const GroupState& written) {
  const size_t limit = options_.recent_event_ids;
  if (limit == 0) return;
  for (const auto& entry : written.event_ids) recent_ids_[1].insert(RecentIdHash(entry.first));
  if (recent_ids_[1].size() >= limit) {
    recent_ids_[0].swap(recent_ids_[1]);
    recent_ids_[1].clear();
    recent_ids_floor_ = recent_ids_middle_;
    recent_ids_middle_ = commits_.load(std::memory_order_relaxed) + 1;  // this commit's number
  }
}

absl::StatusOr<uint64_t> EventStore::StreamVersionForCommit(absl::string_view stream_id,
                                                            const GroupState& state) const {
  auto it = state.stream_versions.find(stream_id);
  if (it != state.stream_versions.end()) return it->second;
  return StreamVersion(stream_id);
}

absl::StatusOr<AppendResult> EventStore::Stage(Writer& w, GroupState& state,
                                               rocksdb::WriteBatch& batch) {
  std::vector<ProposedEvent>& events = w.events;  // moved into the batch once staged
  const std::vector<Hash>& digests = w.digests;    // computed before the writer queued

  // 1. Idempotency: are these event ids stored already (or staged earlier in
  // this group)? When the writer found none of them in RocksDB before it
  // queued, and the commits since then are all in recent_ids_, those are the
  // only places left to look.
  const bool checked_before = w.ids_absent_as_of != Writer::kIdsNotChecked &&
                              w.ids_absent_as_of >= recent_ids_floor_;
  AppendResult retry;
  size_t stored = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const ProposedEvent& e = events[i];
    const Hash& digest = digests[i];
    uint64_t position = 0, version = 0;
    Hash stored_digest{};
    auto pending = state.event_ids.find(e.event_id);
    if (pending != state.event_ids.end()) {
      position = pending->second.position;
      version = pending->second.stream_version;
      stored_digest = pending->second.digest;
    } else {
      if (checked_before && !MaybeWrittenRecently(e.event_id)) continue;
      std::string value;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kEventIdsCf], e.event_id, &value);
      if (s.IsNotFound()) continue;
      CASELEDGER_RETURN_IF_ERROR(FromRocks(s, "reading the event-id index"));
      CASELEDGER_RETURN_IF_ERROR(DecodeEventIdValue(value, &position, &stored_digest));
      CASELEDGER_ASSIGN_OR_RETURN(RecordedEvent original, ReadEvent(position));
      version = original.stream_version;
    }
    if (stored_digest != digest) {
      return absl::AlreadyExistsError(absl::StrCat(
          "event id ", e.event_id, " is already stored at global position ", position,
          " with different content; use a new event id for a new event"));
    }
    ++stored;
    retry.global_positions.push_back(position);
    retry.stream_version = std::max(retry.stream_version, version);
  }
  if (stored == events.size()) {
    retry.deduplicated = true;
    return retry;
  }
  if (stored > 0) {
    return absl::AlreadyExistsError(absl::StrCat(
        stored, " of the ", events.size(),
        " events in this append are already stored; retry the original append unchanged, "
        "or give the new events new event ids"));
  }

  // 2. Optimistic concurrency.
  CASELEDGER_ASSIGN_OR_RETURN(uint64_t current, StreamVersionForCommit(w.stream_id, state));
  if (!w.expected.Matches(current)) {
    stat_conflicts_.fetch_add(1, std::memory_order_relaxed);
    return VersionConflictError(w.stream_id, w.expected, current);
  }

  // 3. Assign versions, positions and hashes; stage the writes.
  absl::Time now = std::max(options_.clock(), last_recorded_at_);
  last_recorded_at_ = now;
  AppendResult result;
  result.global_positions.reserve(events.size());
  RecordedEvent record;
  record.stream_id = std::string(w.stream_id);
  record.recorded_at = now;
  uint64_t version = current;
  const uint64_t first_position = state.position + 1;
  for (size_t i = 0; i < events.size(); ++i) {
    record.event = std::move(events[i]);  // the writer needs its events no more
    record.stream_version = ++version;
    record.global_position = ++state.position;
    record.previous_hash = state.hash;
    size_t canonical_size = 0;
    std::string value = EncodeEventValue(record, &canonical_size);
    state.hash = record.hash;
    if (options_.merkle_log) {
      Hash leaf = MerkleLeafHash(absl::string_view(value).substr(0, canonical_size));
      for (const MerkleFrontier::Node& node : state.frontier.Append(leaf)) {
        if (node.level < kMerkleStoredLevel) continue;  // recomputed from events when needed
        batch.Put(handles_[kMerkleCf], MerkleNodeKey(node.level, node.index),
                  rocksdb::Slice(reinterpret_cast<const char*>(node.hash.data()), node.hash.size()))
            .PermitUncheckedError();
      }
    }

    batch.Put(handles_[kEventsCf], EventKey(record.global_position), value).PermitUncheckedError();
    batch.Put(handles_[kEventIdsCf], record.event.event_id,
              EncodeEventIdValue(record.global_position, digests[i]))
        .PermitUncheckedError();
    state.event_ids[record.event.event_id] = {record.global_position, version, digests[i]};
    result.global_positions.push_back(record.global_position);
  }
  // One stream-index entry for the whole append: its events hold consecutive
  // versions at consecutive positions.
  batch.Put(handles_[kStreamsCf], StreamKey(w.stream_id, current + 1),
            EncodeStreamRun(first_position, events.size()))
      .PermitUncheckedError();
  state.stream_versions[record.stream_id] = version;
  result.stream_version = version;
  w.staged = true;
  return result;
}

void EventStore::CommitGroup(const std::vector<Writer*>& group) {
  std::lock_guard<std::mutex> commit_lock(commit_mu_);
  if (absl::Status reserve = CheckDiskReserve(); !reserve.ok()) {
    for (Writer* w : group) w->result = reserve;
    return;
  }
  const absl::Time stage_start = absl::Now();
  GroupState state{head_position_, head_hash_, frontier_, {}, {}};
  // Room for the whole group (each writer's `bytes` counts its events with
  // their keys and hashes), so that the batch is not copied as it grows.
  size_t group_bytes = 64;
  for (const Writer* w : group) group_bytes += w->bytes + w->events.size() * (w->stream_id.size() + 192);
  rocksdb::WriteBatch batch(group_bytes);
  size_t staged = 0;
  for (Writer* w : group) {
    w->result = Stage(*w, state, batch);
    if (w->staged) ++staged;
  }
  if (staged > 0) {
    batch.Put(handles_[kMetaCf], ToSlice(kLogHeadKey), EncodeLogHead(state.position, state.hash))
        .PermitUncheckedError();
    rocksdb::WriteOptions wo;
    wo.sync = options_.sync;
    const absl::Time write_start = absl::Now();
    stat_stage_nanos_.fetch_add(static_cast<uint64_t>(absl::ToInt64Nanoseconds(write_start - stage_start)),
                                std::memory_order_relaxed);
    absl::Status written = FromRocks(db_->Write(wo, &batch), "writing the events to disk");
    stat_write_micros_.fetch_add(static_cast<uint64_t>(absl::ToInt64Microseconds(absl::Now() - write_start)),
                                 std::memory_order_relaxed);
    if (!written.ok()) {
      // Nothing of this group is acknowledged, retries included: a retry that
      // matched an event staged in this group would otherwise report a position
      // that was never written.
      for (Writer* w : group) {
        if (w->result.ok()) w->result = written;
      }
      return;
    }
    const uint64_t group_events = state.position - head_position_;
    stat_group_commits_.fetch_add(1, std::memory_order_relaxed);
    stat_events_written_.fetch_add(group_events, std::memory_order_relaxed);
    size_t bucket = 0;
    while (bucket < EventStoreStats::kGroupSizeBounds.size() &&
           group_events > EventStoreStats::kGroupSizeBounds[bucket]) {
      ++bucket;
    }
    stat_group_sizes_[bucket].fetch_add(1, std::memory_order_relaxed);
    stat_group_size_sum_.fetch_add(group_events, std::memory_order_relaxed);
    head_position_ = state.position;
    head_hash_ = state.hash;
    frontier_ = std::move(state.frontier);
    RememberHeads(state.stream_versions);
    RememberEventIds(state);
    commits_.fetch_add(1, std::memory_order_release);
    {
      std::lock_guard<std::mutex> lock(mu_);
      published_position_ = state.position;
      published_hash_ = state.hash;
    }
    head_advanced_.notify_all();
  }
  for (Writer* w : group) {
    if (w->result.ok()) stat_appends_.fetch_add(1, std::memory_order_relaxed);
  }
}

// ---------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------

absl::StatusOr<RecordedEvent> EventStore::ReadEvent(uint64_t global_position) const {
  const std::string key = EventKey(global_position);
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kEventsCf], key, &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("there is no event at global position ",
                                            global_position, "; the log ends at ",
                                            LastPosition()));
  }
  CASELEDGER_RETURN_IF_ERROR(FromRocks(s, "reading an event"));
  return DecodeStoredEvent(key, value);
}

void EventStore::RememberHeads(const absl::flat_hash_map<std::string, uint64_t>& written) {
  const size_t capacity = options_.stream_head_cache_entries;
  if (capacity == 0) return;
  std::lock_guard<std::mutex> lock(heads_mu_);
  for (const auto& [stream_id, version] : written) {
    auto it = heads_.find(stream_id);
    if (it != heads_.end()) {
      it->second = version;
      continue;
    }
    // Full: start again with the streams being written now. Cheaper than
    // tracking recency on every append, and a stream not here is read from
    // RocksDB, never answered wrongly.
    if (heads_.size() >= capacity) heads_.clear();
    heads_.emplace(stream_id, version);
  }
}

absl::StatusOr<uint64_t> EventStore::StreamVersion(absl::string_view stream_id) const {
  if (options_.stream_head_cache_entries > 0) {
    std::lock_guard<std::mutex> lock(heads_mu_);
    auto it = heads_.find(stream_id);
    if (it != heads_.end()) return it->second;
  }
  // The stream's newest version ends its last stream-index run (the index
  // and the events are written in one batch).
  StreamIndexIterator it(db_.get(), handles_[kStreamsCf], stream_id);
  it->SeekToLast();
  if (!it->Valid()) {
    CASELEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading a stream's newest version"));
    return 0;
  }
  uint64_t first = 0, last = 0, first_position = 0;
  CASELEDGER_RETURN_IF_ERROR(it.Current(&first, &last, &first_position));
  return last;
}

absl::StatusOr<std::optional<uint64_t>> EventStore::EventIdPosition(absl::string_view event_id) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kEventIdsCf], ToSlice(event_id), &value);
  if (s.IsNotFound()) return std::nullopt;
  CASELEDGER_RETURN_IF_ERROR(FromRocks(s, "reading the event-id index"));
  uint64_t position = 0;
  Hash digest{};
  CASELEDGER_RETURN_IF_ERROR(DecodeEventIdValue(value, &position, &digest));
  return position;
}

absl::StatusOr<std::vector<RecordedEvent>> EventStore::ReadStream(absl::string_view stream_id,
                                                                  uint64_t from_version,
                                                                  ReadDirection direction,
                                                                  size_t limit) const {
  std::vector<RecordedEvent> out;
  CASELEDGER_RETURN_IF_ERROR(VisitStream(stream_id, from_version, direction, limit, [&](const EventView& view) {
    out.push_back(ToRecordedEvent(view));
    return absl::OkStatus();
  }));
  return out;
}

absl::Status EventStore::VisitStream(absl::string_view stream_id, uint64_t from_version, ReadDirection direction,
                                     size_t limit, absl::FunctionRef<absl::Status(const EventView&)> fn) const {
  if (limit == 0) return absl::OkStatus();
  StreamIndexIterator it(db_.get(), handles_[kStreamsCf], stream_id);
  // Made after the index iterator, so it sees every event the index names
  // (both are written in one batch). One iterator instead of a point read per
  // event: a client's events often lie next to each other in the log (a batch,
  // a busy day), and then the next one is a Next, not a search.
  std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(rocksdb::ReadOptions(), handles_[kEventsCf]));
  uint64_t log_position = 0;  // where `log` stands; 0: nowhere yet

  // Each index entry is a run: versions first.. of one append, at consecutive
  // positions. Start at the run that holds from_version.
  const bool forward = direction == ReadDirection::kForward;
  const uint64_t from = forward ? std::max<uint64_t>(from_version, 1) : from_version;
  if (forward) {
    it->SeekForPrev(StreamKey(stream_id, from));
    if (!it->Valid() && it->status().ok()) it->Seek(StreamKey(stream_id, from));
  } else if (from == 0) {
    it->SeekToLast();
  } else {
    it->SeekForPrev(StreamKey(stream_id, from));
  }
  auto visit = [&](uint64_t version, uint64_t position) -> absl::Status {
    const std::string key = EventKey(position);
    if (log_position != 0 && position == log_position + 1) {
      log->Next();
    } else if (log_position != 0 && position + 1 == log_position) {
      log->Prev();
    } else {
      log->Seek(key);
    }
    log_position = position;
    CASELEDGER_RETURN_IF_ERROR(FromRocks(log->status(), "reading a client's events"));
    if (!log->Valid() || log->key() != rocksdb::Slice(key)) {
      return absl::DataLossError(absl::StrCat("client ", stream_id, "'s index names global position ",
                                              position, ", which holds no event; the store is damaged"));
    }
    CASELEDGER_ASSIGN_OR_RETURN(EventView view, DecodeStoredView(log->key(), log->value()));
    if (view.stream_id != stream_id || view.stream_version != version) {
      // Never hand out another client's event for this one.
      return absl::DataLossError(absl::StrCat("client ", stream_id, "'s index names global position ", position,
                                              " for its version ", version,
                                              ", which holds another event; the store is damaged"));
    }
    return fn(view);
  };
  size_t visited = 0;
  for (; it->Valid() && visited < limit; forward ? it->Next() : it->Prev()) {
    uint64_t first = 0, last = 0, first_position = 0;
    CASELEDGER_RETURN_IF_ERROR(it.Current(&first, &last, &first_position));
    if (forward) {
      for (uint64_t v = std::max(first, from); v <= last && visited < limit; ++v, ++visited) {
        CASELEDGER_RETURN_IF_ERROR(visit(v, first_position + (v - first)));
      }
    } else {
      for (uint64_t v = from == 0 ? last : std::min(last, from); v >= first && visited < limit; --v, ++visited) {
        CASELEDGER_RETURN_IF_ERROR(visit(v, first_position + (v - first)));
      }
    }
  }
  return FromRocks(it->status(), "reading a client's events");
}

absl::StatusOr<std::vector<RecordedEvent>> EventStore::ReadAll(uint64_t from_position,
                                                               size_t limit) const {
  std::vector<RecordedEvent> out;
  if (limit == 0) return out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kEventsCf]));
  for (it->Seek(EventKey(std::max<uint64_t>(from_position, 1))); it->Valid() && out.size() < limit;
       it->Next()) {
    CASELEDGER_ASSIGN_OR_RETURN(RecordedEvent event, DecodeStoredEvent(it->key(), it->value()));
    out.push_back(std::move(event));
  }
  CASELEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading the global log"));
  return out;
}

uint64_t EventStore::LastPosition() const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_position_;
}

Hash EventStore::LastHash() const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_hash_;
}

uint64_t EventStore::WaitForPosition(uint64_t position, absl::Duration timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  head_advanced_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                          [&] { return published_position_ > position; });
  return published_position_;
}

NodeSource EventStore::MerkleNodes() const {
  return [this](int level, uint64_t index) -> absl::StatusOr<Hash> {
    if (level < kMerkleStoredLevel) {
      // Fold the covered events' leaf hashes pairwise, bottom up.
      const uint64_t count = uint64_t{1} << level;
      CASELEDGER_ASSIGN_OR_RETURN(std::vector<RecordedEvent> events,
                                  ReadAll(index * count + 1, count));
      if (events.size() != count) {
        return absl::DataLossError(absl::StrCat("Merkle node ", level, "/", index, " covers ",
                                                count, " events but only ", events.size(),
                                                " are stored"));
      }
      std::vector<Hash> hashes;
      hashes.reserve(count);
      for (const RecordedEvent& e : events) hashes.push_back(MerkleLeafHash(EncodeCanonical(e)));
      for (size_t width = count; width > 1; width /= 2) {
        for (size_t i = 0; i < width / 2; ++i) hashes[i] = MerkleNodeHash(hashes[2 * i], hashes[2 * i + 1]);
      }
      return hashes[0];
    }
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), handles_[kMerkleCf], MerkleNodeKey(level, index), &value);
    if (s.IsNotFound()) {
      return absl::DataLossError(absl::StrCat("Merkle node ", level, "/", index, " is missing"));
    }
    CASELEDGER_RETURN_IF_ERROR(FromRocks(s, "reading a Merkle node"));
    Hash h;
    if (value.size() != h.size()) {
      return absl::DataLossError(absl::StrCat("Merkle node ", level, "/", index, " has ",
                                              value.size(), " bytes, expected 32"));
    }
    std::copy(value.begin(), value.end(), h.begin());
    return h;
  };
}

absl::Status EventStore::CheckTreeSize(uint64_t tree_size) const {
  if (!options_.merkle_log) {
    return absl::FailedPreconditionError("this store runs without a Merkle log");
  }
  uint64_t last = LastPosition();
  if (tree_size > last) {
    return absl::InvalidArgumentError(absl::StrCat("tree size ", tree_size,
                                                   " is beyond the log, which holds ", last,
                                                   " events; ask for at most ", last));
  }
  return absl::OkStatus();
}

absl::StatusOr<Hash> EventStore::MerkleRoot(uint64_t tree_size) const {
  CASELEDGER_RETURN_IF_ERROR(CheckTreeSize(tree_size));
  return storage::MerkleRoot(tree_size, MerkleNodes());
}

absl::StatusOr<std::vector<Hash>> EventStore::InclusionProof(uint64_t global_position,
                                                             uint64_t tree_size) const {
  CASELEDGER_RETURN_IF_ERROR(CheckTreeSize(tree_size));
  if (global_position == 0 || global_position > tree_size) {
    return absl::InvalidArgumentError(absl::StrCat("global position ", global_position,
                                                   " is not in a tree of size ", tree_size,
                                                   "; positions run from 1 to the tree size"));
  }
  return MerkleInclusionProof(global_position - 1, tree_size, MerkleNodes());
}

absl::StatusOr<std::vector<Hash>> EventStore::ConsistencyProof(uint64_t old_size,
                                                               uint64_t new_size) const {
  CASELEDGER_RETURN_IF_ERROR(CheckTreeSize(new_size));
  return MerkleConsistencyProof(old_size, new_size, MerkleNodes());
}

EventStoreStats EventStore::Stats() const {
  EventStoreStats stats;
  stats.appends = stat_appends_.load();
  stats.events_written = stat_events_written_.load();
  stats.group_commits = stat_group_commits_.load();
  stats.conflicts = stat_conflicts_.load();
  for (size_t i = 0; i < stats.group_size_buckets.size(); ++i) {
    stats.group_size_buckets[i] = stat_group_sizes_[i].load();
  }
  stats.group_size_sum = stat_group_size_sum_.load();
  return stats;
}

StorageFigures EventStore::Figures() const {
  StorageFigures f;
  uint64_t v = 0;
  for (auto* cf : handles_) {
    if (db_->GetIntProperty(cf, "rocksdb.estimate-pending-compaction-bytes", &v)) f.pending_compaction_bytes += v;
    if (db_->GetIntProperty(cf, "rocksdb.total-sst-files-size", &v)) f.sst_bytes += v;
    if (db_->GetIntProperty(cf, "rocksdb.cur-size-all-mem-tables", &v)) f.memtable_bytes += v;
  }
  f.wal_syncs = options_.sync ? stat_group_commits_.load() : 0;
  f.commit_write_micros_sum = stat_write_micros_.load();
  f.commit_stage_micros_sum = stat_stage_nanos_.load() / 1000;
  return f;
}

// ---------------------------------------------------------------------------
// Verify
// ---------------------------------------------------------------------------

absl::StatusOr<VerifyResult> EventStore::Verify(uint64_t from_position,
                                                uint64_t to_position) const {
  VerifyResult result;
  from_position = std::max<uint64_t>(from_position, 1);
  to_position = std::min(to_position, LastPosition());
  if (from_position > to_position) return result;

  auto broken = [&result](uint64_t position, std::string problem) {
    result.first_broken_position = position;
    result.problem = absl::StrCat("global position ", position, ": ", problem);
    return result;
  };

  // The link into the range: the stored hash of the event before it.
  Hash expected_previous = kZeroHash;
  if (from_position > 1) {
    absl::StatusOr<RecordedEvent> before = ReadEvent(from_position - 1);
    if (!before.ok()) return broken(from_position - 1, std::string(before.status().message()));
    expected_previous = before->hash;
  }

  std::string upper = EventKey(to_position + 1);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_[kEventsCf]));
  uint64_t expected_position = from_position;
  for (it->Seek(EventKey(from_position)); it->Valid(); it->Next()) {
    absl::string_view key(it->key().data(), it->key().size());
    absl::string_view value(it->value().data(), it->value().size());
    absl::StatusOr<uint64_t> key_position = DecodeU64(key);
    if (!key_position.ok()) return broken(expected_position, "the event key is malformed");
    if (*key_position != expected_position) {
      return broken(expected_position, absl::StrCat("the event is missing (next stored is ",
                                                    *key_position, ")"));
    }
    absl::StatusOr<RecordedEvent> event = DecodeEventValue(value);
    if (!event.ok()) return broken(expected_position, std::string(event.status().message()));
    if (event->global_position != expected_position) {
      return broken(expected_position, absl::StrCat("the event claims position ",
                                                    event->global_position));
    }
    // Re-encoding the decoded fields gives the stored canonical bytes back
    // exactly (the encoding is one-to-one), so this hashes what is stored.
    if (Sha256(EncodeCanonical(*event)) != event->hash) {
      return broken(expected_position, "the stored hash does not match the event's content");
    }
    if (!event->event.personal.empty() &&
        PersonalDigest(event->event.personal) != event->personal_digest) {
      return broken(expected_position, "the personal data does not match its digest");
    }
    if (event->previous_hash != expected_previous) {
      return broken(expected_position,
                    "the previous-hash link does not match the event before it");
    }
    expected_previous = event->hash;
    ++result.checked;
    ++expected_position;
  }
  CASELEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading the global log"));
  if (expected_position != to_position + 1) {
    return broken(expected_position, "the event is missing");
  }
  return result;
}

}  // namespace caseledger::storage
