// The write path hands the case cache the state it folded; that state must be
// exactly the fold of what was stored, so that later appends, access checks
// and case views that start from the cache are never off by a hair.
#include "services/case_writer.h"

#include <gtest/gtest.h>

#include "projections/case_record.h"
#include "projections/event_mapping.h"
#include "tests/event_builders.h"
#include "tests/test_util.h"

namespace caseledger::services {
namespace {

using projections::CaseState;

class CaseWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = *storage::EventStore::Open(dir_.Sub("db"));
    vault_ = *storage::KeyVault::Open(store_.get(), *storage::LoadOrCreateMasterKey(dir_.Sub("master.key")));
  }

  absl::StatusOr<storage::AppendResult> Write(std::vector<v1::Event> events) {
    // Sub-microsecond instants: the store keeps microseconds.
    for (v1::Event& e : events) e.mutable_envelope()->mutable_occurred_at()->set_nanos(123'456'789);
    return WriteToCase(*store_, *vault_, "c-1", storage::ExpectedVersion::Any(), events, "vluchtelingenwerk",
                       "begeleider-1", [](const CaseState&, const v1::Event&) { return absl::OkStatus(); },
                       &cache_);
  }

  void ExpectCacheIsTheStoredFold() {
    const uint64_t misses = cache_.misses();
    absl::StatusOr<CaseState> cached = cache_.Load(*store_, "c-1");
    absl::StatusOr<CaseState> stored = projections::LoadCaseState(*store_, "c-1");
    ASSERT_TRUE(cached.ok() && stored.ok());
    EXPECT_EQ(cache_.misses(), misses) << "the writer did not leave its state in the cache";
    EXPECT_EQ(projections::EncodeCaseState(*cached), projections::EncodeCaseState(*stored));
    EXPECT_EQ(cached->intake_occurred_at, stored->intake_occurred_at);
  }

  testing::ScopedTempDir dir_;
  std::unique_ptr<storage::EventStore> store_;
  std::unique_ptr<storage::KeyVault> vault_;
  projections::CaseStateCache cache_;
};

TEST_F(CaseWriterTest, TheCachedStateAfterEachAppendIsTheFoldOfWhatWasStored) {
  using namespace caseledger::testing;
  for (v1::Event e : {IntakeEvent("i", "vluchtelingenwerk"), ScreeningEvent("s"), AssignEvent("a"), PlanEvent("p"),
                      AttendanceEvent("at"), ConsentEvent("k", "k1", {"goedwerk"}), PlanRevisedEvent("pr")}) {
    absl::StatusOr<storage::AppendResult> written = Write({e});
    ASSERT_TRUE(written.ok()) << written.status();
    ExpectCacheIsTheStoredFold();
  }
  ASSERT_TRUE(Write(OtherFacts("o")).ok());  // a batch
  ExpectCacheIsTheStoredFold();
  absl::StatusOr<storage::AppendResult> retry = Write(OtherFacts("o"));  // an exact retry writes nothing
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->deduplicated);
  ExpectCacheIsTheStoredFold();
  ASSERT_TRUE(Write({TerminatedEvent("t")}).ok());
  ExpectCacheIsTheStoredFold();
  EXPECT_EQ(cache_.Load(*store_, "c-1")->version, store_->StreamVersion("c-1").value());
}

}  // namespace
}  // namespace caseledger::services
