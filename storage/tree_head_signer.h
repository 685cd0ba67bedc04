// TreeHeadSigner: the ledger's Ed25519 key, which signs tree heads so that an
// auditor can hold the ledger to what it showed before (certificate-transparency
// style), verifying with the public key only.
//
// Owns: the private key, read from a PEM file (PKCS#8) or generated there on
// first use with mode 0600. The public half is exportable as PEM.
//
// The signed bytes of a tree head (documented here, where they are built):
//   tree_head_message := "caseledger/tree-head/v1" 0x00
//                        | tree_size u64be | timestamp_micros i64be | root_hash(32)
//
// Thread-safety: Sign and the static Verify may be called concurrently (each
// call uses its own OpenSSL context); the key is immutable after Load.
#ifndef CASELEDGER_STORAGE_TREE_HEAD_SIGNER_H_
#define CASELEDGER_STORAGE_TREE_HEAD_SIGNER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/event_codec.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace caseledger::storage {

struct TreeHead {
  uint64_t tree_size = 0;
  Hash root{};
  absl::Time timestamp = absl::UnixEpoch();  // microsecond precision
};

std::string TreeHeadMessage(const TreeHead& head);

class TreeHeadSigner {
 public:
  // Reads the key at `path`, or creates it (and its directory) when missing.
  static absl::StatusOr<std::unique_ptr<TreeHeadSigner>> LoadOrCreate(const std::string& path);

  TreeHeadSigner(const TreeHeadSigner&) = delete;
  TreeHeadSigner& operator=(const TreeHeadSigner&) = delete;
  ~TreeHeadSigner();

  // The 64-byte Ed25519 signature of TreeHeadMessage(head).
  absl::StatusOr<std::string> Sign(const TreeHead& head) const;
  // "-----BEGIN PUBLIC KEY-----..." (SubjectPublicKeyInfo).
  const std::string& public_key_pem() const { return public_key_pem_; }
  // A short fingerprint of the public key: hex of the first 8 bytes of SHA-256(DER).
  const std::string& key_id() const { return key_id_; }

  // Checks `signature` over TreeHeadMessage(head) with a PEM public key.
  // OK, or DATA_LOSS ("the signature does not match") / INVALID_ARGUMENT (bad key).
  static absl::Status Verify(absl::string_view public_key_pem, const TreeHead& head,
                             absl::string_view signature);

 private:
  TreeHeadSigner(EVP_PKEY* key, std::string public_key_pem, std::string key_id);

  EVP_PKEY* const key_;
  const std::string public_key_pem_;
  const std::string key_id_;
};

}  // namespace caseledger::storage

#endif  // CASELEDGER_STORAGE_TREE_HEAD_SIGNER_H_
