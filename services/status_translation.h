// The one place where absl::Status becomes grpc::Status (STYLE.md §2).
#ifndef CASELEDGER_SERVICES_STATUS_TRANSLATION_H_
#define CASELEDGER_SERVICES_STATUS_TRANSLATION_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace caseledger::services {

// Same code, same message. Abseil and gRPC share the canonical code numbers.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_STATUS_TRANSLATION_H_
