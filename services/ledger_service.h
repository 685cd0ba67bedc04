// caseledger.v1.LedgerService: the front door for partners' systems.
//
// AppendEvents checks, in this order, and writes nothing when a check fails:
//   identity (certificate) -> x-user-id -> each event well formed
//   (INVALID_ARGUMENT, "events[i].<field> ...") -> an exact retry? (then the
//   store returns the original result) -> access (PERMISSION_DENIED) ->
//   expected version (ABORTED) -> the case rules, folded over the client's
//   stream with projections::ApplyEvent (FAILED_PRECONDITION) -> append at
//   exactly the folded version. If another append won the race in between and
//   the caller asked for "any" version, the whole check repeats.
// Reads check access against the client's folded state, and every read —
// allowed or refused — is recorded in the access log before it is answered.
// Subscribe streams the log from a position, then live events, with
// checkpoints; one batch in memory per subscriber, a bounded number of
// subscribers, and BeginShutdown ends every subscription promptly.
//
// Thread-safety: gRPC calls every method concurrently. The service holds a
// borrowed, thread-safe EventStore and atomics.
#ifndef CASELEDGER_SERVICES_LEDGER_SERVICE_H_
#define CASELEDGER_SERVICES_LEDGER_SERVICE_H_

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <functional>

#include "absl/time/time.h"
#include "caseledger/v1/ledger_service.grpc.pb.h"
#include "projections/case_state_cache.h"
#include "services/auth/identity.h"
#include "services/metrics.h"
#include "storage/access_log.h"
#include "storage/event_store.h"
#include "storage/key_vault.h"

namespace caseledger::services {

struct LedgerServiceOptions {
  // How far occurred_at may lie ahead of the server clock.
  absl::Duration max_clock_skew = absl::Minutes(5);
  // Checkpoint at least this often while a subscriber is idle.
  absl::Duration checkpoint_interval = absl::Seconds(5);
  // Events read and sent per batch by Subscribe (and the default page size).
  size_t subscribe_batch = 256;
  // Concurrent subscriptions; more get RESOURCE_EXHAUSTED.
  int max_subscribers = 64;
  // A subscriber more than this many events behind the head, and further
  // behind than at its previous checkpoint, is too slow: it is ended with
  // RESOURCE_EXHAUSTED naming the position to resume from.
  uint64_t max_subscriber_lag = 100'000;
  // A subscriber that takes nothing for this long (one write blocked by flow
  // control) is cancelled, freeing its server thread.
  absl::Duration subscriber_stall_timeout = absl::Seconds(60);
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Folded cases, shared with the other services; nullptr: fold every time.
  projections::CaseStateCache* case_cache = nullptr;
};

// AppendEvents and ReadClientEvents are served through gRPC's callback API: a
// call waiting for its group commit (EventStore::AppendAsync, or the access
// log's record of a read, AccessLog::RecordAsync) holds no server thread, and
// the thread that commits a group answers its calls. ReadAll and Subscribe
// (audit and projection consumers, few callers) stay synchronous.
// ReadClientEvents is a raw method: its response is written as bytes
// (projections::EventWireWriter), the stored payloads copied straight into
// it, so a history read parses and re-serializes no event. On the wire it is
// the ReadClientEventsResponse the proto declares; clients see no difference.
class LedgerServiceImpl final
    : public caseledger::v1::LedgerService::WithCallbackMethod_AppendEvents<
          caseledger::v1::LedgerService::WithRawCallbackMethod_ReadClientEvents<
              caseledger::v1::LedgerService::Service>> {
 public:
  // `store`, `vault`, `access_log` and `metrics` must outlive this service.
  // Personal data is sealed with the client's key on append and opened on
  // reads by roles that see it (see case_writer.h).
  LedgerServiceImpl(storage::EventStore* store, storage::KeyVault* vault, storage::AccessLog* access_log,
                    Metrics* metrics, LedgerServiceOptions options = {});
  ~LedgerServiceImpl() override;

  grpc::ServerUnaryReactor* AppendEvents(grpc::CallbackServerContext* context,
                                         const caseledger::v1::AppendEventsRequest* request,
                                         caseledger::v1::AppendEventsResponse* response) override;
  // `request` and `response` are a ReadClientEventsRequest and
  // ReadClientEventsResponse in their wire form.
  grpc::ServerUnaryReactor* ReadClientEvents(grpc::CallbackServerContext* context,
                                             const grpc::ByteBuffer* request, grpc::ByteBuffer* response) override;
  grpc::Status ReadAll(grpc::ServerContext* context, const caseledger::v1::ReadAllRequest* request,
                       caseledger::v1::ReadAllResponse* response) override;
  grpc::Status Subscribe(grpc::ServerContext* context,
                         const caseledger::v1::SubscribeRequest* request,
                         grpc::ServerWriter<caseledger::v1::SubscribeResponse>* writer) override;

  // Ends running subscriptions (UNAVAILABLE, "resume from your checkpoint")
  // and refuses new ones, so that server shutdown need not wait for them.
  void BeginShutdown() { shutting_down_ = true; }

 private:
  // What an append needs once its request is checked: who acts, for whom,
  // at which expected version.
  struct CheckedAppend {
    CallerIdentity caller;
    std::string user;  // metadata x-user-id
    storage::ExpectedVersion expected = storage::ExpectedVersion::Any();
  };
  absl::StatusOr<CheckedAppend> CheckAppend(const grpc::CallbackServerContext& context,
                                            const caseledger::v1::AppendEventsRequest& request) const;
  // INVALID_ARGUMENT naming what to fix, or OK.
  static absl::Status CheckClientRead(const caseledger::v1::ReadClientEventsRequest& request);
  // The page `request` asks for (the caller may read it), as the wire bytes
  // of a ReadClientEventsResponse.
  absl::StatusOr<std::string> ReadClient(const CallerIdentity& caller, const projections::CaseState& state,
                                         const caseledger::v1::ReadClientEventsRequest& request) const;
  grpc::Status ReadLog(grpc::ServerContext* context, const caseledger::v1::ReadAllRequest* request,
                       caseledger::v1::ReadAllResponse* response);
  grpc::Status Follow(grpc::ServerContext* context, const caseledger::v1::SubscribeRequest* request,
                      grpc::ServerWriter<caseledger::v1::SubscribeResponse>* writer);

  // The public form of a stored event; its personal data opened with the
  // client's key only when `with_personal_data`.
  absl::StatusOr<caseledger::v1::Event> PublicEvent(const storage::RecordedEvent& recorded,
                                                    bool with_personal_data) const;

  storage::EventStore* const store_;
  storage::KeyVault* const vault_;
  storage::AccessLog* const access_log_;
  Metrics* const metrics_;
  const LedgerServiceOptions options_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<int> subscribers_{0};

  // Subscriptions whose current write started at `write_started` (micros; 0:
  // not writing). The watchdog cancels those stalled past the timeout.
  struct Subscription {
    grpc::ServerContext* context;
    std::atomic<int64_t> write_started{0};
  };
  void Watchdog();
  std::mutex subscriptions_mu_;
  std::set<Subscription*> subscriptions_;  // guarded by subscriptions_mu_
  std::condition_variable watchdog_cv_;
  bool watchdog_stop_ = false;             // guarded by subscriptions_mu_
  std::thread watchdog_;
};

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_LEDGER_SERVICE_H_
