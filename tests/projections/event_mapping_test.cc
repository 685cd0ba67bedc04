// The one write path serializes events in place (ToProposedEventInPlace);
// the bytes must be exactly those of ToProposedEvent, or an exact retry of an
// event stored by one path would no longer match through the other, and the
// event must come back unchanged.
#include "projections/event_mapping.h"

#include <gtest/gtest.h>

#include "tests/event_builders.h"

namespace caseledger::projections {
namespace {

TEST(EventMappingTest, InPlaceSerializationGivesTheSameBytesAndLeavesTheEventAsItWas) {
  using namespace caseledger::testing;
  std::vector<v1::Event> events = {IntakeEvent("i", "vluchtelingenwerk"), ScreeningEvent("s"), AssignEvent("a"),
                                   PlanEvent("p"), PlanRevisedEvent("pr"), ConsentEvent("k", "k1", {"goedwerk"}),
                                   RevokeEvent("r", "k1"), HandoverEvent("h", "vluchtelingenwerk", "goedwerk"),
                                   AttendanceEvent("at"), TerminatedEvent("t"), CorrectedEvent("c", "i")};
  for (const v1::Event& e : OtherFacts("o")) events.push_back(e);
  v1::Event no_envelope = AttendanceEvent("x");
  no_envelope.clear_envelope();
  events.push_back(no_envelope);
  v1::Event unknown = ScreeningEvent("u");  // a field from a newer client, kept as an unknown field
  unknown.GetReflection()->MutableUnknownFields(&unknown)->AddVarint(9999, 7);
  events.push_back(unknown);
  ASSERT_TRUE(events[0].has_personal_data());
  ASSERT_TRUE(events[10].corrected().replacement().has_personal_data());

  for (v1::Event& e : events) {
    const std::string before = e.SerializeAsString();
    const storage::ProposedEvent copied = ToProposedEvent(e, "vluchtelingenwerk", "begeleider-1");
    const storage::ProposedEvent in_place = ToProposedEventInPlace(e, "vluchtelingenwerk", "begeleider-1");
    EXPECT_EQ(in_place, copied) << e.DebugString();
    EXPECT_EQ(e.SerializeAsString(), before) << "the event changed: " << e.DebugString();
  }
}

}  // namespace
}  // namespace caseledger::projections
