// The key vault: sealing is deterministic per event, tamper-evident and
// bound to its client and event; destroying a key makes the data unreadable
// for good — across a restart, and with the wrapped key gone from every file.
#include "storage/key_vault.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

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

// Eight appends for one new client at once make one key between them: all
// they sealed opens after a restart, when only the stored key is left.
TEST_F(KeyVaultTest, ConcurrentFirstSealsOfOneClientShareOneStoredKey) {
  constexpr int kThreads = 8;
  for (int round = 0; round < 20; ++round) {
    const std::string client = "c-new-" + std::to_string(round);
    std::vector<std::string> sealed(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto s = vault_->Seal(client, "e-" + std::to_string(t), "Amina");
        if (s.ok()) sealed[t] = *s;
      });
    }
    for (std::thread& t : threads) t.join();
    Open();
    for (int t = 0; t < kThreads; ++t) {
      ASSERT_FALSE(sealed[t].empty()) << "seal " << t << " of " << client << " failed";
      auto opened = vault_->Open(client, "e-" + std::to_string(t), sealed[t]);
      ASSERT_TRUE(opened.ok()) << client << " seal " << t << ": " << opened.status();
      EXPECT_EQ(**opened, "Amina");
    }
  }
}

// New clients' first seals run side by side (each stores its own key); every
// client ends with a key of its own that opens what was sealed for it.
TEST_F(KeyVaultTest, ManyNewClientsAtOnceEachGetTheirOwnKey) {
  constexpr int kThreads = 8, kClientsEach = 40;
  std::vector<std::vector<std::string>> sealed(kThreads, std::vector<std::string>(kClientsEach));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int c = 0; c < kClientsEach; ++c) {
        auto s = vault_->Seal("c-" + std::to_string(t) + "-" + std::to_string(c), "e-1", "data");
        if (s.ok()) sealed[t][c] = *s;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  Open();
  for (int t = 0; t < kThreads; ++t) {
    for (int c = 0; c < kClientsEach; ++c) {
      const std::string client = "c-" + std::to_string(t) + "-" + std::to_string(c);
      ASSERT_FALSE(sealed[t][c].empty()) << client;
      EXPECT_EQ(**vault_->Open(client, "e-1", sealed[t][c]), "data") << client;
      // Sealed under this client's key, so no other client's key opens it.
      EXPECT_EQ(vault_->Open("c-0-0", "e-1", sealed[t][c]).status().code(),
                client == "c-0-0" ? absl::StatusCode::kOk : absl::StatusCode::kDataLoss);
    }
  }
}

// An erasure racing appends for the same client: once Destroy has returned,
// nothing sealed for the client opens, no new seal succeeds and no key is
// stored — not even one a racing first seal was making or loading.
TEST_F(KeyVaultTest, AnErasureRacingSealsLeavesNoUsableKey) {
  for (int round = 0; round < 10; ++round) {
    const std::string client = "c-race-" + std::to_string(round);
    std::vector<std::string> sealed;
    if (round % 2 == 1) {
      // The key exists but is not in memory: the racing seals load it.
      sealed.push_back("e-pre|" + *vault_->Seal(client, "e-pre", "data"));
      Open();
    }
    std::atomic<bool> destroyed{false};
    std::thread appender([&] {
      for (int i = 0; !destroyed.load() || i % 10 != 0; ++i) {
        auto s = vault_->Seal(client, "e-" + std::to_string(i), "data");
        if (s.ok()) sealed.push_back("e-" + std::to_string(i) + "|" + *s);
        if (destroyed.load() && !s.ok()) break;
      }
    });
    std::this_thread::sleep_for(std::chrono::microseconds(100 * (round / 2)));
    ASSERT_TRUE(vault_->Destroy(client, "verzoek", absl::Now()).ok());
    destroyed = true;
    appender.join();
    for (int restarted = 0; restarted < 2; ++restarted) {
      for (const std::string& entry : sealed) {
        const size_t bar = entry.find('|');
        auto opened = vault_->Open(client, entry.substr(0, bar), entry.substr(bar + 1));
        ASSERT_TRUE(opened.ok()) << opened.status();
        EXPECT_FALSE(opened->has_value()) << client << " " << entry.substr(0, bar) << " opens after the erasure";
      }
      EXPECT_EQ(vault_->Seal(client, "e-after", "x").status().code(), absl::StatusCode::kFailedPrecondition);
      std::string wrapped;
      EXPECT_TRUE(store_->db()
                      ->Get(rocksdb::ReadOptions(), store_->column_family(kKeyVaultCf), "k" + client, &wrapped)
                      .IsNotFound())
          << client << " has a stored data key after its erasure";
      Open();
    }
  }
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
