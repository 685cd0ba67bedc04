#include "projections/case_record.h"

#include "absl/strings/str_cat.h"
#include "caseledger/internal/case_record.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace caseledger::projections {
namespace {

using internal::CaseRecord;

int32_t PackDay(absl::CivilDay day) {
  return static_cast<int32_t>(day.year() * 10000 + day.month() * 100 + day.day());
}
int32_t PackDay(const std::optional<absl::CivilDay>& day) { return day ? PackDay(*day) : 0; }
absl::CivilDay UnpackDay(int32_t packed) {
  return absl::CivilDay(packed / 10000, packed / 100 % 100, packed % 100);
}
std::optional<absl::CivilDay> UnpackOptionalDay(int32_t packed) {
  if (packed == 0) return std::nullopt;
  return UnpackDay(packed);
}

void EncodeTally(const std::string& quarter, const AttendanceTally& t,
                 internal::AttendanceRecord* r) {
  r->set_quarter(quarter);
  r->set_present(t.present);
  r->set_absent_excused(t.absent_excused);
  r->set_absent_unexcused(t.absent_unexcused);
}

AttendanceTally DecodeTally(const internal::AttendanceRecord& r) {
  return AttendanceTally{r.present(), r.absent_excused(), r.absent_unexcused()};
}

}  // namespace

std::string EncodeCaseState(const CaseState& s) {
  CaseRecord r;
  r.set_client_id(s.client_id);
  r.set_version(s.version);
  r.set_has_intake(s.has_intake);
  r.set_intake_version(s.intake_version);
  if (s.has_intake) r.set_intake_occurred_at_micros(absl::ToUnixMicros(s.intake_occurred_at));
  r.set_track(s.track);
  r.set_target_group(s.target_group);
  r.set_organisation(s.organisation);
  r.set_team(s.team);
  r.set_begeleider(s.begeleider);
  r.set_casemanager(s.casemanager);
  r.set_screening_completed(s.screening_completed);
  r.set_has_plan(s.has_plan);
  r.set_plan_direction(s.plan_direction);
  r.set_terminated(s.terminated);
  r.set_terminated_version(s.terminated_version);
  r.set_termination_reason(s.termination_reason);
  r.set_erased(s.erased);
  for (const auto& [id, c] : s.consents) {
    internal::ConsentRecord* cr = r.add_consents();
    cr->set_consent_id(id);
    for (const std::string& org : c.organisations) cr->add_organisations(org);
    cr->set_purpose(c.purpose);
    cr->set_valid_until(PackDay(c.valid_until));
    cr->set_revoked(c.revoked);
  }
  r.set_location(s.location);
  r.set_screening_day(PackDay(s.screening_day));
  r.set_plan_day(PackDay(s.plan_day));
  r.set_plan_changed_day(PackDay(s.plan_changed_day));
  r.set_planned_end(PackDay(s.planned_end));
  for (const GoalState& g : s.goals) {
    internal::GoalRecord* gr = r.add_goals();
    gr->set_goal_id(g.goal_id);
    gr->set_description(g.description);
    gr->set_deadline(PackDay(g.deadline));
    gr->set_done(g.done);
  }
  for (int m : s.milestones) r.add_milestones(m);
  r.set_last_contact(PackDay(s.last_contact));
  EncodeTally("", s.attendance, r.add_attendance());
  for (const auto& [quarter, tally] : s.attendance_by_quarter) {
    EncodeTally(quarter, tally, r.add_attendance());
  }
  r.set_handovers(s.handovers);
  for (const HoldingPeriod& h : s.holders) {
    internal::HoldingRecord* hr = r.add_holders();
    hr->set_from(PackDay(h.from));
    hr->set_organisation(h.organisation);
  }
  for (const EvaluationState& e : s.evaluations) {
    internal::EvaluationRecord* er = r.add_evaluations();
    er->set_held(PackDay(e.held));
    er->set_due(PackDay(e.due));
  }
  r.set_next_evaluation(PackDay(s.next_evaluation));
  r.set_exit_conversation_day(PackDay(s.exit_conversation_day));
  r.set_end_day(PackDay(s.end_day));
  for (const ReportMomentState& m : s.report_moments) {
    internal::ReportMomentRecord* mr = r.add_report_moments();
    mr->set_kind(m.kind);
    mr->set_day(PackDay(m.day));
    mr->set_organisation(m.organisation);
    mr->set_direction(m.direction);
    mr->set_detail(m.detail);
    mr->set_termination_reason(m.termination_reason);
    mr->set_goals_total(m.goals_total);
    mr->set_goals_done(m.goals_done);
  }

  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    r.SerializeToCodedStream(&coded);
  }
  return bytes;
}

absl::StatusOr<CaseState> DecodeCaseState(absl::string_view bytes) {
  CaseRecord r;
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("a stored case record does not parse; rebuild the caseload projection");
  }
  CaseState s;
  s.client_id = r.client_id();
  s.version = r.version();
  s.has_intake = r.has_intake();
  s.intake_version = r.intake_version();
  if (s.has_intake) s.intake_occurred_at = absl::FromUnixMicros(r.intake_occurred_at_micros());
  s.track = static_cast<v1::Track>(r.track());
  s.target_group = static_cast<v1::TargetGroup>(r.target_group());
  s.organisation = r.organisation();
  s.team = r.team();
  s.begeleider = r.begeleider();
  s.casemanager = r.casemanager();
  s.screening_completed = r.screening_completed();
  s.has_plan = r.has_plan();
  s.plan_direction = static_cast<v1::PlanDirection>(r.plan_direction());
  s.terminated = r.terminated();
  s.terminated_version = r.terminated_version();
  s.termination_reason = static_cast<v1::TerminationReason>(r.termination_reason());
  s.erased = r.erased();
  for (const internal::ConsentRecord& cr : r.consents()) {
    ConsentState& c = s.consents[cr.consent_id()];
    c.organisations.assign(cr.organisations().begin(), cr.organisations().end());
    c.purpose = cr.purpose();
    c.valid_until = UnpackOptionalDay(cr.valid_until());
    c.revoked = cr.revoked();
  }
  s.location = r.location();
  s.screening_day = UnpackOptionalDay(r.screening_day());
  s.plan_day = UnpackOptionalDay(r.plan_day());
  s.plan_changed_day = UnpackOptionalDay(r.plan_changed_day());
  s.planned_end = UnpackOptionalDay(r.planned_end());
  for (const internal::GoalRecord& g : r.goals()) {
    s.goals.push_back({g.goal_id(), g.description(), UnpackDay(g.deadline()), g.done()});
  }
  s.milestones.insert(r.milestones().begin(), r.milestones().end());
  s.last_contact = UnpackOptionalDay(r.last_contact());
  for (const internal::AttendanceRecord& a : r.attendance()) {
    if (a.quarter().empty()) {
      s.attendance = DecodeTally(a);
    } else {
      s.attendance_by_quarter[a.quarter()] = DecodeTally(a);
    }
  }
  s.handovers = r.handovers();
  for (const internal::HoldingRecord& h : r.holders()) {
    s.holders.push_back({UnpackDay(h.from()), h.organisation()});
  }
  for (const internal::EvaluationRecord& e : r.evaluations()) {
    s.evaluations.push_back({UnpackDay(e.held()), UnpackDay(e.due())});
  }
  s.next_evaluation = UnpackOptionalDay(r.next_evaluation());
  s.exit_conversation_day = UnpackOptionalDay(r.exit_conversation_day());
  s.end_day = UnpackOptionalDay(r.end_day());
  for (const internal::ReportMomentRecord& mr : r.report_moments()) {
    ReportMomentState m;
    m.kind = mr.kind();
    m.day = UnpackDay(mr.day());
    m.organisation = mr.organisation();
    m.direction = static_cast<v1::PlanDirection>(mr.direction());
    m.detail = mr.detail();
    m.termination_reason = static_cast<v1::TerminationReason>(mr.termination_reason());
    m.goals_total = mr.goals_total();
    m.goals_done = mr.goals_done();
    s.report_moments.push_back(std::move(m));
  }
  return s;
}

}  // namespace caseledger::projections
