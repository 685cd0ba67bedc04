// The per-client key vault: crypto-shredding for the personal section of
// events (AVG art. 17 on an immutable ledger).
//
// Owns: one random 256-bit data key per client, stored wrapped (AES-256-GCM)
// under the master key in the `key_vault` column family; legal holds; the
// erasure markers. The master key is 32 random bytes in a file named at start
// (hex, one line); LoadOrCreateMasterKey makes it for the development default.
//
// Promises:
// - Seal(client, event_id, plaintext) encrypts with the client's data key,
//   creating (and durably storing) the key on first use. The result is
//   "CLK1" | nonce(12) | ciphertext | tag(16) with AES-256-GCM, the client id
//   and event id as additional data. The nonce is HMAC-SHA256(data key,
//   event_id | plaintext) cut to 12 bytes: the same event sealed twice gives
//   the same bytes, so a retried append is still recognised as a retry, and a
//   nonce is never reused for different plaintexts.
// - Open(client, event_id, sealed) decrypts; kErased once the client's key is
//   destroyed; DATA_LOSS if the bytes were altered.
// - Destroy(client) deletes the wrapped key, records the erasure, syncs, and
//   compacts the column family so the wrapped key leaves the SST files. After
//   it no Open for that client succeeds, across restarts. Backups made before
//   still hold the key until they are deleted (operations guide).
// - Hashes and Merkle leaves cover the sealed bytes (the personal digest is of
//   what is stored), so verification never needs a key.
//
// Thread-safety: thread-safe. Loading, creating and destroying one client's
// key are serialised by that client's lock (one of kKeyStripes, chosen by a
// hash of the client id), so that an erasure never races a seal into
// leaving a usable key, in memory or on disk. Different clients' first seals
// run side by side: their synced key writes share RocksDB's write groups
// instead of queueing behind one lock. Unwrapped keys are cached in memory.
#ifndef CASELEDGER_STORAGE_KEY_VAULT_H_
#define CASELEDGER_STORAGE_KEY_VAULT_H_

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/event_store.h"

namespace caseledger::storage {

using Key256 = std::array<uint8_t, 32>;

// Reads the master key (64 hex digits) from `path`, or makes a new random one
// there (mode 0600) if the file does not exist.
absl::StatusOr<Key256> LoadOrCreateMasterKey(const std::string& path);

// Reads the master key; NOT_FOUND if the file does not exist.
absl::StatusOr<Key256> LoadMasterKey(const std::string& path);

struct ErasureRecord {
  absl::Time at = absl::UnixEpoch();
  std::string reason;
};

struct LegalHold {
  absl::Time since = absl::UnixEpoch();
  std::string reason;
};

class KeyVault {
 public:
  // `store` must outlive the vault.
  static absl::StatusOr<std::unique_ptr<KeyVault>> Open(EventStore* store, const Key256& master_key);

  // Encrypts `plaintext` (non-empty) for `client_id`. See above.
  absl::StatusOr<std::string> Seal(absl::string_view client_id, absl::string_view event_id,
                                   absl::string_view plaintext);

  // The plaintext, or nullopt when the client's key was destroyed.
  absl::StatusOr<std::optional<std::string>> Open(absl::string_view client_id,
                                                  absl::string_view event_id,
                                                  absl::string_view sealed) const;

  // Destroys the client's data key. FAILED_PRECONDITION while a legal hold is
  // set. Destroying twice is fine (the first record stays).
  absl::Status Destroy(absl::string_view client_id, absl::string_view reason, absl::Time at);

  std::optional<ErasureRecord> Erased(absl::string_view client_id) const;

  absl::Status SetLegalHold(absl::string_view client_id, absl::string_view reason, absl::Time at);
  absl::Status ClearLegalHold(absl::string_view client_id);
  std::optional<LegalHold> Hold(absl::string_view client_id) const;

  // True when at least one client's data key is stored.
  bool HasDataKeys() const;

  // OK when the master key opens the stored data keys (checks one); DATA_LOSS
  // naming the remedy when it does not.
  absl::Status CheckMasterKey() const;

 private:
  KeyVault(EventStore* store, const Key256& master_key) : store_(store), master_(master_key) {}

  // The client's data key; nullopt when none exists (yet, or any more).
  absl::StatusOr<std::optional<Key256>> DataKey(absl::string_view client_id) const;

  // DataKey's load, with the client's lock held: the cached key, else the
  // stored one (then cached), else nullopt.
  absl::StatusOr<std::optional<Key256>> LoadLocked(absl::string_view client_id) const;
  // The client's lock: held while its key is loaded, made or destroyed.
  std::mutex& ClientMutex(absl::string_view client_id) const;
  // The cached key, if any.
  std::optional<Key256> Cached(absl::string_view client_id) const;

  static constexpr size_t kKeyStripes = 64;

  EventStore* const store_;
  const Key256 master_;
  mutable std::array<std::mutex, kKeyStripes> client_mu_;
  mutable std::mutex mu_;  // guards cache_ only; taken after a client's lock, never before
  mutable absl::flat_hash_map<std::string, Key256> cache_;  // guarded by mu_
};

}  // namespace caseledger::storage

#endif  // CASELEDGER_STORAGE_KEY_VAULT_H_
