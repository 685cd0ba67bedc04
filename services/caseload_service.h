// caseledger.v1.CaseloadService: the caseload views, signals and reports
// (proto/caseledger/v1/caseload_service.proto says who may call what).
//
// Reads come from the caseload projection (projections/caseload.h), except
// GetCase, which folds the client's stream from the log so that it is never
// behind an append the caller just made. Every case a partner sees passes
// AuthorizeClientRead (it holds the client, or a current consent names it);
// cases it may not see are left out of lists, never counted, never hinted at.
// GetCase is recorded in the access log (allowed or refused), like every read
// of one client's file. "Today" comes from the injected clock.
//
// Thread-safety: gRPC calls the methods concurrently; the service holds
// borrowed thread-safe objects and constants.
#ifndef CASELEDGER_SERVICES_CASELOAD_SERVICE_H_
#define CASELEDGER_SERVICES_CASELOAD_SERVICE_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "caseledger/v1/caseload_service.grpc.pb.h"
#include "projections/case_state_cache.h"
#include "projections/caseload.h"
#include "projections/projection_worker.h"
#include "storage/access_log.h"
#include "storage/event_store.h"

namespace caseledger::services {

struct CaseloadServiceOptions {
  projections::CaseloadPolicy policy;
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  projections::CaseStateCache* case_cache = nullptr;  // shared folded cases
};

class CaseloadServiceImpl final : public caseledger::v1::CaseloadService::Service {
 public:
  // `store`, `worker` (running the CaseloadProjection) and `access_log` must
  // outlive this service.
  CaseloadServiceImpl(const storage::EventStore* store, const projections::ProjectionWorker* worker,
                      storage::AccessLog* access_log, CaseloadServiceOptions options = {});

  grpc::Status ListCases(grpc::ServerContext* context, const v1::ListCasesRequest* request,
                         v1::ListCasesResponse* response) override;
  grpc::Status GetCase(grpc::ServerContext* context, const v1::GetCaseRequest* request,
                       v1::GetCaseResponse* response) override;
  grpc::Status ListSignals(grpc::ServerContext* context, const v1::ListSignalsRequest* request,
                           v1::ListSignalsResponse* response) override;
  grpc::Status ListReportMoments(grpc::ServerContext* context,
                                 const v1::ListReportMomentsRequest* request,
                                 v1::ListReportMomentsResponse* response) override;
  grpc::Status GetQuarterlyReport(grpc::ServerContext* context,
                                  const v1::GetQuarterlyReportRequest* request,
                                  v1::QuarterlyReport* response) override;

 private:
  absl::CivilDay Today() const;

  const storage::EventStore* const store_;
  const projections::ProjectionWorker* const worker_;
  const projections::CaseloadReader reader_;
  storage::AccessLog* const access_log_;
  const CaseloadServiceOptions options_;
};

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_CASELOAD_SERVICE_H_
