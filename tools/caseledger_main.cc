// caseledger: the command-line client of caseledgerd.
//
// Every subcommand connects with mutual TLS as one identity (--as NAME picks
// NAME.pem/NAME.key from --tls-dir). Errors print the gRPC code and message
// and exit non-zero.
#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "caseledger/v1/admin_service.grpc.pb.h"
#include "caseledger/v1/audit_service.grpc.pb.h"
#include "caseledger/v1/ledger_service.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpc_probe/health.grpc.pb.h"
#include "grpc_probe/reflection.grpc.pb.h"
#include "tools/caseload_commands.h"
#include "tools/cli_util.h"
#include "tools/privacy_commands.h"
#include "tools/connection.h"
#include "tools/demo_caseload.h"
#include "tools/replay_verifier.h"

namespace {

using caseledger::tools::CodeName;
using caseledger::tools::Fail;
using caseledger::tools::FormatTimestamp;
using caseledger::tools::NewContext;
using caseledger::tools::ToJson;

std::string EnvOr(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::move(fallback);
}

// One line per event, as in `read` and `tail`.
void PrintEventRow(const caseledger::v1::Event& e) {
  const auto& env = e.envelope();
  std::cout << absl::StrFormat("%-6d %-8d %-16s %-24s %-18s %s\n", env.stream_version(),
                               env.global_position(), FormatTimestamp(env.occurred_at()), env.type(),
                               env.organisation(), env.user_id());
}

void PrintEventHeader(bool with_client) {
  if (with_client) std::cout << absl::StrFormat("%-10s ", "cliënt");
  std::cout << absl::StrFormat("%-6s %-8s %-16s %-24s %-18s %s\n", "versie", "positie",
                               "tijdstip (UTC)", "gebeurtenis", "organisatie", "gebruiker");
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::ostringstream buf;
  if (path.empty() || path == "-") {
    buf << std::cin.rdbuf();
  } else {
    std::ifstream in(path);
    if (!in) return absl::NotFoundError("cannot read " + path);
    buf << in.rdbuf();
  }
  return buf.str();
}

// "any", "none", "exists" or a version number.
absl::StatusOr<caseledger::v1::ExpectedVersion> ParseExpected(const std::string& text) {
  caseledger::v1::ExpectedVersion e;
  if (text == "any") {
    e.set_any(true);
  } else if (text == "none") {
    e.set_no_stream(true);
  } else if (text == "exists") {
    e.set_stream_exists(true);
  } else {
    uint64_t v = 0;
    if (!absl::SimpleAtoi(text, &v)) {
      return absl::InvalidArgumentError("--expect takes any, none, exists or a version number, not '" + text + "'");
    }
    e.set_exact(v);
  }
  return e;
}

// The whole command; every channel and stub it makes is gone when it returns.
int Run(int argc, char** argv);

}  // namespace

// gRPC's last clean-up otherwise runs on a thread of its own while the
// process exits (LeakSanitizer then saw its objects half freed); holding a
// reference and ending with grpc_shutdown_blocking exits only once it is done.
int main(int argc, char** argv) {
  grpc_init();
  const int status = Run(argc, argv);
  grpc_shutdown_blocking();
  return status;
}

namespace {

int Run(int argc, char** argv) {
  caseledger::tools::ConnectionOptions conn;
  conn.server = EnvOr("CASELEDGER_SERVER", "127.0.0.1:7443");
  conn.tls_dir = EnvOr("CASELEDGER_TLS_DIR", EnvOr("CASELEDGER_DATA", "var") + "/tls");
  std::string user = EnvOr("USER", "");
  bool json = false;

  CLI::App app{"caseledger — command-line client of the caseledger event ledger"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand: `read c-1 --json`
  app.add_option("--server", conn.server, "caseledgerd address (env CASELEDGER_SERVER)")
      ->capture_default_str();
  app.add_option("--tls-dir", conn.tls_dir, "directory with ca.pem and NAME.pem/NAME.key")
      ->capture_default_str();
  app.add_option("--as", conn.identity,
                 "identity to present: vluchtelingenwerk, goedwerk, askv, gemeente, auditor, "
                 "privacy-officer or admin")
      ->capture_default_str();
  app.add_option("--user", user, "acting person, sent as x-user-id")->capture_default_str();
  app.add_flag("--insecure", conn.insecure, "plaintext, for a server started with --insecure");
  app.add_flag("--json", json, "print machine-readable JSON");

  auto* health = app.add_subcommand("health", "check that the server is SERVING (grpc.health.v1)");
  auto* services = app.add_subcommand("services", "list the services the server offers (reflection)");
  auto* info = app.add_subcommand("info", "show the ledger's head position and hash (admin role)");

  std::string append_file, append_client, append_expect;
  auto* append = app.add_subcommand(
      "append",
      "append events: an AppendEventsRequest as protobuf JSON from FILE or stdin (partner role)");
  append->add_option("file", append_file, "JSON file; '-' or absent: stdin");
  append->add_option("--client", append_client, "client id (overrides client_id in the JSON)");
  append->add_option("--expect", append_expect,
                     "expected version: any, none, exists or N (overrides the JSON)");

  std::string read_client;
  uint64_t read_from = 0;
  uint32_t read_limit = 0;
  bool read_backward = false, read_all_pages = false;
  std::string read_purpose = "inzage via caseledger CLI";
  auto* read = app.add_subcommand("read", "show a client's events (version order)");
  read->add_option("client", read_client, "client id, e.g. c-100001")->required();
  read->add_option("--from", read_from, "first version (backward: last; 0 = newest)");
  read->add_option("--limit", read_limit, "events per page (1..1000, default 100)");
  read->add_flag("--backward", read_backward, "newest first");
  read->add_flag("--all", read_all_pages, "follow next_version until the end");
  read->add_option("--purpose", read_purpose, "why you read (recorded with the read)")->capture_default_str();

  uint64_t tail_from = 0;
  int64_t tail_count = -1;
  auto* tail = app.add_subcommand("tail", "follow the global log live (auditor role)");
  tail->add_option("--from", tail_from, "global position to start at (a checkpoint); 0 = start");
  tail->add_option("--count", tail_count, "stop after this many events");

  bool backup_list = false;
  auto* backup = app.add_subcommand("backup", "make an online backup of the whole ledger (admin role)");
  backup->add_flag("--list", backup_list, "list the backups instead of making one");

  std::string pubkey_out;
  auto* pubkey = app.add_subcommand("pubkey", "print the ledger's Ed25519 tree-head public key (PEM)");
  pubkey->add_option("-o,--output", pubkey_out, "write it to this file instead");
  auto* tree_head = app.add_subcommand("tree-head", "fetch the current signed tree head (auditor role)");
  uint64_t verify_from = 0, verify_to = 0;
  auto* verify_chain = app.add_subcommand(
      "verify-chain", "have the server recompute every event's hash and link (auditor role)");
  verify_chain->add_option("--from", verify_from, "first global position (0 = start)");
  verify_chain->add_option("--to", verify_to, "last global position (0 = end)");

  std::string replay_client, replay_out, replay_purpose = "controle";
  auto* replay = app.add_subcommand(
      "replay", "save a client's full history with proofs against one signed tree head (auditor role)");
  replay->add_option("client", replay_client, "client id")->required();
  replay->add_option("-o,--output", replay_out, "file to write (protobuf JSON); default stdout");
  replay->add_option("--purpose", replay_purpose, "why you replay (recorded)")->capture_default_str();

  std::string verify_replay, verify_pubkey, verify_old_head, verify_new_head;
  auto* verify = app.add_subcommand(
      "verify",
      "check a saved replay offline, or two saved tree heads for consistency, with the public key only");
  verify->add_option("--pubkey", verify_pubkey, "the ledger's public key (from `caseledger pubkey -o`)")
      ->required();
  verify->add_option("--replay", verify_replay, "a file saved by `caseledger replay` (checked offline)");
  verify->add_option("--old-head", verify_old_head, "an older tree head saved by `tree-head --json`");
  verify->add_option("--new-head", verify_new_head, "a newer tree head (the proof is fetched, then checked here)");

  caseledger::tools::DemoOptions demo_options;
  int demo_threads = 4;
  auto* demo = app.add_subcommand(
      "demo", "load a synthetic LVV caseload through the API, as vluchtelingenwerk and goedwerk");
  demo->add_option("--clients", demo_options.clients, "number of clients")->capture_default_str();
  demo->add_option("--seed", demo_options.seed, "seed; the same seed on the same day loads the same events")
      ->capture_default_str();
  demo->add_option("--threads", demo_threads, "parallel connections")->capture_default_str();

  caseledger::tools::CaseloadCommands caseload_commands(app);
  caseledger::tools::PrivacyCommands privacy_commands(app);

  CLI11_PARSE(app, argc, argv);

  auto read_json = [](const std::string& path, google::protobuf::Message* message) -> absl::Status {
    auto text = ReadInput(path);
    if (!text.ok()) return text.status();
    auto parsed = google::protobuf::util::JsonStringToMessage(*text, message);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, " is not a ", message->GetTypeName(),
                                                     " in protobuf JSON: ", parsed.message().as_string()));
    }
    return absl::OkStatus();
  };
  std::string pem;
  if (verify->parsed()) {
    auto key = ReadInput(verify_pubkey);
    if (!key.ok()) {
      std::cerr << "error: " << key.status().message() << "\n";
      return 1;
    }
    pem = *key;
  }
  if (verify->parsed() && !verify_replay.empty()) {
    caseledger::v1::ClientReplay saved;
    absl::Status loaded = read_json(verify_replay, &saved);
    if (!loaded.ok()) {
      std::cerr << "error: " << loaded.message() << "\n";
      return 1;
    }
    auto check = caseledger::tools::VerifyClientReplay(saved, pem);
    if (!check.ok()) {
      std::cout << "NIET IN ORDE (verification failed): " << check.status().message() << "\n";
      return 3;
    }
    std::cout << "in orde (verified): client " << saved.client_id() << ", " << check->events
              << " gebeurtenissen, against the signed tree head of size " << check->tree_size
              << " (key " << saved.tree_head().key_id() << ")\n";
    return 0;
  }
  if (verify->parsed() && (verify_old_head.empty() || verify_new_head.empty())) {
    std::cerr << "error: give --replay FILE, or both --old-head and --new-head\n";
    return 1;
  }

  auto channel = caseledger::tools::Connect(conn);
  if (!channel.ok()) {
    std::cerr << "error: " << channel.status().message() << "\n";
    return 1;
  }

  if (std::optional<int> code = caseload_commands.Run(*channel, user, json); code.has_value()) {
    return *code;
  }
  if (std::optional<int> code = privacy_commands.Run(*channel, user, json); code.has_value()) {
    return *code;
  }

  if (health->parsed()) {
    grpc::health::v1::Health::Stub stub(*channel);
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    auto ctx = NewContext(user);
    grpc::Status s = stub.Check(ctx.get(), req, &resp);
    if (!s.ok()) return Fail(s);
    const std::string& name = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
    if (json) {
      std::cout << "{\"status\":\"" << name << "\"}\n";
    } else {
      std::cout << name << "\n";
    }
    return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 2;
  }

  if (services->parsed()) {
    grpc::reflection::v1alpha::ServerReflection::Stub stub(*channel);
    auto ctx = NewContext(user);
    auto stream = stub.ServerReflectionInfo(ctx.get());
    grpc::reflection::v1alpha::ServerReflectionRequest req;
    req.set_list_services("");
    grpc::reflection::v1alpha::ServerReflectionResponse resp;
    if (!stream->Write(req) || !stream->Read(&resp)) return Fail(stream->Finish());
    stream->WritesDone();
    grpc::Status s = stream->Finish();
    if (!s.ok()) return Fail(s);
    if (json) std::cout << "[";
    bool first = true;
    for (const auto& svc : resp.list_services_response().service()) {
      if (json) {
        std::cout << (first ? "" : ",") << "\"" << svc.name() << "\"";
      } else {
        std::cout << svc.name() << "\n";
      }
      first = false;
    }
    if (json) std::cout << "]\n";
    return 0;
  }

  if (info->parsed()) {
    caseledger::v1::AdminService::Stub stub(*channel);
    caseledger::v1::GetLedgerInfoRequest req;
    caseledger::v1::GetLedgerInfoResponse resp;
    auto ctx = NewContext(user);
    grpc::Status s = stub.GetLedgerInfo(ctx.get(), req, &resp);
    if (!s.ok()) return Fail(s);
    std::string hash = absl::BytesToHexString(resp.last_hash());
    if (json) {
      std::cout << "{\"server_version\":\"" << resp.server_version()
                << "\",\"last_position\":" << resp.last_position() << ",\"last_hash\":\"" << hash
                << "\",\"caller_organisation\":\"" << resp.caller_organisation()
                << "\",\"caller_role\":\"" << resp.caller_role() << "\"}\n";
    } else {
      std::cout << "server version   " << resp.server_version() << "\n"
                << "laatste positie  " << resp.last_position() << "  (last position)\n"
                << "laatste hash     " << hash << "  (last hash)\n"
                << "u bent           " << resp.caller_organisation() << " ("
                << resp.caller_role() << ")\n";
    }
    return 0;
  }
  if (append->parsed()) {
    auto input = ReadInput(append_file);
    if (!input.ok()) {
      std::cerr << "error: " << input.status().message() << "\n";
      return 1;
    }
    caseledger::v1::AppendEventsRequest req;
    auto parsed = google::protobuf::util::JsonStringToMessage(*input, &req);
    if (!parsed.ok()) {
      std::cerr << "error: the input is not an AppendEventsRequest in protobuf JSON: " << parsed.message() << "\n";
      return 1;
    }
    if (!append_client.empty()) req.set_client_id(append_client);
    if (!append_expect.empty()) {
      auto expected = ParseExpected(append_expect);
      if (!expected.ok()) {
        std::cerr << "error: " << expected.status().message() << "\n";
        return 1;
      }
      *req.mutable_expected_version() = *expected;
    }
    auto stub = caseledger::v1::LedgerService::NewStub(*channel);
    caseledger::v1::AppendEventsResponse resp;
    auto ctx = NewContext(user);
    grpc::Status s = stub->AppendEvents(ctx.get(), req, &resp);
    if (!s.ok()) return Fail(s);
    if (json) {
      std::cout << ToJson(resp) << "\n";
    } else {
      std::cout << (resp.deduplicated() ? "al vastgelegd (already recorded, nothing written)"
                                        : "vastgelegd (recorded)")
                << ": client " << req.client_id() << " is now at version " << resp.stream_version()
                << ", positions";
      for (uint64_t p : resp.global_positions()) std::cout << " " << p;
      std::cout << "\n";
    }
    return 0;
  }

  if (read->parsed()) {
    auto stub = caseledger::v1::LedgerService::NewStub(*channel);
    caseledger::v1::ReadClientEventsRequest req;
    req.set_client_id(read_client);
    req.set_from_version(read_from);
    req.set_limit(read_limit);
    req.set_purpose(read_purpose);
    req.set_direction(read_backward ? caseledger::v1::READ_DIRECTION_BACKWARD
                                    : caseledger::v1::READ_DIRECTION_FORWARD);
    bool header_printed = json;
    while (true) {
      caseledger::v1::ReadClientEventsResponse resp;
      auto ctx = NewContext(user);
      grpc::Status s = stub->ReadClientEvents(ctx.get(), req, &resp);
      if (!s.ok()) return Fail(s);
      if (!header_printed) {
        PrintEventHeader(false);
        header_printed = true;
      }
      for (const auto& e : resp.events()) {
        if (json) {
          std::cout << ToJson(e) << "\n";
        } else {
          PrintEventRow(e);
        }
      }
      if (!read_all_pages || resp.next_version() == 0) {
        if (!json && resp.next_version() != 0) {
          std::cerr << "meer: --from " << resp.next_version() << " (more; or use --all)\n";
        }
        return 0;
      }
      req.set_from_version(resp.next_version());
    }
  }

  if (tail->parsed()) {
    auto stub = caseledger::v1::LedgerService::NewStub(*channel);
    grpc::ClientContext ctx;
    if (!user.empty()) ctx.AddMetadata("x-user-id", user);
    caseledger::v1::SubscribeRequest req;
    req.set_from_position(tail_from);
    auto reader = stub->Subscribe(&ctx, req);
    caseledger::v1::SubscribeResponse item;
    int64_t seen = 0;
    if (!json) {
      std::cout << absl::StrFormat("%-10s ", "cliënt");
      PrintEventHeader(false);
    }
    while (reader->Read(&item)) {
      if (item.has_event()) {
        if (json) {
          std::cout << ToJson(item) << "\n";
        } else {
          std::cout << absl::StrFormat("%-10s ", item.event().envelope().client_id());
          PrintEventRow(item.event());
        }
        std::cout.flush();
        if (tail_count >= 0 && ++seen >= tail_count) {
          ctx.TryCancel();
          reader->Finish().IgnoreError();
          return 0;
        }
      } else if (json) {
        std::cout << ToJson(item) << "\n";
        std::cout.flush();
      }
    }
    return Fail(reader->Finish());
  }

  if (backup->parsed()) {
    auto stub = caseledger::v1::AdminService::NewStub(*channel);
    std::vector<caseledger::v1::BackupInfo> shown;
    grpc::ClientContext ctx;  // no deadline: a large ledger takes time
    if (!user.empty()) ctx.AddMetadata("x-user-id", user);
    if (backup_list) {
      caseledger::v1::ListBackupsResponse resp;
      grpc::Status s = stub->ListBackups(&ctx, caseledger::v1::ListBackupsRequest(), &resp);
      if (!s.ok()) return Fail(s);
      shown.assign(resp.backups().begin(), resp.backups().end());
    } else {
      if (!json) std::cerr << "backup: bezig (in progress)…\n";
      caseledger::v1::BackupInfo info;
      grpc::Status s = stub->CreateBackup(&ctx, caseledger::v1::CreateBackupRequest(), &info);
      if (!s.ok()) return Fail(s);
      shown.push_back(info);
    }
    for (const auto& b : shown) {
      if (json) {
        std::cout << ToJson(b) << "\n";
      } else {
        std::cout << "backup " << b.backup_id() << "  " << FormatTimestamp(b.created_at()) << " UTC  "
                  << b.size_bytes() << " bytes, " << b.files() << " files, events up to position "
                  << b.position_at_start() << ", in " << b.directory() << "\n";
      }
    }
    return 0;
  }

  if (pubkey->parsed()) {
    auto stub = caseledger::v1::AuditService::NewStub(*channel);
    caseledger::v1::PublicKey key;
    auto ctx = NewContext(user);
    grpc::Status s = stub->GetPublicKey(ctx.get(), caseledger::v1::GetPublicKeyRequest(), &key);
    if (!s.ok()) return Fail(s);
    if (!pubkey_out.empty()) {
      std::ofstream out(pubkey_out);
      out << key.pem();
      if (!out) {
        std::cerr << "error: cannot write " << pubkey_out << "\n";
        return 1;
      }
      std::cout << "publieke sleutel (public key) " << key.key_id() << " written to " << pubkey_out << "\n";
    } else if (json) {
      std::cout << ToJson(key) << "\n";
    } else {
      std::cout << key.pem();
    }
    return 0;
  }

  if (tree_head->parsed()) {
    auto stub = caseledger::v1::AuditService::NewStub(*channel);
    caseledger::v1::SignedTreeHead head;
    auto ctx = NewContext(user);
    grpc::Status s = stub->GetTreeHead(ctx.get(), caseledger::v1::GetTreeHeadRequest(), &head);
    if (!s.ok()) return Fail(s);
    if (json) {
      std::cout << ToJson(head) << "\n";
    } else {
      std::cout << "boomgrootte (tree size)  " << head.tree_size() << "\n"
                << "wortel (root hash)       " << absl::BytesToHexString(head.root_hash()) << "\n"
                << "tijdstip (timestamp)     " << FormatTimestamp(head.timestamp()) << " UTC\n"
                << "sleutel (key id)         " << head.key_id() << "\n"
                << "handtekening (signature) " << absl::BytesToHexString(head.signature()) << "\n";
    }
    return 0;
  }

  if (verify_chain->parsed()) {
    auto stub = caseledger::v1::AuditService::NewStub(*channel);
    caseledger::v1::VerifyChainRequest req;
    req.set_from_position(verify_from);
    req.set_to_position(verify_to);
    caseledger::v1::VerifyChainResponse resp;
    grpc::ClientContext ctx;
    if (!user.empty()) ctx.AddMetadata("x-user-id", user);  // no deadline: a long log takes time
    grpc::Status s = stub->VerifyChain(&ctx, req, &resp);
    if (!s.ok()) return Fail(s);
    if (json) {
      std::cout << ToJson(resp) << "\n";
    } else if (resp.intact()) {
      std::cout << "keten intact (chain intact): " << resp.checked() << " gebeurtenissen gecontroleerd\n";
    } else {
      std::cout << "keten GEBROKEN (chain broken) at global position " << resp.first_broken_position()
                << ": " << resp.problem() << "\n";
    }
    return resp.intact() ? 0 : 3;
  }

  if (replay->parsed()) {
    auto stub = caseledger::v1::AuditService::NewStub(*channel);
    grpc::ClientContext ctx;
    if (!user.empty()) ctx.AddMetadata("x-user-id", user);
    caseledger::v1::ReplayClientRequest req;
    req.set_client_id(replay_client);
    req.set_purpose(replay_purpose);
    auto reader = stub->ReplayClient(&ctx, req);
    caseledger::v1::ClientReplay saved;
    saved.set_client_id(replay_client);
    caseledger::v1::ReplayItem item;
    while (reader->Read(&item)) {
      if (item.has_tree_head()) *saved.mutable_tree_head() = item.tree_head();
      if (item.has_event()) *saved.add_events() = item.event();
    }
    grpc::Status s = reader->Finish();
    if (!s.ok()) return Fail(s);
    std::string text = ToJson(saved);
    if (replay_out.empty()) {
      std::cout << text << "\n";
    } else {
      std::ofstream out(replay_out);
      out << text << "\n";
      if (!out) {
        std::cerr << "error: cannot write " << replay_out << "\n";
        return 1;
      }
      std::cerr << "replay of " << replay_client << ": " << saved.events_size()
                << " gebeurtenissen, tree head size " << saved.tree_head().tree_size() << ", written to "
                << replay_out << "\n";
    }
    return 0;
  }

  if (verify->parsed()) {
    caseledger::v1::SignedTreeHead old_head, new_head;
    for (auto [path, head] : {std::pair{&verify_old_head, &old_head}, std::pair{&verify_new_head, &new_head}}) {
      absl::Status loaded = read_json(*path, head);
      if (!loaded.ok()) {
        std::cerr << "error: " << loaded.message() << "\n";
        return 1;
      }
    }
    auto stub = caseledger::v1::AuditService::NewStub(*channel);
    caseledger::v1::GetConsistencyProofRequest req;
    req.set_old_size(old_head.tree_size());
    req.set_new_size(new_head.tree_size());
    caseledger::v1::ConsistencyProof proof;
    auto ctx = NewContext(user);
    grpc::Status s = stub->GetConsistencyProof(ctx.get(), req, &proof);
    if (!s.ok()) return Fail(s);
    absl::Status consistent = caseledger::tools::VerifyHeadsConsistent(old_head, new_head, proof, pem);
    if (!consistent.ok()) {
      std::cout << "NIET IN ORDE (verification failed): " << consistent.message() << "\n";
      return 3;
    }
    std::cout << "in orde (verified): the tree head of size " << old_head.tree_size()
              << " is a prefix of the one of size " << new_head.tree_size() << "\n";
    return 0;
  }

  if (demo->parsed()) {
    // Batches grouped per client, in order; clients spread over the threads.
    std::vector<caseledger::tools::DemoBatch> batches = caseledger::tools::GenerateDemoCaseload(demo_options);
    std::map<std::string, std::vector<const caseledger::tools::DemoBatch*>> by_client;
    size_t total_events = 0;
    for (const auto& b : batches) {
      by_client[b.client_id].push_back(&b);
      total_events += b.events.size();
    }
    std::vector<const std::vector<const caseledger::tools::DemoBatch*>*> clients;
    for (const auto& [id, list] : by_client) clients.push_back(&list);

    std::map<std::string, std::unique_ptr<caseledger::v1::LedgerService::Stub>> stubs;
    for (const char* org : {"vluchtelingenwerk", "goedwerk"}) {
      caseledger::tools::ConnectionOptions o = conn;
      o.identity = org;
      auto c = caseledger::tools::Connect(o);
      if (!c.ok()) {
        std::cerr << "error: " << c.status().message() << "\n";
        return 1;
      }
      stubs[org] = caseledger::v1::LedgerService::NewStub(*c);
    }
    std::atomic<size_t> next{0}, done{0}, written{0}, present{0};
    std::atomic<bool> failed{false};
    std::string first_error;
    std::mutex error_mu;
    auto worker = [&] {
      for (size_t i = next++; i < clients.size() && !failed; i = next++) {
        for (const auto* batch : *clients[i]) {
          caseledger::v1::AppendEventsRequest req;
          req.set_client_id(batch->client_id);
          req.mutable_expected_version()->set_exact(batch->expected_version);
          for (const auto& e : batch->events) *req.add_events() = e;
          caseledger::v1::AppendEventsResponse resp;
          auto ctx = NewContext(batch->identity + "-demo");
          grpc::Status s = stubs[batch->identity]->AppendEvents(ctx.get(), req, &resp);
          if (s.ok()) {
            (resp.deduplicated() ? present : written) += batch->events.size();
          } else {
            std::lock_guard<std::mutex> lock(error_mu);
            if (!failed.exchange(true)) {
              first_error = absl::StrCat("client ", batch->client_id, ": ", CodeName(s.error_code()),
                                         ": ", s.error_message());
            }
            break;
          }
        }
        size_t d = ++done;
        if (!json && (d % 10 == 0 || d == clients.size())) {
          std::cerr << "\rdemo: " << d << "/" << clients.size() << " cliënten geladen" << std::flush;
        }
      }
    };
    absl::Time start = absl::Now();
    std::vector<std::thread> threads;
    for (int t = 0; t < std::max(1, demo_threads); ++t) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    if (!json) std::cerr << "\n";
    if (failed) {
      std::cerr << "error: " << first_error << "\n";
      return 1;
    }
    double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (json) {
      std::cout << "{\"clients\":" << clients.size() << ",\"events\":" << total_events
                << ",\"written\":" << written << ",\"already_present\":" << present
                << ",\"seconds\":" << seconds << "}\n";
    } else {
      std::cout << "demo: " << clients.size() << " cliënten, " << total_events << " gebeurtenissen ("
                << written << " nieuw vastgelegd, " << present << " waren al aanwezig) in "
                << absl::StrFormat("%.1f", seconds) << " s\n";
    }
    return 0;
  }
  return 0;
}

}  // namespace
