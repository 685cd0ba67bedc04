// End-to-end: the real caseledgerd binary on a loopback port with generated
// development certificates.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "caseledger/v1/admin_service.grpc.pb.h"
#include "caseledger/v1/ledger_service.grpc.pb.h"
#include "grpc_probe/reflection.grpc.pb.h"
#include "tests/integration/connected_channel.h"
#include "tests/integration/server_process.h"
#include "tests/test_util.h"

namespace caseledger::testing {
namespace {

void MakeCerts(const std::string& dir) {
  std::string cmd = absl::StrCat(CASELEDGER_SOURCE_DIR, "/deploy/make-certs.sh ", dir, " >/dev/null");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
}

// Runs a command and returns its exit status; its stdout goes to *output.
int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buf[4096];
  size_t n;
  output->clear();
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) output->append(buf, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeCerts(dir_.Sub("tls"));
    server_ = std::make_unique<ServerProcess>(dir_.path());
    ASSERT_TRUE(server_->WaitUntilServing()) << server_->Log();
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& identity) {
    return ConnectedChannel(server_->Connection(identity));
  }

  grpc::Status GetLedgerInfo(const std::string& identity, v1::GetLedgerInfoResponse* response) {
    v1::AdminService::Stub stub(Channel(identity));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub.GetLedgerInfo(&ctx, v1::GetLedgerInfoRequest(), response);
  }

  ScopedTempDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ServerTest, HealthIsServingOverMutualTlsForEveryIdentity) {
  for (const char* identity : {"vluchtelingenwerk", "goedwerk", "askv", "gemeente", "auditor",
                               "privacy-officer", "admin"}) {
    grpc::health::v1::Health::Stub stub(Channel(identity));
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = stub.Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp);
    ASSERT_TRUE(s.ok()) << identity << ": " << s.error_message();
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING) << identity;
  }
}

TEST_F(ServerTest, ReflectionListsTheCaseledgerServices) {
  grpc::reflection::v1alpha::ServerReflection::Stub stub(Channel("goedwerk"));
  grpc::ClientContext ctx;
  auto stream = stub.ServerReflectionInfo(&ctx);
  grpc::reflection::v1alpha::ServerReflectionRequest req;
  req.set_list_services("");
  ASSERT_TRUE(stream->Write(req));
  grpc::reflection::v1alpha::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  stream->WritesDone();
  ASSERT_TRUE(stream->Finish().ok());
  std::vector<std::string> names;
  for (const auto& s : resp.list_services_response().service()) names.push_back(s.name());
  EXPECT_NE(std::find(names.begin(), names.end(), "caseledger.v1.AdminService"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "grpc.health.v1.Health"), names.end());
}

TEST_F(ServerTest, ConnectionWithoutClientCertificateIsRefused) {
  grpc::health::v1::Health::Stub stub(Channel(""));  // CA only, no client certificate
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub.Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(ServerTest, ClientCertificateFromAnotherCaIsRefused) {
  // A look-alike "goedwerk" certificate signed by a CA the server does not trust.
  MakeCerts(dir_.Sub("rogue"));
  std::string mixed = dir_.Sub("mixed");
  std::string cmd = absl::StrCat("mkdir -p ", mixed, " && cp ", dir_.Sub("tls/ca.pem"), " ", mixed,
                                 " && cp ", dir_.Sub("rogue/goedwerk.pem"), " ",
                                 dir_.Sub("rogue/goedwerk.key"), " ", mixed);
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  tools::ConnectionOptions options = server_->Connection("goedwerk");
  options.tls_dir = mixed;
  auto channel = tools::Connect(options);
  ASSERT_TRUE(channel.ok());
  grpc::health::v1::Health::Stub stub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub.Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(ServerTest, AdminCallsNeedTheAdminRole) {
  v1::GetLedgerInfoResponse resp;
  grpc::Status denied = GetLedgerInfo("goedwerk", &resp);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(denied.error_message(),
            "GetLedgerInfo needs the admin role; your certificate (goedwerk) has role partner");
  grpc::Status auditor = GetLedgerInfo("auditor", &resp);
  EXPECT_EQ(auditor.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  grpc::Status ok = GetLedgerInfo("admin", &resp);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(resp.last_position(), 0u);
  EXPECT_EQ(resp.last_hash(), std::string(32, '\0'));
  EXPECT_EQ(resp.caller_organisation(), "admin");
  EXPECT_EQ(resp.caller_role(), "admin");
  EXPECT_FALSE(resp.server_version().empty());
}

TEST_F(ServerTest, SigtermStopsCleanlyAndTheDataDirectoryReopens) {
  EXPECT_EQ(server_->Stop(), 0) << server_->Log();
  EXPECT_TRUE(absl::StrContains(server_->Log(), "\"msg\":\"caseledgerd stopped\"")) << server_->Log();
  // RocksDB was closed (its lock released): a new server opens the same directory.
  server_ = std::make_unique<ServerProcess>(dir_.path());
  ASSERT_TRUE(server_->WaitUntilServing()) << server_->Log();
  v1::GetLedgerInfoResponse resp;
  EXPECT_TRUE(GetLedgerInfo("admin", &resp).ok());
}

TEST_F(ServerTest, TheCliChecksHealthAndListsServices) {
  std::string base = absl::StrCat(CASELEDGER_CLI_PATH, " --server ", server_->address(),
                                  " --tls-dir ", dir_.Sub("tls"));
  std::string out;
  ASSERT_EQ(RunCommand(base + " --as goedwerk health", &out), 0) << out;
  EXPECT_EQ(out, "SERVING\n");
  ASSERT_EQ(RunCommand(base + " --as goedwerk --json health", &out), 0) << out;
  EXPECT_EQ(out, "{\"status\":\"SERVING\"}\n");
  ASSERT_EQ(RunCommand(base + " services", &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "caseledger.v1.AdminService\n")) << out;
  // A refused call prints the gRPC code and message and exits non-zero.
  ASSERT_EQ(RunCommand(base + " --as gemeente info", &out), 1) << out;
  EXPECT_EQ(out,
            "error: PERMISSION_DENIED: GetLedgerInfo needs the admin role; your certificate "
            "(gemeente) has role municipality\n");
}

TEST_F(ServerTest, TheCliLoadsTheDemoAppendsReadsAndTails) {
  std::string base = absl::StrCat(CASELEDGER_CLI_PATH, " --server ", server_->address(),
                                  " --tls-dir ", dir_.Sub("tls"));
  std::string out;
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk --json demo --clients 20", &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "\"clients\":20,")) << out;
  EXPECT_TRUE(absl::StrContains(out, "\"already_present\":0,")) << out;
  // Loading again writes nothing: every event is recognised as a retry.
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk --json demo --clients 20", &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "\"written\":0,")) << out;

  // c-100000 is a VluchtelingenWerk client in the demo; its first event is the intake.
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk --json read c-100000 --limit 1", &out), 0) << out;
  EXPECT_TRUE(absl::StartsWith(out, "{\"envelope\":{\"event_id\":\"demo-2026-c-100000-1\"")) << out;
  EXPECT_TRUE(absl::StrContains(out, "\"type\":\"Intake\"")) << out;
  ASSERT_EQ(RunCommand(base + " --as askv read c-100000", &out), 1) << out;
  EXPECT_TRUE(absl::StartsWith(out, "error: PERMISSION_DENIED: askv neither holds client c-100000")) << out;

  std::string file = dir_.Sub("intake.json");
  {
    std::ofstream f(file);
    f << R"json({"client_id": "c-900001", "expected_version": {"no_stream": true},
             "events": [{"envelope": {"event_id": "cli-1", "occurred_at": "2026-11-01T09:30:00Z"},
                         "intake": {"track": "TRACK_LEGAL", "target_group": "TARGET_GROUP_DUBLIN",
                                    "organisation": "vluchtelingenwerk", "location": "LVV West",
                                    "legal_basis": "AVG art. 6(1)(e)"}}]})json";
  }
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk --user begeleider-3 append " + file, &out), 0) << out;
  EXPECT_TRUE(absl::StartsWith(out, "vastgelegd (recorded): client c-900001 is now at version 1")) << out;
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk --user begeleider-3 append " + file, &out), 0) << out;
  EXPECT_TRUE(absl::StartsWith(out, "al vastgelegd (already recorded, nothing written)")) << out;
  ASSERT_EQ(RunCommand(base + " --as auditor --user a-1 append " + file, &out), 1) << out;
  EXPECT_EQ(out, "error: PERMISSION_DENIED: AppendEvents needs the partner role; your certificate "
                 "(auditor) has role auditor\n");
  ASSERT_EQ(RunCommand("echo '{not json' | " + base + " --as vluchtelingenwerk --user u append", &out), 1);
  EXPECT_TRUE(absl::StartsWith(out, "error: the input is not an AppendEventsRequest in protobuf JSON")) << out;

  ASSERT_EQ(RunCommand(base + " --as auditor tail --count 3", &out), 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out;  // header + 3 events
  EXPECT_TRUE(absl::StrContains(out, "Intake")) << out;
}

TEST_F(ServerTest, TheCliFetchesTheSignedTreeHeadPublicKeyAndVerifiesTheChain) {
  std::string base = absl::StrCat(CASELEDGER_CLI_PATH, " --server ", server_->address(),
                                  " --tls-dir ", dir_.Sub("tls"));
  std::string out;
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk --json demo --clients 5", &out), 0) << out;
  ASSERT_EQ(RunCommand(base + " --as auditor --json tree-head", &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "\"tree_size\":\"")) << out;
  EXPECT_TRUE(absl::StrContains(out, "\"signature\":\"")) << out;
  ASSERT_EQ(RunCommand(base + " --as auditor verify-chain", &out), 0) << out;
  EXPECT_TRUE(absl::StartsWith(out, "keten intact (chain intact): ")) << out;
  std::string key = dir_.Sub("ledger-public.pem");
  ASSERT_EQ(RunCommand(base + " --as goedwerk pubkey -o " + key, &out), 0) << out;
  std::ifstream in(key);
  std::string first_line;
  std::getline(in, first_line);
  EXPECT_EQ(first_line, "-----BEGIN PUBLIC KEY-----");
  // Replay a client and verify the saved file offline (no --server needed).
  std::string replay = dir_.Sub("replay.json");
  ASSERT_EQ(RunCommand(base + " --as auditor replay c-100000 -o " + replay, &out), 0) << out;
  std::string verify = absl::StrCat(CASELEDGER_CLI_PATH, " verify --pubkey ", key, " --replay ", replay);
  ASSERT_EQ(RunCommand(verify, &out), 0) << out;
  EXPECT_TRUE(absl::StartsWith(out, "in orde (verified): client c-100000, ")) << out;
  ASSERT_EQ(RunCommand("sed -i '0,/\"user_id\":\"vluchtelingenwerk-demo\"/s//\"user_id\":\"x\"/' " + replay, &out), 0);
  ASSERT_EQ(RunCommand(verify, &out), 3) << out;
  // The demo loads in parallel, so the client's first event may sit at any position.
  EXPECT_TRUE(absl::StartsWith(out, "NIET IN ORDE (verification failed): global position ")) << out;
  EXPECT_TRUE(absl::StrContains(out, ": the event as shown differs from what its canonical bytes say\n"))
      << out;
  // Global options may follow the subcommand.
  ASSERT_EQ(RunCommand(base + " --as auditor tree-head --json", &out), 0) << out;
  EXPECT_TRUE(absl::StartsWith(out, "{\"tree_size\":")) << out;

  ASSERT_EQ(RunCommand(base + " --as goedwerk tree-head", &out), 1) << out;
  EXPECT_EQ(out, "error: PERMISSION_DENIED: GetTreeHead needs the auditor role; your certificate "
                 "(goedwerk) has role partner\n");
}

TEST_F(ServerTest, TheCliShowsTheCaseloadSignalsAndReports) {
  std::string base = absl::StrCat(CASELEDGER_CLI_PATH, " --server ", server_->address(),
                                  " --tls-dir ", dir_.Sub("tls"));
  std::string out;
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk --json demo --clients 30", &out), 0) << out;
  // Wait until the caseload projection has folded the demo.
  for (int i = 0;; ++i) {
    ASSERT_LT(i, 400) << out;
    ASSERT_EQ(RunCommand(base + " --as admin --json projections", &out), 0) << out;
    if (absl::StrContains(out, "\"name\":\"caseload\"") && !absl::StrContains(out, "\"lag\"")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk caseload", &out), 0) << out;
  EXPECT_TRUE(absl::StartsWith(out, "cliënt    organisatie")) << out;
  EXPECT_TRUE(absl::StrContains(out, "\nc-100000  vluchtelingenwerk")) << out;
  EXPECT_TRUE(absl::StrContains(out, " cases (dossiers), bijgewerkt t/m logpositie ")) << out;
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk --json caseload --traject juridisch --status lopend", &out), 0)
      << out;
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  for (const std::string& line : lines) {
    EXPECT_TRUE(absl::StrContains(line, "\"track\":\"TRACK_LEGAL\"")) << line;
    EXPECT_TRUE(absl::StrContains(line, "\"status\":\"CASE_STATUS_ACTIVE\"")) << line;
  }
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk caseload --fase bogus", &out), 1) << out;
  EXPECT_EQ(out, "error: --fase 'bogus' is unknown; use one of: intake, gescreend, plan, afronding, beëindigd\n");

  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk --user cm-1 case c-100000", &out), 0) << out;
  EXPECT_TRUE(absl::StartsWith(out, "cliënt              c-100000  (versie ")) << out;
  EXPECT_TRUE(absl::StrContains(out, "\nstand per ")) << out;
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk case c-100000 --as-of 2000-01-01", &out), 1) << out;
  EXPECT_TRUE(absl::StartsWith(out, "error: NOT_FOUND: client c-100000 had no events yet at 2000-01-01T23:59:59Z"))
      << out;
  ASSERT_EQ(RunCommand(base + " --as askv case c-100000", &out), 1) << out;
  EXPECT_TRUE(absl::StartsWith(out, "error: PERMISSION_DENIED: ")) << out;
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk signals", &out), 0) << out;
  EXPECT_TRUE(absl::StartsWith(out, "signaal ")) << out;

  // The municipality: no case views, reports without personal data.
  ASSERT_EQ(RunCommand(base + " --as gemeente caseload", &out), 1) << out;
  EXPECT_TRUE(absl::StartsWith(out, "error: PERMISSION_DENIED: ListCases: the municipality role")) << out;
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  const std::string quarter = absl::StrCat(today.year(), "Q", (today.month() - 1) / 3 + 1);
  ASSERT_EQ(RunCommand(base + " --as gemeente report quarterly " + quarter +
                           " --org vluchtelingenwerk --traject juridisch --csv", &out), 0) << out;
  lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << out;
  EXPECT_TRUE(absl::StartsWith(lines[0], "organisatie,traject,kwartaal,eerste_dag,laatste_dag,instroom,uitstroom,"));
  EXPECT_TRUE(absl::StartsWith(lines[1], "vluchtelingenwerk,juridisch," + quarter + ",")) << lines[1];
  ASSERT_EQ(RunCommand(base + " --as gemeente report quarterly " + quarter + " --traject juridisch", &out), 1);
  EXPECT_TRUE(absl::StartsWith(out, "error: INVALID_ARGUMENT: ")) << out;
  std::string moments;
  ASSERT_EQ(RunCommand(base + " --as gemeente report moments --csv", &moments), 0) << moments;
  EXPECT_TRUE(absl::StartsWith(moments, "datum,moment,cliënt,organisatie,traject,")) << moments;
  EXPECT_TRUE(absl::StrContains(moments, ",start,c-100000,")) << moments;
  // The names, birth dates and V-numbers the demo gave its people appear nowhere.
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk --json read c-100000 --limit 1", &out), 0) << out;
  for (const char* field : {"\"family_name\":\"", "\"given_names\":\"", "\"v_number\":\""}) {
    size_t at = out.find(field);
    ASSERT_NE(at, std::string::npos) << field << " in " << out;
    at += strlen(field);
    const std::string value = out.substr(at, out.find('"', at) - at);
    EXPECT_FALSE(absl::StrContains(moments, value)) << value;
  }
  EXPECT_FALSE(absl::StrContains(moments, "begeleider")) << "staff names in the municipality's feed";

  ASSERT_EQ(RunCommand(base + " --as admin rebuild", &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "herbouwd (rebuilt) caseload: ")) << out;
  ASSERT_EQ(RunCommand(base + " --as admin rebuild nope", &out), 1) << out;
  EXPECT_TRUE(absl::StrContains(out, "error: NOT_FOUND: ")) << out;
}

TEST_F(ServerTest, TheCliAnswersAnAccessRequestAndErases) {
  std::string base = absl::StrCat(CASELEDGER_CLI_PATH, " --server ", server_->address(),
                                  " --tls-dir ", dir_.Sub("tls"));
  std::string out;
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk --json demo --clients 5", &out), 0) << out;
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk --json read c-100000 --limit 1", &out), 0) << out;
  const std::string key = "\"family_name\":\"";
  size_t at = out.find(key);
  ASSERT_NE(at, std::string::npos) << out;
  at += key.size();
  const std::string family_name = out.substr(at, out.find('"', at) - at);

  const std::string html = dir_.Sub("inzage.html");
  ASSERT_EQ(RunCommand(base + " --as privacy-officer --user fg-1 inzage c-100000 --format html --lang nl -o " + html,
                       &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "inzage c-100000: ")) << out;
  std::ifstream in(html);
  std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(absl::StartsWith(doc, "<!DOCTYPE html>")) << doc.substr(0, 200);
  EXPECT_TRUE(absl::StrContains(doc, family_name));
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk inzage c-100000", &out), 1) << out;
  EXPECT_TRUE(absl::StartsWith(out, "error: PERMISSION_DENIED: ")) << out;

  ASSERT_EQ(RunCommand(base + " --as privacy-officer --user fg-1 erase c-100000 --reason 'verzoek cliënt'", &out), 0)
      << out;
  EXPECT_TRUE(absl::StartsWith(out, "gewist (erased): de persoonsgegevens van c-100000 in 1 gebeurtenissen")) << out;
  ASSERT_EQ(RunCommand(base + " --as privacy-officer --user fg-1 inzage c-100000 --format json", &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "\"erased\": true")) << out.substr(0, 400);
  EXPECT_FALSE(absl::StrContains(out, family_name));
  ASSERT_EQ(RunCommand(base + " --as privacy-officer --user fg-1 retention --dry-run", &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "(proefrun: niets gewist)")) << out;
}

TEST_F(ServerTest, LogsAreJsonLinesWithTraceIdsAndNoPersonalData) {
  std::string base = absl::StrCat(CASELEDGER_CLI_PATH, " --server ", server_->address(),
                                  " --tls-dir ", dir_.Sub("tls"));
  std::string out;
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk --json demo --clients 12", &out), 0) << out;
  // Names, V-numbers and birth dates of the demo's people, read as their holder.
  std::vector<std::string> personal;
  for (const char* client : {"c-100000", "c-100001", "c-100002", "c-100003", "c-100004"}) {
    if (RunCommand(base + " --as vluchtelingenwerk --json read " + client + " --limit 1", &out) != 0) continue;
    for (const char* field : {"\"family_name\":\"", "\"given_names\":\"", "\"v_number\":\""}) {
      size_t at = out.find(field);
      if (at == std::string::npos) continue;
      at += strlen(field);
      personal.push_back(out.substr(at, out.find('"', at) - at));
    }
    ASSERT_EQ(RunCommand(base + " --as privacy-officer --user fg-1 inzage " + client + " --format json -o " +
                             dir_.Sub("x.json"), &out), 0) << out;
  }
  ASSERT_GE(personal.size(), 9u);

  // A refused call, with our trace id, which comes back as metadata.
  v1::LedgerService::Stub stub(Channel("askv"));
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-user-id", "bg-7");
  ctx.AddMetadata("x-trace-id", "trace-42-abc");
  v1::ReadClientEventsRequest req;
  req.set_client_id("c-100000");
  req.set_purpose("nieuwsgierig");
  v1::ReadClientEventsResponse resp;
  ASSERT_EQ(stub.ReadClientEvents(&ctx, req, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  auto md = ctx.GetServerInitialMetadata();
  auto it = md.find("x-trace-id");
  ASSERT_NE(it, md.end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), "trace-42-abc");

  server_->Stop();
  const std::string log = server_->Log();
  std::vector<std::string> lines = absl::StrSplit(log, '\n', absl::SkipEmpty());
  bool refusal_logged = false;
  for (const std::string& line : lines) {
    EXPECT_TRUE(absl::StartsWith(line, "{\"ts\":\"") && absl::EndsWith(line, "}")) << "not a JSON line: " << line;
    if (absl::StrContains(line, "\"trace_id\":\"trace-42-abc\"")) {
      refusal_logged = true;
      EXPECT_TRUE(absl::StrContains(line, "\"msg\":\"call refused\"")) << line;
      EXPECT_TRUE(absl::StrContains(line, "\"code\":\"PERMISSION_DENIED\"")) << line;
      EXPECT_TRUE(absl::StrContains(line, "\"method\":\"/caseledger.v1.LedgerService/ReadClientEvents\"")) << line;
      EXPECT_TRUE(absl::StrContains(line, "\"organisation\":\"askv\"")) << line;
    }
  }
  EXPECT_TRUE(refusal_logged) << log;
  for (const std::string& p : personal) EXPECT_FALSE(absl::StrContains(log, p)) << "personal data in the log: " << p;
}

TEST_F(ServerTest, BackupWhileServingThenRestoreIntoAFreshDirectoryVerifies) {
  std::string base = absl::StrCat(CASELEDGER_CLI_PATH, " --server ", server_->address(),
                                  " --tls-dir ", dir_.Sub("tls"));
  std::string out;
  ASSERT_EQ(RunCommand(base + " --as vluchtelingenwerk --json demo --clients 15", &out), 0) << out;
  ASSERT_EQ(RunCommand(base + " --as goedwerk backup", &out), 1) << out;
  EXPECT_TRUE(absl::StrContains(out, "PERMISSION_DENIED: CreateBackup needs the admin role")) << out;
  ASSERT_EQ(RunCommand(base + " --as admin --json backup", &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "\"backup_id\":1,")) << out;
  ASSERT_EQ(RunCommand(base + " --as auditor --json tree-head", &out), 0) << out;
  const std::string head_before = out;
  ASSERT_EQ(RunCommand(base + " --as admin backup --list", &out), 0) << out;
  EXPECT_TRUE(absl::StartsWith(out, "backup 1  ")) << out;
  EXPECT_EQ(server_->Stop(), 0);

  // Without the master key the restored ledger is refused: reads would fail.
  {
    ScopedTempDir nokey;
    ASSERT_EQ(std::system(absl::StrCat("cp -r ", dir_.Sub("tls"), " ", nokey.path()).c_str()), 0);
    ServerProcess refused(nokey.path(), {"--restore-from", dir_.Sub("backups")});
    absl::Time until = absl::Now() + absl::Seconds(20);
    while (!refused.Exited() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(20));
    EXPECT_EQ(refused.exit_status(), 1);
    EXPECT_TRUE(absl::StrContains(refused.Log(), "the master key does not open the clients' data keys")) << refused.Log();
  }
  // A new data directory with the keys from the key backup, restored from the
  // backup by the real binary (deploy/OPERATIONS.md).
  ScopedTempDir fresh;
  ASSERT_EQ(std::system(absl::StrCat("cp -r ", dir_.Sub("tls"), " ", dir_.Sub("keys"), " ", fresh.path()).c_str()), 0);
  ServerProcess restored(fresh.path(), {"--restore-from", dir_.Sub("backups")});
  ASSERT_TRUE(restored.WaitUntilServing()) << restored.Log();
  EXPECT_TRUE(absl::StrContains(restored.Log(), "\"msg\":\"restored and verified\"")) << restored.Log();
  std::string restored_base = absl::StrCat(CASELEDGER_CLI_PATH, " --server ", restored.address(),
                                           " --tls-dir ", fresh.Sub("tls"));
  ASSERT_EQ(RunCommand(restored_base + " --as auditor verify-chain", &out), 0) << out;
  ASSERT_EQ(RunCommand(restored_base + " --as auditor --json tree-head", &out), 0) << out;
  // Same size and root as before the backup (nothing was appended in between).
  auto field = [](const std::string& json, const std::string& name) {
    size_t at = json.find("\"" + name + "\":");
    return at == std::string::npos ? std::string() : json.substr(at, json.find(',', at) - at);
  };
  EXPECT_EQ(field(out, "tree_size"), field(head_before, "tree_size"));
  EXPECT_EQ(field(out, "root_hash"), field(head_before, "root_hash"));
  EXPECT_FALSE(field(out, "root_hash").empty());
  // The personal data opens with the restored keys.
  ASSERT_EQ(RunCommand(restored_base + " --as vluchtelingenwerk --json read c-100000 --limit 1", &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "\"family_name\":\"")) << out;
  // Restoring over an existing ledger is refused.
  ServerProcess again(fresh.path(), {"--restore-from", dir_.Sub("backups")});
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!again.Exited() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(again.exit_status(), 1);
  EXPECT_TRUE(absl::StrContains(again.Log(), "already holds a ledger")) << again.Log();
}

class ServerConfigTest : public ::testing::Test {
 protected:
  ScopedTempDir dir_;
};

TEST_F(ServerConfigTest, InsecureIsRefusedOnANonLoopbackAddress) {
  ServerProcess server(dir_.path(), {"--insecure", "--listen", "0.0.0.0:0"});
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!server.Exited() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(server.exit_status(), 1);
  EXPECT_TRUE(absl::StrContains(server.Log(),
                                "--insecure is allowed on a loopback address only, not on 0.0.0.0:0"))
      << server.Log();
}

// Each chunk of zero-filled WAL room is written and synced inside an append,
// and a huge one would fill the disk with zeros: refused, naming the bound.
TEST_F(ServerConfigTest, AWalPrefillChunkAbove64MiBIsRefused) {
  ServerProcess server(dir_.path(), {"--wal-prefill-mb", "100000"});
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!server.Exited() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_NE(server.exit_status(), 0);
  EXPECT_TRUE(absl::StrContains(server.Log(), "--wal-prefill-mb: Value 100000 not in range 0 to 64")) << server.Log();
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("ledger"))) << "nothing is written";
}

TEST_F(ServerConfigTest, MissingCertificatesAreNamed) {
  ServerProcess server(dir_.path());
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!server.Exited() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(server.exit_status(), 1);
  EXPECT_TRUE(absl::StrContains(server.Log(), absl::StrCat("cannot read the TLS CA file ",
                                                           dir_.path(), "/tls/ca.pem")))
      << server.Log();
}

}  // namespace
}  // namespace caseledger::testing
