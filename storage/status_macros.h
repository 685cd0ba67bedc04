// Status propagation helpers. Abseil 20220623 has no ABSL_RETURN_IF_ERROR,
// so this is the one place that defines them for the whole project.
#ifndef CASELEDGER_STORAGE_STATUS_MACROS_H_
#define CASELEDGER_STORAGE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CASELEDGER_CONCAT_INNER_(a, b) a##b
#define CASELEDGER_CONCAT_(a, b) CASELEDGER_CONCAT_INNER_(a, b)

// Returns from the current function if `expr` (an absl::Status) is not OK.
#define CASELEDGER_RETURN_IF_ERROR(expr)                 \
  do {                                                   \
    ::absl::Status _caseledger_status = (expr);          \
    if (!_caseledger_status.ok()) return _caseledger_status; \
  } while (0)

// `lhs = value of rexpr` (an absl::StatusOr<T>), or return its error.
#define CASELEDGER_ASSIGN_OR_RETURN(lhs, rexpr) \
  CASELEDGER_ASSIGN_OR_RETURN_IMPL_(CASELEDGER_CONCAT_(_caseledger_or_, __LINE__), lhs, rexpr)
#define CASELEDGER_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                      \
  if (!tmp.ok()) return std::move(tmp).status();           \
  lhs = std::move(tmp).value()

#endif  // CASELEDGER_STORAGE_STATUS_MACROS_H_
