// The key vault: sealing is deterministic per event, tamper-evident and
// bound to its client and event; destroying a key makes the data unreadable
// for good — across a restart, and with the wrapped key gone from every file.
#include "storage/key_vault.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "storage/column_families.h"
#include "tests/test_util.h"

namespace caseledger::storage {
namespace {

class KeyVaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = LoadOrCreateMasterKey(dir_.Sub("keys/master.key"));
    ASSERT_TRUE(key.ok()) << key.status();
    master_ = *key;
    Open();
  }
  void Open() {
    vault_.reset();
    store_.reset();
    auto store = EventStore::Open(dir_.Sub("db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto vault = KeyVault::Open(store_.get(), master_);
    ASSERT_TRUE(vault.ok());
    vault_ = *std::move(vault);
  }
  // Every byte of every file under the database directory.
  std::string AllFiles() {
    std::string all;
    for (const auto& f : std::filesystem::recursive_directory_iterator(dir_.Sub("db"))) {
      if (!f.is_regular_file()) continue;
      std::ifstream in(f.path(), std::ios::binary);
      all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return all;
  }

  testing::ScopedTempDir dir_;
  Key256 master_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<KeyVault> vault_;
};

TEST_F(KeyVaultTest, SealedDataOpensAndIsDeterministicPerEvent) {
  auto a = vault_->Seal("c-1", "e-1", "Amina Testpersoon");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->find("Amina"), std::string::npos);
  EXPECT_EQ(a->substr(0, 4), "CLK1");
  EXPECT_EQ(*vault_->Seal("c-1", "e-1", "Amina Testpersoon"), *a) << "a retry must seal to the same bytes";
  EXPECT_NE(*vault_->Seal("c-1", "e-2", "Amina Testpersoon"), *a);
  EXPECT_NE(*vault_->Seal("c-2", "e-1", "Amina Testpersoon"), *a) << "each client has its own key";
  auto opened = vault_->Open("c-1", "e-1", *a);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(**opened, "Amina Testpersoon");
  Open();  // the key survives a restart
  EXPECT_EQ(**vault_->Open("c-1", "e-1", *a), "Amina Testpersoon");
}

TEST_F(KeyVaultTest, TamperingOrMovingSealedDataIsDataLoss) {
  std::string sealed = *vault_->Seal("c-1", "e-1", "geheim");
  std::string flipped = sealed;
  flipped[flipped.size() - 3] ^= 1;
  EXPECT_EQ(vault_->Open("c-1", "e-1", flipped).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(vault_->Open("c-1", "e-2", sealed).status().code(), absl::StatusCode::kDataLoss)
      << "sealed data is bound to its event";
  EXPECT_EQ(vault_->Open("c-1", "e-1", "plain").status().code(), absl::StatusCode::kDataLoss);
  // Another master key cannot unwrap the data key.
  vault_.reset();
  Key256 other = master_;
  other[0] ^= 1;
  vault_ = *KeyVault::Open(store_.get(), other);
  EXPECT_EQ(vault_->Open("c-1", "e-1", sealed).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(KeyVaultTest, DestroyedKeysStayDestroyedAndLeaveNoFile) {
  std::string sealed = *vault_->Seal("c-1", "e-1", "Amina Testpersoon");
  std::string kept = *vault_->Seal("c-2", "e-9", "Bram");
  std::string wrapped;
  ASSERT_TRUE(store_->db()->Get(rocksdb::ReadOptions(), store_->column_family(kKeyVaultCf), "kc-1", &wrapped).ok());
  ASSERT_EQ(wrapped.size(), 60u);

  ASSERT_TRUE(vault_->Destroy("c-1", "verzoek cliënt", absl::FromUnixSeconds(1'790'000'000)).ok());
  auto opened = vault_->Open("c-1", "e-1", sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_FALSE(opened->has_value());
  EXPECT_EQ(vault_->Seal("c-1", "e-2", "x").status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(vault_->Erased("c-1").has_value());
  EXPECT_EQ(vault_->Erased("c-1")->reason, "verzoek cliënt");
  EXPECT_TRUE(vault_->Destroy("c-1", "again", absl::Now()).ok());
  EXPECT_EQ(vault_->Erased("c-1")->reason, "verzoek cliënt") << "the first record stays";

  Open();
  EXPECT_FALSE(vault_->Open("c-1", "e-1", sealed)->has_value()) << "erasure must survive a restart";
  EXPECT_EQ(**vault_->Open("c-2", "e-9", kept), "Bram") << "other clients keep their data";
  EXPECT_EQ(AllFiles().find(wrapped), std::string::npos) << "the wrapped key lingers in a file";
}

TEST_F(KeyVaultTest, ALegalHoldBlocksDestruction) {
  std::string sealed = *vault_->Seal("c-1", "e-1", "data");
  ASSERT_TRUE(vault_->SetLegalHold("c-1", "lopende rechtszaak", absl::Now()).ok());
  absl::Status refused = vault_->Destroy("c-1", "verzoek", absl::Now());
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("lopende rechtszaak"), absl::string_view::npos) << refused;
  EXPECT_TRUE(vault_->Open("c-1", "e-1", sealed)->has_value());
  ASSERT_TRUE(vault_->ClearLegalHold("c-1").ok());
  EXPECT_TRUE(vault_->Destroy("c-1", "verzoek", absl::Now()).ok());
}

TEST_F(KeyVaultTest, TheMasterKeyFileIsPrivateAndReloads) {
  struct stat st;
  ASSERT_EQ(stat(dir_.Sub("keys/master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u) << "the master key file must not be readable by others";
  auto again = LoadOrCreateMasterKey(dir_.Sub("keys/master.key"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, master_);
  EXPECT_EQ(LoadMasterKey(dir_.Sub("nope.key")).status().code(), absl::StatusCode::kNotFound);
  std::ofstream(dir_.Sub("bad.key")) << "not hex\n";
  EXPECT_EQ(LoadMasterKey(dir_.Sub("bad.key")).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace caseledger::storage
