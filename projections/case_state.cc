#include "projections/case_state.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "caseledger/v1/caseload_service.pb.h"
#include "google/protobuf/descriptor.h"
#include "storage/status_macros.h"

namespace caseledger::projections {
namespace {

using v1::Event;

absl::Status Missing(absl::string_view field, absl::string_view what_to_do) {
  return absl::InvalidArgumentError(absl::StrCat(field, " is not set; ", what_to_do));
}

absl::Status RequireText(const std::string& value, absl::string_view field,
                         absl::string_view what_to_do) {
  if (value.empty()) return Missing(field, what_to_do);
  return absl::OkStatus();
}

// An enum field must hold a known, non-zero value.
absl::Status RequireEnum(int value, bool (*is_valid)(int), const google::protobuf::EnumDescriptor* d,
                         absl::string_view field) {
  if (value == 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is not set; choose one of the ",
                                                   d->name(), " values"));
  }
  if (!is_valid(value)) {
    return absl::InvalidArgumentError(absl::StrCat(field, " has the unknown value ", value,
                                                   "; use one of the ", d->name(),
                                                   " values in events.proto"));
  }
  return absl::OkStatus();
}

#define CASELEDGER_CHECK_ENUM(Enum, value, field) \
  RequireEnum((value), &v1::Enum##_IsValid, v1::Enum##_descriptor(), (field))

absl::Status ValidateGoals(const google::protobuf::RepeatedPtrField<v1::Goal>& goals,
                           absl::string_view field) {
  if (goals.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is empty; a perspectiefplan needs at least one goal with a deadline"));
  }
  std::set<std::string> ids;
  for (int i = 0; i < goals.size(); ++i) {
    std::string at = absl::StrCat(field, "[", i, "]");
    CASELEDGER_RETURN_IF_ERROR(RequireText(goals[i].goal_id(), absl::StrCat(at, ".goal_id"),
                                "give each goal an id, e.g. \"g1\""));
    if (!ids.insert(goals[i].goal_id()).second) {
      return absl::InvalidArgumentError(absl::StrCat(at, ".goal_id '", goals[i].goal_id(),
                                                     "' is used twice; give each goal its own id"));
    }
    CASELEDGER_RETURN_IF_ERROR(RequireText(goals[i].description(), absl::StrCat(at, ".description"),
                                "describe the goal"));
    if (!goals[i].has_deadline()) {
      return Missing(absl::StrCat(at, ".deadline"), "every goal needs a deadline");
    }
    CASELEDGER_RETURN_IF_ERROR(ValidateDate(goals[i].deadline(), absl::StrCat(at, ".deadline")));
  }
  return absl::OkStatus();
}

absl::CivilDay DayOf(absl::Time t) { return absl::ToCivilDay(t, absl::UTCTimeZone()); }

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace

bool ConsentState::Covers(absl::string_view organisation, absl::CivilDay on) const {
  if (revoked) return false;
  if (valid_until.has_value() && on > *valid_until) return false;
  return std::find(organisations.begin(), organisations.end(), organisation) != organisations.end();
}

absl::CivilDay CaseState::intake_day() const { return DayOf(intake_occurred_at); }

int CaseState::goals_done() const {
  return static_cast<int>(std::count_if(goals.begin(), goals.end(),
                                        [](const GoalState& g) { return g.done; }));
}

std::optional<absl::CivilDay> CaseState::EvaluationDue() const {
  if (next_evaluation.has_value()) return next_evaluation;
  if (!evaluations.empty()) return AddMonths(evaluations.back().held, 6);
  if (plan_day.has_value()) return AddMonths(*plan_day, 6);
  return std::nullopt;
}

v1::Date ToDate(absl::CivilDay day) {
  v1::Date date;
  date.set_year(static_cast<int32_t>(day.year()));
  date.set_month(day.month());
  date.set_day(day.day());
  return date;
}

absl::CivilDay AddMonths(absl::CivilDay day, int months) {
  absl::CivilMonth month = absl::CivilMonth(day) + months;
  absl::CivilDay last = absl::CivilDay(month + 1) - 1;
  return std::min(absl::CivilDay(month.year(), month.month(), day.day()) , last);
}

std::string QuarterOf(absl::CivilDay day) {
  return absl::StrCat(day.year(), "Q", (day.month() - 1) / 3 + 1);
}

bool CaseState::ConsentCovers(absl::string_view org, absl::CivilDay day) const {
  for (const auto& [id, consent] : consents) {
    if (consent.Covers(org, day)) return true;
  }
  return false;
}

absl::CivilDay ToCivilDay(const v1::Date& date) {
  return absl::CivilDay(date.year(), date.month(), date.day());
}

absl::Status ValidateDate(const v1::Date& date, absl::string_view field) {
  absl::CivilDay day = ToCivilDay(date);
  if (date.year() < 1900 || date.year() > 2200 || day.year() != date.year() ||
      day.month() != date.month() || day.day() != date.day()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is ", date.year(), "-", date.month(), "-",
                                                   date.day(),
                                                   ", which is not a real date; use year 1900..2200, "
                                                   "month 1..12 and a day that exists in that month"));
  }
  return absl::OkStatus();
}

const std::string& EventTypeName(const Event& event) {
  // Looked up once: the name search showed in the profile of 100-event appends.
  static const google::protobuf::OneofDescriptor* const oneof = Event::descriptor()->FindOneofByName("payload");
  static const std::string* const none = new std::string();
  const google::protobuf::FieldDescriptor* field =
      Event::GetReflection()->GetOneofFieldDescriptor(event, oneof);
  return field ? field->message_type()->name() : *none;
}

absl::Status ValidateEvent(const Event& e) {
  CASELEDGER_RETURN_IF_ERROR(RequireText(e.envelope().event_id(), "envelope.event_id",
                              "give every event a unique id (a UUID) and reuse it when you retry"));
  if (!e.envelope().has_occurred_at()) {
    return Missing("envelope.occurred_at", "say when it happened");
  }
  if (e.has_personal_data() && e.personal_data().has_birth_date()) {
    CASELEDGER_RETURN_IF_ERROR(ValidateDate(e.personal_data().birth_date(), "personal_data.birth_date"));
  }

  switch (e.payload_case()) {
    case Event::PAYLOAD_NOT_SET:
      return absl::InvalidArgumentError(
          "the event has no payload; set exactly one of intake, screening_completed, "
          "caseworker_assigned, plan_established, plan_revised, handover, attendance_registered, "
          "milestone_completed, contact_recorded, evaluation_recorded, exit_conversation_held, "
          "return_assessment_recorded, consent_granted, consent_revoked, terminated, corrected");
    case Event::kIntake: {
      const v1::Intake& p = e.intake();
      CASELEDGER_RETURN_IF_ERROR(CASELEDGER_CHECK_ENUM(Track, p.track(), "intake.track"));
      CASELEDGER_RETURN_IF_ERROR(CASELEDGER_CHECK_ENUM(TargetGroup, p.target_group(), "intake.target_group"));
      CASELEDGER_RETURN_IF_ERROR(RequireText(p.organisation(), "intake.organisation",
                                  "name the organisation that does the intake"));
      CASELEDGER_RETURN_IF_ERROR(RequireText(p.location(), "intake.location", "name the opvanglocatie"));
      return RequireText(p.legal_basis(), "intake.legal_basis",
                         "state the legal basis for processing (grondslag)");
    }
    case Event::kScreeningCompleted:
      return absl::OkStatus();
    case Event::kCaseworkerAssigned: {
      const v1::CaseworkerAssigned& p = e.caseworker_assigned();
      CASELEDGER_RETURN_IF_ERROR(RequireText(p.begeleider(), "caseworker_assigned.begeleider",
                                  "name the begeleider's user id"));
      return RequireText(p.casemanager(), "caseworker_assigned.casemanager",
                         "name the casemanager's user id");
    }
    case Event::kPlanEstablished: {
      const v1::PlanEstablished& p = e.plan_established();
      CASELEDGER_RETURN_IF_ERROR(CASELEDGER_CHECK_ENUM(PlanDirection, p.direction(), "plan_established.direction"));
      CASELEDGER_RETURN_IF_ERROR(ValidateGoals(p.goals(), "plan_established.goals"));
      if (p.agreed_by().empty()) {
        return absl::InvalidArgumentError(
            "plan_established.agreed_by is empty; list the begeleider and casemanager who agreed");
      }
      if (p.has_planned_end()) {
        CASELEDGER_RETURN_IF_ERROR(ValidateDate(p.planned_end(), "plan_established.planned_end"));
      }
      return absl::OkStatus();
    }
    case Event::kPlanRevised: {
      const v1::PlanRevised& p = e.plan_revised();
      CASELEDGER_RETURN_IF_ERROR(CASELEDGER_CHECK_ENUM(PlanDirection, p.direction(), "plan_revised.direction"));
      CASELEDGER_RETURN_IF_ERROR(ValidateGoals(p.goals(), "plan_revised.goals"));
      CASELEDGER_RETURN_IF_ERROR(RequireText(p.reason(), "plan_revised.reason", "say why the plan changed"));
      if (p.has_planned_end()) {
        CASELEDGER_RETURN_IF_ERROR(ValidateDate(p.planned_end(), "plan_revised.planned_end"));
      }
      return absl::OkStatus();
    }
    case Event::kHandover: {
      const v1::Handover& p = e.handover();
      CASELEDGER_RETURN_IF_ERROR(RequireText(p.from_organisation(), "handover.from_organisation",
                                  "name the organisation that hands the case over"));
      CASELEDGER_RETURN_IF_ERROR(RequireText(p.to_organisation(), "handover.to_organisation",
                                  "name the organisation that receives the case"));
      return RequireText(p.reason(), "handover.reason", "say why the case is handed over");
    }
    case Event::kAttendanceRegistered: {
      const v1::AttendanceRegistered& p = e.attendance_registered();
      CASELEDGER_RETURN_IF_ERROR(CASELEDGER_CHECK_ENUM(Activity, p.activity(), "attendance_registered.activity"));
      CASELEDGER_RETURN_IF_ERROR(CASELEDGER_CHECK_ENUM(Attendance, p.attendance(), "attendance_registered.attendance"));
      if (!p.has_date()) return Missing("attendance_registered.date", "give the date of the activity");
      return ValidateDate(p.date(), "attendance_registered.date");
    }
    case Event::kMilestoneCompleted:
      if (e.milestone_completed().milestone() == 0 && !e.milestone_completed().goal_id().empty()) {
        return absl::OkStatus();  // a goal of the plan reached, no checklist step
      }
      return CASELEDGER_CHECK_ENUM(Milestone, e.milestone_completed().milestone(),
                                   "milestone_completed.milestone (or set goal_id)");
    case Event::kContactRecorded:
      return CASELEDGER_CHECK_ENUM(ContactKind, e.contact_recorded().kind(), "contact_recorded.kind");
    case Event::kEvaluationRecorded: {
      const v1::EvaluationRecorded& p = e.evaluation_recorded();
      CASELEDGER_RETURN_IF_ERROR(CASELEDGER_CHECK_ENUM(EvaluationOutcome, p.outcome(), "evaluation_recorded.outcome"));
      if (p.has_next_evaluation()) {
        CASELEDGER_RETURN_IF_ERROR(ValidateDate(p.next_evaluation(), "evaluation_recorded.next_evaluation"));
      }
      return absl::OkStatus();
    }
    case Event::kExitConversationHeld:
    case Event::kReturnAssessmentRecorded:
      return absl::OkStatus();
    case Event::kConsentGranted: {
      const v1::ConsentGranted& p = e.consent_granted();
      CASELEDGER_RETURN_IF_ERROR(RequireText(p.consent_id(), "consent_granted.consent_id",
                                  "give the consent an id that a Handover can refer to"));
      if (p.organisations().empty()) {
        return absl::InvalidArgumentError(
            "consent_granted.organisations is empty; list the organisations the client allows to "
            "receive the data");
      }
      CASELEDGER_RETURN_IF_ERROR(RequireText(p.purpose(), "consent_granted.purpose", "state the purpose of sharing"));
      if (p.has_valid_until()) {
        CASELEDGER_RETURN_IF_ERROR(ValidateDate(p.valid_until(), "consent_granted.valid_until"));
      }
      return absl::OkStatus();
    }
    case Event::kConsentRevoked:
      return RequireText(e.consent_revoked().consent_id(), "consent_revoked.consent_id",
                         "name the consent that is revoked");
    case Event::kTerminated: {
      const v1::Terminated& p = e.terminated();
      CASELEDGER_RETURN_IF_ERROR(CASELEDGER_CHECK_ENUM(TerminationReason, p.reason(), "terminated.reason"));
      if (p.has_effective_date()) {
        CASELEDGER_RETURN_IF_ERROR(ValidateDate(p.effective_date(), "terminated.effective_date"));
      }
      return absl::OkStatus();
    }
    case Event::kCorrected: {
      const v1::Corrected& p = e.corrected();
      CASELEDGER_RETURN_IF_ERROR(RequireText(p.corrected_event_id(), "corrected.corrected_event_id",
                                  "name the event whose fields are corrected"));
      if (p.field_paths().empty()) {
        return absl::InvalidArgumentError(
            "corrected.field_paths is empty; list the fields that are corrected, e.g. "
            "\"personal_data.family_name\"");
      }
      if (!p.has_replacement()) return Missing("corrected.replacement", "carry the corrected values");
      return RequireText(p.reason(), "corrected.reason", "say why the data is corrected");
    }
    case Event::kSubjectErased:
      return RequireText(e.subject_erased().reason(), "subject_erased.reason", "say why the data is erased");
  }
  return absl::InvalidArgumentError("the event has an unknown payload");
}

absl::Status ApplyEvent(CaseState& s, const Event& e) {
  const std::string& type = EventTypeName(e);
  const absl::Time occurred = absl::FromUnixSeconds(e.envelope().occurred_at().seconds()) +
                              absl::Nanoseconds(e.envelope().occurred_at().nanos());
  const std::string& client = s.client_id;

  // Rules about the whole trajectory.
  if (s.erased) {
    return absl::FailedPreconditionError(absl::StrCat(
        "client ", client, "'s data was erased (SubjectErased); no event can follow an erasure"));
  }
  if (!s.has_intake && e.payload_case() != Event::kIntake) {
    return absl::FailedPreconditionError(
        absl::StrCat("client ", client, " has no intake; append an Intake first"));
  }
  if (s.has_intake && e.payload_case() == Event::kIntake) {
    return absl::FailedPreconditionError(absl::StrCat(
        "client ", client, " already has an intake (version ", s.intake_version,
        "); a client has one intake — use a Handover to move the case"));
  }
  if (s.terminated && e.payload_case() != Event::kCorrected &&
      e.payload_case() != Event::kSubjectErased) {
    return absl::FailedPreconditionError(absl::StrCat(
        "client ", client, " was terminated (beëindigd) at version ", s.terminated_version,
        "; after termination only a Corrected or SubjectErased event may follow, not ", type));
  }
  if (s.has_intake && occurred < s.intake_occurred_at) {
    return absl::FailedPreconditionError(absl::StrCat(
        "occurred_at ", FormatUtc(occurred), " lies before client ", client, "'s intake (",
        FormatUtc(s.intake_occurred_at), "); an event cannot happen before the intake"));
  }

  // Rules of each event type, then the fold. Hard rules return before the
  // state is touched.
  const absl::CivilDay day = DayOf(occurred);
  auto moment = [&](v1::ReportMomentKind kind, std::string detail) {
    ReportMomentState m;
    m.kind = kind;
    m.day = day;
    m.organisation = s.organisation;
    m.direction = s.plan_direction;
    m.detail = std::move(detail);
    m.goals_total = static_cast<int>(s.goals.size());
    m.goals_done = s.goals_done();
    s.report_moments.push_back(std::move(m));
  };
  auto contact = [&] {
    if (!s.last_contact.has_value() || *s.last_contact < day) s.last_contact = day;
  };
  auto set_goals = [&](const google::protobuf::RepeatedPtrField<v1::Goal>& goals) {
    std::vector<GoalState> next;
    for (const v1::Goal& g : goals) {
      GoalState goal{g.goal_id(), g.description(), ToCivilDay(g.deadline()), false};
      // A goal kept in a revised plan keeps its progress.
      for (const GoalState& old : s.goals) {
        if (old.goal_id == g.goal_id()) goal.done = old.done;
      }
      next.push_back(std::move(goal));
    }
    s.goals = std::move(next);
  };
  switch (e.payload_case()) {
    case Event::kIntake:
      s.has_intake = true;
      s.intake_version = s.version + 1;
      s.intake_occurred_at = occurred;
      s.track = e.intake().track();
      s.target_group = e.intake().target_group();
      s.organisation = e.intake().organisation();
      s.team = e.intake().team();
      s.location = e.intake().location();
      s.holders.push_back({day, s.organisation});
      contact();
      break;
    case Event::kScreeningCompleted:
      if (!s.screening_completed) {
        s.screening_completed = true;
        s.screening_day = day;
        s.milestones.insert(v1::MILESTONE_SCREENING_DONE);
        moment(v1::REPORT_MOMENT_START, "start begeleiding na screening");
      }
      break;
    case Event::kCaseworkerAssigned:
      s.begeleider = e.caseworker_assigned().begeleider();
      s.casemanager = e.caseworker_assigned().casemanager();
      if (!e.caseworker_assigned().team().empty()) s.team = e.caseworker_assigned().team();
      break;
    case Event::kPlanEstablished:
      if (s.has_plan) {
        return absl::FailedPreconditionError(absl::StrCat(
            "client ", client, " already has a perspectiefplan; append PlanRevised to change it"));
      }
      s.has_plan = true;
      s.plan_direction = e.plan_established().direction();
      s.plan_day = day;
      if (e.plan_established().has_planned_end()) {
        s.planned_end = ToCivilDay(e.plan_established().planned_end());
      }
      set_goals(e.plan_established().goals());
      moment(v1::REPORT_MOMENT_PLAN, "perspectiefplan vastgesteld");
      break;
    case Event::kPlanRevised:
      if (!s.has_plan) {
        return absl::FailedPreconditionError(absl::StrCat(
            "client ", client, " has no perspectiefplan yet; append PlanEstablished before PlanRevised"));
      }
      s.plan_direction = e.plan_revised().direction();
      s.plan_changed_day = day;
      if (e.plan_revised().has_planned_end()) {
        s.planned_end = ToCivilDay(e.plan_revised().planned_end());
      }
      set_goals(e.plan_revised().goals());
      moment(v1::REPORT_MOMENT_CHANGE, absl::StrCat("plan gewijzigd: ", e.plan_revised().reason()));
      break;
    case Event::kHandover: {
      const v1::Handover& h = e.handover();
      if (h.from_organisation() != s.organisation) {
        return absl::FailedPreconditionError(absl::StrCat(
            "handover.from_organisation is ", h.from_organisation(), " but client ", client,
            " is held by ", s.organisation, "; only the holding organisation can hand the case over"));
      }
      if (h.to_organisation() != s.organisation) {
        absl::CivilDay day = DayOf(occurred);
        if (!h.consent_reference().empty()) {
          auto it = s.consents.find(h.consent_reference());
          if (it == s.consents.end() || !it->second.Covers(h.to_organisation(), day)) {
            return absl::FailedPreconditionError(absl::StrCat(
                "handover of client ", client, " to ", h.to_organisation(),
                " refers to consent '", h.consent_reference(),
                "', which does not exist, was revoked, has expired or does not name ",
                h.to_organisation(), "; record a ConsentGranted naming ", h.to_organisation(),
                " first"));
          }
        } else if (!s.ConsentCovers(h.to_organisation(), day)) {
          return absl::FailedPreconditionError(absl::StrCat(
              "handover of client ", client, " to ", h.to_organisation(),
              " needs the client's consent to share with ", h.to_organisation(),
              "; record a ConsentGranted naming ", h.to_organisation(), " first"));
        }
      }
      const std::string from = s.organisation;
      s.organisation = h.to_organisation();
      s.team = h.to_team();
      if (!h.to_begeleider().empty()) s.begeleider = h.to_begeleider();
      ++s.handovers;
      if (s.organisation != from) s.holders.push_back({day, s.organisation});
      moment(v1::REPORT_MOMENT_CHANGE,
             absl::StrCat("overdracht ", from, " → ", s.organisation, ": ", h.reason()));
      break;
    }
    case Event::kConsentGranted: {
      const v1::ConsentGranted& c = e.consent_granted();
      if (s.consents.count(c.consent_id()) > 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "client ", client, " already has a consent with id '", c.consent_id(),
            "'; give a new consent a new id"));
      }
      ConsentState& consent = s.consents[c.consent_id()];
      consent.organisations.assign(c.organisations().begin(), c.organisations().end());
      consent.purpose = c.purpose();
      if (c.has_valid_until()) consent.valid_until = ToCivilDay(c.valid_until());
      break;
    }
    case Event::kConsentRevoked: {
      auto it = s.consents.find(e.consent_revoked().consent_id());
      if (it == s.consents.end()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "client ", client, " has no consent with id '", e.consent_revoked().consent_id(),
            "'; name a consent recorded with ConsentGranted"));
      }
      it->second.revoked = true;
      break;
    }
    case Event::kTerminated: {
      const v1::Terminated& t = e.terminated();
      if (t.decided_by_begeleider().empty() || t.decided_by_casemanager().empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "termination of client ", client,
            " needs both deciders: set terminated.decided_by_begeleider and "
            "terminated.decided_by_casemanager"));
      }
      s.terminated = true;
      s.terminated_version = s.version + 1;
      s.termination_reason = t.reason();
      s.end_day = t.has_effective_date() ? ToCivilDay(t.effective_date()) : day;
      moment(v1::REPORT_MOMENT_END, "beëindiging");
      s.report_moments.back().termination_reason = t.reason();
      s.report_moments.back().day = *s.end_day;
      break;
    }
    case Event::kCorrected:
      break;  // that it names an earlier event of this client: services/case_writer.h
    case Event::kSubjectErased:
      s.erased = true;
      break;
    case Event::kMilestoneCompleted: {
      const v1::MilestoneCompleted& m = e.milestone_completed();
      if (!m.goal_id().empty()) {
        auto goal = std::find_if(s.goals.begin(), s.goals.end(),
                                 [&](const GoalState& g) { return g.goal_id == m.goal_id(); });
        if (goal == s.goals.end()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "milestone_completed.goal_id '", m.goal_id(), "' is not a goal of client ", client,
              "'s current perspectiefplan; name one of its goals or leave goal_id empty"));
        }
        goal->done = true;
      }
      if (m.milestone() != 0) s.milestones.insert(m.milestone());
      break;
    }
    case Event::kAttendanceRegistered: {
      const v1::AttendanceRegistered& a = e.attendance_registered();
      AttendanceTally& q = s.attendance_by_quarter[QuarterOf(ToCivilDay(a.date()))];
      switch (a.attendance()) {
        case v1::ATTENDANCE_PRESENT:
          ++s.attendance.present;
          ++q.present;
          contact();
          break;
        case v1::ATTENDANCE_ABSENT_EXCUSED:
          ++s.attendance.absent_excused;
          ++q.absent_excused;
          break;
        default:
          ++s.attendance.absent_unexcused;
          ++q.absent_unexcused;
          break;
      }
      break;
    }
    case Event::kContactRecorded:
      contact();
      break;
    case Event::kEvaluationRecorded: {
      std::optional<absl::CivilDay> due = s.EvaluationDue();
      s.evaluations.push_back({day, due.value_or(day)});
      if (e.evaluation_recorded().has_next_evaluation()) {
        s.next_evaluation = ToCivilDay(e.evaluation_recorded().next_evaluation());
      } else {
        s.next_evaluation.reset();
      }
      break;
    }
    case Event::kExitConversationHeld:
      contact();
      if (e.exit_conversation_held().in_person()) s.exit_conversation_day = day;
      break;
    default:
      break;  // facts without state rules: return assessments, ...
  }
  ++s.version;
  return absl::OkStatus();
}

}  // namespace caseledger::projections
