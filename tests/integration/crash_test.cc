// Crash test: the real caseledgerd is killed with SIGKILL at random moments
// while many clients append, and restarted each time. Afterwards every
// acknowledged append must be present exactly once, at the position it was
// acknowledged with; positions and versions must be gap-free; the hash chain
// must verify; and retries (same event ids) must never have duplicated.
//
// Bounded: about 20 seconds of appending, a few kills.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "caseledger/v1/admin_service.grpc.pb.h"
#include "caseledger/v1/audit_service.grpc.pb.h"
#include "caseledger/v1/caseload_service.grpc.pb.h"
#include "caseledger/v1/ledger_service.grpc.pb.h"
#include "storage/merkle.h"
#include "tests/event_builders.h"
#include "tests/integration/server_process.h"
#include "tests/test_util.h"

namespace caseledger::testing {
namespace {

constexpr int kAppenders = 8;
constexpr int kKills = 5;

struct Acknowledged {
  std::string client;
  uint64_t version;
  uint64_t position;
};

TEST(CrashTest, SigkillLosesNoAcknowledgedEventAndDuplicatesNone) {
  ScopedTempDir dir;
  std::string cmd = absl::StrCat(CASELEDGER_SOURCE_DIR, "/deploy/make-certs.sh ", dir.Sub("tls"), " >/dev/null");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto server = std::make_unique<ServerProcess>(dir.path());
  ASSERT_TRUE(server->WaitUntilServing()) << server->Log();
  const int port = server->port();

  auto channel = tools::Connect(server->Connection("vluchtelingenwerk"));
  ASSERT_TRUE(channel.ok());
  std::mutex mu;
  std::map<std::string, Acknowledged> acknowledged;  // event id -> what the server said
  std::atomic<bool> stop{false};
  std::atomic<int> retries{0}, deduplicated{0};

  // Each appender owns its clients: an intake, then attendance, one event per
  // call, retrying the same request (same event id) until it is acknowledged.
  auto appender = [&](int t) {
    auto stub = v1::LedgerService::NewStub(*channel);
    int client_no = 0, in_client = 0;
    for (int n = 0; !stop; ++n) {
      std::string client = absl::StrCat("c-", t, "-", client_no);
      v1::AppendEventsRequest req;
      req.set_client_id(client);
      const std::string id = absl::StrCat("crash-", t, "-", n);
      *req.add_events() = in_client == 0 ? IntakeEvent(id, "vluchtelingenwerk") : AttendanceEvent(id);
      for (int attempt = 0; !stop; ++attempt) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
        ctx.set_wait_for_ready(true);  // wait for a restarting server instead of failing fast
        ctx.AddMetadata("x-user-id", "crash-test");
        v1::AppendEventsResponse resp;
        grpc::Status s = stub->AppendEvents(&ctx, req, &resp);
        if (s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged[id] = {client, resp.stream_version(), resp.global_positions(0)};
          if (resp.deduplicated()) ++deduplicated;
          break;
        }
        ASSERT_TRUE(s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                    s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
            << "unexpected " << s.error_code() << ": " << s.error_message();
        ++retries;
      }
      if (++in_client == 25) {
        ++client_no;
        in_client = 0;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kAppenders; ++t) threads.emplace_back(appender, t);

  std::mt19937 rng(static_cast<uint32_t>(absl::ToUnixNanos(absl::Now())));
  for (int kill = 0; kill < kKills; ++kill) {
    absl::SleepFor(absl::Milliseconds(1500 + rng() % 2500));
    server->Kill();
    absl::SleepFor(absl::Milliseconds(rng() % 300));
    server = std::make_unique<ServerProcess>(dir.path(), std::vector<std::string>{}, port);
    ASSERT_TRUE(server->WaitUntilServing()) << "restart " << kill << ": " << server->Log();
  }
  absl::SleepFor(absl::Seconds(1));
  stop = true;
  for (auto& th : threads) th.join();

  // Read the whole log back as the auditor.
  auto audit_channel = tools::Connect(server->Connection("auditor"));
  ASSERT_TRUE(audit_channel.ok());
  auto ledger = v1::LedgerService::NewStub(*audit_channel);
  std::map<std::string, uint64_t> position_of;  // event id -> position
  std::map<std::string, uint64_t> client_version;
  uint64_t expected_position = 1;
  for (uint64_t from = 1;;) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::ReadAllRequest req;
    req.set_from_position(from);
    req.set_limit(1000);
    v1::ReadAllResponse resp;
    ASSERT_TRUE(ledger->ReadAll(&ctx, req, &resp).ok());
    for (const v1::Event& e : resp.events()) {
      const auto& env = e.envelope();
      ASSERT_EQ(env.global_position(), expected_position++) << "gap in the global log";
      ASSERT_EQ(env.stream_version(), ++client_version[env.client_id()]) << "gap in " << env.client_id();
      ASSERT_TRUE(position_of.emplace(env.event_id(), env.global_position()).second)
          << "event " << env.event_id() << " stored twice";
    }
    if (resp.events_size() == 0) break;
    from = resp.next_position();
  }
  const uint64_t stored = expected_position - 1;

  for (const auto& [id, ack] : acknowledged) {
    auto it = position_of.find(id);
    ASSERT_NE(it, position_of.end()) << "acknowledged event " << id << " was lost";
    EXPECT_EQ(it->second, ack.position) << id;
  }
  // Every stored event was sent by the test; at most one per appender may be
  // stored but unacknowledged (in flight when the test stopped).
  EXPECT_LE(stored, acknowledged.size() + kAppenders);

  auto audit = v1::AuditService::NewStub(*audit_channel);
  grpc::ClientContext ctx;
  v1::VerifyChainResponse chain;
  ASSERT_TRUE(audit->VerifyChain(&ctx, v1::VerifyChainRequest(), &chain).ok());
  EXPECT_TRUE(chain.intact()) << chain.problem();
  EXPECT_EQ(chain.checked(), stored);

  // The Merkle log: every acknowledged event is included in the signed head.
  v1::SignedTreeHead head;
  {
    grpc::ClientContext hctx;
    ASSERT_TRUE(audit->GetTreeHead(&hctx, v1::GetTreeHeadRequest(), &head).ok());
  }
  EXPECT_EQ(head.tree_size(), stored);
  int proofs = 0;
  for (const auto& [id, ack] : acknowledged) {
    if (proofs++ % 7 != 0) continue;  // a sample keeps the test short
    grpc::ClientContext pctx;
    v1::GetInclusionProofRequest req;
    req.set_global_position(ack.position);
    req.set_tree_size(head.tree_size());
    v1::InclusionProof proof;
    ASSERT_TRUE(audit->GetInclusionProof(&pctx, req, &proof).ok());
    std::vector<std::string> hashes(proof.hashes().begin(), proof.hashes().end());
    EXPECT_TRUE(storage::VerifyMerkleInclusion(ack.position - 1, head.tree_size(), proof.leaf_hash(), hashes,
                                               head.root_hash())
                    .ok())
        << id;
  }

  // The caseload projection caught up through the kills to what a rebuild gives.
  auto admin_channel = tools::Connect(server->Connection("admin"));
  ASSERT_TRUE(admin_channel.ok());
  auto admin = v1::AdminService::NewStub(*admin_channel);
  for (int i = 0;; ++i) {
    ASSERT_LT(i, 400) << "the caseload projection did not catch up";
    grpc::ClientContext lctx;
    v1::ListProjectionsResponse list;
    ASSERT_TRUE(admin->ListProjections(&lctx, v1::ListProjectionsRequest(), &list).ok());
    if (list.projections(0).checkpoint() == stored) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  auto caseload = v1::CaseloadService::NewStub(*audit_channel);
  auto snapshot = [&] {
    std::string all;
    v1::ListCasesRequest req;
    req.set_page_size(500);
    for (;;) {
      grpc::ClientContext cctx;
      v1::ListCasesResponse resp;
      EXPECT_TRUE(caseload->ListCases(&cctx, req, &resp).ok());
      for (const auto& c : resp.cases()) all += c.SerializeAsString();
      if (resp.next_page_token().empty()) return all;
      req.set_page_token(resp.next_page_token());
    }
  };
  const std::string caught_up = snapshot();
  {
    grpc::ClientContext rctx;
    v1::RebuildProjectionRequest req;
    req.set_name("caseload");
    v1::ProjectionInfo info;
    ASSERT_TRUE(admin->RebuildProjection(&rctx, req, &info).ok());
  }
  EXPECT_EQ(snapshot(), caught_up) << "after the kills the caseload differs from a rebuild";

  EXPECT_GT(acknowledged.size(), 500u) << "too few appends to mean anything";
  std::cout << "crash test: " << kKills << " SIGKILLs survived, " << acknowledged.size()
            << " acknowledged appends all present, " << stored << " events checked, " << retries
            << " retried calls, " << deduplicated << " retries recognised as already written, " << proofs / 7
            << " inclusion proofs verified, caseload equal to a rebuild\n";
  EXPECT_EQ(server->Stop(), 0) << server->Log();
}

}  // namespace
}  // namespace caseledger::testing
