// The ledger API over the wire: the real server (LedgerServer) on a loopback
// port with mutual TLS and generated development certificates.
#include <gtest/gtest.h>

#include <cstdlib>
#include <mutex>
#include <thread>

#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "absl/strings/str_cat.h"
#include "caseledger/v1/ledger_service.grpc.pb.h"
#include "tests/event_builders.h"
#include "tests/integration/in_process_server.h"

namespace caseledger::testing {
namespace {

struct AppendOutcome {
  grpc::Status status;
  v1::AppendEventsResponse response;
};

class LedgerApiTest : public InProcessServerTest {
 protected:
  // The stall watchdog has its own test (overload_test); here a subscriber
  // that stops reading must only be held up by flow control, however slow the
  // build (under ThreadSanitizer these appends take minutes).
  void Configure(services::ServerConfig& config) override {
    config.subscriber_stall_timeout = absl::Minutes(30);
  }

  std::unique_ptr<v1::LedgerService::Stub> Stub(const std::string& identity) {
    return v1::LedgerService::NewStub(Channel(identity));
  }

  AppendOutcome Append(const std::string& identity, const std::string& client,
                       std::vector<v1::Event> events, v1::ExpectedVersion expected = {},
                       const std::string& user = "begeleider-1") {
    v1::AppendEventsRequest req;
    req.set_client_id(client);
    *req.mutable_expected_version() = expected;
    for (auto& e : events) *req.add_events() = std::move(e);
    AppendOutcome out;
    grpc::ClientContext ctx;
    Prepare(ctx, user);
    out.status = Stub(identity)->AppendEvents(&ctx, req, &out.response);
    return out;
  }

  grpc::Status Read(const std::string& identity, const std::string& client,
                    v1::ReadClientEventsResponse* response, uint64_t from = 0, uint32_t limit = 0,
                    v1::ReadDirection direction = v1::READ_DIRECTION_FORWARD) {
    v1::ReadClientEventsRequest req;
    req.set_client_id(client);
    req.set_from_version(from);
    req.set_limit(limit);
    req.set_direction(direction);
    req.set_purpose("test");
    grpc::ClientContext ctx;
    Prepare(ctx, "reader-1");
    return Stub(identity)->ReadClientEvents(&ctx, req, response);
  }

  static v1::ExpectedVersion Exact(uint64_t v) {
    v1::ExpectedVersion e;
    e.set_exact(v);
    return e;
  }
  static v1::ExpectedVersion NoStream() {
    v1::ExpectedVersion e;
    e.set_no_stream(true);
    return e;
  }

  // Appends an intake for `client` at vluchtelingenwerk.
  void Intake(const std::string& client, const std::string& prefix) {
    AppendOutcome r = Append("vluchtelingenwerk", client, {IntakeEvent(prefix + "-intake", "vluchtelingenwerk")});
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  }

  // Expects `outcome` to fail with `code` and `message`, and nothing written.
  void ExpectRefused(const AppendOutcome& outcome, grpc::StatusCode code, const std::string& message,
                     uint64_t last_position_before) {
    EXPECT_EQ(outcome.status.error_code(), code) << outcome.status.error_message();
    EXPECT_EQ(outcome.status.error_message(), message);
    EXPECT_EQ(server_->store()->LastPosition(), last_position_before) << "a refused append wrote";
  }

};

TEST_F(LedgerApiTest, EveryMissionEventIsAppendedAndReadBack) {
  // Intake, perspectiefplan vastgesteld, aanwezigheid, consent and overdracht at
  // VluchtelingenWerk; then Goedwerk holds the case and terminates it.
  AppendOutcome first = Append("vluchtelingenwerk", "c-100",
                               {IntakeEvent("m-1", "vluchtelingenwerk"), ScreeningEvent("m-2"),
                                AssignEvent("m-3"), PlanEvent("m-4"), AttendanceEvent("m-5"),
                                ConsentEvent("m-6", "k1", {"goedwerk"})},
                               NoStream());
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_EQ(first.response.stream_version(), 6u);
  EXPECT_EQ(first.response.global_positions().size(), 6);
  EXPECT_FALSE(first.response.deduplicated());

  AppendOutcome handover = Append("vluchtelingenwerk", "c-100",
                                  {HandoverEvent("m-7", "vluchtelingenwerk", "goedwerk", "k1")}, Exact(6));
  ASSERT_TRUE(handover.status.ok()) << handover.status.error_message();
  AppendOutcome later = Append("goedwerk", "c-100", {AttendanceEvent("m-8", 60), TerminatedEvent("m-9")},
                               Exact(7), "begeleider-9");
  ASSERT_TRUE(later.status.ok()) << later.status.error_message();
  EXPECT_EQ(later.response.stream_version(), 9u);

  v1::ReadClientEventsResponse read;
  ASSERT_TRUE(Read("goedwerk", "c-100", &read).ok());
  ASSERT_EQ(read.events_size(), 9);
  EXPECT_EQ(read.next_version(), 0u);
  const std::vector<std::string> types = {"Intake", "ScreeningCompleted", "CaseworkerAssigned",
                                          "PlanEstablished", "AttendanceRegistered", "ConsentGranted",
                                          "Handover", "AttendanceRegistered", "Terminated"};
  for (int i = 0; i < 9; ++i) {
    const v1::EventEnvelope& env = read.events(i).envelope();
    EXPECT_EQ(env.type(), types[i]);
    EXPECT_EQ(env.client_id(), "c-100");
    EXPECT_EQ(env.stream_version(), static_cast<uint64_t>(i + 1));
    EXPECT_EQ(env.global_position(), static_cast<uint64_t>(i + 1));
    EXPECT_EQ(env.hash().size(), 32u);
    if (i > 0) {
      EXPECT_EQ(env.previous_hash(), read.events(i - 1).envelope().hash());
    }
    EXPECT_GT(env.recorded_at().seconds(), 0);
  }
  // Who acted comes from the certificate and x-user-id, not from the request.
  EXPECT_EQ(read.events(0).envelope().organisation(), "vluchtelingenwerk");
  EXPECT_EQ(read.events(0).envelope().user_id(), "begeleider-1");
  EXPECT_EQ(read.events(8).envelope().organisation(), "goedwerk");
  EXPECT_EQ(read.events(8).envelope().user_id(), "begeleider-9");
  // Payloads and personal data round-trip.
  v1::Event expected_intake = IntakeEvent("m-1", "vluchtelingenwerk");
  EXPECT_EQ(read.events(0).intake().SerializeAsString(), expected_intake.intake().SerializeAsString());
  EXPECT_EQ(read.events(0).personal_data().family_name(), "Testpersoon");
  EXPECT_EQ(read.events(0).envelope().occurred_at().seconds(),
            expected_intake.envelope().occurred_at().seconds());
  EXPECT_EQ(read.events(6).handover().to_organisation(), "goedwerk");
  EXPECT_EQ(read.events(8).terminated().reason(), v1::TERMINATION_REASON_GOALS_REACHED);
}

TEST_F(LedgerApiTest, TheRestOfTheCatalogueIsAcceptedInItsValidStates) {
  Intake("c-1", "a");
  std::vector<v1::Event> events = OtherFacts("a");
  events.push_back(PlanEvent("a-plan", 51));
  events.push_back(PlanRevisedEvent("a-rev", 52));
  events.push_back(ConsentEvent("a-consent", "k1", {"askv"}, 53));
  events.push_back(RevokeEvent("a-revoke", "k1", 54));
  events.push_back(CorrectedEvent("a-corr", "a-intake", 55));
  AppendOutcome r = Append("vluchtelingenwerk", "c-1", events, Exact(1));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.response.stream_version(), 11u);
}

TEST_F(LedgerApiTest, EveryHardRuleIsRejectedWithItsCodeAndMessageAndNothingWritten) {
  Intake("c-1", "a");
  ASSERT_TRUE(Append("vluchtelingenwerk", "c-2", {IntakeEvent("b-intake", "vluchtelingenwerk"), TerminatedEvent("b-term")}).status.ok());
  const uint64_t before = server_->store()->LastPosition();

  ExpectRefused(Append("vluchtelingenwerk", "c-new", {ScreeningEvent("x1")}),
                grpc::StatusCode::FAILED_PRECONDITION,
                "client c-new has no intake; append an Intake first", before);
  ExpectRefused(Append("vluchtelingenwerk", "c-1", {IntakeEvent("x2", "vluchtelingenwerk")}),
                grpc::StatusCode::FAILED_PRECONDITION,
                "client c-1 already has an intake (version 1); a client has one intake — use a "
                "Handover to move the case",
                before);
  ExpectRefused(Append("vluchtelingenwerk", "c-2", {AttendanceEvent("x3", 201)}),
                grpc::StatusCode::FAILED_PRECONDITION,
                "client c-2 was terminated (beëindigd) at version 2; after termination only a "
                "Corrected or SubjectErased event may follow, not AttendanceRegistered",
                before);
  ExpectRefused(Append("vluchtelingenwerk", "c-1", {HandoverEvent("x4", "vluchtelingenwerk", "goedwerk")}),
                grpc::StatusCode::FAILED_PRECONDITION,
                "handover of client c-1 to goedwerk needs the client's consent to share with "
                "goedwerk; record a ConsentGranted naming goedwerk first",
                before);
  ExpectRefused(Append("vluchtelingenwerk", "c-new", {PlanEvent("x5")}),
                grpc::StatusCode::FAILED_PRECONDITION,
                "client c-new has no intake; append an Intake first", before);
  v1::Event one_decider = TerminatedEvent("x6");
  one_decider.mutable_terminated()->clear_decided_by_begeleider();
  ExpectRefused(Append("vluchtelingenwerk", "c-1", {one_decider}), grpc::StatusCode::FAILED_PRECONDITION,
                "termination of client c-1 needs both deciders: set "
                "terminated.decided_by_begeleider and terminated.decided_by_casemanager",
                before);
  ExpectRefused(Append("vluchtelingenwerk", "c-1", {ScreeningEvent("x7", -1)}),
                grpc::StatusCode::FAILED_PRECONDITION,
                "occurred_at 2026-03-01T09:00:00Z lies before client c-1's intake "
                "(2026-03-02T09:00:00Z); an event cannot happen before the intake",
                before);
  // A batch is atomic: a valid first event does not get written when the second breaks a rule.
  ExpectRefused(Append("vluchtelingenwerk", "c-1", {AttendanceEvent("x8"), PlanRevisedEvent("x9")}),
                grpc::StatusCode::FAILED_PRECONDITION,
                "events[1]: client c-1 has no perspectiefplan yet; append PlanEstablished before "
                "PlanRevised",
                before);
}

TEST_F(LedgerApiTest, ACorrectionMustNameAnEarlierEventOfTheSameClient) {
  Intake("c-1", "a");
  Intake("c-2", "b");
  const uint64_t before = server_->store()->LastPosition();
  ExpectRefused(Append("vluchtelingenwerk", "c-1", {CorrectedEvent("k1", "nope", 3)}),
                grpc::StatusCode::FAILED_PRECONDITION,
                "client c-1 has no event with id 'nope'; a correction must name an earlier event "
                "of the same client",
                before);
  // b-intake exists, but it is c-2's.
  ExpectRefused(Append("vluchtelingenwerk", "c-1", {CorrectedEvent("k2", "b-intake", 3)}),
                grpc::StatusCode::FAILED_PRECONDITION,
                "client c-1 has no event with id 'b-intake'; a correction must name an earlier "
                "event of the same client",
                before);
  ExpectRefused(Append("vluchtelingenwerk", "c-1", {AttendanceEvent("k3"), CorrectedEvent("k4", "k5", 16)}),
                grpc::StatusCode::FAILED_PRECONDITION,
                "events[1]: client c-1 has no event with id 'k5'; a correction must name an earlier "
                "event of the same client",
                before);

  AppendOutcome stored = Append("vluchtelingenwerk", "c-1", {CorrectedEvent("k6", "a-intake", 3)});
  ASSERT_TRUE(stored.status.ok()) << stored.status.error_message();
  // An event earlier in the same append may be corrected too.
  AppendOutcome same_batch =
      Append("vluchtelingenwerk", "c-1", {AttendanceEvent("k7"), CorrectedEvent("k8", "k7", 16)});
  ASSERT_TRUE(same_batch.status.ok()) << same_batch.status.error_message();
  EXPECT_EQ(same_batch.response.stream_version(), 4u);
}

TEST_F(LedgerApiTest, MalformedRequestsAreInvalidArgumentNamingTheField) {
  Intake("c-1", "a");
  const uint64_t before = server_->store()->LastPosition();
  v1::Event no_activity = AttendanceEvent("y2");
  no_activity.mutable_attendance_registered()->clear_activity();
  ExpectRefused(Append("vluchtelingenwerk", "c-1", {AttendanceEvent("y1"), no_activity}),
                grpc::StatusCode::INVALID_ARGUMENT,
                "events[1].attendance_registered.activity is not set; choose one of the Activity values",
                before);
  ExpectRefused(Append("vluchtelingenwerk", "c-1", {}), grpc::StatusCode::INVALID_ARGUMENT,
                "events is empty; send at least one event", before);
  ExpectRefused(Append("vluchtelingenwerk", "c-1", {AttendanceEvent("y3")}, {}, ""),
                grpc::StatusCode::INVALID_ARGUMENT,
                "metadata x-user-id is missing; send the id of the person who acts (e.g. the "
                "begeleider) with every AppendEvents call",
                before);
  ExpectRefused(Append("vluchtelingenwerk", "c 1", {IntakeEvent("y4", "vluchtelingenwerk")}),
                grpc::StatusCode::INVALID_ARGUMENT,
                "client_id 'c 1' contains a character outside [A-Za-z0-9._:-]; use only those", before);
  v1::Event future = AttendanceEvent("y5");
  future.mutable_envelope()->mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(2)));
  AppendOutcome r = Append("vluchtelingenwerk", "c-1", {future});
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(r.status.error_message(), "lies in the future"))
      << r.status.error_message();
  v1::Event oversize = AttendanceEvent("y6");
  oversize.mutable_personal_data()->set_notes(std::string(70 * 1024, 'n'));
  r = Append("vluchtelingenwerk", "c-1", {oversize});
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(r.status.error_message(), "the limit is 65536 bytes per event"))
      << r.status.error_message();
  EXPECT_EQ(server_->store()->LastPosition(), before);
}

TEST_F(LedgerApiTest, IdempotentRetryOverTheWire) {
  std::vector<v1::Event> batch = {IntakeEvent("r-1", "vluchtelingenwerk"), ScreeningEvent("r-2")};
  AppendOutcome first = Append("vluchtelingenwerk", "c-1", batch, NoStream());
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  AppendOutcome retry = Append("vluchtelingenwerk", "c-1", batch, NoStream());
  ASSERT_TRUE(retry.status.ok()) << retry.status.error_message();
  EXPECT_TRUE(retry.response.deduplicated());
  EXPECT_EQ(std::vector<uint64_t>(retry.response.global_positions().begin(),
                                  retry.response.global_positions().end()),
            (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(first.response.global_positions().size(), 2);
  EXPECT_EQ(retry.response.stream_version(), 2u);
  EXPECT_EQ(server_->store()->LastPosition(), 2u);
  // The same id with other content is refused.
  std::vector<v1::Event> changed = {IntakeEvent("r-1", "vluchtelingenwerk"), ScreeningEvent("r-2", 3)};
  AppendOutcome conflict = Append("vluchtelingenwerk", "c-1", changed);
  EXPECT_EQ(conflict.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(server_->store()->LastPosition(), 2u);
}

TEST_F(LedgerApiTest, OfTwoConflictingConcurrentAppendsExactlyOneWins) {
  Intake("c-1", "a");
  for (int round = 0; round < 10; ++round) {
    const uint64_t version = 1 + round;
    AppendOutcome a, b;
    std::thread ta([&] { a = Append("vluchtelingenwerk", "c-1", {AttendanceEvent(absl::StrCat("ra", round))}, Exact(version)); });
    std::thread tb([&] { b = Append("vluchtelingenwerk", "c-1", {AttendanceEvent(absl::StrCat("rb", round))}, Exact(version)); });
    ta.join();
    tb.join();
    ASSERT_NE(a.status.ok(), b.status.ok()) << a.status.error_message() << " / " << b.status.error_message();
    const grpc::Status& lost = a.status.ok() ? b.status : a.status;
    EXPECT_EQ(lost.error_code(), grpc::StatusCode::ABORTED);
    EXPECT_EQ(lost.error_message(),
              absl::StrCat("client c-1 is at version ", version + 1, " but the append expected version ",
                           version, "; read the client's events from version ", version + 2,
                           " and retry with expected_version ", version + 1));
  }
  EXPECT_EQ(*server_->store()->StreamVersion("c-1"), 11u);
}

TEST_F(LedgerApiTest, ConcurrentAppendsWithAnyVersionAllSucceedAndKeepTheRules) {
  Intake("c-1", "a");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::mutex mu;
  std::string first_failure;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        const grpc::Status s =
            Append("vluchtelingenwerk", "c-1", {AttendanceEvent(absl::StrCat("any-", t, "-", i))}).status;
        if (!s.ok()) {
          ++failures;
          std::lock_guard<std::mutex> lock(mu);
          if (first_failure.empty()) first_failure = absl::StrCat(s.error_code(), ": ", s.error_message());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_EQ(*server_->store()->StreamVersion("c-1"), 41u);
}

TEST_F(LedgerApiTest, ReadsPageForwardAndBackward) {
  Intake("c-1", "a");
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(Append("vluchtelingenwerk", "c-1", {AttendanceEvent(absl::StrCat("p", i))}).status.ok());
  }
  v1::ReadClientEventsResponse page;
  ASSERT_TRUE(Read("vluchtelingenwerk", "c-1", &page, 0, 3).ok());
  ASSERT_EQ(page.events_size(), 3);
  EXPECT_EQ(page.next_version(), 4u);
  v1::ReadClientEventsResponse page2;
  ASSERT_TRUE(Read("vluchtelingenwerk", "c-1", &page2, page.next_version(), 3).ok());
  EXPECT_EQ(page2.events(0).envelope().stream_version(), 4u);
  EXPECT_EQ(page2.next_version(), 7u);
  v1::ReadClientEventsResponse page3;
  ASSERT_TRUE(Read("vluchtelingenwerk", "c-1", &page3, page2.next_version(), 3).ok());
  EXPECT_EQ(page3.events_size(), 1);
  EXPECT_EQ(page3.next_version(), 0u);
  v1::ReadClientEventsResponse back;
  ASSERT_TRUE(Read("vluchtelingenwerk", "c-1", &back, 0, 2, v1::READ_DIRECTION_BACKWARD).ok());
  ASSERT_EQ(back.events_size(), 2);
  EXPECT_EQ(back.events(0).envelope().stream_version(), 7u);
  EXPECT_EQ(back.next_version(), 5u);
  v1::ReadClientEventsResponse too_big;
  grpc::Status s = Read("vluchtelingenwerk", "c-1", &too_big, 0, 5000);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "limit is 5000; the most per page is 1000");
  v1::ReadClientEventsResponse missing;
  s = Read("vluchtelingenwerk", "c-none", &missing);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "client c-none has no events; check the client id");
}

// ReadClientEvents reads its request from bytes (a raw method): bytes that
// are no ReadClientEventsRequest are refused, and not recorded as a read.
TEST_F(LedgerApiTest, AReadRequestThatDoesNotParseIsInvalidArgumentAndNotRecorded) {
  Intake("c-1", "a");
  const uint64_t logged_before = server_->access_log()->LastSequence();
  grpc::GenericStub generic(Channel("vluchtelingenwerk"));
  const std::string garbage = "\xff\xff\xff";
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::ClientContext ctx;
  Prepare(ctx, "reader-1");
  absl::Notification done;
  grpc::Status status;
  generic.UnaryCall(&ctx, "/caseledger.v1.LedgerService/ReadClientEvents", grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) {
                      status = std::move(s);
                      done.Notify();
                    });
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "the request is not a caseledger.v1.ReadClientEventsRequest; send one");
  EXPECT_EQ(server_->access_log()->LastSequence(), logged_before);

  // The same call with a real request is answered, and recorded.
  v1::ReadClientEventsResponse page;
  ASSERT_TRUE(Read("vluchtelingenwerk", "c-1", &page).ok());
  EXPECT_EQ(page.events_size(), 1);
  EXPECT_EQ(server_->access_log()->LastSequence(), logged_before + 1);
}

TEST_F(LedgerApiTest, AccessIsRefusedWithTheRightCodeAndRefusedWritesChangeNothing) {
  Intake("c-1", "a");
  const uint64_t before = server_->store()->LastPosition();
  // Wrong organisation: Goedwerk does not hold c-1.
  ExpectRefused(Append("goedwerk", "c-1", {AttendanceEvent("z1")}), grpc::StatusCode::PERMISSION_DENIED,
                "client c-1 is held by vluchtelingenwerk; goedwerk may not append to it (only the "
                "holding organisation may; a Handover moves a case)",
                before);
  // An intake on behalf of another organisation.
  ExpectRefused(Append("goedwerk", "c-9", {IntakeEvent("z2", "vluchtelingenwerk")}),
                grpc::StatusCode::PERMISSION_DENIED,
                "goedwerk cannot record an intake for vluchtelingenwerk; set intake.organisation to "
                "your own organisation",
                before);
  // Wrong roles.
  ExpectRefused(Append("auditor", "c-1", {AttendanceEvent("z3")}), grpc::StatusCode::PERMISSION_DENIED,
                "AppendEvents needs the partner role; your certificate (auditor) has role auditor", before);
  ExpectRefused(Append("gemeente", "c-1", {AttendanceEvent("z4")}), grpc::StatusCode::PERMISSION_DENIED,
                "AppendEvents needs the partner role; your certificate (gemeente) has role municipality",
                before);
  // No client certificate: the TLS handshake fails.
  AppendOutcome no_certificate = Append("", "c-1", {AttendanceEvent("z5")});
  EXPECT_EQ(no_certificate.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << no_certificate.status.error_message();
  EXPECT_EQ(server_->store()->LastPosition(), before);

  v1::ReadClientEventsResponse read;
  grpc::Status s = Read("goedwerk", "c-1", &read);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "goedwerk neither holds client c-1 nor is named in a current consent of the client; ask "
            "the holding organisation (vluchtelingenwerk) to record the client's ConsentGranted");
  s = Read("gemeente", "c-1", &read);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "the municipality role reads no raw events; use the caseload views and reports");
  s = Read("admin", "c-1", &read);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // Consent makes Goedwerk a reader (with personal data); revoking it ends that.
  ASSERT_TRUE(Append("vluchtelingenwerk", "c-1", {ConsentEvent("z6", "k1", {"goedwerk"})}).status.ok());
  v1::ReadClientEventsResponse consented;
  ASSERT_TRUE(Read("goedwerk", "c-1", &consented).ok());
  EXPECT_EQ(consented.events(0).personal_data().family_name(), "Testpersoon");
  ASSERT_TRUE(Append("vluchtelingenwerk", "c-1", {RevokeEvent("z7", "k1")}).status.ok());
  EXPECT_EQ(Read("goedwerk", "c-1", &read).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // The auditor reads everything, without personal data.
  v1::ReadClientEventsResponse audited;
  ASSERT_TRUE(Read("auditor", "c-1", &audited).ok());
  EXPECT_EQ(audited.events_size(), 3);
  EXPECT_FALSE(audited.events(0).has_personal_data());
  EXPECT_EQ(audited.events(0).intake().organisation(), "vluchtelingenwerk");
}

TEST_F(LedgerApiTest, ReadAllIsForAuditorsAndPages) {
  Intake("c-1", "a");
  Intake("c-2", "b");
  v1::ReadAllRequest req;
  req.set_limit(1);
  v1::ReadAllResponse resp;
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    grpc::Status s = Stub("goedwerk")->ReadAll(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(s.error_message(),
              "ReadAll returns every client's events and needs the auditor role; your certificate "
              "(goedwerk) has role partner; partners read their clients with ReadClientEvents");
  }
  grpc::ClientContext ctx;
  Prepare(ctx, "");
  ASSERT_TRUE(Stub("auditor")->ReadAll(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.events_size(), 1);
  EXPECT_EQ(resp.next_position(), 2u);
  EXPECT_EQ(resp.last_position(), 2u);
  EXPECT_FALSE(resp.events(0).has_personal_data());
}

TEST_F(LedgerApiTest, SubscriptionSeesEveryEventOnceInOrderAndResumesFromACheckpoint) {
  Intake("c-1", "a");
  ASSERT_TRUE(Append("vluchtelingenwerk", "c-1", {ScreeningEvent("s-0")}).status.ok());

  grpc::ClientContext ctx;
  Prepare(ctx, "");
  auto stub = Stub("auditor");
  v1::SubscribeRequest req;
  auto reader = stub->Subscribe(&ctx, req);

  // Appends while the subscription runs.
  std::thread writer([&] {
    for (int i = 0; i < 30; ++i) {
      Append("vluchtelingenwerk", absl::StrCat("c-", 2 + i % 3),
             {IntakeEvent(absl::StrCat("s-i", i), "vluchtelingenwerk")});
    }
  });
  // Intakes of c-2..c-4 succeed once each; the other 27 are refused (one intake per client).
  std::vector<uint64_t> positions;
  uint64_t last_checkpoint = 0;
  uint64_t checkpoint_after_three = 0;
  v1::SubscribeResponse item;
  while (positions.size() < 5 && reader->Read(&item)) {
    if (item.has_event()) {
      positions.push_back(item.event().envelope().global_position());
      EXPECT_FALSE(item.event().has_personal_data());
    } else {
      last_checkpoint = item.checkpoint().next_position();
      if (positions.size() >= 3 && checkpoint_after_three == 0) checkpoint_after_three = last_checkpoint;
    }
  }
  writer.join();
  ctx.TryCancel();
  reader->Finish().IgnoreError();
  EXPECT_EQ(positions, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(server_->store()->LastPosition(), 5u);
  ASSERT_GT(checkpoint_after_three, 0u);

  // Resume from a checkpoint: exactly the rest, no gap, no duplicate.
  grpc::ClientContext ctx2;
  Prepare(ctx2, "");
  v1::SubscribeRequest resume;
  resume.set_from_position(checkpoint_after_three);
  auto reader2 = stub->Subscribe(&ctx2, resume);
  std::vector<uint64_t> rest;
  while (reader2->Read(&item)) {
    if (item.has_event()) rest.push_back(item.event().envelope().global_position());
    if (item.has_checkpoint() && item.checkpoint().next_position() == 6) break;
  }
  ctx2.TryCancel();
  reader2->Finish().IgnoreError();
  std::vector<uint64_t> expected;
  for (uint64_t p = checkpoint_after_three; p <= 5; ++p) expected.push_back(p);
  EXPECT_EQ(rest, expected);
}

TEST_F(LedgerApiTest, ASubscriberThatStopsReadingDoesNotHoldUpAppends) {
  Intake("c-1", "a");
  grpc::ClientContext ctx;
  Prepare(ctx, "");
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(30));
  auto stub = Stub("auditor");
  auto reader = stub->Subscribe(&ctx, v1::SubscribeRequest());
  v1::SubscribeResponse item;
  ASSERT_TRUE(reader->Read(&item));  // the subscription is live; now it stops reading

  // Far more than gRPC's flow-control window (about 8 MB of events), appended
  // while the subscriber reads nothing: every append must still complete.
  const int kBatches = 40;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<v1::Event> events;
    for (int i = 0; i < 20; ++i) {
      v1::Event e = AttendanceEvent(absl::StrCat("slow-", b, "-", i));
      e.mutable_attendance_registered()->set_description(std::string(10 * 1024, 'd'));
      events.push_back(std::move(e));
    }
    AppendOutcome r = Append("vluchtelingenwerk", "c-1", std::move(events));
    ASSERT_TRUE(r.status.ok()) << "batch " << b << ": " << r.status.error_message();
  }
  const uint64_t last = server_->store()->LastPosition();
  EXPECT_EQ(last, 1u + kBatches * 20);

  // The subscriber then catches up with every event, in order, none lost.
  uint64_t expected = item.has_event() ? item.event().envelope().global_position() + 1 : 1;
  while (expected <= last && reader->Read(&item)) {
    if (!item.has_event()) continue;
    ASSERT_EQ(item.event().envelope().global_position(), expected);
    ++expected;
  }
  EXPECT_EQ(expected, last + 1);
  ctx.TryCancel();
  reader->Finish().IgnoreError();
}

TEST_F(LedgerApiTest, SubscriptionIsForAuditorsAndEndsPromptlyOnShutdown) {
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    auto reader = Stub("vluchtelingenwerk")->Subscribe(&ctx, v1::SubscribeRequest());
    v1::SubscribeResponse item;
    EXPECT_FALSE(reader->Read(&item));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
    // The refused subscription is in the access log, against the whole log ("*").
    auto logged = server_->access_log()->ListForClient("*", 0, 10);
    ASSERT_EQ(logged->size(), 1u);
    EXPECT_EQ((*logged)[0].call, "LedgerService.Subscribe");
    EXPECT_EQ((*logged)[0].organisation, "vluchtelingenwerk");
    EXPECT_EQ((*logged)[0].outcome, "PERMISSION_DENIED");
  }
  grpc::ClientContext ctx;
  Prepare(ctx, "");
  auto stub = Stub("auditor");
  auto reader = stub->Subscribe(&ctx, v1::SubscribeRequest());
  absl::Time start = absl::Now();
  std::thread stopper([&] {
    absl::SleepFor(absl::Milliseconds(300));
    server_->Shutdown(absl::Seconds(30));
  });
  v1::SubscribeResponse item;
  while (reader->Read(&item)) {
  }
  grpc::Status s = reader->Finish();
  stopper.join();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10)) << "shutdown waited for the subscriber";
}

}  // namespace
}  // namespace caseledger::testing
