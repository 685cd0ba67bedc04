// PrefilledWalFileSystem (storage/prefilled_wal.h): WAL appends land in
// zero-filled room made ahead of them, other files are untouched, a clean
// close trims the zeros, and a store whose WAL ends in zeros (as after a
// crash) recovers every acknowledged event.
#include "storage/prefilled_wal.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "storage/event_store.h"
#include "tests/test_util.h"

namespace caseledger::storage {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool AllZero(absl::string_view bytes) {
  return bytes.find_first_not_of('\0') == absl::string_view::npos;
}

class PrefilledWalTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kChunk = 64 * 1024;

  std::unique_ptr<rocksdb::FSWritableFile> NewFile(const std::string& name) {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = fs_.NewWritableFile(dir_.Sub(name), rocksdb::FileOptions(), &file, nullptr);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return file;
  }

  void Append(rocksdb::FSWritableFile& file, const std::string& data) {
    ASSERT_TRUE(file.Append(data, rocksdb::IOOptions(), nullptr).ok());
    ASSERT_TRUE(file.Flush(rocksdb::IOOptions(), nullptr).ok());
    ASSERT_TRUE(file.Sync(rocksdb::IOOptions(), nullptr).ok());
  }

  testing::ScopedTempDir dir_;
  PrefilledWalFileSystem fs_{rocksdb::FileSystem::Default(), kChunk};
};

TEST_F(PrefilledWalTest, RecognisesRocksDbWalNamesOnly) {
  EXPECT_TRUE(PrefilledWalFileSystem::IsWalFile("/data/ledger/000012.log"));
  EXPECT_FALSE(PrefilledWalFileSystem::IsWalFile("/data/ledger/LOG"));
  EXPECT_FALSE(PrefilledWalFileSystem::IsWalFile("/data/ledger/LOG.old.1700000000"));
  EXPECT_FALSE(PrefilledWalFileSystem::IsWalFile("/data/ledger/000013.sst"));
  EXPECT_FALSE(PrefilledWalFileSystem::IsWalFile("/data/ledger/MANIFEST-000005"));
  EXPECT_FALSE(PrefilledWalFileSystem::IsWalFile(".log"));
}

TEST_F(PrefilledWalTest, AWalIsWrittenIntoZerosThatAreTrimmedOnClose) {
  const std::string path = dir_.Sub("000007.log");
  auto file = NewFile("000007.log");
  // The first chunk of room is made when the file is.
  fs_.WaitUntilFilled();
  ASSERT_EQ(fs::file_size(path), kChunk);
  EXPECT_TRUE(AllZero(ReadFile(path)));

  // An append inside the room does not grow the file.
  const std::string first(1000, 'a');
  Append(*file, first);
  std::string bytes = ReadFile(path);
  ASSERT_EQ(bytes.size(), kChunk);
  EXPECT_EQ(bytes.substr(0, first.size()), first);
  EXPECT_TRUE(AllZero(absl::string_view(bytes).substr(first.size())));

  // One that reaches past the room, with no fill under way, makes a chunk of
  // room after itself first.
  const std::string second(2 * kChunk, 'b');
  Append(*file, second);
  fs_.WaitUntilFilled();
  const uint64_t appended = first.size() + second.size();
  bytes = ReadFile(path);
  ASSERT_EQ(bytes.size(), appended + kChunk);
  EXPECT_EQ(bytes.substr(0, appended), first + second);
  EXPECT_TRUE(AllZero(absl::string_view(bytes).substr(appended)));
  EXPECT_EQ(file->GetFileSize(rocksdb::IOOptions(), nullptr), appended);

  ASSERT_TRUE(file->Close(rocksdb::IOOptions(), nullptr).ok());
  EXPECT_EQ(ReadFile(path), first + second);
}

// The appends do not wait for zeros: once less than half a chunk of room is
// left, the next chunk is filled by the fill thread before an append needs it.
TEST_F(PrefilledWalTest, TheNextChunkIsFilledBeforeTheAppendsReachIt) {
  const std::string path = dir_.Sub("000009.log");
  auto file = NewFile("000009.log");
  fs_.WaitUntilFilled();
  const std::string first(kChunk / 2 + 1, 'a');
  Append(*file, first);
  fs_.WaitUntilFilled();
  std::string bytes = ReadFile(path);
  ASSERT_EQ(bytes.size(), 2 * kChunk);
  EXPECT_EQ(bytes.substr(0, first.size()), first);
  EXPECT_TRUE(AllZero(absl::string_view(bytes).substr(first.size())));

  // This append ends one byte before the room does: it lands in zeros made
  // ahead of it, and leaves too little room, so the third chunk follows.
  const std::string second(2 * kChunk - 1 - first.size(), 'b');
  Append(*file, second);
  EXPECT_GE(fs::file_size(path), 2 * kChunk);
  fs_.WaitUntilFilled();
  bytes = ReadFile(path);
  ASSERT_EQ(bytes.size(), 3 * kChunk);
  EXPECT_EQ(bytes.substr(0, 2 * kChunk - 1), first + second);
  EXPECT_TRUE(AllZero(absl::string_view(bytes).substr(2 * kChunk - 1)));
  ASSERT_TRUE(file->Close(rocksdb::IOOptions(), nullptr).ok());
  EXPECT_EQ(ReadFile(path), first + second);
}

// With the smallest chunk, fills and appends meet all the time: appends wait
// for a fill under way or make room themselves. Every byte appended is in
// place, in order, and nothing but zeros follows it.
TEST_F(PrefilledWalTest, AppendsRacingTheFillThreadKeepEveryByte) {
  PrefilledWalFileSystem small(rocksdb::FileSystem::Default(), 4096);
  const std::string path = dir_.Sub("000011.log");
  std::unique_ptr<rocksdb::FSWritableFile> file;
  ASSERT_TRUE(small.NewWritableFile(path, rocksdb::FileOptions(), &file, nullptr).ok());
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    const std::string data(1 + (i * 7919) % 3000, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(file->Append(data, rocksdb::IOOptions(), nullptr).ok());
    expected += data;
    if (i % 50 == 0) {
      ASSERT_TRUE(file->Sync(rocksdb::IOOptions(), nullptr).ok());
    }
  }
  ASSERT_TRUE(file->Flush(rocksdb::IOOptions(), nullptr).ok());
  small.WaitUntilFilled();
  const std::string bytes = ReadFile(path);
  ASSERT_GE(bytes.size(), expected.size());
  EXPECT_TRUE(bytes.compare(0, expected.size(), expected) == 0) << "an append was overwritten or misplaced";
  EXPECT_TRUE(AllZero(absl::string_view(bytes).substr(expected.size())));
  ASSERT_TRUE(file->Close(rocksdb::IOOptions(), nullptr).ok());
  EXPECT_TRUE(ReadFile(path) == expected);
}

// Zero-filling is an optimisation only: when the zeros cannot be written (a
// file-size limit here, as a full disk would refuse them), the file stops
// filling and the appends go on without room.
TEST_F(PrefilledWalTest, AFailedFillStopsTheZerosButNotTheAppends) {
  const std::string path = dir_.Sub("000013.log");
  auto file = NewFile("000013.log");
  fs_.WaitUntilFilled();
  ASSERT_EQ(fs::file_size(path), kChunk);

  // From here no byte past 1.5 chunks can be written: the next fill fails
  // half way, with EFBIG instead of the signal.
  struct rlimit unlimited {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &unlimited), 0);
  void (*previous_handler)(int) = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limited = unlimited;
  limited.rlim_cur = kChunk + kChunk / 2;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);

  const std::string first(kChunk / 2 + 1, 'a');  // leaves too little room: a fill is queued
  Append(*file, first);
  fs_.WaitUntilFilled();
  // Past the room the failed fill left, with no fill under way: written as is.
  const std::string second(kChunk + kChunk / 4 - first.size(), 'b');
  Append(*file, second);
  const std::string third(kChunk / 8, 'c');
  Append(*file, third);

  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &unlimited), 0);
  std::signal(SIGXFSZ, previous_handler);
  const std::string appended = first + second + third;
  const std::string bytes = ReadFile(path);
  ASSERT_GE(bytes.size(), appended.size());
  EXPECT_TRUE(bytes.compare(0, appended.size(), appended) == 0);
  EXPECT_TRUE(AllZero(absl::string_view(bytes).substr(appended.size())));
  EXPECT_LE(bytes.size(), kChunk + kChunk / 2) << "nothing was filled after the failure";
  ASSERT_TRUE(file->Close(rocksdb::IOOptions(), nullptr).ok());
}

TEST_F(PrefilledWalTest, OtherFilesAreTheWrappedFileSystems) {
  auto file = NewFile("000008.sst");
  Append(*file, std::string(1000, 's'));
  EXPECT_EQ(fs::file_size(dir_.Sub("000008.sst")), 1000u);
  ASSERT_TRUE(file->Close(rocksdb::IOOptions(), nullptr).ok());
}

ProposedEvent Event(int i) {
  ProposedEvent e;
  e.event_id = absl::StrCat("ev-", i);
  e.type = "ContactRecorded";
  e.occurred_at = absl::FromUnixSeconds(1'760'000'000 + i);
  e.organisation = "vluchtelingenwerk";
  e.user_id = "begeleider-1";
  e.payload = std::string(300, static_cast<char>('a' + i % 26));
  return e;
}

// The newest WAL file of a RocksDB directory.
std::string NewestWal(const std::string& dir) {
  std::string newest;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().string();
    if (PrefilledWalFileSystem::IsWalFile(name) && name > newest) newest = name;
  }
  return newest;
}

// A store with a 1 MiB prefilled WAL holding `count` synced appends of one
// event each, spread over `clients` clients; nullptr (and a test failure)
// when it cannot be made.
std::unique_ptr<EventStore> StoreWithEvents(const std::string& path, int count, int clients) {
  EventStoreOptions options;
  options.wal_prefill_bytes = 1 << 20;
  auto store = EventStore::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return nullptr;
  for (int i = 0; i < count; ++i) {
    auto appended = (*store)->Append(absl::StrCat("client-", i % clients), ExpectedVersion::Any(), {Event(i)});
    EXPECT_TRUE(appended.ok()) << appended.status();
    if (!appended.ok()) return nullptr;
  }
  return *std::move(store);
}

// The disk as a crash would leave it: every synced append is there, and the
// WAL still ends in zeros (nothing closed it). Both with and without the
// prefilled WAL, the copy opens with every acknowledged event, its chain
// intact, and takes new appends.
TEST(PrefilledWalStoreTest, AStoreWhoseWalEndsInZerosRecoversEveryAcknowledgedEvent) {
  testing::ScopedTempDir dir;
  std::unique_ptr<EventStore> store = StoreWithEvents(dir.Sub("db"), 50, 5);
  ASSERT_NE(store, nullptr);
  const Hash head = store->LastHash();

  for (uint64_t reopen_prefill : {uint64_t{1} << 20, uint64_t{0}}) {
    SCOPED_TRACE(absl::StrCat("reopened with wal_prefill_bytes ", reopen_prefill));
    const std::string copy = dir.Sub(absl::StrCat("crashed-", reopen_prefill));
    fs::copy(dir.Sub("db"), copy);
    const std::string wal = ReadFile(NewestWal(copy));
    ASSERT_GE(wal.size(), uint64_t{1} << 20) << "the live WAL should end in prefilled zeros";
    EXPECT_TRUE(AllZero(absl::string_view(wal).substr(wal.size() - 4096)));

    EventStoreOptions reopen;
    reopen.wal_prefill_bytes = reopen_prefill;
    auto recovered = EventStore::Open(copy, reopen);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    EXPECT_EQ((*recovered)->LastPosition(), 50u);
    EXPECT_EQ((*recovered)->LastHash(), head);
    auto all = (*recovered)->ReadAll(1, 100);
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_EQ(all->size(), 50u);
    for (int i = 0; i < 50; ++i) EXPECT_EQ((*all)[i].event.event_id, absl::StrCat("ev-", i));
    auto verified = (*recovered)->Verify(1, 50);
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_TRUE(verified->ok()) << verified->problem;
    auto more = (*recovered)->Append("client-0", ExpectedVersion::Exact(10), {Event(50)});
    ASSERT_TRUE(more.ok()) << more.status();
    EXPECT_EQ(more->global_positions, std::vector<uint64_t>{51});
    // The zeros were read as padding, not as a damaged tail that
    // point-in-time recovery would also have stopped at.
    const std::string log = ReadFile(copy + "/LOG");
    EXPECT_EQ(log.find("orruption"), std::string::npos) << log;
    EXPECT_EQ(log.find("Point in time recovered"), std::string::npos) << log;
  }
}

// A clean close leaves no zeros behind: every WAL file ends with RocksDB's
// last record.
TEST(PrefilledWalStoreTest, ACleanCloseTrimsTheZeros) {
  testing::ScopedTempDir dir;
  ASSERT_NE(StoreWithEvents(dir.Sub("db"), 20, 1), nullptr);  // and closed again
  int wal_files = 0;
  for (const auto& entry : fs::directory_iterator(dir.Sub("db"))) {
    if (!PrefilledWalFileSystem::IsWalFile(entry.path().string())) continue;
    ++wal_files;
    const std::string bytes = ReadFile(entry.path().string());
    EXPECT_LT(bytes.size(), uint64_t{1} << 20) << entry.path();
    if (!bytes.empty()) {
      EXPECT_FALSE(AllZero(absl::string_view(bytes).substr(bytes.size() - 8))) << entry.path();
    }
  }
  EXPECT_GT(wal_files, 0);
}

}  // namespace
}  // namespace caseledger::storage
