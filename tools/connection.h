// Connecting to caseledgerd as a given organisation, with mutual TLS.
//
// The TLS directory holds what deploy/make-certs.sh writes: ca.pem and, per
// identity, NAME.pem and NAME.key (e.g. goedwerk.pem / goedwerk.key).
//
// Thread-safety: pure functions; the returned channel is thread-safe.
#ifndef CASELEDGER_TOOLS_CONNECTION_H_
#define CASELEDGER_TOOLS_CONNECTION_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace caseledger::tools {

struct ConnectionOptions {
  std::string server = "127.0.0.1:7443";
  std::string tls_dir = "var/tls";
  std::string identity = "admin";  // which NAME.pem / NAME.key to present; empty: none
  bool insecure = false;           // plaintext, for a server started with --insecure
  // Extra gRPC channel arguments, e.g. {"grpc.http2.lookahead_bytes", 16384}.
  std::vector<std::pair<std::string, int>> int_args;
};

// Reads the certificate files and creates a channel. FAILED_PRECONDITION when
// a file is missing, naming it.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const ConnectionOptions& options);

}  // namespace caseledger::tools

#endif  // CASELEDGER_TOOLS_CONNECTION_H_
