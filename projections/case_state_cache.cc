#include "projections/case_state_cache.h"

#include "absl/strings/str_cat.h"
#include "projections/event_mapping.h"
#include "storage/status_macros.h"

namespace caseledger::projections {

absl::StatusOr<CaseState> CaseStateCache::Load(const storage::EventStore& store, absl::string_view client_id) {
  const std::string key(client_id);
  std::shared_ptr<const CaseState> cached;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      cached = it->second->second;
    }
  }
  CASELEDGER_ASSIGN_OR_RETURN(uint64_t head, store.StreamVersion(client_id));
  if (cached == nullptr || cached->version > head) {
    ++misses_;
    CASELEDGER_ASSIGN_OR_RETURN(CaseState state, LoadCaseState(store, client_id));
    Put(key, std::make_shared<const CaseState>(state));
    return state;
  }
  ++hits_;
  if (cached->version == head) return *cached;
  // Fold what was stored since.
  CaseState state = *cached;
  CASELEDGER_RETURN_IF_ERROR(FoldStoredEvents(store, client_id, state));
  Put(key, std::make_shared<const CaseState>(state));
  return state;
}

void CaseStateCache::Remember(CaseState state) {
  const std::string key = state.client_id;
  Put(key, std::make_shared<const CaseState>(std::move(state)));
}

void CaseStateCache::Put(const std::string& client_id, std::shared_ptr<const CaseState> state) {
  if (capacity_ == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(client_id);
  if (it != index_.end()) {
    // Keep the newer of the two (a concurrent Load may have folded further).
    if (it->second->second->version <= state->version) it->second->second = std::move(state);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(client_id, std::move(state));
  index_[client_id] = lru_.begin();
  if (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

size_t CaseStateCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

}  // namespace caseledger::projections
