#include "services/audit_service.h"

#include <grpcpp/server_context.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/access_recorder.h"
#include "services/auth/access_policy.h"
#include "services/auth/identity.h"
#include "projections/event_mapping.h"
#include "services/status_translation.h"
#include "storage/merkle.h"

namespace caseledger::services {
namespace {

// OK for the auditor role; the refusal otherwise, naming the call.
absl::Status RequireAuditor(const grpc::ServerContext& context, absl::string_view call) {
  absl::StatusOr<CallerIdentity> caller = IdentityFromAuthContext(*context.auth_context());
  if (!caller.ok()) return caller.status();
  return RequireRole(*caller, Role::kAuditor, call);
}

void AddHashes(const std::vector<storage::Hash>& hashes,
               google::protobuf::RepeatedPtrField<std::string>* out) {
  for (const storage::Hash& h : hashes) *out->Add() = storage::HashBytes(h);
}

}  // namespace

absl::Status AuditServiceImpl::SignCurrentHead(v1::SignedTreeHead* response) const {
  storage::TreeHead head;
  head.tree_size = store_->LastPosition();
  absl::StatusOr<storage::Hash> root = store_->MerkleRoot(head.tree_size);
  if (!root.ok()) return root.status();
  head.root = *root;
  head.timestamp = absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
  absl::StatusOr<std::string> signature = signer_->Sign(head);
  if (!signature.ok()) return signature.status();
  response->set_tree_size(head.tree_size);
  response->set_root_hash(storage::HashBytes(head.root));
  *response->mutable_timestamp() = projections::ToTimestamp(head.timestamp);
  response->set_signature(*signature);
  response->set_key_id(signer_->key_id());
  return absl::OkStatus();
}

grpc::Status AuditServiceImpl::GetTreeHead(grpc::ServerContext* context,
                                           const v1::GetTreeHeadRequest*,
                                           v1::SignedTreeHead* response) {
  absl::Status allowed = RequireAuditor(*context, "GetTreeHead");
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  return ToGrpcStatus(SignCurrentHead(response));
}

grpc::Status AuditServiceImpl::GetInclusionProof(grpc::ServerContext* context,
                                                 const v1::GetInclusionProofRequest* request,
                                                 v1::InclusionProof* response) {
  absl::Status allowed = RequireAuditor(*context, "GetInclusionProof");
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  const uint64_t size = request->tree_size() == 0 ? store_->LastPosition() : request->tree_size();
  absl::StatusOr<std::vector<storage::Hash>> proof =
      store_->InclusionProof(request->global_position(), size);
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  absl::StatusOr<storage::RecordedEvent> event = store_->ReadEvent(request->global_position());
  if (!event.ok()) return ToGrpcStatus(event.status());
  response->set_global_position(request->global_position());
  response->set_tree_size(size);
  response->set_leaf_hash(storage::HashBytes(storage::MerkleLeafHash(storage::EncodeCanonical(*event))));
  AddHashes(*proof, response->mutable_hashes());
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetConsistencyProof(grpc::ServerContext* context,
                                                   const v1::GetConsistencyProofRequest* request,
                                                   v1::ConsistencyProof* response) {
  absl::Status allowed = RequireAuditor(*context, "GetConsistencyProof");
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  const uint64_t new_size = request->new_size() == 0 ? store_->LastPosition() : request->new_size();
  absl::StatusOr<std::vector<storage::Hash>> proof =
      store_->ConsistencyProof(request->old_size(), new_size);
  if (!proof.ok()) return ToGrpcStatus(proof.status());
  response->set_old_size(request->old_size());
  response->set_new_size(new_size);
  AddHashes(*proof, response->mutable_hashes());
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::VerifyChain(grpc::ServerContext* context,
                                           const v1::VerifyChainRequest* request,
                                           v1::VerifyChainResponse* response) {
  absl::Status allowed = RequireAuditor(*context, "VerifyChain");
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  const uint64_t to = request->to_position() == 0 ? UINT64_MAX : request->to_position();
  absl::StatusOr<storage::VerifyResult> result = store_->Verify(request->from_position(), to);
  if (!result.ok()) return ToGrpcStatus(result.status());
  response->set_intact(result->ok());
  response->set_checked(result->checked);
  response->set_first_broken_position(result->first_broken_position);
  response->set_problem(result->problem);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetPublicKey(grpc::ServerContext*, const v1::GetPublicKeyRequest*,
                                            v1::PublicKey* response) {
  // The public key is public: any authenticated caller may fetch it.
  response->set_pem(signer_->public_key_pem());
  response->set_key_id(signer_->key_id());
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::ListAccessLog(grpc::ServerContext* context,
                                             const v1::ListAccessLogRequest* request,
                                             v1::ListAccessLogResponse* response) {
  absl::StatusOr<CallerIdentity> caller = IdentityFromAuthContext(*context->auth_context());
  absl::Status allowed =
      caller.ok() ? RequireRole(*caller, Role::kAuditor, "ListAccessLog") : caller.status();
  if (allowed.ok() && request->client_id().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("client_id is not set; name the client"));
  }
  if (allowed.ok() && request->limit() > 1000) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("limit is ", request->limit(), "; the most per page is 1000")));
  }
  absl::Status logged =
      RecordAccess(*access_log_, *context, caller, request->client_id(), "AuditService.ListAccessLog",
                   request->purpose().empty() ? "audit" : request->purpose(), allowed);
  if (!logged.ok()) return ToGrpcStatus(logged);
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  const size_t limit = request->limit() == 0 ? 100 : request->limit();
  absl::StatusOr<std::vector<storage::AccessRecord>> records =
      access_log_->ListForClient(request->client_id(), request->from_sequence(), limit);
  if (!records.ok()) return ToGrpcStatus(records.status());
  for (const storage::AccessRecord& r : *records) {
    v1::AccessLogEntry* e = response->add_entries();
    e->set_sequence(r.sequence);
    *e->mutable_at() = projections::ToTimestamp(r.at);
    e->set_organisation(r.organisation);
    e->set_role(r.role);
    e->set_user_id(r.user_id);
    e->set_client_id(r.client_id);
    e->set_call(r.call);
    e->set_purpose(r.purpose);
    e->set_trace_id(r.trace_id);
    e->set_outcome(r.outcome);
    e->set_previous_hash(storage::HashBytes(r.previous_hash));
    e->set_hash(storage::HashBytes(r.hash));
  }
  if (records->size() == limit) response->set_next_sequence(records->back().sequence + 1);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::ReplayClient(grpc::ServerContext* context,
                                            const v1::ReplayClientRequest* request,
                                            grpc::ServerWriter<v1::ReplayItem>* writer) {
  absl::StatusOr<CallerIdentity> caller = IdentityFromAuthContext(*context->auth_context());
  absl::Status allowed =
      caller.ok() ? RequireRole(*caller, Role::kAuditor, "ReplayClient") : caller.status();
  if (allowed.ok() && request->client_id().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("client_id is not set; name the client to replay"));
  }
  if (allowed.ok()) {
    absl::StatusOr<uint64_t> version = store_->StreamVersion(request->client_id());
    if (!version.ok()) return ToGrpcStatus(version.status());
    if (*version == 0) {
      allowed = absl::NotFoundError(absl::StrCat("client ", request->client_id(),
                                                 " has no events; check the client id"));
    }
  }
  absl::Status logged =
      RecordAccess(*access_log_, *context, caller, request->client_id(), "AuditService.ReplayClient",
                   request->purpose().empty() ? "audit" : request->purpose(), allowed);
  if (!logged.ok()) return ToGrpcStatus(logged);
  if (!allowed.ok()) return ToGrpcStatus(allowed);

  v1::ReplayItem head_item;
  absl::Status signed_head = SignCurrentHead(head_item.mutable_tree_head());
  if (!signed_head.ok()) return ToGrpcStatus(signed_head);
  const uint64_t tree_size = head_item.tree_head().tree_size();
  if (!writer->Write(head_item)) return grpc::Status::CANCELLED;

  constexpr size_t kPage = 256;
  for (uint64_t from = 1;;) {
    absl::StatusOr<std::vector<storage::RecordedEvent>> page =
        store_->ReadStream(request->client_id(), from, storage::ReadDirection::kForward, kPage);
    if (!page.ok()) return ToGrpcStatus(page.status());
    for (const storage::RecordedEvent& recorded : *page) {
      if (recorded.global_position > tree_size) return grpc::Status::OK;  // appended after the head
      v1::ReplayItem item;
      v1::ReplayedEvent* replayed = item.mutable_event();
      absl::StatusOr<v1::Event> event = projections::FromRecordedEvent(recorded, false);
      if (!event.ok()) return ToGrpcStatus(event.status());
      *replayed->mutable_event() = *std::move(event);
      replayed->set_canonical_event(storage::EncodeCanonical(recorded));
      absl::StatusOr<std::vector<storage::Hash>> proof =
          store_->InclusionProof(recorded.global_position, tree_size);
      if (!proof.ok()) return ToGrpcStatus(proof.status());
      AddHashes(*proof, replayed->mutable_inclusion_proof());
      if (!writer->Write(item)) return grpc::Status::CANCELLED;
    }
    if (page->size() < kPage) return grpc::Status::OK;
    from = page->back().stream_version + 1;
  }
}

}  // namespace caseledger::services
