// Encoding of events, keys and index values in RocksDB, and the event hash.
//
// Owns the on-disk byte formats of the event store; nothing else in the
// project builds or parses these bytes. All integers are big-endian so that
// keys sort in numeric order. Grammar (lp(x) := u32be(len(x)) | x):
//
//   events CF     key   := global_position u64be
//                 value := canonical | hash(32) | lp(personal)
//   canonical     := "CLE2"
//                    | global_position u64be | stream_version u64be
//                    | lp(stream_id) | lp(event_id) | lp(type)
//                    | occurred_at_micros i64be | recorded_at_micros i64be
//                    | lp(organisation) | lp(user_id) | lp(correlation_id)
//                    | lp(payload) | personal_digest(32)
//                    | previous_hash(32)
//   personal_digest := SHA-256(personal), or 32 zero bytes when there is none
//   hash          := SHA-256(canonical)
//                    The canonical bytes are the Merkle leaf data. They hold
//                    only a digest of the personal section, so an auditor can
//                    verify leaves without seeing personal data, and the
//                    personal bytes can be erased while every hash still holds.
//                    previous_hash of position 1 is 32 zero bytes; otherwise it
//                    is the hash of the event at position - 1 (the hash chain).
//
//   streams CF    key   := stream_id | 0x00 | first_version u64be
//                 value := first_position u64be               (a run of one)
//                        | first_position u64be | count u64be (count >= 2)
//                 One entry per append: the run of versions first_version ..
//                 first_version + count - 1 lies at global positions
//                 first_position .. first_position + count - 1 (an append's
//                 events are contiguous in the log). Format 4 wrote one 8-byte
//                 entry per event, which reads as runs of one.
//                 (stream ids never contain 0x00, so a stream's keys are contiguous)
//
//   event_ids CF  key   := event_id
//                 value := global_position u64be | content_digest(32)
//   content_digest := SHA-256("CLD1" | lp(stream_id) | lp(event_id) | lp(type)
//                    | occurred_at_micros i64be | lp(organisation) | lp(user_id)
//                    | lp(correlation_id) | lp(payload) | lp(personal))
//                    — what the caller proposed, without server-assigned fields,
//                    so that an exact retry can be recognised.
//
//   merkle CF     key   := level u8 | index u64be
//                 value := hash(32) of the perfect subtree of 2^level leaves
//                          starting at leaf index * 2^level (RFC 6962 hashing;
//                          the leaf of global position p is index p-1 and its
//                          data is the event's canonical bytes).
//                 Only levels >= kMerkleStoredLevel are stored; lower nodes
//                 are recomputed from the (at most 16) events they cover.
//
//   meta CF       key "log_head"        value := last_position u64be | last_hash(32)
//                 key "format"          value := "5" (see kFormatVersion)
//                 key 'h' | stream_id   value := stream_version u64be: a stream's head,
//                                       written by earlier builds, no longer read
//                                       or written (a stream's newest version ends
//                                       its last streams-CF run)
//
// Thread-safety: every function here is pure and safe to call concurrently.
#ifndef CASELEDGER_STORAGE_EVENT_CODEC_H_
#define CASELEDGER_STORAGE_EVENT_CODEC_H_

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace caseledger::storage {

using Hash = std::array<uint8_t, 32>;

// An event as a caller proposes it. Storage treats payload and personal as
// opaque bytes (the services layer puts serialized protobuf messages there).
struct ProposedEvent {
  std::string event_id;
  std::string type;
  absl::Time occurred_at = absl::UnixEpoch();
  std::string organisation;
  std::string user_id;
  std::string correlation_id;
  std::string payload;
  std::string personal;

  bool operator==(const ProposedEvent&) const = default;
};

// An event as stored: the proposal plus what the ledger assigned.
struct RecordedEvent {
  std::string stream_id;
  uint64_t stream_version = 0;
  uint64_t global_position = 0;
  absl::Time recorded_at = absl::UnixEpoch();
  ProposedEvent event;
  Hash personal_digest{};  // of event.personal as written (kept if the personal bytes are erased)
  Hash previous_hash{};
  Hash hash{};
};

inline constexpr Hash kZeroHash{};
// Merkle nodes below this level are not stored (see the grammar above): the
// log pays ~1/8 of a node write per event instead of ~2.
inline constexpr int kMerkleStoredLevel = 4;
inline constexpr absl::string_view kLogHeadKey = "log_head";
inline constexpr absl::string_view kFormatKey = "format";
// 2: adds the merkle CF; 3: the personal section enters the hash as a digest;
// 4: the personal section is sealed per client (key_vault.h), the key_vault CF;
// 5: the streams CF holds one run per append. A format-4 store is read as it
// is (its entries are runs of one) and its marker becomes 5 at the first open.
inline constexpr absl::string_view kFormatVersion = "5";
inline constexpr absl::string_view kPreviousFormatVersion = "4";

Hash Sha256(absl::string_view bytes);
// SHA-256 over the concatenation of `parts` (no copy is made of them).
// Both use one SHA-256 implementation fetched from OpenSSL once and a
// digest context per thread: OpenSSL 3 looks the algorithm up again on every
// EVP_Digest(EVP_sha256()) call, which cost about as much as hashing a
// 600-byte event (349 vs 122 ns for a 65-byte Merkle node).
Hash Sha256(std::initializer_list<absl::string_view> parts);
std::string HashToHex(const Hash& hash);

// Keys.
std::string EventKey(uint64_t global_position);
std::string StreamKey(absl::string_view stream_id, uint64_t stream_version);
std::string StreamPrefix(absl::string_view stream_id);  // stream_id | 0x00
std::string MerkleNodeKey(int level, uint64_t index);

// Fixed-width integers.
std::string EncodeU64(uint64_t value);
absl::StatusOr<uint64_t> DecodeU64(absl::string_view bytes);

// A streams-CF value: `count` (>= 1) events from `first_position` on.
struct StreamRun {
  uint64_t first_position = 0;
  uint64_t count = 0;
};
std::string EncodeStreamRun(uint64_t first_position, uint64_t count);
absl::StatusOr<StreamRun> DecodeStreamRun(absl::string_view value);

// A stored event read in place: every view points into the events-CF value
// it was decoded from and is valid only as long as those bytes are (for
// readers that pass the bytes on without copying them, e.g. to a gRPC
// response). DecodeEventValue is this plus copies.
struct EventView {
  absl::string_view stream_id;
  uint64_t stream_version = 0;
  uint64_t global_position = 0;
  absl::string_view event_id;
  absl::string_view type;
  int64_t occurred_at_micros = 0;
  int64_t recorded_at_micros = 0;
  absl::string_view organisation;
  absl::string_view user_id;
  absl::string_view correlation_id;
  absl::string_view payload;
  absl::string_view personal_digest;  // 32 bytes
  absl::string_view previous_hash;    // 32 bytes
  absl::string_view hash;             // 32 bytes
  absl::string_view personal;         // sealed; empty when none (or erased bytes)
};

// Parses an events-CF value in place (see EventView). DATA_LOSS when the
// bytes do not follow the grammar. Does not check the hash.
absl::StatusOr<EventView> DecodeEventView(absl::string_view value);

// A view's copy.
RecordedEvent ToRecordedEvent(const EventView& view);

// The canonical bytes of an event (everything but its own hash). The Merkle
// leaf of an event (issue 5) is exactly these bytes.
std::string EncodeCanonical(const RecordedEvent& event);

// Digest of a personal section: SHA-256, or zeros when it is empty.
Hash PersonalDigest(absl::string_view personal);

// Fills in `event.personal_digest` and `event.hash` and returns the events-CF
// value. Its first *canonical_size bytes (if given) are the canonical bytes,
// the Merkle leaf data.
std::string EncodeEventValue(RecordedEvent& event, size_t* canonical_size = nullptr);

// Parses an events-CF value. Does not check the hash (EventStore::Verify does).
absl::StatusOr<RecordedEvent> DecodeEventValue(absl::string_view value);

// Parses canonical bytes alone (a Merkle leaf, e.g. from a replay); the
// result's hash is SHA-256 of them and its personal section is empty.
absl::StatusOr<RecordedEvent> DecodeCanonical(absl::string_view canonical);

// Digest of a proposal, used to recognise an exact retry of an event id.
Hash ContentDigest(absl::string_view stream_id, const ProposedEvent& event);

// event_ids CF value.
std::string EncodeEventIdValue(uint64_t global_position, const Hash& digest);
absl::Status DecodeEventIdValue(absl::string_view value, uint64_t* global_position,
                                Hash* digest);

// log_head value.
std::string EncodeLogHead(uint64_t last_position, const Hash& last_hash);
absl::Status DecodeLogHead(absl::string_view value, uint64_t* last_position, Hash* last_hash);

}  // namespace caseledger::storage

#endif  // CASELEDGER_STORAGE_EVENT_CODEC_H_
