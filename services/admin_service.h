// caseledger.v1.AdminService: operating the ledger. Admin role only.
//
// Thread-safety: gRPC calls the methods concurrently; the service holds only
// constants, a borrowed EventStore and borrowed projection workers, which are
// thread-safe (a worker serialises rebuilds with its own catching up).
#ifndef CASELEDGER_SERVICES_ADMIN_SERVICE_H_
#define CASELEDGER_SERVICES_ADMIN_SERVICE_H_

#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "caseledger/v1/admin_service.grpc.pb.h"
#include "projections/projection_worker.h"
#include "storage/event_store.h"

namespace caseledger::services {

class AdminServiceImpl final : public caseledger::v1::AdminService::Service {
 public:
  // `store` and `workers` must outlive this service.
  AdminServiceImpl(storage::EventStore* store, absl::Time started_at, std::string backup_dir,
                   std::vector<projections::ProjectionWorker*> workers = {})
      : store_(store),
        started_at_(started_at),
        backup_dir_(std::move(backup_dir)),
        workers_(std::move(workers)) {}

  grpc::Status GetLedgerInfo(grpc::ServerContext* context,
                             const caseledger::v1::GetLedgerInfoRequest* request,
                             caseledger::v1::GetLedgerInfoResponse* response) override;
  grpc::Status CreateBackup(grpc::ServerContext* context,
                            const caseledger::v1::CreateBackupRequest* request,
                            caseledger::v1::BackupInfo* response) override;
  grpc::Status ListBackups(grpc::ServerContext* context,
                           const caseledger::v1::ListBackupsRequest* request,
                           caseledger::v1::ListBackupsResponse* response) override;
  grpc::Status ListProjections(grpc::ServerContext* context,
                               const caseledger::v1::ListProjectionsRequest* request,
                               caseledger::v1::ListProjectionsResponse* response) override;
  grpc::Status RebuildProjection(grpc::ServerContext* context,
                                 const caseledger::v1::RebuildProjectionRequest* request,
                                 caseledger::v1::ProjectionInfo* response) override;

 private:
  storage::EventStore* const store_;
  const absl::Time started_at_;
  const std::string backup_dir_;
  const std::vector<projections::ProjectionWorker*> workers_;
  std::mutex backup_mu_;  // one backup at a time
};

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_ADMIN_SERVICE_H_
