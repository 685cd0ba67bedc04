// Fuzzes the decoders of stored events and of replay leaves (canonical bytes
// from an auditor's file): any input must be rejected cleanly or decode to
// fields that re-encode to exactly the same bytes. A stored event that
// decodes is also written as wire bytes (projections::EventWireWriter, the
// history reads' path): when both that and the message-building path
// (FillFromRecordedEvent) accept it, the bytes must parse into the very Event
// the other path builds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "caseledger/v1/ledger_service.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "projections/event_mapping.h"
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
  auto view = caseledger::storage::DecodeEventView(input);
  if (view.ok() != value.ok()) std::abort();
  if (view.ok()) {
    caseledger::projections::EventWireWriter writer(nullptr);
    std::string wire;
    const absl::Status written = writer.AppendField(1, *view, &wire);
    caseledger::v1::Event built;
    const absl::Status filled =
        caseledger::projections::FillFromRecordedEvent(caseledger::storage::ToRecordedEvent(*view), nullptr, &built);
    if (written.ok() && filled.ok()) {
      // What a client receives either way: both parse into equal Events, or
      // neither parses (e.g. a stored string that is not UTF-8).
      caseledger::v1::ReadClientEventsResponse from_wire;
      caseledger::v1::Event from_built;
      const bool wire_parses = from_wire.ParseFromString(wire) && from_wire.events_size() == 1;
      const bool built_parses = from_built.ParseFromString(built.SerializeAsString());
      if (wire_parses != built_parses) std::abort();
      if (wire_parses && !google::protobuf::util::MessageDifferencer::Equals(from_wire.events(0), from_built)) {
        std::abort();
      }
    }
  }
  auto leaf = caseledger::storage::DecodeCanonical(input);
  if (leaf.ok() && caseledger::storage::EncodeCanonical(*leaf) != input) std::abort();
  return 0;
}
