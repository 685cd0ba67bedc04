// Metrics for operators, in the Prometheus text exposition format, served over
// plain HTTP on a separate loopback address (cpp-httplib).
//
// Metrics owns the counters the services update (appends by status code,
// events, append latency histogram, reads by call and status code,
// subscribers); Render adds what the store, RocksDB, the projection workers
// and the process report at scrape time. No label ever holds personal data
// or a client id.
//
// Thread-safety: Record* and Render may be called concurrently (atomics).
#ifndef CASELEDGER_SERVICES_METRICS_H_
#define CASELEDGER_SERVICES_METRICS_H_

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/event_store.h"

namespace httplib {
class Server;
}

namespace caseledger::projections {
class CaseStateCache;
class ProjectionWorker;
}

namespace caseledger::services {

class Metrics {
 public:
  static constexpr std::array<double, 11> kLatencyBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                             0.05, 0.1, 0.25, 0.5, 1.0};
  enum ReadCall { kReadClientEvents, kReadAll, kSubscribe, kReplayClient, kReadCallCount };

  // `events_written` is 0 for refused calls and exact retries.
  void RecordAppend(absl::StatusCode code, size_t events_written, absl::Duration latency);
  void RecordRead(ReadCall call, absl::StatusCode code);
  void SubscriberStarted() { subscribers_.fetch_add(1); }
  void SubscriberEnded() { subscribers_.fetch_sub(1); }

  // `store`, every worker and `case_cache` (may be null) must be alive
  // during the call.
  std::string Render(const storage::EventStore& store,
                     const std::vector<const projections::ProjectionWorker*>& workers,
                     const projections::CaseStateCache* case_cache = nullptr) const;

 private:
  static constexpr int kCodes = 17;
  std::array<std::atomic<uint64_t>, kCodes> appends_by_code_{};
  std::atomic<uint64_t> events_appended_{0};
  std::array<std::atomic<uint64_t>, kLatencyBounds.size() + 1> latency_buckets_{};
  std::atomic<uint64_t> latency_micros_sum_{0};
  std::array<std::array<std::atomic<uint64_t>, kCodes>, kReadCallCount> reads_{};
  std::atomic<int64_t> subscribers_{0};
};

// Serves GET /metrics. Start binds (port 0 picks one) and serves in a thread.
class MetricsServer {
 public:
  // `metrics`, `store`, the workers and `case_cache` (may be null) must
  // outlive the server.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& listen_address, const Metrics* metrics, const storage::EventStore* store,
      std::vector<const projections::ProjectionWorker*> workers,
      const projections::CaseStateCache* case_cache = nullptr);
  ~MetricsServer();
  int port() const { return port_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_METRICS_H_
