// The AuditService over the wire: signed tree heads that verify with the
// public key alone, inclusion and consistency proofs, and chain verification
// that names a tampered position.
#include <gtest/gtest.h>

#include "caseledger/v1/audit_service.grpc.pb.h"
#include "caseledger/v1/ledger_service.grpc.pb.h"
#include "tests/raw_database.h"
#include "storage/column_families.h"
#include "storage/merkle.h"
#include "storage/tree_head_signer.h"
#include "tests/event_builders.h"
#include "tests/integration/in_process_server.h"

namespace caseledger::testing {
namespace {

class AuditApiTest : public InProcessServerTest {
 protected:
  // Appends `n` attendance events (after one intake) as VluchtelingenWerk.
  void AppendEvents(const std::string& client, int n) {
    auto stub = v1::LedgerService::NewStub(Channel("vluchtelingenwerk"));
    v1::AppendEventsRequest req;
    req.set_client_id(client);
    if (*server_->store()->StreamVersion(client) == 0) *req.add_events() = IntakeEvent(client + "-in", "vluchtelingenwerk");
    for (int i = 0; i < n; ++i) *req.add_events() = AttendanceEvent(absl::StrCat(client, "-", next_id_++));
    grpc::ClientContext ctx;
    Prepare(ctx, "begeleider-1");
    v1::AppendEventsResponse resp;
    ASSERT_TRUE(stub->AppendEvents(&ctx, req, &resp).ok());
  }

  std::unique_ptr<v1::AuditService::Stub> Audit(const std::string& identity = "auditor") {
    return v1::AuditService::NewStub(Channel(identity));
  }

  v1::SignedTreeHead TreeHead() {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    v1::SignedTreeHead head;
    EXPECT_TRUE(Audit()->GetTreeHead(&ctx, v1::GetTreeHeadRequest(), &head).ok());
    return head;
  }

  std::string PublicKeyPem() {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    v1::PublicKey key;
    EXPECT_TRUE(Audit()->GetPublicKey(&ctx, v1::GetPublicKeyRequest(), &key).ok());
    return key.pem();
  }

  // Checks a tree head's signature the way an offline auditor would.
  absl::Status VerifyHead(const v1::SignedTreeHead& head, const std::string& pem) {
    storage::TreeHead h;
    h.tree_size = head.tree_size();
    if (head.root_hash().size() != 32) return absl::DataLossError("root size");
    std::copy(head.root_hash().begin(), head.root_hash().end(), h.root.begin());
    h.timestamp = absl::FromUnixMicros(head.timestamp().seconds() * 1'000'000 + head.timestamp().nanos() / 1000);
    return storage::TreeHeadSigner::Verify(pem, h, head.signature());
  }

  static std::vector<std::string> Hashes(const google::protobuf::RepeatedPtrField<std::string>& h) {
    return std::vector<std::string>(h.begin(), h.end());
  }

  int next_id_ = 0;
};

TEST_F(AuditApiTest, SignedTreeHeadsAndProofsVerifyWithThePublicKeyAlone) {
  AppendEvents("c-1", 4);
  AppendEvents("c-2", 6);
  const std::string pem = PublicKeyPem();
  v1::SignedTreeHead old_head = TreeHead();
  ASSERT_EQ(old_head.tree_size(), 12u);
  EXPECT_TRUE(VerifyHead(old_head, pem).ok());

  AppendEvents("c-1", 30);
  v1::SignedTreeHead head = TreeHead();
  ASSERT_EQ(head.tree_size(), 42u);
  EXPECT_TRUE(VerifyHead(head, pem).ok());
  EXPECT_EQ(head.key_id().size(), 16u);

  // Every event is included in the signed head, and its leaf is its canonical bytes.
  for (uint64_t position = 1; position <= head.tree_size(); ++position) {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    v1::GetInclusionProofRequest req;
    req.set_global_position(position);
    req.set_tree_size(head.tree_size());
    v1::InclusionProof proof;
    ASSERT_TRUE(Audit()->GetInclusionProof(&ctx, req, &proof).ok());
    std::string leaf = storage::HashBytes(
        storage::MerkleLeafHash(storage::EncodeCanonical(*server_->store()->ReadEvent(position))));
    EXPECT_EQ(proof.leaf_hash(), leaf);
    EXPECT_TRUE(storage::VerifyMerkleInclusion(position - 1, head.tree_size(), proof.leaf_hash(),
                                               Hashes(proof.hashes()), head.root_hash())
                    .ok())
        << "position " << position;
  }

  // The old head is a prefix of the new one.
  grpc::ClientContext ctx;
  Prepare(ctx, "");
  v1::GetConsistencyProofRequest req;
  req.set_old_size(old_head.tree_size());
  v1::ConsistencyProof proof;
  ASSERT_TRUE(Audit()->GetConsistencyProof(&ctx, req, &proof).ok());
  EXPECT_EQ(proof.new_size(), 42u);
  EXPECT_TRUE(storage::VerifyMerkleConsistency(12, 42, Hashes(proof.hashes()), old_head.root_hash(),
                                               head.root_hash())
                  .ok());
  // A head with a forged root fails its signature.
  v1::SignedTreeHead forged = head;
  forged.mutable_root_hash()->at(0) ^= 1;
  EXPECT_EQ(VerifyHead(forged, pem).code(), absl::StatusCode::kDataLoss);
}

TEST_F(AuditApiTest, TheSigningKeySurvivesARestart) {
  AppendEvents("c-1", 2);
  const std::string pem = PublicKeyPem();
  v1::SignedTreeHead before = TreeHead();
  StartServer();
  EXPECT_EQ(PublicKeyPem(), pem);
  v1::SignedTreeHead after = TreeHead();
  EXPECT_EQ(after.root_hash(), before.root_hash());
  EXPECT_TRUE(VerifyHead(after, pem).ok());
}

TEST_F(AuditApiTest, VerifyChainNamesATamperedPosition) {
  AppendEvents("c-1", 20);
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    v1::VerifyChainResponse resp;
    ASSERT_TRUE(Audit()->VerifyChain(&ctx, v1::VerifyChainRequest(), &resp).ok());
    EXPECT_TRUE(resp.intact());
    EXPECT_EQ(resp.checked(), 21u);
  }
  // Change one byte of event 7's payload directly in RocksDB, with the server down.
  server_.reset();
  EditStoredValue(dir_.Sub("ledger"), storage::kEventsCf, storage::EventKey(7),
                  [](std::string& value) { value[value.size() / 2] ^= 0x20; });
  StartServer();
  grpc::ClientContext ctx;
  Prepare(ctx, "");
  v1::VerifyChainResponse resp;
  ASSERT_TRUE(Audit()->VerifyChain(&ctx, v1::VerifyChainRequest(), &resp).ok());
  EXPECT_FALSE(resp.intact());
  EXPECT_EQ(resp.first_broken_position(), 7u);
  EXPECT_EQ(resp.checked(), 6u);
  EXPECT_EQ(resp.problem(), "global position 7: the stored hash does not match the event's content");
}

TEST_F(AuditApiTest, OnlyAuditorsAuditAndBadRangesAreNamed) {
  AppendEvents("c-1", 2);
  for (const char* identity : {"vluchtelingenwerk", "gemeente", "admin"}) {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    v1::SignedTreeHead head;
    grpc::Status s = Audit(identity)->GetTreeHead(&ctx, v1::GetTreeHeadRequest(), &head);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << identity;
  }
  grpc::ClientContext ctx;
  Prepare(ctx, "");
  v1::GetInclusionProofRequest req;
  req.set_global_position(9);
  v1::InclusionProof proof;
  grpc::Status s = Audit()->GetInclusionProof(&ctx, req, &proof);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "global position 9 is not in a tree of size 3; positions run from 1 to the tree size");
  grpc::ClientContext ctx2;
  Prepare(ctx2, "");
  v1::GetConsistencyProofRequest creq;
  creq.set_old_size(2);
  creq.set_new_size(50);
  v1::ConsistencyProof cproof;
  s = Audit()->GetConsistencyProof(&ctx2, creq, &cproof);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "tree size 50 is beyond the log, which holds 3 events; ask for at most 3");
}

TEST_F(AuditApiTest, ACallWithoutATraceIdGetsOneAndItsAccessLogRecordCarriesTheSame) {
  AppendEvents("c-1", 1);
  std::vector<std::string> returned;
  for (const char* identity : {"vluchtelingenwerk", "goedwerk"}) {  // one allowed read, one refused
    grpc::ClientContext ctx;
    Prepare(ctx, "begeleider-1");
    v1::ReadClientEventsRequest req;
    req.set_client_id("c-1");
    req.set_purpose("voortgangsgesprek");
    v1::ReadClientEventsResponse resp;
    v1::LedgerService::NewStub(Channel(identity))->ReadClientEvents(&ctx, req, &resp);
    auto it = ctx.GetServerInitialMetadata().find("x-trace-id");
    ASSERT_NE(it, ctx.GetServerInitialMetadata().end()) << identity;
    returned.emplace_back(it->second.data(), it->second.size());
    EXPECT_EQ(returned.back().size(), 32u) << returned.back();
  }
  EXPECT_NE(returned[0], returned[1]);
  auto records = server_->access_log()->ListForClient("c-1", 0, 10);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].outcome, "OK");
  EXPECT_EQ((*records)[0].trace_id, returned[0]);
  EXPECT_EQ((*records)[1].outcome, "PERMISSION_DENIED");
  EXPECT_EQ((*records)[1].trace_id, returned[1]);
}

TEST_F(AuditApiTest, EveryReadOfClientDataIsInTheAccessLogRefusedOnesIncluded) {
  AppendEvents("c-1", 1);
  auto ledger = [&](const std::string& identity) { return v1::LedgerService::NewStub(Channel(identity)); };
  auto read = [&](const std::string& identity, const std::string& user, const std::string& purpose) {
    grpc::ClientContext ctx;
    Prepare(ctx, user);
    ctx.AddMetadata("x-trace-id", "trace-" + identity);
    v1::ReadClientEventsRequest req;
    req.set_client_id("c-1");
    req.set_purpose(purpose);
    v1::ReadClientEventsResponse resp;
    return ledger(identity)->ReadClientEvents(&ctx, req, &resp);
  };
  EXPECT_TRUE(read("vluchtelingenwerk", "begeleider-1", "voortgangsgesprek").ok());
  EXPECT_EQ(read("goedwerk", "begeleider-9", "nieuwsgierig").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(read("gemeente", "ambtenaar-2", "rapportage").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(read("auditor", "auditor-1", "jaarcontrole").ok());
  // A read without a purpose is refused before anything is read.
  grpc::Status no_purpose = read("vluchtelingenwerk", "begeleider-1", "");
  EXPECT_EQ(no_purpose.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(no_purpose.error_message(),
            "purpose is not set; say why you read this client's data (it is recorded in the access "
            "log, which the client may ask to see)");
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "begeleider-1");
    v1::ReadAllResponse resp;
    EXPECT_EQ(ledger("vluchtelingenwerk")->ReadAll(&ctx, v1::ReadAllRequest(), &resp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }

  grpc::ClientContext ctx;
  Prepare(ctx, "auditor-1");
  v1::ListAccessLogRequest req;
  req.set_client_id("c-1");
  req.set_purpose("controle verwerkingen");
  v1::ListAccessLogResponse log;
  ASSERT_TRUE(Audit()->ListAccessLog(&ctx, req, &log).ok());
  // The four reads, then this listing itself (recorded before it is answered).
  ASSERT_EQ(log.entries_size(), 5);
  EXPECT_EQ(log.entries(4).call(), "AuditService.ListAccessLog");
  EXPECT_EQ(log.entries(4).purpose(), "controle verwerkingen");
  EXPECT_EQ(log.entries(4).outcome(), "OK");
  struct Expected {
    const char *organisation, *role, *user, *purpose, *outcome;
  };
  const Expected expected[] = {
      {"vluchtelingenwerk", "partner", "begeleider-1", "voortgangsgesprek", "OK"},
      {"goedwerk", "partner", "begeleider-9", "nieuwsgierig", "PERMISSION_DENIED"},
      {"gemeente", "municipality", "ambtenaar-2", "rapportage", "PERMISSION_DENIED"},
      {"auditor", "auditor", "auditor-1", "jaarcontrole", "OK"},
  };
  for (int i = 0; i < 4; ++i) {
    const v1::AccessLogEntry& e = log.entries(i);
    EXPECT_EQ(e.organisation(), expected[i].organisation) << i;
    EXPECT_EQ(e.role(), expected[i].role) << i;
    EXPECT_EQ(e.user_id(), expected[i].user) << i;
    EXPECT_EQ(e.purpose(), expected[i].purpose) << i;
    EXPECT_EQ(e.outcome(), expected[i].outcome) << i;
    EXPECT_EQ(e.client_id(), "c-1");
    EXPECT_EQ(e.call(), "LedgerService.ReadClientEvents");
    EXPECT_EQ(e.trace_id(), std::string("trace-") + expected[i].organisation);
    EXPECT_EQ(e.hash().size(), 32u);
    EXPECT_GT(e.at().seconds(), 0);
  }
  // The refused ReadAll is logged against "*"; this listing is logged too.
  EXPECT_EQ(server_->access_log()->LastSequence(), 6u);
  auto whole = server_->access_log()->ListForClient("*", 0, 10);
  ASSERT_EQ(whole->size(), 1u);
  EXPECT_EQ((*whole)[0].call, "LedgerService.ReadAll");
  EXPECT_EQ((*whole)[0].outcome, "PERMISSION_DENIED");
  EXPECT_TRUE(server_->access_log()->Verify()->ok());

  // Partners may not list the access log.
  grpc::ClientContext denied_ctx;
  Prepare(denied_ctx, "");
  v1::ListAccessLogResponse denied;
  EXPECT_EQ(Audit("vluchtelingenwerk")->ListAccessLog(&denied_ctx, req, &denied).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace caseledger::testing
