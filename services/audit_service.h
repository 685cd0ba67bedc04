// caseledger.v1.AuditService: signed tree heads, Merkle proofs and chain
// verification for auditors (role "auditor" only).
//
// Thread-safety: gRPC calls the methods concurrently; the service holds only
// borrowed, thread-safe objects.
#ifndef CASELEDGER_SERVICES_AUDIT_SERVICE_H_
#define CASELEDGER_SERVICES_AUDIT_SERVICE_H_

#include "caseledger/v1/audit_service.grpc.pb.h"
#include "storage/access_log.h"
#include "storage/event_store.h"
#include "storage/tree_head_signer.h"

namespace caseledger::services {

class AuditServiceImpl final : public caseledger::v1::AuditService::Service {
 public:
  // `store`, `signer` and `access_log` must outlive this service.
  AuditServiceImpl(storage::EventStore* store, const storage::TreeHeadSigner* signer,
                   storage::AccessLog* access_log)
      : store_(store), signer_(signer), access_log_(access_log) {}

  grpc::Status GetTreeHead(grpc::ServerContext* context, const v1::GetTreeHeadRequest* request,
                           v1::SignedTreeHead* response) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* context,
                                 const v1::GetInclusionProofRequest* request,
                                 v1::InclusionProof* response) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* context,
                                   const v1::GetConsistencyProofRequest* request,
                                   v1::ConsistencyProof* response) override;
  grpc::Status VerifyChain(grpc::ServerContext* context, const v1::VerifyChainRequest* request,
                           v1::VerifyChainResponse* response) override;
  grpc::Status GetPublicKey(grpc::ServerContext* context, const v1::GetPublicKeyRequest* request,
                            v1::PublicKey* response) override;
  grpc::Status ListAccessLog(grpc::ServerContext* context, const v1::ListAccessLogRequest* request,
                             v1::ListAccessLogResponse* response) override;
  grpc::Status ReplayClient(grpc::ServerContext* context, const v1::ReplayClientRequest* request,
                            grpc::ServerWriter<v1::ReplayItem>* writer) override;

 private:
  // Signs a head over the log as it is now.
  absl::Status SignCurrentHead(v1::SignedTreeHead* head) const;

  storage::EventStore* const store_;
  const storage::TreeHeadSigner* const signer_;
  storage::AccessLog* const access_log_;
};

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_AUDIT_SERVICE_H_
