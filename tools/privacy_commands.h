// The AVG subcommands of the caseledger CLI (privacy-officer role):
// `inzage`, `rectify`, `erase`, `legal-hold`, `retention`.
//
// Owns: their options and output. `inzage` writes the document (HTML or JSON,
// Dutch or English) to a file or stdout and says on stderr what it wrote.
//
// Thread-safety: used from main's thread only.
#ifndef CASELEDGER_TOOLS_PRIVACY_COMMANDS_H_
#define CASELEDGER_TOOLS_PRIVACY_COMMANDS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace caseledger::tools {

class PrivacyCommands {
 public:
  explicit PrivacyCommands(CLI::App& app);

  // Runs the subcommand that was parsed; nullopt when none of these was.
  std::optional<int> Run(const std::shared_ptr<grpc::Channel>& channel, const std::string& user, bool json);

 private:
  CLI::App* inzage_;
  CLI::App* rectify_;
  CLI::App* erase_;
  CLI::App* hold_;
  CLI::App* retention_;

  std::string client_, format_ = "html", lang_ = "nl", output_, purpose_;
  std::string event_, reason_, id_;
  std::vector<std::string> fields_;
  bool lift_ = false, dry_run_ = false;
};

}  // namespace caseledger::tools

#endif  // CASELEDGER_TOOLS_PRIVACY_COMMANDS_H_
