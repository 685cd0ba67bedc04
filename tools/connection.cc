#include "tools/connection.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace caseledger::tools {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read ", path, "; pass --tls-dir pointing at the certificates (tools/run writes "
                              "them to var/tls)"));
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const ConnectionOptions& options) {
  if (options.insecure) {
    return grpc::CreateChannel(options.server, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions ssl;
  absl::StatusOr<std::string> ca = ReadFile(options.tls_dir + "/ca.pem");
  if (!ca.ok()) return ca.status();
  ssl.pem_root_certs = *ca;
  if (!options.identity.empty()) {
    absl::StatusOr<std::string> cert = ReadFile(options.tls_dir + "/" + options.identity + ".pem");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(options.tls_dir + "/" + options.identity + ".key");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  grpc::ChannelArguments args;
  for (const auto& [name, value] : options.int_args) args.SetInt(name, value);
  // Development certificates name "localhost" and 127.0.0.1; when the server is
  // addressed by IP the certificate's IP SAN is what gets checked.
  return grpc::CreateCustomChannel(options.server, grpc::SslCredentials(ssl), args);
}

}  // namespace caseledger::tools
