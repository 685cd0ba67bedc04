// Google Benchmark of the event store: synced appends per second.
//
//   build/tools/store_benchmark                      # all cases
//   build/tools/store_benchmark --benchmark_filter=Single
//
// Every append is durable (synced WAL) as in production. Each thread appends
// one ~512-byte event per call to its own client stream; with many threads,
// group commit lets many appends share one fsync. The data directory is a new
// temporary directory per run (under $TMPDIR), removed afterwards.
#include <benchmark/benchmark.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "storage/event_store.h"

namespace {

using caseledger::storage::EventStore;
using caseledger::storage::EventStoreOptions;
using caseledger::storage::ExpectedVersion;
using caseledger::storage::ProposedEvent;

std::unique_ptr<EventStore> g_store;
std::filesystem::path g_dir;
std::atomic<uint64_t> g_next_id{0};

void OpenStoreWith(bool merkle_log, uint64_t wal_prefill_mb = EventStoreOptions().wal_prefill_bytes >> 20) {
  g_dir = std::filesystem::temp_directory_path() /
          absl::StrCat("caseledger-bench-", ::getpid(), "-", g_next_id.fetch_add(1));
  std::filesystem::remove_all(g_dir);
  EventStoreOptions options;
  options.merkle_log = merkle_log;
  options.wal_prefill_bytes = wal_prefill_mb << 20;
  auto store = EventStore::Open(g_dir.string(), options);
  if (!store.ok()) {
    fprintf(stderr, "cannot open store: %s\n", store.status().ToString().c_str());
    std::abort();
  }
  g_store = *std::move(store);
}

// The arguments "merkle" (1 = Merkle log on, 0 = off) and "wal_prefill_mb"
// (storage/prefilled_wal.h; 0 = RocksDB's own growing WAL files) compare the
// cost of the Merkle log and the gain of the prefilled WAL side by side in one
// run.
void OpenStore(const benchmark::State& state) {
  OpenStoreWith(state.range(0) != 0, static_cast<uint64_t>(state.range(1)));
}

void CloseStore(const benchmark::State&) {
  g_store.reset();
  std::filesystem::remove_all(g_dir);
}

ProposedEvent MakeEvent(uint64_t n) {
  ProposedEvent e;
  e.event_id = absl::StrCat("ev-", n);
  e.type = "AttendanceRegistered";
  e.occurred_at = absl::Now();
  e.organisation = "vluchtelingenwerk";
  e.user_id = "begeleider-17";
  e.correlation_id = "bench";
  e.payload = std::string(400, 'p');
  e.personal = std::string(40, 'x');
  return e;
}

// One event per append; each thread has its own stream.
void BM_AppendSingle(benchmark::State& state) {
  std::string stream = absl::StrCat("c-bench-", state.thread_index());
  for (auto _ : state) {
    std::vector<ProposedEvent> events;
    events.push_back(MakeEvent(g_next_id.fetch_add(1)));
    auto result = g_store->Append(stream, ExpectedVersion::Any(), std::move(events));
    if (!result.ok()) state.SkipWithError(result.status().ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AppendSingle)
    ->Setup(OpenStore)->Teardown(CloseStore)
    ->ArgNames({"merkle", "wal_prefill_mb"})->Args({1, 4})->Args({1, 0})->Args({0, 4})
    ->Threads(1)->Threads(8)->Threads(32)
    ->UseRealTime()->MinTime(2.0);

// 100 events per append, one thread.
void BM_AppendBatch100(benchmark::State& state) {
  std::string stream = absl::StrCat("c-batch-", state.thread_index());
  for (auto _ : state) {
    std::vector<ProposedEvent> events;
    for (int i = 0; i < 100; ++i) events.push_back(MakeEvent(g_next_id.fetch_add(1)));
    auto result = g_store->Append(stream, ExpectedVersion::Any(), std::move(events));
    if (!result.ok()) state.SkipWithError(result.status().ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_AppendBatch100)->Setup(OpenStore)->Teardown(CloseStore)
    ->ArgNames({"merkle", "wal_prefill_mb"})->Args({1, 4})->Args({1, 0})->Args({0, 4})
    ->UseRealTime()->MinTime(2.0);

// Opening a store that holds a million events: Open reads O(log n) metadata, so
// this must stay well under a second. The fill (unsynced, 100-event batches
// over 10,000 clients) is not timed.
constexpr int kMillion = 1'000'000;

void FillMillion(const benchmark::State&) {
  OpenStoreWith(true);
  EventStoreOptions options;
  options.sync = false;
  g_store.reset();
  auto store = EventStore::Open(g_dir.string(), options);
  if (!store.ok()) std::abort();
  for (int batch = 0; batch < kMillion / 100; ++batch) {
    std::vector<ProposedEvent> events;
    for (int i = 0; i < 100; ++i) events.push_back(MakeEvent(g_next_id.fetch_add(1)));
    if (!(*store)->Append(absl::StrCat("c-", batch % 10'000), ExpectedVersion::Any(), std::move(events)).ok()) {
      std::abort();
    }
  }
  // Closing flushes nothing extra: reopening replays the WAL, as after a crash.
}

void BM_OpenWithMillionEvents(benchmark::State& state) {
  for (auto _ : state) {
    auto store = EventStore::Open(g_dir.string());
    if (!store.ok() || (*store)->LastPosition() != kMillion) {
      state.SkipWithError("reopen failed or lost events");
      break;
    }
  }
}
BENCHMARK(BM_OpenWithMillionEvents)
    ->Setup(FillMillion)->Teardown(CloseStore)
    ->Iterations(5)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
