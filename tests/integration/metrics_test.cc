// /metrics over HTTP after real traffic: the counters an operator watches move.
#include <gtest/gtest.h>
#include <httplib.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "caseledger/v1/ledger_service.grpc.pb.h"
#include "tests/event_builders.h"
#include "tests/integration/in_process_server.h"

namespace caseledger::testing {
namespace {

class MetricsTest : public InProcessServerTest {
 protected:
  void Configure(services::ServerConfig& config) override { config.metrics_listen = "127.0.0.1:0"; }

  std::string Scrape() {
    httplib::Client client("127.0.0.1", server_->metrics_port());
    auto res = client.Get("/metrics");
    EXPECT_TRUE(res) << "no answer from /metrics";
    if (!res) return "";
    EXPECT_EQ(res->status, 200);
    EXPECT_TRUE(absl::StartsWith(res->get_header_value("Content-Type"), "text/plain")) << res->get_header_value("Content-Type");
    return res->body;
  }

  grpc::Status Append(const std::string& client, std::vector<v1::Event> events) {
    auto stub = v1::LedgerService::NewStub(Channel("vluchtelingenwerk"));
    grpc::ClientContext ctx;
    Prepare(ctx, "begeleider-1");
    v1::AppendEventsRequest req;
    req.set_client_id(client);
    for (auto& e : events) *req.add_events() = std::move(e);
    v1::AppendEventsResponse resp;
    return stub->AppendEvents(&ctx, req, &resp);
  }
};

TEST_F(MetricsTest, CountersMoveWithTrafficAndNoClientIdAppears) {
  ASSERT_GT(server_->metrics_port(), 0);
  std::string before = Scrape();
  EXPECT_TRUE(absl::StrContains(before, "caseledger_appends_total{code=\"OK\"} 0\n")) << before;

  ASSERT_TRUE(Append("c-secret-1", {IntakeEvent("m1", "vluchtelingenwerk"), ScreeningEvent("m2")}).ok());
  ASSERT_TRUE(Append("c-secret-1", {AttendanceEvent("m3")}).ok());
  ASSERT_TRUE(Append("c-secret-1", {AttendanceEvent("m3")}).ok());  // a retry: nothing written
  EXPECT_EQ(Append("c-secret-2", {ScreeningEvent("m4")}).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  {
    auto stub = v1::LedgerService::NewStub(Channel("goedwerk"));
    grpc::ClientContext ctx;
    Prepare(ctx, "b-2");
    v1::ReadClientEventsRequest req;
    req.set_client_id("c-secret-1");
    req.set_purpose("test");
    v1::ReadClientEventsResponse resp;
    EXPECT_EQ(stub->ReadClientEvents(&ctx, req, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }

  std::string after = Scrape();
  for (const char* line : {
           "caseledger_appends_total{code=\"OK\"} 3\n",
           "caseledger_appends_total{code=\"FAILED_PRECONDITION\"} 1\n",
           "caseledger_events_appended_total 3\n",
           "caseledger_append_duration_seconds_count 4\n",
           "caseledger_append_duration_seconds_bucket{le=\"+Inf\"} 4\n",
           "caseledger_reads_total{call=\"ReadClientEvents\",code=\"PERMISSION_DENIED\"} 1\n",
           "caseledger_log_position 3\n",
           "caseledger_subscribers 0\n",
           "# TYPE caseledger_group_commit_events histogram\n",
           "caseledger_group_commit_events_sum 3\n",
           "caseledger_case_cache_entries 2\n",
       }) {
    EXPECT_TRUE(absl::StrContains(after, line)) << "missing: " << line << "\n" << after;
  }
  for (const char* name : {"caseledger_wal_syncs_total ", "caseledger_commit_write_seconds_total ",
                           "caseledger_commit_stage_seconds_total ",
                           "caseledger_rocksdb_pending_compaction_bytes ", "caseledger_rocksdb_sst_bytes ",
                           "caseledger_rocksdb_memtable_bytes ", "process_resident_memory_bytes ",
                           "caseledger_group_commits_total ", "caseledger_case_cache_hits_total ",
                           "caseledger_case_cache_misses_total "}) {
    EXPECT_TRUE(absl::StrContains(after, name)) << "missing " << name;
  }
  EXPECT_FALSE(absl::StrContains(after, "c-secret")) << "a client id leaked into the metrics";
  EXPECT_FALSE(absl::StrContains(after, "Testpersoon"));
}

}  // namespace
}  // namespace caseledger::testing
