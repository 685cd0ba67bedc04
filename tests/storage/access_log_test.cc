#include "storage/access_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "storage/column_families.h"
#include "tests/raw_database.h"
#include "tests/test_util.h"

namespace caseledger::storage {
namespace {

class AccessLogTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    log_.reset();
    store_.reset();
    store_ = *EventStore::Open(dir_.Sub("db"));
    auto log = AccessLog::Open(store_.get());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }
  static AccessRecord Read(const std::string& org, const std::string& client, const std::string& outcome) {
    AccessRecord r;
    r.organisation = org;
    r.role = "partner";
    r.user_id = "begeleider-1";
    r.client_id = client;
    r.call = "LedgerService.ReadClientEvents";
    r.purpose = "voortgangsgesprek";
    r.trace_id = "trace-1";
    r.outcome = outcome;
    return r;
  }

  testing::ScopedTempDir dir_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<AccessLog> log_;
};

TEST_F(AccessLogTest, RecordsAreListedPerClientInOrderWithEveryField) {
  ASSERT_EQ(*log_->Record(Read("vluchtelingenwerk", "c-1", "OK")), 1u);
  ASSERT_EQ(*log_->Record(Read("goedwerk", "c-2", "OK")), 2u);
  ASSERT_EQ(*log_->Record(Read("goedwerk", "c-1", "PERMISSION_DENIED")), 3u);
  // "c-1" must not match "c-10".
  ASSERT_EQ(*log_->Record(Read("askv", "c-10", "OK")), 4u);

  auto c1 = log_->ListForClient("c-1", 0, 100);
  ASSERT_TRUE(c1.ok()) << c1.status();
  ASSERT_EQ(c1->size(), 2u);
  EXPECT_EQ((*c1)[0].sequence, 1u);
  EXPECT_EQ((*c1)[0].organisation, "vluchtelingenwerk");
  EXPECT_EQ((*c1)[0].role, "partner");
  EXPECT_EQ((*c1)[0].user_id, "begeleider-1");
  EXPECT_EQ((*c1)[0].call, "LedgerService.ReadClientEvents");
  EXPECT_EQ((*c1)[0].purpose, "voortgangsgesprek");
  EXPECT_EQ((*c1)[0].trace_id, "trace-1");
  EXPECT_EQ((*c1)[0].outcome, "OK");
  EXPECT_GT((*c1)[0].at, absl::Now() - absl::Minutes(1));
  EXPECT_EQ((*c1)[1].sequence, 3u);
  EXPECT_EQ((*c1)[1].outcome, "PERMISSION_DENIED");
  EXPECT_LE((*c1)[0].at, (*c1)[1].at);
  EXPECT_EQ(log_->ListForClient("c-1", 2, 100)->size(), 1u);
  EXPECT_EQ(log_->ListForClient("c-1", 0, 1)->size(), 1u);
  EXPECT_TRUE(log_->ListForClient("c-none", 0, 100)->empty());
}

TEST_F(AccessLogTest, TheChainVerifiesSurvivesReopenAndNamesATamperedRecord) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(log_->Record(Read("goedwerk", absl::StrCat("c-", i % 3), "OK")).ok());
  auto verified = log_->Verify();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok());
  EXPECT_EQ(verified->checked, 10u);

  Open();
  EXPECT_EQ(log_->LastSequence(), 10u);
  ASSERT_EQ(*log_->Record(Read("goedwerk", "c-1", "OK")), 11u);
  EXPECT_TRUE(log_->Verify()->ok());

  // Rewrite record 4's purpose directly in RocksDB.
  log_.reset();
  store_.reset();
  testing::EditStoredValue(dir_.Sub("db"), kAccessLogCf, "r" + EncodeU64(4), [](std::string& value) {
    size_t at = value.find("voortgangsgesprek");
    ASSERT_NE(at, std::string::npos);
    value[at] = 'W';
  });
  Open();
  auto tampered = log_->Verify();
  ASSERT_TRUE(tampered.ok());
  EXPECT_EQ(tampered->first_broken_position, 4u);
  EXPECT_EQ(tampered->problem, "access-log record 4: the stored hash does not match the record's content");
}

}  // namespace
}  // namespace caseledger::storage

namespace caseledger::storage {
namespace {

// RecordAsync and Record share one chain: asynchronous and blocking records
// from many threads get distinct sequences, each callback runs once, and a
// record is listed (durable) by the time its callback runs.
TEST_F(AccessLogTest, AsyncAndBlockingRecordsShareOneChainAndEachCallbackRunsOnce) {
  constexpr int kThreads = 6, kPerThread = 50;
  std::mutex mu;
  std::set<uint64_t> sequences;  // guarded by mu
  std::atomic<int> callbacks{0}, failures{0}, unlisted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string client = absl::StrCat("c-", t, "-", i);
        if (t % 2 == 0) {
          log_->RecordAsync(Read("goedwerk", client, "OK"), [&, client](absl::StatusOr<uint64_t> seq) {
            ++callbacks;
            if (!seq.ok()) {
              ++failures;
              return;
            }
            auto listed = log_->ListForClient(client, 0, 10);
            if (!listed.ok() || listed->size() != 1 || (*listed)[0].sequence != *seq) ++unlisted;
            std::lock_guard<std::mutex> lock(mu);
            EXPECT_TRUE(sequences.insert(*seq).second);
          });
        } else {
          auto seq = log_->Record(Read("askv", client, "OK"));
          if (!seq.ok()) {
            ++failures;
            continue;
          }
          std::lock_guard<std::mutex> lock(mu);
          EXPECT_TRUE(sequences.insert(*seq).second);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(callbacks.load(), kThreads / 2 * kPerThread);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(unlisted.load(), 0);
  EXPECT_EQ(sequences.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(*sequences.rbegin(), static_cast<uint64_t>(kThreads * kPerThread));
  auto verify = log_->Verify();
  ASSERT_TRUE(verify.ok()) << verify.status();
  EXPECT_TRUE(verify->ok()) << verify->problem;
  EXPECT_EQ(verify->checked, static_cast<uint64_t>(kThreads * kPerThread));
}

TEST(AccessLogGroupCommitTest, ConcurrentRecordsGetDistinctSequencesAndTheChainVerifies) {
  testing::ScopedTempDir dir;
  auto store = *EventStore::Open(dir.Sub("db"));
  auto log = *AccessLog::Open(store.get());
  constexpr int kThreads = 16, kEach = 50;
  std::vector<std::vector<uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        AccessRecord r;
        r.organisation = "vluchtelingenwerk";
        r.role = "partner";
        r.user_id = absl::StrCat("u-", t);
        r.client_id = absl::StrCat("c-", t);
        r.call = "LedgerService.ReadClientEvents";
        r.purpose = "begeleiding";
        r.outcome = "OK";
        auto seq = log->Record(r);
        ASSERT_TRUE(seq.ok()) << seq.status();
        got[t].push_back(*seq);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint64_t> all;
  for (const auto& v : got) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end())) << "a caller's records out of order";
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), size_t{kThreads * kEach});
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), uint64_t{kThreads * kEach});
  EXPECT_EQ(log->LastSequence(), uint64_t{kThreads * kEach});
  auto verified = log->Verify();
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok()) << verified->problem;
  for (int t = 0; t < kThreads; ++t) {
    auto mine = log->ListForClient(absl::StrCat("c-", t), 0, 1000);
    ASSERT_TRUE(mine.ok());
    EXPECT_EQ(mine->size(), size_t{kEach});
  }
  // Reopened, the chain continues where it was.
  log.reset();
  log = *AccessLog::Open(store.get());
  EXPECT_EQ(log->LastSequence(), uint64_t{kThreads * kEach});
}

}  // namespace
}  // namespace caseledger::storage
