#include "projections/case_state.h"
#include "projections/case_record.h"

#include <gtest/gtest.h>

#include "tests/event_builders.h"

namespace caseledger::projections {
namespace {

using namespace caseledger::testing;  // NOLINT: event builders

class CaseStateTest : public ::testing::Test {
 protected:
  CaseStateTest() { state_.client_id = "c-1"; }

  absl::Status Apply(const v1::Event& e) {
    absl::Status valid = ValidateEvent(e);
    if (!valid.ok()) return valid;
    return ApplyEvent(state_, e);
  }

  // Applies and expects FAILED_PRECONDITION with exactly `message`, state unchanged.
  void ExpectRule(const v1::Event& e, const std::string& message) {
    const std::string before = EncodeCaseState(state_);
    absl::Status s = Apply(e);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_EQ(s.message(), message);
    EXPECT_EQ(EncodeCaseState(state_), before) << "a refused event changed the state";
  }

  CaseState state_;
};

TEST_F(CaseStateTest, AFullTrajectoryFolds) {
  ASSERT_TRUE(Apply(IntakeEvent("e1", "vluchtelingenwerk")).ok());
  ASSERT_TRUE(Apply(ScreeningEvent("e2")).ok());
  ASSERT_TRUE(Apply(AssignEvent("e3")).ok());
  ASSERT_TRUE(Apply(PlanEvent("e4")).ok());
  ASSERT_TRUE(Apply(AttendanceEvent("e5")).ok());
  ASSERT_TRUE(Apply(ConsentEvent("e6", "k1", {"goedwerk"})).ok());
  ASSERT_TRUE(Apply(HandoverEvent("e7", "vluchtelingenwerk", "goedwerk", "k1")).ok());
  ASSERT_TRUE(Apply(PlanRevisedEvent("e8")).ok());
  for (const v1::Event& e : OtherFacts("f")) ASSERT_TRUE(Apply(e).ok()) << EventTypeName(e);
  ASSERT_TRUE(Apply(TerminatedEvent("e9")).ok());
  ASSERT_TRUE(Apply(CorrectedEvent("e10", "e1")).ok());

  EXPECT_EQ(state_.version, 15u);
  EXPECT_TRUE(state_.has_intake);
  EXPECT_EQ(state_.intake_version, 1u);
  EXPECT_EQ(state_.track, v1::TRACK_LEGAL);
  EXPECT_EQ(state_.target_group, v1::TARGET_GROUP_REJECTED_ASYLUM);
  EXPECT_EQ(state_.organisation, "goedwerk");
  EXPECT_EQ(state_.team, "team-toekomst");
  EXPECT_EQ(state_.begeleider, "begeleider-9");
  EXPECT_EQ(state_.casemanager, "casemanager-1");
  EXPECT_TRUE(state_.screening_completed);
  EXPECT_TRUE(state_.has_plan);
  EXPECT_EQ(state_.plan_direction, v1::PLAN_DIRECTION_RETURN);
  EXPECT_TRUE(state_.terminated);
  EXPECT_EQ(state_.terminated_version, 14u);
  EXPECT_EQ(state_.termination_reason, v1::TERMINATION_REASON_GOALS_REACHED);
  EXPECT_EQ(state_.version, 15u);
}

TEST_F(CaseStateTest, NothingBeforeTheIntake) {
  ExpectRule(ScreeningEvent("e1"), "client c-1 has no intake; append an Intake first");
  ExpectRule(PlanEvent("e1"), "client c-1 has no intake; append an Intake first");
}

TEST_F(CaseStateTest, OneIntakePerClient) {
  ASSERT_TRUE(Apply(IntakeEvent("e1", "vluchtelingenwerk")).ok());
  ExpectRule(IntakeEvent("e2", "goedwerk"),
             "client c-1 already has an intake (version 1); a client has one intake — use a "
             "Handover to move the case");
}

TEST_F(CaseStateTest, NothingButCorrectionOrErasureAfterTermination) {
  ASSERT_TRUE(Apply(IntakeEvent("e1", "vluchtelingenwerk")).ok());
  ASSERT_TRUE(Apply(TerminatedEvent("e2")).ok());
  ExpectRule(AttendanceEvent("e3", 201),
             "client c-1 was terminated (beëindigd) at version 2; after termination only a "
             "Corrected or SubjectErased event may follow, not AttendanceRegistered");
  EXPECT_TRUE(Apply(CorrectedEvent("e4", "e1")).ok());
  v1::Event erased = Base("e5", 202);
  erased.mutable_subject_erased()->set_reason("retention period ended");
  EXPECT_TRUE(Apply(erased).ok());
  ExpectRule(CorrectedEvent("e6", "e1", 203),
             "client c-1's data was erased (SubjectErased); no event can follow an erasure");
}

TEST_F(CaseStateTest, NothingBeforeTheIntakeHappened) {
  ASSERT_TRUE(Apply(IntakeEvent("e1", "vluchtelingenwerk", 10)).ok());
  ExpectRule(ScreeningEvent("e2", 9),
             "occurred_at 2026-03-11T09:00:00Z lies before client c-1's intake "
             "(2026-03-12T09:00:00Z); an event cannot happen before the intake");
}

TEST_F(CaseStateTest, PlanRulesNeedAPlanAndAllowOnlyOneEstablishment) {
  ASSERT_TRUE(Apply(IntakeEvent("e1", "vluchtelingenwerk")).ok());
  ExpectRule(PlanRevisedEvent("e2"),
             "client c-1 has no perspectiefplan yet; append PlanEstablished before PlanRevised");
  ASSERT_TRUE(Apply(PlanEvent("e3")).ok());
  ExpectRule(PlanEvent("e4"),
             "client c-1 already has a perspectiefplan; append PlanRevised to change it");
}

TEST_F(CaseStateTest, HandoverToAnotherOrganisationNeedsConsentNamingIt) {
  ASSERT_TRUE(Apply(IntakeEvent("e1", "vluchtelingenwerk")).ok());
  ExpectRule(HandoverEvent("e2", "vluchtelingenwerk", "goedwerk"),
             "handover of client c-1 to goedwerk needs the client's consent to share with "
             "goedwerk; record a ConsentGranted naming goedwerk first");
  ASSERT_TRUE(Apply(ConsentEvent("e3", "k-askv", {"askv"})).ok());
  ExpectRule(HandoverEvent("e4", "vluchtelingenwerk", "goedwerk", "k-askv"),
             "handover of client c-1 to goedwerk refers to consent 'k-askv', which does not "
             "exist, was revoked, has expired or does not name goedwerk; record a ConsentGranted "
             "naming goedwerk first");
  ASSERT_TRUE(Apply(ConsentEvent("e5", "k-gw", {"goedwerk"})).ok());
  ASSERT_TRUE(Apply(RevokeEvent("e6", "k-gw")).ok());
  ExpectRule(HandoverEvent("e7", "vluchtelingenwerk", "goedwerk"),
             "handover of client c-1 to goedwerk needs the client's consent to share with "
             "goedwerk; record a ConsentGranted naming goedwerk first");
  ExpectRule(HandoverEvent("e8", "askv", "goedwerk"),
             "handover.from_organisation is askv but client c-1 is held by vluchtelingenwerk; "
             "only the holding organisation can hand the case over");
  // A handover between teams of the holding organisation needs no consent.
  EXPECT_TRUE(Apply(HandoverEvent("e9", "vluchtelingenwerk", "vluchtelingenwerk")).ok());
  ASSERT_TRUE(Apply(ConsentEvent("e10", "k-gw2", {"goedwerk", "askv"})).ok());
  EXPECT_TRUE(Apply(HandoverEvent("e11", "vluchtelingenwerk", "goedwerk")).ok());
  EXPECT_EQ(state_.organisation, "goedwerk");
}

TEST_F(CaseStateTest, ExpiredConsentDoesNotCover) {
  ASSERT_TRUE(Apply(IntakeEvent("e1", "vluchtelingenwerk")).ok());
  v1::Event consent = ConsentEvent("e2", "k1", {"goedwerk"});
  *consent.mutable_consent_granted()->mutable_valid_until() = MakeDate(2026, 3, 20);
  ASSERT_TRUE(Apply(consent).ok());
  EXPECT_TRUE(state_.ConsentCovers("goedwerk", absl::CivilDay(2026, 3, 20)));
  EXPECT_FALSE(state_.ConsentCovers("goedwerk", absl::CivilDay(2026, 3, 21)));
  EXPECT_FALSE(state_.ConsentCovers("askv", absl::CivilDay(2026, 3, 10)));
  // Day 30 = 2026-04-01, after valid_until.
  ExpectRule(HandoverEvent("e3", "vluchtelingenwerk", "goedwerk", "k1", 30),
             "handover of client c-1 to goedwerk refers to consent 'k1', which does not exist, "
             "was revoked, has expired or does not name goedwerk; record a ConsentGranted naming "
             "goedwerk first");
}

TEST_F(CaseStateTest, TerminationNeedsBothDeciders) {
  ASSERT_TRUE(Apply(IntakeEvent("e1", "vluchtelingenwerk")).ok());
  v1::Event t = TerminatedEvent("e2");
  t.mutable_terminated()->clear_decided_by_casemanager();
  ExpectRule(t,
             "termination of client c-1 needs both deciders: set terminated.decided_by_begeleider "
             "and terminated.decided_by_casemanager");
}

// (That a correction names an earlier event of the client is checked on the
// write path, against the store's event-id index: ledger_api_test.)
TEST_F(CaseStateTest, RevocationsMustNameAConsentThatExists) {
  ASSERT_TRUE(Apply(IntakeEvent("e1", "vluchtelingenwerk")).ok());
  ExpectRule(RevokeEvent("e2", "k9"),
             "client c-1 has no consent with id 'k9'; name a consent recorded with ConsentGranted");
  ASSERT_TRUE(Apply(ConsentEvent("e4", "k1", {"goedwerk"})).ok());
  ExpectRule(ConsentEvent("e5", "k1", {"askv"}),
             "client c-1 already has a consent with id 'k1'; give a new consent a new id");
}

struct MalformedCase {
  std::string name;
  std::function<void(v1::Event&)> breaks;
  v1::Event (*make)();
  std::string message;
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const MalformedCase& c, std::ostream* os) { *os << c.name; }

v1::Event MakeIntake() { return IntakeEvent("e1", "vluchtelingenwerk"); }
v1::Event MakePlan() { return PlanEvent("e1"); }
v1::Event MakeAttendance() { return AttendanceEvent("e1"); }
v1::Event MakeHandover() { return HandoverEvent("e1", "a", "b"); }
v1::Event MakeConsent() { return ConsentEvent("e1", "k1", {"goedwerk"}); }
v1::Event MakeTerminated() { return TerminatedEvent("e1"); }

class MalformedEventTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedEventTest, IsInvalidArgumentNamingTheField) {
  v1::Event e = GetParam().make();
  ASSERT_TRUE(ValidateEvent(e).ok());
  GetParam().breaks(e);
  absl::Status s = ValidateEvent(e);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Fields, MalformedEventTest,
    ::testing::Values(
        MalformedCase{"NoEventId", [](v1::Event& e) { e.mutable_envelope()->clear_event_id(); },
                      MakeIntake,
                      "envelope.event_id is not set; give every event a unique id (a UUID) and "
                      "reuse it when you retry"},
        MalformedCase{"NoOccurredAt", [](v1::Event& e) { e.mutable_envelope()->clear_occurred_at(); },
                      MakeIntake, "envelope.occurred_at is not set; say when it happened"},
        MalformedCase{"NoPayload", [](v1::Event& e) { e.clear_intake(); }, MakeIntake,
                      "the event has no payload; set exactly one of intake, screening_completed, "
                      "caseworker_assigned, plan_established, plan_revised, handover, "
                      "attendance_registered, milestone_completed, contact_recorded, "
                      "evaluation_recorded, exit_conversation_held, return_assessment_recorded, "
                      "consent_granted, consent_revoked, terminated, corrected"},
        MalformedCase{"NoTrack", [](v1::Event& e) { e.mutable_intake()->clear_track(); }, MakeIntake,
                      "intake.track is not set; choose one of the Track values"},
        MalformedCase{"UnknownTrack",
                      [](v1::Event& e) { e.mutable_intake()->set_track(static_cast<v1::Track>(42)); },
                      MakeIntake,
                      "intake.track has the unknown value 42; use one of the Track values in "
                      "events.proto"},
        MalformedCase{"NoOrganisation", [](v1::Event& e) { e.mutable_intake()->clear_organisation(); },
                      MakeIntake,
                      "intake.organisation is not set; name the organisation that does the intake"},
        MalformedCase{"BadBirthDate",
                      [](v1::Event& e) { *e.mutable_personal_data()->mutable_birth_date() = MakeDate(1990, 2, 30); },
                      MakeIntake,
                      "personal_data.birth_date is 1990-2-30, which is not a real date; use year "
                      "1900..2200, month 1..12 and a day that exists in that month"},
        MalformedCase{"PlanWithoutGoals", [](v1::Event& e) { e.mutable_plan_established()->clear_goals(); },
                      MakePlan,
                      "plan_established.goals is empty; a perspectiefplan needs at least one goal "
                      "with a deadline"},
        MalformedCase{"GoalWithoutDeadline",
                      [](v1::Event& e) { e.mutable_plan_established()->mutable_goals(0)->clear_deadline(); },
                      MakePlan,
                      "plan_established.goals[0].deadline is not set; every goal needs a deadline"},
        MalformedCase{"PlanWithoutAgreement", [](v1::Event& e) { e.mutable_plan_established()->clear_agreed_by(); },
                      MakePlan,
                      "plan_established.agreed_by is empty; list the begeleider and casemanager "
                      "who agreed"},
        MalformedCase{"AttendanceWithoutActivity",
                      [](v1::Event& e) { e.mutable_attendance_registered()->clear_activity(); },
                      MakeAttendance,
                      "attendance_registered.activity is not set; choose one of the Activity values"},
        MalformedCase{"AttendanceWithoutDate",
                      [](v1::Event& e) { e.mutable_attendance_registered()->clear_date(); },
                      MakeAttendance,
                      "attendance_registered.date is not set; give the date of the activity"},
        MalformedCase{"HandoverWithoutReceiver",
                      [](v1::Event& e) { e.mutable_handover()->clear_to_organisation(); },
                      MakeHandover,
                      "handover.to_organisation is not set; name the organisation that receives "
                      "the case"},
        MalformedCase{"ConsentWithoutOrganisations",
                      [](v1::Event& e) { e.mutable_consent_granted()->clear_organisations(); },
                      MakeConsent,
                      "consent_granted.organisations is empty; list the organisations the client "
                      "allows to receive the data"},
        MalformedCase{"TerminationWithoutReason",
                      [](v1::Event& e) { e.mutable_terminated()->clear_reason(); }, MakeTerminated,
                      "terminated.reason is not set; choose one of the TerminationReason values"}),
    [](const ::testing::TestParamInfo<MalformedCase>& info) { return info.param.name; });

TEST(EventTypeNameTest, IsThePayloadMessageName) {
  EXPECT_EQ(EventTypeName(IntakeEvent("e", "x")), "Intake");
  EXPECT_EQ(EventTypeName(PlanEvent("e")), "PlanEstablished");
  EXPECT_EQ(EventTypeName(HandoverEvent("e", "a", "b")), "Handover");
  EXPECT_EQ(EventTypeName(AttendanceEvent("e")), "AttendanceRegistered");
  EXPECT_EQ(EventTypeName(TerminatedEvent("e")), "Terminated");
  EXPECT_EQ(EventTypeName(v1::Event()), "");
}

}  // namespace
}  // namespace caseledger::projections
