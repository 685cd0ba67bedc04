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
//     termination needs both deciders; a revocation must name a consent that
//     exists. Errors are FAILED_PRECONDITION and name the rule.
//     On error the state is unchanged.
//     One rule needs the ids of every event in the stream, which the fold does
//     not keep (the state would grow with the history): a Corrected must name
//     an earlier event of the same client. The event store indexes every event
//     id, so services/case_writer.h checks it there, on the one write path.
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

// A goal of the current perspectiefplan (doel).
struct GoalState {
  std::string goal_id;
  std::string description;
  absl::CivilDay deadline;
  bool done = false;  // a MilestoneCompleted named it
};

// An evaluation held: when, and when it was due (see CaseState::EvaluationDue).
struct EvaluationState {
  absl::CivilDay held;
  absl::CivilDay due;
};

// Attendance counts (aanwezigheid).
struct AttendanceTally {
  int present = 0;
  int absent_excused = 0;
  int absent_unexcused = 0;
};

// From `from` on, `organisation` held the case.
struct HoldingPeriod {
  absl::CivilDay from;
  std::string organisation;
};

// A report moment for Regie & Organisatie that an event caused (start, plan,
// change, end — v1::ReportMomentKind). "After half a year" is not an event;
// the caseload projection derives it from the start day and the clock.
struct ReportMomentState {
  int kind = 0;  // v1::ReportMomentKind
  absl::CivilDay day;
  std::string organisation;
  v1::PlanDirection direction = v1::PLAN_DIRECTION_UNSPECIFIED;
  std::string detail;
  v1::TerminationReason termination_reason = v1::TERMINATION_REASON_UNSPECIFIED;
  int goals_total = 0;
  int goals_done = 0;
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

  // What the caseload view shows (all days are UTC calendar days of occurred_at).
  std::string location;
  std::optional<absl::CivilDay> screening_day;
  std::optional<absl::CivilDay> plan_day;        // PlanEstablished
  std::optional<absl::CivilDay> plan_changed_day;  // last PlanRevised
  std::optional<absl::CivilDay> planned_end;
  std::vector<GoalState> goals;                  // of the current plan
  std::set<int> milestones;                      // v1::Milestone values ticked
  std::optional<absl::CivilDay> last_contact;    // contact, attendance present, exit conversation
  AttendanceTally attendance;
  std::map<std::string, AttendanceTally> attendance_by_quarter;  // "2026Q3" -> tally (by attendance date)
  int handovers = 0;
  std::vector<HoldingPeriod> holders;            // who held the case from when
  std::vector<EvaluationState> evaluations;
  std::optional<absl::CivilDay> next_evaluation;  // set by the last EvaluationRecorded
  std::optional<absl::CivilDay> exit_conversation_day;  // in person (persoonlijk)
  std::optional<absl::CivilDay> end_day;          // Terminated.effective_date or its day
  std::vector<ReportMomentState> report_moments;

  absl::CivilDay intake_day() const;
  bool active() const { return has_intake && !terminated && !erased; }
  int goals_done() const;
  // When the next evaluation is due: the date the last evaluation set, else
  // six months after the last evaluation or, before any, after the plan was
  // established. None without a plan.
  std::optional<absl::CivilDay> EvaluationDue() const;

  // True when an active consent names `organisation` on `day`.
  bool ConsentCovers(absl::string_view organisation, absl::CivilDay day) const;
};

// "Intake", "PlanEstablished", ...: the payload's message name; "" when unset.
// A reference to the descriptor's name, valid for the life of the process.
const std::string& EventTypeName(const v1::Event& event);

// Check 1: the event on its own is well formed (INVALID_ARGUMENT naming the field).
absl::Status ValidateEvent(const v1::Event& event);

// Check 2 and the fold: applies `event` (already valid) to `state` if the hard
// rules allow it (FAILED_PRECONDITION naming the rule otherwise). Events are
// applied in stream order; the state counts the versions (the envelope's
// stream_version is not read).
absl::Status ApplyEvent(CaseState& state, const v1::Event& event);

// A proto Date as a civil day; INVALID_ARGUMENT naming `field` if not a real date.
absl::Status ValidateDate(const v1::Date& date, absl::string_view field);
absl::CivilDay ToCivilDay(const v1::Date& date);
v1::Date ToDate(absl::CivilDay day);

// `months` calendar months after `day`, clamped to the month's last day
// (31 August + 6 months = 28/29 February).
absl::CivilDay AddMonths(absl::CivilDay day, int months);
// "2026Q3" for a day in July–September 2026.
std::string QuarterOf(absl::CivilDay day);

}  // namespace caseledger::projections

#endif  // CASELEDGER_PROJECTIONS_CASE_STATE_H_
