#include "services/admin_service.h"

#include <grpcpp/server_context.h>

#include "absl/strings/str_cat.h"
#include "services/auth/access_policy.h"
#include "services/status_translation.h"

namespace caseledger::services {

grpc::Status AdminServiceImpl::GetLedgerInfo(grpc::ServerContext* context,
                                             const caseledger::v1::GetLedgerInfoRequest*,
                                             caseledger::v1::GetLedgerInfoResponse* response) {
  absl::StatusOr<CallerIdentity> caller = IdentityFromAuthContext(*context->auth_context());
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::Status allowed = RequireRole(*caller, Role::kAdmin, "GetLedgerInfo");
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  storage::Hash hash = store_->LastHash();
  response->set_server_version(CASELEDGER_VERSION);
  response->set_last_position(store_->LastPosition());
  response->set_last_hash(std::string(reinterpret_cast<const char*>(hash.data()), hash.size()));
  response->mutable_started_at()->set_seconds(absl::ToUnixSeconds(started_at_));
  response->set_caller_organisation(caller->organisation);
  response->set_caller_role(std::string(RoleName(caller->role)));
  return grpc::Status::OK;
}

}  // namespace caseledger::services
