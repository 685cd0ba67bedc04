// Starts the real caseledgerd binary for end-to-end tests, on a free loopback
// port, with its own data directory and the development certificates; stops
// it (SIGTERM) when the object goes away.
#ifndef CASELEDGER_TESTS_INTEGRATION_SERVER_PROCESS_H_
#define CASELEDGER_TESTS_INTEGRATION_SERVER_PROCESS_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc_probe/health.grpc.pb.h"
#include "tools/connection.h"

namespace caseledger::testing {

// A port the kernel just handed out on 127.0.0.1; free unless raced.
inline int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class ServerProcess {
 public:
  // `data_dir` must exist; its tls/ subdirectory must hold the certificates.
  // `port` 0 picks a free one; pass the old port to restart in the same place.
  ServerProcess(std::string data_dir, std::vector<std::string> extra_args = {}, int port = 0)
      : data_dir_(std::move(data_dir)), port_(port != 0 ? port : FreeLoopbackPort()) {
    address_ = absl::StrCat("127.0.0.1:", port_);
    log_path_ = absl::StrCat(data_dir_, "/caseledgerd-", port_, "-", ++starts_, ".log");
    // Metrics on a port of their own choosing, so tests can run side by side.
    std::vector<std::string> args = {CASELEDGERD_PATH, "--data-dir", data_dir_,
                                     "--metrics_listen", "127.0.0.1:0"};
    if (std::find(extra_args.begin(), extra_args.end(), "--listen") == extra_args.end()) {
      args.insert(args.end(), {"--listen", address_});
    }
    if (std::find(extra_args.begin(), extra_args.end(), "--min-free-mb") == extra_args.end()) {
      args.insert(args.end(), {"--min-free-mb", "16"});  // test machines may have little disk
    }
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    pid_ = fork();
    if (pid_ == 0) {
      FILE* log = fopen(log_path_.c_str(), "w");
      if (log) dup2(fileno(log), STDERR_FILENO);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }

  ~ServerProcess() { Stop(); }

  // Waits until the health service answers SERVING over mutual TLS. Polls the
  // TCP port first: a gRPC channel that met a closed port backs off for seconds.
  bool WaitUntilServing(absl::Duration timeout = absl::Seconds(20)) {
    absl::Time deadline = absl::Now() + timeout;
    while (!PortAccepts()) {
      if (Exited() || absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(20));
    }
    tools::ConnectionOptions options = Connection("admin");
    auto channel = tools::Connect(options);
    if (!channel.ok()) return false;
    grpc::health::v1::Health::Stub stub(*channel);
    while (absl::Now() < deadline) {
      if (Exited()) return false;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
      grpc::health::v1::HealthCheckRequest req;
      grpc::health::v1::HealthCheckResponse resp;
      if (stub.Check(&ctx, req, &resp).ok() &&
          resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
        return true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  // Sends SIGTERM and returns the exit status (-1 if it did not exit in time).
  int Stop(absl::Duration timeout = absl::Seconds(20)) {
    if (pid_ <= 0) return exit_status_;
    kill(pid_, SIGTERM);
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (Exited()) return exit_status_;
      absl::SleepFor(absl::Milliseconds(20));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return -1;
  }

  // SIGKILL: the process dies at once, mid-write if it was writing.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // True once the process has ended; its exit status is then in exit_status().
  bool Exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
      return true;
    }
    return false;
  }

  bool PortAccepts() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    return ok;
  }

  int exit_status() const { return exit_status_; }
  const std::string& address() const { return address_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  tools::ConnectionOptions Connection(const std::string& identity) const {
    tools::ConnectionOptions options;
    options.server = address_;
    options.tls_dir = data_dir_ + "/tls";
    options.identity = identity;
    return options;
  }

  std::string Log() const {
    std::ifstream in(log_path_);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  std::string data_dir_;
  int port_;
  std::string address_;
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_status_ = -1;
  static inline int starts_ = 0;
};

}  // namespace caseledger::testing

#endif  // CASELEDGER_TESTS_INTEGRATION_SERVER_PROCESS_H_
