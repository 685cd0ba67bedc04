// A gRPC server interceptor that gives every call a trace id and logs the
// notable ones: refusals and errors (any status but OK and CANCELLED) and
// slow calls (longer than the threshold; streaming Subscribe excepted).
//
// The trace id is the caller's metadata x-trace-id when it is a short token
// ([A-Za-z0-9._-], at most 64), else a fresh random one; it is sent back as
// initial metadata x-trace-id, so a partner can quote it to the operator.
// Lines carry method, code, message, organisation, role, duration, trace id —
// never request or response bodies.
//
// Thread-safety: a new interceptor per call; the factory is immutable.
#ifndef CASELEDGER_SERVICES_CALL_LOG_H_
#define CASELEDGER_SERVICES_CALL_LOG_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "absl/time/time.h"

namespace caseledger::services {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeCallLogFactory(
    absl::Duration slow_call_threshold);

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_CALL_LOG_H_
