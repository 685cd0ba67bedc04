#include "services/case_writer.h"

#include "absl/strings/str_cat.h"
#include "projections/event_mapping.h"
#include "storage/status_macros.h"

namespace caseledger::services {

namespace {
constexpr int kMaxRaceRetries = 10;

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

}  // namespace

absl::StatusOr<storage::AppendResult> WriteToCase(storage::EventStore& store, storage::KeyVault& vault,
                                                  absl::string_view client_id,
                                                  storage::ExpectedVersion expected,
                                                  std::vector<v1::Event> events,
                                                  absl::string_view organisation, absl::string_view user_id,
                                                  const AuthorizeWrite& authorize,
                                                  projections::CaseStateCache* cache) {
  if (events.empty()) return absl::InvalidArgumentError("events is empty; send at least one event");
  std::vector<storage::ProposedEvent> proposed;
  proposed.reserve(events.size());
  bool sealed = false;
  auto seal = [&]() -> absl::Status {
    if (sealed) return absl::OkStatus();
    for (storage::ProposedEvent& p : proposed) {
      if (p.personal.empty()) continue;
      CASELEDGER_ASSIGN_OR_RETURN(p.personal, vault.Seal(client_id, p.event_id, p.personal));
    }
    sealed = true;
    return absl::OkStatus();
  };
  for (v1::Event& e : events) {
    projections::NormaliseOccurredAt(e);  // the fold below sees what will be stored
    proposed.push_back(projections::ToProposedEventInPlace(e, organisation, user_id));
  }

  // An exact retry of events already stored: the store recognises it (the
  // sealed bytes are deterministic) and writes nothing; an id stored with other
  // content is ALREADY_EXISTS there.
  CASELEDGER_ASSIGN_OR_RETURN(std::optional<uint64_t> stored,
                              store.EventIdPosition(events[0].envelope().event_id()));
  if (stored.has_value()) {
    CASELEDGER_RETURN_IF_ERROR(seal());
    return store.Append(client_id, expected, proposed);
  }

  for (int attempt = 0;; ++attempt) {
    CASELEDGER_ASSIGN_OR_RETURN(projections::CaseState state, projections::LoadCase(store, cache, client_id));
    CASELEDGER_RETURN_IF_ERROR(authorize(state, events[0]));
    if (!expected.Matches(state.version)) {
      return storage::VersionConflictError(client_id, expected, state.version);
    }
    // The case rules, event by event, on a copy: a batch may build on itself.
    projections::CaseState next = state;
    for (size_t i = 0; i < events.size(); ++i) {
      const v1::Event& event = events[i];
      absl::Status rule = projections::ApplyEvent(next, event);
      if (rule.ok() && event.has_corrected()) rule = CheckCorrectionTarget(store, client_id, events, i);
      if (!rule.ok()) {
        return absl::FailedPreconditionError(events.size() == 1
                                                 ? std::string(rule.message())
                                                 : absl::StrCat("events[", i, "]: ", rule.message()));
      }
    }
    CASELEDGER_RETURN_IF_ERROR(seal());
    absl::StatusOr<storage::AppendResult> result =
        store.Append(client_id, storage::ExpectedVersion::Exact(state.version), proposed);
    if (result.ok()) {
      // Stored at exactly the folded version: `next` is the fold of the
      // stream as stored, so the next append to this client reads nothing.
      if (cache != nullptr && !result->deduplicated && result->stream_version == next.version) {
        cache->Remember(std::move(next));
      }
      return result;
    }
    // Another append to this client won the race after we folded. With an
    // exact expectation that is the caller's conflict; with "any" we re-check.
    const bool raced = result.status().code() == absl::StatusCode::kAborted;
    if (raced && expected.kind() == storage::ExpectedVersion::Kind::kAny && attempt < kMaxRaceRetries) continue;
    if (raced) {
      absl::StatusOr<uint64_t> current = store.StreamVersion(client_id);
      if (current.ok()) return storage::VersionConflictError(client_id, expected, *current);
    }
    return result.status();
  }
}

}  // namespace caseledger::services
