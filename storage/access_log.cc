#include "storage/access_log.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "storage/byte_coding.h"
#include "storage/column_families.h"
#include "storage/rocksdb_status.h"
#include "storage/status_macros.h"

namespace caseledger::storage {
namespace {

constexpr absl::string_view kMagic = "CLA1";
constexpr char kHeadKey[] = "h";

std::string RecordKey(uint64_t sequence) {
  std::string key = "r";
  PutU64(key, sequence);
  return key;
}

std::string ClientPrefix(absl::string_view client_id) {
  std::string key = "c";
  key.append(client_id.data(), client_id.size());
  key.push_back('\0');
  return key;
}

std::string Canonical(const AccessRecord& r) {
  std::string out(kMagic);
  PutU64(out, r.sequence);
  PutI64(out, absl::ToUnixMicros(r.at));
  for (const std::string* field : {&r.organisation, &r.role, &r.user_id, &r.client_id, &r.call,
                                   &r.purpose, &r.trace_id, &r.outcome}) {
    PutLengthPrefixed(out, *field);
  }
  AppendHash(out, r.previous_hash);
  return out;
}

absl::StatusOr<AccessRecord> Decode(absl::string_view value) {
  ByteReader in(value);
  absl::string_view magic;
  AccessRecord r;
  int64_t at = 0;
  bool ok = in.ReadBytes(kMagic.size(), &magic) && magic == kMagic && in.ReadU64(&r.sequence) &&
            in.ReadI64(&at);
  for (std::string* field : {&r.organisation, &r.role, &r.user_id, &r.client_id, &r.call,
                             &r.purpose, &r.trace_id, &r.outcome}) {
    ok = ok && in.ReadLengthPrefixed(field);
  }
  ok = ok && in.ReadHash(&r.previous_hash) && in.ReadHash(&r.hash) && in.remaining() == 0;
  if (!ok) return absl::DataLossError("an access-log record is malformed");
  r.at = absl::FromUnixMicros(at);
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AccessLog>> AccessLog::Open(EventStore* store) {
  std::unique_ptr<AccessLog> log(new AccessLog(store));
  std::string value;
  rocksdb::Status s = store->db()->Get(rocksdb::ReadOptions(), store->column_family(kAccessLogCf),
                                       kHeadKey, &value);
  if (s.ok()) {
    ByteReader in(value);
    std::lock_guard<std::mutex> lock(log->mu_);
    if (value.size() != 40 || !in.ReadU64(&log->last_sequence_) || !in.ReadHash(&log->last_hash_)) {
      return absl::DataLossError("the access log's head entry is malformed");
    }
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading the access log head");
  }
  return log;
}

uint64_t AccessLog::LastSequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_sequence_;
}

AccessLog::AccessLog(EventStore* store)
    : store_(store),
      // Groups of up to 1 MiB of records (a few thousand reads); the queue
      // bounds as the store's does.
      queue_({.max_group_bytes = 1 << 20,
              .max_queued = store->options().max_queued_appends,
              .max_queued_bytes = store->options().max_queued_bytes},
             [this](const std::vector<Pending*>& group) { CommitGroup(group); }) {}

size_t AccessLog::Weight(const AccessRecord& r) {
  return 128 + r.organisation.size() + r.role.size() + r.user_id.size() + r.client_id.size() + r.call.size() +
         r.purpose.size() + r.trace_id.size() + r.outcome.size();
}

absl::StatusOr<uint64_t> AccessLog::Record(AccessRecord record) {
  Pending mine;
  mine.record = std::move(record);
  CASELEDGER_RETURN_IF_ERROR(queue_.Submit(&mine, Weight(mine.record)));
  return std::move(mine.result);
}

void AccessLog::RecordAsync(AccessRecord record, RecordCallback done) {
  auto pending = std::make_unique<Pending>();
  pending->record = std::move(record);
  const size_t weight = Weight(pending->record);
  queue_.SubmitAsyncForResult(std::move(pending), weight, std::move(done));
}

void AccessLog::CommitGroup(const std::vector<Pending*>& group) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t sequence = last_sequence_;
  Hash previous = last_hash_;
  absl::Time at = last_at_;
  rocksdb::ColumnFamilyHandle* cf = store_->column_family(kAccessLogCf);
  rocksdb::WriteBatch batch;
  bool staged = true;
  for (Pending* p : group) {
    AccessRecord& record = p->record;
    record.sequence = ++sequence;
    // Microsecond precision (as stored) and never earlier than the record before.
    at = std::max(absl::FromUnixMicros(absl::ToUnixMicros(absl::Now())), at);
    record.at = at;
    record.previous_hash = previous;
    std::string value = Canonical(record);
    record.hash = Sha256(value);
    AppendHash(value, record.hash);
    previous = record.hash;
    std::string index = ClientPrefix(record.client_id);
    PutU64(index, record.sequence);
    staged = staged && batch.Put(cf, RecordKey(record.sequence), value).ok() && batch.Put(cf, index, "").ok();
  }
  std::string head;
  PutU64(head, sequence);
  AppendHash(head, previous);
  staged = staged && batch.Put(cf, kHeadKey, head).ok();
  absl::Status written = staged ? absl::OkStatus() : absl::InternalError("could not stage the access-log records");
  if (written.ok()) {
    rocksdb::WriteOptions wo;
    wo.sync = store_->options().sync;
    written = FromRocks(store_->db()->Write(wo, &batch), "writing the access log");
  }
  for (Pending* p : group) {
    if (written.ok()) {
      p->result = p->record.sequence;
    } else {
      p->result = written;
    }
  }
  if (!written.ok()) return;  // nothing of the group is recorded; the chain is unchanged
  last_sequence_ = sequence;
  last_hash_ = previous;
  last_at_ = at;
}

absl::StatusOr<AccessRecord> AccessLog::ReadRecord(uint64_t sequence) const {
  std::string value;
  rocksdb::Status s = store_->db()->Get(rocksdb::ReadOptions(), store_->column_family(kAccessLogCf),
                                        RecordKey(sequence), &value);
  if (s.IsNotFound()) {
    return absl::DataLossError(absl::StrCat("access-log record ", sequence, " is missing"));
  }
  CASELEDGER_RETURN_IF_ERROR(FromRocks(s, "reading the access log"));
  return Decode(value);
}

absl::StatusOr<std::vector<AccessRecord>> AccessLog::ListForClient(absl::string_view client_id,
                                                                   uint64_t from_sequence,
                                                                   size_t limit) const {
  std::vector<AccessRecord> out;
  const std::string prefix = ClientPrefix(client_id);
  std::string start = prefix;
  PutU64(start, from_sequence);
  std::string upper = prefix;
  upper.back() = '\x01';
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(ro, store_->column_family(kAccessLogCf)));
  for (it->Seek(start); it->Valid() && out.size() < limit; it->Next()) {
    ByteReader key(absl::string_view(it->key().data(), it->key().size()).substr(prefix.size()));
    uint64_t sequence = 0;
    if (!key.ReadU64(&sequence)) return absl::DataLossError("an access-log index key is malformed");
    CASELEDGER_ASSIGN_OR_RETURN(AccessRecord record, ReadRecord(sequence));
    out.push_back(std::move(record));
  }
  CASELEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading the access-log index"));
  return out;
}

absl::StatusOr<VerifyResult> AccessLog::Verify() const {
  VerifyResult result;
  const uint64_t last = LastSequence();
  Hash previous = kZeroHash;
  for (uint64_t sequence = 1; sequence <= last; ++sequence) {
    std::string value;
    rocksdb::Status s = store_->db()->Get(rocksdb::ReadOptions(), store_->column_family(kAccessLogCf),
                                          RecordKey(sequence), &value);
    auto broken = [&](std::string problem) {
      result.first_broken_position = sequence;
      result.problem = absl::StrCat("access-log record ", sequence, ": ", problem);
      return result;
    };
    if (!s.ok()) return broken(s.IsNotFound() ? "missing" : s.ToString());
    absl::StatusOr<AccessRecord> record = Decode(value);
    if (!record.ok()) return broken(std::string(record.status().message()));
    if (record->sequence != sequence) return broken("it claims another sequence number");
    if (Sha256(absl::string_view(value).substr(0, value.size() - sizeof(Hash))) != record->hash) {
      return broken("the stored hash does not match the record's content");
    }
    if (record->previous_hash != previous) return broken("the previous-hash link is broken");
    previous = record->hash;
    ++result.checked;
  }
  return result;
}

}  // namespace caseledger::storage
