// AccessLog: the processing log (verwerkingenlogging) — every read of a
// client's data, allowed or refused: who (organisation, role, person), when,
// which client, which call, why (purpose), with a trace id, in the spirit of
// the Dutch Logboek Dataverwerkingen standard.
//
// Owns: the access_log column family of the EventStore's database. Promises:
//  - Append-only and hash-chained: each record carries the previous record's
//    hash and its own SHA-256 over the canonical bytes below; Verify names the
//    first broken sequence number.
//  - Durable before Record returns (synced write): a read is answered only
//    after it has been recorded.
//  - Records of one client are listed through an index, oldest first.
//
// Format (all integers big-endian; lp(x) := u32be(len) | x):
//   key 'r' | sequence u64be  -> record := canonical | hash(32)
//   canonical := "CLA1" | sequence u64be | at_micros i64be | lp(organisation)
//                | lp(role) | lp(user_id) | lp(client_id) | lp(call) | lp(purpose)
//                | lp(trace_id) | lp(outcome) | previous_hash(32)
//   key 'c' | client_id | 0x00 | sequence u64be -> "" (index by data subject)
//   key 'h' -> last sequence u64be | last hash(32)
//
// Thread-safety: thread-safe; Record calls are serialised (one chain).
#ifndef CASELEDGER_STORAGE_ACCESS_LOG_H_
#define CASELEDGER_STORAGE_ACCESS_LOG_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/event_codec.h"
#include "storage/event_store.h"
#include "storage/group_commit.h"

namespace caseledger::storage {

struct AccessRecord {
  uint64_t sequence = 0;  // assigned by Record
  absl::Time at = absl::UnixEpoch();  // assigned by Record
  std::string organisation;
  std::string role;
  std::string user_id;
  std::string client_id;  // the data subject; "*" for reads of the whole log
  std::string call;       // e.g. "LedgerService.ReadClientEvents"
  std::string purpose;    // doel van de verwerking
  std::string trace_id;
  std::string outcome;    // "OK" or the refusal's status code, e.g. "PERMISSION_DENIED"
  Hash previous_hash{};
  Hash hash{};
};

class AccessLog {
 public:
  // `store` must outlive the log; the log lives in its database.
  static absl::StatusOr<std::unique_ptr<AccessLog>> Open(EventStore* store);

  // Appends `record` (sequence, at and hashes are assigned), synced.
  // Group commit: records of concurrent callers share one synced write, in
  // the order they arrived; each caller returns once its record is durable.
  absl::StatusOr<uint64_t> Record(AccessRecord record);
  // The same without waiting for the disk: `done` gets the sequence number
  // once the record is durable (or the error), exactly once, on the calling
  // thread or on the thread that commits the group (storage/group_commit.h;
  // the same rules as EventStore::AppendAsync). A server answers a read from
  // `done`, so a read is still answered only after it has been recorded.
  using RecordCallback = std::function<void(absl::StatusOr<uint64_t>)>;
  void RecordAsync(AccessRecord record, RecordCallback done);

  // The records about `client_id` with sequence >= from_sequence, oldest first.
  absl::StatusOr<std::vector<AccessRecord>> ListForClient(absl::string_view client_id,
                                                          uint64_t from_sequence, size_t limit) const;

  // Recomputes every record's hash and link.
  absl::StatusOr<VerifyResult> Verify() const;

  uint64_t LastSequence() const;

 private:
  explicit AccessLog(EventStore* store);
  absl::StatusOr<AccessRecord> ReadRecord(uint64_t sequence) const;

  struct Pending {
    AccessRecord record;
    absl::StatusOr<uint64_t> result = 0;
  };
  // What a record weighs in the queue: its strings and fixed fields.
  static size_t Weight(const AccessRecord& record);
  // Chains and writes `group` in one synced batch; fills each result.
  void CommitGroup(const std::vector<Pending*>& group);

  EventStore* const store_;
  GroupCommitQueue<Pending> queue_;
  mutable std::mutex mu_;
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  Hash last_hash_ ABSL_GUARDED_BY(mu_){};
  absl::Time last_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace caseledger::storage

#endif  // CASELEDGER_STORAGE_ACCESS_LOG_H_
