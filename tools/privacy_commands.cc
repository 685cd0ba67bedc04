#include "tools/privacy_commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "caseledger/v1/privacy_service.grpc.pb.h"
#include "tools/cli_util.h"

namespace caseledger::tools {

PrivacyCommands::PrivacyCommands(CLI::App& app) {
  inzage_ = app.add_subcommand("inzage", "export everything about one person: access request, AVG art. 15 (privacy-officer role)");
  inzage_->add_option("client", client_, "client id")->required();
  inzage_->add_option("--format", format_, "html (a document for the person) or json")
      ->check(CLI::IsMember({"html", "json"}))->capture_default_str();
  inzage_->add_option("--lang", lang_, "nl or en")->check(CLI::IsMember({"nl", "en"}))->capture_default_str();
  inzage_->add_option("-o,--output", output_, "file to write; default stdout");
  inzage_->add_option("--purpose", purpose_, "why (recorded); default: inzageverzoek AVG art. 15");

  rectify_ = app.add_subcommand("rectify", "correct fields of an earlier event, AVG art. 16 (privacy-officer role)");
  rectify_->add_option("client", client_, "client id")->required();
  rectify_->add_option("--event", event_, "id of the event to correct")->required();
  rectify_->add_option("--set", fields_, "FIELD=VALUE, e.g. personal_data.family_name=Jansen (repeat)")->required();
  rectify_->add_option("--reason", reason_, "why the data is corrected")->required();
  rectify_->add_option("--id", id_, "id of the correction (a retry with the same id writes nothing)");

  erase_ = app.add_subcommand("erase", "erase a person's personal data for good, AVG art. 17 (privacy-officer role)");
  erase_->add_option("client", client_, "client id")->required();
  erase_->add_option("--reason", reason_, "why (stays in the ledger)")->required();

  hold_ = app.add_subcommand("legal-hold", "set or lift a legal hold: erasure is refused while set (privacy-officer role)");
  hold_->add_option("client", client_, "client id")->required();
  hold_->add_option("--reason", reason_, "why the data must be kept");
  hold_->add_flag("--lift", lift_, "lift the hold");

  retention_ = app.add_subcommand("retention", "erase the clients whose retention period has passed (privacy-officer role)");
  retention_->add_flag("--dry-run", dry_run_, "only list what would be erased");
}

std::optional<int> PrivacyCommands::Run(const std::shared_ptr<grpc::Channel>& channel, const std::string& user,
                                        bool json) {
  auto stub = v1::PrivacyService::NewStub(channel);
  if (inzage_->parsed()) {
    v1::ExportSubjectDataRequest req;
    req.set_client_id(client_);
    req.set_format(format_ == "json" ? v1::EXPORT_FORMAT_JSON : v1::EXPORT_FORMAT_HTML);
    req.set_lang(lang_);
    req.set_purpose(purpose_);
    v1::ExportSubjectDataResponse resp;
    auto ctx = NewContext(user, 300);
    if (!output_.empty()) std::cerr << "inzage " << client_ << ": bezig (in progress)…\n";
    grpc::Status s = stub->ExportSubjectData(ctx.get(), req, &resp);
    if (!s.ok()) return Fail(s);
    if (output_.empty()) {
      std::cout << resp.document();
      return 0;
    }
    std::ofstream out(output_, std::ios::binary);
    out << resp.document();
    out.close();
    if (!out) return Fail(absl::UnavailableError("cannot write " + output_));
    std::cerr << "inzage " << client_ << ": " << resp.export_().events_size() << " gebeurtenissen, "
              << resp.export_().access_log_size() << " inzagen in de verwerkingenlogging, "
              << resp.export_().recipients_size() << " ontvangers"
              << (resp.export_().erased() ? " (persoonsgegevens gewist)" : "") << "; geschreven naar "
              << output_ << " (" << resp.document().size() << " bytes)\n";
    return 0;
  }
  if (rectify_->parsed()) {
    v1::RectifyEventRequest req;
    req.set_client_id(client_);
    req.set_corrected_event_id(event_);
    req.set_reason(reason_);
    req.set_event_id(id_.empty() ? absl::StrCat("rectify-", event_, "-", absl::ToUnixSeconds(absl::Now())) : id_);
    v1::PersonalData* pd = req.mutable_replacement()->mutable_personal_data();
    for (const std::string& f : fields_) {
      std::vector<std::string> kv = absl::StrSplit(f, absl::MaxSplits('=', 1));
      if (kv.size() != 2) return Fail(absl::InvalidArgumentError("--set takes FIELD=VALUE, not '" + f + "'"));
      req.add_field_paths(kv[0]);
      const std::string name(absl::StripPrefix(kv[0], "personal_data."));
      const auto* field = v1::PersonalData::descriptor()->FindFieldByName(name);
      if (field == nullptr || kv[0].rfind("personal_data.", 0) != 0) {
        return Fail(absl::InvalidArgumentError(
            "--set names " + kv[0] + "; the CLI corrects personal_data fields, e.g. personal_data.family_name"));
      }
      if (field->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
        pd->GetReflection()->SetString(pd, field, kv[1]);
      } else {
        int y = 0, m = 0, d = 0;
        if (std::sscanf(kv[1].c_str(), "%d-%d-%d", &y, &m, &d) != 3) {
          return Fail(absl::InvalidArgumentError(kv[0] + " takes a date YYYY-MM-DD"));
        }
        pd->mutable_birth_date()->set_year(y);
        pd->mutable_birth_date()->set_month(m);
        pd->mutable_birth_date()->set_day(d);
      }
    }
    v1::RectifyEventResponse resp;
    auto ctx = NewContext(user);
    grpc::Status s = stub->RectifyEvent(ctx.get(), req, &resp);
    if (!s.ok()) return Fail(s);
    if (json) {
      std::cout << ToJson(resp) << "\n";
    } else {
      std::cout << "gecorrigeerd (rectified): " << client_ << " versie " << resp.stream_version()
                << ", positie " << resp.global_position() << "\ninformeer (art. 19):";
      for (const auto& o : resp.recipients_to_inform()) std::cout << " " << o;
      std::cout << "\n";
    }
    return 0;
  }
  if (erase_->parsed()) {
    v1::EraseSubjectRequest req;
    req.set_client_id(client_);
    req.set_reason(reason_);
    v1::EraseSubjectResponse resp;
    auto ctx = NewContext(user, 120);
    grpc::Status s = stub->EraseSubject(ctx.get(), req, &resp);
    if (!s.ok()) return Fail(s);
    if (json) {
      std::cout << ToJson(resp) << "\n";
    } else {
      std::cout << "gewist (erased): de persoonsgegevens van " << client_ << " in "
                << resp.events_with_personal_data() << " gebeurtenissen zijn onleesbaar gemaakt; "
                << "vastgelegd op positie " << resp.global_position() << "\n";
    }
    return 0;
  }
  if (hold_->parsed()) {
    v1::SetLegalHoldRequest req;
    req.set_client_id(client_);
    req.set_hold(!lift_);
    req.set_reason(reason_);
    v1::SetLegalHoldResponse resp;
    auto ctx = NewContext(user);
    grpc::Status s = stub->SetLegalHold(ctx.get(), req, &resp);
    if (!s.ok()) return Fail(s);
    std::cout << (lift_ ? "bewaarplicht opgeheven (legal hold lifted): " : "bewaarplicht ingesteld (legal hold set): ")
              << client_ << "\n";
    return 0;
  }
  if (retention_->parsed()) {
    v1::RunRetentionRequest req;
    req.set_dry_run(dry_run_);
    v1::RunRetentionResponse resp;
    auto ctx = NewContext(user, 600);
    grpc::Status s = stub->RunRetention(ctx.get(), req, &resp);
    if (!s.ok()) return Fail(s);
    if (json) {
      for (const auto& c : resp.candidates()) std::cout << ToJson(c) << "\n";
      return 0;
    }
    auto date = [](const v1::Date& d) { return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day()); };
    std::cout << absl::StrFormat("%-12s %-11s %-11s %s\n", "cliënt", "beëindigd", "wissen na", "actie");
    for (const auto& c : resp.candidates()) {
      std::cout << absl::StrFormat("%-12s %-11s %-11s %s\n", c.client_id(), date(c.end_date()), date(c.erase_after()),
                                   c.legal_hold() ? "bewaarplicht: niet gewist"
                                   : c.erased()   ? "gewist"
                                                  : "zou gewist worden (proefrun)");
    }
    std::cout << resp.candidates_size() << " cliënten voorbij de bewaartermijn van " << resp.retention_days()
              << " dagen" << (dry_run_ ? " (proefrun: niets gewist)" : "") << "\n";
    return 0;
  }
  return std::nullopt;
}

}  // namespace caseledger::tools
