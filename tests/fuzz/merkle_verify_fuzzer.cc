// Fuzzes proof verification, which takes hashes and sizes from untrusted
// sources (a server, a saved file): it must never crash or accept garbage
// for a real tree.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "storage/merkle.h"

namespace {

uint64_t TakeU64(const uint8_t*& data, size_t& size) {
  uint64_t v = 0;
  for (int i = 0; i < 8 && size > 0; ++i, ++data, --size) v = (v << 8) | *data;
  return v;
}

std::string TakeBytes(const uint8_t*& data, size_t& size, size_t n) {
  n = n < size ? n : size;
  std::string out(reinterpret_cast<const char*>(data), n);
  data += n;
  size -= n;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace caseledger::storage;
  const uint64_t a = TakeU64(data, size) % 100000, b = TakeU64(data, size) % 100000;
  std::string leaf = TakeBytes(data, size, 32), root1 = TakeBytes(data, size, 32),
              root2 = TakeBytes(data, size, 32);
  std::vector<std::string> proof;
  while (size > 0 && proof.size() < 64) proof.push_back(TakeBytes(data, size, 1 + (size % 33)));
  (void)VerifyMerkleInclusion(a, b, leaf, proof, root1);
  (void)VerifyMerkleConsistency(a, b, proof, root1, root2);
  // A real one-leaf tree: only its own leaf hash with an empty proof verifies.
  Hash real = MerkleLeafHash(leaf);
  if (VerifyMerkleInclusion(0, 1, leaf, proof, HashBytes(real)).ok() && HashBytes(real) != leaf) {
    std::abort();
  }
  return 0;
}
