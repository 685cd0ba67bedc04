#include "tools/replay_verifier.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "projections/event_mapping.h"
#include "storage/event_codec.h"
#include "storage/merkle.h"
#include "storage/tree_head_signer.h"

namespace caseledger::tools {
namespace {

std::vector<std::string> Strings(const google::protobuf::RepeatedPtrField<std::string>& in) {
  return std::vector<std::string>(in.begin(), in.end());
}

absl::Status AtPosition(uint64_t position, absl::string_view problem) {
  return absl::DataLossError(absl::StrCat("global position ", position, ": ", problem));
}

}  // namespace

absl::Status VerifyTreeHead(const v1::SignedTreeHead& head, absl::string_view public_key_pem) {
  storage::TreeHead h;
  h.tree_size = head.tree_size();
  if (head.root_hash().size() != h.root.size()) {
    return absl::DataLossError(absl::StrCat("the tree head's root is ", head.root_hash().size(),
                                            " bytes; a SHA-256 hash has 32"));
  }
  std::copy(head.root_hash().begin(), head.root_hash().end(), h.root.begin());
  h.timestamp = projections::FromTimestamp(head.timestamp());
  absl::Status s = storage::TreeHeadSigner::Verify(public_key_pem, h, head.signature());
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("tree head of size ", head.tree_size(), ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<ReplayCheck> VerifyClientReplay(const v1::ClientReplay& replay,
                                               absl::string_view public_key_pem) {
  absl::Status head = VerifyTreeHead(replay.tree_head(), public_key_pem);
  if (!head.ok()) return head;
  const uint64_t tree_size = replay.tree_head().tree_size();
  ReplayCheck check;
  check.tree_size = tree_size;
  uint64_t expected_version = 1;
  for (const v1::ReplayedEvent& item : replay.events()) {
    const uint64_t position = item.event().envelope().global_position();
    absl::StatusOr<storage::RecordedEvent> leaf = storage::DecodeCanonical(item.canonical_event());
    if (!leaf.ok()) return AtPosition(position, leaf.status().message());
    if (storage::HashBytes(leaf->hash) != item.event().envelope().hash()) {
      return AtPosition(position, "the event's hash is not the SHA-256 of its canonical bytes");
    }
    absl::StatusOr<v1::Event> encoded = projections::FromRecordedEvent(*leaf, false);
    if (!encoded.ok()) return AtPosition(position, encoded.status().message());
    if (!google::protobuf::util::MessageDifferencer::Equals(*encoded, item.event())) {
      return AtPosition(position, "the event as shown differs from what its canonical bytes say");
    }
    if (leaf->stream_id != replay.client_id()) {
      return AtPosition(position, absl::StrCat("the event belongs to client ", leaf->stream_id,
                                               ", not ", replay.client_id()));
    }
    if (leaf->stream_version != expected_version) {
      return AtPosition(position, absl::StrCat("version ", leaf->stream_version, " follows version ",
                                               expected_version - 1,
                                               "; the replay is missing events"));
    }
    absl::Status included = storage::VerifyMerkleInclusion(
        position - 1, tree_size,
        storage::HashBytes(storage::MerkleLeafHash(item.canonical_event())),
        Strings(item.inclusion_proof()), replay.tree_head().root_hash());
    if (!included.ok()) {
      return AtPosition(position, absl::StrCat("not in the signed tree head: ", included.message()));
    }
    ++expected_version;
    ++check.events;
  }
  return check;
}

absl::Status VerifyHeadsConsistent(const v1::SignedTreeHead& old_head,
                                   const v1::SignedTreeHead& new_head,
                                   const v1::ConsistencyProof& proof,
                                   absl::string_view public_key_pem) {
  absl::Status s = VerifyTreeHead(old_head, public_key_pem);
  if (!s.ok()) return s;
  s = VerifyTreeHead(new_head, public_key_pem);
  if (!s.ok()) return s;
  if (proof.old_size() != old_head.tree_size() || proof.new_size() != new_head.tree_size()) {
    return absl::DataLossError(absl::StrCat("the proof is from size ", proof.old_size(), " to ",
                                            proof.new_size(), ", not from ", old_head.tree_size(),
                                            " to ", new_head.tree_size()));
  }
  s = storage::VerifyMerkleConsistency(old_head.tree_size(), new_head.tree_size(),
                                       Strings(proof.hashes()), old_head.root_hash(),
                                       new_head.root_hash());
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("the tree heads of size ", old_head.tree_size(), " and ",
                                               new_head.tree_size(), " are not consistent: ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace caseledger::tools
