// A cache of folded cases, so that an append to a client with a long history
// does not re-read and re-fold the whole stream each time.
//
// Owns: up to `capacity` CaseStates, least recently used evicted first. Each
// is the fold of a prefix of the client's stored events: folded from the
// store (LoadCaseState), or handed in by the one write path after its append
// was stored (Remember: it folded exactly the events it stored, at the
// stored precision). Load reads the stream head (one key) and folds just the
// events stored after the cached version — none after the caller's own append.
//
// Promise: Load(store, client) returns exactly what LoadCaseState would.
//
// Thread-safety: thread-safe; folding happens outside the lock.
#ifndef CASELEDGER_PROJECTIONS_CASE_STATE_CACHE_H_
#define CASELEDGER_PROJECTIONS_CASE_STATE_CACHE_H_

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "projections/case_state.h"
#include "projections/event_mapping.h"
#include "storage/event_store.h"

namespace caseledger::projections {

class CaseStateCache {
 public:
  explicit CaseStateCache(size_t capacity = 4096) : capacity_(capacity) {}

  absl::StatusOr<CaseState> Load(const storage::EventStore& store, absl::string_view client_id);

  // `state` is the fold of exactly the client's first state.version stored
  // events (services/case_writer.h calls this after its append was stored).
  void Remember(CaseState state);

  size_t size() const;
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const CaseState>>;
  void Put(const std::string& client_id, std::shared_ptr<const CaseState> state);

  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front = most recent; guarded by mu_
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // guarded by mu_
  std::atomic<uint64_t> hits_{0}, misses_{0};
};

// `cache`'s Load when there is one, else LoadCaseState.
inline absl::StatusOr<CaseState> LoadCase(const storage::EventStore& store, CaseStateCache* cache,
                                          absl::string_view client_id) {
  return cache != nullptr ? cache->Load(store, client_id) : LoadCaseState(store, client_id);
}

}  // namespace caseledger::projections

#endif  // CASELEDGER_PROJECTIONS_CASE_STATE_CACHE_H_
