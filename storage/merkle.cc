#include "storage/merkle.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace caseledger::storage {
namespace {

Hash Digest(const char prefix, absl::string_view a, absl::string_view b = {}) {
  return Sha256({absl::string_view(&prefix, 1), a, b});
}

absl::string_view View(const Hash& h) {
  return absl::string_view(reinterpret_cast<const char*>(h.data()), h.size());
}

// Largest power of two strictly below n (n > 1).
uint64_t SplitPoint(uint64_t n) {
  uint64_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

bool IsPowerOfTwo(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

// MTH of leaves [start, start + count): perfect aligned ranges come from the
// source, others split as RFC 6962 does.
absl::StatusOr<Hash> RangeHash(uint64_t start, uint64_t count, const NodeSource& nodes) {
  if (IsPowerOfTwo(count) && start % count == 0) {
    int level = 0;
    while ((uint64_t{1} << level) < count) ++level;
    return nodes(level, start >> level);
  }
  uint64_t k = SplitPoint(count);
  CASELEDGER_ASSIGN_OR_RETURN(Hash left, RangeHash(start, k, nodes));
  CASELEDGER_ASSIGN_OR_RETURN(Hash right, RangeHash(start + k, count - k, nodes));
  return MerkleNodeHash(left, right);
}

// PATH(m, D[start : start + n]) of RFC 6962 2.1.1, appended to `out` leaf-first.
absl::Status Path(uint64_t m, uint64_t start, uint64_t n, const NodeSource& nodes,
                  std::vector<Hash>& out) {
  if (n <= 1) return absl::OkStatus();
  uint64_t k = SplitPoint(n);
  if (m < k) {
    CASELEDGER_RETURN_IF_ERROR(Path(m, start, k, nodes, out));
    CASELEDGER_ASSIGN_OR_RETURN(Hash right, RangeHash(start + k, n - k, nodes));
    out.push_back(right);
  } else {
    CASELEDGER_RETURN_IF_ERROR(Path(m - k, start + k, n - k, nodes, out));
    CASELEDGER_ASSIGN_OR_RETURN(Hash left, RangeHash(start, k, nodes));
    out.push_back(left);
  }
  return absl::OkStatus();
}

// SUBPROOF(m, D[start : start + n], b) of RFC 6962 2.1.2.
absl::Status SubProof(uint64_t m, uint64_t start, uint64_t n, bool whole, const NodeSource& nodes,
                      std::vector<Hash>& out) {
  if (m == n) {
    if (!whole) {
      CASELEDGER_ASSIGN_OR_RETURN(Hash h, RangeHash(start, n, nodes));
      out.push_back(h);
    }
    return absl::OkStatus();
  }
  uint64_t k = SplitPoint(n);
  if (m <= k) {
    CASELEDGER_RETURN_IF_ERROR(SubProof(m, start, k, whole, nodes, out));
    CASELEDGER_ASSIGN_OR_RETURN(Hash right, RangeHash(start + k, n - k, nodes));
    out.push_back(right);
  } else {
    CASELEDGER_RETURN_IF_ERROR(SubProof(m - k, start + k, n - k, false, nodes, out));
    CASELEDGER_ASSIGN_OR_RETURN(Hash left, RangeHash(start, k, nodes));
    out.push_back(left);
  }
  return absl::OkStatus();
}

}  // namespace

Hash MerkleLeafHash(absl::string_view leaf_data) { return Digest(0x00, leaf_data); }

Hash MerkleNodeHash(const Hash& left, const Hash& right) {
  return Digest(0x01, View(left), View(right));
}

Hash MerkleEmptyRoot() { return Sha256(""); }

absl::StatusOr<Hash> MerkleRoot(uint64_t size, const NodeSource& nodes) {
  if (size == 0) return MerkleEmptyRoot();
  return RangeHash(0, size, nodes);
}

absl::StatusOr<std::vector<Hash>> MerkleInclusionProof(uint64_t index, uint64_t size,
                                                       const NodeSource& nodes) {
  if (index >= size) {
    return absl::InvalidArgumentError(absl::StrCat("leaf index ", index,
                                                   " is not in a tree of size ", size));
  }
  std::vector<Hash> proof;
  CASELEDGER_RETURN_IF_ERROR(Path(index, 0, size, nodes, proof));
  return proof;
}

absl::StatusOr<std::vector<Hash>> MerkleConsistencyProof(uint64_t old_size, uint64_t new_size,
                                                         const NodeSource& nodes) {
  if (old_size == 0 || old_size > new_size) {
    return absl::InvalidArgumentError(absl::StrCat("no consistency proof from size ", old_size,
                                                   " to size ", new_size,
                                                   "; need 0 < old_size <= new_size"));
  }
  std::vector<Hash> proof;
  CASELEDGER_RETURN_IF_ERROR(SubProof(old_size, 0, new_size, true, nodes, proof));
  return proof;
}

namespace {

// A 32-byte hash from untrusted bytes; `what` names it in the error.
absl::StatusOr<Hash> ParseHash(absl::string_view bytes, absl::string_view what) {
  Hash h;
  if (bytes.size() != h.size()) {
    return absl::DataLossError(absl::StrCat(what, " is ", bytes.size(),
                                            " bytes; a SHA-256 hash has 32"));
  }
  std::copy(bytes.begin(), bytes.end(), h.begin());
  return h;
}

absl::StatusOr<std::vector<Hash>> ParseProof(const std::vector<std::string>& proof) {
  std::vector<Hash> out;
  out.reserve(proof.size());
  for (size_t i = 0; i < proof.size(); ++i) {
    CASELEDGER_ASSIGN_OR_RETURN(Hash h, ParseHash(proof[i], absl::StrCat("proof[", i, "]")));
    out.push_back(h);
  }
  return out;
}

}  // namespace

std::string HashBytes(const Hash& hash) { return std::string(View(hash)); }

std::vector<std::string> HashesBytes(const std::vector<Hash>& hashes) {
  std::vector<std::string> out;
  out.reserve(hashes.size());
  for (const Hash& h : hashes) out.push_back(HashBytes(h));
  return out;
}

absl::Status VerifyMerkleInclusion(uint64_t index, uint64_t size, absl::string_view leaf_hash_bytes,
                                   const std::vector<std::string>& proof_bytes,
                                   absl::string_view root_bytes) {
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf index ", index, " is not in a tree of size ", size));
  }
  CASELEDGER_ASSIGN_OR_RETURN(Hash leaf_hash, ParseHash(leaf_hash_bytes, "the leaf hash"));
  CASELEDGER_ASSIGN_OR_RETURN(Hash root, ParseHash(root_bytes, "the root"));
  CASELEDGER_ASSIGN_OR_RETURN(std::vector<Hash> proof, ParseProof(proof_bytes));
  // RFC 9162 2.1.3.2.
  uint64_t fn = index, sn = size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return absl::DataLossError("the inclusion proof is longer than the tree is deep");
    if ((fn & 1) || fn == sn) {
      r = MerkleNodeHash(p, r);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = MerkleNodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::DataLossError("the inclusion proof is shorter than the tree is deep");
  if (r != root) return absl::DataLossError("the inclusion proof does not lead to the root");
  return absl::OkStatus();
}

absl::Status VerifyMerkleConsistency(uint64_t old_size, uint64_t new_size,
                                     const std::vector<std::string>& proof_bytes,
                                     absl::string_view old_root_bytes,
                                     absl::string_view new_root_bytes) {
  if (old_size > new_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("old size ", old_size, " is larger than new size ", new_size));
  }
  if (old_size == 0) {
    return absl::InvalidArgumentError(
        "a consistency check from the empty tree proves nothing; start from size 1 or more");
  }
  if (old_size == new_size) {
    if (!proof_bytes.empty()) return absl::DataLossError("a proof between equal sizes must be empty");
    if (old_root_bytes != new_root_bytes) return absl::DataLossError("equal sizes but different roots");
    return absl::OkStatus();
  }
  if (proof_bytes.empty()) return absl::DataLossError("the consistency proof is empty");
  CASELEDGER_ASSIGN_OR_RETURN(Hash old_root, ParseHash(old_root_bytes, "the old root"));
  CASELEDGER_ASSIGN_OR_RETURN(Hash new_root, ParseHash(new_root_bytes, "the new root"));
  CASELEDGER_ASSIGN_OR_RETURN(std::vector<Hash> proof, ParseProof(proof_bytes));

  // RFC 9162 2.1.4.2.
  std::vector<Hash> path;
  if (IsPowerOfTwo(old_size)) path.push_back(old_root);
  path.insert(path.end(), proof.begin(), proof.end());
  uint64_t fn = old_size - 1, sn = new_size - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0], sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return absl::DataLossError("the consistency proof is too long");
    if ((fn & 1) || fn == sn) {
      fr = MerkleNodeHash(c, fr);
      sr = MerkleNodeHash(c, sr);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = MerkleNodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::DataLossError("the consistency proof is too short");
  if (fr != old_root) return absl::DataLossError("the consistency proof does not lead to the old root");
  if (sr != new_root) return absl::DataLossError("the consistency proof does not lead to the new root");
  return absl::OkStatus();
}

absl::StatusOr<MerkleFrontier> MerkleFrontier::Load(uint64_t size, const NodeSource& nodes) {
  MerkleFrontier f;
  f.size_ = size;
  uint64_t start = 0;
  for (int level = 63; level >= 0; --level) {
    if (!(size & (uint64_t{1} << level))) continue;
    CASELEDGER_ASSIGN_OR_RETURN(Hash h, nodes(level, start >> level));
    f.nodes_.push_back({level, start >> level, h});
    start += uint64_t{1} << level;
  }
  return f;
}

std::vector<MerkleFrontier::Node> MerkleFrontier::Append(const Hash& leaf_hash) {
  std::vector<Node> completed;
  Node node{0, size_, leaf_hash};
  completed.push_back(node);
  // Merge equal-sized subtrees at the right edge, like a binary counter.
  while (!nodes_.empty() && nodes_.back().level == node.level) {
    Node left = nodes_.back();
    nodes_.pop_back();
    node = Node{node.level + 1, left.index >> 1, MerkleNodeHash(left.hash, node.hash)};
    completed.push_back(node);
  }
  nodes_.push_back(node);
  ++size_;
  return completed;
}

Hash MerkleFrontier::Root() const {
  if (nodes_.empty()) return MerkleEmptyRoot();
  Hash acc = nodes_.back().hash;
  for (size_t i = nodes_.size() - 1; i-- > 0;) acc = MerkleNodeHash(nodes_[i].hash, acc);
  return acc;
}

}  // namespace caseledger::storage
