// The RocksDB column families of the event store.
//
// WARNING: the ids are stable and part of the on-disk format. Never reorder,
// renumber or rename them; add new ones at the end only.
#ifndef CASELEDGER_STORAGE_COLUMN_FAMILIES_H_
#define CASELEDGER_STORAGE_COLUMN_FAMILIES_H_

#include <array>
#include <cstddef>

namespace caseledger::storage {

enum ColumnFamilyId : std::size_t {
  // RocksDB's mandatory default family; holds nothing.
  kDefaultCf = 0,
  // The global log: every event by global position (grammar in event_codec.h).
  kEventsCf = 1,
  // Stream index: client id + stream version -> global position.
  kStreamsCf = 2,
  // Event-id index: event id -> global position + content digest (idempotency).
  kEventIdsCf = 3,
  // Metadata: the log head (position + hash), the format version (and the
  // stream heads earlier builds wrote, no longer used).
  kMetaCf = 4,
  // The Merkle log over the global log: every perfect-subtree hash (merkle.h).
  kMerkleCf = 5,
  // The access log (verwerkingenlogging): who read which client's data (access_log.h).
  kAccessLogCf = 6,
  // Projection state and checkpoints, keyed by projection name (projection_worker.h).
  kProjectionsCf = 7,
  // Per-client data keys (wrapped), legal holds and erasures (key_vault.h).
  kKeyVaultCf = 8,
  kColumnFamilyCount = 9,
};

inline constexpr std::array<const char*, kColumnFamilyCount> kColumnFamilyNames = {
    "default", "events", "streams", "event_ids", "meta", "merkle", "access_log", "projections", "key_vault"};

}  // namespace caseledger::storage

#endif  // CASELEDGER_STORAGE_COLUMN_FAMILIES_H_
