#include "services/case_writer.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "projections/event_mapping.h"
#include "storage/status_macros.h"

namespace caseledger::services {

namespace {
// Each lost race means another append to the same client was stored, so the
// ledger as a whole progressed; a caller loses again only while others keep
// winning. Eight callers appending to one client at once lost more than 10
// in a row now and then (LedgerApiTest.ConcurrentAppendsWithAnyVersion...
// under ctest -j2); 100 leaves room for far more contention than a case sees.
constexpr int kMaxRaceRetries = 100;

// The case rule the fold cannot check (projections/case_state.h): a Corrected
// names an earlier event of the same client — stored, or earlier in `events`.
absl::Status CheckCorrectionTarget(const storage::EventStore& store, absl::string_view client_id,
                                   const std::vector<v1::Event>& events, size_t index) {
  const std::string& target = events[index].corrected().corrected_event_id();
  for (size_t i = 0; i < index; ++i) {
    if (events[i].envelope().event_id() == target) return absl::OkStatus();
  }
  CASELEDGER_ASSIGN_OR_RETURN(std::optional<uint64_t> position, store.EventIdPosition(target));
  if (position.has_value()) {
    CASELEDGER_ASSIGN_OR_RETURN(storage::RecordedEvent stored, store.ReadEvent(*position));
    if (stored.stream_id == client_id) return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      absl::StrCat("client ", client_id, " has no event with id '", target,
                   "'; a correction must name an earlier event of the same client"));
}

// One case write in flight: what each attempt needs, owned, because an
// attempt after a lost race runs on the committing thread after the caller's
// stack is gone.
struct CaseWrite {
  CaseWrite(storage::EventStore& s, storage::KeyVault& v) : store(s), vault(v) {}
  storage::EventStore& store;
  storage::KeyVault& vault;
  std::string client_id;
  storage::ExpectedVersion expected = storage::ExpectedVersion::Any();
  std::string organisation;
  std::string user_id;
  std::vector<v1::Event> events;
  // The events as the store takes them, personal sections sealed once
  // `sealed`. Moved into the store by each attempt (not copied: 100 events
  // are ~60 KB); an attempt after a lost race proposes them again.
  std::vector<storage::ProposedEvent> proposed;
  bool sealed = false;
  AuthorizeWrite authorize;
  projections::CaseStateCache* cache = nullptr;
  WriteDone done;
  int attempt = 0;

  void Propose() {
    proposed.clear();
    proposed.reserve(events.size());
    for (v1::Event& e : events) proposed.push_back(projections::ToProposedEventInPlace(e, organisation, user_id));
    sealed = false;
  }

  absl::Status Seal() {
    if (sealed) return absl::OkStatus();
    for (storage::ProposedEvent& p : proposed) {
      if (p.personal.empty()) continue;
      CASELEDGER_ASSIGN_OR_RETURN(p.personal, vault.Seal(client_id, p.event_id, p.personal));
    }
    sealed = true;
    return absl::OkStatus();
  }
};

// Folds, checks and seals on the calling thread, then queues the append at
// exactly the folded version; a lost race with an "any" expectation repeats.
void Attempt(const std::shared_ptr<CaseWrite>& w) {
  uint64_t folded_from = 0;  // the stream's version the fold started from
  auto checked = [&]() -> absl::StatusOr<projections::CaseState> {
    CASELEDGER_ASSIGN_OR_RETURN(projections::CaseState state,
                                projections::LoadCase(w->store, w->cache, w->client_id));
    CASELEDGER_RETURN_IF_ERROR(w->authorize(state, w->events[0]));
    if (!w->expected.Matches(state.version)) {
      return storage::VersionConflictError(w->client_id, w->expected, state.version);
    }
    folded_from = state.version;
    // The case rules, event by event, on a copy: a batch may build on itself.
    projections::CaseState next = state;
    for (size_t i = 0; i < w->events.size(); ++i) {
      const v1::Event& event = w->events[i];
      absl::Status rule = projections::ApplyEvent(next, event);
      if (rule.ok() && event.has_corrected()) rule = CheckCorrectionTarget(w->store, w->client_id, w->events, i);
      if (!rule.ok()) {
        return absl::FailedPreconditionError(w->events.size() == 1
                                                 ? std::string(rule.message())
                                                 : absl::StrCat("events[", i, "]: ", rule.message()));
      }
    }
    CASELEDGER_RETURN_IF_ERROR(w->Seal());
    return next;
  }();
  if (!checked.ok()) {
    w->done(checked.status());
    return;
  }
  w->store.AppendAsync(
      w->client_id, storage::ExpectedVersion::Exact(folded_from), std::move(w->proposed),
      [w, next = *std::move(checked)](absl::StatusOr<storage::AppendResult> result) mutable {
        if (result.ok()) {
          // Stored at exactly the folded version: the next append to this
          // client reads nothing.
          if (w->cache != nullptr && !result->deduplicated && result->stream_version == next.version) {
            w->cache->Remember(std::move(next));
          }
          w->done(std::move(result));
          return;
        }
        // Another append to this client won the race after we folded. With an
        // exact expectation that is the caller's conflict; with "any" we re-check.
        const bool raced = result.status().code() == absl::StatusCode::kAborted;
        if (raced && w->expected.kind() == storage::ExpectedVersion::Kind::kAny && w->attempt < kMaxRaceRetries) {
          ++w->attempt;
          w->Propose();  // the lost attempt moved them into the store
          Attempt(w);
          return;
        }
        if (raced) {
          absl::StatusOr<uint64_t> current = w->store.StreamVersion(w->client_id);
          if (current.ok()) {
            w->done(storage::VersionConflictError(w->client_id, w->expected, *current));
            return;
          }
        }
        w->done(result.status());
      });
}

}  // namespace

void WriteToCaseAsync(storage::EventStore& store, storage::KeyVault& vault, absl::string_view client_id,
                      storage::ExpectedVersion expected, std::vector<v1::Event> events,
                      absl::string_view organisation, absl::string_view user_id, AuthorizeWrite authorize,
                      projections::CaseStateCache* cache, WriteDone done) {
  if (events.empty()) {
    done(absl::InvalidArgumentError("events is empty; send at least one event"));
    return;
  }
  auto w = std::make_shared<CaseWrite>(store, vault);
  w->client_id = std::string(client_id);
  w->expected = expected;
  w->authorize = std::move(authorize);
  w->cache = cache;
  w->done = std::move(done);
  w->organisation = std::string(organisation);
  w->user_id = std::string(user_id);
  for (v1::Event& e : events) projections::NormaliseOccurredAt(e);  // the fold sees what will be stored
  w->events = std::move(events);
  w->Propose();

  // An exact retry of events already stored: the store recognises it (the
  // sealed bytes are deterministic) and writes nothing; an id stored with other
  // content is ALREADY_EXISTS there.
  absl::StatusOr<std::optional<uint64_t>> stored = store.EventIdPosition(w->events[0].envelope().event_id());
  if (!stored.ok()) {
    w->done(stored.status());
    return;
  }
  if (stored->has_value()) {
    if (absl::Status sealed = w->Seal(); !sealed.ok()) {
      w->done(sealed);
      return;
    }
    store.AppendAsync(w->client_id, expected, std::move(w->proposed), std::move(w->done));
    return;
  }
  Attempt(w);
}

absl::StatusOr<storage::AppendResult> WriteToCase(storage::EventStore& store, storage::KeyVault& vault,
                                                  absl::string_view client_id,
                                                  storage::ExpectedVersion expected,
                                                  std::vector<v1::Event> events,
                                                  absl::string_view organisation, absl::string_view user_id,
                                                  const AuthorizeWrite& authorize,
                                                  projections::CaseStateCache* cache) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::StatusOr<storage::AppendResult>> out;
  WriteToCaseAsync(store, vault, client_id, expected, std::move(events), organisation, user_id, authorize, cache,
                   [&](absl::StatusOr<storage::AppendResult> result) {
                     std::lock_guard<std::mutex> lock(mu);
                     out = std::move(result);
                     cv.notify_one();  // under the lock: the waiter may return (and end cv) once it sees `out`
                   });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return out.has_value(); });
  return *std::move(out);
}

}  // namespace caseledger::services
