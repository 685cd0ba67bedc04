// The one write path serializes events in place (ToProposedEventInPlace);
// the bytes must be exactly those of ToProposedEvent, or an exact retry of an
// event stored by one path would no longer match through the other, and the
// event must come back unchanged.
#include "projections/event_mapping.h"

#include <gtest/gtest.h>

#include "caseledger/v1/ledger_service.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/event_builders.h"
#include "storage/status_macros.h"
#include "tests/test_util.h"

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

// Every kind of event, as the tests above build them, with an unknown field
// from a newer client and one without envelope.
std::vector<v1::Event> EveryKindOfEvent(const std::string& prefix) {
  using namespace caseledger::testing;
  std::vector<v1::Event> events = {
      IntakeEvent(prefix + "i", "vluchtelingenwerk"), ScreeningEvent(prefix + "s"), AssignEvent(prefix + "a"),
      PlanEvent(prefix + "p"), PlanRevisedEvent(prefix + "pr"), ConsentEvent(prefix + "k", "k1", {"goedwerk"}),
      RevokeEvent(prefix + "r", "k1"), HandoverEvent(prefix + "h", "vluchtelingenwerk", "goedwerk"),
      AttendanceEvent(prefix + "at"), TerminatedEvent(prefix + "t"), CorrectedEvent(prefix + "c", prefix + "i")};
  for (const v1::Event& e : OtherFacts(prefix + "o")) events.push_back(e);
  v1::Event unknown = ScreeningEvent(prefix + "u");
  unknown.GetReflection()->MutableUnknownFields(&unknown)->AddVarint(9999, 7);
  events.push_back(unknown);
  v1::Event personal_attendance = AttendanceEvent(prefix + "pa");
  personal_attendance.mutable_personal_data()->set_given_names("Amina");
  events.push_back(personal_attendance);
  return events;
}

// The bytes EventWireWriter writes parse into the very Event that
// FillFromRecordedEvent builds: for every kind of event, with the personal
// data opened, without it, and after the client's key was destroyed.
TEST(EventWireWriterTest, WritesTheBytesOfTheEventFillFromRecordedEventBuilds) {
  caseledger::testing::ScopedTempDir dir;
  auto store = storage::EventStore::Open(dir.Sub("db"));
  ASSERT_TRUE(store.ok()) << store.status();
  auto master = storage::LoadOrCreateMasterKey(dir.Sub("master.key"));
  ASSERT_TRUE(master.ok());
  auto vault = storage::KeyVault::Open(store->get(), *master);
  ASSERT_TRUE(vault.ok());

  for (const std::string client : {"c-open", "c-erased"}) {
    std::vector<storage::ProposedEvent> proposed;
    for (v1::Event& e : EveryKindOfEvent(client + "-")) {
      storage::ProposedEvent p = ToProposedEvent(e, "vluchtelingenwerk", "begeleider-1");
      if (!p.personal.empty()) {
        auto sealed = (*vault)->Seal(client, p.event_id, p.personal);
        ASSERT_TRUE(sealed.ok());
        p.personal = *sealed;
      }
      proposed.push_back(std::move(p));
    }
    ASSERT_TRUE((*store)->Append(client, storage::ExpectedVersion::Any(), std::move(proposed)).ok());
  }
  ASSERT_TRUE((*vault)->Destroy("c-erased", "test", absl::Now()).ok());

  for (const std::string client : {"c-open", "c-erased"}) {
    for (const storage::KeyVault* with : {static_cast<const storage::KeyVault*>(vault->get()),
                                          static_cast<const storage::KeyVault*>(nullptr)}) {
      SCOPED_TRACE(client + (with == nullptr ? " without personal data" : " with personal data"));
      EventWireWriter writer(with);
      std::string wire;
      std::vector<v1::Event> expected;
      int with_personal = 0, erased = 0;
      ASSERT_TRUE((*store)
                      ->VisitStream(client, 1, storage::ReadDirection::kForward, 100,
                                    [&](const storage::EventView& view) {
                                      v1::Event built;
                                      CASELEDGER_RETURN_IF_ERROR(
                                          FillFromRecordedEvent(storage::ToRecordedEvent(view), with, &built));
                                      with_personal += built.has_personal_data() ||
                                                       built.corrected().replacement().has_personal_data();
                                      erased += built.envelope().personal_data_erased();
                                      expected.push_back(std::move(built));
                                      return writer.AppendField(
                                          v1::ReadClientEventsResponse::kEventsFieldNumber, view, &wire);
                                    })
                      .ok());
      v1::ReadClientEventsResponse parsed;
      ASSERT_TRUE(parsed.ParseFromString(wire));
      ASSERT_EQ(parsed.events_size(), static_cast<int>(expected.size()));
      ASSERT_GE(expected.size(), 15u);
      for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed.events(i), expected[i]))
            << "written:\n" << parsed.events(i).DebugString() << "built:\n" << expected[i].DebugString();
      }
      // The comparison covered what it is meant to: opened personal data
      // (including a correction's), and erased data.
      if (with != nullptr && client == "c-open") {
        EXPECT_EQ(with_personal, 3);
      } else if (with != nullptr) {
        EXPECT_EQ(erased, 3);
      } else {
        EXPECT_EQ(with_personal + erased, 0);
      }
    }
  }
}

TEST(EventWireWriterTest, APayloadThatDoesNotParseIsDataLoss) {
  EventWireWriter writer(nullptr);
  storage::EventView view;
  view.global_position = 7;
  std::string out;
  for (absl::string_view bad : {absl::string_view("\x82\x01\x05" "ab", 5), absl::string_view("\x82", 1),
                                absl::string_view("\x00\x01", 2),
                                // an envelope or personal data inside the payload, which the store never writes
                                absl::string_view("\x0a\x02\x0a\x00", 4), absl::string_view("\x12\x00", 2)}) {
    view.payload = bad;
    absl::Status status = writer.AppendField(1, view, &out);
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(status.message(), "the payload of the event at global position 7 does not parse");
  }
  EXPECT_TRUE(out.empty()) << "nothing is written for an event that does not parse";
}

}  // namespace
}  // namespace caseledger::projections
