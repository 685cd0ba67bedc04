// Online backups of the whole ledger database — every column family: events,
// indexes, Merkle nodes, access log, projections — with RocksDB's
// BackupEngine, and restore into an empty data directory.
//
// Promises: a backup is consistent (one point in the log, all column families
// together) and taken while appends continue; it holds every event
// acknowledged before it started (the live WAL is copied). Backups are
// incremental (SST files are shared between backups in the same directory).
// Restore refuses to overwrite an existing ledger.
//
// Thread-safety: CreateBackup may run concurrently with appends and reads;
// the functions themselves are not meant to run concurrently with each other
// on the same backup directory.
#ifndef CASELEDGER_STORAGE_BACKUP_H_
#define CASELEDGER_STORAGE_BACKUP_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/event_store.h"

namespace caseledger::storage {

struct BackupInfo {
  uint32_t id = 0;
  absl::Time created_at = absl::UnixEpoch();
  uint64_t size_bytes = 0;
  uint32_t files = 0;
  uint64_t position_at_start = 0;  // the log's last position when the backup began
};

absl::StatusOr<BackupInfo> CreateBackup(EventStore& store, const std::string& backup_dir);
absl::StatusOr<std::vector<BackupInfo>> ListBackups(const std::string& backup_dir);

// Restores the newest backup in `backup_dir` into `db_dir`, which must not
// hold a ledger (FAILED_PRECONDITION otherwise).
absl::Status RestoreLatestBackup(const std::string& backup_dir, const std::string& db_dir);

}  // namespace caseledger::storage

#endif  // CASELEDGER_STORAGE_BACKUP_H_
