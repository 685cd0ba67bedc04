// The case cache gives exactly what a full fold gives, after any appends,
// while reading only what was stored since; it evicts the least recently used.
#include "projections/case_state_cache.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "projections/case_record.h"
#include "projections/event_mapping.h"
#include "tests/event_builders.h"
#include "tests/test_util.h"

namespace caseledger::projections {
namespace {

class CaseStateCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = *storage::EventStore::Open(dir_.Sub("db")); }
  void Append(const std::string& client, const v1::Event& e) {
    ASSERT_TRUE(store_->Append(client, storage::ExpectedVersion::Any(), {ToProposedEvent(e, "vluchtelingenwerk", "u")}).ok());
  }
  void ExpectSame(CaseStateCache& cache, const std::string& client) {
    auto cached = cache.Load(*store_, client);
    auto full = LoadCaseState(*store_, client);
    ASSERT_TRUE(cached.ok() && full.ok());
    EXPECT_EQ(EncodeCaseState(*cached), EncodeCaseState(*full)) << client;
    EXPECT_EQ(cached->version, full->version);
  }
  testing::ScopedTempDir dir_;
  std::unique_ptr<storage::EventStore> store_;
};

TEST_F(CaseStateCacheTest, EqualsAFullFoldAfterEveryAppend) {
  CaseStateCache cache;
  using namespace caseledger::testing;
  std::vector<v1::Event> events = {IntakeEvent("i", "vluchtelingenwerk"), ScreeningEvent("s"), AssignEvent("a"),
                                   PlanEvent("p"), AttendanceEvent("at"), ConsentEvent("k", "k1", {"goedwerk"})};
  for (const v1::Event& e : events) {
    ExpectSame(cache, "c-1");
    Append("c-1", e);
    ExpectSame(cache, "c-1");
  }
  for (const v1::Event& e : OtherFacts("o")) Append("c-1", e);  // several at once
  ExpectSame(cache, "c-1");
  ExpectSame(cache, "nobody");
  EXPECT_GT(cache.hits(), 0u);
}

TEST_F(CaseStateCacheTest, EvictsTheLeastRecentlyUsed) {
  CaseStateCache cache(2);
  for (const char* c : {"a", "b", "c"}) {
    Append(c, caseledger::testing::IntakeEvent(absl::StrCat(c, "-i"), "vluchtelingenwerk"));
    ASSERT_TRUE(cache.Load(*store_, c).ok());
  }
  EXPECT_EQ(cache.size(), 2u);
  const uint64_t misses = cache.misses();
  ASSERT_TRUE(cache.Load(*store_, "c").ok());  // still cached
  EXPECT_EQ(cache.misses(), misses);
  ASSERT_TRUE(cache.Load(*store_, "a").ok());  // evicted
  EXPECT_EQ(cache.misses(), misses + 1);
}

}  // namespace
}  // namespace caseledger::projections
