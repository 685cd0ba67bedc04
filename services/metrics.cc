#include "services/metrics.h"

#include <httplib.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "projections/case_state_cache.h"
#include "projections/projection_worker.h"

namespace caseledger::services {
namespace {

void Header(std::string& out, absl::string_view name, absl::string_view type, absl::string_view help) {
  absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

const char* ReadCallName(int call) {
  static const char* kNames[] = {"ReadClientEvents", "ReadAll", "Subscribe", "ReplayClient"};
  return kNames[call];
}

}  // namespace

void Metrics::RecordAppend(absl::StatusCode code, size_t events_written, absl::Duration latency) {
  int c = static_cast<int>(code);
  appends_by_code_[c >= 0 && c < kCodes ? c : 2].fetch_add(1, std::memory_order_relaxed);
  events_appended_.fetch_add(events_written, std::memory_order_relaxed);
  const double seconds = absl::ToDoubleSeconds(latency);
  size_t bucket = 0;
  while (bucket < kLatencyBounds.size() && seconds > kLatencyBounds[bucket]) ++bucket;
  latency_buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  latency_micros_sum_.fetch_add(static_cast<uint64_t>(absl::ToInt64Microseconds(latency)),
                                std::memory_order_relaxed);
}

void Metrics::RecordRead(ReadCall call, absl::StatusCode code) {
  int c = static_cast<int>(code);
  reads_[call][c >= 0 && c < kCodes ? c : 2].fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::Render(const storage::EventStore& store,
                            const std::vector<const projections::ProjectionWorker*>& workers,
                            const projections::CaseStateCache* case_cache) const {
  std::string out;
  Header(out, "caseledger_appends_total", "counter", "AppendEvents calls by gRPC status code.");
  for (int c = 0; c < kCodes; ++c) {
    uint64_t n = appends_by_code_[c].load();
    if (n > 0 || c == 0) {
      absl::StrAppend(&out, "caseledger_appends_total{code=\"",
                      absl::StatusCodeToString(static_cast<absl::StatusCode>(c)), "\"} ", n, "\n");
    }
  }
  Header(out, "caseledger_events_appended_total", "counter", "Events written through AppendEvents.");
  absl::StrAppend(&out, "caseledger_events_appended_total ", events_appended_.load(), "\n");

  Header(out, "caseledger_append_duration_seconds", "histogram", "AppendEvents latency.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kLatencyBounds.size(); ++i) {
    cumulative += latency_buckets_[i].load();
    std::string le = i < kLatencyBounds.size() ? absl::StrFormat("%g", kLatencyBounds[i]) : "+Inf";
    absl::StrAppend(&out, "caseledger_append_duration_seconds_bucket{le=\"", le, "\"} ", cumulative, "\n");
  }
  absl::StrAppend(&out, "caseledger_append_duration_seconds_sum ",
                  absl::StrFormat("%.6f", latency_micros_sum_.load() / 1e6), "\n");
  absl::StrAppend(&out, "caseledger_append_duration_seconds_count ", cumulative, "\n");

  Header(out, "caseledger_reads_total", "counter", "Reads of client data by call and gRPC status code.");
  for (int call = 0; call < kReadCallCount; ++call) {
    for (int c = 0; c < kCodes; ++c) {
      uint64_t n = reads_[call][c].load();
      if (n == 0) continue;
      absl::StrAppend(&out, "caseledger_reads_total{call=\"", ReadCallName(call), "\",code=\"",
                      absl::StatusCodeToString(static_cast<absl::StatusCode>(c)), "\"} ", n, "\n");
    }
  }
  Header(out, "caseledger_subscribers", "gauge", "Running Subscribe streams.");
  absl::StrAppend(&out, "caseledger_subscribers ", subscribers_.load(), "\n");

  storage::EventStoreStats stats = store.Stats();
  Header(out, "caseledger_log_position", "gauge", "Global position of the newest event.");
  absl::StrAppend(&out, "caseledger_log_position ", store.LastPosition(), "\n");
  Header(out, "caseledger_group_commits_total", "counter", "Synced WriteBatches (group commits).");
  absl::StrAppend(&out, "caseledger_group_commits_total ", stats.group_commits, "\n");
  Header(out, "caseledger_group_commit_events", "histogram", "Events per group commit.");
  cumulative = 0;
  for (size_t i = 0; i < stats.group_size_buckets.size(); ++i) {
    cumulative += stats.group_size_buckets[i];
    std::string le = i < storage::EventStoreStats::kGroupSizeBounds.size()
                         ? absl::StrCat(storage::EventStoreStats::kGroupSizeBounds[i])
                         : "+Inf";
    absl::StrAppend(&out, "caseledger_group_commit_events_bucket{le=\"", le, "\"} ", cumulative, "\n");
  }
  absl::StrAppend(&out, "caseledger_group_commit_events_sum ", stats.group_size_sum, "\n");
  absl::StrAppend(&out, "caseledger_group_commit_events_count ", cumulative, "\n");
  Header(out, "caseledger_version_conflicts_total", "counter", "Appends refused by the expected-version check.");
  absl::StrAppend(&out, "caseledger_version_conflicts_total ", stats.conflicts, "\n");

  storage::StorageFigures figures = store.Figures();
  Header(out, "caseledger_wal_syncs_total", "counter", "Group commits written with a WAL fsync.");
  absl::StrAppend(&out, "caseledger_wal_syncs_total ", figures.wal_syncs, "\n");
  Header(out, "caseledger_commit_write_seconds_total", "counter",
         "Time in group-commit writes: WAL append and fsync, memtable insert.");
  absl::StrAppend(&out, "caseledger_commit_write_seconds_total ",
                  absl::StrFormat("%.6f", figures.commit_write_micros_sum / 1e6), "\n");
  Header(out, "caseledger_commit_stage_seconds_total", "counter",
         "Time in group commits before their writes, one at a time: idempotency and version checks, "
         "hash chain and Merkle hashes, building the batch.");
  absl::StrAppend(&out, "caseledger_commit_stage_seconds_total ",
                  absl::StrFormat("%.6f", figures.commit_stage_micros_sum / 1e6), "\n");
  Header(out, "caseledger_rocksdb_pending_compaction_bytes", "gauge", "RocksDB's estimate of bytes awaiting compaction.");
  absl::StrAppend(&out, "caseledger_rocksdb_pending_compaction_bytes ", figures.pending_compaction_bytes, "\n");
  Header(out, "caseledger_rocksdb_sst_bytes", "gauge", "Size of RocksDB's table files.");
  absl::StrAppend(&out, "caseledger_rocksdb_sst_bytes ", figures.sst_bytes, "\n");
  Header(out, "caseledger_rocksdb_memtable_bytes", "gauge", "Size of RocksDB's memtables.");
  absl::StrAppend(&out, "caseledger_rocksdb_memtable_bytes ", figures.memtable_bytes, "\n");

  Header(out, "caseledger_projection_lag_events", "gauge", "Events in the log not yet applied, per projection.");
  for (const projections::ProjectionWorker* w : workers) {
    absl::StrAppend(&out, "caseledger_projection_lag_events{projection=\"", w->name(), "\"} ", w->lag(), "\n");
  }
  if (case_cache != nullptr) {
    // Misses re-read and re-fold a client's history: raise
    // --case-cache-entries when they keep growing under steady traffic.
    Header(out, "caseledger_case_cache_hits_total", "counter",
           "Appends and checks that found the client's folded case in memory.");
    absl::StrAppend(&out, "caseledger_case_cache_hits_total ", case_cache->hits(), "\n");
    Header(out, "caseledger_case_cache_misses_total", "counter",
           "Appends and checks that re-read the client's history from the store.");
    absl::StrAppend(&out, "caseledger_case_cache_misses_total ", case_cache->misses(), "\n");
    Header(out, "caseledger_case_cache_entries", "gauge",
           "Folded cases kept in memory (--case-cache-entries at most).");
    absl::StrAppend(&out, "caseledger_case_cache_entries ", case_cache->size(), "\n");
  }
  Header(out, "process_resident_memory_bytes", "gauge", "Resident set size of caseledgerd.");
  absl::StrAppend(&out, "process_resident_memory_bytes ", ResidentBytes(), "\n");
  return out;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& listen_address, const Metrics* metrics, const storage::EventStore* store,
    std::vector<const projections::ProjectionWorker*> workers, const projections::CaseStateCache* case_cache) {
  size_t colon = listen_address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen_address.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics_listen '", listen_address, "' is not HOST:PORT; use e.g. 127.0.0.1:9464"));
  }
  std::string host = listen_address.substr(0, colon);
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->http_ = std::make_unique<httplib::Server>();
  server->http_->Get("/metrics", [metrics, store, workers, case_cache](const httplib::Request&,
                                                                     httplib::Response& res) {
    res.set_content(metrics->Render(*store, workers, case_cache), "text/plain; version=0.0.4");
  });
  server->port_ = port == 0 ? server->http_->bind_to_any_port(host)
                            : (server->http_->bind_to_port(host, port) ? port : -1);
  if (server->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for metrics on ", listen_address,
                                               "; is the port in use? Choose another with --metrics_listen"));
  }
  httplib::Server* http = server->http_.get();
  server->thread_ = std::thread([http] { http->listen_after_bind(); });
  return server;
}

MetricsServer::~MetricsServer() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace caseledger::services
