#include "projections/event_mapping.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "storage/status_macros.h"

namespace caseledger::projections {
namespace {

std::string SerializeDeterministic(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

std::string HashBytes(const storage::Hash& h) {
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

}  // namespace

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  int64_t micros = absl::ToUnixMicros(t);
  int64_t seconds = micros / 1'000'000;
  int64_t rest = micros % 1'000'000;
  if (rest < 0) {
    rest += 1'000'000;
    --seconds;
  }
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(rest * 1000));
  return ts;
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixMicros(ts.seconds() * 1'000'000 + ts.nanos() / 1000);
}

namespace {

// The envelope fields of a proposed event; payload and personal are the caller's.
storage::ProposedEvent ProposedEnvelope(const v1::Event& event, absl::string_view organisation,
                                        absl::string_view user_id) {
  storage::ProposedEvent proposed;
  proposed.event_id = event.envelope().event_id();
  proposed.type = EventTypeName(event);
  // Stored with microsecond precision, like recorded_at.
  proposed.occurred_at = FromTimestamp(event.envelope().occurred_at());
  proposed.organisation = std::string(organisation);
  proposed.user_id = std::string(user_id);
  proposed.correlation_id = event.envelope().correlation_id();
  return proposed;
}

}  // namespace

storage::ProposedEvent ToProposedEventInPlace(v1::Event& event, absl::string_view organisation,
                                              absl::string_view user_id) {
  // A correction's personal values sit inside the payload: the copying path.
  if (event.has_corrected() && event.corrected().replacement().has_personal_data()) {
    return ToProposedEvent(event, organisation, user_id);
  }
  storage::ProposedEvent proposed = ProposedEnvelope(event, organisation, user_id);
  if (event.has_personal_data()) proposed.personal = SerializeDeterministic(event.personal_data());
  const bool had_envelope = event.has_envelope(), had_personal = event.has_personal_data();
  v1::EventEnvelope* envelope = had_envelope ? event.release_envelope() : nullptr;
  v1::PersonalData* personal = had_personal ? event.release_personal_data() : nullptr;
  proposed.payload = SerializeDeterministic(event);
  if (had_envelope) event.set_allocated_envelope(envelope);
  if (had_personal) event.set_allocated_personal_data(personal);
  return proposed;
}

void NormaliseOccurredAt(v1::Event& event) {
  google::protobuf::Timestamp* at = event.mutable_envelope()->mutable_occurred_at();
  at->set_nanos(at->nanos() / 1000 * 1000);  // FromTimestamp keeps whole microseconds
}

storage::ProposedEvent ToProposedEvent(const v1::Event& event, absl::string_view organisation,
                                       absl::string_view user_id) {
  storage::ProposedEvent proposed = ProposedEnvelope(event, organisation, user_id);
  v1::Event payload_only = event;
  payload_only.clear_envelope();
  payload_only.clear_personal_data();
  // A correction's personal values belong in the personal section too.
  const bool corrects_personal =
      event.has_corrected() && event.corrected().replacement().has_personal_data();
  if (corrects_personal) payload_only.mutable_corrected()->mutable_replacement()->clear_personal_data();
  proposed.payload = SerializeDeterministic(payload_only);
  if (corrects_personal) {
    proposed.personal = SerializeDeterministic(event.corrected().replacement().personal_data());
  } else if (event.has_personal_data()) {
    proposed.personal = SerializeDeterministic(event.personal_data());
  }
  return proposed;
}


namespace {

// Puts decrypted personal bytes where they belong: the event's personal_data,
// or a correction's replacement.
absl::Status PlacePersonal(const storage::RecordedEvent& recorded, absl::string_view plain, v1::Event& event) {
  v1::PersonalData* target = event.has_corrected()
                                 ? event.mutable_corrected()->mutable_replacement()->mutable_personal_data()
                                 : event.mutable_personal_data();
  if (!target->ParseFromArray(plain.data(), static_cast<int>(plain.size()))) {
    return absl::DataLossError(absl::StrCat("the personal data of the event at global position ",
                                            recorded.global_position, " does not parse"));
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

absl::Status PayloadDoesNotParse(uint64_t global_position) {
  return absl::DataLossError(
      absl::StrCat("the payload of the event at global position ", global_position, " does not parse"));
}

absl::Status FillPublic(const storage::RecordedEvent& recorded, v1::Event& event) {
  if (!event.ParseFromString(recorded.event.payload)) return PayloadDoesNotParse(recorded.global_position);
  v1::EventEnvelope* env = event.mutable_envelope();
  env->set_event_id(recorded.event.event_id);
  env->set_client_id(recorded.stream_id);
  env->set_type(recorded.event.type);
  *env->mutable_occurred_at() = ToTimestamp(recorded.event.occurred_at);
  *env->mutable_recorded_at() = ToTimestamp(recorded.recorded_at);
  env->set_organisation(recorded.event.organisation);
  env->set_user_id(recorded.event.user_id);
  env->set_correlation_id(recorded.event.correlation_id);
  env->set_stream_version(recorded.stream_version);
  env->set_global_position(recorded.global_position);
  env->set_previous_hash(HashBytes(recorded.previous_hash));
  env->set_hash(HashBytes(recorded.hash));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::Event> FromRecordedEvent(const storage::RecordedEvent& recorded,
                                            bool include_personal_data) {
  v1::Event event;
  CASELEDGER_RETURN_IF_ERROR(FillPublic(recorded, event));
  if (include_personal_data && !recorded.event.personal.empty()) {
    CASELEDGER_RETURN_IF_ERROR(PlacePersonal(recorded, recorded.event.personal, event));
  }
  return event;
}

absl::Status FillFromRecordedEvent(const storage::RecordedEvent& recorded, const storage::KeyVault* vault,
                                   v1::Event* out) {
  CASELEDGER_RETURN_IF_ERROR(FillPublic(recorded, *out));
  if (vault == nullptr || recorded.event.personal.empty()) return absl::OkStatus();
  CASELEDGER_ASSIGN_OR_RETURN(
      std::optional<std::string> plain,
      vault->Open(recorded.stream_id, recorded.event.event_id, recorded.event.personal));
  if (!plain.has_value()) {
    out->mutable_envelope()->set_personal_data_erased(true);
    return absl::OkStatus();
  }
  return PlacePersonal(recorded, *plain, *out);
}

absl::StatusOr<v1::Event> FromRecordedEvent(const storage::RecordedEvent& recorded,
                                            const storage::KeyVault& vault) {
  v1::Event event;
  CASELEDGER_RETURN_IF_ERROR(FillFromRecordedEvent(recorded, &vault, &event));
  return event;
}


namespace {

using google::protobuf::internal::WireFormatLite;

void PutVarint(uint64_t value, std::string* out) {
  char buf[10];
  char* end = reinterpret_cast<char*>(google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(
      value, reinterpret_cast<uint8_t*>(buf)));
  out->append(buf, end - buf);
}

size_t VarintSize(uint64_t value) { return google::protobuf::io::CodedOutputStream::VarintSize64(value); }

// Tag and length of a length-delimited field.
size_t FieldHeaderSize(int field_number, size_t length) {
  return VarintSize(WireFormatLite::MakeTag(field_number, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) +
         VarintSize(length);
}

void PutFieldHeader(int field_number, size_t length, std::string* out) {
  PutVarint(WireFormatLite::MakeTag(field_number, WireFormatLite::WIRETYPE_LENGTH_DELIMITED), out);
  PutVarint(length, out);
}

// Walks the payload's top-level fields: false when they are not well formed,
// or hold an envelope or personal data (the write path clears both before it
// serializes the payload; in these bytes they would override the envelope
// written here). *corrected: one of them is the Corrected payload.
bool ScanPayload(absl::string_view payload, bool* corrected) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(payload.data()),
                                            static_cast<int>(payload.size()));
  *corrected = false;
  while (in.CurrentPosition() < static_cast<int>(payload.size())) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0 || !WireFormatLite::SkipField(&in, tag)) return false;
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    if (field == v1::Event::kEnvelopeFieldNumber || field == v1::Event::kPersonalDataFieldNumber) return false;
    if (field == v1::Event::kCorrectedFieldNumber) *corrected = true;
  }
  return true;
}

}  // namespace

absl::Status EventWireWriter::AppendField(int field_number, const storage::EventView& view, std::string* out) {
  bool corrected = false;
  if (!ScanPayload(view.payload, &corrected)) return PayloadDoesNotParse(view.global_position);
  // The personal data, opened, and where FillFromRecordedEvent puts it.
  std::optional<std::string> plain;
  bool erased = false;
  if (vault_ != nullptr && !view.personal.empty()) {
    CASELEDGER_ASSIGN_OR_RETURN(plain, vault_->Open(view.stream_id, view.event_id, view.personal));
    erased = !plain.has_value();
  }

  v1::EventEnvelope& env = envelope_;
  env.set_event_id(view.event_id.data(), view.event_id.size());
  env.set_client_id(view.stream_id.data(), view.stream_id.size());
  env.set_type(view.type.data(), view.type.size());
  *env.mutable_occurred_at() = ToTimestamp(absl::FromUnixMicros(view.occurred_at_micros));
  *env.mutable_recorded_at() = ToTimestamp(absl::FromUnixMicros(view.recorded_at_micros));
  env.set_organisation(view.organisation.data(), view.organisation.size());
  env.set_user_id(view.user_id.data(), view.user_id.size());
  env.set_correlation_id(view.correlation_id.data(), view.correlation_id.size());
  env.set_stream_version(view.stream_version);
  env.set_global_position(view.global_position);
  env.set_previous_hash(view.previous_hash.data(), view.previous_hash.size());
  env.set_hash(view.hash.data(), view.hash.size());
  env.set_personal_data_erased(erased);
  const size_t envelope_size = env.ByteSizeLong();

  // personal_data = 2, or corrected = 25 { replacement = 3 { personal_data = 2 } }.
  size_t personal_size = 0, replacement_size = 0, corrected_size = 0;
  if (plain.has_value()) {
    personal_size = FieldHeaderSize(v1::Event::kPersonalDataFieldNumber, plain->size()) + plain->size();
    if (corrected) {
      replacement_size = personal_size;
      corrected_size = FieldHeaderSize(v1::Corrected::kReplacementFieldNumber, replacement_size) + replacement_size;
      personal_size = FieldHeaderSize(v1::Event::kCorrectedFieldNumber, corrected_size) + corrected_size;
    }
  }
  const size_t event_size = FieldHeaderSize(v1::Event::kEnvelopeFieldNumber, envelope_size) + envelope_size +
                            view.payload.size() + personal_size;

  out->reserve(out->size() + FieldHeaderSize(field_number, event_size) + event_size);
  PutFieldHeader(field_number, event_size, out);
  PutFieldHeader(v1::Event::kEnvelopeFieldNumber, envelope_size, out);
  const size_t at = out->size();
  out->resize(at + envelope_size);
  env.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(&(*out)[at]));
  out->append(view.payload.data(), view.payload.size());
  if (plain.has_value()) {
    if (corrected) {
      PutFieldHeader(v1::Event::kCorrectedFieldNumber, corrected_size, out);
      PutFieldHeader(v1::Corrected::kReplacementFieldNumber, replacement_size, out);
    }
    PutFieldHeader(v1::Event::kPersonalDataFieldNumber, plain->size(), out);
    out->append(*plain);
  }
  return absl::OkStatus();
}

absl::Status ForEachStreamEvent(const storage::EventStore& store, absl::string_view client_id,
                                uint64_t from_version,
                                const std::function<absl::Status(const storage::RecordedEvent&)>& fn) {
  constexpr size_t kPage = 1000;
  for (uint64_t from = std::max<uint64_t>(from_version, 1);;) {
    CASELEDGER_ASSIGN_OR_RETURN(std::vector<storage::RecordedEvent> page,
                                store.ReadStream(client_id, from, storage::ReadDirection::kForward, kPage));
    for (const storage::RecordedEvent& recorded : page) CASELEDGER_RETURN_IF_ERROR(fn(recorded));
    if (page.size() < kPage) return absl::OkStatus();
    from = page.back().stream_version + 1;
  }
}

absl::Status FoldStoredEvents(const storage::EventStore& store, absl::string_view client_id, CaseState& state) {
  return ForEachStreamEvent(store, client_id, state.version + 1, [&](const storage::RecordedEvent& recorded) {
    CASELEDGER_ASSIGN_OR_RETURN(v1::Event event, FromRecordedEvent(recorded, false));
    absl::Status applied = ApplyEvent(state, event);
    if (!applied.ok()) {
      return absl::DataLossError(absl::StrCat("stored event ", recorded.global_position, " of client ", client_id,
                                              " breaks the case rules: ", applied.message()));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<CaseState> LoadCaseState(const storage::EventStore& store,
                                        absl::string_view client_id) {
  CaseState state;
  state.client_id = std::string(client_id);
  CASELEDGER_RETURN_IF_ERROR(FoldStoredEvents(store, client_id, state));
  return state;
}

absl::StatusOr<CaseState> LoadCaseStateAsOf(const storage::EventStore& store,
                                            absl::string_view client_id, absl::Time as_of) {
  CaseState state;
  state.client_id = std::string(client_id);
  CASELEDGER_RETURN_IF_ERROR(ForEachStreamEvent(store, client_id, 1, [&](const storage::RecordedEvent& recorded) {
    if (recorded.event.occurred_at > as_of) return absl::OkStatus();
    CASELEDGER_ASSIGN_OR_RETURN(v1::Event event, FromRecordedEvent(recorded, false));
    CaseState next = state;
    if (ApplyEvent(next, event).ok()) state = std::move(next);
    return absl::OkStatus();
  }));
  return state;
}

}  // namespace caseledger::projections
