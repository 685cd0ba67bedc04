#include "storage/key_vault.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <rocksdb/db.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "storage/byte_coding.h"
#include "storage/column_families.h"
#include "storage/rocksdb_status.h"
#include "storage/status_macros.h"

namespace caseledger::storage {
namespace {

// key_vault CF keys: kind byte | client id.
constexpr char kDataKey = 'k';   // value := nonce(12) | wrapped key(32) | tag(16)
constexpr char kErased = 'e';    // value := at_micros i64be | lp(reason)
constexpr char kHold = 'h';      // value := since_micros i64be | lp(reason)

constexpr absl::string_view kSealMagic = "CLK1";
constexpr size_t kNonce = 12;
constexpr size_t kTag = 16;
constexpr absl::string_view kWrapDomain = "caseledger/data-key/v1";

std::string VaultKey(char kind, absl::string_view client_id) {
  std::string k(1, kind);
  k.append(client_id.data(), client_id.size());
  return k;
}

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

// AES-256-GCM. Returns ciphertext | tag.
absl::StatusOr<std::string> GcmEncrypt(const Key256& key, absl::string_view nonce, absl::string_view aad,
                                       absl::string_view plaintext) {
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  std::string out(plaintext.size() + kTag, '\0');
  int len = 0, total = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(),
                         reinterpret_cast<const unsigned char*>(nonce.data())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), o, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1) {
    return absl::InternalError("OpenSSL AES-256-GCM encryption failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), o + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, o + plaintext.size()) != 1) {
    return absl::InternalError("OpenSSL AES-256-GCM encryption failed");
  }
  return out;
}

// Decrypts ciphertext | tag; nullopt when the tag does not match.
std::optional<std::string> GcmDecrypt(const Key256& key, absl::string_view nonce, absl::string_view aad,
                                      absl::string_view sealed) {
  if (sealed.size() < kTag) return std::nullopt;
  const size_t n = sealed.size() - kTag;
  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  std::string out(n, '\0');
  int len = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  std::string tag(sealed.substr(n));
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(),
                         reinterpret_cast<const unsigned char*>(nonce.data())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), o, &len, reinterpret_cast<const unsigned char*>(sealed.data()),
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), o + len, &len) != 1) {
    return std::nullopt;
  }
  return out;
}

std::string SealAad(absl::string_view client_id, absl::string_view event_id) {
  std::string aad = "caseledger/personal/v1";
  PutLengthPrefixed(aad, client_id);
  PutLengthPrefixed(aad, event_id);
  return aad;
}

absl::StatusOr<Key256> ParseHexKey(const std::string& text, const std::string& path) {
  std::string hex(absl::StripAsciiWhitespace(text));
  std::string raw = absl::HexStringToBytes(hex);
  if (hex.size() != 64 || raw.size() != 32 ||
      hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the master key file ", path, " does not hold 64 hex digits (32 bytes); restore it from your "
        "key backup — without it no personal data can be read"));
  }
  Key256 key;
  std::memcpy(key.data(), raw.data(), 32);
  return key;
}

}  // namespace

absl::StatusOr<Key256> LoadMasterKey(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("the master key file ", path, " does not exist"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ParseHexKey(text, path);
}

absl::StatusOr<Key256> LoadOrCreateMasterKey(const std::string& path) {
  absl::StatusOr<Key256> existing = LoadMasterKey(path);
  if (existing.ok() || existing.status().code() != absl::StatusCode::kNotFound) return existing;
  Key256 key;
  if (RAND_bytes(key.data(), key.size()) != 1) return absl::InternalError("OpenSSL could not make random bytes");
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  mode_t old = umask(077);
  FILE* out = std::fopen(path.c_str(), "w");
  umask(old);
  if (!out) return absl::FailedPreconditionError(absl::StrCat("cannot write the master key to ", path));
  std::string hex = absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(key.data()), 32));
  bool ok = std::fputs((hex + "\n").c_str(), out) >= 0;
  ok = (std::fflush(out) == 0) && ok;
  ok = (fsync(fileno(out)) == 0) && ok;
  ok = (std::fclose(out) == 0) && ok;
  if (!ok) return absl::FailedPreconditionError(absl::StrCat("cannot write the master key to ", path));
  return key;
}

absl::StatusOr<std::unique_ptr<KeyVault>> KeyVault::Open(EventStore* store, const Key256& master_key) {
  return std::unique_ptr<KeyVault>(new KeyVault(store, master_key));
}

std::mutex& KeyVault::ClientMutex(absl::string_view client_id) const {
  return client_mu_[absl::Hash<absl::string_view>{}(client_id) % kKeyStripes];
}

std::optional<Key256> KeyVault::Cached(absl::string_view client_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(client_id);
  if (it == cache_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::optional<Key256>> KeyVault::DataKey(absl::string_view client_id) const {
  if (std::optional<Key256> cached = Cached(client_id)) return cached;
  // Loaded under the client's lock, so that a Destroy cannot slip between
  // reading the wrapped key and caching it (the cache would outlive it).
  std::lock_guard<std::mutex> client_lock(ClientMutex(client_id));
  return LoadLocked(client_id);
}

absl::StatusOr<std::optional<Key256>> KeyVault::LoadLocked(absl::string_view client_id) const {
  if (std::optional<Key256> cached = Cached(client_id)) return cached;  // loaded meanwhile
  std::string wrapped;
  rocksdb::Status s = store_->db()->Get(rocksdb::ReadOptions(), store_->column_family(kKeyVaultCf),
                                        ToSlice(VaultKey(kDataKey, client_id)), &wrapped);
  if (s.IsNotFound()) return std::optional<Key256>();
  if (!s.ok()) return FromRocks(s, "reading a data key");
  std::string aad = absl::StrCat(kWrapDomain, client_id);
  if (wrapped.size() != kNonce + 32 + kTag) {
    return absl::DataLossError(absl::StrCat("the wrapped data key of client ", client_id, " is damaged"));
  }
  std::optional<std::string> raw =
      GcmDecrypt(master_, absl::string_view(wrapped).substr(0, kNonce), aad, absl::string_view(wrapped).substr(kNonce));
  if (!raw.has_value()) {
    return absl::DataLossError(absl::StrCat("the data key of client ", client_id,
                                            " does not open with this master key; is --master-key the right file?"));
  }
  Key256 key;
  std::memcpy(key.data(), raw->data(), 32);
  std::lock_guard<std::mutex> lock(mu_);
  cache_.emplace(std::string(client_id), key);
  return std::optional<Key256>(key);
}

absl::StatusOr<std::string> KeyVault::Seal(absl::string_view client_id, absl::string_view event_id,
                                           absl::string_view plaintext) {
  std::optional<Key256> key = Cached(client_id);
  if (!key.has_value()) {
    // Loaded, or for the client's first personal data made and stored
    // (synced) before any event uses it, under the client's lock: two appends
    // make one key, and an erasure either went before (refused here) or waits.
    std::lock_guard<std::mutex> client_lock(ClientMutex(client_id));
    CASELEDGER_ASSIGN_OR_RETURN(key, LoadLocked(client_id));
    if (!key.has_value()) {
      if (Erased(client_id).has_value()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "client ", client_id, "'s data was erased; no new personal data can be recorded for them"));
      }
      Key256 fresh;
      unsigned char nonce[kNonce];
      if (RAND_bytes(fresh.data(), 32) != 1 || RAND_bytes(nonce, kNonce) != 1) {
        return absl::InternalError("OpenSSL could not make random bytes");
      }
      std::string aad = absl::StrCat(kWrapDomain, client_id);
      absl::StatusOr<std::string> wrapped =
          GcmEncrypt(master_, absl::string_view(reinterpret_cast<const char*>(nonce), kNonce), aad,
                     absl::string_view(reinterpret_cast<const char*>(fresh.data()), 32));
      if (!wrapped.ok()) return wrapped.status();
      std::string value(reinterpret_cast<const char*>(nonce), kNonce);
      value += *wrapped;
      rocksdb::WriteOptions wo;
      wo.sync = true;
      CASELEDGER_RETURN_IF_ERROR(FromRocks(store_->db()->Put(wo, store_->column_family(kKeyVaultCf),
                                                             ToSlice(VaultKey(kDataKey, client_id)),
                                                             ToSlice(value)),
                                           "storing a data key"));
      {
        std::lock_guard<std::mutex> lock(mu_);
        cache_.emplace(std::string(client_id), fresh);
      }
      key = fresh;
    }
  }
  // Synthetic nonce: deterministic per (event id, plaintext).
  std::string mac_input;
  PutLengthPrefixed(mac_input, event_id);
  mac_input.append(plaintext.data(), plaintext.size());
  unsigned char mac[32];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), key->data(), 32, reinterpret_cast<const unsigned char*>(mac_input.data()),
           mac_input.size(), mac, &mac_len) == nullptr) {
    return absl::InternalError("OpenSSL HMAC failed");
  }
  absl::string_view nonce(reinterpret_cast<const char*>(mac), kNonce);
  absl::StatusOr<std::string> sealed = GcmEncrypt(*key, nonce, SealAad(client_id, event_id), plaintext);
  if (!sealed.ok()) return sealed.status();
  return absl::StrCat(kSealMagic, nonce, *sealed);
}

absl::StatusOr<std::optional<std::string>> KeyVault::Open(absl::string_view client_id,
                                                          absl::string_view event_id,
                                                          absl::string_view sealed) const {
  if (sealed.size() < kSealMagic.size() + kNonce + kTag || sealed.substr(0, kSealMagic.size()) != kSealMagic) {
    return absl::DataLossError(absl::StrCat("the personal data of event ", event_id, " of client ", client_id,
                                            " is not sealed personal data"));
  }
  absl::StatusOr<std::optional<Key256>> key = DataKey(client_id);
  if (!key.ok()) return key.status();
  if (!key->has_value()) return std::optional<std::string>();
  absl::string_view rest = sealed.substr(kSealMagic.size());
  std::optional<std::string> plain =
      GcmDecrypt(**key, rest.substr(0, kNonce), SealAad(client_id, event_id), rest.substr(kNonce));
  if (!plain.has_value()) {
    return absl::DataLossError(absl::StrCat("the personal data of event ", event_id, " of client ", client_id,
                                            " fails its authentication tag: it was altered"));
  }
  return std::optional<std::string>(std::move(*plain));
}

absl::Status KeyVault::Destroy(absl::string_view client_id, absl::string_view reason, absl::Time at) {
  if (std::optional<LegalHold> hold = Hold(client_id); hold.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "client ", client_id, " is under a legal hold (", hold->reason,
        "); lift the hold before erasing"));
  }
  rocksdb::ColumnFamilyHandle* cf = store_->column_family(kKeyVaultCf);
  {
    // Under the client's lock: no seal is making or loading this key now, and
    // once the erasure is recorded none will.
    std::lock_guard<std::mutex> client_lock(ClientMutex(client_id));
    rocksdb::WriteBatch batch;
    batch.Delete(cf, ToSlice(VaultKey(kDataKey, client_id)));
    if (!Erased(client_id).has_value()) {
      std::string value;
      PutI64(value, absl::ToUnixMicros(at));
      PutLengthPrefixed(value, reason);
      batch.Put(cf, ToSlice(VaultKey(kErased, client_id)), ToSlice(value));
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    CASELEDGER_RETURN_IF_ERROR(FromRocks(store_->db()->Write(wo, &batch), "destroying a data key"));
    std::lock_guard<std::mutex> lock(mu_);
    cache_.erase(std::string(client_id));
  }
  // Push the deletion through to the files: the wrapped key must not linger
  // in an SST file, nor in a WAL file. A WAL file is dropped once every
  // family has flushed what it holds, so all families are flushed.
  rocksdb::FlushOptions fo;
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  for (size_t i = 0; i < kColumnFamilyCount; ++i) all.push_back(store_->column_family(i));
  CASELEDGER_RETURN_IF_ERROR(FromRocks(store_->db()->Flush(fo, all), "flushing after an erasure"));
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  return FromRocks(store_->db()->CompactRange(co, cf, nullptr, nullptr), "compacting the key vault");
}

std::optional<ErasureRecord> KeyVault::Erased(absl::string_view client_id) const {
  std::string value;
  rocksdb::Status s = store_->db()->Get(rocksdb::ReadOptions(), store_->column_family(kKeyVaultCf),
                                        ToSlice(VaultKey(kErased, client_id)), &value);
  if (!s.ok()) return std::nullopt;
  ByteReader r(value);
  int64_t micros = 0;
  ErasureRecord rec;
  if (!r.ReadI64(&micros) || !r.ReadLengthPrefixed(&rec.reason)) return ErasureRecord{};
  rec.at = absl::FromUnixMicros(micros);
  return rec;
}

absl::Status KeyVault::SetLegalHold(absl::string_view client_id, absl::string_view reason, absl::Time at) {
  std::string value;
  PutI64(value, absl::ToUnixMicros(at));
  PutLengthPrefixed(value, reason);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(store_->db()->Put(wo, store_->column_family(kKeyVaultCf), ToSlice(VaultKey(kHold, client_id)),
                                     ToSlice(value)),
                   "setting a legal hold");
}

absl::Status KeyVault::ClearLegalHold(absl::string_view client_id) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(
      store_->db()->Delete(wo, store_->column_family(kKeyVaultCf), ToSlice(VaultKey(kHold, client_id))),
      "lifting a legal hold");
}

std::optional<LegalHold> KeyVault::Hold(absl::string_view client_id) const {
  std::string value;
  rocksdb::Status s = store_->db()->Get(rocksdb::ReadOptions(), store_->column_family(kKeyVaultCf),
                                        ToSlice(VaultKey(kHold, client_id)), &value);
  if (!s.ok()) return std::nullopt;
  ByteReader r(value);
  int64_t micros = 0;
  LegalHold hold;
  if (!r.ReadI64(&micros) || !r.ReadLengthPrefixed(&hold.reason)) return LegalHold{};
  hold.since = absl::FromUnixMicros(micros);
  return hold;
}

bool KeyVault::HasDataKeys() const {
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(rocksdb::ReadOptions(), store_->column_family(kKeyVaultCf)));
  it->Seek(std::string(1, kDataKey));
  return it->Valid() && it->key().size() > 0 && it->key()[0] == kDataKey;
}

absl::Status KeyVault::CheckMasterKey() const {
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(rocksdb::ReadOptions(), store_->column_family(kKeyVaultCf)));
  it->Seek(std::string(1, kDataKey));
  if (!it->Valid() || it->key().size() < 1 || it->key()[0] != kDataKey) return absl::OkStatus();
  const std::string client(it->key().data() + 1, it->key().size() - 1);
  absl::StatusOr<std::optional<Key256>> key = DataKey(client);
  if (key.ok()) return absl::OkStatus();
  return absl::DataLossError(
      "the master key does not open the clients' data keys stored in this ledger; start caseledgerd with "
      "the master key this ledger was written with (--master-key, or <data-dir>/keys/master.key from your "
      "key backup). A new master key can never open them");
}

}  // namespace caseledger::storage
