#include "storage/merkle.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace caseledger::storage {
namespace {

namespace fs = std::filesystem;
using google::protobuf::Struct;
using google::protobuf::Value;

const fs::path kVectors = fs::path(CASELEDGER_SOURCE_DIR) / ".." / "shared" / "testdata" / "rfc6962";

std::string Bytes(const Value& v) {
  std::string out;
  if (v.kind_case() == Value::kStringValue) absl::Base64Unescape(v.string_value(), &out);
  return out;
}

std::vector<std::string> Proof(const Value& v) {
  std::vector<std::string> out;
  if (v.kind_case() == Value::kListValue) {
    for (const Value& item : v.list_value().values()) out.push_back(Bytes(item));
  }
  return out;
}

// A size or index from JSON; negative or fractional values cannot be one.
std::optional<uint64_t> Count(const Value& v) {
  double d = v.number_value();
  if (d < 0 || d != static_cast<double>(static_cast<uint64_t>(d))) return std::nullopt;
  return static_cast<uint64_t>(d);
}

Struct Load(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(buf.str(), &s).ok()) << path;
  return s;
}

std::vector<fs::path> JsonFiles(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().extension() == ".json") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Runs `verify` on every case file under `dir`: cases with wantErr must be
// rejected, the others must verify. Returns {verified, rejected}.
std::pair<int, int> RunVectors(const fs::path& dir,
                               const std::function<absl::Status(const Struct&)>& verify) {
  int happy = 0, rejected = 0;
  for (const fs::path& path : JsonFiles(dir)) {
    Struct c = Load(path);
    absl::Status s = verify(c);
    if (c.fields().at("wantErr").bool_value()) {
      EXPECT_FALSE(s.ok()) << path << " was accepted";
      ++rejected;
    } else {
      EXPECT_TRUE(s.ok()) << path << ": " << s;
      ++happy;
    }
  }
  return {happy, rejected};
}

TEST(MerkleVectorsTest, EveryInclusionCase) {
  ASSERT_TRUE(fs::exists(kVectors)) << kVectors << " is missing; ../shared must sit beside the repository";
  auto [happy, rejected] = RunVectors(kVectors / "inclusion", [](const Struct& c) {
    const auto& f = c.fields();
    std::optional<uint64_t> index = Count(f.at("leafIdx")), size = Count(f.at("treeSize"));
    if (!index || !size) return absl::InvalidArgumentError("negative index or size");
    return VerifyMerkleInclusion(*index, *size, Bytes(f.at("leafHash")), Proof(f.at("proof")),
                                 Bytes(f.at("root")));
  });
  EXPECT_GE(happy, 5);
  EXPECT_GE(rejected, 50);
}

TEST(MerkleVectorsTest, EveryConsistencyCase) {
  ASSERT_TRUE(fs::exists(kVectors)) << kVectors << " is missing; ../shared must sit beside the repository";
  auto [happy, rejected] = RunVectors(kVectors / "consistency", [](const Struct& c) {
    const auto& f = c.fields();
    std::optional<uint64_t> size1 = Count(f.at("size1")), size2 = Count(f.at("size2"));
    if (!size1 || !size2) return absl::InvalidArgumentError("negative size");
    return VerifyMerkleConsistency(*size1, *size2, Proof(f.at("proof")), Bytes(f.at("root1")),
                                   Bytes(f.at("root2")));
  });
  EXPECT_GE(happy, 5);
  EXPECT_GE(rejected, 80);
}

// A tree built leaf by leaf with MerkleFrontier, its nodes kept in a map, and
// a naive recursive MTH over the leaf hashes to compare against.
class MerkleTreeTest : public ::testing::Test {
 protected:
  void Grow(uint64_t size) {
    while (leaves_.size() < size) {
      Hash leaf = MerkleLeafHash(absl::StrCat("event-", leaves_.size()));
      leaves_.push_back(leaf);
      for (const auto& node : frontier_.Append(leaf)) nodes_[{node.level, node.index}] = node.hash;
    }
  }

  NodeSource Source() {
    return [this](int level, uint64_t index) -> absl::StatusOr<Hash> {
      auto it = nodes_.find({level, index});
      if (it == nodes_.end()) return absl::NotFoundError(absl::StrCat("node ", level, "/", index));
      return it->second;
    };
  }

  Hash Naive(uint64_t start, uint64_t count) {
    if (count == 1) return leaves_[start];
    uint64_t k = 1;
    while (k << 1 < count) k <<= 1;
    return MerkleNodeHash(Naive(start, k), Naive(start + k, count - k));
  }

  std::vector<Hash> leaves_;
  MerkleFrontier frontier_;
  std::map<std::pair<int, uint64_t>, Hash> nodes_;
};

TEST_F(MerkleTreeTest, RootsAndProofsVerifyForEverySizeUpTo1000) {
  for (uint64_t n = 1; n <= 1000; ++n) {
    Grow(n);
    const Hash root = Naive(0, n);
    ASSERT_EQ(frontier_.Root(), root) << "size " << n;
    ASSERT_EQ(*MerkleRoot(n, Source()), root) << "size " << n;
    // Inclusion: every leaf for small trees, a spread for the larger ones.
    for (uint64_t i = 0; i < n; i += (n <= 64 ? 1 : n / 17 + 1)) {
      auto proof = MerkleInclusionProof(i, n, Source());
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_TRUE(VerifyMerkleInclusion(i, n, HashBytes(leaves_[i]), HashesBytes(*proof), HashBytes(root)).ok())
          << "leaf " << i << " of " << n;
    }
    // Consistency from a spread of older sizes.
    for (uint64_t m = 1; m <= n; m += (n <= 64 ? 1 : n / 13 + 1)) {
      auto proof = MerkleConsistencyProof(m, n, Source());
      ASSERT_TRUE(proof.ok()) << proof.status();
      absl::Status s = VerifyMerkleConsistency(m, n, HashesBytes(*proof), HashBytes(Naive(0, m)), HashBytes(root));
      ASSERT_TRUE(s.ok()) << m << " -> " << n << ": " << s;
    }
  }
}

TEST_F(MerkleTreeTest, RandomSizesAndEveryMutationIsRejected) {
  std::mt19937_64 rng(6962);
  Grow(5000);
  for (int round = 0; round < 200; ++round) {
    uint64_t n = 2 + rng() % 4999;
    uint64_t i = rng() % n;
    uint64_t m = 1 + rng() % (n - 1);
    const std::string root = HashBytes(Naive(0, n));
    std::vector<std::string> inclusion = HashesBytes(*MerkleInclusionProof(i, n, Source()));
    std::vector<std::string> consistency = HashesBytes(*MerkleConsistencyProof(m, n, Source()));
    const std::string old_root = HashBytes(Naive(0, m));
    ASSERT_TRUE(VerifyMerkleInclusion(i, n, HashBytes(leaves_[i]), inclusion, root).ok());
    ASSERT_TRUE(VerifyMerkleConsistency(m, n, consistency, old_root, root).ok());
    // Flip one bit anywhere in a proof, or change a size: refused.
    if (!inclusion.empty()) {
      auto bad = inclusion;
      bad[rng() % bad.size()][rng() % 32] ^= 1;
      EXPECT_FALSE(VerifyMerkleInclusion(i, n, HashBytes(leaves_[i]), bad, root).ok());
    }
    // Another leaf, or this proof against the real root of a larger tree: refused.
    EXPECT_FALSE(VerifyMerkleInclusion(i, n, HashBytes(leaves_[(i + 1) % n]), inclusion, root).ok());
    auto bad = consistency;
    bad[rng() % bad.size()][rng() % 32] ^= 1;
    EXPECT_FALSE(VerifyMerkleConsistency(m, n, bad, old_root, root).ok());
    EXPECT_FALSE(VerifyMerkleConsistency(m, n + 1, consistency, old_root, HashBytes(Naive(0, n + 1))).ok());
  }
}

TEST_F(MerkleTreeTest, FrontierReloadsFromStoredNodes) {
  for (uint64_t n : {1u, 2u, 3u, 7u, 8u, 100u, 1023u, 1024u, 1025u}) {
    Grow(n);
    auto loaded = MerkleFrontier::Load(n, Source());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->Root(), Naive(0, n));
    EXPECT_EQ(loaded->size(), n);
  }
}

TEST(MerkleHashTest, MatchesRfc6962Definitions) {
  // SHA-256("") and SHA-256(0x00) from RFC 6962 test data.
  EXPECT_EQ(absl::Base64Escape(HashBytes(MerkleEmptyRoot())), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(absl::Base64Escape(HashBytes(MerkleLeafHash(""))), "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=");
}

TEST(MerkleHashTest, RefusesMalformedInput) {
  EXPECT_EQ(VerifyMerkleInclusion(0, 1, "short", {}, std::string(32, 'x')).message(),
            "the leaf hash is 5 bytes; a SHA-256 hash has 32");
  EXPECT_EQ(VerifyMerkleConsistency(0, 5, {}, "", "").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MerkleInclusionProof(3, 3, [](int, uint64_t) -> absl::StatusOr<Hash> { return Hash{}; })
                .status()
                .message(),
            "leaf index 3 is not in a tree of size 3");
}

}  // namespace
}  // namespace caseledger::storage
