#include "services/privacy_service.h"

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/server_context.h>

#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "projections/event_mapping.h"
#include "services/access_recorder.h"
#include "services/auth/access_policy.h"
#include "services/auth/identity.h"
#include "services/case_writer.h"
#include "services/status_translation.h"
#include "services/subject_export_html.h"
#include "storage/status_macros.h"

namespace caseledger::services {
namespace {

using projections::CaseState;

absl::StatusOr<CallerIdentity> Caller(const grpc::ServerContext& context) {
  return IdentityFromAuthContext(*context.auth_context());
}

std::string UserOr(const grpc::ServerContext& context, const std::string& fallback) {
  auto it = context.client_metadata().find("x-user-id");
  if (it == context.client_metadata().end() || it->second.empty()) return fallback;
  return std::string(it->second.data(), std::min<size_t>(it->second.size(), 128));
}

// Checks the caller and the client id, and records the call (allowed or
// refused) in the access log. Returns the caller when the call may proceed.
absl::StatusOr<CallerIdentity> Admit(storage::AccessLog& log, const grpc::ServerContext& context,
                                     absl::string_view client_id, absl::string_view call,
                                     absl::string_view purpose) {
  absl::StatusOr<CallerIdentity> caller = Caller(context);
  absl::Status allowed = caller.ok() ? RequireRole(*caller, Role::kPrivacyOfficer, call) : caller.status();
  if (allowed.ok() && client_id.empty()) {
    allowed = absl::InvalidArgumentError("client_id is not set; name the client (data subject)");
  }
  CASELEDGER_RETURN_IF_ERROR(
      RecordAccess(log, context, caller, client_id.empty() ? "*" : client_id, absl::StrCat("PrivacyService.", call),
                   purpose, allowed));
  CASELEDGER_RETURN_IF_ERROR(allowed);
  return *caller;
}

// Copies the personal_data fields named by a correction onto `current`.
void ApplyCorrection(const v1::Corrected& c, v1::PersonalData& current) {
  const auto* descriptor = v1::PersonalData::descriptor();
  const auto* reflection = v1::PersonalData::GetReflection();
  for (const std::string& path : c.field_paths()) {
    if (!absl::StartsWith(path, "personal_data.")) continue;
    const auto* field = descriptor->FindFieldByName(path.substr(strlen("personal_data.")));
    if (field == nullptr) continue;
    const v1::PersonalData& from = c.replacement().personal_data();
    if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (reflection->HasField(from, field)) {
        reflection->MutableMessage(&current, field)->CopyFrom(reflection->GetMessage(from, field));
      } else {
        reflection->ClearField(&current, field);
      }
    } else {
      reflection->SetString(&current, field, reflection->GetString(from, field));
    }
  }
}

google::protobuf::Timestamp Ts(absl::Time t) { return projections::ToTimestamp(t); }

}  // namespace

v1::ProcessingRegister DefaultProcessingRegister() {
  v1::ProcessingRegister r;
  r.set_controller(
      "De LVV-partnerorganisatie die uw begeleiding uitvoert (VluchtelingenWerk, Goedwerk of ASKV), "
      "samen met de gemeente Amsterdam (Regie & Organisatie) voor de verantwoording");
  r.set_contact("De functionaris gegevensbescherming van uw begeleidende organisatie");
  auto add = [&](const char* purpose, const char* basis, std::vector<const char*> categories,
                 const char* retention, const char* source) {
    v1::ProcessingPurpose* p = r.add_purposes();
    p->set_purpose(purpose);
    p->set_legal_basis(basis);
    for (const char* c : categories) p->add_categories(c);
    p->set_retention(retention);
    p->set_source(source);
  };
  add("Begeleiding naar een duurzame oplossing (LVV): intake, screening, perspectiefplan, begeleiding, "
      "overdracht en beëindiging",
      "AVG art. 6 lid 1 sub e (taak van algemeen belang), LVV-convenant en subsidiebeschikking",
      {"naam", "geboortedatum", "V-nummer", "nationaliteit en land van herkomst", "contactgegevens",
       "gegevens over uw traject, doelen, aanwezigheid en gesprekken"},
      "tot 5 jaar na beëindiging van de begeleiding, daarna gewist",
      "van uzelf en van de organisaties die u begeleiden of naar de LVV verwezen");
  add("Verantwoording aan de gemeente Amsterdam (rapportagemomenten en kwartaalrapportage)",
      "AVG art. 6 lid 1 sub e; subsidievoorwaarden gemeente Amsterdam",
      {"gepseudonimiseerde trajectgegevens (geen naam, geboortedatum of V-nummer)"},
      "volgens de Archiefwet voor subsidiedossiers", "afgeleid uit het trajectdossier");
  add("Verwerkingenlogging en controle (wie heeft uw gegevens ingezien)",
      "AVG art. 5 lid 2 en art. 32 (verantwoordingsplicht en beveiliging)",
      {"wie uw dossier inzag, wanneer en waarom"}, "zolang het dossier bestaat",
      "vastgelegd door het systeem");
  r.add_recipient_categories("de organisaties die u begeleiden, en bij een overdracht de ontvangende organisatie "
                             "(alleen met uw toestemming)");
  r.add_recipient_categories("de gemeente Amsterdam, uitsluitend gepseudonimiseerde gegevens");
  r.add_recipient_categories("auditors die de juistheid van het dossier controleren (zonder persoonsgegevens)");
  r.set_third_country_transfers("Geen: uw gegevens blijven binnen de Europese Unie.");
  r.set_automated_decisions(
      "Geen geautomatiseerde besluitvorming of profilering; signalen in het systeem (zoals een "
      "naderende evaluatie) zijn alleen een hulpmiddel voor uw begeleider.");
  r.set_supervisory_authority("Autoriteit Persoonsgegevens, autoriteitpersoonsgegevens.nl");
  return r;
}

absl::StatusOr<v1::ProcessingRegister> ParseProcessingRegister(const std::string& text) {
  v1::ProcessingRegister r;
  if (!google::protobuf::TextFormat::ParseFromString(text, &r)) {
    return absl::InvalidArgumentError(
        "the processing register is not a caseledger.v1.ProcessingRegister in protobuf text format; "
        "see deploy/processing-register.textproto");
  }
  if (r.controller().empty() || r.purposes().empty()) {
    return absl::InvalidArgumentError("the processing register needs a controller and at least one purpose");
  }
  return r;
}

PrivacyServiceImpl::PrivacyServiceImpl(storage::EventStore* store, storage::KeyVault* vault,
                                       storage::AccessLog* access_log,
                                       const projections::ProjectionWorker* caseload_worker,
                                       PrivacyServiceOptions options)
    : store_(store),
      vault_(vault),
      access_log_(access_log),
      caseload_worker_(caseload_worker),
      options_(std::move(options)) {}

PrivacyServiceImpl::~PrivacyServiceImpl() { Stop(); }

absl::StatusOr<v1::SubjectExport> PrivacyServiceImpl::BuildExport(const std::string& client_id,
                                                                  const std::string& lang) const {
  const absl::Time now = options_.clock();
  v1::SubjectExport out;
  out.set_client_id(client_id);
  out.set_lang(lang);
  *out.mutable_generated_at() = Ts(now);
  *out.mutable_register_() = options_.register_;

  // The client's events, by the per-client stream index.
  std::vector<v1::Event> events;
  CASELEDGER_RETURN_IF_ERROR(
      projections::ForEachStreamEvent(*store_, client_id, 1, [&](const storage::RecordedEvent& recorded) {
        CASELEDGER_ASSIGN_OR_RETURN(v1::Event e, projections::FromRecordedEvent(recorded, *vault_));
        events.push_back(std::move(e));
        return absl::OkStatus();
      }));
  if (events.empty()) {
    return absl::NotFoundError(absl::StrCat("the ledger holds no events of client ", client_id,
                                            "; check the client id (cliëntnummer)"));
  }

  // Corrections: which fields of which event they supersede.
  std::map<std::string, const v1::Event*> correction_of;  // corrected event id -> last correction
  for (const v1::Event& e : events) {
    if (e.has_corrected()) correction_of[e.corrected().corrected_event_id()] = &e;
  }
  v1::PersonalData current;
  std::map<std::string, absl::Time> recipients;  // "org\0how" -> since
  auto add_recipient = [&](const std::string& org, const std::string& how, absl::Time at) {
    if (org.empty()) return;
    std::string key = absl::StrCat(org, std::string(1, '\0'), how);
    if (!recipients.count(key)) recipients[key] = at;
  };
  for (const v1::Event& e : events) {
    v1::ExportedEvent* x = out.add_events();
    *x->mutable_event() = e;
    auto it = correction_of.find(e.envelope().event_id());
    if (it != correction_of.end()) {
      x->set_superseded(true);
      x->mutable_superseded_fields()->CopyFrom(it->second->corrected().field_paths());
      x->set_superseded_by(it->second->envelope().event_id());
    }
    const absl::Time at = projections::FromTimestamp(e.envelope().occurred_at());
    if (e.has_personal_data()) current.MergeFrom(e.personal_data());
    if (e.has_corrected()) ApplyCorrection(e.corrected(), current);
    if (e.has_intake()) add_recipient(e.intake().organisation(), "intake", at);
    if (e.has_handover()) add_recipient(e.handover().to_organisation(), "overdracht", at);
    if (e.has_consent_granted()) {
      for (const std::string& org : e.consent_granted().organisations()) {
        add_recipient(org, absl::StrCat("toestemming ", e.consent_granted().consent_id()), at);
      }
    }
  }
  if (std::optional<storage::ErasureRecord> erased = vault_->Erased(client_id); erased.has_value()) {
    out.set_erased(true);
    *out.mutable_erased_at() = Ts(erased->at);
  } else {
    *out.mutable_personal_data() = current;
  }
  out.set_legal_hold(vault_->Hold(client_id).has_value());

  CASELEDGER_ASSIGN_OR_RETURN(CaseState state, projections::LoadCase(*store_, options_.case_cache, client_id));
  *out.mutable_case_view() =
      projections::ToCaseView(state, absl::ToCivilDay(now, absl::UTCTimeZone()), options_.policy, nullptr);

  // The processing log: who saw the data, by the per-client index.
  CASELEDGER_ASSIGN_OR_RETURN(std::vector<storage::AccessRecord> accesses,
                              access_log_->ListForClient(client_id, 0, 1'000'000));
  for (const storage::AccessRecord& a : accesses) {
    v1::ExportedAccess* x = out.add_access_log();
    *x->mutable_at() = Ts(a.at);
    x->set_organisation(a.organisation);
    x->set_role(a.role);
    x->set_user_id(a.user_id);
    x->set_call(a.call);
    x->set_purpose(a.purpose);
    x->set_outcome(a.outcome);
    if (a.outcome == "OK" && a.role == "partner") add_recipient(a.organisation, "inzage", a.at);
  }
  std::set<std::string> organisations;
  for (const auto& [key, since] : recipients) {
    v1::Recipient* r = out.add_recipients();
    r->set_organisation(key.substr(0, key.find('\0')));
    r->set_how(key.substr(key.find('\0') + 1));
    *r->mutable_since() = Ts(since);
    organisations.insert(r->organisation());
  }
  for (const v1::Event& e : events) {
    if (!e.has_corrected()) continue;
    v1::Rectification* r = out.add_rectifications();
    r->set_correction_event_id(e.envelope().event_id());
    r->set_corrected_event_id(e.corrected().corrected_event_id());
    r->mutable_field_paths()->CopyFrom(e.corrected().field_paths());
    r->set_reason(e.corrected().reason());
    *r->mutable_at() = e.envelope().recorded_at();
    for (const std::string& org : organisations) r->add_recipients_to_inform(org);
  }
  return out;
}

grpc::Status PrivacyServiceImpl::ExportSubjectData(grpc::ServerContext* context,
                                                   const v1::ExportSubjectDataRequest* request,
                                                   v1::ExportSubjectDataResponse* response) {
  const std::string purpose = request->purpose().empty() ? "inzageverzoek AVG art. 15" : request->purpose();
  absl::StatusOr<CallerIdentity> caller =
      Admit(*access_log_, *context, request->client_id(), "ExportSubjectData", purpose);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  const std::string lang = request->lang().empty() ? "nl" : request->lang();
  if (lang != "nl" && lang != "en") {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("lang is '", request->lang(), "'; the export is written in \"nl\" (Dutch) or \"en\" (English)")));
  }
  if (!v1::ExportFormat_IsValid(request->format())) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("format has the unknown value ", request->format(), "; use EXPORT_FORMAT_JSON or EXPORT_FORMAT_HTML")));
  }
  absl::StatusOr<v1::SubjectExport> exported = BuildExport(request->client_id(), lang);
  if (!exported.ok()) return ToGrpcStatus(exported.status());
  if (request->format() == v1::EXPORT_FORMAT_HTML) {
    response->set_document(RenderSubjectExportHtml(*exported));
    response->set_content_type("text/html; charset=utf-8");
  } else {
    std::string json;
    google::protobuf::util::JsonPrintOptions o;
    o.add_whitespace = true;
    o.preserve_proto_field_names = true;
    if (!google::protobuf::util::MessageToJsonString(*exported, &json, o).ok()) {
      return ToGrpcStatus(absl::InternalError("the export could not be written as JSON"));
    }
    response->set_document(std::move(json));
    response->set_content_type("application/json");
  }
  *response->mutable_export_() = *std::move(exported);
  return grpc::Status::OK;
}

grpc::Status PrivacyServiceImpl::RectifyEvent(grpc::ServerContext* context, const v1::RectifyEventRequest* request,
                                              v1::RectifyEventResponse* response) {
  absl::StatusOr<CallerIdentity> caller =
      Admit(*access_log_, *context, request->client_id(), "RectifyEvent", "rectificatie AVG art. 16");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (request->event_id().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "event_id is not set; give the correction its own id (a retry with the same id writes nothing)"));
  }
  v1::Event event;
  event.mutable_envelope()->set_event_id(request->event_id());
  *event.mutable_envelope()->mutable_occurred_at() = Ts(options_.clock());
  event.mutable_envelope()->set_correlation_id(absl::StrCat("rectify-", request->client_id()));
  v1::Corrected* c = event.mutable_corrected();
  c->set_corrected_event_id(request->corrected_event_id());
  c->mutable_field_paths()->CopyFrom(request->field_paths());
  *c->mutable_replacement() = request->replacement();
  c->set_reason(request->reason());
  if (absl::Status valid = projections::ValidateEvent(event); !valid.ok()) return ToGrpcStatus(valid);
  for (const std::string& path : request->field_paths()) {
    if (!absl::StartsWith(path, "personal_data.")) continue;
    if (v1::PersonalData::descriptor()->FindFieldByName(path.substr(strlen("personal_data."))) == nullptr) {
      return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
          "field_paths names ", path, ", which PersonalData does not have; see events.proto")));
    }
  }
  absl::StatusOr<storage::AppendResult> result = WriteToCase(
      *store_, *vault_, request->client_id(), storage::ExpectedVersion::Any(), {event}, caller->organisation,
      UserOr(*context, caller->organisation), [](const CaseState& state, const v1::Event&) {
        return state.version == 0 ? absl::NotFoundError("the ledger holds no events of this client")
                                  : absl::OkStatus();
      },
      options_.case_cache);
  if (!result.ok()) return ToGrpcStatus(result.status());
  response->set_stream_version(result->stream_version);
  response->set_global_position(result->global_positions.empty() ? 0 : result->global_positions[0]);
  absl::StatusOr<v1::SubjectExport> exported = BuildExport(request->client_id(), "nl");
  if (exported.ok()) {
    std::set<std::string> orgs;
    for (const auto& r : exported->recipients()) orgs.insert(r.organisation());
    for (const auto& o : orgs) response->add_recipients_to_inform(o);
  }
  return grpc::Status::OK;
}

absl::StatusOr<v1::EraseSubjectResponse> PrivacyServiceImpl::Erase(const std::string& client_id,
                                                                   const std::string& reason,
                                                                   const std::string& event_id,
                                                                   const std::string& organisation,
                                                                   const std::string& user) {
  if (reason.empty()) {
    return absl::InvalidArgumentError("reason is not set; say why the data is erased (it stays in the ledger)");
  }
  CASELEDGER_ASSIGN_OR_RETURN(CaseState state, projections::LoadCase(*store_, options_.case_cache, client_id));
  if (state.version == 0) {
    return absl::NotFoundError(absl::StrCat("the ledger holds no events of client ", client_id));
  }
  if (std::optional<storage::LegalHold> hold = vault_->Hold(client_id); hold.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("client ", client_id, " is under a legal hold (", hold->reason,
                                                      "); lift the hold (SetLegalHold) before erasing"));
  }
  uint32_t with_personal = 0;
  CASELEDGER_RETURN_IF_ERROR(
      projections::ForEachStreamEvent(*store_, client_id, 1, [&](const storage::RecordedEvent& r) {
        with_personal += !r.event.personal.empty();
        return absl::OkStatus();
      }));
  const absl::Time now = options_.clock();
  // The key first: once it is gone the erasure has happened, whatever follows.
  CASELEDGER_RETURN_IF_ERROR(vault_->Destroy(client_id, reason, now));
  v1::Event event;
  event.mutable_envelope()->set_event_id(event_id.empty() ? absl::StrCat("erase-", client_id) : event_id);
  *event.mutable_envelope()->mutable_occurred_at() = Ts(now);
  event.mutable_envelope()->set_correlation_id(absl::StrCat("erase-", client_id));
  event.mutable_subject_erased()->set_reason(reason);
  event.mutable_subject_erased()->set_requested_by(user);
  CASELEDGER_ASSIGN_OR_RETURN(
      storage::AppendResult result,
      WriteToCase(*store_, *vault_, client_id, storage::ExpectedVersion::Any(), {event}, organisation, user,
                  [](const CaseState&, const v1::Event&) { return absl::OkStatus(); }, options_.case_cache));
  v1::EraseSubjectResponse out;
  out.set_global_position(result.global_positions.empty() ? 0 : result.global_positions[0]);
  out.set_events_with_personal_data(with_personal);
  std::optional<storage::ErasureRecord> record = vault_->Erased(client_id);
  *out.mutable_erased_at() = Ts(record.has_value() ? record->at : now);
  return out;
}

grpc::Status PrivacyServiceImpl::EraseSubject(grpc::ServerContext* context, const v1::EraseSubjectRequest* request,
                                              v1::EraseSubjectResponse* response) {
  absl::StatusOr<CallerIdentity> caller =
      Admit(*access_log_, *context, request->client_id(), "EraseSubject", "wissen AVG art. 17");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<v1::EraseSubjectResponse> erased =
      Erase(request->client_id(), request->reason(), request->event_id(), caller->organisation,
            UserOr(*context, caller->organisation));
  if (!erased.ok()) return ToGrpcStatus(erased.status());
  *response = *std::move(erased);
  return grpc::Status::OK;
}

grpc::Status PrivacyServiceImpl::SetLegalHold(grpc::ServerContext* context, const v1::SetLegalHoldRequest* request,
                                              v1::SetLegalHoldResponse*) {
  absl::StatusOr<CallerIdentity> caller = Admit(*access_log_, *context, request->client_id(), "SetLegalHold",
                                                request->hold() ? "bewaarplicht instellen" : "bewaarplicht opheffen");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (!request->hold()) return ToGrpcStatus(vault_->ClearLegalHold(request->client_id()));
  if (request->reason().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("reason is not set; say why the data must be kept"));
  }
  if (vault_->Erased(request->client_id()).has_value()) {
    return ToGrpcStatus(absl::FailedPreconditionError(
        absl::StrCat("client ", request->client_id(), "'s data was already erased; there is nothing left to hold")));
  }
  return ToGrpcStatus(vault_->SetLegalHold(request->client_id(), request->reason(), options_.clock()));
}

absl::StatusOr<v1::RunRetentionResponse> PrivacyServiceImpl::Retention(bool dry_run) {
  const absl::CivilDay today = absl::ToCivilDay(options_.clock(), absl::UTCTimeZone());
  projections::CaseloadReader reader(caseload_worker_);
  CASELEDGER_ASSIGN_OR_RETURN(std::vector<CaseState> ended, reader.All([&](const CaseState& s) {
    return s.terminated && !s.erased && s.end_day.has_value() && today > *s.end_day + options_.retention_days;
  }));
  v1::RunRetentionResponse out;
  out.set_retention_days(options_.retention_days);
  for (const CaseState& s : ended) {
    if (vault_->Erased(s.client_id).has_value()) continue;  // erased; the projection may lag
    v1::RetentionCandidate* c = out.add_candidates();
    c->set_client_id(s.client_id);
    *c->mutable_end_date() = projections::ToDate(*s.end_day);
    *c->mutable_erase_after() = projections::ToDate(*s.end_day + options_.retention_days);
    c->set_legal_hold(vault_->Hold(s.client_id).has_value());
    if (dry_run || c->legal_hold()) continue;
    absl::StatusOr<v1::EraseSubjectResponse> erased =
        Erase(s.client_id, absl::StrCat("bewaartermijn verstreken (", options_.retention_days, " dagen na beëindiging)"),
              "", "caseledger", "bewaartermijn");
    if (!erased.ok()) return erased.status();
    c->set_erased(true);
  }
  return out;
}

grpc::Status PrivacyServiceImpl::RunRetention(grpc::ServerContext* context, const v1::RunRetentionRequest* request,
                                              v1::RunRetentionResponse* response) {
  absl::StatusOr<CallerIdentity> caller =
      Admit(*access_log_, *context, "*", "RunRetention",
            request->dry_run() ? "bewaartermijn controleren (proefrun)" : "bewaartermijn uitvoeren");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<v1::RunRetentionResponse> result = Retention(request->dry_run());
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

void PrivacyServiceImpl::StartRetention(absl::Duration interval) {
  retention_thread_ = std::thread([this, interval] {
    std::unique_lock<std::mutex> lock(retention_mu_);
    while (!stopping_) {
      retention_cv_.wait_for(lock, absl::ToChronoSeconds(interval), [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      Retention(/*dry_run=*/false).IgnoreError();  // failures show at the next run and in RunRetention
      lock.lock();
    }
  });
}

void PrivacyServiceImpl::Stop() {
  {
    std::lock_guard<std::mutex> lock(retention_mu_);
    stopping_ = true;
  }
  retention_cv_.notify_all();
  if (retention_thread_.joinable()) retention_thread_.join();
}

}  // namespace caseledger::services
