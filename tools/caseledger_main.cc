// caseledger: the command-line client of caseledgerd.
//
// Every subcommand connects with mutual TLS as one identity (--as NAME picks
// NAME.pem/NAME.key from --tls-dir). Errors print the gRPC code and message
// and exit non-zero.
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "caseledger/v1/admin_service.grpc.pb.h"
#include "grpc_probe/health.grpc.pb.h"
#include "grpc_probe/reflection.grpc.pb.h"
#include "tools/connection.h"

namespace {

std::string EnvOr(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::move(fallback);
}

// gRPC code names as partners see them in our docs.
const char* CodeName(grpc::StatusCode code) {
  static const char* kNames[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
                                 "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
                                 "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
                                 "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? kNames[i] : "UNKNOWN";
}

int Fail(const grpc::Status& status) {
  std::cerr << "error: " << CodeName(status.error_code()) << ": " << status.error_message() << "\n";
  return 1;
}

std::unique_ptr<grpc::ClientContext> NewContext(const std::string& user) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!user.empty()) ctx->AddMetadata("x-user-id", user);
  return ctx;
}

}  // namespace

int main(int argc, char** argv) {
  caseledger::tools::ConnectionOptions conn;
  conn.server = EnvOr("CASELEDGER_SERVER", "127.0.0.1:7443");
  conn.tls_dir = EnvOr("CASELEDGER_TLS_DIR", EnvOr("CASELEDGER_DATA", "var") + "/tls");
  std::string user = EnvOr("USER", "");
  bool json = false;

  CLI::App app{"caseledger — command-line client of the caseledger event ledger"};
  app.require_subcommand(1);
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

  CLI11_PARSE(app, argc, argv);

  auto channel = caseledger::tools::Connect(conn);
  if (!channel.ok()) {
    std::cerr << "error: " << channel.status().message() << "\n";
    return 1;
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
  return 0;
}
