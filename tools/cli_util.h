// Small helpers shared by the caseledger CLI's subcommands: printing a gRPC
// error the way the docs show it, a call context with a deadline and the
// acting user, and protobuf JSON with the proto's field names.
#ifndef CASELEDGER_TOOLS_CLI_UTIL_H_
#define CASELEDGER_TOOLS_CLI_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/json_util.h"

namespace caseledger::tools {

// gRPC code names as partners see them in our docs (gRPC and Abseil share the codes).
inline std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// Prints "error: CODE: message" to stderr; returns the exit code 1.
inline int Fail(const grpc::Status& status) {
  std::cerr << "error: " << CodeName(status.error_code()) << ": " << status.error_message() << "\n";
  return 1;
}

inline int Fail(const absl::Status& status) {
  std::cerr << "error: " << status.message() << "\n";
  return 1;
}

// A context with a deadline (`seconds`; 0 = none) and x-user-id.
inline std::unique_ptr<grpc::ClientContext> NewContext(const std::string& user, int seconds = 30) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (seconds > 0) ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  if (!user.empty()) ctx->AddMetadata("x-user-id", user);
  return ctx;
}

// One line of protobuf JSON with the proto's field names.
inline std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}";
  return out;
}

inline std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(ts.seconds()), absl::UTCTimeZone());
}

}  // namespace caseledger::tools

#endif  // CASELEDGER_TOOLS_CLI_UTIL_H_
