#include "services/admin_service.h"

#include <grpcpp/server_context.h>

#include "absl/strings/str_cat.h"
#include "projections/event_mapping.h"
#include "services/auth/access_policy.h"
#include "storage/backup.h"
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

namespace {

void ToProto(const storage::BackupInfo& in, const std::string& dir, v1::BackupInfo* out) {
  out->set_backup_id(in.id);
  *out->mutable_created_at() = projections::ToTimestamp(in.created_at);
  out->set_size_bytes(in.size_bytes);
  out->set_files(in.files);
  out->set_position_at_start(in.position_at_start);
  out->set_directory(dir);
}

absl::Status RequireAdmin(const grpc::ServerContext& context, absl::string_view call) {
  absl::StatusOr<CallerIdentity> caller = IdentityFromAuthContext(*context.auth_context());
  if (!caller.ok()) return caller.status();
  return RequireRole(*caller, Role::kAdmin, call);
}

}  // namespace

grpc::Status AdminServiceImpl::CreateBackup(grpc::ServerContext* context,
                                            const v1::CreateBackupRequest*,
                                            v1::BackupInfo* response) {
  absl::Status allowed = RequireAdmin(*context, "CreateBackup");
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  std::lock_guard<std::mutex> lock(backup_mu_);
  absl::StatusOr<storage::BackupInfo> backup = storage::CreateBackup(*store_, backup_dir_);
  if (!backup.ok()) return ToGrpcStatus(backup.status());
  ToProto(*backup, backup_dir_, response);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ListBackups(grpc::ServerContext* context,
                                           const v1::ListBackupsRequest*,
                                           v1::ListBackupsResponse* response) {
  absl::Status allowed = RequireAdmin(*context, "ListBackups");
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  std::lock_guard<std::mutex> lock(backup_mu_);
  absl::StatusOr<std::vector<storage::BackupInfo>> backups = storage::ListBackups(backup_dir_);
  if (!backups.ok()) {
    if (backups.status().code() == absl::StatusCode::kNotFound) return grpc::Status::OK;
    return ToGrpcStatus(backups.status());
  }
  for (const auto& b : *backups) ToProto(b, backup_dir_, response->add_backups());
  return grpc::Status::OK;
}

namespace {

void Describe(const projections::ProjectionWorker& worker, v1::ProjectionInfo* info) {
  info->set_name(worker.name());
  info->set_checkpoint(worker.checkpoint());
  info->set_lag(worker.lag());
  absl::Status health = worker.health();
  info->set_health(health.ok() ? "ok" : health.ToString());
}

}  // namespace

grpc::Status AdminServiceImpl::ListProjections(grpc::ServerContext* context,
                                               const v1::ListProjectionsRequest*,
                                               v1::ListProjectionsResponse* response) {
  absl::StatusOr<CallerIdentity> caller = IdentityFromAuthContext(*context->auth_context());
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::Status allowed = RequireRole(*caller, Role::kAdmin, "ListProjections");
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  for (const projections::ProjectionWorker* worker : workers_) {
    Describe(*worker, response->add_projections());
  }
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::RebuildProjection(grpc::ServerContext* context,
                                                 const v1::RebuildProjectionRequest* request,
                                                 v1::ProjectionInfo* response) {
  absl::StatusOr<CallerIdentity> caller = IdentityFromAuthContext(*context->auth_context());
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::Status allowed = RequireRole(*caller, Role::kAdmin, "RebuildProjection");
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  std::string names;
  for (projections::ProjectionWorker* worker : workers_) {
    if (worker->name() != request->name()) {
      absl::StrAppend(&names, names.empty() ? "" : ", ", worker->name());
      continue;
    }
    const absl::Time start = absl::Now();
    absl::Status rebuilt = worker->Rebuild();
    if (!rebuilt.ok()) return ToGrpcStatus(rebuilt);
    Describe(*worker, response);
    response->set_rebuild_seconds(absl::ToDoubleSeconds(absl::Now() - start));
    response->set_events_applied(worker->checkpoint());
    return grpc::Status::OK;
  }
  return ToGrpcStatus(absl::NotFoundError(absl::StrCat(
      "there is no projection named '", request->name(), "'; the projections are: ", names)));
}

}  // namespace caseledger::services
