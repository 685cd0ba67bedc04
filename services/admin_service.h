// caseledger.v1.AdminService: operating the ledger. Admin role only.
//
// Thread-safety: gRPC calls the methods concurrently; the service holds only
// constants and a borrowed EventStore, which is thread-safe.
#ifndef CASELEDGER_SERVICES_ADMIN_SERVICE_H_
#define CASELEDGER_SERVICES_ADMIN_SERVICE_H_

#include <mutex>
#include <string>

#include "absl/time/time.h"
#include "caseledger/v1/admin_service.grpc.pb.h"
#include "storage/event_store.h"

namespace caseledger::services {

class AdminServiceImpl final : public caseledger::v1::AdminService::Service {
 public:
  // `store` must outlive this service.
  AdminServiceImpl(storage::EventStore* store, absl::Time started_at, std::string backup_dir)
      : store_(store), started_at_(started_at), backup_dir_(std::move(backup_dir)) {}

  grpc::Status GetLedgerInfo(grpc::ServerContext* context,
                             const caseledger::v1::GetLedgerInfoRequest* request,
                             caseledger::v1::GetLedgerInfoResponse* response) override;
  grpc::Status CreateBackup(grpc::ServerContext* context,
                            const caseledger::v1::CreateBackupRequest* request,
                            caseledger::v1::BackupInfo* response) override;
  grpc::Status ListBackups(grpc::ServerContext* context,
                           const caseledger::v1::ListBackupsRequest* request,
                           caseledger::v1::ListBackupsResponse* response) override;

 private:
  storage::EventStore* const store_;
  const absl::Time started_at_;
  const std::string backup_dir_;
  std::mutex backup_mu_;  // one backup at a time
};

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_ADMIN_SERVICE_H_
