// Fuzzes what a partner sends: any bytes parsed as an Event go through the
// validator and, if valid, the case fold and the store mapping, without a
// crash; a valid event's stored form maps back to the same payload.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "projections/case_state.h"
#include "projections/event_mapping.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace caseledger;
  v1::Event event;
  if (!event.ParseFromArray(data, static_cast<int>(size))) return 0;
  if (!projections::ValidateEvent(event).ok()) return 0;
  projections::CaseState state;
  state.client_id = "c-fuzz";
  event.mutable_envelope()->set_stream_version(1);
  (void)projections::ApplyEvent(state, event);
  (void)projections::ApplyEvent(state, event);  // again, on whatever state resulted
  storage::RecordedEvent recorded;
  recorded.stream_id = "c-fuzz";
  recorded.event = projections::ToProposedEvent(event, "org", "user");
  auto back = projections::FromRecordedEvent(recorded, true);
  if (!back.ok()) std::abort();
  if (back->payload_case() != event.payload_case()) std::abort();
  return 0;
}
