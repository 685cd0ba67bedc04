// The stored form of a CaseState (proto caseledger.internal.CaseRecord), so
// that the caseload projection can keep folding a client's events where it
// left off and answer queries without replaying the log.
//
// Promise: DecodeCaseState(EncodeCaseState(s)) == s for every state the fold
// can produce, and EncodeCaseState is deterministic (the same state gives the
// same bytes) — a rebuilt projection equals the incrementally built one byte
// for byte.
//
// Thread-safety: pure functions.
#ifndef CASELEDGER_PROJECTIONS_CASE_RECORD_H_
#define CASELEDGER_PROJECTIONS_CASE_RECORD_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "projections/case_state.h"

namespace caseledger::projections {

std::string EncodeCaseState(const CaseState& state);
// DATA_LOSS if `bytes` is not a CaseRecord.
absl::StatusOr<CaseState> DecodeCaseState(absl::string_view bytes);

}  // namespace caseledger::projections

#endif  // CASELEDGER_PROJECTIONS_CASE_RECORD_H_
