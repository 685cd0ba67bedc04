// RFC 6962 (section 2.1) Merkle tree hashing, proof construction and proof
// verification, as certificate-transparency logs use them.
//
//   empty tree  = SHA-256("")
//   leaf hash   = SHA-256(0x00 || leaf data)
//   node hash   = SHA-256(0x01 || left || right)
//   a tree of n > 1 leaves splits at k, the largest power of two below n.
//
// In caseledger the leaf data of the event at global position p is its
// canonical bytes (storage/event_codec.h: EncodeCanonical), at leaf index p-1.
//
// Proofs are built from "perfect subtree" hashes: the hash of the aligned
// range of 2^level leaves starting at index * 2^level. A NodeSource supplies
// them (the event store keeps every such node in RocksDB).
//
// Thread-safety: pure functions; a NodeSource is called from the caller's thread.
#ifndef CASELEDGER_STORAGE_MERKLE_H_
#define CASELEDGER_STORAGE_MERKLE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/event_codec.h"

namespace caseledger::storage {

Hash MerkleLeafHash(absl::string_view leaf_data);
Hash MerkleNodeHash(const Hash& left, const Hash& right);
Hash MerkleEmptyRoot();

// The hash of the perfect subtree (level, index); NOT_FOUND/DATA_LOSS on failure.
using NodeSource = std::function<absl::StatusOr<Hash>(int level, uint64_t index)>;

// The root of the first `size` leaves.
absl::StatusOr<Hash> MerkleRoot(uint64_t size, const NodeSource& nodes);

// The audit path of leaf `index` in the tree of the first `size` leaves.
absl::StatusOr<std::vector<Hash>> MerkleInclusionProof(uint64_t index, uint64_t size,
                                                       const NodeSource& nodes);

// The consistency proof between the trees of the first `old_size` and
// `new_size` leaves (0 < old_size <= new_size).
absl::StatusOr<std::vector<Hash>> MerkleConsistencyProof(uint64_t old_size, uint64_t new_size,
                                                         const NodeSource& nodes);

// Verification of proofs from an untrusted source, so over raw bytes: every
// hash must be 32 bytes. OK, or DATA_LOSS saying what does not match
// (INVALID_ARGUMENT for impossible index/size combinations). A consistency
// check from the empty tree is refused: it proves nothing.
absl::Status VerifyMerkleInclusion(uint64_t index, uint64_t size, absl::string_view leaf_hash,
                                   const std::vector<std::string>& proof, absl::string_view root);
absl::Status VerifyMerkleConsistency(uint64_t old_size, uint64_t new_size,
                                     const std::vector<std::string>& proof,
                                     absl::string_view old_root, absl::string_view new_root);

std::string HashBytes(const Hash& hash);
std::vector<std::string> HashesBytes(const std::vector<Hash>& hashes);

// Maintains the right edge of a growing tree: the perfect subtrees whose sizes
// are the set bits of the tree size (at most 64 hashes). Appending a leaf
// yields the new perfect-subtree nodes to store — O(log n), amortised O(1).
//
// Thread-safety: not thread-safe; the event store's group-commit leader owns it.
class MerkleFrontier {
 public:
  struct Node {
    int level;
    uint64_t index;
    Hash hash;
  };

  MerkleFrontier() = default;
  // Rebuilds the frontier of a tree of `size` leaves from stored nodes (log n reads).
  static absl::StatusOr<MerkleFrontier> Load(uint64_t size, const NodeSource& nodes);

  // Appends a leaf; returns every perfect-subtree node completed by it
  // (the leaf itself first).
  std::vector<Node> Append(const Hash& leaf_hash);

  uint64_t size() const { return size_; }
  Hash Root() const;

 private:
  uint64_t size_ = 0;
  std::vector<Node> nodes_;  // left to right: decreasing level
};

}  // namespace caseledger::storage

#endif  // CASELEDGER_STORAGE_MERKLE_H_
