#include "storage/backup.h"

#include <filesystem>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "rocksdb/env.h"
#include "rocksdb/utilities/backup_engine.h"
#include "storage/rocksdb_status.h"

namespace caseledger::storage {
namespace {

constexpr char kMetadataPrefix[] = "caseledger position_at_start=";

BackupInfo Convert(const rocksdb::BackupInfo& info) {
  BackupInfo out;
  out.id = info.backup_id;
  out.created_at = absl::FromUnixSeconds(info.timestamp);
  out.size_bytes = info.size;
  out.files = info.number_files;
  absl::string_view metadata = info.app_metadata;
  if (absl::ConsumePrefix(&metadata, kMetadataPrefix)) {
    (void)absl::SimpleAtoi(metadata, &out.position_at_start);
  }
  return out;
}

}  // namespace

absl::StatusOr<BackupInfo> CreateBackup(EventStore& store, const std::string& backup_dir) {
  rocksdb::BackupEngine* raw = nullptr;
  absl::Status opened = FromRocks(
      rocksdb::BackupEngine::Open(rocksdb::BackupEngineOptions(backup_dir), rocksdb::Env::Default(), &raw),
      absl::StrCat("opening the backup directory ", backup_dir));
  if (!opened.ok()) return opened;
  std::unique_ptr<rocksdb::BackupEngine> engine(raw);
  rocksdb::CreateBackupOptions options;
  options.flush_before_backup = false;  // copy the live WAL: every acknowledged event is in
  rocksdb::BackupID id = 0;
  const std::string metadata = absl::StrCat(kMetadataPrefix, store.LastPosition());
  absl::Status created = FromRocks(
      engine->CreateNewBackupWithMetadata(options, store.db(), metadata, &id), "creating a backup");
  if (!created.ok()) return created;
  rocksdb::BackupInfo info;
  absl::Status read = FromRocks(engine->GetBackupInfo(id, &info), "reading the new backup's details");
  if (!read.ok()) return read;
  return Convert(info);
}

absl::StatusOr<std::vector<BackupInfo>> ListBackups(const std::string& backup_dir) {
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  absl::Status opened = FromRocks(rocksdb::BackupEngineReadOnly::Open(
                                      rocksdb::BackupEngineOptions(backup_dir), rocksdb::Env::Default(), &raw),
                                  absl::StrCat("opening the backup directory ", backup_dir));
  if (!opened.ok()) return opened;
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  std::vector<rocksdb::BackupInfo> infos;
  engine->GetBackupInfo(&infos);
  std::vector<BackupInfo> out;
  for (const auto& info : infos) out.push_back(Convert(info));
  return out;
}

absl::Status RestoreLatestBackup(const std::string& backup_dir, const std::string& db_dir) {
  if (std::filesystem::exists(std::filesystem::path(db_dir) / "CURRENT")) {
    return absl::FailedPreconditionError(absl::StrCat(
        db_dir, " already holds a ledger; restore into an empty data directory (or move that one away)"));
  }
  if (!std::filesystem::exists(backup_dir)) {
    return absl::NotFoundError(absl::StrCat("there is no backup directory ", backup_dir));
  }
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  absl::Status opened = FromRocks(rocksdb::BackupEngineReadOnly::Open(
                                      rocksdb::BackupEngineOptions(backup_dir), rocksdb::Env::Default(), &raw),
                                  absl::StrCat("opening the backup directory ", backup_dir));
  if (!opened.ok()) return opened;
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  std::vector<rocksdb::BackupInfo> infos;
  engine->GetBackupInfo(&infos);
  if (infos.empty()) return absl::NotFoundError(absl::StrCat(backup_dir, " holds no backup"));
  std::filesystem::create_directories(db_dir);
  return FromRocks(engine->RestoreDBFromLatestBackup(db_dir, db_dir),
                   absl::StrCat("restoring ", backup_dir, " into ", db_dir));
}

}  // namespace caseledger::storage
