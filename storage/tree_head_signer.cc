#include "storage/tree_head_signer.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "storage/byte_coding.h"

namespace caseledger::storage {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

constexpr absl::string_view kDomain("caseledger/tree-head/v1\0", 24);

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

std::string TreeHeadMessage(const TreeHead& head) {
  std::string out(kDomain);
  PutU64(out, head.tree_size);
  PutU64(out, static_cast<uint64_t>(absl::ToUnixMicros(head.timestamp)));
  out.append(reinterpret_cast<const char*>(head.root.data()), head.root.size());
  return out;
}

absl::StatusOr<std::unique_ptr<TreeHeadSigner>> TreeHeadSigner::LoadOrCreate(const std::string& path) {
  EVP_PKEY* key = nullptr;
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
      EVP_PKEY_free(key);
      return absl::FailedPreconditionError(absl::StrCat(
          "the tree-head signing key ", path,
          " is not an Ed25519 private key in PEM; restore it from your backup (deleting it "
          "makes the ledger sign with a new key that earlier tree heads cannot be checked against)"));
    }
  } else {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
    bool made = ctx && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_keygen(ctx, &key) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!made) return absl::InternalError("OpenSSL could not generate an Ed25519 key");
    mode_t old = umask(077);
    FILE* out = std::fopen(path.c_str(), "w");
    umask(old);
    if (!out) {
      EVP_PKEY_free(key);
      return absl::FailedPreconditionError(absl::StrCat("cannot write the tree-head signing key to ", path));
    }
    bool written = PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    written = (std::fflush(out) == 0) && written;
    std::fclose(out);
    if (!written) {
      EVP_PKEY_free(key);
      return absl::UnavailableError(absl::StrCat("writing the tree-head signing key to ", path, " failed"));
    }
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  unsigned char* der = nullptr;
  int der_len = i2d_PUBKEY(key, &der);
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1 || der_len <= 0) {
    OPENSSL_free(der);
    EVP_PKEY_free(key);
    return absl::InternalError("OpenSSL could not export the public key");
  }
  Hash digest = Sha256(absl::string_view(reinterpret_cast<const char*>(der), der_len));
  OPENSSL_free(der);
  std::string key_id = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), 8));
  return std::unique_ptr<TreeHeadSigner>(new TreeHeadSigner(key, BioToString(bio.get()), key_id));
}

TreeHeadSigner::TreeHeadSigner(EVP_PKEY* key, std::string public_key_pem, std::string key_id)
    : key_(key), public_key_pem_(std::move(public_key_pem)), key_id_(std::move(key_id)) {}

TreeHeadSigner::~TreeHeadSigner() { EVP_PKEY_free(key_); }

absl::StatusOr<std::string> TreeHeadSigner::Sign(const TreeHead& head) const {
  std::string message = TreeHeadMessage(head);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::string signature(64, '\0');
  size_t len = signature.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError("OpenSSL could not sign the tree head");
  }
  signature.resize(len);
  return signature;
}

absl::Status TreeHeadSigner::Verify(absl::string_view public_key_pem, const TreeHead& head,
                                    absl::string_view signature) {
  BioPtr bio(BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())));
  EVP_PKEY* key = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (!key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return absl::InvalidArgumentError("the public key is not an Ed25519 public key in PEM");
  }
  std::string message = TreeHeadMessage(head);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                             message.size()) == 1;
  EVP_PKEY_free(key);
  if (!ok) return absl::DataLossError("the tree head's signature does not match the public key");
  return absl::OkStatus();
}

}  // namespace caseledger::storage
