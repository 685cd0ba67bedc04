#include "projections/caseload.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "projections/case_record.h"
#include "projections/event_mapping.h"
#include "storage/status_macros.h"

namespace caseledger::projections {
namespace {

constexpr char kCasePrefix[] = "c/";
constexpr char kBegeleiderPrefix[] = "b/";
constexpr char kTrackPrefix[] = "t/";

std::string CaseKey(absl::string_view client_id) { return absl::StrCat(kCasePrefix, client_id); }
std::string BegeleiderKey(absl::string_view org, absl::string_view begeleider) {
  return absl::StrCat(kBegeleiderPrefix, org, absl::string_view("\0", 1), begeleider);
}
std::string TrackKey(absl::string_view org, int track) {
  return absl::StrCat(kTrackPrefix, org, absl::string_view("\0", 1), track);
}

std::string Day(absl::CivilDay day) { return absl::FormatCivilTime(day); }

v1::Signal MakeSignal(const CaseState& s, v1::SignalKind kind, absl::CivilDay due,
                      std::string message) {
  v1::Signal signal;
  signal.set_kind(kind);
  signal.set_client_id(s.client_id);
  signal.set_organisation(s.organisation);
  signal.set_begeleider(s.begeleider);
  signal.set_track(s.track);
  *signal.mutable_due() = ToDate(due);
  signal.set_message(std::move(message));
  return signal;
}

absl::CivilDay TermEnd(const CaseState& s, const CaseloadPolicy& policy) {
  return AddMonths(s.intake_day(), policy.term_months);
}

// The day guidance ends as planned: the plan's end date, else the term's end.
absl::CivilDay PlannedEnd(const CaseState& s, const CaseloadPolicy& policy) {
  return s.planned_end.value_or(TermEnd(s, policy));
}

absl::Status AddCount(ProjectionState& state, const std::string& key, int delta) {
  CASELEDGER_ASSIGN_OR_RETURN(std::optional<std::string> value, state.Get(key));
  int64_t count = 0;
  if (value.has_value() && !absl::SimpleAtoi(*value, &count)) {
    return absl::DataLossError(absl::StrCat("caseload counter '", key, "' holds '", *value,
                                            "'; rebuild the caseload projection"));
  }
  count += delta;
  if (count <= 0) {
    state.Delete(key);
  } else {
    state.Put(key, absl::StrCat(count));
  }
  return absl::OkStatus();
}

// The counters a case contributes to while active.
std::vector<std::string> CounterKeys(const CaseState& s) {
  std::vector<std::string> keys;
  if (!s.active()) return keys;
  if (!s.begeleider.empty()) keys.push_back(BegeleiderKey(s.organisation, s.begeleider));
  keys.push_back(TrackKey(s.organisation, s.track));
  return keys;
}

}  // namespace

std::pair<int, int> CaseloadPolicy::FundedRange(v1::Track track) const {
  auto it = funded.find(track);
  return it == funded.end() ? std::pair<int, int>{0, 0} : it->second;
}

const std::vector<v1::Milestone>& ExpectedMilestones(v1::Track track) {
  static const auto* const kLegal = new std::vector<v1::Milestone>{
      v1::MILESTONE_SCREENING_DONE,     v1::MILESTONE_VVA_TAKEN,
      v1::MILESTONE_DOSSIER_ANALYSIS,   v1::MILESTONE_PERSPECTIVE_ANALYSIS,
      v1::MILESTONE_DOCUMENTS_DELIVERED, v1::MILESTONE_LAWYER_ENGAGED,
      v1::MILESTONE_APPLICATION_SUBMITTED};
  static const auto* const kFuture = new std::vector<v1::Milestone>{
      v1::MILESTONE_SCREENING_DONE, v1::MILESTONE_PERSPECTIVE_ANALYSIS,
      v1::MILESTONE_IDENTITY_DOCUMENTS, v1::MILESTONE_RETURN_OBSTACLES_REMOVED,
      v1::MILESTONE_REINTEGRATION_PLAN};
  static const auto* const kReturn = new std::vector<v1::Milestone>{
      v1::MILESTONE_SCREENING_DONE, v1::MILESTONE_IDENTITY_DOCUMENTS,
      v1::MILESTONE_RETURN_OBSTACLES_REMOVED, v1::MILESTONE_IOM_REGISTERED,
      v1::MILESTONE_REINTEGRATION_PLAN};
  static const auto* const kSocial = new std::vector<v1::Milestone>{
      v1::MILESTONE_SCREENING_DONE, v1::MILESTONE_MEDICAL_SCREENING,
      v1::MILESTONE_PERSPECTIVE_ANALYSIS};
  static const auto* const kNone = new std::vector<v1::Milestone>{};
  switch (track) {
    case v1::TRACK_LEGAL: return *kLegal;
    case v1::TRACK_FUTURE_ORIENTATION: return *kFuture;
    case v1::TRACK_RETURN: return *kReturn;
    case v1::TRACK_SOCIAL: return *kSocial;
    default: return *kNone;
  }
}

std::vector<v1::Signal> CaseSignals(const CaseState& s, absl::CivilDay today,
                                    const CaseloadPolicy& policy, const CaseloadCounts* counts) {
  std::vector<v1::Signal> out;
  if (!s.active()) return out;

  const absl::CivilDay intake = s.intake_day();
  if (!s.has_plan) {
    absl::CivilDay due = intake + 7 * policy.no_plan_weeks;
    if (today > due) {
      out.push_back(MakeSignal(s, v1::SIGNAL_NO_PLAN, due,
                               absl::StrCat("geen perspectiefplan ", policy.no_plan_weeks,
                                            " weken na de intake (", Day(intake), ")")));
    }
  }
  if (std::optional<absl::CivilDay> due = s.EvaluationDue(); due.has_value()) {
    if (today > *due) {
      out.push_back(MakeSignal(s, v1::SIGNAL_EVALUATION_OVERDUE, *due,
                               absl::StrCat("evaluatie te laat sinds ", Day(*due))));
    } else if (today >= *due - policy.evaluation_warn_days) {
      out.push_back(MakeSignal(s, v1::SIGNAL_EVALUATION_DUE, *due,
                               absl::StrCat("evaluatie gepland op ", Day(*due))));
    }
  }
  const absl::CivilDay term_end = TermEnd(s, policy);
  if (today > term_end) {
    out.push_back(MakeSignal(s, v1::SIGNAL_TERM_EXPIRED, term_end,
                             absl::StrCat("termijn van ", policy.term_months,
                                          " maanden verlopen op ", Day(term_end))));
  } else if (today >= term_end - 7 * policy.term_warn_weeks) {
    out.push_back(MakeSignal(s, v1::SIGNAL_TERM_EXPIRING, term_end,
                             absl::StrCat("termijn verloopt op ", Day(term_end))));
  }
  const absl::CivilDay end = PlannedEnd(s, policy);
  if (!s.exit_conversation_day.has_value() && today >= end - policy.exit_conversation_days) {
    out.push_back(MakeSignal(s, v1::SIGNAL_NO_EXIT_CONVERSATION, end,
                             absl::StrCat("geen persoonlijk eindgesprek; de begeleiding eindigt ",
                                          Day(end))));
  }
  if (s.last_contact.has_value() && today > *s.last_contact + policy.no_contact_days) {
    out.push_back(MakeSignal(s, v1::SIGNAL_NO_CONTACT, *s.last_contact + policy.no_contact_days,
                             absl::StrCat("geen contact sinds ", Day(*s.last_contact))));
  }
  for (const GoalState& goal : s.goals) {
    if (!goal.done && today > goal.deadline) {
      out.push_back(MakeSignal(s, v1::SIGNAL_GOAL_OVERDUE, goal.deadline,
                               absl::StrCat("doel ", goal.goal_id, " niet behaald op ",
                                            Day(goal.deadline))));
    }
  }
  if (counts != nullptr && !s.begeleider.empty()) {
    auto it = counts->begeleider.find({s.organisation, s.begeleider});
    int n = it == counts->begeleider.end() ? 0 : it->second;
    if (n > policy.begeleider_max_cases) {
      out.push_back(MakeSignal(s, v1::SIGNAL_BEGELEIDER_OVERLOADED, today,
                               absl::StrCat("begeleider ", s.begeleider, " heeft ", n,
                                            " lopende cases (meer dan ",
                                            policy.begeleider_max_cases, ")")));
    }
  }
  return out;
}

std::vector<v1::Signal> CaseloadSignals(const CaseloadCounts& counts, absl::string_view organisation,
                                        absl::string_view begeleider, absl::CivilDay today,
                                        const CaseloadPolicy& policy) {
  std::vector<v1::Signal> out;
  for (const auto& [key, n] : counts.begeleider) {
    if (key.first != organisation || n <= policy.begeleider_max_cases) continue;
    if (!begeleider.empty() && key.second != begeleider) continue;
    v1::Signal signal;
    signal.set_kind(v1::SIGNAL_BEGELEIDER_OVERLOADED);
    signal.set_organisation(key.first);
    signal.set_begeleider(key.second);
    *signal.mutable_due() = ToDate(today);
    signal.set_message(absl::StrCat("begeleider ", key.second, " heeft ", n,
                                    " lopende cases (meer dan ", policy.begeleider_max_cases, ")"));
    out.push_back(std::move(signal));
  }
  if (!begeleider.empty()) return out;
  for (const auto& [key, n] : counts.track) {
    const int maximum = policy.FundedRange(static_cast<v1::Track>(key.second)).second;
    if (key.first != organisation || maximum <= 0 || n <= maximum) continue;
    v1::Signal signal;
    signal.set_kind(v1::SIGNAL_TRACK_OVER_MAXIMUM);
    signal.set_organisation(key.first);
    signal.set_track(static_cast<v1::Track>(key.second));
    *signal.mutable_due() = ToDate(today);
    signal.set_message(absl::StrCat("traject ", v1::Track_Name(key.second), " heeft ", n,
                                    " lopende cases; gefinancierd maximum ", maximum));
    out.push_back(std::move(signal));
  }
  return out;
}

v1::CaseView ToCaseView(const CaseState& s, absl::CivilDay today, const CaseloadPolicy& policy,
                        const CaseloadCounts* counts) {
  v1::CaseView v;
  v.set_client_id(s.client_id);
  v.set_organisation(s.organisation);
  v.set_team(s.team);
  v.set_begeleider(s.begeleider);
  v.set_casemanager(s.casemanager);
  v.set_track(s.track);
  v.set_target_group(s.target_group);
  v.set_version(s.version);
  if (!s.has_intake) return v;

  const absl::CivilDay intake = s.intake_day();
  *v.mutable_intake_date() = ToDate(intake);
  v.set_status(s.erased ? v1::CASE_STATUS_ERASED
                        : s.terminated ? v1::CASE_STATUS_TERMINATED : v1::CASE_STATUS_ACTIVE);
  if (s.terminated) {
    v.set_phase(v1::PHASE_ENDED);
  } else if (s.has_plan) {
    v.set_phase(today >= PlannedEnd(s, policy) - policy.exit_conversation_days ? v1::PHASE_CLOSING
                                                                               : v1::PHASE_PLAN);
  } else {
    v.set_phase(s.screening_completed ? v1::PHASE_SCREENED : v1::PHASE_INTAKE);
  }
  absl::CivilDay until = s.end_day.has_value() ? std::min(*s.end_day, today) : today;
  v.set_days_in_trajectory(static_cast<int32_t>(std::max<absl::civil_diff_t>(0, until - intake)));
  v.set_plan_direction(s.plan_direction);
  for (const GoalState& g : s.goals) {
    v1::GoalView* goal = v.add_goals();
    goal->set_goal_id(g.goal_id);
    goal->set_description(g.description);
    *goal->mutable_deadline() = ToDate(g.deadline);
    goal->set_done(g.done);
  }
  v.set_goals_done(s.goals_done());
  v.set_goals_total(static_cast<int32_t>(s.goals.size()));
  const std::vector<v1::Milestone>& expected = ExpectedMilestones(s.track);
  v.set_milestones_expected(static_cast<int32_t>(expected.size()));
  v.set_milestones_done(static_cast<int32_t>(std::count_if(
      expected.begin(), expected.end(), [&](v1::Milestone m) { return s.milestones.count(m) > 0; })));
  for (int m : s.milestones) v.add_milestones(static_cast<v1::Milestone>(m));
  if (s.last_contact.has_value()) *v.mutable_last_contact() = ToDate(*s.last_contact);
  v.set_attendance_present(s.attendance.present);
  v.set_attendance_absent(s.attendance.absent_excused + s.attendance.absent_unexcused);
  v.set_handovers(s.handovers);
  if (s.planned_end.has_value()) *v.mutable_planned_end() = ToDate(*s.planned_end);
  if (std::optional<absl::CivilDay> due = s.EvaluationDue(); due.has_value()) {
    *v.mutable_next_evaluation() = ToDate(*due);
  }
  if (s.terminated) {
    v.set_termination_reason(s.termination_reason);
    if (s.end_day.has_value()) *v.mutable_end_date() = ToDate(*s.end_day);
  }

  if (s.active()) {
    // The next deadline: the earliest open goal, evaluation or end of guidance.
    std::vector<std::pair<absl::CivilDay, std::string>> deadlines;
    for (const GoalState& g : s.goals) {
      if (!g.done) deadlines.emplace_back(g.deadline, absl::StrCat("doel ", g.goal_id));
    }
    if (std::optional<absl::CivilDay> due = s.EvaluationDue(); due.has_value()) {
      deadlines.emplace_back(*due, "evaluatie");
    }
    if (s.planned_end.has_value()) deadlines.emplace_back(*s.planned_end, "geplande einddatum");
    deadlines.emplace_back(TermEnd(s, policy), "einde termijn");
    if (!s.has_plan) deadlines.emplace_back(intake + 7 * policy.no_plan_weeks, "perspectiefplan");
    auto next = std::min_element(deadlines.begin(), deadlines.end());
    *v.mutable_next_deadline() = ToDate(next->first);
    v.set_next_deadline_what(next->second);
  }
  for (v1::Signal& signal : CaseSignals(s, today, policy, counts)) {
    *v.add_signals() = std::move(signal);
  }
  return v;
}

std::string HolderOn(const CaseState& s, absl::CivilDay day) {
  std::string holder;
  for (const HoldingPeriod& period : s.holders) {
    if (period.from > day) break;
    holder = period.organisation;
  }
  return holder;
}

std::vector<v1::ReportMoment> ReportMoments(const CaseState& s, absl::CivilDay today) {
  std::vector<v1::ReportMoment> out;
  if (!s.has_intake) return out;
  auto add = [&](int kind, absl::CivilDay day, const std::string& org, v1::PlanDirection direction,
                 const std::string& detail, v1::TerminationReason reason, int total, int done) {
    v1::ReportMoment m;
    m.set_kind(static_cast<v1::ReportMomentKind>(kind));
    m.set_client_id(s.client_id);
    *m.mutable_date() = ToDate(day);
    m.set_organisation(org);
    m.set_track(s.track);
    m.set_target_group(s.target_group);
    m.set_plan_direction(direction);
    m.set_detail(detail);
    m.set_termination_reason(reason);
    m.set_goals_total(total);
    m.set_goals_done(done);
    out.push_back(std::move(m));
  };
  for (const ReportMomentState& m : s.report_moments) {
    if (m.day > today) continue;
    add(m.kind, m.day, m.organisation, m.direction, m.detail, m.termination_reason, m.goals_total,
        m.goals_done);
  }
  const absl::CivilDay start = s.screening_day.value_or(s.intake_day());
  const absl::CivilDay half_year = AddMonths(start, 6);
  if (half_year <= today && (!s.end_day.has_value() || half_year <= *s.end_day)) {
    // Goals reached by then are not kept per day; the moment shows the plan's
    // current progress.
    add(v1::REPORT_MOMENT_HALF_YEAR, half_year, HolderOn(s, half_year), s.plan_direction,
        "halfjaarlijkse voortgang", v1::TERMINATION_REASON_UNSPECIFIED,
        static_cast<int>(s.goals.size()), s.goals_done());
  }
  std::stable_sort(out.begin(), out.end(), [](const v1::ReportMoment& a, const v1::ReportMoment& b) {
    return std::make_tuple(a.date().year(), a.date().month(), a.date().day()) <
           std::make_tuple(b.date().year(), b.date().month(), b.date().day());
  });
  return out;
}

absl::StatusOr<std::pair<absl::CivilDay, absl::CivilDay>> ParseQuarter(absl::string_view quarter) {
  int year = 0;
  int q = 0;
  if (quarter.size() != 6 || (quarter[4] != 'Q' && quarter[4] != 'q') ||
      !absl::SimpleAtoi(quarter.substr(0, 4), &year) || !absl::SimpleAtoi(quarter.substr(5), &q) ||
      q < 1 || q > 4 || year < 1900) {
    return absl::InvalidArgumentError(absl::StrCat("quarter '", quarter,
                                                   "' is not a quarter; write it as YYYYQn, e.g. 2026Q3"));
  }
  absl::CivilDay first(year, 3 * (q - 1) + 1, 1);
  absl::CivilDay last = absl::CivilDay(absl::CivilMonth(first) + 3) - 1;
  return std::make_pair(first, last);
}

absl::StatusOr<v1::QuarterlyReport> BuildQuarterlyReport(const std::vector<CaseState>& cases,
                                                         absl::string_view organisation,
                                                         v1::Track track,
                                                         absl::string_view quarter,
                                                         const CaseloadPolicy& policy) {
  CASELEDGER_ASSIGN_OR_RETURN(auto range, ParseQuarter(quarter));
  const absl::CivilDay first = range.first;
  const absl::CivilDay last = range.second;
  auto in_quarter = [&](absl::CivilDay d) { return d >= first && d <= last; };
  const std::string quarter_name = QuarterOf(first);

  v1::QuarterlyReport r;
  r.set_organisation(std::string(organisation));
  r.set_track(track);
  r.set_quarter(quarter_name);
  *r.mutable_first_day() = ToDate(first);
  *r.mutable_last_day() = ToDate(last);
  auto [minimum, maximum] = policy.FundedRange(track);
  r.set_funded_minimum(minimum);
  r.set_funded_maximum(maximum);
  r.set_plan_term_weeks(policy.no_plan_weeks);
  std::map<int, int> by_reason;

  for (const CaseState& s : cases) {
    if (!s.has_intake || s.track != track) continue;
    const absl::CivilDay intake = s.intake_day();
    if (intake > last) continue;
    if (in_quarter(intake) && HolderOn(s, intake) == organisation) r.set_inflow(r.inflow() + 1);
    const bool ended_before_end = s.end_day.has_value() && *s.end_day <= last;
    if (s.end_day.has_value() && in_quarter(*s.end_day) && HolderOn(s, *s.end_day) == organisation) {
      r.set_outflow(r.outflow() + 1);
      ++by_reason[s.termination_reason];
    }
    if (!ended_before_end && HolderOn(s, last) == organisation) {
      r.set_active_at_end(r.active_at_end() + 1);
    }
    if (s.plan_day.has_value() && in_quarter(*s.plan_day) &&
        HolderOn(s, *s.plan_day) == organisation) {
      r.set_plans_established(r.plans_established() + 1);
      if (*s.plan_day - intake <= 7 * policy.no_plan_weeks) {
        r.set_plans_within_term(r.plans_within_term() + 1);
      }
    }
    for (const EvaluationState& e : s.evaluations) {
      if (!in_quarter(e.held) || HolderOn(s, e.held) != organisation) continue;
      r.set_evaluations(r.evaluations() + 1);
      if (e.held <= e.due) r.set_evaluations_on_time(r.evaluations_on_time() + 1);
    }
    auto tally = s.attendance_by_quarter.find(quarter_name);
    const absl::CivilDay attributed = ended_before_end ? *s.end_day : last;
    if (tally != s.attendance_by_quarter.end() && HolderOn(s, attributed) == organisation) {
      r.set_attendance_present(r.attendance_present() + tally->second.present);
      r.set_attendance_absent_excused(r.attendance_absent_excused() + tally->second.absent_excused);
      r.set_attendance_absent_unexcused(r.attendance_absent_unexcused() +
                                        tally->second.absent_unexcused);
    }
  }
  for (const auto& [reason, count] : by_reason) {
    v1::TerminationCount* c = r.add_outflow_by_reason();
    c->set_reason(static_cast<v1::TerminationReason>(reason));
    c->set_count(count);
  }
  return r;
}

// ---------------------------------------------------------------------------
// CaseloadProjection
// ---------------------------------------------------------------------------

absl::Status CaseloadProjection::Apply(const storage::RecordedEvent& recorded,
                                       ProjectionState& state) {
  auto [it, fresh] = cases_.try_emplace(recorded.stream_id);
  CaseState& s = it->second;
  if (fresh) {
    CASELEDGER_ASSIGN_OR_RETURN(std::optional<std::string> stored, state.Get(CaseKey(recorded.stream_id)));
    if (stored.has_value()) {
      CASELEDGER_ASSIGN_OR_RETURN(s, DecodeCaseState(*stored));
    } else {
      s.client_id = recorded.stream_id;
    }
  }
  if (recorded.stream_version != s.version + 1) {
    return absl::DataLossError(absl::StrCat(
        "caseload: event ", recorded.global_position, " is version ", recorded.stream_version,
        " of client ", recorded.stream_id, " but the projection holds version ", s.version,
        "; rebuild the caseload projection"));
  }
  CASELEDGER_ASSIGN_OR_RETURN(v1::Event event, FromRecordedEvent(recorded, false));
  std::vector<std::string> old_keys = CounterKeys(s);
  // On error ApplyEvent leaves the state as it was; the batch is abandoned.
  absl::Status applied = ApplyEvent(s, event);
  if (!applied.ok()) {
    return absl::DataLossError(absl::StrCat("caseload: stored event ", recorded.global_position,
                                            " of client ", recorded.stream_id,
                                            " breaks the case rules: ", applied.message()));
  }
  std::vector<std::string> new_keys = CounterKeys(s);
  if (old_keys != new_keys) {
    for (std::string& k : old_keys) --counter_changes_[std::move(k)];
    for (std::string& k : new_keys) ++counter_changes_[std::move(k)];
  }
  return absl::OkStatus();
}

absl::Status CaseloadProjection::FinishBatch(ProjectionState& state) {
  for (const auto& [client_id, s] : cases_) state.Put(CaseKey(client_id), EncodeCaseState(s));
  for (const auto& [key, change] : counter_changes_) {
    if (change != 0) CASELEDGER_RETURN_IF_ERROR(AddCount(state, key, change));
  }
  AbandonBatch();
  return absl::OkStatus();
}

void CaseloadProjection::AbandonBatch() {
  cases_.clear();
  counter_changes_.clear();
}

// ---------------------------------------------------------------------------
// CaseloadReader
// ---------------------------------------------------------------------------

absl::StatusOr<CaseState> CaseloadReader::Get(absl::string_view client_id) const {
  CASELEDGER_ASSIGN_OR_RETURN(std::optional<std::string> stored, worker_->Get(CaseKey(client_id)));
  if (!stored.has_value()) {
    return absl::NotFoundError(absl::StrCat("client ", client_id, " has no case in the caseload"));
  }
  return DecodeCaseState(*stored);
}

absl::StatusOr<std::vector<CaseState>> CaseloadReader::List(
    absl::string_view start_after, size_t limit, const std::function<bool(const CaseState&)>& keep,
    std::string* last_scanned, bool* exhausted) const {
  // At most this many records are examined per call, so a selective filter
  // over a large caseload returns a short page (with a token) rather than
  // holding the call.
  constexpr size_t kScanBudget = 20000;
  constexpr size_t kChunk = 256;
  std::vector<CaseState> out;
  std::string after = start_after.empty() ? "" : CaseKey(start_after);
  size_t scanned = 0;
  *exhausted = false;
  last_scanned->assign(start_after.data(), start_after.size());
  while (out.size() < limit && scanned < kScanBudget) {
    CASELEDGER_ASSIGN_OR_RETURN(auto chunk, worker_->Scan(kCasePrefix, after, kChunk));
    for (const auto& [key, value] : chunk) {
      ++scanned;
      after = key;
      *last_scanned = key.substr(sizeof(kCasePrefix) - 1);
      CASELEDGER_ASSIGN_OR_RETURN(CaseState s, DecodeCaseState(value));
      if (keep(s)) {
        out.push_back(std::move(s));
        if (out.size() == limit) break;
      }
    }
    const bool consumed = chunk.empty() || after == chunk.back().first;
    if (chunk.size() < kChunk && consumed) {
      *exhausted = true;  // nothing after the last record examined
      break;
    }
  }
  return out;
}

absl::StatusOr<std::vector<CaseState>> CaseloadReader::All(
    const std::function<bool(const CaseState&)>& keep) const {
  std::vector<CaseState> out;
  std::string after;
  while (true) {
    CASELEDGER_ASSIGN_OR_RETURN(auto chunk, worker_->Scan(kCasePrefix, after, 1024));
    for (const auto& [key, value] : chunk) {
      CASELEDGER_ASSIGN_OR_RETURN(CaseState s, DecodeCaseState(value));
      if (keep(s)) out.push_back(std::move(s));
    }
    if (chunk.size() < 1024) return out;
    after = chunk.back().first;
  }
}

absl::StatusOr<CaseloadCounts> CaseloadReader::Counts() const {
  CaseloadCounts counts;
  for (const char* prefix : {kBegeleiderPrefix, kTrackPrefix}) {
    std::string after;
    while (true) {
      CASELEDGER_ASSIGN_OR_RETURN(auto chunk, worker_->Scan(prefix, after, 1024));
      for (const auto& [key, value] : chunk) {
        int n = 0;
        if (!absl::SimpleAtoi(value, &n)) {
          return absl::DataLossError(absl::StrCat("caseload counter holds '", value,
                                                  "'; rebuild the caseload projection"));
        }
        absl::string_view rest(key);
        rest.remove_prefix(2);
        size_t zero = rest.find('\0');
        if (zero == absl::string_view::npos) {
          return absl::DataLossError("a caseload counter key has no separator; rebuild the caseload projection");
        }
        std::string org(rest.substr(0, zero));
        absl::string_view second = rest.substr(zero + 1);
        if (prefix == kBegeleiderPrefix) {
          counts.begeleider[{org, std::string(second)}] = n;
        } else {
          int track = 0;
          if (!absl::SimpleAtoi(second, &track)) {
            return absl::DataLossError("a caseload track counter key is malformed; rebuild the caseload projection");
          }
          counts.track[{org, track}] = n;
        }
      }
      if (chunk.size() < 1024) break;
      after = chunk.back().first;
    }
  }
  return counts;
}

}  // namespace caseledger::projections
