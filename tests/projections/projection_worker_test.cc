#include "projections/projection_worker.h"

#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/test_util.h"

namespace caseledger::projections {
namespace {

using storage::EventStore;
using storage::ExpectedVersion;
using storage::ProposedEvent;

// Adds one to the decimal count under `key`.
absl::Status Increment(ProjectionState& state, const std::string& key) {
  absl::StatusOr<std::optional<std::string>> current = state.Get(key);
  if (!current.ok()) return current.status();
  uint64_t n = 0;
  if (current->has_value() && !absl::SimpleAtoi(**current, &n)) return absl::DataLossError("bad count");
  state.Put(key, absl::StrCat(n + 1));
  return absl::OkStatus();
}

// Counts events per type and per client; refuses an event of type "Poison".
class CountingProjection : public Projection {
 public:
  std::string name() const override { return "counting"; }
  absl::Status Apply(const storage::RecordedEvent& event, ProjectionState& state) override {
    if (event.event.type == "Poison") return absl::InvalidArgumentError("poisoned event");
    for (const std::string& key : {absl::StrCat("type/", event.event.type), absl::StrCat("client/", event.stream_id)}) {
      if (absl::Status s = Increment(state, key); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
};

// Counts events under a prefix that names its version: another version is
// another layout of the state.
class VersionedProjection : public Projection {
 public:
  VersionedProjection(uint64_t version, int* applies) : version_(version), applies_(applies) {}
  std::string name() const override { return "versioned"; }
  uint64_t version() const override { return version_; }
  absl::Status Apply(const storage::RecordedEvent& event, ProjectionState& state) override {
    ++*applies_;
    return Increment(state, absl::StrCat("v", version_, "/", event.stream_id));
  }

 private:
  const uint64_t version_;
  int* const applies_;
};

class ProjectionWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = *EventStore::Open(dir_.Sub("db")); }

  std::unique_ptr<ProjectionWorker> Worker(size_t batch = 7) {
    ProjectionWorkerOptions options;
    options.batch_events = batch;
    return std::make_unique<ProjectionWorker>(store_.get(), std::make_unique<CountingProjection>(), options);
  }

  void Append(int n, const std::string& type = "ContactRecorded") {
    for (int i = 0; i < n; ++i) {
      ProposedEvent e;
      e.event_id = absl::StrCat("e", next_++);
      e.type = type;
      e.payload = "p";
      ASSERT_TRUE(store_->Append(absl::StrCat("c-", next_ % 5), ExpectedVersion::Any(), {e}).ok());
    }
  }

  std::string Value(ProjectionWorker& w, const std::string& key) {
    auto v = w.Get(key);
    return v.ok() && v->has_value() ? **v : "";
  }

  std::vector<std::pair<std::string, std::string>> All(ProjectionWorker& w) {
    return *w.Scan("", "", 1'000'000);
  }

  testing::ScopedTempDir dir_;
  std::unique_ptr<EventStore> store_;
  int next_ = 0;
};

TEST_F(ProjectionWorkerTest, CatchUpAppliesEveryEventAndCheckpoints) {
  Append(40);
  Append(3, "Intake");
  auto w = Worker();
  EXPECT_EQ(w->lag(), 43u);
  ASSERT_TRUE(w->CatchUp().ok());
  EXPECT_EQ(w->checkpoint(), 43u);
  EXPECT_EQ(w->lag(), 0u);
  EXPECT_EQ(Value(*w, "type/ContactRecorded"), "40");
  EXPECT_EQ(Value(*w, "type/Intake"), "3");
  uint64_t per_client = 0;
  auto clients = w->Scan("client/", "", 100);
  ASSERT_TRUE(clients.ok());
  for (const auto& [key, value] : *clients) per_client += std::stoull(value);
  EXPECT_EQ(per_client, 43u);
}

TEST_F(ProjectionWorkerTest, ARestartResumesFromTheCheckpointWithoutDoubleCounting) {
  Append(20);
  {
    auto w = Worker();
    ASSERT_TRUE(w->CatchUp().ok());
  }
  Append(15);
  auto again = Worker();  // a new process: reads the checkpoint
  EXPECT_EQ(again->checkpoint(), 20u);
  EXPECT_EQ(again->lag(), 15u);
  ASSERT_TRUE(again->CatchUp().ok());
  EXPECT_EQ(Value(*again, "type/ContactRecorded"), "35");
}

TEST_F(ProjectionWorkerTest, ARebuildEqualsTheIncrementallyBuiltStateByteForByte) {
  auto w = Worker(5);
  for (int round = 0; round < 6; ++round) {
    Append(11);
    Append(round % 2, "Intake");
    ASSERT_TRUE(w->CatchUp().ok());
  }
  auto incremental = All(*w);
  ASSERT_FALSE(incremental.empty());
  ASSERT_TRUE(w->Rebuild().ok());
  EXPECT_EQ(All(*w), incremental);
  EXPECT_EQ(w->checkpoint(), store_->LastPosition());
}

TEST_F(ProjectionWorkerTest, TheBackgroundThreadFollowsTheLog) {
  auto w = Worker();
  w->Start();
  Append(25);
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (w->checkpoint() < 25 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(w->checkpoint(), 25u);
  EXPECT_EQ(Value(*w, "type/ContactRecorded"), "25");
  EXPECT_TRUE(w->health().ok());
  w->Stop();
}

// The background thread applies at once after a quiet spell, and while
// appends keep coming at most once per min_batch_interval (the margins are
// wide: a slow machine can delay an apply, never hasten it).
TEST_F(ProjectionWorkerTest, TheBackgroundThreadAppliesAtOnceWhenQuietAndAtMostOncePerIntervalUnderLoad) {
  ProjectionWorkerOptions options;
  options.min_batch_interval = absl::Seconds(2);
  ProjectionWorker w(store_.get(), std::make_unique<CountingProjection>(), options);
  w.Start();
  auto wait_for = [&](uint64_t position, absl::Duration limit) {
    const absl::Time start = absl::Now();
    while (w.checkpoint() < position && absl::Now() - start < limit) absl::SleepFor(absl::Milliseconds(5));
    return absl::Now() - start;
  };
  absl::SleepFor(absl::Milliseconds(2500));  // quiet for longer than the interval
  Append(1);
  EXPECT_LT(wait_for(1, absl::Seconds(10)), absl::Milliseconds(1500)) << "a quiet worker applies at once";
  ASSERT_EQ(w.checkpoint(), 1u);
  // Right after that batch: the next event waits for the interval to pass.
  Append(1);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(w.checkpoint(), 1u) << "a second batch within the interval";
  wait_for(2, absl::Seconds(10));
  EXPECT_EQ(w.checkpoint(), 2u);
  absl::SleepFor(absl::Milliseconds(2500));
  Append(1);
  EXPECT_LT(wait_for(3, absl::Seconds(10)), absl::Milliseconds(1500)) << "quiet again: applied at once";
  EXPECT_EQ(Value(w, "type/ContactRecorded"), "3");
  w.Stop();
}

TEST_F(ProjectionWorkerTest, ScanPagesInKeyOrder) {
  Append(10);
  auto w = Worker();
  ASSERT_TRUE(w->CatchUp().ok());
  auto first = *w->Scan("client/", "", 2);
  ASSERT_EQ(first.size(), 2u);
  auto second = *w->Scan("client/", first.back().first, 10);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_LT(first.back().first, second.front().first);
  EXPECT_TRUE(w->Scan("nothing/", "", 10)->empty());
}

TEST_F(ProjectionWorkerTest, AnErrorStopsTheWorkerAtThatPosition) {
  Append(9);
  Append(1, "Poison");
  Append(5);
  auto w = Worker(4);
  absl::Status s = w->CatchUp();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "projection counting stopped at global position 10: poisoned event");
  EXPECT_EQ(w->checkpoint(), 8u);  // the last whole batch before the poison
}

}  // namespace
}  // namespace caseledger::projections

namespace caseledger::projections {
namespace {

TEST_F(ProjectionWorkerTest, StateOfAnotherVersionIsRebuiltNotExtended) {
  Append(12);
  int applies = 0;
  auto versioned = [&](uint64_t version) {
    applies = 0;
    return std::make_unique<ProjectionWorker>(store_.get(), std::make_unique<VersionedProjection>(version, &applies));
  };
  {
    auto v1 = versioned(1);
    ASSERT_TRUE(v1->CatchUp().ok());
    EXPECT_EQ(All(*v1).size(), 5u);  // v1/c-0 .. v1/c-4
  }
  {
    auto again = versioned(1);  // same version after a restart: kept and extended
    Append(3);
    ASSERT_TRUE(again->CatchUp().ok());
    EXPECT_EQ(applies, 3);  // only the new events
    EXPECT_EQ(All(*again).size(), 5u);
    EXPECT_EQ(again->checkpoint(), 15u);
  }
  auto v2 = versioned(2);  // an upgrade that changed the layout
  EXPECT_EQ(v2->checkpoint(), 15u);
  ASSERT_TRUE(v2->CatchUp().ok());
  EXPECT_EQ(applies, 15);  // the whole log again
  auto state = All(*v2);
  ASSERT_EQ(state.size(), 5u);
  uint64_t counted = 0;
  for (const auto& [key, value] : state) {
    EXPECT_EQ(key.substr(0, 3), "v2/") << key << " survived the rebuild";
    counted += std::stoull(value);
  }
  EXPECT_EQ(counted, 15u);
  EXPECT_EQ(v2->checkpoint(), 15u);
  // And the new version is recorded: a restart does not rebuild again.
  Append(1);
  auto v2_again = versioned(2);
  ASSERT_TRUE(v2_again->CatchUp().ok());
  EXPECT_EQ(applies, 1);
  counted = 0;
  for (const auto& [key, value] : All(*v2_again)) counted += std::stoull(value);
  EXPECT_EQ(counted, 16u);
}

}  // namespace
}  // namespace caseledger::projections
