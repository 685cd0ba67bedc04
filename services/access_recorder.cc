#include "services/access_recorder.h"

#include "absl/strings/str_cat.h"
#include "services/trace_id.h"

namespace caseledger::services {
namespace {

std::string Metadata(const grpc::ServerContextBase& context, const char* key) {
  auto it = context.client_metadata().find(key);
  if (it == context.client_metadata().end()) return "";
  return std::string(it->second.data(), std::min<size_t>(it->second.size(), 128));
}

storage::AccessRecord MakeRecord(const grpc::ServerContextBase& context, const absl::StatusOr<CallerIdentity>& caller,
                                 absl::string_view client_id, absl::string_view call, absl::string_view purpose,
                                 const absl::Status& outcome) {
  storage::AccessRecord record;
  if (caller.ok()) {
    record.organisation = caller->organisation;
    record.role = std::string(RoleName(caller->role));
  }
  record.user_id = Metadata(context, "x-user-id");
  record.client_id = std::string(client_id);
  record.call = std::string(call);
  record.purpose = std::string(purpose);
  record.trace_id = Metadata(context, "x-trace-id");
  if (record.trace_id.empty()) record.trace_id = NewTraceId();  // no call log interceptor
  record.outcome = absl::StatusCodeToString(outcome.code());
  return record;
}

absl::Status Recorded(const absl::StatusOr<uint64_t>& written) {
  if (written.ok()) return absl::OkStatus();
  // Keep RESOURCE_EXHAUSTED (a full disk, a full queue) apart from other failures.
  return absl::Status(
      written.status().code() == absl::StatusCode::kResourceExhausted ? absl::StatusCode::kResourceExhausted
                                                                      : absl::StatusCode::kUnavailable,
      absl::StrCat("the read could not be recorded in the access log (", written.status().message(),
                   "), so it is not answered: nothing is shown that cannot be accounted for; retry later"));
}

}  // namespace

absl::Status RecordAccess(storage::AccessLog& log, const grpc::ServerContextBase& context,
                          const absl::StatusOr<CallerIdentity>& caller, absl::string_view client_id,
                          absl::string_view call, absl::string_view purpose,
                          const absl::Status& outcome) {
  return Recorded(log.Record(MakeRecord(context, caller, client_id, call, purpose, outcome)));
}

void RecordAccessAsync(storage::AccessLog& log, const grpc::ServerContextBase& context,
                       const absl::StatusOr<CallerIdentity>& caller, absl::string_view client_id,
                       absl::string_view call, absl::string_view purpose, const absl::Status& outcome,
                       std::function<void(absl::Status)> done) {
  log.RecordAsync(MakeRecord(context, caller, client_id, call, purpose, outcome),
                  [done = std::move(done)](absl::StatusOr<uint64_t> written) { done(Recorded(written)); });
}

}  // namespace caseledger::services
