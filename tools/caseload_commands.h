// The caseload subcommands of the caseledger CLI: `caseload`, `case`,
// `signals`, `report quarterly|moments`, `projections` and `rebuild`.
//
// Owns: their options and their output. Tables by default, with Dutch column
// headers and labels (the words case managers use); `--json` prints protobuf
// JSON (one object per line for lists); the reports also print CSV (`--csv`)
// for the municipality's spreadsheets. Filters and enum values are accepted in
// Dutch or English, with or without the proto's prefix ("juridisch", "legal",
// "TRACK_LEGAL").
//
// Thread-safety: used from main's thread only.
#ifndef CASELEDGER_TOOLS_CASELOAD_COMMANDS_H_
#define CASELEDGER_TOOLS_CASELOAD_COMMANDS_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"

namespace caseledger::tools {

class CaseloadCommands {
 public:
  // Adds the subcommands to `app`.
  explicit CaseloadCommands(CLI::App& app);

  // Runs the subcommand that was parsed; nullopt when none of these was.
  // Returns the process exit code.
  std::optional<int> Run(const std::shared_ptr<grpc::Channel>& channel, const std::string& user,
                         bool json);

 private:
  int RunCaseload(const std::shared_ptr<grpc::Channel>& channel, const std::string& user, bool json);
  int RunCase(const std::shared_ptr<grpc::Channel>& channel, const std::string& user, bool json);
  int RunSignals(const std::shared_ptr<grpc::Channel>& channel, const std::string& user, bool json);
  int RunQuarterly(const std::shared_ptr<grpc::Channel>& channel, const std::string& user, bool json);
  int RunMoments(const std::shared_ptr<grpc::Channel>& channel, const std::string& user, bool json);
  int RunProjections(const std::shared_ptr<grpc::Channel>& channel, const std::string& user, bool json);
  int RunRebuild(const std::shared_ptr<grpc::Channel>& channel, const std::string& user, bool json);

  CLI::App* caseload_;
  CLI::App* case_;
  CLI::App* signals_;
  CLI::App* report_;
  CLI::App* quarterly_;
  CLI::App* moments_;
  CLI::App* projections_;
  CLI::App* rebuild_;

  // Filters shared by caseload, signals and the reports.
  std::string organisation_, begeleider_, casemanager_, track_, phase_, status_, signal_;
  int page_size_ = 100;
  int limit_ = 0;
  std::string client_, as_of_, purpose_ = "caseloadoverzicht via caseledger CLI";
  std::string quarter_, from_, to_;
  bool csv_ = false;
  std::string projection_name_;
};

}  // namespace caseledger::tools

#endif  // CASELEDGER_TOOLS_CASELOAD_COMMANDS_H_
