// Big-endian integers and length-prefixed strings: the building blocks of
// every byte format in storage/ (events, access log, tree heads). Each format
// documents its own grammar where it is written; this only encodes the parts.
//   u64be / i64be: 8 bytes, most significant first; u32be: 4 bytes
//   lp(x) := u32be(len(x)) | x
//
// Thread-safety: pure functions; a ByteReader is used by one thread.
#ifndef CASELEDGER_STORAGE_BYTE_CODING_H_
#define CASELEDGER_STORAGE_BYTE_CODING_H_

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"
#include "storage/event_codec.h"

namespace caseledger::storage {

inline void PutU64(std::string& out, uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out.append(buf, 8);
}

inline void PutI64(std::string& out, int64_t v) { PutU64(out, static_cast<uint64_t>(v)); }

inline void PutU32(std::string& out, uint32_t v) {
  char buf[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                 static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(buf, 4);
}

inline void PutLengthPrefixed(std::string& out, absl::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out.append(s.data(), s.size());
}

// A cursor over bytes being decoded; every read checks the remaining length.
class ByteReader {
 public:
  explicit ByteReader(absl::string_view in) : in_(in) {}

  bool ReadU64(uint64_t* v) {
    if (in_.size() < 8) return false;
    uint64_t r = 0;
    for (int i = 0; i < 8; ++i) r = (r << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(8);
    *v = r;
    return true;
  }
  bool ReadI64(int64_t* v) {
    uint64_t u;
    if (!ReadU64(&u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  bool ReadLengthPrefixed(std::string* s) {
    absl::string_view view;
    if (!ReadLengthPrefixed(&view)) return false;
    s->assign(view.data(), view.size());
    return true;
  }
  bool ReadLengthPrefixed(absl::string_view* out) {
    if (in_.size() < 4) return false;
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(4);
    return ReadBytes(n, out);
  }
  bool ReadBytes(size_t n, absl::string_view* out) {
    if (in_.size() < n) return false;
    *out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool ReadHash(Hash* h) {
    absl::string_view b;
    if (!ReadBytes(h->size(), &b)) return false;
    std::memcpy(h->data(), b.data(), h->size());
    return true;
  }
  size_t remaining() const { return in_.size(); }

 private:
  absl::string_view in_;
};

inline void AppendHash(std::string& out, const Hash& h) {
  out.append(reinterpret_cast<const char*>(h.data()), h.size());
}

}  // namespace caseledger::storage

#endif  // CASELEDGER_STORAGE_BYTE_CODING_H_
