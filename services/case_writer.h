// Appending to a client's case: the one path every service writes through.
//
// Owns nothing; borrows the store and the key vault. Promises, for a batch of
// already well-formed events (projections::ValidateEvent):
//   an exact retry of stored events (the first event id is in the store's
//   index)? -> the store's original result, nothing written; else
//   `authorize(state, first event)` (PERMISSION_DENIED etc.) -> expected
//   version (ABORTED naming the current one) -> the case rules folded over the
//   stream on a copy, and for a Corrected that the event it names is an
//   earlier event of this client (FAILED_PRECONDITION, "events[i]: ..." for
//   batches) -> each event's personal section sealed with the client's key ->
//   one atomic append at exactly the folded version. The fold starts from
//   `cache` when given (projections/case_state_cache.h), and the folded state
//   goes back into it once stored. If another append won the race and the
//   caller expected "any" version, the whole check repeats.
//
// WriteToCaseAsync does the same without waiting for the disk: the checks run
// on the calling thread, the append joins the store's group commit
// (EventStore::AppendAsync) and `done` is called exactly once, on the calling
// thread or on the thread that commits the group. If the append lost a race
// and is checked again, `authorize` runs again on that thread, so it must own
// (not borrow) what it uses. `done` must not call the blocking WriteToCase or
// EventStore::Append (it may run on the committing thread).
//
// Thread-safety: thread-safe (the store and vault are).
#ifndef CASELEDGER_SERVICES_CASE_WRITER_H_
#define CASELEDGER_SERVICES_CASE_WRITER_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "caseledger/v1/events.pb.h"
#include "projections/case_state.h"
#include "projections/case_state_cache.h"
#include "storage/event_store.h"
#include "storage/key_vault.h"

namespace caseledger::services {

using AuthorizeWrite = std::function<absl::Status(const projections::CaseState&, const v1::Event& first)>;

absl::StatusOr<storage::AppendResult> WriteToCase(storage::EventStore& store, storage::KeyVault& vault,
                                                  absl::string_view client_id,
                                                  storage::ExpectedVersion expected,
                                                  std::vector<v1::Event> events,
                                                  absl::string_view organisation, absl::string_view user_id,
                                                  const AuthorizeWrite& authorize,
                                                  projections::CaseStateCache* cache = nullptr);

using WriteDone = std::function<void(absl::StatusOr<storage::AppendResult>)>;

void WriteToCaseAsync(storage::EventStore& store, storage::KeyVault& vault, absl::string_view client_id,
                      storage::ExpectedVersion expected, std::vector<v1::Event> events,
                      absl::string_view organisation, absl::string_view user_id, AuthorizeWrite authorize,
                      projections::CaseStateCache* cache, WriteDone done);

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_CASE_WRITER_H_
