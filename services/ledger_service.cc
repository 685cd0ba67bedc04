#include "services/ledger_service.h"

#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "projections/case_state.h"
#include "projections/event_mapping.h"
#include "services/access_recorder.h"
#include "services/auth/access_policy.h"
#include "services/auth/identity.h"
#include "services/case_writer.h"
#include "services/status_translation.h"
#include "storage/status_macros.h"

namespace caseledger::services {
namespace {

using projections::CaseState;

constexpr uint32_t kDefaultPage = 100;
constexpr uint32_t kMaxPage = 1000;

absl::StatusOr<CallerIdentity> Caller(const grpc::ServerContextBase& context) {
  return IdentityFromAuthContext(*context.auth_context());
}

// The acting person, from metadata x-user-id.
absl::StatusOr<std::string> UserId(const grpc::ServerContextBase& context) {
  auto it = context.client_metadata().find("x-user-id");
  if (it == context.client_metadata().end() || it->second.empty()) {
    return absl::InvalidArgumentError(
        "metadata x-user-id is missing; send the id of the person who acts (e.g. the begeleider) "
        "with every AppendEvents call");
  }
  std::string user(it->second.data(), it->second.size());
  if (user.size() > 128) {
    return absl::InvalidArgumentError("metadata x-user-id is longer than 128 bytes; send a short user id");
  }
  return user;
}

absl::StatusOr<storage::ExpectedVersion> ToExpectedVersion(const v1::ExpectedVersion& e) {
  switch (e.kind_case()) {
    case v1::ExpectedVersion::KIND_NOT_SET:
    case v1::ExpectedVersion::kAny:
      return storage::ExpectedVersion::Any();
    case v1::ExpectedVersion::kNoStream:
      return storage::ExpectedVersion::NoStream();
    case v1::ExpectedVersion::kStreamExists:
      return storage::ExpectedVersion::StreamExists();
    case v1::ExpectedVersion::kExact:
      return storage::ExpectedVersion::Exact(e.exact());
  }
  return absl::InvalidArgumentError("expected_version has an unknown kind");
}

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

std::string Prefixed(size_t index, absl::string_view message) {
  return absl::StrCat("events[", index, "].", message);
}

// Purpose of a read of the whole log: metadata x-purpose, else "audit".
std::string LogReadPurpose(const grpc::ServerContext& context) {
  auto it = context.client_metadata().find("x-purpose");
  if (it == context.client_metadata().end() || it->second.empty()) return "audit";
  return std::string(it->second.data(), std::min<size_t>(it->second.size(), 256));
}

// A ByteBuffer that owns `bytes` (no copy): gRPC frees them once sent.
grpc::ByteBuffer SendOnce(std::shared_ptr<std::string> bytes) {
  auto* owned = new std::shared_ptr<std::string>(std::move(bytes));
  grpc::Slice slice((*owned)->data(), (*owned)->size(),
                    [](void* p) { delete static_cast<std::shared_ptr<std::string>*>(p); }, owned);
  return grpc::ByteBuffer(&slice, 1);
}

uint32_t PageSize(uint32_t requested) {
  return requested == 0 ? kDefaultPage : std::min(requested, kMaxPage);
}

}  // namespace

absl::StatusOr<v1::Event> LedgerServiceImpl::PublicEvent(const storage::RecordedEvent& recorded,
                                                         bool with_personal_data) const {
  return with_personal_data ? projections::FromRecordedEvent(recorded, *vault_)
                            : projections::FromRecordedEvent(recorded, false);
}

LedgerServiceImpl::LedgerServiceImpl(storage::EventStore* store, storage::KeyVault* vault,
                                     storage::AccessLog* access_log, Metrics* metrics,
                                     LedgerServiceOptions options)
    : store_(store), vault_(vault), access_log_(access_log), metrics_(metrics), options_(std::move(options)) {
  watchdog_ = std::thread([this] { Watchdog(); });
}

LedgerServiceImpl::~LedgerServiceImpl() {
  {
    std::lock_guard<std::mutex> lock(subscriptions_mu_);
    watchdog_stop_ = true;
  }
  watchdog_cv_.notify_all();
  watchdog_.join();
}

void LedgerServiceImpl::Watchdog() {
  std::unique_lock<std::mutex> lock(subscriptions_mu_);
  while (!watchdog_stop_) {
    watchdog_cv_.wait_for(lock, std::chrono::milliseconds(500));
    const int64_t now = absl::ToUnixMicros(absl::Now());
    const int64_t limit = absl::ToInt64Microseconds(options_.subscriber_stall_timeout);
    for (Subscription* sub : subscriptions_) {
      const int64_t started = sub->write_started.load();
      if (started != 0 && now - started > limit) sub->context->TryCancel();
    }
  }
}

// The RPC entry points record metrics around the implementations below.
grpc::ServerUnaryReactor* LedgerServiceImpl::AppendEvents(grpc::CallbackServerContext* context,
                                                          const v1::AppendEventsRequest* request,
                                                          v1::AppendEventsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time start = absl::Now();
  // Runs once, on this thread or on the thread that commits the group.
  auto finish = [this, reactor, response, start](const absl::Status& status) {
    // Only what was written counts as appended: an exact retry writes nothing.
    const size_t written = status.ok() && !response->deduplicated() ? response->global_positions_size() : 0;
    metrics_->RecordAppend(status.code(), written, absl::Now() - start);
    reactor->Finish(ToGrpcStatus(status));
  };
  absl::StatusOr<CheckedAppend> checked = CheckAppend(*context, *request);
  if (!checked.ok()) {
    finish(checked.status());
    return reactor;
  }
  // The events are moved out of the request rather than copied (a 100-event
  // append deep-copied 100 messages and their strings). The request object is
  // gRPC's, made for this call, not const, and not read again once the handler
  // has it (gRPC only frees it), so taking its events is safe.
  google::protobuf::RepeatedPtrField<v1::Event>* received =
      const_cast<v1::AppendEventsRequest*>(request)->mutable_events();
  std::vector<v1::Event> events;
  events.reserve(received->size());
  for (v1::Event& e : *received) events.push_back(std::move(e));
  WriteToCaseAsync(
      *store_, *vault_, request->client_id(), checked->expected, std::move(events), checked->caller.organisation,
      checked->user,
      [caller = checked->caller](const CaseState& state, const v1::Event& first) {
        return AuthorizeAppend(caller, state, first);
      },
      options_.case_cache,
      [response, finish](absl::StatusOr<storage::AppendResult> result) {
        if (!result.ok()) {
          finish(result.status());
          return;
        }
        response->set_stream_version(result->stream_version);
        response->mutable_global_positions()->Assign(result->global_positions.begin(),
                                                     result->global_positions.end());
        response->set_deduplicated(result->deduplicated);
        finish(absl::OkStatus());
      });
  return reactor;
}

grpc::ServerUnaryReactor* LedgerServiceImpl::ReadClientEvents(grpc::CallbackServerContext* context,
                                                              const grpc::ByteBuffer* request_bytes,
                                                              grpc::ByteBuffer* response) {
  constexpr char kCall[] = "LedgerService.ReadClientEvents";
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // `body` is sent only when `status` is OK: nothing of a refused or
  // unrecorded read leaves.
  auto finish = [this, reactor, response](const absl::Status& status, std::shared_ptr<std::string> body) {
    if (status.ok() && body != nullptr) *response = SendOnce(std::move(body));
    metrics_->RecordRead(Metrics::kReadClientEvents, status.code());
    reactor->Finish(ToGrpcStatus(status));
  };
  v1::ReadClientEventsRequest request;
  {
    grpc::ByteBuffer copy = *request_bytes;  // Deserialize consumes its buffer; this shares the slices
    if (!grpc::SerializationTraits<v1::ReadClientEventsRequest>::Deserialize(&copy, &request).ok()) {
      finish(absl::InvalidArgumentError("the request is not a caseledger.v1.ReadClientEventsRequest; send one"),
             nullptr);
      return reactor;
    }
  }
  absl::StatusOr<CallerIdentity> caller = Caller(*context);
  if (!caller.ok()) {
    RecordAccessAsync(*access_log_, *context, caller, request.client_id(), kCall, request.purpose(),
                      caller.status(), [finish, refusal = caller.status()](const absl::Status& logged) {
                        finish(logged.ok() ? refusal : logged, nullptr);
                      });
    return reactor;
  }
  // A request that names no read is refused before anything is decided (and
  // so not recorded).
  if (absl::Status bad = CheckClientRead(request); !bad.ok()) {
    finish(bad, nullptr);
    return reactor;
  }
  absl::StatusOr<CaseState> state = projections::LoadCase(*store_, options_.case_cache, request.client_id());
  if (!state.ok()) {
    finish(state.status(), nullptr);
    return reactor;
  }
  const absl::Status allowed = AuthorizeClientRead(
      *caller, *state, absl::ToCivilDay(options_.clock(), absl::UTCTimeZone()));
  // The answer is made now, on this thread, and sent only once the access log
  // holds the read: a read is answered only after it has been recorded.
  // (Recording first, to overlap the answer with the access log's sync, was
  // slower: the recording thread often leads the group commit and then commits
  // the groups queued behind it before it makes its own answer.)
  absl::Status answer = allowed;
  std::shared_ptr<std::string> body;
  if (allowed.ok()) {
    absl::StatusOr<std::string> page = ReadClient(*caller, *state, request);
    if (page.ok()) {
      body = std::make_shared<std::string>(*std::move(page));
    } else {
      answer = page.status();
    }
  }
  RecordAccessAsync(*access_log_, *context, caller, request.client_id(), kCall, request.purpose(), allowed,
                    [finish, answer, body = std::move(body)](const absl::Status& logged) {
                      finish(logged.ok() ? answer : logged, body);
                    });
  return reactor;
}

grpc::Status LedgerServiceImpl::ReadAll(grpc::ServerContext* context, const v1::ReadAllRequest* request,
                                        v1::ReadAllResponse* response) {
  grpc::Status status = ReadLog(context, request, response);
  metrics_->RecordRead(Metrics::kReadAll, static_cast<absl::StatusCode>(status.error_code()));
  return status;
}

grpc::Status LedgerServiceImpl::Subscribe(grpc::ServerContext* context,
                                          const v1::SubscribeRequest* request,
                                          grpc::ServerWriter<v1::SubscribeResponse>* writer) {
  metrics_->SubscriberStarted();
  grpc::Status status = Follow(context, request, writer);
  metrics_->SubscriberEnded();
  metrics_->RecordRead(Metrics::kSubscribe, static_cast<absl::StatusCode>(status.error_code()));
  return status;
}

absl::StatusOr<LedgerServiceImpl::CheckedAppend> LedgerServiceImpl::CheckAppend(
    const grpc::CallbackServerContext& context, const v1::AppendEventsRequest& request) const {
  CheckedAppend checked;
  CASELEDGER_ASSIGN_OR_RETURN(checked.caller, Caller(context));
  CASELEDGER_RETURN_IF_ERROR(RequireRole(checked.caller, Role::kPartner, "AppendEvents"));
  CASELEDGER_ASSIGN_OR_RETURN(checked.user, UserId(context));
  CASELEDGER_ASSIGN_OR_RETURN(checked.expected, ToExpectedVersion(request.expected_version()));
  if (request.events().empty()) return absl::InvalidArgumentError("events is empty; send at least one event");

  // Each event well formed, and not in the future.
  const absl::Time now = options_.clock();
  for (int i = 0; i < request.events_size(); ++i) {
    const v1::Event& event = request.events(i);
    absl::Status valid = projections::ValidateEvent(event);
    if (!valid.ok()) return absl::InvalidArgumentError(Prefixed(i, valid.message()));
    absl::Time occurred = ToTime(event.envelope().occurred_at());
    if (occurred > now + options_.max_clock_skew) {
      return absl::InvalidArgumentError(Prefixed(
          i, absl::StrCat("envelope.occurred_at ",
                          absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", occurred, absl::UTCTimeZone()),
                          " lies in the future; record events once they have happened")));
    }
  }
  return checked;
}

absl::Status LedgerServiceImpl::CheckClientRead(const v1::ReadClientEventsRequest& request) {
  if (request.client_id().empty()) {
    return absl::InvalidArgumentError("client_id is not set; name the client to read");
  }
  if (request.purpose().empty()) {
    return absl::InvalidArgumentError(
        "purpose is not set; say why you read this client's data (it is recorded in the access "
        "log, which the client may ask to see)");
  }
  if (request.limit() > kMaxPage) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit is ", request.limit(), "; the most per page is ", kMaxPage));
  }
  if (!v1::ReadDirection_IsValid(request.direction())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "direction has the unknown value ", request.direction(), "; use FORWARD or BACKWARD"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> LedgerServiceImpl::ReadClient(const CallerIdentity& caller, const CaseState& state,
                                                          const v1::ReadClientEventsRequest& request) const {
  const bool backward = request.direction() == v1::READ_DIRECTION_BACKWARD;
  const uint32_t limit = PageSize(request.limit());
  projections::EventWireWriter writer(SeesPersonalData(caller) ? vault_ : nullptr);
  std::string out;
  size_t count = 0;
  uint64_t last = 0;
  CASELEDGER_RETURN_IF_ERROR(store_->VisitStream(
      request.client_id(), request.from_version(),
      backward ? storage::ReadDirection::kBackward : storage::ReadDirection::kForward, limit,
      [&](const storage::EventView& view) {
        // Sized once from the first event (envelope ~200 bytes), at most 4 MiB
        // up front: a page of large events grows the string instead.
        if (count == 0) out.reserve(std::min<size_t>(static_cast<size_t>(limit) * (view.payload.size() + 320), 4 << 20));
        ++count;
        last = view.stream_version;
        return writer.AppendField(v1::ReadClientEventsResponse::kEventsFieldNumber, view, &out);
      }));
  uint64_t next = 0;
  if (count == limit) {
    if (backward) {
      next = last > 1 ? last - 1 : 0;
    } else if (last < state.version) {
      next = last + 1;
    }
  }
  if (next != 0) {
    v1::ReadClientEventsResponse tail;
    tail.set_next_version(next);
    tail.AppendToString(&out);
  }
  return out;
}

grpc::Status LedgerServiceImpl::ReadLog(grpc::ServerContext* context,
                                        const v1::ReadAllRequest* request,
                                        v1::ReadAllResponse* response) {
  absl::StatusOr<CallerIdentity> caller = Caller(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::Status allowed = AuthorizeLogRead(*caller, "ReadAll");
  absl::Status logged = RecordAccess(*access_log_, *context, caller, "*", "LedgerService.ReadAll",
                                     LogReadPurpose(*context), allowed);
  if (!logged.ok()) return ToGrpcStatus(logged);
  if (!allowed.ok()) return ToGrpcStatus(allowed);
  if (request->limit() > kMaxPage) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("limit is ", request->limit(), "; the most per page is ", kMaxPage)));
  }
  const uint64_t from = std::max<uint64_t>(request->from_position(), 1);
  absl::StatusOr<std::vector<storage::RecordedEvent>> events =
      store_->ReadAll(from, PageSize(request->limit()));
  if (!events.ok()) return ToGrpcStatus(events.status());
  const bool personal = SeesPersonalData(*caller);
  for (const storage::RecordedEvent& recorded : *events) {
    absl::StatusOr<v1::Event> event = PublicEvent(recorded, personal);
    if (!event.ok()) return ToGrpcStatus(event.status());
    *response->add_events() = *std::move(event);
  }
  response->set_next_position(events->empty() ? from : events->back().global_position + 1);
  response->set_last_position(store_->LastPosition());
  return grpc::Status::OK;
}

grpc::Status LedgerServiceImpl::Follow(grpc::ServerContext* context,
                                       const v1::SubscribeRequest* request,
                                       grpc::ServerWriter<v1::SubscribeResponse>* writer) {
  absl::StatusOr<CallerIdentity> caller = Caller(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::Status allowed = AuthorizeLogRead(*caller, "Subscribe");
  absl::Status logged = RecordAccess(*access_log_, *context, caller, "*", "LedgerService.Subscribe",
                                     LogReadPurpose(*context), allowed);
  if (!logged.ok()) return ToGrpcStatus(logged);
  if (!allowed.ok()) return ToGrpcStatus(allowed);

  if (subscribers_.fetch_add(1) >= options_.max_subscribers) {
    subscribers_.fetch_sub(1);
    return ToGrpcStatus(absl::ResourceExhaustedError(absl::StrCat(
        "the server already serves ", options_.max_subscribers,
        " subscriptions; retry later or page with ReadAll")));
  }
  struct Release {
    std::atomic<int>& count;
    ~Release() { count.fetch_sub(1); }
  } release{subscribers_};

  Subscription subscription{context};
  {
    std::lock_guard<std::mutex> lock(subscriptions_mu_);
    subscriptions_.insert(&subscription);
  }
  struct Unregister {
    LedgerServiceImpl* self;
    Subscription* sub;
    ~Unregister() {
      std::lock_guard<std::mutex> lock(self->subscriptions_mu_);
      self->subscriptions_.erase(sub);
    }
  } unregister{this, &subscription};
  // Every write is watched: one blocked past the stall timeout is cancelled.
  auto write = [&](const v1::SubscribeResponse& item) {
    subscription.write_started.store(absl::ToUnixMicros(absl::Now()));
    bool ok = writer->Write(item);
    subscription.write_started.store(0);
    return ok;
  };

  const bool personal = SeesPersonalData(*caller);
  uint64_t next = std::max<uint64_t>(request->from_position(), 1);
  uint64_t checkpointed = next;
  // The lag at the start of the current window of checkpoint_interval.
  const uint64_t head_at_start = store_->LastPosition();
  uint64_t window_lag = head_at_start >= next ? head_at_start - (next - 1) : 0;
  absl::Time window_start = absl::Now();
  absl::Time last_checkpoint = absl::Now();
  auto send_checkpoint = [&] {
    v1::SubscribeResponse checkpoint;
    checkpoint.mutable_checkpoint()->set_next_position(next);
    last_checkpoint = absl::Now();
    checkpointed = next;
    return write(checkpoint);
  };

  while (!context->IsCancelled()) {
    if (shutting_down_) {
      return ToGrpcStatus(absl::UnavailableError(absl::StrCat(
          "the server is shutting down; subscribe again from position ", next)));
    }
    absl::StatusOr<std::vector<storage::RecordedEvent>> batch =
        store_->ReadAll(next, options_.subscribe_batch);
    if (!batch.ok()) return ToGrpcStatus(batch.status());
    for (const storage::RecordedEvent& recorded : *batch) {
      v1::SubscribeResponse item;
      absl::StatusOr<v1::Event> event = PublicEvent(recorded, personal);
      if (!event.ok()) return ToGrpcStatus(event.status());
      *item.mutable_event() = *std::move(event);
      // Write blocks while the client is not reading (flow control): a slow
      // subscriber holds only this thread and this one batch.
      if (!write(item)) return grpc::Status::CANCELLED;
      next = recorded.global_position + 1;
    }
    if (!batch->empty()) {
      // Too slow: far behind, and further behind than a window ago.
      const uint64_t lag = store_->LastPosition() - (next - 1);
      const bool window_over = absl::Now() - window_start >= options_.checkpoint_interval;
      if (window_over && lag > options_.max_subscriber_lag && lag > window_lag) {
        return ToGrpcStatus(absl::ResourceExhaustedError(absl::StrCat(
            "this subscriber reads slower than the log grows: it is ", lag,
            " events behind the head and was ", window_lag, " behind ",
            absl::FormatDuration(options_.checkpoint_interval), " ago, so the server ends the subscription "
            "rather than buffer for it. Resume from position ", checkpointed,
            " (your last checkpoint) with a faster consumer, or page with ReadAll")));
      }
      if (window_over) {
        window_lag = lag;
        window_start = absl::Now();
      }
      if (!send_checkpoint()) return grpc::Status::CANCELLED;
      continue;
    }
    window_lag = 0;  // caught up
    window_start = absl::Now();
    store_->WaitForPosition(next - 1, std::min(options_.checkpoint_interval, absl::Seconds(1)));
    if (store_->LastPosition() < next && absl::Now() - last_checkpoint >= options_.checkpoint_interval) {
      if (!send_checkpoint()) return grpc::Status::CANCELLED;
    }
  }
  return grpc::Status::CANCELLED;
}

}  // namespace caseledger::services
