// Byte formats of the event store; the grammar is documented in event_codec.h.
#include "storage/event_codec.h"

#include <openssl/evp.h>

#include <cstring>
#include <memory>

#include "absl/strings/string_view.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/escaping.h"
#include "storage/byte_coding.h"
#include "storage/status_macros.h"

namespace caseledger::storage {
namespace {

constexpr absl::string_view kCanonicalMagic = "CLE2";
constexpr absl::string_view kDigestMagic = "CLD1";

}  // namespace

Hash Sha256(absl::string_view bytes) { return Sha256({bytes}); }

Hash Sha256(std::initializer_list<absl::string_view> parts) {
  // Fetched once; never freed (it lives as long as OpenSSL's default provider).
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct CtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  thread_local std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  Hash h;
  unsigned int len = 0;
  bool ok = md != nullptr && ctx != nullptr && EVP_DigestInit_ex2(ctx.get(), md, nullptr) == 1;
  for (absl::string_view part : parts) {
    ok = ok && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(ctx.get(), h.data(), &len) == 1;
  // Fails only on allocation failure; a zero hash would then fail verification.
  if (!ok) h.fill(0);
  return h;
}

std::string HashToHex(const Hash& hash) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
}

std::string EncodeU64(uint64_t value) {
  std::string out;
  PutU64(out, value);
  return out;
}

absl::StatusOr<uint64_t> DecodeU64(absl::string_view bytes) {
  ByteReader r(bytes);
  uint64_t v;
  if (bytes.size() != 8 || !r.ReadU64(&v)) {
    return absl::DataLossError(
        absl::StrCat("expected an 8-byte big-endian integer, found ", bytes.size(), " bytes"));
  }
  return v;
}

std::string EventKey(uint64_t global_position) { return EncodeU64(global_position); }

std::string EncodeStreamRun(uint64_t first_position, uint64_t count) {
  std::string out = EncodeU64(first_position);
  if (count != 1) PutU64(out, count);
  return out;
}

absl::StatusOr<StreamRun> DecodeStreamRun(absl::string_view value) {
  StreamRun run;
  if (value.size() != 8 && value.size() != 16) {
    return absl::DataLossError(absl::StrCat("a stream-index entry has ", value.size(),
                                            " bytes instead of 8 or 16; the store is damaged"));
  }
  CASELEDGER_ASSIGN_OR_RETURN(run.first_position, DecodeU64(value.substr(0, 8)));
  run.count = 1;
  if (value.size() == 16) {
    CASELEDGER_ASSIGN_OR_RETURN(run.count, DecodeU64(value.substr(8)));
  }
  if (run.count == 0 || run.first_position == 0 || run.count > UINT64_MAX - run.first_position) {
    return absl::DataLossError(absl::StrCat("a stream-index entry names ", run.count, " events from position ",
                                            run.first_position, "; the store is damaged"));
  }
  return run;
}

std::string StreamPrefix(absl::string_view stream_id) {
  std::string key(stream_id);
  key.push_back('\0');
  return key;
}

std::string StreamKey(absl::string_view stream_id, uint64_t stream_version) {
  std::string key = StreamPrefix(stream_id);
  PutU64(key, stream_version);
  return key;
}

std::string MerkleNodeKey(int level, uint64_t index) {
  std::string key(1, static_cast<char>(level));
  PutU64(key, index);
  return key;
}

std::string EncodeCanonical(const RecordedEvent& e) {
  const ProposedEvent& p = e.event;
  std::string out;
  // Room for the whole events-CF value (EncodeEventValue appends the hash and
  // the personal section), so that it is never copied to grow.
  out.reserve(160 + e.stream_id.size() + p.event_id.size() + p.type.size() +
              p.organisation.size() + p.user_id.size() + p.correlation_id.size() +
              p.payload.size() + 36 + p.personal.size());
  out.append(kCanonicalMagic.data(), kCanonicalMagic.size());
  PutU64(out, e.global_position);
  PutU64(out, e.stream_version);
  PutLengthPrefixed(out, e.stream_id);
  PutLengthPrefixed(out, p.event_id);
  PutLengthPrefixed(out, p.type);
  PutI64(out, absl::ToUnixMicros(p.occurred_at));
  PutI64(out, absl::ToUnixMicros(e.recorded_at));
  PutLengthPrefixed(out, p.organisation);
  PutLengthPrefixed(out, p.user_id);
  PutLengthPrefixed(out, p.correlation_id);
  PutLengthPrefixed(out, p.payload);
  AppendHash(out, e.personal_digest);
  AppendHash(out, e.previous_hash);
  return out;
}

Hash PersonalDigest(absl::string_view personal) {
  return personal.empty() ? kZeroHash : Sha256(personal);
}

std::string EncodeEventValue(RecordedEvent& event, size_t* canonical_size) {
  event.personal_digest = PersonalDigest(event.event.personal);
  std::string value = EncodeCanonical(event);
  event.hash = Sha256(value);
  if (canonical_size != nullptr) *canonical_size = value.size();
  AppendHash(value, event.hash);
  PutLengthPrefixed(value, event.event.personal);
  return value;
}

namespace {

// Reads the canonical part of an event from `r` into `v`.
absl::Status ReadCanonical(ByteReader& r, EventView& v) {
  absl::string_view magic;
  if (!r.ReadBytes(kCanonicalMagic.size(), &magic) || magic != kCanonicalMagic) {
    return absl::DataLossError("stored event does not start with the format marker CLE2");
  }
  const size_t kHashBytes = Hash().size();
  bool ok = r.ReadU64(&v.global_position) && r.ReadU64(&v.stream_version) &&
            r.ReadLengthPrefixed(&v.stream_id) && r.ReadLengthPrefixed(&v.event_id) &&
            r.ReadLengthPrefixed(&v.type) && r.ReadI64(&v.occurred_at_micros) &&
            r.ReadI64(&v.recorded_at_micros) && r.ReadLengthPrefixed(&v.organisation) &&
            r.ReadLengthPrefixed(&v.user_id) && r.ReadLengthPrefixed(&v.correlation_id) &&
            r.ReadLengthPrefixed(&v.payload) && r.ReadBytes(kHashBytes, &v.personal_digest) &&
            r.ReadBytes(kHashBytes, &v.previous_hash);
  if (!ok) return absl::DataLossError("stored event is truncated or has a bad length field");
  return absl::OkStatus();
}

absl::Status ExpectEnd(const ByteReader& r) {
  if (r.remaining() != 0) {
    return absl::DataLossError(
        absl::StrCat("stored event has ", r.remaining(), " unexpected trailing bytes"));
  }
  return absl::OkStatus();
}

void CopyHash(absl::string_view bytes, Hash* out) {
  if (bytes.size() == out->size()) std::memcpy(out->data(), bytes.data(), out->size());
}

}  // namespace

// Hashes are copied only when the view has them (DecodeCanonical's has none).
RecordedEvent ToRecordedEvent(const EventView& v) {
  RecordedEvent e;
  e.stream_id.assign(v.stream_id.data(), v.stream_id.size());
  e.stream_version = v.stream_version;
  e.global_position = v.global_position;
  e.recorded_at = absl::FromUnixMicros(v.recorded_at_micros);
  ProposedEvent& p = e.event;
  p.event_id.assign(v.event_id.data(), v.event_id.size());
  p.type.assign(v.type.data(), v.type.size());
  p.occurred_at = absl::FromUnixMicros(v.occurred_at_micros);
  p.organisation.assign(v.organisation.data(), v.organisation.size());
  p.user_id.assign(v.user_id.data(), v.user_id.size());
  p.correlation_id.assign(v.correlation_id.data(), v.correlation_id.size());
  p.payload.assign(v.payload.data(), v.payload.size());
  p.personal.assign(v.personal.data(), v.personal.size());
  CopyHash(v.personal_digest, &e.personal_digest);
  CopyHash(v.previous_hash, &e.previous_hash);
  CopyHash(v.hash, &e.hash);
  return e;
}

absl::StatusOr<EventView> DecodeEventView(absl::string_view value) {
  ByteReader r(value);
  EventView v;
  absl::Status canonical = ReadCanonical(r, v);
  if (!canonical.ok()) return canonical;
  if (!r.ReadBytes(Hash().size(), &v.hash) || !r.ReadLengthPrefixed(&v.personal)) {
    return absl::DataLossError("stored event is truncated or has a bad length field");
  }
  absl::Status end = ExpectEnd(r);
  if (!end.ok()) return end;
  return v;
}

absl::StatusOr<RecordedEvent> DecodeEventValue(absl::string_view value) {
  absl::StatusOr<EventView> view = DecodeEventView(value);
  if (!view.ok()) return view.status();
  return ToRecordedEvent(*view);
}

absl::StatusOr<RecordedEvent> DecodeCanonical(absl::string_view canonical) {
  ByteReader r(canonical);
  EventView v;
  absl::Status read = ReadCanonical(r, v);
  if (!read.ok()) return read;
  absl::Status end = ExpectEnd(r);
  if (!end.ok()) return end;
  RecordedEvent e = ToRecordedEvent(v);
  e.hash = Sha256(canonical);
  return e;
}

Hash ContentDigest(absl::string_view stream_id, const ProposedEvent& p) {
  std::string buf;
  buf.reserve(64 + stream_id.size() + p.event_id.size() + p.type.size() + p.payload.size() +
              p.personal.size());
  buf.append(kDigestMagic.data(), kDigestMagic.size());
  PutLengthPrefixed(buf, stream_id);
  PutLengthPrefixed(buf, p.event_id);
  PutLengthPrefixed(buf, p.type);
  PutI64(buf, absl::ToUnixMicros(p.occurred_at));
  PutLengthPrefixed(buf, p.organisation);
  PutLengthPrefixed(buf, p.user_id);
  PutLengthPrefixed(buf, p.correlation_id);
  PutLengthPrefixed(buf, p.payload);
  PutLengthPrefixed(buf, p.personal);
  return Sha256(buf);
}

namespace {

// Both the event-id entry and the log head are u64be | 32 bytes.
std::string EncodePositionAndHash(uint64_t position, const Hash& hash) {
  std::string out;
  PutU64(out, position);
  AppendHash(out, hash);
  return out;
}

absl::Status DecodePositionAndHash(absl::string_view value, absl::string_view what,
                                   uint64_t* position, Hash* hash) {
  ByteReader r(value);
  if (value.size() != 40 || !r.ReadU64(position) || !r.ReadHash(hash)) {
    return absl::DataLossError(
        absl::StrCat(what, " has ", value.size(), " bytes, expected 40"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeEventIdValue(uint64_t global_position, const Hash& digest) {
  return EncodePositionAndHash(global_position, digest);
}

absl::Status DecodeEventIdValue(absl::string_view value, uint64_t* global_position,
                                Hash* digest) {
  return DecodePositionAndHash(value, "event-id index entry", global_position, digest);
}

std::string EncodeLogHead(uint64_t last_position, const Hash& last_hash) {
  return EncodePositionAndHash(last_position, last_hash);
}

absl::Status DecodeLogHead(absl::string_view value, uint64_t* last_position, Hash* last_hash) {
  return DecodePositionAndHash(value, "log head entry", last_position, last_hash);
}

}  // namespace caseledger::storage
