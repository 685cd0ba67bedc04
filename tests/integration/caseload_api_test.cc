// The CaseloadService over the wire, against the real server with an injected
// clock: who may see which case, every filter, pagination while events keep
// arriving, the case as it stood at a moment, the municipality's reports
// without personal data, bad inputs, and the projection's rebuild and restart.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "caseledger/v1/admin_service.grpc.pb.h"
#include "caseledger/v1/caseload_service.grpc.pb.h"
#include "caseledger/v1/ledger_service.grpc.pb.h"
#include "projections/event_mapping.h"
#include "tests/event_builders.h"
#include "tests/integration/in_process_server.h"
#include "tools/demo_caseload.h"

namespace caseledger::testing {
namespace {

// "Today" for every test here: 2026-10-08 09:00 UTC.
const absl::Time kNow = Day(220);

class CaseloadApiTest : public InProcessServerTest {
 protected:
  void Configure(services::ServerConfig& config) override {
    config.clock = [] { return kNow; };
    // Small limits so the overload and funding signals show with few cases.
    config.caseload_policy.begeleider_max_cases = 1;
    config.caseload_policy.funded[v1::TRACK_LEGAL] = {0, 1};
  }

  void Append(const std::string& identity, const std::string& client, std::vector<v1::Event> events,
              const std::string& user = "begeleider-1") {
    v1::AppendEventsRequest req;
    req.set_client_id(client);
    for (auto& e : events) *req.add_events() = std::move(e);
    grpc::ClientContext ctx;
    Prepare(ctx, user);
    v1::AppendEventsResponse resp;
    grpc::Status s = v1::LedgerService::NewStub(Channel(identity))->AppendEvents(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << client << ": " << s.error_message();
  }

  // Blocks until the caseload projection has folded the whole log.
  void WaitForProjection() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (server_->caseload_worker()->checkpoint() < server_->store()->LastPosition()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the caseload projection did not catch up";
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  std::unique_ptr<v1::CaseloadService::Stub> Caseload(const std::string& identity) {
    return v1::CaseloadService::NewStub(Channel(identity));
  }

  grpc::Status ListCases(const std::string& identity, v1::ListCasesRequest req, v1::ListCasesResponse* resp) {
    grpc::ClientContext ctx;
    Prepare(ctx, "casemanager-1");
    return Caseload(identity)->ListCases(&ctx, req, resp);
  }

  // Every client id the caller sees under `filter`, following the pages.
  std::vector<std::string> Ids(const std::string& identity, v1::ListCasesRequest filter = {}) {
    std::vector<std::string> ids;
    for (int pages = 0; pages < 1000; ++pages) {
      v1::ListCasesResponse resp;
      grpc::Status s = ListCases(identity, filter, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const auto& c : resp.cases()) ids.push_back(c.client_id());
      if (resp.next_page_token().empty()) break;
      filter.set_page_token(resp.next_page_token());
    }
    return ids;
  }

  grpc::Status GetCase(const std::string& identity, const std::string& client, v1::GetCaseResponse* resp,
                       std::optional<absl::Time> as_of = std::nullopt) {
    v1::GetCaseRequest req;
    req.set_client_id(client);
    req.set_purpose("voorbereiding evaluatie");
    if (as_of.has_value()) *req.mutable_as_of() = projections::ToTimestamp(*as_of);
    grpc::ClientContext ctx;
    Prepare(ctx, "casemanager-1");
    return Caseload(identity)->GetCase(&ctx, req, resp);
  }

  // Four cases at VluchtelingenWerk, two at Goedwerk (one shared by consent):
  //   a: intake only (fase intake), begeleider-1       -> no plan
  //   b: intake, screening, begeleider-1, plan         -> fase plan; evaluation and goal overdue
  //   c: toekomstoriëntatie, screening, begeleider-2   -> fase gescreend, no plan
  //   d: intake, terminated                            -> beëindigd
  //   g1: Goedwerk's own; g2: Goedwerk's, consent for VluchtelingenWerk.
  void LoadSmallCaseload() {
    Append("vluchtelingenwerk", "a", {IntakeEvent("a-1", "vluchtelingenwerk"), AssignEvent("a-2")});
    Append("vluchtelingenwerk", "b",
           {IntakeEvent("b-1", "vluchtelingenwerk"), ScreeningEvent("b-2"), AssignEvent("b-3"), PlanEvent("b-4")});
    v1::Event c_intake = IntakeEvent("c-1", "vluchtelingenwerk");
    c_intake.mutable_intake()->set_track(v1::TRACK_FUTURE_ORIENTATION);
    v1::Event c_assign = AssignEvent("c-3");
    c_assign.mutable_caseworker_assigned()->set_begeleider("begeleider-2");
    c_assign.mutable_caseworker_assigned()->set_casemanager("casemanager-2");
    Append("vluchtelingenwerk", "c", {c_intake, ScreeningEvent("c-2"), c_assign});
    Append("vluchtelingenwerk", "d", {IntakeEvent("d-1", "vluchtelingenwerk"), TerminatedEvent("d-2")});
    Append("goedwerk", "g1", {IntakeEvent("g1-1", "goedwerk"), AssignEvent("g1-2")});
    Append("goedwerk", "g2",
           {IntakeEvent("g2-1", "goedwerk"), ConsentEvent("g2-2", "k1", {"vluchtelingenwerk"})});
    WaitForProjection();
  }
};

using Strings = std::vector<std::string>;

TEST_F(CaseloadApiTest, APartnerSeesOnlyItsOwnAndConsentedClients) {
  LoadSmallCaseload();
  EXPECT_EQ(Ids("vluchtelingenwerk"), (Strings{"a", "b", "c", "d", "g2"}));
  EXPECT_EQ(Ids("goedwerk"), (Strings{"g1", "g2"}));
  EXPECT_EQ(Ids("askv"), Strings{});
  EXPECT_EQ(Ids("auditor"), (Strings{"a", "b", "c", "d", "g1", "g2"}));
  v1::ListCasesRequest other_org;
  other_org.set_organisation("goedwerk");
  EXPECT_EQ(Ids("vluchtelingenwerk", other_org), Strings{"g2"});

  v1::GetCaseResponse resp;
  grpc::Status refused = GetCase("vluchtelingenwerk", "g1", &resp);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED) << refused.error_message();
  EXPECT_FALSE(resp.has_case_());
  ASSERT_TRUE(GetCase("vluchtelingenwerk", "g2", &resp).ok());
  EXPECT_EQ(resp.case_().organisation(), "goedwerk");
  ASSERT_TRUE(GetCase("vluchtelingenwerk", "b", &resp).ok());
  EXPECT_EQ(resp.case_().begeleider(), "begeleider-1");
  EXPECT_EQ(resp.case_().casemanager(), "casemanager-1");
  EXPECT_EQ(resp.case_().phase(), v1::PHASE_PLAN);
  EXPECT_EQ(resp.case_().goals_total(), 1);
  EXPECT_EQ(resp.case_().version(), 4u);

  // Both the refused and the allowed look were recorded, with who, why and outcome.
  auto refused_log = server_->access_log()->ListForClient("g1", 0, 10);
  ASSERT_TRUE(refused_log.ok());
  ASSERT_EQ(refused_log->size(), 1u);
  EXPECT_EQ((*refused_log)[0].call, "CaseloadService.GetCase");
  EXPECT_EQ((*refused_log)[0].organisation, "vluchtelingenwerk");
  EXPECT_EQ((*refused_log)[0].outcome, "PERMISSION_DENIED");
  auto allowed_log = server_->access_log()->ListForClient("b", 0, 10);
  ASSERT_TRUE(allowed_log.ok());
  ASSERT_EQ(allowed_log->size(), 1u);
  EXPECT_EQ((*allowed_log)[0].outcome, "OK");
  EXPECT_EQ((*allowed_log)[0].user_id, "casemanager-1");
  EXPECT_EQ((*allowed_log)[0].purpose, "voorbereiding evaluatie");

  // Revoking the consent takes g2 out of VluchtelingenWerk's view at once.
  Append("goedwerk", "g2", {RevokeEvent("g2-3", "k1")});
  WaitForProjection();
  EXPECT_EQ(Ids("vluchtelingenwerk"), (Strings{"a", "b", "c", "d"}));
  EXPECT_EQ(GetCase("vluchtelingenwerk", "g2", &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(CaseloadApiTest, EachFilterSelectsItsCases) {
  LoadSmallCaseload();
  auto with = [](auto set) {
    v1::ListCasesRequest r;
    set(r);
    return r;
  };
  const std::string vw = "vluchtelingenwerk";
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_organisation("vluchtelingenwerk"); })),
            (Strings{"a", "b", "c", "d"}));
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_begeleider("begeleider-1"); })), (Strings{"a", "b"}));
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_begeleider("begeleider-2"); })), Strings{"c"});
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_casemanager("casemanager-2"); })), Strings{"c"});
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_track(v1::TRACK_FUTURE_ORIENTATION); })), Strings{"c"});
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_track(v1::TRACK_LEGAL); })), (Strings{"a", "b", "d", "g2"}));
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_phase(v1::PHASE_INTAKE); })), (Strings{"a", "g2"}));
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_phase(v1::PHASE_SCREENED); })), Strings{"c"});
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_phase(v1::PHASE_PLAN); })), Strings{"b"});
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_phase(v1::PHASE_ENDED); })), Strings{"d"});
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_status(v1::CASE_STATUS_TERMINATED); })), Strings{"d"});
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_status(v1::CASE_STATUS_ACTIVE); })),
            (Strings{"a", "b", "c", "g2"}));
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_signal(v1::SIGNAL_NO_PLAN); })), (Strings{"a", "c", "g2"}));
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_signal(v1::SIGNAL_EVALUATION_OVERDUE); })), Strings{"b"});
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_signal(v1::SIGNAL_GOAL_OVERDUE); })), Strings{"b"});
  // begeleider-1 carries a and b, over the configured maximum of 1.
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_signal(v1::SIGNAL_BEGELEIDER_OVERLOADED); })),
            (Strings{"a", "b"}));
  // Two active legal cases at each organisation; the funded maximum is 1.
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_signal(v1::SIGNAL_TRACK_OVER_MAXIMUM); })),
            (Strings{"a", "b", "g2"}));
  EXPECT_EQ(Ids(vw, with([](auto& r) {
              r.set_begeleider("begeleider-1");
              r.set_phase(v1::PHASE_PLAN);
            })),
            Strings{"b"});
  EXPECT_EQ(Ids(vw, with([](auto& r) { r.set_begeleider("niemand"); })), Strings{});

  // The view carries what the caseload overview shows.
  v1::ListCasesResponse resp;
  ASSERT_TRUE(ListCases(vw, with([](auto& r) { r.set_begeleider("begeleider-2"); }), &resp).ok());
  ASSERT_EQ(resp.cases_size(), 1);
  const v1::CaseView& c = resp.cases(0);
  EXPECT_EQ(c.organisation(), "vluchtelingenwerk");
  EXPECT_EQ(c.team(), "team-west");
  EXPECT_EQ(c.intake_date().year(), 2026);
  EXPECT_EQ(c.intake_date().month(), 3);
  EXPECT_EQ(c.intake_date().day(), 2);
  EXPECT_EQ(c.days_in_trajectory(), 220);
  EXPECT_EQ(resp.projection_position(), server_->store()->LastPosition());

  // Signals per organisation and per begeleider.
  grpc::ClientContext ctx;
  Prepare(ctx, "casemanager-1");
  v1::ListSignalsRequest sreq;
  sreq.set_begeleider("begeleider-2");
  v1::ListSignalsResponse signals;
  ASSERT_TRUE(Caseload(vw)->ListSignals(&ctx, sreq, &signals).ok());
  std::set<std::pair<std::string, int>> got;
  for (const auto& s : signals.signals()) got.insert({s.client_id(), s.kind()});
  EXPECT_TRUE(got.count({"c", v1::SIGNAL_NO_PLAN})) << signals.DebugString();
  for (const auto& s : signals.signals()) {
    EXPECT_TRUE(s.client_id().empty() || s.client_id() == "c") << s.DebugString();
    EXPECT_EQ(s.organisation(), "vluchtelingenwerk");
  }
}

TEST_F(CaseloadApiTest, PaginationWhileEventsArriveShowsEveryClientOnce) {
  std::set<std::string> original;
  for (int i = 0; i < 45; ++i) {
    std::string id = absl::StrFormat("p-%03d", i * 2);
    Append("vluchtelingenwerk", id, {IntakeEvent(id + "-in", "vluchtelingenwerk")});
    original.insert(id);
  }
  WaitForProjection();

  std::vector<std::string> seen;
  v1::ListCasesRequest req;
  req.set_page_size(7);
  int pages = 0;
  int added = 0;
  for (;; ++pages) {
    ASSERT_LT(pages, 100);
    v1::ListCasesResponse resp;
    ASSERT_TRUE(ListCases("vluchtelingenwerk", req, &resp).ok());
    EXPECT_LE(resp.cases_size(), 7);
    for (const auto& c : resp.cases()) seen.push_back(c.client_id());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
    // Between pages: new events on seen and unseen clients, new clients on both
    // sides of the cursor.
    const std::string last = seen.back();
    Append("vluchtelingenwerk", last, {AttendanceEvent(absl::StrCat(last, "-att-", pages))});
    Append("vluchtelingenwerk", "p-088", {AttendanceEvent(absl::StrCat("p-088-att-", pages))});
    std::string fresh = absl::StrFormat("p-%03d", added * 2 + 1);
    ++added;
    Append("vluchtelingenwerk", fresh, {IntakeEvent(fresh + "-in", "vluchtelingenwerk")});
    WaitForProjection();
  }
  EXPECT_GE(pages, 6);
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a client was shown twice";
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  for (const std::string& id : original) EXPECT_EQ(unique.count(id), 1u) << id << " was never shown";
  // A client that arrived behind the cursor shows on the next walk.
  EXPECT_EQ(Ids("vluchtelingenwerk").size(), original.size() + added);
}

TEST_F(CaseloadApiTest, GetCaseAsOfShowsTheCaseAsItStood) {
  Append("vluchtelingenwerk", "h",
         {IntakeEvent("h-1", "vluchtelingenwerk"), ScreeningEvent("h-2"), AssignEvent("h-3"),
          PlanEvent("h-4"), PlanRevisedEvent("h-5")});
  v1::GetCaseResponse resp;
  ASSERT_TRUE(GetCase("vluchtelingenwerk", "h", &resp, Day(5)).ok());
  EXPECT_EQ(resp.case_().phase(), v1::PHASE_SCREENED);
  EXPECT_EQ(resp.case_().version(), 3u);
  EXPECT_EQ(resp.case_().days_in_trajectory(), 5);
  EXPECT_EQ(resp.as_of().seconds(), absl::ToUnixSeconds(Day(5)));
  ASSERT_TRUE(GetCase("vluchtelingenwerk", "h", &resp, Day(20)).ok());
  EXPECT_EQ(resp.case_().phase(), v1::PHASE_PLAN);
  EXPECT_EQ(resp.case_().plan_direction(), v1::PLAN_DIRECTION_NETHERLANDS);
  ASSERT_EQ(resp.case_().goals_size(), 1);
  EXPECT_EQ(resp.case_().goals(0).goal_id(), "g1");
  EXPECT_EQ(resp.case_().version(), 4u);
  ASSERT_TRUE(GetCase("vluchtelingenwerk", "h", &resp).ok());
  EXPECT_EQ(resp.case_().plan_direction(), v1::PLAN_DIRECTION_RETURN);
  EXPECT_EQ(resp.case_().version(), 5u);
  EXPECT_EQ(resp.as_of().seconds(), absl::ToUnixSeconds(kNow));

  grpc::Status before = GetCase("vluchtelingenwerk", "h", &resp, Day(-3));
  EXPECT_EQ(before.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(before.error_message(), "client h had no events yet at 2026-02-27T09:00:00Z; ask for a later moment");
  grpc::Status future = GetCase("vluchtelingenwerk", "h", &resp, kNow + absl::Hours(1));
  EXPECT_EQ(future.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetCase("vluchtelingenwerk", "nobody", &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  // An as_of look at someone else's client is refused like any other.
  EXPECT_EQ(GetCase("goedwerk", "h", &resp, Day(20)).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(CaseloadApiTest, TheMunicipalityGetsReportsWithoutPersonalData) {
  LoadSmallCaseload();
  v1::ListCasesResponse cases;
  grpc::Status s = ListCases("gemeente", {}, &cases);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "ListCases: the municipality role sees no case views; use ListReportMoments and "
            "GetQuarterlyReport, which are pseudonymous");
  v1::GetCaseResponse one;
  EXPECT_EQ(GetCase("gemeente", "b", &one).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    v1::ListSignalsRequest req;
    req.set_organisation("vluchtelingenwerk");
    v1::ListSignalsResponse resp;
    EXPECT_EQ(Caseload("gemeente")->ListSignals(&ctx, req, &resp).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }

  // Report moments: the five kinds, with no names, birth dates, V-numbers or staff.
  v1::ListReportMomentsResponse moments;
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    ASSERT_TRUE(Caseload("gemeente")->ListReportMoments(&ctx, v1::ListReportMomentsRequest(), &moments).ok());
  }
  std::map<std::string, std::set<int>> kinds;
  for (const auto& m : moments.moments()) kinds[m.client_id()].insert(m.kind());
  EXPECT_EQ(kinds["b"], (std::set<int>{v1::REPORT_MOMENT_START, v1::REPORT_MOMENT_PLAN,
                                       v1::REPORT_MOMENT_HALF_YEAR}));
  EXPECT_TRUE(kinds["d"].count(v1::REPORT_MOMENT_END));
  const std::string text = moments.DebugString();
  for (const char* personal : {"Amina", "Testpersoon", "V1234567890", "1990", "begeleider-", "casemanager-"}) {
    EXPECT_EQ(text.find(personal), std::string::npos) << personal << " in " << text;
  }

  v1::GetQuarterlyReportRequest qreq;
  qreq.set_track(v1::TRACK_LEGAL);
  qreq.set_quarter("2026Q1");
  v1::QuarterlyReport report;
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    grpc::Status missing = Caseload("gemeente")->GetQuarterlyReport(&ctx, qreq, &report);
    EXPECT_EQ(missing.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << missing.error_message();
  }
  qreq.set_organisation("vluchtelingenwerk");
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    ASSERT_TRUE(Caseload("gemeente")->GetQuarterlyReport(&ctx, qreq, &report).ok());
  }
  EXPECT_EQ(report.inflow(), 3);  // a, b, d: the legal intakes of 2026-03-02
  EXPECT_EQ(report.active_at_end(), 3);
  EXPECT_EQ(report.plans_established(), 1);
  EXPECT_EQ(report.plans_within_term(), 1);
  EXPECT_EQ(report.funded_maximum(), 1);
  const std::string report_text = report.DebugString();
  for (const char* personal : {"Amina", "Testpersoon", "begeleider-", "\"a\"", "\"b\""}) {
    EXPECT_EQ(report_text.find(personal), std::string::npos) << personal;
  }
  // A partner gets its own organisation's report only.
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    EXPECT_EQ(Caseload("goedwerk")->GetQuarterlyReport(&ctx, qreq, &report).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  // Goedwerk's moments never include VluchtelingenWerk's clients, not even the consented ones' own.
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    v1::ListReportMomentsResponse own;
    ASSERT_TRUE(Caseload("goedwerk")->ListReportMoments(&ctx, v1::ListReportMomentsRequest(), &own).ok());
    for (const auto& m : own.moments()) EXPECT_EQ(m.organisation(), "goedwerk") << m.DebugString();
    EXPECT_GT(own.moments_size(), 0);
  }
}

TEST_F(CaseloadApiTest, BadInputsAreInvalidArgumentSayingWhatToFix) {
  LoadSmallCaseload();
  auto list_status = [&](v1::ListCasesRequest req) {
    v1::ListCasesResponse resp;
    grpc::Status s = ListCases("vluchtelingenwerk", req, &resp);
    EXPECT_EQ(resp.cases_size(), 0);
    return s;
  };
  v1::ListCasesRequest req;
  req.set_page_token("not-a-token");
  grpc::Status s = list_status(req);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("page_token is not one this server gave out"), std::string::npos);
  req = {};
  req.set_page_size(501);
  s = list_status(req);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "page_size is 501; ask for 1..500 cases per page (0 means 50)");
  req = {};
  req.set_page_size(-1);
  EXPECT_EQ(list_status(req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req = {};
  req.set_track(static_cast<v1::Track>(99));
  s = list_status(req);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "track has the unknown value 99; use one of the values in caseload_service.proto");
  req = {};
  req.set_phase(static_cast<v1::Phase>(42));
  EXPECT_EQ(list_status(req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req = {};
  req.set_signal(static_cast<v1::SignalKind>(42));
  EXPECT_EQ(list_status(req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req = {};
  req.set_status(static_cast<v1::CaseStatus>(-1));
  EXPECT_EQ(list_status(req).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::GetCaseResponse one;
  s = GetCase("vluchtelingenwerk", "", &one);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "client_id is not set; name the client to show");

  for (const char* quarter : {"2026Q5", "2026", "Q3-2026", "", "99999Q1"}) {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    v1::GetQuarterlyReportRequest qreq;
    qreq.set_track(v1::TRACK_LEGAL);
    qreq.set_quarter(quarter);
    v1::QuarterlyReport report;
    grpc::Status q = Caseload("vluchtelingenwerk")->GetQuarterlyReport(&ctx, qreq, &report);
    EXPECT_EQ(q.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << quarter;
    EXPECT_NE(q.error_message().find("quarter"), std::string::npos) << q.error_message();
  }
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    v1::GetQuarterlyReportRequest qreq;
    qreq.set_quarter("2026Q3");
    v1::QuarterlyReport report;
    grpc::Status q = Caseload("vluchtelingenwerk")->GetQuarterlyReport(&ctx, qreq, &report);
    EXPECT_EQ(q.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(q.error_message(), "track is not set; name the track (traject) to report on, e.g. TRACK_LEGAL");
  }
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    v1::ListReportMomentsRequest mreq;
    *mreq.mutable_from() = MakeDate(2026, 13, 1);
    v1::ListReportMomentsResponse resp;
    grpc::Status m = Caseload("gemeente")->ListReportMoments(&ctx, mreq, &resp);
    EXPECT_EQ(m.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(m.error_message().find("from"), std::string::npos) << m.error_message();
  }
  // Roles without case views are refused: privacy officer and admin.
  for (const char* identity : {"privacy-officer", "admin"}) {
    v1::ListCasesResponse resp;
    EXPECT_EQ(ListCases(identity, {}, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED) << identity;
  }
}

// The demo caseload, as the CLI's demo load sends it.
class CaseloadRebuildTest : public CaseloadApiTest {
 protected:
  void Configure(services::ServerConfig& config) override { config.clock = [] { return kNow; }; }

  void LoadDemo(int clients, int skip_first = 0) {
    tools::DemoOptions options;
    options.clients = clients;
    options.now = kNow;
    int i = 0;
    for (tools::DemoBatch& batch : tools::GenerateDemoCaseload(options)) {
      if (i++ < skip_first) continue;
      Append(batch.identity, batch.client_id, std::move(batch.events));
    }
  }

  int BatchCount(int clients) {
    tools::DemoOptions options;
    options.clients = clients;
    options.now = kNow;
    return static_cast<int>(tools::GenerateDemoCaseload(options).size());
  }

  // Every case as the auditor sees it, in one string.
  std::string Snapshot() {
    std::string all;
    v1::ListCasesRequest req;
    req.set_page_size(500);
    for (;;) {
      v1::ListCasesResponse resp;
      grpc::Status s = ListCases("auditor", req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) return all;
      for (const auto& c : resp.cases()) all += c.SerializeAsString();
      if (resp.next_page_token().empty()) return all;
      req.set_page_token(resp.next_page_token());
    }
  }

  grpc::Status Rebuild(const std::string& identity, const std::string& name, v1::ProjectionInfo* info) {
    grpc::ClientContext ctx;
    Prepare(ctx, "beheerder");
    v1::RebuildProjectionRequest req;
    req.set_name(name);
    return v1::AdminService::NewStub(Channel(identity))->RebuildProjection(&ctx, req, info);
  }
};

TEST_F(CaseloadRebuildTest, RebuildEqualsIncrementalAndARestartCatchesUpWithoutDoubleCounting) {
  const int batches = BatchCount(60);
  LoadDemo(60);
  WaitForProjection();
  const std::string incremental = Snapshot();
  ASSERT_FALSE(incremental.empty());

  v1::ProjectionInfo info;
  ASSERT_TRUE(Rebuild("admin", "caseload", &info).ok());
  EXPECT_EQ(info.name(), "caseload");
  EXPECT_EQ(info.events_applied(), server_->store()->LastPosition());
  EXPECT_EQ(info.lag(), 0u);
  EXPECT_EQ(Snapshot(), incremental) << "the rebuilt caseload differs from the incremental one";

  grpc::Status unknown = Rebuild("admin", "nope", &info);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(unknown.error_message().find("caseload"), std::string::npos) << unknown.error_message();
  EXPECT_EQ(Rebuild("vluchtelingenwerk", "caseload", &info).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  {
    grpc::ClientContext ctx;
    Prepare(ctx, "beheerder");
    v1::ListProjectionsResponse list;
    ASSERT_TRUE(v1::AdminService::NewStub(Channel("admin"))
                    ->ListProjections(&ctx, v1::ListProjectionsRequest(), &list)
                    .ok());
    ASSERT_EQ(list.projections_size(), 1);
    EXPECT_EQ(list.projections(0).name(), "caseload");
    EXPECT_EQ(list.projections(0).checkpoint(), server_->store()->LastPosition());
    EXPECT_EQ(list.projections(0).health(), "ok");
  }

  // The worker stops (as in a crash between appends and projection), more
  // events arrive, and the restarted server catches up.
  server_->caseload_worker()->Stop();
  const uint64_t checkpoint = server_->caseload_worker()->checkpoint();
  LoadDemo(90, batches);
  ASSERT_GT(server_->store()->LastPosition(), checkpoint);
  StartServer();
  WaitForProjection();
  const std::string caught_up = Snapshot();
  ASSERT_TRUE(Rebuild("admin", "caseload", &info).ok());
  EXPECT_EQ(Snapshot(), caught_up) << "catching up after a restart differs from a rebuild";

  // Counters are not double counted: the track totals match the cases.
  std::map<std::pair<std::string, int>, int> active;
  v1::ListCasesRequest req;
  req.set_status(v1::CASE_STATUS_ACTIVE);
  req.set_page_size(500);
  v1::ListCasesResponse resp;
  ASSERT_TRUE(ListCases("auditor", req, &resp).ok());
  EXPECT_GT(resp.cases_size(), 0);
  EXPECT_TRUE(resp.next_page_token().empty());
  for (const auto& c : resp.cases()) ++active[{c.organisation(), c.track()}];
  for (const auto& [key, n] : active) {
    grpc::ClientContext ctx;
    Prepare(ctx, "");
    v1::GetQuarterlyReportRequest qreq;
    qreq.set_organisation(key.first);
    qreq.set_track(static_cast<v1::Track>(key.second));
    qreq.set_quarter("2026Q4");
    v1::QuarterlyReport report;
    ASSERT_TRUE(Caseload("gemeente")->GetQuarterlyReport(&ctx, qreq, &report).ok());
    // Q4 runs past today, so cases active today are active at its end.
    EXPECT_EQ(report.active_at_end(), n) << key.first << " track " << key.second;
  }
}

}  // namespace
}  // namespace caseledger::testing
