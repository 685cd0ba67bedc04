// Builders for well-formed events of every kind, for tests. Each returns an
// event that passes ValidateEvent; tests then break one field at a time.
#ifndef CASELEDGER_TESTS_EVENT_BUILDERS_H_
#define CASELEDGER_TESTS_EVENT_BUILDERS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "caseledger/v1/events.pb.h"

namespace caseledger::testing {

// 2026-03-02T09:00:00Z plus `days`.
inline absl::Time Day(int days) {
  return absl::FromCivil(absl::CivilSecond(2026, 3, 2, 9, 0, 0), absl::UTCTimeZone()) +
         absl::Hours(24 * days);
}

inline v1::Event Base(const std::string& id, int day) {
  v1::Event e;
  e.mutable_envelope()->set_event_id(id);
  e.mutable_envelope()->mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(Day(day)));
  e.mutable_envelope()->set_correlation_id("test");
  return e;
}

inline v1::Date MakeDate(int y, int m, int d) {
  v1::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

inline v1::Event IntakeEvent(const std::string& id, const std::string& organisation, int day = 0) {
  v1::Event e = Base(id, day);
  v1::Intake* p = e.mutable_intake();
  p->set_track(v1::TRACK_LEGAL);
  p->set_target_group(v1::TARGET_GROUP_REJECTED_ASYLUM);
  p->set_organisation(organisation);
  p->set_location("LVV Amsterdam-West");
  p->set_legal_basis("AVG art. 6(1)(e); LVV-convenant");
  p->set_team("team-west");
  v1::PersonalData* pd = e.mutable_personal_data();
  pd->set_given_names("Amina");
  pd->set_family_name("Testpersoon");
  *pd->mutable_birth_date() = MakeDate(1990, 5, 17);
  pd->set_v_number("V1234567890");
  return e;
}

inline v1::Event ScreeningEvent(const std::string& id, int day = 1) {
  v1::Event e = Base(id, day);
  e.mutable_screening_completed()->set_legal_perspective(true);
  return e;
}

inline v1::Event AssignEvent(const std::string& id, int day = 2) {
  v1::Event e = Base(id, day);
  e.mutable_caseworker_assigned()->set_begeleider("begeleider-1");
  e.mutable_caseworker_assigned()->set_casemanager("casemanager-1");
  return e;
}

inline v1::Event PlanEvent(const std::string& id, int day = 10) {
  v1::Event e = Base(id, day);
  v1::PlanEstablished* p = e.mutable_plan_established();
  p->set_direction(v1::PLAN_DIRECTION_NETHERLANDS);
  v1::Goal* g = p->add_goals();
  g->set_goal_id("g1");
  g->set_description("Dossieranalyse afronden");
  *g->mutable_deadline() = MakeDate(2026, 6, 1);
  p->add_agreed_by("begeleider-1");
  p->add_agreed_by("casemanager-1");
  p->set_client_agreed(true);
  return e;
}

inline v1::Event PlanRevisedEvent(const std::string& id, int day = 40) {
  v1::Event e = Base(id, day);
  v1::PlanRevised* p = e.mutable_plan_revised();
  p->set_direction(v1::PLAN_DIRECTION_RETURN);
  v1::Goal* g = p->add_goals();
  g->set_goal_id("g2");
  g->set_description("Terugkeermogelijkheden onderzoeken");
  *g->mutable_deadline() = MakeDate(2026, 9, 1);
  p->set_reason("Geen juridisch perspectief");
  p->add_agreed_by("casemanager-1");
  return e;
}

inline v1::Event ConsentEvent(const std::string& id, const std::string& consent_id,
                              std::vector<std::string> organisations, int day = 20) {
  v1::Event e = Base(id, day);
  v1::ConsentGranted* p = e.mutable_consent_granted();
  p->set_consent_id(consent_id);
  for (const auto& o : organisations) p->add_organisations(o);
  p->set_purpose("overdracht toekomstoriëntatie");
  return e;
}

inline v1::Event RevokeEvent(const std::string& id, const std::string& consent_id, int day = 25) {
  v1::Event e = Base(id, day);
  e.mutable_consent_revoked()->set_consent_id(consent_id);
  e.mutable_consent_revoked()->set_reason("cliënt trekt toestemming in");
  return e;
}

inline v1::Event HandoverEvent(const std::string& id, const std::string& from, const std::string& to,
                               const std::string& consent_reference = "", int day = 30) {
  v1::Event e = Base(id, day);
  v1::Handover* p = e.mutable_handover();
  p->set_from_organisation(from);
  p->set_to_organisation(to);
  p->set_to_team("team-toekomst");
  p->set_to_begeleider("begeleider-9");
  p->set_reason("Toekomstoriëntatie");
  p->set_consent_reference(consent_reference);
  return e;
}

inline v1::Event AttendanceEvent(const std::string& id, int day = 15) {
  v1::Event e = Base(id, day);
  v1::AttendanceRegistered* p = e.mutable_attendance_registered();
  p->set_activity(v1::ACTIVITY_INFORMATION_MEETING);
  *p->mutable_date() = MakeDate(2026, 3, 17);
  p->set_attendance(v1::ATTENDANCE_PRESENT);
  return e;
}

inline v1::Event TerminatedEvent(const std::string& id, int day = 200) {
  v1::Event e = Base(id, day);
  v1::Terminated* p = e.mutable_terminated();
  p->set_reason(v1::TERMINATION_REASON_GOALS_REACHED);
  p->set_decided_by_begeleider("begeleider-1");
  p->set_decided_by_casemanager("casemanager-1");
  *p->mutable_effective_date() = MakeDate(2026, 9, 18);
  return e;
}

inline v1::Event CorrectedEvent(const std::string& id, const std::string& corrected_id, int day = 201) {
  v1::Event e = Base(id, day);
  v1::Corrected* p = e.mutable_corrected();
  p->set_corrected_event_id(corrected_id);
  p->add_field_paths("personal_data.family_name");
  p->mutable_replacement()->mutable_personal_data()->set_family_name("Test-Persoon");
  p->set_reason("Spelfout in achternaam");
  return e;
}

// One of every other kind, valid after an intake: milestone, contact,
// evaluation, exit conversation, return assessment.
inline std::vector<v1::Event> OtherFacts(const std::string& prefix, int day = 50) {
  std::vector<v1::Event> out;
  v1::Event m = Base(prefix + "-milestone", day);
  m.mutable_milestone_completed()->set_milestone(v1::MILESTONE_VVA_TAKEN);
  out.push_back(m);
  v1::Event c = Base(prefix + "-contact", day);
  c.mutable_contact_recorded()->set_kind(v1::CONTACT_KIND_IN_PERSON);
  out.push_back(c);
  v1::Event ev = Base(prefix + "-evaluation", day);
  ev.mutable_evaluation_recorded()->set_outcome(v1::EVALUATION_OUTCOME_ON_TRACK);
  out.push_back(ev);
  v1::Event x = Base(prefix + "-exit", day);
  x.mutable_exit_conversation_held()->set_in_person(true);
  out.push_back(x);
  v1::Event r = Base(prefix + "-return", day);
  r.mutable_return_assessment_recorded()->set_return_feasible(false);
  out.push_back(r);
  return out;
}

}  // namespace caseledger::testing

#endif  // CASELEDGER_TESTS_EVENT_BUILDERS_H_
