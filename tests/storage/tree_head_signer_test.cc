#include "storage/tree_head_signer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/test_util.h"

namespace caseledger::storage {
namespace {

class TreeHeadSignerTest : public ::testing::Test {
 protected:
  TreeHead Head() {
    TreeHead h;
    h.tree_size = 1234;
    h.root = Sha256("root");
    h.timestamp = absl::FromUnixMicros(1'795'000'000'123'456);
    return h;
  }
  testing::ScopedTempDir dir_;
};

TEST_F(TreeHeadSignerTest, CreatesAPrivateKeyOnceAndReloadsIt) {
  const std::string path = dir_.Sub("keys/tree-head.key");
  auto first = TreeHeadSigner::LoadOrCreate(path);
  ASSERT_TRUE(first.ok()) << first.status();
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = TreeHeadSigner::LoadOrCreate(path);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*first)->public_key_pem(), (*second)->public_key_pem());
  EXPECT_EQ((*first)->key_id(), (*second)->key_id());
  EXPECT_EQ((*first)->key_id().size(), 16u);
  EXPECT_EQ((*first)->public_key_pem().rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);
}

TEST_F(TreeHeadSignerTest, SignaturesVerifyAndAnyChangeIsRejected) {
  auto signer = *TreeHeadSigner::LoadOrCreate(dir_.Sub("k.pem"));
  TreeHead head = Head();
  std::string sig = *signer->Sign(head);
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_TRUE(TreeHeadSigner::Verify(signer->public_key_pem(), head, sig).ok());

  TreeHead bigger = head;
  bigger.tree_size++;
  TreeHead later = head;
  later.timestamp += absl::Microseconds(1);
  TreeHead other_root = head;
  other_root.root[0] ^= 1;
  for (const TreeHead& changed : {bigger, later, other_root}) {
    absl::Status s = TreeHeadSigner::Verify(signer->public_key_pem(), changed, sig);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(s.message(), "the tree head's signature does not match the public key");
  }
  std::string flipped = sig;
  flipped[10] ^= 1;
  EXPECT_EQ(TreeHeadSigner::Verify(signer->public_key_pem(), head, flipped).code(),
            absl::StatusCode::kDataLoss);
  auto other = *TreeHeadSigner::LoadOrCreate(dir_.Sub("other.pem"));
  EXPECT_EQ(TreeHeadSigner::Verify(other->public_key_pem(), head, sig).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(TreeHeadSigner::Verify("not a key", head, sig).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TreeHeadSignerTest, MessageFollowsTheDocumentedLayout) {
  std::string m = TreeHeadMessage(Head());
  ASSERT_EQ(m.size(), 24u + 8 + 8 + 32);
  EXPECT_EQ(m.substr(0, 24), std::string("caseledger/tree-head/v1\0", 24));
  EXPECT_EQ(m.substr(24, 8), std::string("\0\0\0\0\0\0\x04\xd2", 8));  // 1234
}

TEST_F(TreeHeadSignerTest, ADamagedKeyFileIsRefused) {
  const std::string path = dir_.Sub("bad.pem");
  std::ofstream(path) << "garbage";
  auto signer = TreeHeadSigner::LoadOrCreate(path);
  EXPECT_EQ(signer.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace caseledger::storage
