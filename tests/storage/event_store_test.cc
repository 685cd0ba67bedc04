#include "storage/event_store.h"

#include <gtest/gtest.h>

#include <array>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/string_view.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "rocksdb/db.h"
#include "rocksdb/table_properties.h"
#include "rocksdb/write_batch.h"
#include "storage/column_families.h"
#include "tests/raw_database.h"
#include "tests/test_util.h"

namespace caseledger::storage {
namespace {

ProposedEvent Event(std::string id, std::string type = "ContactRecorded",
                    std::string payload = "payload") {
  ProposedEvent e;
  e.event_id = std::move(id);
  e.type = std::move(type);
  e.occurred_at = absl::FromUnixSeconds(1'760'000'000);
  e.organisation = "vluchtelingenwerk";
  e.user_id = "begeleider-1";
  e.correlation_id = "corr-1";
  e.payload = std::move(payload);
  e.personal = "personal";
  return e;
}

std::vector<ProposedEvent> Events(std::initializer_list<std::string> ids) {
  std::vector<ProposedEvent> out;
  for (const std::string& id : ids) out.push_back(Event(id));
  return out;
}

class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(EventStoreOptions options = {}) {
    store_.reset();
    auto store = EventStore::Open(dir_.Sub("db"), std::move(options));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  // Every event of the global log, for whole-state comparisons.
  std::vector<RecordedEvent> All() {
    auto all = store_->ReadAll(1, 1'000'000);
    EXPECT_TRUE(all.ok()) << all.status();
    return all.ok() ? *all : std::vector<RecordedEvent>{};
  }

  testing::ScopedTempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(EventStoreTest, AppendThenReadRoundTrip) {
  auto r = store_->Append("c-1", ExpectedVersion::NoStream(), Events({"e1", "e2"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stream_version, 2u);
  EXPECT_EQ(r->global_positions, (std::vector<uint64_t>{1, 2}));
  EXPECT_FALSE(r->deduplicated);

  auto read = store_->ReadStream("c-1", 1, ReadDirection::kForward, 10);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 2u);
  const RecordedEvent& first = (*read)[0];
  EXPECT_EQ(first.stream_id, "c-1");
  EXPECT_EQ(first.stream_version, 1u);
  EXPECT_EQ(first.global_position, 1u);
  EXPECT_EQ(first.event, Event("e1"));
  EXPECT_EQ(first.previous_hash, kZeroHash);
  EXPECT_EQ((*read)[1].event, Event("e2"));
  EXPECT_EQ((*read)[1].previous_hash, first.hash);
  EXPECT_EQ(store_->LastPosition(), 2u);
  EXPECT_EQ(store_->LastHash(), (*read)[1].hash);
  EXPECT_EQ(*store_->StreamVersion("c-1"), 2u);
  EXPECT_EQ(*store_->StreamVersion("c-unknown"), 0u);
}

TEST_F(EventStoreTest, AppendsAreRefusedWhileTheDiskReserveIsNotFree) {
  EventStoreOptions options;
  options.min_free_bytes = uint64_t{1} << 62;  // more than any disk has
  Open(options);
  auto refused = store_->Append("c-1", ExpectedVersion::Any(), Events({"e1"}));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("the ledger's disk is nearly full"), std::string::npos)
      << refused.status();
  EXPECT_EQ(store_->LastPosition(), 0u) << "a refused append wrote";
  options.min_free_bytes = 1;
  Open(options);
  EXPECT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({"e1"})).ok());
}

TEST_F(EventStoreTest, RecordedAtComesFromTheClockAndNeverGoesBack) {
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  EventStoreOptions options;
  options.clock = [&now] { return now; };
  Open(options);
  ASSERT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({"e1"})).ok());
  now -= absl::Hours(1);  // the wall clock steps back
  ASSERT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({"e2"})).ok());
  std::vector<RecordedEvent> all = All();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].recorded_at, absl::FromUnixSeconds(1'800'000'000));
  EXPECT_EQ(all[1].recorded_at, absl::FromUnixSeconds(1'800'000'000));
}

// A client's events lie in runs in the log (a batch) and apart (other
// clients in between); a read walks both, either way, in pages, and gives
// exactly what reading each position gives.
// A clean close leaves no write-ahead log to replay, so a restart after a
// stop or an upgrade opens at once, however much was written.
TEST_F(EventStoreTest, ACleanCloseLeavesNoLogToReplay) {
  for (int i = 0; i < 200; ++i) {
    std::vector<ProposedEvent> batch;
    for (int j = 0; j < 10; ++j) batch.push_back(Event(absl::StrCat("w", i, "-", j)));
    ASSERT_TRUE(store_->Append(absl::StrCat("c-", i % 7), ExpectedVersion::Any(), batch).ok());
  }
  store_.reset();
  uint64_t wal_bytes = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir_.Sub("db"))) {
    if (f.path().extension() == ".log") wal_bytes += f.file_size();
  }
  EXPECT_EQ(wal_bytes, 0u) << "write-ahead log left to replay after a clean close";
  Open();
  EXPECT_EQ(store_->LastPosition(), 2000u);
  EXPECT_TRUE(store_->Verify(1, 2000)->ok());
}

// The log only ever grows at its end, so a file flushed from it covers keys
// after every other file's, and RocksDB can move it down the levels without
// rewriting it, but only between levels that compress alike. Every level of
// the events family compresses alike, and a flushed file is compressed once,
// at the flush.
TEST_F(EventStoreTest, EveryLevelOfTheLogCompressesAlikeSoFilesMoveDownWithoutARewrite) {
  rocksdb::ColumnFamilyHandle* events = store_->column_family(kEventsCf);
  const rocksdb::Options options = store_->db()->GetOptions(events);
  ASSERT_FALSE(options.compression_per_level.empty());
  for (size_t level = 0; level < options.compression_per_level.size(); ++level) {
    EXPECT_EQ(options.compression_per_level[level], options.compression_per_level.back()) << "level " << level;
  }
  EXPECT_NE(options.compression_per_level.back(), rocksdb::kNoCompression);

  for (int i = 0; i < 20; ++i) {
    std::vector<ProposedEvent> batch;
    for (int j = 0; j < 10; ++j) batch.push_back(Event(absl::StrCat("f", i, "-", j), "ContactRecorded", std::string(400, 'p')));
    ASSERT_TRUE(store_->Append(absl::StrCat("c-", i), ExpectedVersion::Any(), batch).ok());
  }
  ASSERT_TRUE(store_->db()->Flush(rocksdb::FlushOptions(), events).ok());
  rocksdb::TablePropertiesCollection tables;
  ASSERT_TRUE(store_->db()->GetPropertiesOfAllTables(events, &tables).ok());
  ASSERT_FALSE(tables.empty());
  for (const auto& [file, properties] : tables) {
    EXPECT_NE(properties->compression_name, "NoCompression") << file << " was flushed uncompressed";
  }
  // The other families keep RocksDB's default for random keys: the two upper
  // levels, rewritten most often, uncompressed.
  EXPECT_EQ(store_->db()->GetOptions(store_->column_family(kStreamsCf)).compression_per_level.front(),
            rocksdb::kNoCompression);
}

TEST_F(EventStoreTest, ReadsAClientsEventsWhetherTheyLieTogetherOrApart) {
  ASSERT_TRUE(store_->Append("c-r", ExpectedVersion::Any(), Events({"r1", "r2", "r3", "r4"})).ok());
  for (int i = 5; i <= 8; ++i) {
    ASSERT_TRUE(store_->Append("c-o", ExpectedVersion::Any(), Events({absl::StrCat("o", i)})).ok());
    ASSERT_TRUE(store_->Append("c-r", ExpectedVersion::Any(), Events({absl::StrCat("r", i)})).ok());
  }
  ASSERT_TRUE(store_->Append("c-r", ExpectedVersion::Any(), Events({"r9", "r10", "r11"})).ok());
  auto expect_versions = [&](ReadDirection direction, uint64_t from, size_t limit, std::vector<uint64_t> want) {
    auto read = store_->ReadStream("c-r", from, direction, limit);
    ASSERT_TRUE(read.ok()) << read.status();
    std::vector<uint64_t> got;
    for (const RecordedEvent& e : *read) {
      got.push_back(e.stream_version);
      auto single = store_->ReadEvent(e.global_position);
      ASSERT_TRUE(single.ok());
      EXPECT_EQ(EncodeCanonical(e), EncodeCanonical(*single)) << e.global_position;
      EXPECT_EQ(e.hash, single->hash);
      EXPECT_EQ(e.stream_id, "c-r");
    }
    EXPECT_EQ(got, want) << "from " << from << " limit " << limit;
  };
  expect_versions(ReadDirection::kForward, 1, 100, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  expect_versions(ReadDirection::kBackward, 0, 100, {11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
  expect_versions(ReadDirection::kForward, 3, 4, {3, 4, 5, 6});
  expect_versions(ReadDirection::kForward, 7, 4, {7, 8, 9, 10});
  expect_versions(ReadDirection::kBackward, 10, 3, {10, 9, 8});
  expect_versions(ReadDirection::kBackward, 5, 3, {5, 4, 3});
}

// A format-4 store indexed every event on its own; it is read as it is, its
// marker becomes 5, and it reads on after runs are added to it.
TEST_F(EventStoreTest, AFormat4StoreIsReadAsItIsAndMarkedFormat5) {
  ASSERT_TRUE(store_->Append("c-r", ExpectedVersion::Any(), Events({"r1", "r2", "r3"})).ok());
  ASSERT_TRUE(store_->Append("c-o", ExpectedVersion::Any(), Events({"o1"})).ok());
  ASSERT_TRUE(store_->Append("c-r", ExpectedVersion::Any(), Events({"r4", "r5"})).ok());
  const std::vector<RecordedEvent> before = *store_->ReadStream("c-r", 1, ReadDirection::kForward, 100);
  ASSERT_EQ(before.size(), 5u);
  store_.reset();
  {  // Rewrite the index as format 4 wrote it: one 8-byte entry per event.
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const char* name : kColumnFamilyNames) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> h;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir_.Sub("db"), descriptors, &h, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteBatch batch;
    batch.DeleteRange(h[kStreamsCf], StreamKey("c-r", 0), StreamKey("c-r", UINT64_MAX));
    for (const RecordedEvent& e : before) {
      batch.Put(h[kStreamsCf], StreamKey("c-r", e.stream_version), EncodeU64(e.global_position));
    }
    batch.Put(h[kMetaCf], std::string(kFormatKey), std::string(kPreviousFormatVersion));
    ASSERT_TRUE(db->Write(rocksdb::WriteOptions(), &batch).ok());
    for (auto* handle : h) ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
  }
  Open();
  std::string marker;
  ASSERT_TRUE(store_->db()->Get(rocksdb::ReadOptions(), store_->column_family(kMetaCf), std::string(kFormatKey), &marker).ok());
  EXPECT_EQ(marker, kFormatVersion);
  EXPECT_EQ(*store_->StreamVersion("c-r"), 5u);  // the end of the last (old) entry
  ASSERT_TRUE(store_->Append("c-r", ExpectedVersion::Exact(5), Events({"r6", "r7"})).ok());
  EventStoreOptions uncached;
  uncached.stream_head_cache_entries = 0;  // every newest version read from the index
  Open(uncached);
  EXPECT_EQ(*store_->StreamVersion("c-r"), 7u);
  EXPECT_EQ(*store_->StreamVersion("c-o"), 1u);
  EXPECT_EQ(*store_->StreamVersion("c-none"), 0u);
  EXPECT_EQ(*store_->StreamVersion("c-"), 0u);  // a prefix of other clients' ids is no client
  EXPECT_EQ(store_->Append("c-r", ExpectedVersion::Exact(6), Events({"r8"})).status().code(),
            absl::StatusCode::kAborted);
  auto versions = [&](uint64_t from, ReadDirection direction, size_t limit) {
    std::vector<uint64_t> v;
    auto read = store_->ReadStream("c-r", from, direction, limit);
    EXPECT_TRUE(read.ok()) << read.status();
    for (const RecordedEvent& e : read.ok() ? *read : std::vector<RecordedEvent>{}) {
      EXPECT_EQ(e.stream_id, "c-r");
      v.push_back(e.stream_version);
    }
    return v;
  };
  EXPECT_EQ(versions(1, ReadDirection::kForward, 100), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(versions(0, ReadDirection::kBackward, 100), (std::vector<uint64_t>{7, 6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(versions(4, ReadDirection::kForward, 3), (std::vector<uint64_t>{4, 5, 6}));
  EXPECT_EQ(versions(6, ReadDirection::kBackward, 3), (std::vector<uint64_t>{6, 5, 4}));
  const std::vector<RecordedEvent> after = *store_->ReadStream("c-r", 1, ReadDirection::kForward, 5);
  ASSERT_EQ(after.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(EncodeCanonical(after[i]), EncodeCanonical(before[i]));
}

// A store of a format this build does not read (older than 4, or newer) is
// refused with the format named, and its marker is left as it was.
TEST_F(EventStoreTest, AStoreOfAnotherFormatIsRefusedAndLeftAsItWas) {
  ASSERT_TRUE(store_->Append("c-f", ExpectedVersion::Any(), Events({"f1"})).ok());
  for (const std::string format : {"3", "6"}) {
    store_.reset();
    testing::EditStoredValue(dir_.Sub("db"), kMetaCf, std::string(kFormatKey),
                             [&](std::string& v) { v = format; });
    auto refused = EventStore::Open(dir_.Sub("db"));
    ASSERT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << format;
    EXPECT_TRUE(absl::StrContains(refused.status().message(), absl::StrCat("on-disk format ", format)))
        << refused.status();
    testing::EditStoredValue(dir_.Sub("db"), kMetaCf, std::string(kFormatKey),
                             [&](std::string& v) { EXPECT_EQ(v, format); v = std::string(kFormatVersion); });
    Open();
  }
  EXPECT_EQ(*store_->StreamVersion("c-f"), 1u);
}

// A damaged index entry that names another client's event is refused: the
// read fails as DataLoss instead of handing out that event.
TEST_F(EventStoreTest, AnIndexRunThatNamesAnotherClientsEventIsDataLoss) {
  ASSERT_TRUE(store_->Append("c-a", ExpectedVersion::Any(), Events({"a1", "a2"})).ok());  // positions 1, 2
  ASSERT_TRUE(store_->Append("c-b", ExpectedVersion::Any(), Events({"b1"})).ok());        // position 3
  store_.reset();
  testing::EditStoredValue(dir_.Sub("db"), kStreamsCf, StreamKey("c-a", 1),
                           [](std::string& v) { v = EncodeStreamRun(3, 1); });  // names c-b's event
  Open();
  auto read = store_->ReadStream("c-a", 1, ReadDirection::kForward, 10);
  ASSERT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << read.status();
  EXPECT_TRUE(absl::StrContains(read.status().message(), "holds another event")) << read.status();
}

// VisitStream hands out the events ReadStream copies, in the same order, and
// stops at the first error of its callback, returning it.
TEST_F(EventStoreTest, VisitStreamSeesWhatReadStreamCopiesAndStopsAtTheCallbacksError) {
  for (int i = 1; i <= 4; ++i) {
    ASSERT_TRUE(store_->Append("c-v", ExpectedVersion::Any(), Events({absl::StrCat("v", i)})).ok());
    ASSERT_TRUE(store_->Append("c-w", ExpectedVersion::Any(), Events({absl::StrCat("w", i)})).ok());
  }
  for (ReadDirection direction : {ReadDirection::kForward, ReadDirection::kBackward}) {
    auto copied = store_->ReadStream("c-v", direction == ReadDirection::kForward ? 2 : 3, direction, 10);
    ASSERT_TRUE(copied.ok());
    std::vector<RecordedEvent> visited;
    ASSERT_TRUE(store_
                    ->VisitStream("c-v", direction == ReadDirection::kForward ? 2 : 3, direction, 10,
                                  [&](const EventView& view) {
                                    visited.push_back(ToRecordedEvent(view));
                                    return absl::OkStatus();
                                  })
                    .ok());
    ASSERT_EQ(visited.size(), copied->size());
    ASSERT_EQ(visited.size(), 3u);
    for (size_t i = 0; i < visited.size(); ++i) {
      EXPECT_EQ(visited[i].event, (*copied)[i].event);
      EXPECT_EQ(visited[i].global_position, (*copied)[i].global_position);
      EXPECT_EQ(visited[i].hash, (*copied)[i].hash);
    }
  }
  int calls = 0;
  absl::Status stopped = store_->VisitStream("c-v", 1, ReadDirection::kForward, 10, [&](const EventView& view) {
    ++calls;
    return view.stream_version == 2 ? absl::CancelledError("enough") : absl::OkStatus();
  });
  EXPECT_EQ(stopped, absl::CancelledError("enough"));
  EXPECT_EQ(calls, 2);
}

TEST_F(EventStoreTest, ReadsStreamsForwardBackwardAndPaged) {
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(store_->Append("c-a", ExpectedVersion::Any(), Events({absl::StrCat("a", i)})).ok());
    ASSERT_TRUE(store_->Append("c-b", ExpectedVersion::Any(), Events({absl::StrCat("b", i)})).ok());
  }
  // A stream whose id extends another's must not leak into it.
  ASSERT_TRUE(store_->Append("c-a1", ExpectedVersion::Any(), Events({"x1"})).ok());

  auto versions = [](const std::vector<RecordedEvent>& events) {
    std::vector<uint64_t> v;
    for (const auto& e : events) v.push_back(e.stream_version);
    return v;
  };
  EXPECT_EQ(versions(*store_->ReadStream("c-a", 2, ReadDirection::kForward, 2)),
            (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(versions(*store_->ReadStream("c-a", 4, ReadDirection::kForward, 10)),
            (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(versions(*store_->ReadStream("c-a", 0, ReadDirection::kBackward, 3)),
            (std::vector<uint64_t>{5, 4, 3}));
  EXPECT_EQ(versions(*store_->ReadStream("c-a", 2, ReadDirection::kBackward, 10)),
            (std::vector<uint64_t>{2, 1}));
  EXPECT_TRUE(store_->ReadStream("c-a", 6, ReadDirection::kForward, 10)->empty());
  EXPECT_TRUE(store_->ReadStream("c-none", 0, ReadDirection::kBackward, 10)->empty());
  auto whole_a = store_->ReadStream("c-a", 1, ReadDirection::kForward, 100);
  ASSERT_TRUE(whole_a.ok());
  ASSERT_EQ(whole_a->size(), 5u);
  for (const auto& e : *whole_a) EXPECT_EQ(e.stream_id, "c-a");

  auto all = store_->ReadAll(4, 3);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].global_position, 4u);
  EXPECT_EQ((*all)[2].global_position, 6u);
  EXPECT_TRUE(store_->ReadAll(12, 10)->empty());
  EXPECT_EQ(store_->ReadEvent(99).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EventStoreTest, ExpectedVersionModes) {
  // NoStream on a new stream: ok; again: conflict naming the current version.
  ASSERT_TRUE(store_->Append("c-1", ExpectedVersion::NoStream(), Events({"e1"})).ok());
  auto again = store_->Append("c-1", ExpectedVersion::NoStream(), Events({"e2"}));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(again.status().message(),
            "client c-1 is at version 1 but the append expected no events yet; read the "
            "client's events from version 2 and retry with expected_version 1");
  EXPECT_EQ(again.status().GetPayload(kCurrentVersionPayloadUrl)->Flatten(), "1");

  // StreamExists: conflict on a new stream, ok on an existing one.
  auto missing = store_->Append("c-2", ExpectedVersion::StreamExists(), Events({"e3"}));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(missing.status().GetPayload(kCurrentVersionPayloadUrl)->Flatten(), "0");
  EXPECT_TRUE(store_->Append("c-1", ExpectedVersion::StreamExists(), Events({"e4"})).ok());

  // Exact: ok at the current version, conflict otherwise (behind and ahead).
  EXPECT_TRUE(store_->Append("c-1", ExpectedVersion::Exact(2), Events({"e5"})).ok());
  auto behind = store_->Append("c-1", ExpectedVersion::Exact(2), Events({"e6"}));
  EXPECT_EQ(behind.status().code(), absl::StatusCode::kAborted);
  EXPECT_NE(behind.status().message().find("is at version 3"), absl::string_view::npos);
  auto ahead = store_->Append("c-1", ExpectedVersion::Exact(7), Events({"e7"}));
  EXPECT_EQ(ahead.status().code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(store_->Append("c-3", ExpectedVersion::Exact(0), Events({"e8"})).ok());

  // Any: always.
  EXPECT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({"e9"})).ok());
  EXPECT_TRUE(store_->Append("c-4", ExpectedVersion::Any(), Events({"e10"})).ok());

  // Conflicts wrote nothing: 6 successful events (e1 e4 e5 e8 e9 e10), gap-free.
  std::vector<RecordedEvent> all = All();
  ASSERT_EQ(all.size(), 6u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].global_position, i + 1);
  EXPECT_EQ(*store_->StreamVersion("c-1"), 4u);
  EXPECT_EQ(*store_->StreamVersion("c-2"), 0u);
  EXPECT_EQ(store_->Stats().conflicts, 4u);
}

TEST_F(EventStoreTest, BadInputIsRejectedWithTheFieldNamedAndNothingWritten) {
  ASSERT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({"e0"})).ok());
  std::vector<RecordedEvent> before = All();

  struct Case {
    std::string stream;
    std::vector<ProposedEvent> events;
    std::string message;
  };
  std::vector<ProposedEvent> oversize = Events({"ok-1", "ok-2", "big"});
  oversize[2].payload = std::string(70 * 1024, 'x');
  std::vector<ProposedEvent> duplicate = Events({"d1", "d1"});
  std::vector<ProposedEvent> no_type = Events({"t1"});
  no_type[0].type.clear();
  std::vector<ProposedEvent> too_many;
  for (int i = 0; i < 1001; ++i) too_many.push_back(Event(absl::StrCat("m", i)));
  std::vector<Case> cases = {
      {"", Events({"x"}), "client_id is empty; set it"},
      {"c 1", Events({"x"}),
       "client_id 'c 1' contains a character outside [A-Za-z0-9._:-]; use only those"},
      {std::string(129, 'c'), Events({"x"}), "client_id is 129 bytes long; the limit is 128"},
      {"c-1", {}, "the append has no events; send at least one"},
      {"c-1", Events({"bad/id"}),
       "events[0].event_id 'bad/id' contains a character outside [A-Za-z0-9._:-]; use only those"},
      {"c-1", no_type, "events[0].type is empty; set it"},
      {"c-1", duplicate,
       "events[1].event_id 'd1' appears twice in one append; give each event its own id"},
      {"c-1", oversize,
       "events[2] (big) is 71741 bytes; the limit is 65536 bytes per event"},
      {"c-1", too_many,
       "the append has 1001 events; the limit is 1000 per call; split it into several calls"},
  };
  for (const Case& c : cases) {
    auto r = store_->Append(c.stream, ExpectedVersion::Any(), c.events);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_EQ(r.status().message(), c.message);
  }
  std::vector<RecordedEvent> after = All();
  ASSERT_EQ(after.size(), before.size());
  EXPECT_EQ(store_->LastPosition(), 1u);
  EXPECT_EQ(*store_->StreamVersion("c-1"), 1u);
  // None of the valid events of a rejected batch became visible or reserved their id.
  EXPECT_TRUE(store_->Append("c-1", ExpectedVersion::Exact(1), Events({"ok-1", "ok-2"})).ok());
}

TEST_F(EventStoreTest, ConflictingBatchIsAtomic) {
  ASSERT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({"e1"})).ok());
  auto r = store_->Append("c-1", ExpectedVersion::Exact(0), Events({"e2", "e3", "e4"}));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(All().size(), 1u);
  // The ids of the rejected batch are free.
  auto retry = store_->Append("c-1", ExpectedVersion::Exact(1), Events({"e2", "e3", "e4"}));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_FALSE(retry->deduplicated);
  EXPECT_EQ(retry->stream_version, 4u);
}

TEST_F(EventStoreTest, IdempotentRetryBeforeAndAfterReopen) {
  auto first = store_->Append("c-1", ExpectedVersion::NoStream(), Events({"e1", "e2"}));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({"e3"})).ok());

  // The retry carries the original expected version, which no longer matches:
  // it must still succeed with the original result and write nothing.
  auto retry = store_->Append("c-1", ExpectedVersion::NoStream(), Events({"e1", "e2"}));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->deduplicated);
  EXPECT_EQ(retry->global_positions, first->global_positions);
  EXPECT_EQ(retry->stream_version, 2u);
  EXPECT_EQ(store_->LastPosition(), 3u);

  Open();
  auto after_reopen = store_->Append("c-1", ExpectedVersion::NoStream(), Events({"e1", "e2"}));
  ASSERT_TRUE(after_reopen.ok()) << after_reopen.status();
  EXPECT_TRUE(after_reopen->deduplicated);
  EXPECT_EQ(after_reopen->global_positions, first->global_positions);
  EXPECT_EQ(store_->LastPosition(), 3u);
}

TEST_F(EventStoreTest, SameEventIdWithDifferentContentIsAlreadyExists) {
  ASSERT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({"e1"})).ok());
  std::vector<ProposedEvent> changed = {Event("e1", "ContactRecorded", "other payload")};
  auto r = store_->Append("c-1", ExpectedVersion::Any(), changed);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r.status().message(),
            "event id e1 is already stored at global position 1 with different content; use a "
            "new event id for a new event");
  // Same id on another client's stream is different content too.
  auto other_stream = store_->Append("c-2", ExpectedVersion::Any(), Events({"e1"}));
  EXPECT_EQ(other_stream.status().code(), absl::StatusCode::kAlreadyExists);
  // A batch that mixes stored and new ids is refused as a whole.
  auto mixed = store_->Append("c-1", ExpectedVersion::Any(), Events({"e1", "e-new"}));
  EXPECT_EQ(mixed.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(mixed.status().message(),
            "1 of the 2 events in this append are already stored; retry the original append "
            "unchanged, or give the new events new event ids");
  EXPECT_EQ(All().size(), 1u);
}

TEST_F(EventStoreTest, ConcurrentAppendsToOverlappingStreamsLoseNothing) {
  constexpr int kThreads = 16;
  constexpr int kAppendsPerThread = 40;
  constexpr int kStreams = 5;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppendsPerThread; ++i) {
        std::string stream = absl::StrCat("c-", (t + i) % kStreams);
        // Alternate single events and small batches.
        std::vector<ProposedEvent> events = {Event(absl::StrCat("t", t, "-", i, "-a"))};
        if (i % 3 == 0) events.push_back(Event(absl::StrCat("t", t, "-", i, "-b")));
        if (!store_->Append(stream, ExpectedVersion::Any(), std::move(events)).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);

  const uint64_t expected_events = kThreads * (kAppendsPerThread + (kAppendsPerThread + 2) / 3);
  std::vector<RecordedEvent> all = All();
  ASSERT_EQ(all.size(), expected_events);
  EXPECT_EQ(store_->LastPosition(), expected_events);
  std::map<std::string, uint64_t> last_version;
  std::set<std::string> ids;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].global_position, i + 1) << "gap in the global log";
    EXPECT_EQ(all[i].stream_version, ++last_version[all[i].stream_id])
        << "gap in stream " << all[i].stream_id;
    EXPECT_TRUE(ids.insert(all[i].event.event_id).second);
  }
  for (const auto& [stream, version] : last_version) {
    EXPECT_EQ(*store_->StreamVersion(stream), version);
  }
  auto verify = store_->Verify(1, UINT64_MAX);
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok()) << verify->problem;
  EXPECT_EQ(verify->checked, expected_events);
  // Group commit did combine appends (fewer synced batches than appends).
  EventStoreStats stats = store_->Stats();
  EXPECT_EQ(stats.appends, static_cast<uint64_t>(kThreads * kAppendsPerThread));
  EXPECT_EQ(stats.events_written, expected_events);
  EXPECT_LE(stats.group_commits, stats.appends);
  uint64_t groups = 0;
  for (uint64_t n : stats.group_size_buckets) groups += n;
  EXPECT_EQ(groups, stats.group_commits);
  EXPECT_EQ(stats.group_size_sum, expected_events);
  StorageFigures figures = store_->Figures();
  EXPECT_EQ(figures.wal_syncs, stats.group_commits);  // every group commit synced the WAL
  EXPECT_GT(figures.commit_write_micros_sum, 0u);
  EXPECT_GT(figures.commit_stage_micros_sum, 0u);
  EXPECT_GT(figures.memtable_bytes, 0u);
}

// StreamVersion answers from the stream heads the commits keep in memory when
// it can. What it answers is never behind an acknowledged append and never
// goes back, also for streams pushed out of that memory (here it holds 3 of
// 7 streams), and after a restart.
TEST_F(EventStoreTest, StreamVersionIsNeverBehindAnAcknowledgedAppend) {
  EventStoreOptions options;
  options.stream_head_cache_entries = 3;
  Open(options);
  constexpr int kStreams = 7, kWriters = 4, kAppends = 60;
  auto stream = [](int s) { return absl::StrCat("c-", s); };
  std::array<std::atomic<uint64_t>, kStreams> acknowledged{};
  std::atomic<bool> done{false};
  std::atomic<int> behind{0}, back{0}, failures{0};
  std::thread reader([&] {
    std::array<uint64_t, kStreams> seen{};
    while (!done.load()) {
      for (int s = 0; s < kStreams; ++s) {
        const uint64_t floor = acknowledged[s].load();
        absl::StatusOr<uint64_t> v = store_->StreamVersion(stream(s));
        if (!v.ok()) {
          ++failures;
          continue;
        }
        if (*v < floor) ++behind;
        if (*v < seen[s]) ++back;
        seen[s] = *v;
      }
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) {
        const int s = (t + i) % kStreams;
        auto result = store_->Append(stream(s), ExpectedVersion::Any(), Events({absl::StrCat("w", t, "-", i)}));
        if (!result.ok()) {
          ++failures;
          continue;
        }
        uint64_t old = acknowledged[s].load();
        while (old < result->stream_version && !acknowledged[s].compare_exchange_weak(old, result->stream_version)) {
        }
      }
    });
  }
  for (std::thread& w : writers) w.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(behind.load(), 0) << "StreamVersion answered less than an acknowledged append";
  EXPECT_EQ(back.load(), 0) << "StreamVersion went back";

  std::map<std::string, uint64_t> events_per_stream;
  for (const RecordedEvent& e : All()) ++events_per_stream[e.stream_id];
  for (int restarted = 0; restarted < 2; ++restarted) {
    for (int s = 0; s < kStreams; ++s) {
      EXPECT_EQ(*store_->StreamVersion(stream(s)), events_per_stream[stream(s)]) << stream(s);
    }
    EXPECT_EQ(*store_->StreamVersion("c-never"), 0u);
    Open(options);
  }
}

TEST_F(EventStoreTest, ConcurrentExactVersionAppendsExactlyOneWinsEachRound) {
  ASSERT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({"seed"})).ok());
  constexpr int kThreads = 8;
  constexpr int kRounds = 20;
  std::atomic<int> wins{0}, conflicts{0}, other{0};
  for (int round = 0; round < kRounds; ++round) {
    const uint64_t version = 1 + round;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto r = store_->Append("c-1", ExpectedVersion::Exact(version),
                                Events({absl::StrCat("r", round, "-t", t)}));
        if (r.ok()) {
          ++wins;
        } else if (r.status().code() == absl::StatusCode::kAborted) {
          ++conflicts;
        } else {
          ++other;
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  EXPECT_EQ(wins.load(), kRounds);
  EXPECT_EQ(conflicts.load(), kRounds * (kThreads - 1));
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(*store_->StreamVersion("c-1"), 1u + kRounds);
}

TEST_F(EventStoreTest, ConcurrentRetriesOfTheSameEventAreWrittenOnce) {
  constexpr int kThreads = 16;
  std::vector<std::thread> threads;
  std::vector<absl::StatusOr<AppendResult>> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      results[t] = store_->Append("c-1", ExpectedVersion::Any(), Events({"same-1", "same-2"}));
    });
  }
  for (auto& th : threads) th.join();
  int written = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->global_positions, (std::vector<uint64_t>{1, 2}));
    EXPECT_EQ(r->stream_version, 2u);
    if (!r->deduplicated) ++written;
  }
  EXPECT_EQ(written, 1);
  EXPECT_EQ(All().size(), 2u);
}

// AppendAsync and Append share one queue and one group commit: mixed
// concurrent callers lose nothing, every callback runs exactly once with the
// same results a blocking Append would give, and a blocking caller queued
// behind asynchronous ones is handed the lead instead of waiting forever.
TEST_F(EventStoreTest, AsyncAndBlockingAppendsShareTheGroupCommitAndEachCallbackRunsOnce) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 60;
  std::atomic<int> callbacks{0}, async_ok{0}, blocking_ok{0}, failures{0};
  std::mutex seen_mu;
  std::set<uint64_t> positions;  // guarded by seen_mu
  auto remember = [&](const AppendResult& r) {
    std::lock_guard<std::mutex> lock(seen_mu);
    for (uint64_t p : r.global_positions) EXPECT_TRUE(positions.insert(p).second) << "position " << p << " twice";
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string stream = absl::StrCat("c-", (t + i) % 5);
        std::vector<ProposedEvent> events = {Event(absl::StrCat("t", t, "-", i))};
        if (t % 2 == 0) {
          store_->AppendAsync(stream, ExpectedVersion::Any(), std::move(events),
                              [&](absl::StatusOr<AppendResult> r) {
                                ++callbacks;
                                if (!r.ok()) {
                                  ++failures;
                                  return;
                                }
                                remember(*r);
                                ++async_ok;
                              });
        } else {
          absl::StatusOr<AppendResult> r = store_->Append(stream, ExpectedVersion::Any(), std::move(events));
          if (!r.ok()) {
            ++failures;
            continue;
          }
          remember(*r);
          ++blocking_ok;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  // Every asynchronous append was queued before its thread ended; the last
  // leader drains the queue before it lets go, so all callbacks have run once
  // the queue is empty. Wait for that (bounded) rather than assume it.
  for (int i = 0; i < 500 && callbacks.load() < kThreads / 2 * kPerThread; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(callbacks.load(), kThreads / 2 * kPerThread);
  EXPECT_EQ(async_ok.load(), kThreads / 2 * kPerThread);
  EXPECT_EQ(blocking_ok.load(), kThreads / 2 * kPerThread);
  const std::vector<RecordedEvent> all = All();
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(positions.size(), all.size());
  EXPECT_EQ(*positions.rbegin(), all.size());
  auto verify = store_->Verify(1, UINT64_MAX);
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok()) << verify->problem;
  EXPECT_LT(store_->Stats().group_commits, static_cast<uint64_t>(kThreads * kPerThread));
}

// Refusals reach the callback too, with the same status as Append's, and
// nothing is written; a callback may queue a further append from inside.
TEST_F(EventStoreTest, AsyncRefusalsReachTheCallbackAndACallbackMayAppendAgain) {
  absl::Status bad;
  store_->AppendAsync("", ExpectedVersion::Any(), Events({"e-1"}),
                      [&](absl::StatusOr<AppendResult> r) { bad = r.status(); });
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bad.message(), "client_id")) << bad;

  absl::Status conflict;
  store_->AppendAsync("c-1", ExpectedVersion::Exact(3), Events({"e-1"}),
                      [&](absl::StatusOr<AppendResult> r) { conflict = r.status(); });
  EXPECT_EQ(conflict.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_->LastPosition(), 0u);

  std::atomic<int> done{0};
  uint64_t second_position = 0;
  store_->AppendAsync("c-1", ExpectedVersion::NoStream(), Events({"e-1"}), [&](absl::StatusOr<AppendResult> r) {
    ASSERT_TRUE(r.ok()) << r.status();
    ++done;
    store_->AppendAsync("c-1", ExpectedVersion::Exact(r->stream_version), Events({"e-2"}),
                        [&](absl::StatusOr<AppendResult> again) {
                          ASSERT_TRUE(again.ok()) << again.status();
                          second_position = again->global_positions[0];
                          ++done;
                        });
  });
  // No other caller: this thread led, so both ran before AppendAsync returned.
  EXPECT_EQ(done.load(), 2);
  EXPECT_EQ(second_position, 2u);
  EXPECT_EQ(*store_->StreamVersion("c-1"), 2u);
}

// The store's clock is read once while a group is staged: a clock that
// blocks holds the leader inside its commit until Release, and what is
// submitted meanwhile queues behind it.
class CommitGate {
 public:
  std::function<absl::Time()> Clock() {
    return [this] {
      std::unique_lock<std::mutex> lock(mu_);
      held_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !hold_; });
      return absl::Now();
    };
  }
  // Returns once a commit is held.
  void WaitUntilHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return held_; });
  }
  // Lets the held commit, and every one after it, go on.
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_ = false;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = true, held_ = false;  // guarded by mu_
};

// A full queue refuses with RESOURCE_EXHAUSTED instead of queueing without
// bound; the appends already queued are written.
TEST_F(EventStoreTest, AFullQueueRefusesFurtherAppendsAndWritesWhatItHolds) {
  CommitGate gate;
  EventStoreOptions options;
  options.max_queued_appends = 4;
  options.clock = gate.Clock();
  Open(options);
  std::mutex mu;
  std::atomic<int> ok{0}, exhausted{0}, other{0};
  std::string message;
  auto count = [&](absl::StatusOr<AppendResult> r) {
    if (r.ok()) {
      ++ok;
    } else if (r.status().code() == absl::StatusCode::kResourceExhausted) {
      std::lock_guard<std::mutex> lock(mu);
      message = std::string(r.status().message());
      ++exhausted;
    } else {
      ++other;
    }
  };
  std::thread leader([&] { store_->AppendAsync("c-0", ExpectedVersion::Any(), Events({"first"}), count); });
  gate.WaitUntilHeld();
  // The leader's own append is the first of four places.
  for (int i = 1; i <= 10; ++i) {
    store_->AppendAsync(absl::StrCat("c-", i), ExpectedVersion::Any(), Events({absl::StrCat("q-", i)}), count);
  }
  EXPECT_EQ(exhausted.load(), 7);
  EXPECT_EQ(ok.load(), 0);
  gate.Release();
  leader.join();
  for (int i = 0; i < 500 && ok.load() < 4; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(other.load(), 0);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_TRUE(absl::StrContains(message, "retry with backoff")) << message;
  EXPECT_EQ(store_->LastPosition(), 4u);
}

// An append looks its event ids up before it queues; an id that a commit
// writes after that look-up (here: while the append waits behind the commit)
// is still found when the append is committed, both from the ids the store
// keeps in memory and, for an append that waited longer than those reach,
// from RocksDB.
class EventIdRaceTest : public EventStoreTest, public ::testing::WithParamInterface<size_t> {};

TEST_P(EventIdRaceTest, AnIdWrittenAfterTheLookUpIsFoundAtTheCommit) {
  // The first group commit is held until released; every group holds one
  // append (max_group_commit_bytes 1), so each queued append is a commit of
  // its own.
  CommitGate gate;
  EventStoreOptions options;
  options.max_group_commit_bytes = 1;
  options.recent_event_ids = GetParam();
  options.clock = gate.Clock();
  Open(options);
  std::mutex results_mu;
  std::map<std::string, absl::StatusOr<AppendResult>> results;  // guarded by results_mu
  auto keep = [&](std::string name) {
    return [&, name](absl::StatusOr<AppendResult> r) {
      std::lock_guard<std::mutex> lock(results_mu);
      results.emplace(name, std::move(r));
    };
  };
  std::thread leader([&] { store_->AppendAsync("c-1", ExpectedVersion::Any(), Events({"a"}), keep("a")); });
  gate.WaitUntilHeld();
  // Looked up now, while "a" is being committed and nothing is stored: all
  // five find no id stored, and queue in this order.
  store_->AppendAsync("c-2", ExpectedVersion::Any(), Events({"x"}), keep("x"));
  store_->AppendAsync("c-3", ExpectedVersion::Any(), Events({"b"}), keep("b"));
  store_->AppendAsync("c-2", ExpectedVersion::Any(), Events({"x"}), keep("x again"));
  store_->AppendAsync("c-4", ExpectedVersion::Any(), {Event("x", "ContactRecorded", "other")}, keep("x other"));
  store_->AppendAsync("c-5", ExpectedVersion::Any(), {Event("a", "ContactRecorded", "other")}, keep("a other"));
  gate.Release();
  leader.join();
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard<std::mutex> lock(results_mu);
      if (results.size() == 6) break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  std::lock_guard<std::mutex> lock(results_mu);
  ASSERT_EQ(results.size(), 6u);
  for (const char* written : {"a", "x", "b"}) {
    ASSERT_TRUE(results.at(written).ok()) << written << ": " << results.at(written).status();
    EXPECT_FALSE(results.at(written)->deduplicated) << written;
  }
  EXPECT_EQ(results.at("x")->global_positions, (std::vector<uint64_t>{2}));
  // The exact retry is answered with the original, nothing written.
  const absl::StatusOr<AppendResult>& again = results.at("x again");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->deduplicated);
  EXPECT_EQ(again->global_positions, (std::vector<uint64_t>{2}));
  EXPECT_EQ(again->stream_version, 1u);
  // The same ids with other content are refused, naming where they are.
  for (auto [name, position] : {std::pair<const char*, int>{"x other", 2}, {"a other", 1}}) {
    const absl::StatusOr<AppendResult>& refused = results.at(name);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kAlreadyExists) << name << ": " << refused.status();
    EXPECT_TRUE(absl::StrContains(refused.status().message(), absl::StrCat("global position ", position)))
        << refused.status();
  }
  EXPECT_EQ(store_->LastPosition(), 3u);
  EXPECT_EQ(All().size(), 3u);
  EXPECT_EQ(*store_->StreamVersion("c-4"), 0u);
  EXPECT_EQ(*store_->StreamVersion("c-5"), 0u);
}

// 32768: every id since the look-up is still in memory. 1: each commit
// starts a new generation, so the later appends waited longer than the ids in
// memory reach and are looked up in RocksDB again. 0: no look-up before
// queueing at all.
INSTANTIATE_TEST_SUITE_P(RecentIdsKept, EventIdRaceTest, ::testing::Values(32768, 1, 0));

TEST_F(EventStoreTest, WaitForPositionWakesOnAppendAndTimesOut) {
  // Nothing past 0 yet: times out and reports 0.
  EXPECT_EQ(store_->WaitForPosition(0, absl::Milliseconds(20)), 0u);
  std::atomic<uint64_t> seen{0};
  std::thread waiter([&] { seen = store_->WaitForPosition(0, absl::Seconds(30)); });
  absl::SleepFor(absl::Milliseconds(50));
  ASSERT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({"e1", "e2"})).ok());
  waiter.join();
  EXPECT_EQ(seen.load(), 2u);
  // Already past: returns at once.
  EXPECT_EQ(store_->WaitForPosition(1, absl::Seconds(30)), 2u);
}

TEST_F(EventStoreTest, ReopenKeepsEverything) {
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(store_->Append(absl::StrCat("c-", i % 7), ExpectedVersion::Any(),
                               Events({absl::StrCat("e", i)}))
                    .ok());
  }
  std::vector<RecordedEvent> before = All();
  Hash head = store_->LastHash();
  Open();
  std::vector<RecordedEvent> after = All();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].hash, before[i].hash);
    EXPECT_EQ(after[i].event, before[i].event);
    EXPECT_EQ(after[i].stream_version, before[i].stream_version);
  }
  EXPECT_EQ(store_->LastPosition(), 50u);
  EXPECT_EQ(store_->LastHash(), head);
  EXPECT_EQ(*store_->StreamVersion("c-0"), 8u);
  // Appends continue the chain.
  auto r = store_->Append("c-0", ExpectedVersion::Exact(8), Events({"e50"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->global_positions, (std::vector<uint64_t>{51}));
  EXPECT_EQ(store_->ReadEvent(51)->previous_hash, head);
}

// Flips one byte of the stored event at `position` directly in RocksDB.
void FlipByteInStoredEvent(const std::string& path, uint64_t position, size_t offset) {
  testing::EditStoredValue(path, kEventsCf, EventKey(position), [offset](std::string& value) {
    ASSERT_LT(offset, value.size());
    value[offset] ^= 0x01;
  });
}

class EventStoreTamperTest : public EventStoreTest,
                             public ::testing::WithParamInterface<size_t> {};

TEST_P(EventStoreTamperTest, FlippedByteIsReportedAtItsExactPosition) {
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({absl::StrCat("e", i)})).ok());
  }
  auto clean = store_->Verify(1, UINT64_MAX);
  ASSERT_TRUE(clean.ok());
  EXPECT_TRUE(clean->ok());
  EXPECT_EQ(clean->checked, 20u);

  store_.reset();
  FlipByteInStoredEvent(dir_.Sub("db"), 13, GetParam());
  Open();

  auto verify = store_->Verify(1, UINT64_MAX);
  ASSERT_TRUE(verify.ok()) << verify.status();
  EXPECT_FALSE(verify->ok());
  EXPECT_EQ(verify->first_broken_position, 13u) << verify->problem;
  EXPECT_EQ(verify->checked, 12u);
  EXPECT_TRUE(absl::StartsWith(verify->problem, "global position 13: ")) << verify->problem;
  // A range before the damage still verifies.
  EXPECT_TRUE(store_->Verify(1, 12)->ok());
}

// Offsets: the magic, the position, the version, the stream id, the payload
// (middle of the value), the previous hash, the stored hash (last byte).
INSTANTIATE_TEST_SUITE_P(Offsets, EventStoreTamperTest,
                         ::testing::Values(0, 5, 14, 25, 100, 150, 180));

TEST_F(EventStoreTest, TamperedHashMessagesNameTheProblem) {
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({absl::StrCat("e", i)})).ok());
  }
  auto value_size = [&] {
    std::string canonical = EncodeCanonical(*store_->ReadEvent(2));
    return canonical.size() + 32;
  }();
  store_.reset();
  FlipByteInStoredEvent(dir_.Sub("db"), 2, value_size - 1);  // last byte of the stored hash
  Open();
  auto verify = store_->Verify(1, 3);
  ASSERT_TRUE(verify.ok());
  EXPECT_EQ(verify->problem,
            "global position 2: the stored hash does not match the event's content");
}

// The RFC 6962 root of leaves [start, start + count), computed from scratch.
Hash NaiveRoot(const std::vector<Hash>& leaves, size_t start, size_t count) {
  if (count == 1) return leaves[start];
  size_t k = 1;
  while (k << 1 < count) k <<= 1;
  return MerkleNodeHash(NaiveRoot(leaves, start, k), NaiveRoot(leaves, start + k, count - k));
}

TEST_F(EventStoreTest, MerkleLogCoversEveryEventAndItsProofsVerify) {
  // Concurrent appends, so group commits stage many events per batch.
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::vector<ProposedEvent> events = {Event(absl::StrCat("m", t, "-", i, "a")),
                                             Event(absl::StrCat("m", t, "-", i, "b"))};
        ASSERT_TRUE(store_->Append(absl::StrCat("c-", t % 3), ExpectedVersion::Any(), events).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<RecordedEvent> all = All();
  ASSERT_EQ(all.size(), 400u);
  // The leaf of each event is its canonical bytes.
  std::vector<Hash> leaves;
  for (const RecordedEvent& e : all) leaves.push_back(MerkleLeafHash(EncodeCanonical(e)));

  for (uint64_t size : {1u, 2u, 3u, 64u, 65u, 257u, 399u, 400u}) {
    auto root = store_->MerkleRoot(size);
    ASSERT_TRUE(root.ok()) << root.status();
    ASSERT_EQ(*root, NaiveRoot(leaves, 0, size)) << "size " << size;
    for (uint64_t position = 1; position <= size; position += 37) {
      auto proof = store_->InclusionProof(position, size);
      ASSERT_TRUE(proof.ok()) << proof.status();
      EXPECT_TRUE(VerifyMerkleInclusion(position - 1, size, HashBytes(leaves[position - 1]),
                                        HashesBytes(*proof), HashBytes(*root))
                      .ok());
    }
    if (size < 400) {
      auto consistency = store_->ConsistencyProof(size, 400);
      ASSERT_TRUE(consistency.ok()) << consistency.status();
      EXPECT_TRUE(VerifyMerkleConsistency(size, 400, HashesBytes(*consistency), HashBytes(*root),
                                          HashBytes(NaiveRoot(leaves, 0, 400)))
                      .ok());
    }
  }
  EXPECT_EQ(*store_->MerkleRoot(0), MerkleEmptyRoot());

  // After a reopen the frontier is rebuilt: the root is the same and grows on.
  Hash root_400 = *store_->MerkleRoot(400);
  Open();
  EXPECT_EQ(*store_->MerkleRoot(400), root_400);
  ASSERT_TRUE(store_->Append("c-9", ExpectedVersion::Any(), Events({"after-reopen"})).ok());
  leaves.push_back(MerkleLeafHash(EncodeCanonical(*store_->ReadEvent(401))));
  EXPECT_EQ(*store_->MerkleRoot(401), NaiveRoot(leaves, 0, 401));
}

TEST_F(EventStoreTest, MerkleRequestsBeyondTheLogAreRefused) {
  ASSERT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({"e1", "e2"})).ok());
  EXPECT_EQ(store_->MerkleRoot(3).status().message(),
            "tree size 3 is beyond the log, which holds 2 events; ask for at most 2");
  EXPECT_EQ(store_->InclusionProof(3, 2).status().message(),
            "global position 3 is not in a tree of size 2; positions run from 1 to the tree size");
  EXPECT_EQ(store_->InclusionProof(0, 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ConsistencyProof(0, 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ConsistencyProof(1, 5).status().code(), absl::StatusCode::kInvalidArgument);
}

// Rewrites the stored event at `position` through `edit` (on its decoded
// form), keeping the stored hash and digest: only the personal bytes change.
void RewriteStoredEvent(const std::string& path, uint64_t position,
                        const std::function<void(RecordedEvent&)>& edit) {
  testing::EditStoredValue(path, kEventsCf, EventKey(position), [&](std::string& value) {
    RecordedEvent event = *DecodeEventValue(value);
    edit(event);
    value = EncodeCanonical(event);
    value.append(reinterpret_cast<const char*>(event.hash.data()), event.hash.size());
    uint32_t n = static_cast<uint32_t>(event.event.personal.size());
    for (int shift : {24, 16, 8, 0}) value.push_back(static_cast<char>(n >> shift));
    value += event.event.personal;
  });
}

TEST_F(EventStoreTest, PersonalBytesAreCheckedAgainstTheirDigestAndMayBeRemoved) {
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({absl::StrCat("e", i)})).ok());
  }
  Hash root = *store_->MerkleRoot(20);
  store_.reset();
  // Changing the personal bytes (not the hashed canonical part) is caught by the digest.
  RewriteStoredEvent(dir_.Sub("db"), 4, [](RecordedEvent& e) { e.event.personal = "someone else"; });
  // Removing them entirely (what erasure will do) leaves every hash valid.
  RewriteStoredEvent(dir_.Sub("db"), 9, [](RecordedEvent& e) { e.event.personal.clear(); });
  Open();
  auto verify = store_->Verify(1, 20);
  ASSERT_TRUE(verify.ok());
  EXPECT_EQ(verify->first_broken_position, 4u);
  EXPECT_EQ(verify->problem, "global position 4: the personal data does not match its digest");
  EXPECT_TRUE(store_->Verify(5, 20)->ok()) << store_->Verify(5, 20)->problem;
  EXPECT_TRUE(store_->ReadEvent(9)->event.personal.empty());
  EXPECT_EQ(*store_->MerkleRoot(20), root);
}

TEST_F(EventStoreTest, OpenDoesNotScanTheLog) {
  // Open reads the head from metadata and only the newest events (for the
  // Merkle frontier); damage further back does not stop it — Verify finds it.
  for (int i = 1; i <= 40; ++i) {
    ASSERT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({absl::StrCat("e", i)})).ok());
  }
  store_.reset();
  FlipByteInStoredEvent(dir_.Sub("db"), 1, 0);
  Open();
  EXPECT_EQ(store_->LastPosition(), 40u);
  EXPECT_EQ(store_->Verify(1, 40)->first_broken_position, 1u);
}

TEST_F(EventStoreTest, OpenRefusesToExtendALogWhoseNewestEventsAreDamaged) {
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(store_->Append("c-1", ExpectedVersion::Any(), Events({absl::StrCat("e", i)})).ok());
  }
  store_.reset();
  FlipByteInStoredEvent(dir_.Sub("db"), 3, 0);
  auto reopened = EventStore::Open(dir_.Sub("db"));
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(reopened.status().message(),
            "cannot load the Merkle log for 5 events: event at global position 3: stored event "
            "does not start with the format marker CLE2");
}

}  // namespace
}  // namespace caseledger::storage
