// Mapping between the public Event message and the event store's records.
//
// A stored event keeps (see storage/event_codec.h):
//   type      = the payload's message name, e.g. "Intake"
//   payload   = the Event with only its payload set, serialized deterministically
//   personal  = PersonalData, serialized deterministically ("" when absent);
//               a Corrected event's replacement.personal_data goes here too.
//               The services seal it with the client's key (storage/key_vault.h)
//               before appending.
// Envelope fields come from the store (positions, hashes, recorded_at) and
// from the caller's identity (organisation, user id) — never from the request.
//
// Thread-safety: pure functions.
#ifndef CASELEDGER_PROJECTIONS_EVENT_MAPPING_H_
#define CASELEDGER_PROJECTIONS_EVENT_MAPPING_H_

#include <functional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "caseledger/v1/events.pb.h"
#include "projections/case_state.h"
#include "storage/event_store.h"
#include "storage/key_vault.h"

namespace caseledger::projections {

// Microsecond-precision conversions between absl::Time and protobuf Timestamp.
google::protobuf::Timestamp ToTimestamp(absl::Time t);
absl::Time FromTimestamp(const google::protobuf::Timestamp& ts);

// `event` must have passed ValidateEvent.
storage::ProposedEvent ToProposedEvent(const v1::Event& event, absl::string_view organisation,
                                       absl::string_view user_id);

// The same, without copying the event: its envelope and personal data are
// taken out for the serialization and put back, so `event` is unchanged when
// this returns (the one write path calls it for every event it appends).
storage::ProposedEvent ToProposedEventInPlace(v1::Event& event, absl::string_view organisation,
                                              absl::string_view user_id);

// envelope.occurred_at at the precision the store keeps (microseconds): the
// fold of an event so normalised equals the fold of the event as stored.
void NormaliseOccurredAt(v1::Event& event);

// The public form of a stored event, without its personal data (the
// personal_data field is left empty). `include_personal_data` is for bytes
// that hold the plaintext section (tests, fuzzers): the stored section is
// sealed, use the overload below.
absl::StatusOr<v1::Event> FromRecordedEvent(const storage::RecordedEvent& recorded,
                                            bool include_personal_data);

// The public form with the personal data opened with the client's key (a
// Corrected event's personal values go to corrected.replacement). After an
// erasure the personal data stays empty and envelope.personal_data_erased is set.
absl::StatusOr<v1::Event> FromRecordedEvent(const storage::RecordedEvent& recorded,
                                            const storage::KeyVault& vault);

// The same into `*out` (which should be empty). `vault` null: without
// personal data.
absl::Status FillFromRecordedEvent(const storage::RecordedEvent& recorded, const storage::KeyVault* vault,
                                   v1::Event* out);

// Writes stored events as the wire bytes of the public Event, without
// building an Event: the stored payload already is the wire form of an Event
// that holds only its payload (see above), so only the envelope and the opened
// personal data are encoded, and the payload's bytes are copied once, into
// the output. Protocol Buffers merge the fields of a message that arrive in
// several pieces, so these bytes parse into exactly the Event that
// FillFromRecordedEvent builds (the test compares the two for every kind of
// event, with and without personal data, erased and corrected). For readers
// that send many events (history reads): no payload is parsed and
// re-serialized. The payload's top-level fields are checked to be well
// formed (DATA_LOSS otherwise); their contents were checked when written and
// are covered by the event's hash.
//
// Thread-compatible: one writer per thread; it reuses its envelope.
class EventWireWriter {
 public:
  // `vault` null: the events go out without personal data.
  explicit EventWireWriter(const storage::KeyVault* vault) : vault_(vault) {}

  // Appends to *out the length-delimited field `field_number` holding the
  // public form of `view`.
  absl::Status AppendField(int field_number, const storage::EventView& view, std::string* out);

 private:
  const storage::KeyVault* const vault_;
  v1::EventEnvelope envelope_;
};

// Calls `fn` for each stored event of the client from `from_version` on, in
// version order, paging through the stream index; stops at the first error.
absl::Status ForEachStreamEvent(const storage::EventStore& store, absl::string_view client_id,
                                uint64_t from_version,
                                const std::function<absl::Status(const storage::RecordedEvent&)>& fn);

// Folds the client's stored events after state.version into `state`.
// DATA_LOSS if a stored event no longer folds.
absl::Status FoldStoredEvents(const storage::EventStore& store, absl::string_view client_id, CaseState& state);

// Reads a client's whole stream and folds it. A client without events gives
// an empty state (version 0). DATA_LOSS if a stored event no longer folds.
absl::StatusOr<CaseState> LoadCaseState(const storage::EventStore& store,
                                        absl::string_view client_id);

// The case as it stood at `as_of`: the client's events that occurred at or
// before `as_of`, folded in stream order. An event that cannot stand without
// a later one (e.g. a revision of a plan established afterwards) is left out.
// A client with no such events gives an empty state (version 0).
absl::StatusOr<CaseState> LoadCaseStateAsOf(const storage::EventStore& store,
                                            absl::string_view client_id, absl::Time as_of);

}  // namespace caseledger::projections

#endif  // CASELEDGER_PROJECTIONS_EVENT_MAPPING_H_
