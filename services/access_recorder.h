// Recording reads in the access log from a gRPC call: who (certificate and
// x-user-id), which call, which client, why (purpose), the trace id
// (metadata x-trace-id, or a fresh random one) and the outcome.
//
// Thread-safety: pure function over a thread-safe AccessLog.
#ifndef CASELEDGER_SERVICES_ACCESS_RECORDER_H_
#define CASELEDGER_SERVICES_ACCESS_RECORDER_H_

#include <grpcpp/server_context.h>

#include <functional>

#include "absl/status/status.h"
#include "services/auth/identity.h"
#include "storage/access_log.h"

namespace caseledger::services {

// `caller` may be null when the caller could not be identified. `outcome` is
// the status the call will return. UNAVAILABLE when the record could not be
// written: the caller must then not return the data.
absl::Status RecordAccess(storage::AccessLog& log, const grpc::ServerContextBase& context,
                          const absl::StatusOr<CallerIdentity>& caller, absl::string_view client_id,
                          absl::string_view call, absl::string_view purpose,
                          const absl::Status& outcome);

// The same without waiting: `done` gets what RecordAccess would return, once
// the record is durable (AccessLog::RecordAsync), exactly once.
void RecordAccessAsync(storage::AccessLog& log, const grpc::ServerContextBase& context,
                       const absl::StatusOr<CallerIdentity>& caller, absl::string_view client_id,
                       absl::string_view call, absl::string_view purpose, const absl::Status& outcome,
                       std::function<void(absl::Status)> done);

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_ACCESS_RECORDER_H_
