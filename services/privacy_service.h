// caseledger.v1.PrivacyService: the AVG officer's service (privacy-officer
// role only; proto/caseledger/v1/privacy_service.proto).
//
// Owns: the retention thread (StartRetention/Stop). Borrows the store, key
// vault, access log and caseload worker.
//
// Promises:
// - Every call, allowed or refused, is recorded in the access log (who, when,
//   which client, why) before it is answered.
// - ExportSubjectData reads one client's stream (the per-client index, never
//   a scan of the log), the client's access-log entries (a per-client index
//   too), and the case; it returns the structured export and a JSON or HTML
//   document (Dutch or English) with every GDPR art. 15(1)(a)-(h) section.
// - RectifyEvent appends a Corrected event through the case rules; the
//   original event stays, shown as superseded in the export; the answer names
//   the organisations to inform (art. 19).
// - EraseSubject destroys the client's data key (refused under a legal hold),
//   then appends SubjectErased. Every hash and proof still verifies (they
//   cover the sealed bytes); afterwards the personal data reads as erased
//   through every service. The case facts without personal data remain.
// - RunRetention erases (or, dry run, lists) the clients terminated longer
//   than the retention period ago; the retention thread runs it periodically.
//
// Thread-safety: gRPC calls the methods concurrently; the borrowed objects
// are thread-safe and the options are constant.
#ifndef CASELEDGER_SERVICES_PRIVACY_SERVICE_H_
#define CASELEDGER_SERVICES_PRIVACY_SERVICE_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "caseledger/v1/privacy_service.grpc.pb.h"
#include "projections/case_state_cache.h"
#include "projections/caseload.h"
#include "projections/projection_worker.h"
#include "storage/access_log.h"
#include "storage/event_store.h"
#include "storage/key_vault.h"

namespace caseledger::services {

struct PrivacyServiceOptions {
  v1::ProcessingRegister register_;  // what the export tells every person
  int retention_days = 5 * 365;      // after termination (bewaartermijn)
  projections::CaseloadPolicy policy;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  projections::CaseStateCache* case_cache = nullptr;  // shared folded cases
};

// The processing register the development default serves: the LVV partners'
// processing as described in the seed documents. Replace it in production
// with --processing-register FILE (text protobuf, deploy/processing-register.textproto).
v1::ProcessingRegister DefaultProcessingRegister();

// Parses a ProcessingRegister in protobuf text format.
absl::StatusOr<v1::ProcessingRegister> ParseProcessingRegister(const std::string& text);

class PrivacyServiceImpl final : public caseledger::v1::PrivacyService::Service {
 public:
  PrivacyServiceImpl(storage::EventStore* store, storage::KeyVault* vault, storage::AccessLog* access_log,
                     const projections::ProjectionWorker* caseload_worker, PrivacyServiceOptions options);
  ~PrivacyServiceImpl() override;

  grpc::Status ExportSubjectData(grpc::ServerContext* context, const v1::ExportSubjectDataRequest* request,
                                 v1::ExportSubjectDataResponse* response) override;
  grpc::Status RectifyEvent(grpc::ServerContext* context, const v1::RectifyEventRequest* request,
                            v1::RectifyEventResponse* response) override;
  grpc::Status EraseSubject(grpc::ServerContext* context, const v1::EraseSubjectRequest* request,
                            v1::EraseSubjectResponse* response) override;
  grpc::Status SetLegalHold(grpc::ServerContext* context, const v1::SetLegalHoldRequest* request,
                            v1::SetLegalHoldResponse* response) override;
  grpc::Status RunRetention(grpc::ServerContext* context, const v1::RunRetentionRequest* request,
                            v1::RunRetentionResponse* response) override;

  // Builds the export of one client (no access check, no access record).
  absl::StatusOr<v1::SubjectExport> BuildExport(const std::string& client_id, const std::string& lang) const;

  // Erases one client: destroys the key, appends SubjectErased by `actor`.
  absl::StatusOr<v1::EraseSubjectResponse> Erase(const std::string& client_id, const std::string& reason,
                                                 const std::string& event_id, const std::string& organisation,
                                                 const std::string& user);

  // One retention pass; with `dry_run` nothing is erased.
  absl::StatusOr<v1::RunRetentionResponse> Retention(bool dry_run);

  // Runs Retention(false) every `interval` on a thread until Stop().
  void StartRetention(absl::Duration interval);
  void Stop();

 private:
  storage::EventStore* const store_;
  storage::KeyVault* const vault_;
  storage::AccessLog* const access_log_;
  const projections::ProjectionWorker* const caseload_worker_;
  const PrivacyServiceOptions options_;

  std::mutex retention_mu_;
  std::condition_variable retention_cv_;
  bool stopping_ = false;  // guarded by retention_mu_
  std::thread retention_thread_;
};

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_PRIVACY_SERVICE_H_
