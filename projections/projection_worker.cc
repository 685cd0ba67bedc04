#include "projections/projection_worker.h"

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/utilities/write_batch_with_index.h"
#include "rocksdb/write_batch.h"
#include "storage/column_families.h"
#include "storage/rocksdb_status.h"
#include "storage/status_macros.h"

namespace caseledger::projections {
namespace {

using storage::FromRocks;

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

// The first key after every key that starts with `prefix` (prefix never ends in 0xff here).
std::string PrefixEnd(std::string prefix) {
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

}  // namespace

// ---------------------------------------------------------------------------
// ProjectionState
// ---------------------------------------------------------------------------

absl::StatusOr<std::optional<std::string>> ProjectionState::Get(absl::string_view key) const {
  std::string value;
  rocksdb::Status s = batch_->GetFromBatchAndDB(db_, rocksdb::ReadOptions(), cf_,
                                                absl::StrCat(prefix_, key), &value);
  if (s.IsNotFound()) return std::nullopt;
  CASELEDGER_RETURN_IF_ERROR(FromRocks(s, "reading projection state"));
  return value;
}

void ProjectionState::Put(absl::string_view key, absl::string_view value) {
  batch_->Put(cf_, absl::StrCat(prefix_, key), ToSlice(value)).PermitUncheckedError();
}

void ProjectionState::Delete(absl::string_view key) {
  batch_->Delete(cf_, absl::StrCat(prefix_, key)).PermitUncheckedError();
}

// ---------------------------------------------------------------------------
// ProjectionWorker
// ---------------------------------------------------------------------------

ProjectionWorker::ProjectionWorker(storage::EventStore* store, std::unique_ptr<Projection> projection,
                                   ProjectionWorkerOptions options)
    : store_(store),
      projection_(std::move(projection)),
      name_(projection_->name()),
      state_prefix_(name_ + std::string(1, '\0')),
      checkpoint_key_(name_ + std::string(1, '\x01')),
      version_key_(name_ + std::string(1, '\x02')),
      version_value_(storage::EncodeU64(projection_->version())),
      options_(options) {
  rocksdb::ColumnFamilyHandle* cf = store_->column_family(storage::kProjectionsCf);
  std::string value;
  rocksdb::Status s = store_->db()->Get(rocksdb::ReadOptions(), cf, checkpoint_key_, &value);
  if (s.ok()) {
    absl::StatusOr<uint64_t> position = storage::DecodeU64(value);
    if (position.ok()) checkpoint_ = *position;
  }
  if (checkpoint_.load() > 0) {
    std::string stored_version = storage::EncodeU64(1);
    s = store_->db()->Get(rocksdb::ReadOptions(), cf, version_key_, &value);
    if (s.ok()) stored_version = value;
    std::lock_guard<std::mutex> lock(apply_mu_);
    stale_version_ = stored_version != version_value_;
  }
}

ProjectionWorker::~ProjectionWorker() { Stop(); }

uint64_t ProjectionWorker::lag() const {
  uint64_t last = store_->LastPosition();
  uint64_t done = checkpoint_.load();
  return last > done ? last - done : 0;
}

absl::Status ProjectionWorker::health() const {
  std::lock_guard<std::mutex> lock(run_mu_);
  return health_;
}

absl::Status ProjectionWorker::ApplyBatch(uint64_t* applied) {
  *applied = 0;
  const uint64_t from = checkpoint_.load() + 1;
  CASELEDGER_ASSIGN_OR_RETURN(std::vector<storage::RecordedEvent> events,
                              store_->ReadAll(from, options_.batch_events));
  if (events.empty()) return absl::OkStatus();
  rocksdb::ColumnFamilyHandle* cf = store_->column_family(storage::kProjectionsCf);
  rocksdb::WriteBatchWithIndex batch(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
  ProjectionState state(store_->db(), cf, state_prefix_, &batch);
  for (const storage::RecordedEvent& event : events) {
    absl::Status s = projection_->Apply(event, state);
    if (!s.ok()) {
      projection_->AbandonBatch();
      return absl::Status(s.code(), absl::StrCat("projection ", name_, " stopped at global position ",
                                                 event.global_position, ": ", s.message()));
    }
  }
  if (absl::Status s = projection_->FinishBatch(state); !s.ok()) {
    projection_->AbandonBatch();
    return absl::Status(s.code(), absl::StrCat("projection ", name_, " stopped before global position ",
                                               events.front().global_position, ": ", s.message()));
  }
  const uint64_t last = events.back().global_position;
  batch.Put(cf, checkpoint_key_, storage::EncodeU64(last)).PermitUncheckedError();
  batch.Put(cf, version_key_, version_value_).PermitUncheckedError();
  // Not synced: a projection lost in a crash is rebuilt from the (synced) log.
  CASELEDGER_RETURN_IF_ERROR(
      FromRocks(store_->db()->Write(rocksdb::WriteOptions(), batch.GetWriteBatch()),
                "writing projection state"));
  checkpoint_ = last;
  *applied = events.size();
  return absl::OkStatus();
}

absl::Status ProjectionWorker::CatchUpLocked() {
  if (stale_version_) return RebuildLocked();
  const uint64_t target = store_->LastPosition();
  while (checkpoint_.load() < target) {
    uint64_t applied = 0;
    CASELEDGER_RETURN_IF_ERROR(ApplyBatch(&applied));
    if (applied == 0) break;
  }
  return absl::OkStatus();
}

absl::Status ProjectionWorker::CatchUp() {
  std::lock_guard<std::mutex> lock(apply_mu_);
  return CatchUpLocked();
}

absl::Status ProjectionWorker::Rebuild() {
  std::lock_guard<std::mutex> lock(apply_mu_);
  return RebuildLocked();
}

absl::Status ProjectionWorker::RebuildLocked() {
  rocksdb::ColumnFamilyHandle* cf = store_->column_family(storage::kProjectionsCf);
  rocksdb::WriteBatch drop;
  drop.DeleteRange(cf, state_prefix_, PrefixEnd(state_prefix_)).PermitUncheckedError();
  drop.Delete(cf, checkpoint_key_).PermitUncheckedError();
  drop.Delete(cf, version_key_).PermitUncheckedError();
  CASELEDGER_RETURN_IF_ERROR(
      FromRocks(store_->db()->Write(rocksdb::WriteOptions(), &drop), "dropping projection state"));
  checkpoint_ = 0;
  stale_version_ = false;
  return CatchUpLocked();
}

void ProjectionWorker::Start() {
  std::lock_guard<std::mutex> lock(run_mu_);
  if (running_) return;
  running_ = true;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void ProjectionWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    if (!running_) return;
    running_ = false;
  }
  stop_ = true;
  thread_.join();
}

void ProjectionWorker::Run() {
  absl::Time last_batch = absl::InfinitePast();  // when the last batch that applied something began
  while (!stop_) {
    const absl::Time started = absl::Now();
    const uint64_t before = checkpoint_.load();
    absl::Status s = CatchUp();
    if (checkpoint_.load() != before) last_batch = started;
    {
      std::lock_guard<std::mutex> lock(run_mu_);
      health_ = s;
    }
    // Wake when the log grows past the checkpoint, or every 200 ms to notice Stop.
    store_->WaitForPosition(checkpoint_.load(), absl::Milliseconds(200));
    const uint64_t behind = store_->LastPosition() - checkpoint_.load();
    // Not behind by a full batch: let the appends of this interval gather
    // (after a quiet spell the interval is over already, and this is no wait).
    const absl::Duration wait = last_batch + options_.min_batch_interval - absl::Now();
    if (wait > absl::ZeroDuration() && !stop_ && behind > 0 && behind < options_.batch_events) {
      absl::SleepFor(wait);
    }
    if (!s.ok()) absl::SleepFor(absl::Seconds(1));  // do not spin on a persistent error
  }
}

absl::StatusOr<std::optional<std::string>> ProjectionWorker::Get(absl::string_view key) const {
  std::string value;
  rocksdb::Status s = store_->db()->Get(rocksdb::ReadOptions(),
                                        store_->column_family(storage::kProjectionsCf),
                                        absl::StrCat(state_prefix_, key), &value);
  if (s.IsNotFound()) return std::nullopt;
  CASELEDGER_RETURN_IF_ERROR(FromRocks(s, "reading projection state"));
  return value;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ProjectionWorker::Scan(
    absl::string_view key_prefix, absl::string_view start_after, size_t limit) const {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string lower = absl::StrCat(state_prefix_, key_prefix);
  const std::string upper = PrefixEnd(state_prefix_);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(ro, store_->column_family(storage::kProjectionsCf)));
  if (start_after.empty()) {
    it->Seek(lower);
  } else {
    it->Seek(absl::StrCat(state_prefix_, start_after));
    if (it->Valid() && it->key().ToString() == absl::StrCat(state_prefix_, start_after)) it->Next();
  }
  for (; it->Valid() && out.size() < limit; it->Next()) {
    absl::string_view key(it->key().data(), it->key().size());
    if (key.substr(0, lower.size()) != lower) break;
    key.remove_prefix(state_prefix_.size());
    out.emplace_back(std::string(key), it->value().ToString());
  }
  CASELEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "scanning projection state"));
  return out;
}

}  // namespace caseledger::projections
