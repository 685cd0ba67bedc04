// LedgerServer: the caseledgerd process's gRPC server and the store it serves.
//
// Owns: the EventStore (opened under <data_dir>/ledger), the service
// implementations, and the grpc::Server. Promises:
//  - TLS always, with client certificates required and verified against the
//    configured CA. Plaintext only with `insecure`, and then only on a loopback
//    address; an insecure server identifies no one, so every call that needs
//    an identity is UNAUTHENTICATED.
//  - The ledger's Ed25519 tree-head key lives in <data_dir>/keys/tree-head.key,
//    generated on first start.
//  - The standard gRPC health service (grpc.health.v1.Health) and server
//    reflection are on.
//  - The caseload projection is folded by a background worker from its
//    checkpoint (catching up after a restart) and served by the
//    CaseloadService.
//  - Shutdown stops accepting calls, lets in-flight calls (appends) finish
//    within the grace period, stops the projection workers, then closes the
//    store cleanly.
//
// Thread-safety: Start, Shutdown and Wait may be called from different threads;
// Shutdown is idempotent.
#ifndef CASELEDGER_SERVICES_SERVER_H_
#define CASELEDGER_SERVICES_SERVER_H_

#include <grpcpp/server.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "projections/case_state_cache.h"
#include "projections/caseload.h"
#include "projections/projection_worker.h"
#include "services/metrics.h"
#include "services/privacy_service.h"
#include "storage/key_vault.h"
#include "storage/access_log.h"
#include "storage/event_store.h"
#include "storage/tree_head_signer.h"

namespace caseledger::services {

class AdminServiceImpl;
class AuditServiceImpl;
class CaseloadServiceImpl;
class LedgerServiceImpl;

struct ServerConfig {
  std::string data_dir = "var";
  std::string listen_address = "127.0.0.1:7443";
  std::string tls_ca_file;    // CA that signs client certificates
  std::string tls_cert_file;  // the server's certificate chain
  std::string tls_key_file;   // the server's private key
  bool insecure = false;      // plaintext, loopback only, for local experiments
  std::string backup_dir;     // where CreateBackup writes; default <data_dir>/backups
  std::string metrics_listen; // HOST:PORT for GET /metrics (port 0 picks one); empty: off
  storage::EventStoreOptions store_options;
  projections::CaseloadPolicy caseload_policy;
  // "Now" for the caseload's signals and the ledger's future-date check.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // The master key that wraps the per-client data keys (64 hex digits). Empty:
  // <data_dir>/keys/master.key, made on first start (development default).
  // A named file must exist.
  std::string master_key_file;
  // Subscriptions: how many at once, when a slow one is ended, when a stalled
  // one is cancelled (services/ledger_service.h).
  int max_subscribers = 64;
  uint64_t max_subscriber_lag = 100'000;
  absl::Duration subscriber_stall_timeout = absl::Seconds(60);
  absl::Duration checkpoint_interval = absl::Seconds(5);
  // Largest request accepted (gRPC max receive message size); larger ones get
  // RESOURCE_EXHAUSTED from gRPC before they are read. An append holds at most
  // 1000 events of at most 64 KiB.
  int max_message_bytes = 16 << 20;
  // Most server threads (gRPC resource quota) for the synchronous calls;
  // calls beyond wait or get RESOURCE_EXHAUSTED, so a flood of callers cannot
  // exhaust memory. Appends and history reads hold no thread while they wait
  // for the disk; their queues are bounded instead
  // (EventStoreOptions::max_queued_appends, max_queued_bytes).
  int max_threads = 512;
  // Threads kept waiting for the next call once theirs is answered. gRPC's
  // sync server keeps only 2 by default and ends every other thread when its
  // call is done, so under 32 concurrent appends (each waiting on its group
  // commit) it made and ended about 480 threads a second: clone3, mmap,
  // munmap and madvise for 0.28 of every append (strace -c). Idle threads
  // cost their stack only.
  int idle_threads = 64;
  // Folded cases kept in memory (projections/case_state_cache.h), so that an
  // append reads only the client's stream head instead of re-reading and
  // re-folding the client's history. Sized to hold every active client of
  // the programme: a miss costs an iterator over the client's events and a
  // fold (with 4,096 entries and 10,000 clients appending, the misses' stream
  // reads were 9% of the server's CPU, perf). A case is about 1 KB.
  size_t case_cache_entries = 65536;
  // Log refused and failing calls, and calls slower than the threshold, as
  // JSON lines on stderr with a trace id (services/call_log.h).
  bool log_calls = true;
  absl::Duration slow_call_threshold = absl::Seconds(1);
  // AVG: erase this many days after termination (bewaartermijn); the
  // retention job runs every retention_interval (zero: never by itself).
  int retention_days = 5 * 365;
  absl::Duration retention_interval = absl::Hours(1);
  // What the access-request export tells every person (art. 15(1)).
  v1::ProcessingRegister processing_register = DefaultProcessingRegister();
};

// True for 127.0.0.0/8, [::1] and localhost, with or without a port.
bool IsLoopbackAddress(const std::string& listen_address);

class LedgerServer {
 public:
  // Opens the store and starts serving. FAILED_PRECONDITION for a bad
  // configuration (missing TLS files, insecure on a public address), with a
  // message that says what to fix.
  static absl::StatusOr<std::unique_ptr<LedgerServer>> Start(ServerConfig config);

  LedgerServer(const LedgerServer&) = delete;
  LedgerServer& operator=(const LedgerServer&) = delete;
  ~LedgerServer();

  // The port actually bound (useful with "127.0.0.1:0").
  int port() const { return port_; }
  const ServerConfig& config() const { return config_; }
  storage::EventStore* store() const { return store_.get(); }
  storage::AccessLog* access_log() const { return access_log_.get(); }
  storage::KeyVault* vault() const { return vault_.get(); }
  PrivacyServiceImpl* privacy_service() const { return privacy_service_.get(); }
  // The caseload projection's worker (running in the background).
  projections::ProjectionWorker* caseload_worker() const { return caseload_worker_.get(); }
  // The port serving /metrics; 0 when metrics are off.
  int metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }

  // Stops accepting calls, waits up to `grace` for in-flight calls, cancels
  // the rest, and closes the store.
  void Shutdown(absl::Duration grace);

  // Blocks until the server has shut down.
  void Wait();

 private:
  LedgerServer(ServerConfig config, std::unique_ptr<storage::EventStore> store);

  const ServerConfig config_;
  const absl::Time started_at_;
  std::unique_ptr<storage::EventStore> store_;
  std::unique_ptr<storage::TreeHeadSigner> signer_;
  std::unique_ptr<storage::AccessLog> access_log_;
  std::unique_ptr<projections::ProjectionWorker> caseload_worker_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::unique_ptr<LedgerServiceImpl> ledger_service_;
  std::unique_ptr<AuditServiceImpl> audit_service_;
  std::unique_ptr<CaseloadServiceImpl> caseload_service_;
  std::unique_ptr<storage::KeyVault> vault_;
  projections::CaseStateCache case_cache_{config_.case_cache_entries};
  std::unique_ptr<PrivacyServiceImpl> privacy_service_;
  Metrics metrics_;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_SERVER_H_
