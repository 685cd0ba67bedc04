#include "services/caseload_service.h"

#include <grpcpp/server_context.h>

#include <algorithm>
#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "projections/event_mapping.h"
#include "services/access_recorder.h"
#include "services/auth/access_policy.h"
#include "services/auth/identity.h"
#include "services/status_translation.h"

namespace caseledger::services {
namespace {

using projections::CaseState;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
constexpr char kTokenPrefix[] = "cases.v1:";

absl::StatusOr<CallerIdentity> Caller(const grpc::ServerContext& context) {
  return IdentityFromAuthContext(*context.auth_context());
}

std::string EncodePageToken(absl::string_view last_client_id) {
  return absl::WebSafeBase64Escape(absl::StrCat(kTokenPrefix, last_client_id));
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view token) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || !absl::StartsWith(raw, kTokenPrefix)) {
    return absl::InvalidArgumentError(
        "page_token is not one this server gave out; send the next_page_token of the previous "
        "response unchanged, or leave it empty to start at the first page");
  }
  return raw.substr(sizeof(kTokenPrefix) - 1);
}

template <typename Enum>
absl::Status CheckEnum(int value, bool (*is_valid)(int), absl::string_view field) {
  if (!is_valid(value)) {
    return absl::InvalidArgumentError(absl::StrCat(field, " has the unknown value ", value,
                                                   "; use one of the values in caseload_service.proto"));
  }
  return absl::OkStatus();
}

std::tuple<int, int, int> Key(const v1::Date& d) { return {d.year(), d.month(), d.day()}; }

}  // namespace

CaseloadServiceImpl::CaseloadServiceImpl(const storage::EventStore* store,
                                         const projections::ProjectionWorker* worker,
                                         storage::AccessLog* access_log,
                                         CaseloadServiceOptions options)
    : store_(store),
      worker_(worker),
      reader_(worker),
      access_log_(access_log),
      options_(std::move(options)) {}

absl::CivilDay CaseloadServiceImpl::Today() const {
  return absl::ToCivilDay(options_.clock(), absl::UTCTimeZone());
}

grpc::Status CaseloadServiceImpl::ListCases(grpc::ServerContext* context,
                                            const v1::ListCasesRequest* request,
                                            v1::ListCasesResponse* response) {
  absl::StatusOr<CallerIdentity> caller = Caller(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = AuthorizeCaseViews(*caller, "ListCases"); !s.ok()) return ToGrpcStatus(s);

  for (absl::Status s : {CheckEnum<v1::Track>(request->track(), &v1::Track_IsValid, "track"),
                         CheckEnum<v1::Phase>(request->phase(), &v1::Phase_IsValid, "phase"),
                         CheckEnum<v1::CaseStatus>(request->status(), &v1::CaseStatus_IsValid, "status"),
                         CheckEnum<v1::SignalKind>(request->signal(), &v1::SignalKind_IsValid, "signal")}) {
    if (!s.ok()) return ToGrpcStatus(s);
  }
  if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
        "page_size is ", request->page_size(), "; ask for 1..", kMaxPageSize,
        " cases per page (0 means ", kDefaultPageSize, ")")));
  }
  std::string start_after;
  if (!request->page_token().empty()) {
    absl::StatusOr<std::string> decoded = DecodePageToken(request->page_token());
    if (!decoded.ok()) return ToGrpcStatus(decoded.status());
    start_after = *std::move(decoded);
  }
  const size_t page_size = request->page_size() == 0 ? kDefaultPageSize : request->page_size();

  const uint64_t position = worker_->checkpoint();
  absl::StatusOr<projections::CaseloadCounts> counts = reader_.Counts();
  if (!counts.ok()) return ToGrpcStatus(counts.status());
  const absl::CivilDay today = Today();
  auto view_of = [&](const CaseState& s) {
    return projections::ToCaseView(s, today, options_.policy, &*counts);
  };
  auto keep = [&](const CaseState& s) {
    if (!AuthorizeClientRead(*caller, s, today).ok()) return false;
    if (!request->organisation().empty() && s.organisation != request->organisation()) return false;
    if (!request->begeleider().empty() && s.begeleider != request->begeleider()) return false;
    if (!request->casemanager().empty() && s.casemanager != request->casemanager()) return false;
    if (request->track() != 0 && s.track != request->track()) return false;
    if (request->phase() == 0 && request->status() == 0 && request->signal() == 0) return true;
    v1::CaseView view = view_of(s);
    if (request->phase() != 0 && view.phase() != request->phase()) return false;
    if (request->status() != 0 && view.status() != request->status()) return false;
    if (request->signal() == v1::SIGNAL_TRACK_OVER_MAXIMUM) {
      auto it = counts->track.find({s.organisation, s.track});
      int maximum = options_.policy.FundedRange(s.track).second;
      return s.active() && it != counts->track.end() && maximum > 0 && it->second > maximum;
    }
    if (request->signal() != 0) {
      return std::any_of(view.signals().begin(), view.signals().end(),
                         [&](const v1::Signal& sig) { return sig.kind() == request->signal(); });
    }
    return true;
  };
  std::string last_scanned;
  bool exhausted = false;
  absl::StatusOr<std::vector<CaseState>> cases =
      reader_.List(start_after, page_size, keep, &last_scanned, &exhausted);
  if (!cases.ok()) return ToGrpcStatus(cases.status());
  for (const CaseState& s : *cases) *response->add_cases() = view_of(s);
  if (!exhausted && !last_scanned.empty()) response->set_next_page_token(EncodePageToken(last_scanned));
  response->set_projection_position(position);
  return grpc::Status::OK;
}

grpc::Status CaseloadServiceImpl::GetCase(grpc::ServerContext* context,
                                          const v1::GetCaseRequest* request,
                                          v1::GetCaseResponse* response) {
  constexpr char kCall[] = "CaseloadService.GetCase";
  const std::string purpose = request->purpose().empty() ? "caseloadoverzicht" : request->purpose();
  absl::StatusOr<CallerIdentity> caller = Caller(*context);
  if (!caller.ok()) {
    absl::Status logged = RecordAccess(*access_log_, *context, caller, request->client_id(), kCall,
                                       purpose, caller.status());
    return ToGrpcStatus(logged.ok() ? caller.status() : logged);
  }
  if (absl::Status s = AuthorizeCaseViews(*caller, "GetCase"); !s.ok()) return ToGrpcStatus(s);
  if (request->client_id().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("client_id is not set; name the client to show"));
  }
  const absl::Time now = options_.clock();
  absl::Time as_of = now;
  if (request->has_as_of()) {
    as_of = projections::FromTimestamp(request->as_of());
    if (as_of > now) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          "as_of lies in the future; ask for a moment up to now, or leave as_of unset"));
    }
  }
  // Access is decided on the case as it is now (who holds it, which consents
  // are current), whatever moment is asked for.
  absl::StatusOr<CaseState> current = projections::LoadCase(*store_, options_.case_cache, request->client_id());
  if (!current.ok()) return ToGrpcStatus(current.status());
  absl::Status allowed = AuthorizeClientRead(*caller, *current, absl::ToCivilDay(now, absl::UTCTimeZone()));
  absl::Status logged =
      RecordAccess(*access_log_, *context, caller, request->client_id(), kCall, purpose, allowed);
  if (!logged.ok()) return ToGrpcStatus(logged);
  if (!allowed.ok()) return ToGrpcStatus(allowed);

  const absl::CivilDay day = absl::ToCivilDay(as_of, absl::UTCTimeZone());
  if (!request->has_as_of()) {
    absl::StatusOr<projections::CaseloadCounts> counts = reader_.Counts();
    if (!counts.ok()) return ToGrpcStatus(counts.status());
    *response->mutable_case_() = projections::ToCaseView(*current, day, options_.policy, &*counts);
  } else {
    absl::StatusOr<CaseState> then =
        projections::LoadCaseStateAsOf(*store_, request->client_id(), as_of);
    if (!then.ok()) return ToGrpcStatus(then.status());
    if (then->version == 0) {
      return ToGrpcStatus(absl::NotFoundError(absl::StrCat(
          "client ", request->client_id(), " had no events yet at ",
          absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", as_of, absl::UTCTimeZone()),
          "; ask for a later moment")));
    }
    // Caseload sizes are not kept per day: an as_of view has no overload signal.
    *response->mutable_case_() = projections::ToCaseView(*then, day, options_.policy, nullptr);
  }
  *response->mutable_as_of() = projections::ToTimestamp(as_of);
  return grpc::Status::OK;
}

grpc::Status CaseloadServiceImpl::ListSignals(grpc::ServerContext* context,
                                              const v1::ListSignalsRequest* request,
                                              v1::ListSignalsResponse* response) {
  absl::StatusOr<CallerIdentity> caller = Caller(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = AuthorizeCaseViews(*caller, "ListSignals"); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<std::string> organisation =
      ReportOrganisation(*caller, request->organisation(), /*required=*/true, "ListSignals");
  if (!organisation.ok()) return ToGrpcStatus(organisation.status());

  const absl::Time now = options_.clock();
  const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
  absl::StatusOr<projections::CaseloadCounts> counts = reader_.Counts();
  if (!counts.ok()) return ToGrpcStatus(counts.status());
  for (v1::Signal& signal : projections::CaseloadSignals(*counts, *organisation,
                                                         request->begeleider(), today,
                                                         options_.policy)) {
    *response->add_signals() = std::move(signal);
  }
  absl::StatusOr<std::vector<CaseState>> cases = reader_.All([&](const CaseState& s) {
    return s.active() && s.organisation == *organisation &&
           (request->begeleider().empty() || s.begeleider == request->begeleider());
  });
  if (!cases.ok()) return ToGrpcStatus(cases.status());
  for (const CaseState& s : *cases) {
    // The overload signal was given once per begeleider above.
    for (v1::Signal& signal : projections::CaseSignals(s, today, options_.policy, nullptr)) {
      *response->add_signals() = std::move(signal);
    }
  }
  *response->mutable_computed_at() = projections::ToTimestamp(now);
  return grpc::Status::OK;
}

grpc::Status CaseloadServiceImpl::ListReportMoments(grpc::ServerContext* context,
                                                    const v1::ListReportMomentsRequest* request,
                                                    v1::ListReportMomentsResponse* response) {
  absl::StatusOr<CallerIdentity> caller = Caller(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<std::string> organisation =
      ReportOrganisation(*caller, request->organisation(), /*required=*/false, "ListReportMoments");
  if (!organisation.ok()) return ToGrpcStatus(organisation.status());
  if (absl::Status s = CheckEnum<v1::Track>(request->track(), &v1::Track_IsValid, "track"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  for (const auto& [date, field] : {std::make_pair(&request->from(), "from"),
                                    std::make_pair(&request->to(), "to")}) {
    if (date->year() == 0 && date->month() == 0 && date->day() == 0) continue;
    if (absl::Status s = projections::ValidateDate(*date, field); !s.ok()) return ToGrpcStatus(s);
  }
  const bool has_from = request->has_from() && request->from().year() != 0;
  const bool has_to = request->has_to() && request->to().year() != 0;

  const absl::CivilDay today = Today();
  absl::StatusOr<std::vector<CaseState>> cases = reader_.All([&](const CaseState& s) {
    if (request->track() != 0 && s.track != request->track()) return false;
    if (organisation->empty()) return true;
    return std::any_of(s.holders.begin(), s.holders.end(), [&](const projections::HoldingPeriod& h) {
      return h.organisation == *organisation;
    });
  });
  if (!cases.ok()) return ToGrpcStatus(cases.status());
  std::vector<v1::ReportMoment> moments;
  for (const CaseState& s : *cases) {
    for (v1::ReportMoment& m : projections::ReportMoments(s, today)) {
      if (!organisation->empty() && m.organisation() != *organisation) continue;
      if (has_from && Key(m.date()) < Key(request->from())) continue;
      if (has_to && Key(m.date()) > Key(request->to())) continue;
      moments.push_back(std::move(m));
    }
  }
  std::stable_sort(moments.begin(), moments.end(), [](const v1::ReportMoment& a, const v1::ReportMoment& b) {
    return std::make_tuple(Key(a.date()), a.client_id(), static_cast<int>(a.kind())) <
           std::make_tuple(Key(b.date()), b.client_id(), static_cast<int>(b.kind()));
  });
  for (v1::ReportMoment& m : moments) *response->add_moments() = std::move(m);
  return grpc::Status::OK;
}

grpc::Status CaseloadServiceImpl::GetQuarterlyReport(grpc::ServerContext* context,
                                                     const v1::GetQuarterlyReportRequest* request,
                                                     v1::QuarterlyReport* response) {
  absl::StatusOr<CallerIdentity> caller = Caller(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<std::string> organisation =
      ReportOrganisation(*caller, request->organisation(), /*required=*/true, "GetQuarterlyReport");
  if (!organisation.ok()) return ToGrpcStatus(organisation.status());
  if (request->track() == 0) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "track is not set; name the track (traject) to report on, e.g. TRACK_LEGAL"));
  }
  if (absl::Status s = CheckEnum<v1::Track>(request->track(), &v1::Track_IsValid, "track"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  const uint64_t position = worker_->checkpoint();
  absl::StatusOr<std::vector<CaseState>> cases =
      reader_.All([&](const CaseState& s) { return s.track == request->track(); });
  if (!cases.ok()) return ToGrpcStatus(cases.status());
  absl::StatusOr<v1::QuarterlyReport> report = projections::BuildQuarterlyReport(
      *cases, *organisation, request->track(), request->quarter(), options_.policy);
  if (!report.ok()) return ToGrpcStatus(report.status());
  *response = *std::move(report);
  response->set_projection_position(position);
  return grpc::Status::OK;
}

}  // namespace caseledger::services
