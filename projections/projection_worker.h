// Projection workers: derived state (caseload views, signals, reports) built
// by folding the global event log, checkpointed, rebuildable.
//
// A Projection is a pure fold: given its stored state and the next event of
// the global log, it stages the new state. It must depend on nothing but the
// events (no clock, no randomness), so that a rebuild from the log gives the
// same bytes as incremental building.
//
// A ProjectionWorker owns one projection's keys in the `projections` column
// family and promises:
//  - The state of a batch of events and the new checkpoint are written in one
//    WriteBatch: after a crash the worker resumes from the checkpoint with
//    neither loss nor double counting.
//  - CatchUp applies every event up to the log's last position; the background
//    thread (Start) does so continuously, waking when the log grows.
//  - Rebuild drops the state and the checkpoint atomically, then catches up.
//  - State written by another version of the projection (Projection::version,
//    stored beside the checkpoint) is never extended: the first catch-up
//    rebuilds it from the log. An upgrade that changes a projection's layout
//    therefore needs no manual step.
//  - Lag = last position in the log − checkpoint.
//
// Key grammar (in the projections CF):
//   state key      := name | 0x00 | projection key
//   checkpoint key := name | 0x01   value := last applied global position u64be
//   version key    := name | 0x02   value := Projection::version() u64be
//                     (absent: version 1, the layout before versions were kept)
//
// Thread-safety: all methods may be called concurrently; applying (CatchUp,
// Rebuild, the background thread) is serialised by a mutex. Reads see the
// state as of the last committed batch.
#ifndef CASELEDGER_PROJECTIONS_PROJECTION_WORKER_H_
#define CASELEDGER_PROJECTIONS_PROJECTION_WORKER_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/event_store.h"

namespace rocksdb {
class WriteBatchWithIndex;
}

namespace caseledger::projections {

// The staged state a Projection reads and writes while applying events: reads
// see the writes staged earlier in the same batch.
class ProjectionState {
 public:
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const;
  void Put(absl::string_view key, absl::string_view value);
  void Delete(absl::string_view key);

 private:
  friend class ProjectionWorker;
  ProjectionState(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string prefix,
                  rocksdb::WriteBatchWithIndex* batch)
      : db_(db), cf_(cf), prefix_(std::move(prefix)), batch_(batch) {}
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  std::string prefix_;
  rocksdb::WriteBatchWithIndex* batch_;
};

class Projection {
 public:
  virtual ~Projection() = default;
  // Stable name; it prefixes every key of this projection. Never rename.
  virtual std::string name() const = 0;
  // The layout of the stored state. Raise it whenever what Apply writes
  // changes shape: the worker then rebuilds state of another version.
  virtual uint64_t version() const { return 1; }
  // Folds `event` into `state`. An error stops the worker at this position.
  virtual absl::Status Apply(const storage::RecordedEvent& event, ProjectionState& state) = 0;
  // After the last Apply of a batch, before the batch is written: a
  // projection that keeps the batch's working set in memory (so that a client
  // with many events in one batch is read and written once) stages it here.
  virtual absl::Status FinishBatch(ProjectionState& /*state*/) { return absl::OkStatus(); }
  // The batch being applied was given up (an Apply or the write failed):
  // forget any working set, the next batch starts from the stored state.
  virtual void AbandonBatch() {}
};

struct ProjectionWorkerOptions {
  // Most events applied per WriteBatch. A worker that is behind (a rebuild,
  // a restart) takes this many at once; one that keeps up takes what is new.
  size_t batch_events = 4096;
  // A worker that keeps up starts applying at most once per this interval:
  // after a quiet spell it applies at once, while appends keep coming it
  // applies what gathered since its last batch, so that they share one read,
  // one fold per client and one WriteBatch. With one client appending, each
  // event had its own read, fold and write (the worker's CPU per event was
  // larger than the append's); a batch every 2 ms still cost the worker 80 us
  // of CPU per append (1 client, /proc) and woke it three times as often as
  // every 10 ms. Adds at most this much to the projection lag.
  absl::Duration min_batch_interval = absl::Milliseconds(10);
};

class ProjectionWorker {
 public:
  // `store` must outlive the worker.
  ProjectionWorker(storage::EventStore* store, std::unique_ptr<Projection> projection,
                   ProjectionWorkerOptions options = {});
  ProjectionWorker(const ProjectionWorker&) = delete;
  ProjectionWorker& operator=(const ProjectionWorker&) = delete;
  ~ProjectionWorker();  // stops the background thread

  const std::string& name() const { return name_; }

  // Applies every event up to the log's current last position.
  absl::Status CatchUp();
  // Drops the state and checkpoint in one batch, then catches up.
  absl::Status Rebuild();

  // Keeps catching up in a background thread until Stop (or destruction).
  void Start();
  void Stop();

  uint64_t checkpoint() const { return checkpoint_.load(); }
  uint64_t lag() const;
  // The last error of the background thread (OK while healthy).
  absl::Status health() const;

  // Committed state.
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const;
  // Up to `limit` (key, value) pairs whose keys start with `key_prefix` and
  // sort after `start_after` (empty: from the first), in key order.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(
      absl::string_view key_prefix, absl::string_view start_after, size_t limit) const;

 private:
  absl::Status ApplyBatch(uint64_t* applied) ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);
  absl::Status CatchUpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);
  absl::Status RebuildLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);
  void Run();

  storage::EventStore* const store_;
  const std::unique_ptr<Projection> projection_;
  const std::string name_;
  const std::string state_prefix_;    // name | 0x00
  const std::string checkpoint_key_;  // name | 0x01
  const std::string version_key_;     // name | 0x02
  const std::string version_value_;   // projection_->version() u64be
  const ProjectionWorkerOptions options_;

  std::mutex apply_mu_;
  std::atomic<uint64_t> checkpoint_{0};
  // Stored state is of another version; the next catch-up rebuilds first.
  bool stale_version_ ABSL_GUARDED_BY(apply_mu_) = false;

  mutable std::mutex run_mu_;
  bool running_ ABSL_GUARDED_BY(run_mu_) = false;
  absl::Status health_ ABSL_GUARDED_BY(run_mu_);
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace caseledger::projections

#endif  // CASELEDGER_PROJECTIONS_PROJECTION_WORKER_H_
