// Full disk: caseledgerd on a 160 MiB tmpfs of its own with a 32 MiB reserve
// (--min-free-mb), appending until the disk is full. Appends then fail with
// RESOURCE_EXHAUSTED naming the full disk and nothing is written, before
// RocksDB itself meets the full disk (its LOG shows no error); reads go on
// (their access-log records use the reserve), as do tree heads and caseload
// lists. Once space is freed appends resume without a restart. Nothing
// acknowledged is lost: after a restart every acknowledged event is there
// exactly once and the chain verifies.
//
// Mounting a tmpfs needs root (CAP_SYS_ADMIN); CI and tools/test run as root.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <fstream>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "caseledger/v1/audit_service.grpc.pb.h"
#include "caseledger/v1/caseload_service.grpc.pb.h"
#include "caseledger/v1/ledger_service.grpc.pb.h"
#include "tests/event_builders.h"
#include "tests/integration/connected_channel.h"
#include "tests/integration/server_process.h"
#include "tests/test_util.h"

namespace caseledger::testing {
namespace {

class DiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    disk_ = dir_.Sub("disk");
    std::filesystem::create_directories(disk_);
    if (mount("tmpfs", disk_.c_str(), "tmpfs", 0, "size=160m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << strerror(errno);
    }
    mounted_ = true;
    std::string cmd = absl::StrCat(CASELEDGER_SOURCE_DIR, "/deploy/make-certs.sh ", disk_, "/tls >/dev/null");
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    // Ballast, to free later.
    std::ofstream ballast(disk_ + "/ballast", std::ios::binary);
    std::string mib(1 << 20, 'x');
    for (int i = 0; i < 16; ++i) ballast << mib;
  }
  void TearDown() override {
    server_.reset();
    if (mounted_) umount2(disk_.c_str(), MNT_DETACH);
  }

  grpc::Status Append(v1::LedgerService::Stub& stub, const std::string& client, int contacts,
                      v1::AppendEventsResponse* resp) {
    v1::AppendEventsRequest req;
    req.set_client_id(client);
    *req.add_events() = IntakeEvent(client + "-in", "vluchtelingenwerk");
    for (int i = 0; i < contacts; ++i) {
      v1::Event c = Base(absl::StrCat(client, "-c", i), 5);
      c.mutable_contact_recorded()->set_kind(v1::CONTACT_KIND_IN_PERSON);
      c.mutable_contact_recorded()->set_subject(std::string(1500, static_cast<char>('a' + i % 26)));
      *req.add_events() = c;
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ctx.AddMetadata("x-user-id", "begeleider-1");
    return stub.AppendEvents(&ctx, req, resp);
  }

  static std::vector<std::string> Args() { return {"--retention-interval-hours", "0", "--min-free-mb", "32"}; }

  std::shared_ptr<grpc::Channel> Channel(const std::string& identity) {
    return ConnectedChannel(server_->Connection(identity));
  }

  ScopedTempDir dir_;
  std::string disk_;
  bool mounted_ = false;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(DiskTest, AFullDiskRefusesAppendsClearlyAndLosesNothingAcknowledged) {
  server_ = std::make_unique<ServerProcess>(disk_, Args());
  ASSERT_TRUE(server_->WaitUntilServing()) << server_->Log();
  auto ledger = v1::LedgerService::NewStub(Channel("vluchtelingenwerk"));

  constexpr int kContacts = 40;
  std::vector<std::string> acknowledged;
  grpc::Status first_failure;
  for (int n = 0; n < 5000; ++n) {
    const std::string client = absl::StrCat("d-", n);
    v1::AppendEventsResponse resp;
    grpc::Status s = Append(*ledger, client, kContacts, &resp);
    if (!s.ok()) {
      first_failure = s;
      break;
    }
    ASSERT_EQ(resp.stream_version(), uint64_t(kContacts + 1));
    acknowledged.push_back(client);
  }
  ASSERT_FALSE(first_failure.ok()) << "the disk never filled";
  ASSERT_GT(acknowledged.size(), 10u);
  EXPECT_EQ(first_failure.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << first_failure.error_message();
  EXPECT_TRUE(absl::StrContains(first_failure.error_message(), "the ledger's disk is nearly full"))
      << first_failure.error_message();
  // Later appends fail the same way, at once.
  for (int i = 0; i < 3; ++i) {
    v1::AppendEventsResponse resp;
    grpc::Status s = Append(*ledger, absl::StrCat("late-", i), 1, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  }

  // What needs no write keeps working.
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-user-id", "a-1");
    v1::SignedTreeHead head;
    grpc::Status s = v1::AuditService::NewStub(Channel("auditor"))->GetTreeHead(&ctx, v1::GetTreeHeadRequest(), &head);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(head.tree_size(), acknowledged.size() * (kContacts + 1)) << "a refused append wrote";
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-user-id", "cm-1");
    v1::ListCasesRequest req;
    req.set_page_size(5);
    v1::ListCasesResponse resp;
    grpc::Status s = v1::CaseloadService::NewStub(Channel("vluchtelingenwerk"))->ListCases(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.cases_size(), 5);
  }
  // Reads of a client's data go on: their access-log records use the reserve.
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-user-id", "bg-1");
    v1::ReadClientEventsRequest req;
    req.set_client_id(acknowledged[0]);
    req.set_purpose("begeleiding");
    v1::ReadClientEventsResponse resp;
    grpc::Status s = ledger->ReadClientEvents(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.events_size(), kContacts + 1);
  }

  // Space freed: appends resume by themselves, the refused one retried as it was.
  std::filesystem::remove(disk_ + "/ballast");
  absl::SleepFor(absl::Milliseconds(200));  // the free-space figure is re-read every 100 ms
  {
    const std::string client = absl::StrCat("d-", acknowledged.size());
    v1::AppendEventsResponse resp;
    grpc::Status s = Append(*ledger, client, kContacts, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    acknowledged.push_back(client);
  }

  // Restart: everything acknowledged is there exactly once.
  const int port = server_->port();
  server_->Stop();
  server_ = std::make_unique<ServerProcess>(disk_, Args(), port);
  ASSERT_TRUE(server_->WaitUntilServing()) << server_->Log();
  ledger = v1::LedgerService::NewStub(Channel("vluchtelingenwerk"));
  for (const std::string& client : acknowledged) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-user-id", "bg-1");
    v1::ReadClientEventsRequest req;
    req.set_client_id(client);
    req.set_purpose("controle na volle schijf");
    v1::ReadClientEventsResponse resp;
    grpc::Status s = ledger->ReadClientEvents(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << client << ": " << s.error_message();
    ASSERT_EQ(resp.events_size(), kContacts + 1) << client;
    EXPECT_EQ(resp.events(0).personal_data().family_name(), "Testpersoon");
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-user-id", "a-1");
    v1::VerifyChainResponse chain;
    ASSERT_TRUE(v1::AuditService::NewStub(Channel("auditor"))->VerifyChain(&ctx, v1::VerifyChainRequest(), &chain).ok());
    EXPECT_TRUE(chain.intact()) << chain.problem();
    EXPECT_GE(chain.checked(), acknowledged.size() * (kContacts + 1));
  }
  // RocksDB itself never met the full disk: no flush, compaction or WAL write
  // failed (its LOG names every background error).
  {
    std::ifstream log(disk_ + "/ledger/LOG");
    std::string line;
    while (std::getline(log, line)) {
      EXPECT_FALSE(absl::StrContains(line, "No space left") || absl::StrContains(line, "Background IO error"))
          << line;
    }
  }
  std::cout << "disk: " << acknowledged.size() << " appends (" << acknowledged.size() * (kContacts + 1)
            << " events) acknowledged; refused at a full disk, resumed without restart, all present after restart\n";
}

}  // namespace
}  // namespace caseledger::testing
