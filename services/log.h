// Structured logs: one JSON object per line on stderr, for journald, docker
// logs or any collector.
//
// Promise: a line carries only what the caller passes as fields — method
// names, status codes, organisations, roles, positions, durations, trace ids.
// Never pass personal data (names, birth dates, V-numbers, notes); client ids
// are pseudonymous and may be logged. A test searches the logs for the demo's
// names.
//
// Thread-safety: Log may be called from any thread; lines are not interleaved.
#ifndef CASELEDGER_SERVICES_LOG_H_
#define CASELEDGER_SERVICES_LOG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace caseledger::services {

// A field: key and an already-encoded JSON value (use JsonString/JsonNumber).
using LogField = std::pair<std::string, std::string>;

std::string JsonString(absl::string_view s);
std::string JsonNumber(double v);

// {"ts":..., "level":..., "msg":..., fields...}
void Log(absl::string_view level, absl::string_view msg, const std::vector<LogField>& fields = {});

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_LOG_H_
