// The case fold: (case state, event) -> new case state, or the rule it breaks.
//
// This is the one definition of "what state is this case in". The ledger uses
// it to validate an event before appending it; the caseload projection uses
// the same code to build its views, so the two can never disagree.
//
// Two checks, in this order:
//  1. ValidateEvent — the event on its own is well formed: required fields
//     present, enum values known, dates real. Errors are INVALID_ARGUMENT and
//     name the field ("intake.track is not set; ...").
//  2. ApplyEvent — the hard rules of the trajectory hold for this case
//     (DESIGN.md): no event before the Intake; one Intake; after Terminated
//     only Corrected or SubjectErased; nothing after SubjectErased; nothing
//     that happened before the intake; a plan revision needs a plan; a Handover
//     to another organisation needs an active ConsentGranted naming it; a
//     termination needs both deciders; a revocation or correction must name
//     something that exists. Errors are FAILED_PRECONDITION and name the rule.
//     On error the state is unchanged.
// Soft rules (overdue evaluations, expiring terms, ...) never reject; they are
// signals computed by the caseload projection.
//
// The fold is deterministic: it uses only the events (an event's occurred_at
// stands for "now" where a rule needs a date), never the wall clock.
//
// Thread-safety: pure functions over caller-owned values.
#ifndef CASELEDGER_PROJECTIONS_CASE_STATE_H_
#define CASELEDGER_PROJECTIONS_CASE_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "caseledger/v1/events.pb.h"

namespace caseledger::projections {

// A consent to share (toestemming tot delen).
struct ConsentState {
  std::vector<std::string> organisations;
  std::string purpose;
  std::optional<absl::CivilDay> valid_until;
  bool revoked = false;

  bool Covers(absl::string_view organisation, absl::CivilDay on) const;
};

struct CaseState {
  std::string client_id;
  uint64_t version = 0;  // stream version of the last applied event

  bool has_intake = false;
  uint64_t intake_version = 0;
  absl::Time intake_occurred_at = absl::InfinitePast();
  v1::Track track = v1::TRACK_UNSPECIFIED;
  v1::TargetGroup target_group = v1::TARGET_GROUP_UNSPECIFIED;

  std::string organisation;  // the organisation that holds the case now
  std::string team;
  std::string begeleider;
  std::string casemanager;

  bool screening_completed = false;
  bool has_plan = false;
  v1::PlanDirection plan_direction = v1::PLAN_DIRECTION_UNSPECIFIED;

  bool terminated = false;
  uint64_t terminated_version = 0;
  v1::TerminationReason termination_reason = v1::TERMINATION_REASON_UNSPECIFIED;
  bool erased = false;

  std::map<std::string, ConsentState> consents;  // by consent_id
  std::set<std::string> event_ids;               // every event id in this stream

  // True when an active consent names `organisation` on `day`.
  bool ConsentCovers(absl::string_view organisation, absl::CivilDay day) const;
};

// "Intake", "PlanEstablished", ...: the payload's message name; "" when unset.
std::string EventTypeName(const v1::Event& event);

// Check 1: the event on its own is well formed (INVALID_ARGUMENT naming the field).
absl::Status ValidateEvent(const v1::Event& event);

// Check 2 and the fold: applies `event` (already valid) to `state` if the hard
// rules allow it (FAILED_PRECONDITION naming the rule otherwise).
// `event.envelope().stream_version()` must be state.version + 1.
absl::Status ApplyEvent(CaseState& state, const v1::Event& event);

// A proto Date as a civil day; INVALID_ARGUMENT naming `field` if not a real date.
absl::Status ValidateDate(const v1::Date& date, absl::string_view field);
absl::CivilDay ToCivilDay(const v1::Date& date);

}  // namespace caseledger::projections

#endif  // CASELEDGER_PROJECTIONS_CASE_STATE_H_
