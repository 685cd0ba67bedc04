// Trace ids: the one id that ties a call's log line, its access-log record
// and the caller's own logs together.
//
// A caller may choose it (metadata x-trace-id); otherwise the call log
// interceptor (call_log.h) makes one with NewTraceId and puts it in the call's
// received metadata, so every handler and the access log see the same id, and
// sends it back to the caller.
//
// Thread-safety: NewTraceId is safe to call concurrently.
#ifndef CASELEDGER_SERVICES_TRACE_ID_H_
#define CASELEDGER_SERVICES_TRACE_ID_H_

#include <string>

namespace caseledger::services {

// 32 lowercase hex digits, random (128 bits from a per-thread generator seeded
// by the operating system). Unique, not secret.
std::string NewTraceId();

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_TRACE_ID_H_
