// A synthetic LVV caseload for demonstrations and load: clients at
// VluchtelingenWerk and Goedwerk over the last 18 months, on every track and
// target group, with plans and goals, screenings, attendance, milestones,
// contacts, evaluations, consents and handovers (VluchtelingenWerk ->
// Goedwerk), exit conversations and terminations for every reason.
// The names are drawn from invented lists; no real person is described.
//
// Deterministic: the same seed, client count and "now" give the same events
// with the same event ids, so loading the demo twice writes nothing new (the
// ledger recognises the retries). Every event lies before "now" and after its
// client's intake, and every batch passes the case rules.
//
// Thread-safety: pure function.
#ifndef CASELEDGER_TOOLS_DEMO_CASELOAD_H_
#define CASELEDGER_TOOLS_DEMO_CASELOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "caseledger/v1/events.pb.h"

namespace caseledger::tools {

// One AppendEvents call: `identity` (the organisation whose certificate sends
// it) appends `events` to `client_id`, expecting `expected_version`.
struct DemoBatch {
  std::string identity;
  std::string client_id;
  uint64_t expected_version = 0;
  std::vector<v1::Event> events;
};

struct DemoOptions {
  int clients = 300;
  uint32_t seed = 2026;
  absl::Time now = absl::Now();
};

// The batches in the order they must be sent: per client, the holding
// organisation's events up to a handover, then the receiver's.
std::vector<DemoBatch> GenerateDemoCaseload(const DemoOptions& options);

}  // namespace caseledger::tools

#endif  // CASELEDGER_TOOLS_DEMO_CASELOAD_H_
