// Offline verification of what an auditor saved from the ledger, trusting
// nothing but the ledger's public key (`caseledger pubkey`).
//
// A client replay (AuditService.ReplayClient, saved by `caseledger replay`)
// verifies when: the tree head's Ed25519 signature holds; for every event,
// SHA-256 of its canonical bytes equals its envelope hash, the event as shown
// (envelope and payload) is exactly what those bytes encode, it belongs to the
// replayed client, versions run 1, 2, 3, … without a gap, and its inclusion
// proof leads from its leaf to the signed root.
// Two saved tree heads are consistent when both signatures hold and the
// consistency proof leads from the older root to the newer one.
//
// Thread-safety: pure functions.
#ifndef CASELEDGER_TOOLS_REPLAY_VERIFIER_H_
#define CASELEDGER_TOOLS_REPLAY_VERIFIER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "caseledger/v1/audit_service.pb.h"

namespace caseledger::tools {

struct ReplayCheck {
  uint64_t events = 0;     // events verified
  uint64_t tree_size = 0;  // of the signed head they were verified against
};

// DATA_LOSS naming the global position (or the head) of the first problem.
absl::StatusOr<ReplayCheck> VerifyClientReplay(const v1::ClientReplay& replay,
                                               absl::string_view public_key_pem);

// DATA_LOSS saying which head or proof fails.
absl::Status VerifyTreeHead(const v1::SignedTreeHead& head, absl::string_view public_key_pem);
absl::Status VerifyHeadsConsistent(const v1::SignedTreeHead& old_head,
                                   const v1::SignedTreeHead& new_head,
                                   const v1::ConsistencyProof& proof,
                                   absl::string_view public_key_pem);

}  // namespace caseledger::tools

#endif  // CASELEDGER_TOOLS_REPLAY_VERIFIER_H_
