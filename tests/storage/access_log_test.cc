#include "storage/access_log.h"

#include <gtest/gtest.h>

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
