#include "storage/backup.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "storage/access_log.h"
#include "tests/test_util.h"

namespace caseledger::storage {
namespace {

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = *EventStore::Open(dir_.Sub("db")); }

  void Append(const std::string& id) {
    ProposedEvent e;
    e.event_id = id;
    e.type = "ContactRecorded";
    e.payload = std::string(200, 'p');
    e.personal = "naam";
    ASSERT_TRUE(store_->Append(absl::StrCat("c-", id.size() % 7), ExpectedVersion::Any(), {e}).ok());
  }

  testing::ScopedTempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(BackupTest, ABackupTakenDuringAppendsRestoresToAVerifiedPrefixOfTheLog) {
  for (int i = 0; i < 300; ++i) Append(absl::StrCat("before-", i));
  auto access = *AccessLog::Open(store_.get());
  AccessRecord read;
  read.client_id = "c-1";
  read.call = "LedgerService.ReadClientEvents";
  read.outcome = "OK";
  ASSERT_TRUE(access->Record(read).ok());

  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) Append(absl::StrCat("during-", i));
  });
  auto backup = CreateBackup(*store_, dir_.Sub("backups"));
  stop = true;
  writer.join();
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_EQ(backup->id, 1u);
  EXPECT_GE(backup->position_at_start, 300u);
  EXPECT_GT(backup->size_bytes, 0u);

  ASSERT_TRUE(RestoreLatestBackup(dir_.Sub("backups"), dir_.Sub("restored")).ok());
  auto restored = EventStore::Open(dir_.Sub("restored"));
  ASSERT_TRUE(restored.ok()) << restored.status();
  const uint64_t size = (*restored)->LastPosition();
  // Everything acknowledged before the backup began is in it, and no more than was written.
  EXPECT_GE(size, backup->position_at_start);
  EXPECT_LE(size, store_->LastPosition());
  auto verify = (*restored)->Verify(1, size);
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok()) << verify->problem;
  EXPECT_EQ(verify->checked, size);
  // The restored log is a prefix of the live one: the same Merkle root at its size.
  EXPECT_EQ(*(*restored)->MerkleRoot(size), *store_->MerkleRoot(size));
  // The access log came along.
  auto restored_access = *AccessLog::Open(restored->get());
  EXPECT_EQ(restored_access->LastSequence(), 1u);
  EXPECT_TRUE(restored_access->Verify()->ok());
  // And the restored ledger accepts appends that continue its chain.
  ProposedEvent next;
  next.event_id = "after-restore";
  next.type = "ContactRecorded";
  ASSERT_TRUE((*restored)->Append("c-9", ExpectedVersion::Any(), {next}).ok());
  EXPECT_TRUE((*restored)->Verify(1, size + 1)->ok());
}

TEST_F(BackupTest, BackupsAreListedAndRestoreNeverOverwritesALedger) {
  Append("a");
  ASSERT_TRUE(CreateBackup(*store_, dir_.Sub("backups")).ok());
  Append("b");
  ASSERT_TRUE(CreateBackup(*store_, dir_.Sub("backups")).ok());
  auto list = ListBackups(dir_.Sub("backups"));
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].position_at_start, 1u);
  EXPECT_EQ((*list)[1].position_at_start, 2u);

  absl::Status over = RestoreLatestBackup(dir_.Sub("backups"), dir_.Sub("db"));
  EXPECT_EQ(over.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(over.message(), absl::StrCat(dir_.Sub("db"), " already holds a ledger; restore into an empty "
                                         "data directory (or move that one away)"));
  EXPECT_EQ(RestoreLatestBackup(dir_.Sub("nowhere"), dir_.Sub("x")).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(RestoreLatestBackup(dir_.Sub("backups"), dir_.Sub("latest")).ok());
  EXPECT_EQ((*EventStore::Open(dir_.Sub("latest")))->LastPosition(), 2u);
}

}  // namespace
}  // namespace caseledger::storage
