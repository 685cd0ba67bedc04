#include "services/call_log.h"

#include <grpcpp/server_context.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/auth/identity.h"
#include "services/log.h"
#include "services/trace_id.h"

namespace caseledger::services {
namespace {

bool IsToken(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

class CallLog final : public grpc::experimental::Interceptor {
 public:
  CallLog(grpc::experimental::ServerRpcInfo* info, absl::Duration slow) : info_(info), slow_(slow) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      start_ = absl::Now();
      auto* md = methods->GetRecvInitialMetadata();
      auto it = md->find("x-trace-id");
      if (it != md->end()) {
        absl::string_view v(it->second.data(), it->second.size());
        if (IsToken(v)) trace_id_ = std::string(v);
      }
      if (trace_id_.empty()) {
        // None (or not a token): ours replaces it in what the handlers read,
        // so the access log records the id this call logs and returns.
        trace_id_ = NewTraceId();
        md->erase("x-trace-id");
        md->emplace("x-trace-id", grpc::string_ref(trace_id_));
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      if (trace_id_.empty()) trace_id_ = NewTraceId();
      methods->GetSendInitialMetadata()->emplace("x-trace-id", trace_id_);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      const absl::Duration took = absl::Now() - start_;
      const std::string method = info_->method() ? info_->method() : "";
      const bool streaming = absl::EndsWith(method, "/Subscribe") || absl::EndsWith(method, "/Watch") ||
                             absl::EndsWith(method, "/ServerReflectionInfo");
      const bool refused = !status.ok() && status.error_code() != grpc::StatusCode::CANCELLED;
      const bool slow = !streaming && took > slow_;
      if (refused || slow) {
        std::vector<LogField> fields = {
            {"method", JsonString(method)},
            {"code", JsonString(absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())))},
            {"ms", JsonNumber(absl::ToDoubleMilliseconds(took))},
            {"trace_id", JsonString(trace_id_)}};
        if (!status.ok()) fields.push_back({"error", JsonString(status.error_message())});
        if (auto* ctx = info_->server_context(); ctx != nullptr && ctx->auth_context() != nullptr) {
          absl::StatusOr<CallerIdentity> caller = IdentityFromAuthContext(*ctx->auth_context());
          if (caller.ok()) {
            fields.push_back({"organisation", JsonString(caller->organisation)});
            fields.push_back({"role", JsonString(RoleName(caller->role))});
          }
        }
        const bool server_fault = status.error_code() == grpc::StatusCode::INTERNAL ||
                                  status.error_code() == grpc::StatusCode::DATA_LOSS ||
                                  status.error_code() == grpc::StatusCode::UNKNOWN;
        Log(server_fault ? "error" : (refused ? "warn" : "info"), refused ? "call refused" : "slow call", fields);
      }
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* const info_;
  const absl::Duration slow_;
  absl::Time start_ = absl::Now();
  std::string trace_id_;
};

class CallLogFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallLogFactory(absl::Duration slow) : slow_(slow) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new CallLog(info, slow_);
  }

 private:
  const absl::Duration slow_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeCallLogFactory(
    absl::Duration slow_call_threshold) {
  return std::make_unique<CallLogFactory>(slow_call_threshold);
}

}  // namespace caseledger::services
