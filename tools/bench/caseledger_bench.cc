// caseledger-bench: a load generator against a running caseledgerd, over
// gRPC with mutual TLS, as partner systems would call it.
//
//   caseledger-bench --addr 127.0.0.1:7443 --tls-dir var/tls --mode append
//       --clients 32 --events-per-append 1 --event-size 500 --duration 10 --streams 10000
//   caseledger-bench ... --mode read --streams 100          # 100-event client histories
//   caseledger-bench --mode raw-rocksdb --events-per-append 100 --dir /tmp/x   # the disk's limit
//
// append: every client thread owns streams (stream i belongs to client
//   i % clients), so it knows each stream's version and appends with an exact
//   expected version; ABORTED answers count as conflicts. Streams get their
//   intake in a set-up phase that is not measured. A sampler measures
//   projection lag: from an append's acknowledgement until the caseload
//   projection's checkpoint (AdminService.ListProjections, --admin identity)
//   covers its position: every 50 ms it takes the newest acknowledged append
//   and asks every --lag-poll-ms (default 0.5) until the checkpoint covers it,
//   so a lag is measured at most that much too long. Each ask is a call the
//   server answers beside the appends; the JSON counts them (lag_probe_calls).
// read: a set-up phase writes --streams histories of 100 events; then every
//   client reads a random one whole (ReadClientEvents, limit 100).
// export: the same set-up; then every client exports a random one
//   (PrivacyService.ExportSubjectData, JSON; --privacy identity).
// load: only the set-up (--streams histories of 100 events, --clients at a
//   time): builds a large ledger; read and export --reuse it by --run-id.
// ping: grpc.health.v1 Check, which touches no storage: the cost of a call
//   itself (TLS, HTTP/2, the server's threads), the ceiling of the others.
// raw-rocksdb: one thread, synced WriteBatches of --events-per-append values
//   of --event-size bytes into a fresh RocksDB: what the disk allows.
//
// Prints a human summary, then, as its last line, one JSON object with at
// least events_per_s, p50_ms and p99_ms. append, read, export and ping add
// the CPU the bench itself used per call over the measured seconds
// (bench_cpu_us_per_call, getrusage) and, given --server-pid of a caseledgerd
// on this machine, the server's (server_cpu_us_per_call, /proc/PID/stat):
// how the two cores that bench and server share are spent. On a shared
// machine it moves with the slow spells too (10–15% here), like the rates.
//
// append, read and ping drive their --clients through gRPC's callback client
// API: each client has one call in flight and starts its next when the answer
// arrives (a closed loop, as before), but no thread waits per client. The
// bench shares the machine's cores with the server; with 32 blocking client
// threads it used ~70 us of CPU per append, which the server then lacked.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <unistd.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <mutex>
#include <random>
#include <thread>

#include <google/protobuf/arena.h>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_format.h"
#include "caseledger/v1/admin_service.grpc.pb.h"
#include "caseledger/v1/ledger_service.grpc.pb.h"
#include "caseledger/v1/privacy_service.grpc.pb.h"
#include "grpc_probe/health.grpc.pb.h"
#include "tools/connection.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string addr = "127.0.0.1:7443";
  std::string tls_dir = "var/tls";
  std::string identity = "vluchtelingenwerk";
  std::string admin = "admin";
  std::string ca, cert, key;  // alternative to --tls-dir/--as: explicit files
  std::string mode = "append";
  int clients = 32;
  int events_per_append = 1;
  int event_size = 500;
  double duration = 10;
  int streams = 10000;
  std::string dir;  // raw-rocksdb
  std::string run_id;
  std::string privacy = "privacy-officer";  // identity for --mode export
  bool reuse = false;  // read/export: histories written earlier by --mode load with this --run-id
  int server_pid = 0;  // a local caseledgerd whose CPU per call is reported; 0: none
  // append: how often the lag sampler asks for the projection's checkpoint
  // while it waits for one acknowledged append (each ask is a call the server
  // answers beside the appends).
  double lag_poll_ms = 0.5;
};

// CPU seconds (user + system) process `pid` has used, from /proc/PID/stat;
// -1 when it cannot be read.
double ProcessCpuSeconds(int pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after ") ".
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // fields 14 and 15: utime, stime
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  if (!fields) return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return v[i];
}

std::shared_ptr<grpc::Channel> Connect(const Options& o, const std::string& identity, int channel_no) {
  caseledger::tools::ConnectionOptions c;
  c.server = o.addr;
  c.tls_dir = o.tls_dir;
  c.identity = identity;
  // Several connections, so that both server cores are fed.
  c.int_args = {{"grpc.channel_id_for_bench", channel_no}, {GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1}};
  auto ch = caseledger::tools::Connect(c);
  if (!ch.ok()) {
    std::cerr << "caseledger-bench: " << ch.status().message() << "\n";
    std::exit(2);
  }
  return *ch;
}

caseledger::v1::Event MakeEvent(const std::string& id, int size, bool intake) {
  caseledger::v1::Event e;
  e.mutable_envelope()->set_event_id(id);
  e.mutable_envelope()->mutable_occurred_at()->set_seconds(1'780'000'000);
  if (intake) {
    auto* p = e.mutable_intake();
    p->set_track(caseledger::v1::TRACK_LEGAL);
    p->set_target_group(caseledger::v1::TARGET_GROUP_REJECTED_ASYLUM);
    p->set_organisation("vluchtelingenwerk");
    p->set_location("LVV Amsterdam-West");
    p->set_legal_basis("AVG art. 6(1)(e)");
    e.mutable_personal_data()->set_given_names("Bench");
    e.mutable_personal_data()->set_family_name(absl::StrCat("Persoon ", id));
    return e;
  }
  auto* a = e.mutable_attendance_registered();
  a->set_activity(caseledger::v1::ACTIVITY_TRAINING);
  a->mutable_date()->set_year(2026);
  a->mutable_date()->set_month(6);
  a->mutable_date()->set_day(1);
  a->set_attendance(caseledger::v1::ATTENDANCE_PRESENT);
  // Pad to the requested size (the serialized event, roughly).
  const int padding = std::max(0, size - static_cast<int>(e.ByteSizeLong()) - static_cast<int>(id.size()) - 8);
  a->set_description(std::string(padding, 'x'));
  return e;
}

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 30) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  ctx->AddMetadata("x-user-id", "bench");
  return ctx;
}

struct Result {
  std::vector<double> latency_ms;
  uint64_t calls = 0, events = 0, conflicts = 0, errors = 0;
  std::string first_error;
  // Over the measured seconds (set on the merged result): the bench's CPU,
  // and the server's (-1: no --server-pid, or it could not be read).
  double bench_cpu_s = 0, server_cpu_s = -1;

  void Error(const std::string& what) {
    if (errors++ == 0) first_error = what;
  }
  // A call that started at `t0` has ended.
  void Ended(Clock::time_point t0) {
    latency_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    ++calls;
  }
};

// The clients' results as one: every latency, the sums, the first error.
Result Merged(const std::vector<Result>& results) {
  Result all;
  for (const Result& r : results) {
    all.latency_ms.insert(all.latency_ms.end(), r.latency_ms.begin(), r.latency_ms.end());
    all.calls += r.calls;
    all.events += r.events;
    all.conflicts += r.conflicts;
    all.errors += r.errors;
    if (all.first_error.empty()) all.first_error = r.first_error;
  }
  return all;
}

// The CPU the bench and (with --server-pid) the server use between its
// construction and End, which records them in the merged Result.
class CpuWindow {
 public:
  explicit CpuWindow(const Options& o)
      : server_pid_(o.server_pid), bench0_(SelfCpuSeconds()),
        server0_(server_pid_ > 0 ? ProcessCpuSeconds(server_pid_) : -1) {}
  void End(Result& all) const {
    all.bench_cpu_s = SelfCpuSeconds() - bench0_;
    const double server1 = server_pid_ > 0 ? ProcessCpuSeconds(server_pid_) : -1;
    all.server_cpu_s = server0_ >= 0 && server1 >= 0 ? server1 - server0_ : -1;
  }

 private:
  const int server_pid_;
  const double bench0_, server0_;
};

// The JSON fields for the CPU per call of `all` (each starts with a comma).
std::string CpuFields(const Result& all) {
  if (all.calls == 0) return "";
  std::string out = absl::StrFormat(",\"bench_cpu_us_per_call\":%.1f", all.bench_cpu_s * 1e6 / all.calls);
  if (all.server_cpu_s >= 0) {
    absl::StrAppendFormat(&out, ",\"server_cpu_us_per_call\":%.1f", all.server_cpu_s * 1e6 / all.calls);
  }
  return out;
}

// One call of a client: does it, records its outcome (events, conflicts,
// errors) in the Result; the loop times it.
using Call = std::function<void(Result&)>;

// Runs --clients threads for --duration seconds; thread c repeats
// make_call(c) back to back. Returns the merged result and the seconds run.
std::pair<Result, double> ClosedLoop(const Options& o, const std::function<Call(int)>& make_call) {
  std::vector<Result> results(o.clients);
  std::vector<Call> calls;
  for (int c = 0; c < o.clients; ++c) calls.push_back(make_call(c));
  CpuWindow cpu(o);
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration));
  std::vector<std::thread> threads;
  for (int c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      Result& r = results[c];
      while (Clock::now() < end) {
        const auto t0 = Clock::now();
        calls[c](r);
        r.Ended(t0);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  Result all = Merged(results);
  cpu.End(all);
  return {std::move(all), secs};
}

// One client's call, asynchronously: starts it, records its outcome in the
// Result, then calls `done` (on a gRPC thread) exactly once.
using AsyncCall = std::function<void(Result&, std::function<void()> done)>;

// As ClosedLoop, but each client is a chain of asynchronous calls: the next
// starts from the completion of the previous. A client's Result is touched by
// one completion at a time (each happens after the previous call's).
std::pair<Result, double> AsyncClosedLoop(const Options& o, const std::function<AsyncCall(int)>& make_call) {
  std::vector<Result> results(o.clients);
  std::vector<AsyncCall> calls;
  for (int c = 0; c < o.clients; ++c) calls.push_back(make_call(c));
  CpuWindow cpu(o);
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration));
  std::mutex mu;
  std::condition_variable all_done;
  int running = o.clients;  // guarded by mu
  std::vector<std::function<void()>> next(o.clients);
  for (int c = 0; c < o.clients; ++c) {
    next[c] = [&, c] {
      if (Clock::now() >= end) {
        std::lock_guard<std::mutex> lock(mu);
        if (--running == 0) all_done.notify_all();
        return;
      }
      const auto t0 = Clock::now();
      calls[c](results[c], [&, c, t0] {
        results[c].Ended(t0);
        next[c]();
      });
    };
  }
  for (int c = 0; c < o.clients; ++c) next[c]();
  {
    std::unique_lock<std::mutex> lock(mu);
    all_done.wait(lock, [&] { return running == 0; });
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  Result all = Merged(results);
  cpu.End(all);
  return {std::move(all), secs};
}

// What one asynchronous unary call needs until its completion runs.
template <typename Request, typename Response>
struct InFlight {
  std::unique_ptr<grpc::ClientContext> ctx = Ctx();
  Request req;
  Response resp;
};

// Up to 8 connections as `identity` (default --as), so that both server cores are fed.
std::vector<std::shared_ptr<grpc::Channel>> Channels(const Options& o, const std::string& identity = "") {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < std::min(o.clients, 8); ++i) {
    channels.push_back(Connect(o, identity.empty() ? o.identity : identity, i));
  }
  return channels;
}

int RunRawRocksDb(const Options& o) {
  std::string dir = o.dir.empty() ? (std::filesystem::temp_directory_path() / ("bench-raw-" + o.run_id)).string() : o.dir;
  std::filesystem::remove_all(dir);
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) {
    std::cerr << "caseledger-bench: " << s.ToString() << "\n";
    return 2;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  std::string value(o.event_size, 'v');
  Result r;
  const auto start = Clock::now();
  uint64_t key = 0;
  while (std::chrono::duration<double>(Clock::now() - start).count() < o.duration) {
    rocksdb::WriteBatch batch;
    for (int i = 0; i < o.events_per_append; ++i) {
      char k[8];
      for (int b = 0; b < 8; ++b) k[b] = static_cast<char>((key >> (56 - 8 * b)) & 0xff);
      ++key;
      batch.Put(rocksdb::Slice(k, 8), value);
    }
    const auto t0 = Clock::now();
    s = db->Write(wo, &batch);
    r.Ended(t0);
    if (!s.ok()) {
      std::cerr << "caseledger-bench: " << s.ToString() << "\n";
      return 2;
    }
    r.events += o.events_per_append;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  db.reset();
  std::filesystem::remove_all(dir);
  const double p50 = Percentile(r.latency_ms, 0.5), p99 = Percentile(r.latency_ms, 0.99);
  std::printf("raw RocksDB synced WriteBatch(%d x %d B): %.0f events/s, %.0f batches/s, p50 %.2f ms, p99 %.2f ms\n",
              o.events_per_append, o.event_size, r.events / secs, r.calls / secs, p50, p99);
  std::printf("{\"mode\":\"raw-rocksdb\",\"events_per_append\":%d,\"event_size\":%d,\"duration_s\":%.1f,"
              "\"events_per_s\":%.0f,\"batches_per_s\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n",
              o.events_per_append, o.event_size, secs, r.events / secs, r.calls / secs, p50, p99);
  return 0;
}

int RunAppend(const Options& o) {
  const int streams_per_client = std::max(1, o.streams / o.clients);
  std::vector<std::shared_ptr<grpc::Channel>> channels = Channels(o);
  // Set-up: every stream gets its intake (not measured).
  {
    std::vector<std::thread> threads;
    std::atomic<int> failed{0};
    for (int c = 0; c < o.clients; ++c) {
      threads.emplace_back([&, c] {
        auto stub = caseledger::v1::LedgerService::NewStub(channels[c % channels.size()]);
        for (int s = 0; s < streams_per_client; ++s) {
          caseledger::v1::AppendEventsRequest req;
          req.set_client_id(absl::StrCat("b-", o.run_id, "-", c, "-", s));
          *req.add_events() = MakeEvent(absl::StrCat("b-", o.run_id, "-", c, "-", s, "-0"), o.event_size, true);
          caseledger::v1::AppendEventsResponse resp;
          if (!stub->AppendEvents(Ctx().get(), req, &resp).ok()) ++failed;
        }
      });
    }
    for (auto& t : threads) t.join();
    if (failed > 0) {
      std::cerr << "caseledger-bench: " << failed << " intakes failed in the set-up\n";
      return 2;
    }
  }
  // Projection lag sampler.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> last_position{0};
  std::atomic<int64_t> last_ack_ns{0};
  std::vector<double> lag_ms;
  uint64_t lag_probe_calls = 0;
  const auto poll = std::chrono::microseconds(static_cast<int64_t>(o.lag_poll_ms * 1000));
  std::thread sampler([&] {
    auto admin = caseledger::v1::AdminService::NewStub(Connect(o, o.admin, 100));
    while (!stop) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const uint64_t position = last_position.load();
      const int64_t acked = last_ack_ns.load();
      if (position == 0) continue;
      while (!stop) {
        caseledger::v1::ListProjectionsResponse list;
        ++lag_probe_calls;
        if (!admin->ListProjections(Ctx().get(), caseledger::v1::ListProjectionsRequest(), &list).ok()) return;
        if (list.projections_size() > 0 && list.projections(0).checkpoint() >= position) {
          lag_ms.push_back((Clock::now().time_since_epoch().count() - acked) / 1e6);
          break;
        }
        std::this_thread::sleep_for(poll);
      }
    }
  });

  auto [all, secs] = AsyncClosedLoop(o, [&](int c) -> AsyncCall {
    auto stub = std::shared_ptr<caseledger::v1::LedgerService::Stub>(
        caseledger::v1::LedgerService::NewStub(channels[c % channels.size()]));
    auto rng = std::make_shared<std::mt19937>(c);
    auto version = std::make_shared<std::vector<uint64_t>>(streams_per_client, 1);
    return [&, c, stub, rng, version](Result& r, std::function<void()> done) {
      const int s = std::uniform_int_distribution<int>(0, streams_per_client - 1)(*rng);
      const std::string stream = absl::StrCat("b-", o.run_id, "-", c, "-", s);
      auto call = std::make_shared<InFlight<caseledger::v1::AppendEventsRequest, caseledger::v1::AppendEventsResponse>>();
      call->req.set_client_id(stream);
      call->req.mutable_expected_version()->set_exact((*version)[s]);
      for (int i = 0; i < o.events_per_append; ++i) {
        *call->req.add_events() = MakeEvent(absl::StrCat(stream, "-", (*version)[s] + 1 + i), o.event_size, false);
      }
      stub->async()->AppendEvents(call->ctx.get(), &call->req, &call->resp,
                                  [&, s, call, version, done = std::move(done), &r = r](grpc::Status st) {
        if (st.ok()) {
          r.events += o.events_per_append;
          (*version)[s] = call->resp.stream_version();
          last_position.store(call->resp.global_positions(call->resp.global_positions_size() - 1));
          last_ack_ns.store(Clock::now().time_since_epoch().count());
        } else if (st.error_code() == grpc::StatusCode::ABORTED) {
          ++r.conflicts;
        } else {
          r.Error(absl::StrCat(st.error_code(), ": ", st.error_message()));
        }
        done();
      });
    };
  });
  stop = true;
  sampler.join();

  const double p50 = Percentile(all.latency_ms, 0.5), p99 = Percentile(all.latency_ms, 0.99),
               p999 = Percentile(all.latency_ms, 0.999);
  const double lag50 = Percentile(lag_ms, 0.5), lag99 = Percentile(lag_ms, 0.99);
  std::printf("append: %d clients x %d events of %d B for %.1f s: %.0f appends/s, %.0f events/s; latency p50 %.2f "
              "p99 %.2f p99.9 %.2f ms; %llu conflicts, %llu errors%s%s; projection lag p50 %.1f p99 %.1f ms (%zu samples, %llu probe calls)\n",
              o.clients, o.events_per_append, o.event_size, secs, all.calls / secs, all.events / secs, p50, p99, p999,
              static_cast<unsigned long long>(all.conflicts), static_cast<unsigned long long>(all.errors),
              all.first_error.empty() ? "" : " — first: ", all.first_error.c_str(), lag50, lag99, lag_ms.size(),
              static_cast<unsigned long long>(lag_probe_calls));
  std::printf("{\"mode\":\"append\",\"clients\":%d,\"events_per_append\":%d,\"event_size\":%d,\"streams\":%d,"
              "\"duration_s\":%.1f,\"appends_per_s\":%.0f,\"events_per_s\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
              "\"p999_ms\":%.3f,\"conflicts\":%llu,\"errors\":%llu,\"lag_p50_ms\":%.1f,\"lag_p99_ms\":%.1f,\"lag_probe_calls\":%llu%s}\n",
              o.clients, o.events_per_append, o.event_size, o.streams, secs, all.calls / secs, all.events / secs, p50,
              p99, p999, static_cast<unsigned long long>(all.conflicts), static_cast<unsigned long long>(all.errors),
              lag50, lag99, static_cast<unsigned long long>(lag_probe_calls), CpuFields(all).c_str());
  return all.errors > 0 ? 1 : 0;
}

// The client id of history `s` of this run.
std::string HistoryId(const Options& o, int s) { return absl::StrCat("h-", o.run_id, "-", s); }

// Writes --streams client histories of 100 events (an intake with personal
// data, 99 attendances) in one append each, --clients at a time. Returns the
// seconds it took, or a negative number after printing the first failure.
double WriteHistories(const Options& o, const std::vector<std::shared_ptr<grpc::Channel>>& channels) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      auto stub = caseledger::v1::LedgerService::NewStub(channels[c % channels.size()]);
      for (int s = next++; s < o.streams && !failed; s = next++) {
        caseledger::v1::AppendEventsRequest req;
        const std::string stream = HistoryId(o, s);
        req.set_client_id(stream);
        *req.add_events() = MakeEvent(stream + "-0", o.event_size, true);
        for (int i = 1; i < 100; ++i) *req.add_events() = MakeEvent(absl::StrCat(stream, "-", i), o.event_size, false);
        caseledger::v1::AppendEventsResponse resp;
        grpc::Status st = stub->AppendEvents(Ctx().get(), req, &resp);
        if (!st.ok() && !failed.exchange(true)) {
          std::cerr << "caseledger-bench: writing history " << stream << " failed: " << st.error_message() << "\n";
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return failed ? -1 : std::chrono::duration<double>(Clock::now() - start).count();
}

// Writes the histories and reports the rate: to build a large ledger.
int RunLoad(const Options& o) {
  const double secs = WriteHistories(o, Channels(o));
  if (secs < 0) return 2;
  const double events = 100.0 * o.streams;
  std::printf("load: %d client histories of 100 events (%.0f events) in %.1f s: %.0f events/s; run id %s\n",
              o.streams, events, secs, events / secs, o.run_id.c_str());
  std::printf("{\"mode\":\"load\",\"clients\":%d,\"streams\":%d,\"events\":%.0f,\"duration_s\":%.1f,"
              "\"events_per_s\":%.0f,\"run_id\":\"%s\"}\n",
              o.clients, o.streams, events, secs, events / secs, o.run_id.c_str());
  return 0;
}

int RunRead(const Options& o) {
  const int streams = std::max(1, o.streams);
  std::vector<std::shared_ptr<grpc::Channel>> channels = Channels(o);
  if (!o.reuse && WriteHistories(o, channels) < 0) return 2;
  auto [all, secs] = AsyncClosedLoop(o, [&](int c) -> AsyncCall {
    auto stub = std::shared_ptr<caseledger::v1::LedgerService::Stub>(
        caseledger::v1::LedgerService::NewStub(channels[c % channels.size()]));
    auto rng = std::make_shared<std::mt19937>(c);
    return [&, stub, rng](Result& r, std::function<void()> done) {
      // Every event is parsed, into messages on one arena per response (as a
      // client that reads whole histories would): one allocation instead of
      // one per string and message of the 100 events.
      struct ArenaRead {
        std::unique_ptr<grpc::ClientContext> ctx = Ctx();
        caseledger::v1::ReadClientEventsRequest req;
        google::protobuf::Arena arena;
        caseledger::v1::ReadClientEventsResponse* resp =
            google::protobuf::Arena::CreateMessage<caseledger::v1::ReadClientEventsResponse>(&arena);
      };
      auto call = std::make_shared<ArenaRead>();
      call->req.set_client_id(HistoryId(o, std::uniform_int_distribution<int>(0, streams - 1)(*rng)));
      call->req.set_limit(100);
      call->req.set_purpose("benchmark");
      stub->async()->ReadClientEvents(call->ctx.get(), &call->req, call->resp,
                                      [call, done = std::move(done), &r = r](grpc::Status st) {
        if (st.ok() && call->resp->events_size() == 100) {
          r.events += 100;
        } else {
          r.Error(st.ok() ? absl::StrCat("got ", call->resp->events_size(), " events") : st.error_message());
        }
        done();
      });
    };
  });
  const double p50 = Percentile(all.latency_ms, 0.5), p99 = Percentile(all.latency_ms, 0.99);
  std::printf("read: %d clients reading 100-event histories for %.1f s: %.0f histories/s (%.0f events/s); p50 %.2f "
              "p99 %.2f ms; %llu errors %s\n",
              o.clients, secs, all.calls / secs, all.events / secs, p50, p99,
              static_cast<unsigned long long>(all.errors), all.first_error.c_str());
  std::printf("{\"mode\":\"read\",\"clients\":%d,\"event_size\":%d,\"duration_s\":%.1f,\"reads_per_s\":%.0f,"
              "\"events_per_s\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"errors\":%llu%s}\n",
              o.clients, o.event_size, secs, all.calls / secs, all.events / secs, p50, p99,
              static_cast<unsigned long long>(all.errors), CpuFields(all).c_str());
  return all.errors > 0 ? 1 : 0;
}

// The access-request export (PrivacyService.ExportSubjectData, JSON) of a
// random client history, one at a time per client thread.
int RunExport(const Options& o) {
  const int streams = std::max(1, o.streams);
  if (!o.reuse && WriteHistories(o, Channels(o)) < 0) return 2;
  std::vector<std::shared_ptr<grpc::Channel>> channels = Channels(o, o.privacy);
  auto [all, secs] = ClosedLoop(o, [&](int c) -> Call {
    auto stub = std::shared_ptr<caseledger::v1::PrivacyService::Stub>(
        caseledger::v1::PrivacyService::NewStub(channels[c % channels.size()]));
    auto rng = std::make_shared<std::mt19937>(c);
    return [&, stub, rng](Result& r) {
      caseledger::v1::ExportSubjectDataRequest req;
      req.set_client_id(HistoryId(o, std::uniform_int_distribution<int>(0, streams - 1)(*rng)));
      req.set_format(caseledger::v1::EXPORT_FORMAT_JSON);
      caseledger::v1::ExportSubjectDataResponse resp;
      grpc::Status st = stub->ExportSubjectData(Ctx().get(), req, &resp);
      if (st.ok()) {
        r.events += 100;
      } else {
        r.Error(st.error_message());
      }
    };
  });
  const double p50 = Percentile(all.latency_ms, 0.5), p99 = Percentile(all.latency_ms, 0.99);
  std::printf("export: %d clients exporting 100-event histories (JSON) for %.1f s: %.0f exports/s; p50 %.2f "
              "p99 %.2f ms; %llu errors %s\n",
              o.clients, secs, all.calls / secs, p50, p99, static_cast<unsigned long long>(all.errors),
              all.first_error.c_str());
  std::printf("{\"mode\":\"export\",\"clients\":%d,\"duration_s\":%.1f,\"exports_per_s\":%.0f,"
              "\"events_per_s\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"errors\":%llu%s}\n",
              o.clients, secs, all.calls / secs, all.events / secs, p50, p99,
              static_cast<unsigned long long>(all.errors), CpuFields(all).c_str());
  return all.errors > 0 ? 1 : 0;
}

// The cheapest call the server has (grpc.health.v1 Check, no storage): what
// gRPC with TLS costs on this machine, the ceiling for every other mode.
int RunPing(const Options& o) {
  std::vector<std::shared_ptr<grpc::Channel>> channels = Channels(o);
  auto [all, secs] = AsyncClosedLoop(o, [&](int c) -> AsyncCall {
    auto stub = std::shared_ptr<grpc::health::v1::Health::Stub>(
        grpc::health::v1::Health::NewStub(channels[c % channels.size()]));
    return [stub](Result& r, std::function<void()> done) {
      auto call = std::make_shared<InFlight<grpc::health::v1::HealthCheckRequest, grpc::health::v1::HealthCheckResponse>>();
      stub->async()->Check(call->ctx.get(), &call->req, &call->resp,
                           [call, done = std::move(done), &r = r](grpc::Status st) {
                             if (!st.ok()) r.Error(st.error_message());
                             done();
                           });
    };
  });
  const double p50 = Percentile(all.latency_ms, 0.5), p99 = Percentile(all.latency_ms, 0.99),
               p999 = Percentile(all.latency_ms, 0.999);
  std::printf("ping: %d clients calling grpc.health.v1 Check for %.1f s: %.0f calls/s; p50 %.2f p99 %.2f p99.9 %.2f "
              "ms; %llu errors %s\n",
              o.clients, secs, all.calls / secs, p50, p99, p999, static_cast<unsigned long long>(all.errors),
              all.first_error.c_str());
  std::printf("{\"mode\":\"ping\",\"clients\":%d,\"duration_s\":%.1f,\"calls_per_s\":%.0f,\"events_per_s\":0,"
              "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"errors\":%llu%s}\n",
              o.clients, secs, all.calls / secs, p50, p99, p999, static_cast<unsigned long long>(all.errors),
              CpuFields(all).c_str());
  return all.errors > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  // As caseledgerd does: Debian's Abseil checks every Mutex acquisition (gRPC's
  // locks) for lock-order cycles; GraphCycles was 2% of this client's CPU
  // under history reads, on the cores the server shares.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  Options o;
  o.run_id = absl::StrCat(absl::ToUnixSeconds(absl::Now()) % 1000000);
  CLI::App app{"caseledger-bench — load generator for caseledgerd (gRPC, TLS)"};
  app.add_option("--addr", o.addr, "caseledgerd address")->capture_default_str();
  app.add_option("--tls-dir", o.tls_dir, "directory with ca.pem and NAME.pem/NAME.key")->capture_default_str();
  app.add_option("--as", o.identity, "identity for appends and reads (a partner)")->capture_default_str();
  app.add_option("--admin", o.admin, "identity for the projection-lag probe (admin role)")->capture_default_str();
  app.add_option("--ca", o.ca, "CA certificate (instead of --tls-dir: then also --cert and --key)");
  app.add_option("--cert", o.cert, "client certificate");
  app.add_option("--key", o.key, "client key");
  app.add_option("--mode", o.mode, "append, read, export, load, ping or raw-rocksdb")
      ->check(CLI::IsMember({"append", "read", "export", "load", "ping", "raw-rocksdb"}))->capture_default_str();
  app.add_option("--clients", o.clients, "concurrent clients")->capture_default_str();
  app.add_option("--events-per-append", o.events_per_append, "events per AppendEvents call")->capture_default_str();
  app.add_option("--event-size", o.event_size, "bytes per event, roughly")->capture_default_str();
  app.add_option("--duration", o.duration, "seconds to measure")->capture_default_str();
  app.add_option("--lag-poll-ms", o.lag_poll_ms,
                 "append: how often the projection-lag sampler asks for the checkpoint while it waits")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 50.0));
  app.add_option("--streams", o.streams, "client streams (append: spread over the clients; read: histories)")
      ->capture_default_str();
  app.add_option("--dir", o.dir, "raw-rocksdb: directory (default a temporary one)");
  app.add_option("--run-id", o.run_id, "distinguishes this run's client ids")->capture_default_str();
  app.add_option("--privacy", o.privacy, "identity for --mode export (privacy-officer role)")->capture_default_str();
  app.add_option("--server-pid", o.server_pid,
                 "a caseledgerd on this machine: report its CPU per call over the measured seconds")
      ->check(CLI::PositiveNumber);
  app.add_flag("--reuse", o.reuse,
               "read/export: use the histories a --mode load with the same --run-id wrote, write none");
  CLI11_PARSE(app, argc, argv);
  if (!o.ca.empty() || !o.cert.empty() || !o.key.empty()) {
    // Explicit files: lay them out as a tls dir for tools::Connect.
    const std::string dir = (std::filesystem::temp_directory_path() / ("bench-tls-" + o.run_id)).string();
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(o.ca, dir + "/ca.pem", std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(o.cert, dir + "/bench.pem", std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(o.key, dir + "/bench.key", std::filesystem::copy_options::overwrite_existing);
    o.tls_dir = dir;
    o.identity = "bench";
  }
  if (o.clients < 1 || o.events_per_append < 1 || o.events_per_append > 1000 || o.event_size < 1) {
    std::cerr << "caseledger-bench: --clients >= 1, --events-per-append 1..1000, --event-size >= 1\n";
    return 2;
  }
  if (o.server_pid > 0 && ProcessCpuSeconds(o.server_pid) < 0) {
    std::cerr << "caseledger-bench: cannot read /proc/" << o.server_pid
              << "/stat; --server-pid must be the process id of a caseledgerd running on this machine\n";
    return 2;
  }
  if (o.mode == "raw-rocksdb") return RunRawRocksDb(o);
  if (o.mode == "read") return RunRead(o);
  if (o.mode == "ping") return RunPing(o);
  if (o.mode == "load") return RunLoad(o);
  if (o.mode == "export") return RunExport(o);
  return RunAppend(o);
}
