// A channel to a test server, connected before it is returned.
//
// gRPC fails a call at once when its channel's first connection attempt
// fails, and on a loaded machine one now and then does: "failed to connect to
// all addresses; last error: UNKNOWN: ipv4:127.0.0.1:PORT: No such file or
// directory", seen in CI (OverloadTest on 2026-12-02,
// LedgerApiTest.ConcurrentAppendsWithAnyVersion... on 488efb0) and under load
// here, before the server saw a call. Waiting for the connection lets the
// channel try again, so a test fails only for what it tests. Without an
// identity there is no client certificate and the server refuses the
// handshake, so that channel is returned unconnected.
//
// Thread-safety: a pure function; safe to call from any thread.
#ifndef CASELEDGER_TESTS_INTEGRATION_CONNECTED_CHANNEL_H_
#define CASELEDGER_TESTS_INTEGRATION_CONNECTED_CHANNEL_H_

#include <grpcpp/channel.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "tools/connection.h"

namespace caseledger::testing {

inline std::shared_ptr<grpc::Channel> ConnectedChannel(const tools::ConnectionOptions& options) {
  auto channel = tools::Connect(options);
  EXPECT_TRUE(channel.ok()) << channel.status();
  if (!channel.ok()) return nullptr;
  if (!options.identity.empty()) {
    EXPECT_TRUE((*channel)->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(20)))
        << "could not connect to " << options.server << " as " << options.identity << " in 20 s";
  }
  return *channel;
}

}  // namespace caseledger::testing

#endif  // CASELEDGER_TESTS_INTEGRATION_CONNECTED_CHANNEL_H_
