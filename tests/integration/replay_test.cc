// ReplayClient and the offline verifier: a replay equals the appended history,
// verifies with the public key alone, and every kind of alteration — of the
// saved file or of the stored event itself — is named at its position.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "caseledger/v1/audit_service.grpc.pb.h"
#include "caseledger/v1/ledger_service.grpc.pb.h"
#include "tests/raw_database.h"
#include "storage/column_families.h"
#include "tests/event_builders.h"
#include "tests/integration/in_process_server.h"
#include "tools/replay_verifier.h"

namespace caseledger::testing {
namespace {

class ReplayTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    auto ledger = v1::LedgerService::NewStub(Channel("vluchtelingenwerk"));
    appended_ = {IntakeEvent("r-1", "vluchtelingenwerk"), ScreeningEvent("r-2"), PlanEvent("r-3"),
                 AttendanceEvent("r-4"), ConsentEvent("r-5", "k1", {"goedwerk"})};
    // Interleave another client so positions and versions differ.
    for (size_t i = 0; i < appended_.size(); ++i) {
      for (const auto& [client, event] : std::vector<std::pair<std::string, v1::Event>>{
               {"c-1", appended_[i]}, {"c-2", IntakeEvent(absl::StrCat("other-", i), "vluchtelingenwerk")}}) {
        if (client == "c-2" && i > 0) continue;
        grpc::ClientContext ctx;
        Prepare(ctx, "begeleider-1");
        v1::AppendEventsRequest req;
        req.set_client_id(client);
        *req.add_events() = event;
        v1::AppendEventsResponse resp;
        ASSERT_TRUE(ledger->AppendEvents(&ctx, req, &resp).ok());
      }
    }
    pem_ = PublicKey();
  }

  std::string PublicKey() {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    v1::PublicKey key;
    EXPECT_TRUE(v1::AuditService::NewStub(Channel("auditor"))->GetPublicKey(&ctx, {}, &key).ok());
    return key.pem();
  }

  grpc::Status Replay(const std::string& identity, const std::string& client, v1::ClientReplay* out) {
    grpc::ClientContext ctx;
    Prepare(ctx, "auditor-1");
    v1::ReplayClientRequest req;
    req.set_client_id(client);
    req.set_purpose("jaarcontrole");
    auto reader = v1::AuditService::NewStub(Channel(identity))->ReplayClient(&ctx, req);
    out->set_client_id(client);
    v1::ReplayItem item;
    while (reader->Read(&item)) {
      if (item.has_tree_head()) *out->mutable_tree_head() = item.tree_head();
      if (item.has_event()) *out->add_events() = item.event();
    }
    return reader->Finish();
  }

  void ExpectRejected(const v1::ClientReplay& replay, const std::string& message) {
    auto check = tools::VerifyClientReplay(replay, pem_);
    EXPECT_EQ(check.status().code(), absl::StatusCode::kDataLoss) << message;
    EXPECT_EQ(check.status().message(), message);
  }

  std::vector<v1::Event> appended_;
  std::string pem_;
};

TEST_F(ReplayTest, AReplayEqualsTheAppendedHistoryAndVerifiesOffline) {
  v1::ClientReplay replay;
  ASSERT_TRUE(Replay("auditor", "c-1", &replay).ok());
  ASSERT_EQ(replay.events_size(), 5);
  EXPECT_EQ(replay.tree_head().tree_size(), 6u);
  for (int i = 0; i < 5; ++i) {
    const v1::Event& e = replay.events(i).event();
    EXPECT_EQ(e.envelope().event_id(), appended_[i].envelope().event_id());
    EXPECT_EQ(e.envelope().stream_version(), static_cast<uint64_t>(i + 1));
    EXPECT_EQ(e.envelope().user_id(), "begeleider-1");
    EXPECT_FALSE(e.has_personal_data()) << "a replay carries no personal data";
    v1::Event payload = appended_[i];
    payload.clear_envelope();
    payload.clear_personal_data();
    v1::Event shown = e;
    shown.clear_envelope();
    EXPECT_EQ(shown.SerializeAsString(), payload.SerializeAsString());
    EXPECT_EQ(replay.events(i).canonical_event().find("Testpersoon"), std::string::npos);
  }
  auto check = tools::VerifyClientReplay(replay, pem_);
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->events, 5u);
  EXPECT_EQ(check->tree_size, 6u);
  // The replay is in the access log.
  auto logged = server_->access_log()->ListForClient("c-1", 0, 10);
  ASSERT_EQ(logged->size(), 1u);
  EXPECT_EQ((*logged)[0].call, "AuditService.ReplayClient");
  EXPECT_EQ((*logged)[0].purpose, "jaarcontrole");
}

TEST_F(ReplayTest, EveryAlterationOfASavedReplayIsNamed) {
  v1::ClientReplay replay;
  ASSERT_TRUE(Replay("auditor", "c-1", &replay).ok());
  const uint64_t p3 = replay.events(2).event().envelope().global_position();

  v1::ClientReplay leaf = replay;
  (*leaf.mutable_events(2)->mutable_canonical_event())[40] ^= 1;
  ExpectRejected(leaf, absl::StrCat("global position ", p3,
                                    ": the event's hash is not the SHA-256 of its canonical bytes"));

  v1::ClientReplay shown = replay;
  shown.mutable_events(2)->mutable_event()->mutable_plan_established()->set_direction(v1::PLAN_DIRECTION_RETURN);
  ExpectRejected(shown, absl::StrCat("global position ", p3,
                                     ": the event as shown differs from what its canonical bytes say"));

  v1::ClientReplay gap = replay;
  gap.mutable_events()->DeleteSubrange(1, 1);
  ExpectRejected(gap, absl::StrCat("global position ", p3,
                                   ": version 3 follows version 1; the replay is missing events"));

  v1::ClientReplay proof = replay;
  (*proof.mutable_events(2)->mutable_inclusion_proof(0))[0] ^= 1;
  ExpectRejected(proof, absl::StrCat("global position ", p3,
                                     ": not in the signed tree head: the inclusion proof does not lead to the root"));

  v1::ClientReplay head = replay;
  head.mutable_tree_head()->set_tree_size(7);
  ExpectRejected(head, "tree head of size 7: the tree head's signature does not match the public key");

  v1::ClientReplay other_client = replay;
  other_client.set_client_id("c-2");
  ExpectRejected(other_client, absl::StrCat("global position ", replay.events(0).event().envelope().global_position(),
                                            ": the event belongs to client c-1, not c-2"));
}

TEST_F(ReplayTest, AByteChangedInTheStoredEventIsNamedByTheOfflineVerifier) {
  v1::ClientReplay before;
  ASSERT_TRUE(Replay("auditor", "c-1", &before).ok());
  const uint64_t p4 = before.events(3).event().envelope().global_position();
  server_.reset();
  // A byte of the canonical part (a third of the way in: inside the envelope strings).
  EditStoredValue(dir_.Sub("ledger"), storage::kEventsCf, storage::EventKey(p4),
                  [](std::string& value) { value[value.size() / 3] ^= 0x01; });
  StartServer();
  v1::ClientReplay after;
  ASSERT_TRUE(Replay("auditor", "c-1", &after).ok());
  ExpectRejected(after, absl::StrCat("global position ", p4,
                                     ": the event's hash is not the SHA-256 of its canonical bytes"));
}

TEST_F(ReplayTest, SavedTreeHeadsAreCheckedForConsistency) {
  auto audit = v1::AuditService::NewStub(Channel("auditor"));
  auto head = [&] {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    v1::SignedTreeHead h;
    EXPECT_TRUE(audit->GetTreeHead(&ctx, {}, &h).ok());
    return h;
  };
  v1::SignedTreeHead old_head = head();
  {
    auto ledger = v1::LedgerService::NewStub(Channel("vluchtelingenwerk"));
    grpc::ClientContext ctx;
    Prepare(ctx, "begeleider-1");
    v1::AppendEventsRequest req;
    req.set_client_id("c-3");
    *req.add_events() = IntakeEvent("late-1", "vluchtelingenwerk");
    v1::AppendEventsResponse resp;
    ASSERT_TRUE(ledger->AppendEvents(&ctx, req, &resp).ok());
  }
  v1::SignedTreeHead new_head = head();
  grpc::ClientContext ctx;
  Prepare(ctx, "");
  v1::GetConsistencyProofRequest req;
  req.set_old_size(old_head.tree_size());
  req.set_new_size(new_head.tree_size());
  v1::ConsistencyProof proof;
  ASSERT_TRUE(audit->GetConsistencyProof(&ctx, req, &proof).ok());
  EXPECT_TRUE(tools::VerifyHeadsConsistent(old_head, new_head, proof, pem_).ok());
  v1::SignedTreeHead forged = new_head;
  (*forged.mutable_root_hash())[3] ^= 1;
  EXPECT_EQ(tools::VerifyHeadsConsistent(old_head, forged, proof, pem_).code(), absl::StatusCode::kDataLoss);
  v1::ConsistencyProof bad = proof;
  (*bad.mutable_hashes(0))[0] ^= 1;
  absl::Status s = tools::VerifyHeadsConsistent(old_head, new_head, bad, pem_);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StartsWith(s.message(), "the tree heads of size 6 and 7 are not consistent: ")) << s;
}

TEST_F(ReplayTest, OnlyAuditorsReplayAndUnknownClientsAreNotFound) {
  v1::ClientReplay replay;
  EXPECT_EQ(Replay("vluchtelingenwerk", "c-1", &replay).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status missing = Replay("auditor", "c-404", &replay);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_message(), "client c-404 has no events; check the client id");
  // Both refusals are in the access log.
  EXPECT_EQ(server_->access_log()->ListForClient("c-1", 0, 10)->at(0).outcome, "PERMISSION_DENIED");
  EXPECT_EQ(server_->access_log()->ListForClient("c-404", 0, 10)->at(0).outcome, "NOT_FOUND");
}

}  // namespace
}  // namespace caseledger::testing
