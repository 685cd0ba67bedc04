// The caseload: what the fold records for the views, every signal on both
// sides of its threshold, every report moment, the quarterly report, and the
// projection (rebuild equals incremental; a restart neither loses nor double
// counts).
#include "projections/caseload.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "projections/case_record.h"
#include "projections/event_mapping.h"
#include "tests/event_builders.h"
#include "tests/test_util.h"
#include "tools/demo_caseload.h"

namespace caseledger::projections {
namespace {

using testing::Base;
using testing::MakeDate;

// Folds `events` (versions assigned in order); every one must apply.
CaseState Fold(const std::vector<v1::Event>& events, const std::string& client = "c-1") {
  CaseState s;
  s.client_id = client;
  for (v1::Event e : events) {
    e.mutable_envelope()->set_client_id(client);
    e.mutable_envelope()->set_stream_version(s.version + 1);
    absl::Status st = ApplyEvent(s, e);
    EXPECT_TRUE(st.ok()) << st;
  }
  return s;
}

v1::Event Milestone(const std::string& id, int day, v1::Milestone m, const std::string& goal = "") {
  v1::Event e = Base(id, day);
  e.mutable_milestone_completed()->set_milestone(m);
  e.mutable_milestone_completed()->set_goal_id(goal);
  return e;
}

v1::Event Contact(const std::string& id, int day) {
  v1::Event e = Base(id, day);
  e.mutable_contact_recorded()->set_kind(v1::CONTACT_KIND_PHONE);
  e.mutable_contact_recorded()->set_subject("voortgang");
  return e;
}

v1::Event Evaluation(const std::string& id, int day, std::optional<v1::Date> next = std::nullopt) {
  v1::Event e = Base(id, day);
  e.mutable_evaluation_recorded()->set_outcome(v1::EVALUATION_OUTCOME_ON_TRACK);
  e.mutable_evaluation_recorded()->set_summary("op koers");
  if (next) *e.mutable_evaluation_recorded()->mutable_next_evaluation() = *next;
  return e;
}

v1::Event Exit(const std::string& id, int day, bool in_person) {
  v1::Event e = Base(id, day);
  e.mutable_exit_conversation_held()->set_in_person(in_person);
  e.mutable_exit_conversation_held()->set_outcome("hoe nu verder besproken");
  return e;
}

v1::Event Attendance(const std::string& id, int day, v1::Date date, v1::Attendance a) {
  v1::Event e = Base(id, day);
  e.mutable_attendance_registered()->set_activity(v1::ACTIVITY_TRAINING);
  *e.mutable_attendance_registered()->mutable_date() = date;
  e.mutable_attendance_registered()->set_attendance(a);
  return e;
}

v1::Event PlanWithEnd(const std::string& id, int day, v1::Date end) {
  v1::Event e = testing::PlanEvent(id, day);
  *e.mutable_plan_established()->mutable_planned_end() = end;
  return e;
}

// The intake (2026-03-02), screening (03-03), assignment (03-04) and a plan
// on 03-12 with goal g1 due 2026-06-01.
std::vector<v1::Event> PlannedCase() {
  return {testing::IntakeEvent("i", "vluchtelingenwerk", 0), testing::ScreeningEvent("s", 1),
          testing::AssignEvent("a", 2), testing::PlanEvent("p", 10)};
}

absl::CivilDay D(int y, int m, int d) { return absl::CivilDay(y, m, d); }

bool Has(const std::vector<v1::Signal>& signals, v1::SignalKind kind) {
  return std::any_of(signals.begin(), signals.end(),
                     [&](const v1::Signal& s) { return s.kind() == kind; });
}

const CaseloadPolicy kPolicy;

// ---------------------------------------------------------------------------
// The fold records what the views need.
// ---------------------------------------------------------------------------

TEST(CaseFoldTest, RecordsGoalsMilestonesContactsAttendanceAndHandovers) {
  std::vector<v1::Event> events = PlannedCase();
  events.push_back(Milestone("m1", 12, v1::MILESTONE_VVA_TAKEN));
  events.push_back(Milestone("m2", 13, v1::MILESTONE_UNSPECIFIED, "g1"));
  events.push_back(Attendance("at1", 14, MakeDate(2026, 3, 16), v1::ATTENDANCE_PRESENT));
  events.push_back(Attendance("at2", 40, MakeDate(2026, 4, 9), v1::ATTENDANCE_ABSENT_UNEXCUSED));
  events.push_back(Contact("ct", 45));
  events.push_back(testing::ConsentEvent("cg", "k1", {"goedwerk"}, 46));
  events.push_back(testing::HandoverEvent("h", "vluchtelingenwerk", "goedwerk", "k1", 50));
  CaseState s = Fold(events);

  ASSERT_EQ(s.goals.size(), 1u);
  EXPECT_TRUE(s.goals[0].done);
  EXPECT_EQ(s.milestones, (std::set<int>{v1::MILESTONE_SCREENING_DONE, v1::MILESTONE_VVA_TAKEN}));
  EXPECT_EQ(s.last_contact, D(2026, 4, 16));
  EXPECT_EQ(s.attendance.present, 1);
  EXPECT_EQ(s.attendance.absent_unexcused, 1);
  EXPECT_EQ(s.attendance_by_quarter["2026Q1"].present, 1);
  EXPECT_EQ(s.attendance_by_quarter["2026Q2"].absent_unexcused, 1);
  EXPECT_EQ(s.handovers, 1);
  EXPECT_EQ(HolderOn(s, D(2026, 4, 20)), "vluchtelingenwerk");
  EXPECT_EQ(HolderOn(s, D(2026, 4, 21)), "goedwerk");
  EXPECT_EQ(s.plan_day, D(2026, 3, 12));
  EXPECT_EQ(s.EvaluationDue(), D(2026, 9, 12));

  v1::CaseView v = ToCaseView(s, D(2026, 4, 22), kPolicy);
  EXPECT_EQ(v.organisation(), "goedwerk");
  EXPECT_EQ(v.phase(), v1::PHASE_PLAN);
  EXPECT_EQ(v.status(), v1::CASE_STATUS_ACTIVE);
  EXPECT_EQ(v.days_in_trajectory(), 51);
  EXPECT_EQ(v.goals_done(), 1);
  EXPECT_EQ(v.goals_total(), 1);
  EXPECT_EQ(v.milestones_done(), 2);
  EXPECT_EQ(v.milestones_expected(), 7);  // the legal track's checklist
  EXPECT_EQ(v.attendance_present(), 1);
  EXPECT_EQ(v.attendance_absent(), 1);
  EXPECT_EQ(v.next_deadline_what(), "evaluatie");
  EXPECT_EQ(v.next_deadline().month(), 9);
}

TEST(CaseFoldTest, AGoalIdMustNameAGoalOfTheCurrentPlanAndNothingChangesOtherwise) {
  CaseState s = Fold(PlannedCase());
  const std::string before = EncodeCaseState(s);
  v1::Event e = Milestone("m", 12, v1::MILESTONE_UNSPECIFIED, "g9");
  e.mutable_envelope()->set_client_id("c-1");
  ASSERT_TRUE(ValidateEvent(e).ok());
  absl::Status st = ApplyEvent(s, e);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("g9"), absl::string_view::npos) << st;
  EXPECT_EQ(EncodeCaseState(s), before);

  v1::Event neither = Milestone("m", 12, v1::MILESTONE_UNSPECIFIED, "");
  EXPECT_EQ(ValidateEvent(neither).code(), absl::StatusCode::kInvalidArgument);
}

TEST(CaseFoldTest, ARevisedPlanKeepsTheProgressOfGoalsItKeeps) {
  std::vector<v1::Event> events = PlannedCase();
  events.push_back(Milestone("m", 12, v1::MILESTONE_UNSPECIFIED, "g1"));
  v1::Event revised = testing::PlanRevisedEvent("r", 40);
  v1::Goal* kept = revised.mutable_plan_revised()->add_goals();
  kept->set_goal_id("g1");
  kept->set_description("Dossieranalyse afronden");
  *kept->mutable_deadline() = MakeDate(2026, 6, 1);
  events.push_back(revised);
  CaseState s = Fold(events);
  ASSERT_EQ(s.goals.size(), 2u);
  EXPECT_EQ(s.goals_done(), 1);
  EXPECT_EQ(s.plan_direction, v1::PLAN_DIRECTION_RETURN);
}

TEST(CaseRecordTest, EncodeDecodeIsLosslessAndDeterministic) {
  std::vector<v1::Event> events = PlannedCase();
  events.push_back(Milestone("m", 12, v1::MILESTONE_VVA_TAKEN, "g1"));
  events.push_back(Attendance("at", 14, MakeDate(2026, 3, 16), v1::ATTENDANCE_ABSENT_EXCUSED));
  events.push_back(Evaluation("ev", 30, MakeDate(2026, 7, 1)));
  events.push_back(testing::ConsentEvent("cg", "k1", {"goedwerk", "askv"}, 46));
  events.push_back(testing::RevokeEvent("cr", "k1", 47));
  events.push_back(Exit("x", 48, true));
  events.push_back(testing::TerminatedEvent("t", 200));
  CaseState s = Fold(events);
  const std::string bytes = EncodeCaseState(s);
  absl::StatusOr<CaseState> back = DecodeCaseState(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(EncodeCaseState(*back), bytes);
  EXPECT_EQ(back->intake_occurred_at, s.intake_occurred_at);
  EXPECT_EQ(back->consents.at("k1").revoked, true);
  EXPECT_EQ(back->consents.at("k1").organisations, (std::vector<std::string>{"goedwerk", "askv"}));
  EXPECT_EQ(back->next_evaluation, D(2026, 7, 1));
  EXPECT_EQ(back->end_day, D(2026, 9, 18));
  EXPECT_EQ(back->report_moments.size(), s.report_moments.size());
  EXPECT_EQ(DecodeCaseState("not a record \xff").status().code(), absl::StatusCode::kDataLoss);
}

// ---------------------------------------------------------------------------
// Signals, each on both sides of its threshold.
// ---------------------------------------------------------------------------

TEST(SignalTest, NoPlanEightWeeksAfterTheIntake) {
  CaseState s = Fold({testing::IntakeEvent("i", "vluchtelingenwerk", 0)});  // 2026-03-02
  EXPECT_FALSE(Has(CaseSignals(s, D(2026, 4, 27), kPolicy), v1::SIGNAL_NO_PLAN));
  EXPECT_TRUE(Has(CaseSignals(s, D(2026, 4, 28), kPolicy), v1::SIGNAL_NO_PLAN));
  CaseState planned = Fold(PlannedCase());
  EXPECT_FALSE(Has(CaseSignals(planned, D(2026, 4, 28), kPolicy), v1::SIGNAL_NO_PLAN));
}

TEST(SignalTest, EvaluationDueTwoWeeksAheadAndOverdueSixMonthsAfterThePlan) {
  CaseState s = Fold(PlannedCase());  // plan 2026-03-12 -> evaluation due 2026-09-12
  auto at = [&](absl::CivilDay day) { return CaseSignals(s, day, kPolicy); };
  EXPECT_FALSE(Has(at(D(2026, 8, 28)), v1::SIGNAL_EVALUATION_DUE));
  EXPECT_TRUE(Has(at(D(2026, 8, 29)), v1::SIGNAL_EVALUATION_DUE));
  EXPECT_TRUE(Has(at(D(2026, 9, 12)), v1::SIGNAL_EVALUATION_DUE));
  EXPECT_FALSE(Has(at(D(2026, 9, 12)), v1::SIGNAL_EVALUATION_OVERDUE));
  EXPECT_TRUE(Has(at(D(2026, 9, 13)), v1::SIGNAL_EVALUATION_OVERDUE));
  EXPECT_FALSE(Has(at(D(2026, 9, 13)), v1::SIGNAL_EVALUATION_DUE));

  // An evaluation held resets the clock: six months after it, or the date it sets.
  std::vector<v1::Event> events = PlannedCase();
  events.push_back(Evaluation("ev", 180));  // 2026-08-29
  CaseState evaluated = Fold(events);
  EXPECT_EQ(evaluated.EvaluationDue(), D(2027, 2, 28));
  EXPECT_FALSE(Has(CaseSignals(evaluated, D(2026, 9, 13), kPolicy), v1::SIGNAL_EVALUATION_OVERDUE));
  events.push_back(Evaluation("ev2", 181, MakeDate(2026, 10, 1)));
  CaseState next = Fold(events);
  EXPECT_FALSE(Has(CaseSignals(next, D(2026, 10, 1), kPolicy), v1::SIGNAL_EVALUATION_OVERDUE));
  EXPECT_TRUE(Has(CaseSignals(next, D(2026, 10, 2), kPolicy), v1::SIGNAL_EVALUATION_OVERDUE));
  // On time: held 2026-08-29, due 2026-09-12.
  EXPECT_EQ(evaluated.evaluations.back().due, D(2026, 9, 12));
}

TEST(SignalTest, TermExpiringEightWeeksAheadAndExpiredAfterEighteenMonths) {
  CaseState s = Fold(PlannedCase());  // intake 2026-03-02 -> term ends 2027-09-02
  auto at = [&](absl::CivilDay day) { return CaseSignals(s, day, kPolicy); };
  EXPECT_FALSE(Has(at(D(2027, 7, 7)), v1::SIGNAL_TERM_EXPIRING));
  EXPECT_TRUE(Has(at(D(2027, 7, 8)), v1::SIGNAL_TERM_EXPIRING));
  EXPECT_TRUE(Has(at(D(2027, 9, 2)), v1::SIGNAL_TERM_EXPIRING));
  EXPECT_FALSE(Has(at(D(2027, 9, 2)), v1::SIGNAL_TERM_EXPIRED));
  EXPECT_TRUE(Has(at(D(2027, 9, 3)), v1::SIGNAL_TERM_EXPIRED));
}

TEST(SignalTest, NoInPersonExitConversationTwoWeeksBeforeThePlannedEnd) {
  std::vector<v1::Event> events = {testing::IntakeEvent("i", "vluchtelingenwerk", 0),
                                   PlanWithEnd("p", 10, MakeDate(2026, 12, 31))};
  CaseState s = Fold(events);
  EXPECT_FALSE(Has(CaseSignals(s, D(2026, 12, 16), kPolicy), v1::SIGNAL_NO_EXIT_CONVERSATION));
  EXPECT_TRUE(Has(CaseSignals(s, D(2026, 12, 17), kPolicy), v1::SIGNAL_NO_EXIT_CONVERSATION));
  EXPECT_EQ(ToCaseView(s, D(2026, 12, 16), kPolicy).phase(), v1::PHASE_PLAN);
  EXPECT_EQ(ToCaseView(s, D(2026, 12, 17), kPolicy).phase(), v1::PHASE_CLOSING);

  events.push_back(Exit("x", 200, /*in_person=*/false));  // by phone: does not count
  EXPECT_TRUE(Has(CaseSignals(Fold(events), D(2026, 12, 17), kPolicy),
                  v1::SIGNAL_NO_EXIT_CONVERSATION));
  events.push_back(Exit("x2", 201, /*in_person=*/true));
  EXPECT_FALSE(Has(CaseSignals(Fold(events), D(2026, 12, 17), kPolicy),
                   v1::SIGNAL_NO_EXIT_CONVERSATION));
}

TEST(SignalTest, NoContactForThirtyDays) {
  std::vector<v1::Event> events = PlannedCase();
  events.push_back(Contact("ct", 20));  // 2026-03-22
  CaseState s = Fold(events);
  EXPECT_FALSE(Has(CaseSignals(s, D(2026, 4, 21), kPolicy), v1::SIGNAL_NO_CONTACT));
  EXPECT_TRUE(Has(CaseSignals(s, D(2026, 4, 22), kPolicy), v1::SIGNAL_NO_CONTACT));
  // Attending an activity is contact; an unexcused absence is not.
  events.push_back(Attendance("a1", 50, MakeDate(2026, 4, 21), v1::ATTENDANCE_ABSENT_UNEXCUSED));
  EXPECT_TRUE(Has(CaseSignals(Fold(events), D(2026, 4, 22), kPolicy), v1::SIGNAL_NO_CONTACT));
  events.push_back(Attendance("a2", 50, MakeDate(2026, 4, 21), v1::ATTENDANCE_PRESENT));
  EXPECT_FALSE(Has(CaseSignals(Fold(events), D(2026, 4, 22), kPolicy), v1::SIGNAL_NO_CONTACT));
}

TEST(SignalTest, GoalPastItsDeadlineUnlessReached) {
  CaseState s = Fold(PlannedCase());  // g1 due 2026-06-01
  EXPECT_FALSE(Has(CaseSignals(s, D(2026, 6, 1), kPolicy), v1::SIGNAL_GOAL_OVERDUE));
  EXPECT_TRUE(Has(CaseSignals(s, D(2026, 6, 2), kPolicy), v1::SIGNAL_GOAL_OVERDUE));
  std::vector<v1::Event> events = PlannedCase();
  events.push_back(Milestone("m", 30, v1::MILESTONE_UNSPECIFIED, "g1"));
  EXPECT_FALSE(Has(CaseSignals(Fold(events), D(2026, 6, 2), kPolicy), v1::SIGNAL_GOAL_OVERDUE));
}

TEST(SignalTest, BegeleiderOverThirtyAndTrackOverItsFundedMaximum) {
  CaseState s = Fold(PlannedCase());
  CaseloadCounts counts;
  counts.begeleider[{"vluchtelingenwerk", "begeleider-1"}] = 30;
  counts.track[{"vluchtelingenwerk", v1::TRACK_LEGAL}] = 200;
  EXPECT_FALSE(Has(CaseSignals(s, D(2026, 4, 1), kPolicy, &counts), v1::SIGNAL_BEGELEIDER_OVERLOADED));
  EXPECT_TRUE(CaseloadSignals(counts, "vluchtelingenwerk", "", D(2026, 4, 1), kPolicy).empty());
  counts.begeleider[{"vluchtelingenwerk", "begeleider-1"}] = 31;
  counts.track[{"vluchtelingenwerk", v1::TRACK_LEGAL}] = 201;
  EXPECT_TRUE(Has(CaseSignals(s, D(2026, 4, 1), kPolicy, &counts), v1::SIGNAL_BEGELEIDER_OVERLOADED));
  std::vector<v1::Signal> org = CaseloadSignals(counts, "vluchtelingenwerk", "", D(2026, 4, 1), kPolicy);
  EXPECT_TRUE(Has(org, v1::SIGNAL_BEGELEIDER_OVERLOADED));
  EXPECT_TRUE(Has(org, v1::SIGNAL_TRACK_OVER_MAXIMUM));
  EXPECT_TRUE(CaseloadSignals(counts, "goedwerk", "", D(2026, 4, 1), kPolicy).empty());
  EXPECT_FALSE(Has(CaseloadSignals(counts, "vluchtelingenwerk", "begeleider-1", D(2026, 4, 1), kPolicy),
                   v1::SIGNAL_TRACK_OVER_MAXIMUM));
}

TEST(SignalTest, AnEndedCaseHasNoSignals) {
  std::vector<v1::Event> events = PlannedCase();
  events.push_back(testing::TerminatedEvent("t", 100));
  CaseState s = Fold(events);
  EXPECT_TRUE(CaseSignals(s, D(2028, 1, 1), kPolicy).empty());
  v1::CaseView v = ToCaseView(s, D(2028, 1, 1), kPolicy);
  EXPECT_EQ(v.status(), v1::CASE_STATUS_TERMINATED);
  EXPECT_EQ(v.phase(), v1::PHASE_ENDED);
  EXPECT_EQ(v.days_in_trajectory(), 200);  // 2026-03-02 .. effective date 2026-09-18
  EXPECT_FALSE(v.has_next_deadline());
}

// ---------------------------------------------------------------------------
// Report moments and the quarterly report.
// ---------------------------------------------------------------------------

std::vector<v1::ReportMomentKind> Kinds(const std::vector<v1::ReportMoment>& moments) {
  std::vector<v1::ReportMomentKind> kinds;
  for (const auto& m : moments) kinds.push_back(m.kind());
  return kinds;
}

TEST(ReportMomentTest, TheFiveMoments) {
  std::vector<v1::Event> events = PlannedCase();           // start 03-03, plan 03-12
  events.push_back(testing::PlanRevisedEvent("r", 40));     // change 04-11
  events.push_back(testing::ConsentEvent("cg", "k1", {"goedwerk"}, 46));
  events.push_back(testing::HandoverEvent("h", "vluchtelingenwerk", "goedwerk", "k1", 50));
  CaseState s = Fold(events);
  // Half a year after the screening (2026-03-03) is 2026-09-03.
  EXPECT_EQ(Kinds(ReportMoments(s, D(2026, 9, 2))),
            (std::vector<v1::ReportMomentKind>{v1::REPORT_MOMENT_START, v1::REPORT_MOMENT_PLAN,
                                               v1::REPORT_MOMENT_CHANGE, v1::REPORT_MOMENT_CHANGE}));
  std::vector<v1::ReportMoment> later = ReportMoments(s, D(2026, 9, 3));
  ASSERT_EQ(later.size(), 5u);
  EXPECT_EQ(later.back().kind(), v1::REPORT_MOMENT_HALF_YEAR);
  EXPECT_EQ(later.back().organisation(), "goedwerk");
  EXPECT_EQ(later[3].detail().find("overdracht vluchtelingenwerk"), 0u) << later[3].detail();
  EXPECT_EQ(later[1].goals_total(), 1);

  events.push_back(testing::TerminatedEvent("t", 200));  // effective 2026-09-18
  std::vector<v1::ReportMoment> ended = ReportMoments(Fold(events), D(2026, 12, 1));
  ASSERT_EQ(ended.size(), 6u);
  EXPECT_EQ(ended.back().kind(), v1::REPORT_MOMENT_END);
  EXPECT_EQ(ended.back().termination_reason(), v1::TERMINATION_REASON_GOALS_REACHED);

  // A case that ends before half a year has no half-year moment.
  std::vector<v1::Event> short_case = PlannedCase();
  short_case.push_back(testing::TerminatedEvent("t", 100));
  short_case.back().mutable_terminated()->mutable_effective_date()->set_month(6);
  std::vector<v1::ReportMoment> moments = ReportMoments(Fold(short_case), D(2027, 1, 1));
  EXPECT_EQ(Kinds(moments), (std::vector<v1::ReportMomentKind>{
                                v1::REPORT_MOMENT_START, v1::REPORT_MOMENT_PLAN, v1::REPORT_MOMENT_END}));
}

TEST(QuarterlyReportTest, CountsWhatHappenedInTheQuarterForTheHolder) {
  // Case 1: intake 2026-03-02 (Q1), plan 03-12 (9 days), evaluation on time
  // in Q3, handed to goedwerk on 2026-04-21, attendance in Q2.
  std::vector<v1::Event> one = PlannedCase();
  one.push_back(Attendance("a1", 40, MakeDate(2026, 4, 10), v1::ATTENDANCE_PRESENT));
  one.push_back(Attendance("a2", 41, MakeDate(2026, 4, 11), v1::ATTENDANCE_ABSENT_EXCUSED));
  one.push_back(testing::ConsentEvent("cg", "k1", {"goedwerk"}, 46));
  one.push_back(testing::HandoverEvent("h", "vluchtelingenwerk", "goedwerk", "k1", 50));
  // Case 2: intake 2026-04-01 (Q2), plan after 70 days (late), terminated 2026-06-20.
  std::vector<v1::Event> two = {testing::IntakeEvent("i", "vluchtelingenwerk", 30),
                                testing::PlanEvent("p", 100), testing::TerminatedEvent("t", 101)};
  two.back().mutable_terminated()->set_reason(v1::TERMINATION_REASON_NO_COOPERATION);
  *two.back().mutable_terminated()->mutable_effective_date() = MakeDate(2026, 6, 20);
  std::vector<CaseState> cases = {Fold(one, "c-1"), Fold(two, "c-2")};

  auto q1 = BuildQuarterlyReport(cases, "vluchtelingenwerk", v1::TRACK_LEGAL, "2026Q1", kPolicy);
  ASSERT_TRUE(q1.ok()) << q1.status();
  EXPECT_EQ(q1->inflow(), 1);
  EXPECT_EQ(q1->active_at_end(), 1);
  EXPECT_EQ(q1->plans_established(), 1);
  EXPECT_EQ(q1->plans_within_term(), 1);
  EXPECT_EQ(q1->funded_minimum(), 120);
  EXPECT_EQ(q1->funded_maximum(), 200);

  auto q2 = BuildQuarterlyReport(cases, "vluchtelingenwerk", v1::TRACK_LEGAL, "2026Q2", kPolicy);
  ASSERT_TRUE(q2.ok());
  EXPECT_EQ(q2->inflow(), 1);          // case 2
  EXPECT_EQ(q2->outflow(), 1);         // case 2
  ASSERT_EQ(q2->outflow_by_reason_size(), 1);
  EXPECT_EQ(q2->outflow_by_reason(0).reason(), v1::TERMINATION_REASON_NO_COOPERATION);
  EXPECT_EQ(q2->active_at_end(), 0);   // case 1 went to goedwerk, case 2 ended
  EXPECT_EQ(q2->plans_established(), 1);
  EXPECT_EQ(q2->plans_within_term(), 0);
  EXPECT_EQ(q2->attendance_present(), 0);  // attributed to the holder at quarter end

  auto goedwerk = BuildQuarterlyReport(cases, "goedwerk", v1::TRACK_LEGAL, "2026Q2", kPolicy);
  ASSERT_TRUE(goedwerk.ok());
  EXPECT_EQ(goedwerk->inflow(), 0);
  EXPECT_EQ(goedwerk->active_at_end(), 1);
  EXPECT_EQ(goedwerk->attendance_present(), 1);
  EXPECT_EQ(goedwerk->attendance_absent_excused(), 1);

  std::vector<v1::Event> evaluated = PlannedCase();
  evaluated.push_back(Evaluation("ev", 180));  // 2026-08-29, due 09-12: on time
  evaluated.push_back(Evaluation("ev2", 200, MakeDate(2026, 9, 1)));  // 09-18, due 2027-02-28
  evaluated.push_back(Evaluation("ev3", 210));  // 09-28, due 09-01: late
  auto q3 = BuildQuarterlyReport({Fold(evaluated)}, "vluchtelingenwerk", v1::TRACK_LEGAL, "2026Q3",
                                 kPolicy);
  ASSERT_TRUE(q3.ok());
  EXPECT_EQ(q3->evaluations(), 3);
  EXPECT_EQ(q3->evaluations_on_time(), 2);

  for (const char* bad : {"2026Q5", "2026-Q3", "Q3", "", "2026Q0"}) {
    EXPECT_EQ(BuildQuarterlyReport(cases, "x", v1::TRACK_LEGAL, bad, kPolicy).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

// ---------------------------------------------------------------------------
// The projection over a real store.
// ---------------------------------------------------------------------------

class CaseloadProjectionTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = *storage::EventStore::Open(dir_.Sub("db")); }

  std::unique_ptr<ProjectionWorker> Worker(size_t batch = 64) {
    ProjectionWorkerOptions options;
    options.batch_events = batch;
    return std::make_unique<ProjectionWorker>(store_.get(), std::make_unique<CaseloadProjection>(),
                                              options);
  }

  // Appends the demo batches [from, to).
  void AppendDemo(const std::vector<tools::DemoBatch>& batches, size_t from, size_t to) {
    for (size_t i = from; i < to && i < batches.size(); ++i) {
      std::vector<storage::ProposedEvent> proposed;
      for (const v1::Event& e : batches[i].events) {
        proposed.push_back(ToProposedEvent(e, batches[i].identity, "demo"));
      }
      auto r = store_->Append(batches[i].client_id, storage::ExpectedVersion::Any(), proposed);
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }

  static std::vector<std::pair<std::string, std::string>> All(const ProjectionWorker& w) {
    return *w.Scan("", "", 10'000'000);
  }

  testing::ScopedTempDir dir_;
  std::unique_ptr<storage::EventStore> store_;
};

TEST_F(CaseloadProjectionTest, RebuildEqualsIncrementalAndARestartNeitherLosesNorDoubleCounts) {
  tools::DemoOptions demo;
  demo.clients = 120;
  demo.now = absl::FromCivil(absl::CivilSecond(2026, 11, 1, 12, 0, 0), absl::UTCTimeZone());
  const std::vector<tools::DemoBatch> batches = tools::GenerateDemoCaseload(demo);
  ASSERT_GT(batches.size(), 120u);  // handovers split a client into two batches

  // Incremental: catch up after every few appends, restarting the worker
  // (a new process) twice along the way.
  auto worker = Worker(/*batch=*/7);
  for (size_t i = 0; i < batches.size(); i += 17) {
    AppendDemo(batches, i, i + 17);
    ASSERT_TRUE(worker->CatchUp().ok());
    if (i == 17 * 2 || i == 17 * 5) worker = Worker(7);
  }
  EXPECT_EQ(worker->lag(), 0u);
  EXPECT_EQ(worker->checkpoint(), store_->LastPosition());
  const auto incremental = All(*worker);

  // The state of every client equals the fold of its stream from the log.
  CaseloadReader reader(worker.get());
  size_t clients = 0;
  for (const auto& [key, value] : incremental) {
    if (key.rfind("c/", 0) != 0) continue;
    ++clients;
    const std::string client = key.substr(2);
    absl::StatusOr<CaseState> folded = LoadCaseState(*store_, client);
    ASSERT_TRUE(folded.ok());
    EXPECT_EQ(value, EncodeCaseState(*folded)) << client;
  }
  EXPECT_EQ(clients, 120u);

  // The counters equal a recount.
  absl::StatusOr<CaseloadCounts> counts = reader.Counts();
  ASSERT_TRUE(counts.ok());
  auto all = reader.All([](const CaseState&) { return true; });
  ASSERT_TRUE(all.ok());
  CaseloadCounts recount;
  for (const CaseState& s : *all) {
    if (!s.active()) continue;
    if (!s.begeleider.empty()) ++recount.begeleider[{s.organisation, s.begeleider}];
    ++recount.track[{s.organisation, s.track}];
  }
  EXPECT_EQ(counts->begeleider, recount.begeleider);
  EXPECT_EQ(counts->track, recount.track);

  // Rebuilt in one go with another batch size: byte for byte the same.
  auto rebuilt = Worker(/*batch=*/500);
  ASSERT_TRUE(rebuilt->Rebuild().ok());
  EXPECT_EQ(All(*rebuilt), incremental);
}

TEST_F(CaseloadProjectionTest, ReaderListsInClientOrderWithFiltersAndResumePoints) {
  for (int c = 0; c < 30; ++c) {
    const std::string client = absl::StrCat("c-", c < 10 ? "0" : "", c);
    std::vector<storage::ProposedEvent> events = {
        ToProposedEvent(testing::IntakeEvent(absl::StrCat("i", c), c % 3 == 0 ? "goedwerk" : "vluchtelingenwerk"),
                        "vluchtelingenwerk", "u")};
    ASSERT_TRUE(store_->Append(client, storage::ExpectedVersion::NoStream(), events).ok());
  }
  auto worker = Worker();
  ASSERT_TRUE(worker->CatchUp().ok());
  CaseloadReader reader(worker.get());
  auto goedwerk = [](const CaseState& s) { return s.organisation == "goedwerk"; };
  std::string last;
  bool exhausted = false;
  auto page = reader.List("", 4, goedwerk, &last, &exhausted);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 4u);
  EXPECT_EQ((*page)[0].client_id, "c-00");
  EXPECT_EQ((*page)[3].client_id, "c-09");
  EXPECT_EQ(last, "c-09");
  EXPECT_FALSE(exhausted);
  page = reader.List(last, 100, goedwerk, &last, &exhausted);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->size(), 6u);  // c-12 .. c-27
  EXPECT_TRUE(exhausted);
  EXPECT_EQ(reader.Get("c-05")->organisation, "vluchtelingenwerk");
  EXPECT_EQ(reader.Get("c-99").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace caseledger::projections
