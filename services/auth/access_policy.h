// Who may append and read which client's events (DESIGN.md, security model).
//
//   partner          appends to the clients it holds: it made the intake, or
//                    a Handover moved the case to it. Reads those, and clients
//                    whose active consent names it. Sees personal data of both.
//   auditor          reads every client and the global log, without personal
//                    data; never appends.
//   municipality     reads no raw events.
//   privacy-officer  works through the PrivacyService, not the ledger API.
//   admin            operates the server; reads no client data.
// Every refusal is PERMISSION_DENIED and says what is missing.
//
// Thread-safety: pure functions.
#ifndef CASELEDGER_SERVICES_AUTH_ACCESS_POLICY_H_
#define CASELEDGER_SERVICES_AUTH_ACCESS_POLICY_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "caseledger/v1/events.pb.h"
#include "projections/case_state.h"
#include "services/auth/identity.h"

namespace caseledger::services {

// PERMISSION_DENIED unless `caller` has `role`: "<call> needs the <role> role; ...".
absl::Status RequireRole(const CallerIdentity& caller, Role role, absl::string_view call);

// May `caller` append `first_event` (and the events after it in the same call)
// to the client whose current state is `state`?
absl::Status AuthorizeAppend(const CallerIdentity& caller, const projections::CaseState& state,
                             const v1::Event& first_event);

// May `caller` read this client's events on `today`? NOT_FOUND for a client
// without events.
absl::Status AuthorizeClientRead(const CallerIdentity& caller,
                                 const projections::CaseState& state, absl::CivilDay today);

// May `caller` read the global log (ReadAll, Subscribe)? `call` names the RPC.
absl::Status AuthorizeLogRead(const CallerIdentity& caller, absl::string_view call);

// May `caller` see case views and signals (CaseloadService.ListCases,
// GetCase, ListSignals)? Partners (scoped per case by AuthorizeClientRead)
// and auditors; the municipality gets reports only.
absl::Status AuthorizeCaseViews(const CallerIdentity& caller, absl::string_view call);

// Which organisation's reports (and signals) `caller` asks for, given the
// request's `organisation` field: a partner gets its own (asking for another
// is PERMISSION_DENIED); the municipality and auditors any, and name one
// when `required`. Other roles are refused.
absl::StatusOr<std::string> ReportOrganisation(const CallerIdentity& caller,
                                               absl::string_view requested, bool required,
                                               absl::string_view call);

// Whether reads by `caller` (already authorised) include personal data.
bool SeesPersonalData(const CallerIdentity& caller);

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_AUTH_ACCESS_POLICY_H_
