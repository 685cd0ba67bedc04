// The one conversion from rocksdb::Status to absl::Status in the project.
#ifndef CASELEDGER_STORAGE_ROCKSDB_STATUS_H_
#define CASELEDGER_STORAGE_ROCKSDB_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/status.h"

namespace caseledger::storage {

// `doing` says what was attempted ("reading the access log"). A full disk is
// RESOURCE_EXHAUSTED (RocksDB then refuses every write until caseledgerd is
// restarted with space freed); other IO errors or a store in background-error
// state are UNAVAILABLE: retry later.
inline absl::Status FromRocks(const rocksdb::Status& s, absl::string_view doing) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(doing, ": ", s.ToString());
  if (s.IsNoSpace() || msg.find("No space left on device") != std::string::npos) {
    return absl::ResourceExhaustedError(absl::StrCat(
        doing, ": the ledger's disk is full, nothing was written. Free disk space and restart "
        "caseledgerd, then retry with the same event ids (", s.ToString(), ")"));
  }
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  return absl::UnavailableError(msg);
}

}  // namespace caseledger::storage

#endif  // CASELEDGER_STORAGE_ROCKSDB_STATUS_H_
