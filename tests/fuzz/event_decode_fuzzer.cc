// Fuzzes the decoders of stored events and of replay leaves (canonical bytes
// from an auditor's file): any input must be rejected cleanly or decode to
// fields that re-encode to exactly the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "storage/event_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  auto value = caseledger::storage::DecodeEventValue(input);
  if (value.ok()) {
    caseledger::storage::RecordedEvent copy = *value;
    // Re-encoding keeps the stored hash and digest, so compare field by field.
    std::string canonical = caseledger::storage::EncodeCanonical(copy);
    if (input.compare(0, canonical.size(), canonical) != 0) std::abort();
  }
  auto leaf = caseledger::storage::DecodeCanonical(input);
  if (leaf.ok() && caseledger::storage::EncodeCanonical(*leaf) != input) std::abort();
  return 0;
}
