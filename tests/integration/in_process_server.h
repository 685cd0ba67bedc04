// The real LedgerServer, started in the test process on a free loopback port
// with mutual TLS and freshly generated development certificates, so a test
// can talk to it over the wire and still look into its store.
#ifndef CASELEDGER_TESTS_INTEGRATION_IN_PROCESS_SERVER_H_
#define CASELEDGER_TESTS_INTEGRATION_IN_PROCESS_SERVER_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "services/server.h"
#include "tests/integration/connected_channel.h"
#include "tests/test_util.h"
#include "tools/connection.h"

namespace caseledger::testing {

class InProcessServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string cmd = absl::StrCat(CASELEDGER_SOURCE_DIR, "/deploy/make-certs.sh ",
                                   dir_.Sub("tls"), " >/dev/null");
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    StartServer();
  }

  // (Re)starts the server on the same data directory.
  void StartServer() {
    server_.reset();
    services::ServerConfig config;
    config.data_dir = dir_.path();
    config.listen_address = "127.0.0.1:0";
    config.tls_ca_file = dir_.Sub("tls/ca.pem");
    config.tls_cert_file = dir_.Sub("tls/server.pem");
    config.tls_key_file = dir_.Sub("tls/server.key");
    config.store_options.min_free_bytes = 16 << 20;  // test machines may have little disk
    Configure(config);
    auto server = services::LedgerServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // Tests adjust the configuration here (e.g. turn metrics on).
  virtual void Configure(services::ServerConfig&) {}

  // A new channel as `identity`, connected before it is returned
  // (connected_channel.h).
  std::shared_ptr<grpc::Channel> Channel(const std::string& identity) {
    tools::ConnectionOptions options;
    options.server = absl::StrCat("127.0.0.1:", server_->port());
    options.tls_dir = dir_.Sub("tls");
    options.identity = identity;
    return ConnectedChannel(options);
  }

  static void Prepare(grpc::ClientContext& ctx, const std::string& user) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    if (!user.empty()) ctx.AddMetadata("x-user-id", user);
  }

  ScopedTempDir dir_;
  std::unique_ptr<services::LedgerServer> server_;
};

}  // namespace caseledger::testing

#endif  // CASELEDGER_TESTS_INTEGRATION_IN_PROCESS_SERVER_H_
