#include "tools/demo_caseload.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "projections/case_state.h"

namespace caseledger::tools {
namespace {

const absl::Time kNow = absl::FromCivil(absl::CivilSecond(2026, 11, 24, 14, 0, 0), absl::UTCTimeZone());

class DemoCaseloadTest : public ::testing::Test {
 protected:
  std::vector<DemoBatch> Generate(int clients = 300, uint32_t seed = 2026) {
    DemoOptions options;
    options.clients = clients;
    options.seed = seed;
    options.now = kNow;
    return GenerateDemoCaseload(options);
  }
};

TEST_F(DemoCaseloadTest, EveryBatchPassesTheCaseRulesAndIsSentByTheHolder) {
  std::map<std::string, projections::CaseState> cases;
  std::set<std::string> event_ids;
  size_t events = 0;
  for (const DemoBatch& batch : Generate()) {
    projections::CaseState& state = cases[batch.client_id];
    state.client_id = batch.client_id;
    ASSERT_EQ(batch.expected_version, state.version) << batch.client_id;
    // The sender holds the case (or makes its intake), as the ledger demands.
    if (state.has_intake) {
      EXPECT_EQ(batch.identity, state.organisation) << batch.client_id;
    } else {
      ASSERT_TRUE(batch.events.front().has_intake()) << batch.client_id;
      EXPECT_EQ(batch.identity, batch.events.front().intake().organisation());
    }
    for (v1::Event event : batch.events) {
      ASSERT_TRUE(projections::ValidateEvent(event).ok())
          << batch.client_id << ": " << projections::ValidateEvent(event);
      absl::Time occurred = absl::FromUnixSeconds(event.envelope().occurred_at().seconds());
      EXPECT_LT(occurred, kNow) << "an event lies in the future";
      EXPECT_TRUE(event_ids.insert(event.envelope().event_id()).second) << "duplicate event id";
      event.mutable_envelope()->set_stream_version(state.version + 1);
      absl::Status applied = projections::ApplyEvent(state, event);
      ASSERT_TRUE(applied.ok()) << batch.client_id << ": " << applied;
      ++events;
    }
  }
  EXPECT_EQ(cases.size(), 300u);
  EXPECT_GT(events, 300u * 10);
}

TEST_F(DemoCaseloadTest, CoversEveryTrackTargetGroupReasonAndAHandoverPerOrganisation) {
  std::set<int> tracks, target_groups, reasons;
  std::map<std::string, int> intakes_by_organisation;
  int handovers = 0, plans = 0, evaluations = 0, attendance = 0, consents = 0, goals_reached = 0;
  absl::Time earliest = absl::InfiniteFuture();
  for (const DemoBatch& batch : Generate()) {
    for (const v1::Event& e : batch.events) {
      earliest = std::min(earliest, absl::FromUnixSeconds(e.envelope().occurred_at().seconds()));
      if (e.has_intake()) {
        tracks.insert(e.intake().track());
        target_groups.insert(e.intake().target_group());
        ++intakes_by_organisation[e.intake().organisation()];
        EXPECT_FALSE(e.personal_data().family_name().empty());
      }
      if (e.has_terminated()) reasons.insert(e.terminated().reason());
      handovers += e.has_handover();
      plans += e.has_plan_established();
      evaluations += e.has_evaluation_recorded();
      attendance += e.has_attendance_registered();
      consents += e.has_consent_granted();
      goals_reached += e.has_milestone_completed() && !e.milestone_completed().goal_id().empty();
    }
  }
  EXPECT_EQ(tracks.size(), 4u);
  EXPECT_EQ(target_groups.size(), 7u);
  EXPECT_EQ(reasons.size(), 9u);
  EXPECT_GT(intakes_by_organisation["vluchtelingenwerk"], 150);
  EXPECT_GT(intakes_by_organisation["goedwerk"], 50);
  EXPECT_GT(handovers, 10);
  EXPECT_EQ(consents, handovers);
  EXPECT_GT(plans, 250);
  EXPECT_GT(evaluations, 50);
  EXPECT_GT(goals_reached, 200);
  EXPECT_GT(attendance, 1000);
  // Spread over (up to) eighteen months.
  EXPECT_LT(earliest, kNow - absl::Hours(24 * 500));
}

TEST_F(DemoCaseloadTest, IsDeterministicForTheSameSeedAndDay) {
  std::vector<DemoBatch> a = Generate(50), b = Generate(50), c = Generate(50, 7);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].events.size(), b[i].events.size());
    for (size_t j = 0; j < a[i].events.size(); ++j) {
      EXPECT_EQ(a[i].events[j].SerializeAsString(), b[i].events[j].SerializeAsString());
    }
  }
  EXPECT_NE(a[0].events[0].envelope().event_id(), c[0].events[0].envelope().event_id());
}

}  // namespace
}  // namespace caseledger::tools
