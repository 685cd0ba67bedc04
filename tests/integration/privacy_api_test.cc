// The PrivacyService over the wire: only the privacy officer; the access
// request holds every event and every art. 15 section; personal data is
// encrypted at rest; a rectification shows in the export and the reads; an
// erasure makes the personal data unreadable through every service while the
// hash chain and proofs still verify, and survives a restart; legal holds and
// retention.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "caseledger/v1/audit_service.grpc.pb.h"
#include "caseledger/v1/caseload_service.grpc.pb.h"
#include "caseledger/v1/ledger_service.grpc.pb.h"
#include "caseledger/v1/privacy_service.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "storage/event_codec.h"
#include "storage/merkle.h"
#include "tests/event_builders.h"
#include "tests/integration/in_process_server.h"

namespace caseledger::testing {
namespace {

const absl::Time kNow = Day(300);  // 2026-12-27

class PrivacyApiTest : public InProcessServerTest {
 protected:
  void Configure(services::ServerConfig& config) override {
    config.clock = [] { return kNow; };
    config.retention_days = 30;
    config.retention_interval = absl::ZeroDuration();
  }

  void Append(const std::string& identity, const std::string& client, std::vector<v1::Event> events) {
    v1::AppendEventsRequest req;
    req.set_client_id(client);
    for (auto& e : events) *req.add_events() = std::move(e);
    grpc::ClientContext ctx;
    Prepare(ctx, "begeleider-1");
    v1::AppendEventsResponse resp;
    grpc::Status s = v1::LedgerService::NewStub(Channel(identity))->AppendEvents(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  grpc::Status Read(const std::string& identity, const std::string& client, v1::ReadClientEventsResponse* resp) {
    v1::ReadClientEventsRequest req;
    req.set_client_id(client);
    req.set_purpose("begeleiding");
    grpc::ClientContext ctx;
    Prepare(ctx, "begeleider-1");
    return v1::LedgerService::NewStub(Channel(identity))->ReadClientEvents(&ctx, req, resp);
  }

  std::unique_ptr<v1::PrivacyService::Stub> Privacy(const std::string& identity = "privacy-officer") {
    return v1::PrivacyService::NewStub(Channel(identity));
  }

  grpc::Status Export(const std::string& client, v1::ExportSubjectDataResponse* resp,
                      v1::ExportFormat format = v1::EXPORT_FORMAT_JSON, const std::string& lang = "nl",
                      const std::string& identity = "privacy-officer") {
    v1::ExportSubjectDataRequest req;
    req.set_client_id(client);
    req.set_format(format);
    req.set_lang(lang);
    grpc::ClientContext ctx;
    Prepare(ctx, "fg-1");
    return Privacy(identity)->ExportSubjectData(&ctx, req, resp);
  }

  grpc::Status Erase(const std::string& client, v1::EraseSubjectResponse* resp,
                     const std::string& identity = "privacy-officer") {
    v1::EraseSubjectRequest req;
    req.set_client_id(client);
    req.set_reason("verzoek van de cliënt (art. 17)");
    grpc::ClientContext ctx;
    Prepare(ctx, "fg-1");
    return Privacy(identity)->EraseSubject(&ctx, req, resp);
  }

  // A case at VluchtelingenWerk, shared with and handed over to Goedwerk.
  void LoadCase(const std::string& client) {
    Append("vluchtelingenwerk", client,
           {IntakeEvent(client + "-1", "vluchtelingenwerk"), ScreeningEvent(client + "-2"), AssignEvent(client + "-3"),
            PlanEvent(client + "-4"), AttendanceEvent(client + "-5"),
            ConsentEvent(client + "-6", "k1", {"goedwerk"})});
    Append("vluchtelingenwerk", client, {HandoverEvent(client + "-7", "vluchtelingenwerk", "goedwerk", "k1")});
  }

  // Every byte of every file of the ledger's database.
  std::string DatabaseFiles() {
    std::string all;
    for (const auto& f : std::filesystem::recursive_directory_iterator(dir_.Sub("ledger"))) {
      if (!f.is_regular_file()) continue;
      std::ifstream in(f.path(), std::ios::binary);
      all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return all;
  }
};

TEST_F(PrivacyApiTest, OnlyThePrivacyOfficerMayCallAndRefusalsAreLogged) {
  LoadCase("c-1");
  for (const char* identity : {"vluchtelingenwerk", "auditor", "gemeente", "admin"}) {
    v1::ExportSubjectDataResponse resp;
    grpc::Status s = Export("c-1", &resp, v1::EXPORT_FORMAT_JSON, "nl", identity);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << identity;
    EXPECT_TRUE(resp.document().empty());
    v1::EraseSubjectResponse erased;
    EXPECT_EQ(Erase("c-1", &erased, identity).error_code(), grpc::StatusCode::PERMISSION_DENIED) << identity;
  }
  EXPECT_FALSE(server_->vault()->Erased("c-1").has_value());
  auto log = server_->access_log()->ListForClient("c-1", 0, 100);
  ASSERT_TRUE(log.ok());
  int refused = 0;
  for (const auto& r : *log) refused += r.outcome == "PERMISSION_DENIED" && absl::StartsWith(r.call, "PrivacyService.");
  EXPECT_EQ(refused, 8);
}

TEST_F(PrivacyApiTest, TheExportHoldsEveryEventAndEveryArticle15Section) {
  LoadCase("c-1");
  v1::ReadClientEventsResponse read;
  ASSERT_TRUE(Read("goedwerk", "c-1", &read).ok());
  ASSERT_EQ(read.events(0).personal_data().family_name(), "Testpersoon");

  v1::ExportSubjectDataResponse resp;
  ASSERT_TRUE(Export("c-1", &resp).ok());
  EXPECT_EQ(resp.content_type(), "application/json");
  // The JSON document is the structured export.
  v1::SubjectExport doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(resp.document(), &doc).ok());
  EXPECT_EQ(doc.SerializeAsString(), resp.export_().SerializeAsString());
  ASSERT_EQ(doc.events_size(), 7);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(doc.events(i).event().envelope().stream_version(), uint64_t(i + 1));
  EXPECT_EQ(doc.personal_data().family_name(), "Testpersoon");                  // the data
  EXPECT_EQ(doc.personal_data().v_number(), "V1234567890");
  ASSERT_GT(doc.register_().purposes_size(), 0);                                // (a) purposes
  for (const auto& p : doc.register_().purposes()) {
    EXPECT_FALSE(p.legal_basis().empty());
    EXPECT_GT(p.categories_size(), 0);                                          // (b) categories
    EXPECT_FALSE(p.retention().empty());                                        // (d) retention
    EXPECT_FALSE(p.source().empty());                                           // (g) source
  }
  std::set<std::string> recipients;                                             // (c) recipients
  for (const auto& r : doc.recipients()) recipients.insert(r.organisation() + "/" + r.how());
  EXPECT_TRUE(recipients.count("vluchtelingenwerk/intake"));
  EXPECT_TRUE(recipients.count("goedwerk/overdracht"));
  EXPECT_TRUE(recipients.count("goedwerk/toestemming k1"));
  EXPECT_FALSE(doc.register_().third_country_transfers().empty());
  EXPECT_FALSE(doc.register_().automated_decisions().empty());                  // (h)
  EXPECT_FALSE(doc.register_().supervisory_authority().empty());                // (f)
  bool goedwerk_read = false, export_logged = false;                            // processing log
  for (const auto& a : doc.access_log()) {
    goedwerk_read |= a.organisation() == "goedwerk" && a.call() == "LedgerService.ReadClientEvents";
    export_logged |= a.call() == "PrivacyService.ExportSubjectData" && a.user_id() == "fg-1";
  }
  EXPECT_TRUE(goedwerk_read);
  EXPECT_TRUE(export_logged) << "the export itself is a processing the person may see";
  EXPECT_EQ(doc.case_view().organisation(), "goedwerk");

  // The HTML document, in Dutch and in English: headings, the data, the history, the log, the rights.
  ASSERT_TRUE(Export("c-1", &resp, v1::EXPORT_FORMAT_HTML, "nl").ok());
  EXPECT_EQ(resp.content_type(), "text/html; charset=utf-8");
  const std::string& nl = resp.document();
  for (const char* want : {"<html lang=\"nl\">", "<h1>Overzicht van uw gegevens</h1>", "Testpersoon", "V1234567890",
                           "Wat er in uw dossier is vastgelegd", "U bent aangemeld bij vluchtelingenwerk",
                           "Uw begeleiding is overgedragen van vluchtelingenwerk aan goedwerk",
                           "Wie uw gegevens heeft ingezien", "Ontvangers van uw gegevens", "Uw rechten",
                           "Autoriteit Persoonsgegevens"}) {
    EXPECT_TRUE(absl::StrContains(nl, want)) << want;
  }
  ASSERT_TRUE(Export("c-1", &resp, v1::EXPORT_FORMAT_HTML, "en").ok());
  for (const char* want : {"<html lang=\"en\">", "Overview of your data", "Your rights", "Who looked at your data"}) {
    EXPECT_TRUE(absl::StrContains(resp.document(), want)) << want;
  }

  EXPECT_EQ(Export("c-1", &resp, v1::EXPORT_FORMAT_HTML, "fr").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Export("nobody", &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Export("", &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(PrivacyApiTest, PersonalDataIsEncryptedAtRest) {
  v1::Event intake = IntakeEvent("c-1-1", "vluchtelingenwerk");
  intake.mutable_personal_data()->set_family_name("Zwanenburg-Onvindbaar");
  intake.mutable_personal_data()->set_notes("Woont bij een kennis in Osdorp");
  Append("vluchtelingenwerk", "c-1", {intake});
  v1::ReadClientEventsResponse read;
  ASSERT_TRUE(Read("vluchtelingenwerk", "c-1", &read).ok());
  EXPECT_EQ(read.events(0).personal_data().family_name(), "Zwanenburg-Onvindbaar");
  // The synced WAL (and any SST) holds only the sealed bytes.
  StartServer();  // closing flushes the memtables to SST files as well
  const std::string files = DatabaseFiles();
  EXPECT_FALSE(files.empty());
  EXPECT_EQ(files.find("Zwanenburg-Onvindbaar"), std::string::npos);
  EXPECT_EQ(files.find("Osdorp"), std::string::npos);
  EXPECT_EQ(files.find("V1234567890"), std::string::npos);
  EXPECT_NE(files.find("LVV Amsterdam-West"), std::string::npos) << "the check must see the payload bytes";
  // An exact retry is still recognised (the sealing is deterministic).
  v1::AppendEventsRequest req;
  req.set_client_id("c-1");
  *req.add_events() = intake;
  grpc::ClientContext ctx;
  Prepare(ctx, "begeleider-1");
  v1::AppendEventsResponse resp;
  ASSERT_TRUE(v1::LedgerService::NewStub(Channel("vluchtelingenwerk"))->AppendEvents(&ctx, req, &resp).ok());
  EXPECT_TRUE(resp.deduplicated());
}

TEST_F(PrivacyApiTest, ARectificationShowsInTheExportAndTheReads) {
  LoadCase("c-1");
  v1::RectifyEventRequest req;
  req.set_client_id("c-1");
  req.set_event_id("fix-1");
  req.set_corrected_event_id("c-1-1");
  req.add_field_paths("personal_data.family_name");
  req.mutable_replacement()->mutable_personal_data()->set_family_name("Test-Persoon");
  req.set_reason("Spelfout in achternaam (verzoek cliënt)");
  v1::RectifyEventResponse resp;
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "fg-1");
    grpc::Status s = Privacy()->RectifyEvent(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(resp.stream_version(), 8u);
  EXPECT_EQ(std::vector<std::string>(resp.recipients_to_inform().begin(), resp.recipients_to_inform().end()),
            (std::vector<std::string>{"goedwerk", "vluchtelingenwerk"}));

  v1::ExportSubjectDataResponse exported;
  ASSERT_TRUE(Export("c-1", &exported).ok());
  const v1::SubjectExport& doc = exported.export_();
  EXPECT_EQ(doc.personal_data().family_name(), "Test-Persoon");
  EXPECT_EQ(doc.personal_data().given_names(), "Amina") << "fields not named stay";
  EXPECT_TRUE(doc.events(0).superseded());
  EXPECT_EQ(doc.events(0).superseded_by(), "fix-1");
  EXPECT_EQ(doc.events(0).event().personal_data().family_name(), "Testpersoon") << "the original stays";
  ASSERT_EQ(doc.rectifications_size(), 1);
  EXPECT_EQ(doc.rectifications(0).corrected_event_id(), "c-1-1");
  EXPECT_EQ(doc.rectifications(0).recipients_to_inform_size(), 2);
  ASSERT_TRUE(Export("c-1", &exported, v1::EXPORT_FORMAT_HTML).ok());
  EXPECT_TRUE(absl::StrContains(exported.document(), "Spelfout in achternaam")) << "the HTML lists the correction";
  EXPECT_TRUE(absl::StrContains(exported.document(), "class=\"superseded\"")) << "and shows the old value struck";

  // The holder reads the correction with its (decrypted) value.
  v1::ReadClientEventsResponse read;
  ASSERT_TRUE(Read("goedwerk", "c-1", &read).ok());
  ASSERT_EQ(read.events_size(), 8);
  EXPECT_EQ(read.events(7).corrected().replacement().personal_data().family_name(), "Test-Persoon");

  // A field PersonalData lacks, or an unknown event: clear errors, nothing written.
  const uint64_t before = server_->store()->LastPosition();
  req.set_event_id("fix-2");
  req.set_field_paths(0, "personal_data.shoe_size");
  grpc::ClientContext ctx;
  Prepare(ctx, "fg-1");
  grpc::Status bad = Privacy()->RectifyEvent(&ctx, req, &resp);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(bad.error_message(), "personal_data.shoe_size")) << bad.error_message();
  req.set_field_paths(0, "personal_data.family_name");
  req.set_corrected_event_id("no-such-event");
  grpc::ClientContext ctx2;
  Prepare(ctx2, "fg-1");
  EXPECT_EQ(Privacy()->RectifyEvent(&ctx2, req, &resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(server_->store()->LastPosition(), before);
}

TEST_F(PrivacyApiTest, AfterErasureNoServiceReturnsThePersonalDataAndEveryProofStillVerifies) {
  LoadCase("c-1");
  LoadCase("c-2");
  v1::EraseSubjectResponse erased;
  grpc::Status s = Erase("c-1", &erased);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(erased.events_with_personal_data(), 1u);
  EXPECT_GT(erased.global_position(), 0u);

  auto check_erased = [&] {
    v1::ReadClientEventsResponse read;
    ASSERT_TRUE(Read("goedwerk", "c-1", &read).ok());
    ASSERT_EQ(read.events_size(), 8);
    EXPECT_FALSE(read.events(0).has_personal_data());
    EXPECT_TRUE(read.events(0).envelope().personal_data_erased());
    EXPECT_TRUE(read.events(7).has_subject_erased());
    EXPECT_EQ(read.events(0).intake().location(), "LVV Amsterdam-West") << "the case facts remain";
    v1::ExportSubjectDataResponse exported;
    ASSERT_TRUE(Export("c-1", &exported).ok());
    EXPECT_TRUE(exported.export_().erased());
    EXPECT_FALSE(exported.export_().has_personal_data());
    EXPECT_FALSE(absl::StrContains(exported.document(), "Testpersoon"));
    ASSERT_TRUE(Export("c-1", &exported, v1::EXPORT_FORMAT_HTML).ok());
    EXPECT_FALSE(absl::StrContains(exported.document(), "Testpersoon"));
    EXPECT_TRUE(absl::StrContains(exported.document(), "Uw persoonsgegevens zijn gewist op"));
    // The caseload view shows the case as erased.
    grpc::ClientContext ctx;
    Prepare(ctx, "cm-1");
    v1::GetCaseRequest req;
    req.set_client_id("c-1");
    v1::GetCaseResponse view;
    ASSERT_TRUE(v1::CaseloadService::NewStub(Channel("goedwerk"))->GetCase(&ctx, req, &view).ok());
    EXPECT_EQ(view.case_().status(), v1::CASE_STATUS_ERASED);
    // The other client keeps its data.
    ASSERT_TRUE(Read("goedwerk", "c-2", &read).ok());
    EXPECT_EQ(read.events(0).personal_data().family_name(), "Testpersoon");
  };
  check_erased();

  // Nothing new can be recorded for an erased client.
  {
    v1::AppendEventsRequest req;
    req.set_client_id("c-1");
    *req.add_events() = AttendanceEvent("c-1-late", 250);
    grpc::ClientContext ctx;
    Prepare(ctx, "begeleider-9");
    v1::AppendEventsResponse resp;
    EXPECT_EQ(v1::LedgerService::NewStub(Channel("goedwerk"))->AppendEvents(&ctx, req, &resp).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }

  // The chain and every inclusion proof still verify: they cover the sealed bytes.
  auto audit = v1::AuditService::NewStub(Channel("auditor"));
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "a-1");
    v1::VerifyChainResponse chain;
    ASSERT_TRUE(audit->VerifyChain(&ctx, v1::VerifyChainRequest(), &chain).ok());
    EXPECT_TRUE(chain.intact()) << chain.problem();
    EXPECT_EQ(chain.checked(), server_->store()->LastPosition());
  }
  v1::SignedTreeHead head;
  {
    grpc::ClientContext ctx;
    Prepare(ctx, "a-1");
    ASSERT_TRUE(audit->GetTreeHead(&ctx, v1::GetTreeHeadRequest(), &head).ok());
  }
  for (uint64_t position = 1; position <= head.tree_size(); ++position) {
    grpc::ClientContext ctx;
    Prepare(ctx, "a-1");
    v1::GetInclusionProofRequest req;
    req.set_global_position(position);
    req.set_tree_size(head.tree_size());
    v1::InclusionProof proof;
    ASSERT_TRUE(audit->GetInclusionProof(&ctx, req, &proof).ok());
    std::vector<std::string> hashes(proof.hashes().begin(), proof.hashes().end());
    EXPECT_TRUE(storage::VerifyMerkleInclusion(position - 1, head.tree_size(), proof.leaf_hash(), hashes,
                                               head.root_hash())
                    .ok())
        << position;
  }

  // Erasure survives a restart; erasing again is a harmless retry.
  StartServer();
  check_erased();
  EXPECT_TRUE(Erase("c-1", &erased).ok());
}

TEST_F(PrivacyApiTest, ALegalHoldBlocksErasureUntilLifted) {
  LoadCase("c-1");
  auto hold = [&](bool on, const std::string& reason) {
    v1::SetLegalHoldRequest req;
    req.set_client_id("c-1");
    req.set_hold(on);
    req.set_reason(reason);
    grpc::ClientContext ctx;
    Prepare(ctx, "fg-1");
    v1::SetLegalHoldResponse resp;
    return Privacy()->SetLegalHold(&ctx, req, &resp);
  };
  EXPECT_EQ(hold(true, "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(hold(true, "lopende procedure bij de rechtbank").ok());
  const uint64_t before = server_->store()->LastPosition();
  v1::EraseSubjectResponse erased;
  grpc::Status refused = Erase("c-1", &erased);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "lopende procedure bij de rechtbank"));
  EXPECT_EQ(server_->store()->LastPosition(), before);
  EXPECT_FALSE(server_->vault()->Erased("c-1").has_value());
  v1::ExportSubjectDataResponse exported;
  ASSERT_TRUE(Export("c-1", &exported).ok());
  EXPECT_TRUE(exported.export_().legal_hold());
  ASSERT_TRUE(hold(false, "").ok());
  EXPECT_TRUE(Erase("c-1", &erased).ok());
}

TEST_F(PrivacyApiTest, RetentionListsOnADryRunThenErasesAllButHeldClients) {
  // Terminated on 2026-09-18; with 30 days' retention, erasable from 2026-10-19. Today is 2026-12-27.
  for (const std::string client : {"old-1", "old-2", "running"}) {
    Append("vluchtelingenwerk", client, {IntakeEvent(client + "-1", "vluchtelingenwerk")});
  }
  Append("vluchtelingenwerk", "old-1", {TerminatedEvent("old-1-9")});
  Append("vluchtelingenwerk", "old-2", {TerminatedEvent("old-2-9")});
  {
    v1::SetLegalHoldRequest req;
    req.set_client_id("old-2");
    req.set_hold(true);
    req.set_reason("archiefverzoek");
    grpc::ClientContext ctx;
    Prepare(ctx, "fg-1");
    v1::SetLegalHoldResponse resp;
    ASSERT_TRUE(Privacy()->SetLegalHold(&ctx, req, &resp).ok());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (server_->caseload_worker()->checkpoint() < server_->store()->LastPosition()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto run = [&](bool dry_run) {
    v1::RunRetentionRequest req;
    req.set_dry_run(dry_run);
    grpc::ClientContext ctx;
    Prepare(ctx, "fg-1");
    v1::RunRetentionResponse resp;
    grpc::Status s = Privacy()->RunRetention(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  };
  v1::RunRetentionResponse dry = run(true);
  EXPECT_EQ(dry.retention_days(), 30);
  ASSERT_EQ(dry.candidates_size(), 2);
  EXPECT_EQ(dry.candidates(0).client_id(), "old-1");
  EXPECT_FALSE(dry.candidates(0).erased());
  EXPECT_EQ(dry.candidates(0).erase_after().month(), 10);
  EXPECT_EQ(dry.candidates(0).erase_after().day(), 18);
  EXPECT_TRUE(dry.candidates(1).legal_hold());
  EXPECT_FALSE(server_->vault()->Erased("old-1").has_value()) << "a dry run erases nothing";

  v1::RunRetentionResponse real = run(false);
  ASSERT_EQ(real.candidates_size(), 2);
  EXPECT_TRUE(real.candidates(0).erased());
  EXPECT_FALSE(real.candidates(1).erased());
  EXPECT_TRUE(server_->vault()->Erased("old-1").has_value());
  EXPECT_FALSE(server_->vault()->Erased("old-2").has_value());
  EXPECT_FALSE(server_->vault()->Erased("running").has_value());
}

}  // namespace
}  // namespace caseledger::testing

namespace caseledger::testing {
namespace {

TEST(ProcessingRegisterTest, TheDeployedExampleParsesAndEqualsTheBuiltInDefault) {
  std::ifstream in(std::string(CASELEDGER_SOURCE_DIR) + "/deploy/processing-register.textproto");
  ASSERT_TRUE(in.good());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto parsed = services::ParseProcessingRegister(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->SerializeAsString(), services::DefaultProcessingRegister().SerializeAsString());
  EXPECT_EQ(services::ParseProcessingRegister("controller: 1 2 3").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(services::ParseProcessingRegister("controller: \"x\"").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace caseledger::testing
