#include "storage/event_codec.h"

#include <gtest/gtest.h>

namespace caseledger::storage {
namespace {

RecordedEvent SampleEvent() {
  RecordedEvent e;
  e.stream_id = "c-000123";
  e.stream_version = 3;
  e.global_position = 42;
  e.recorded_at = absl::FromUnixMicros(1'700'000'000'123'456);
  e.event.event_id = "ev-1";
  e.event.type = "Intake";
  e.event.occurred_at = absl::FromUnixMicros(1'699'999'999'000'000);
  e.event.organisation = "vluchtelingenwerk";
  e.event.user_id = "begeleider-7";
  e.event.correlation_id = "corr-9";
  e.event.payload = std::string("\x0a\x02hi\x00\xff", 6);
  e.event.personal = "secret";
  e.previous_hash.fill(0xab);
  return e;
}

TEST(EventCodecTest, RoundTripsEveryField) {
  RecordedEvent e = SampleEvent();
  std::string value = EncodeEventValue(e);
  auto decoded = DecodeEventValue(value);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->stream_id, e.stream_id);
  EXPECT_EQ(decoded->stream_version, 3u);
  EXPECT_EQ(decoded->global_position, 42u);
  EXPECT_EQ(decoded->recorded_at, e.recorded_at);
  EXPECT_EQ(decoded->event, e.event);
  EXPECT_EQ(decoded->previous_hash, e.previous_hash);
  EXPECT_EQ(decoded->hash, e.hash);
  EXPECT_EQ(e.hash, Sha256(EncodeCanonical(e)));
}

TEST(EventCodecTest, CanonicalBytesFollowTheDocumentedGrammar) {
  RecordedEvent e = SampleEvent();
  std::string canonical = EncodeCanonical(e);
  // "CLE2" | position u64be | version u64be | lp("c-000123") ...
  ASSERT_GE(canonical.size(), 4u + 8 + 8 + 4 + 8);
  EXPECT_EQ(canonical.substr(0, 4), "CLE2");
  EXPECT_EQ(canonical.substr(4, 8), std::string("\0\0\0\0\0\0\0\x2a", 8));
  EXPECT_EQ(canonical.substr(12, 8), std::string("\0\0\0\0\0\0\0\x03", 8));
  EXPECT_EQ(canonical.substr(20, 4), std::string("\0\0\0\x08", 4));
  EXPECT_EQ(canonical.substr(24, 8), "c-000123");
  // Ends with the previous hash.
  EXPECT_EQ(canonical.substr(canonical.size() - 32), std::string(32, '\xab'));
}

TEST(EventCodecTest, CanonicalBytesCarryOnlyADigestOfPersonalData) {
  RecordedEvent e = SampleEvent();
  size_t canonical_size = 0;
  std::string value = EncodeEventValue(e, &canonical_size);
  const std::string canonical = value.substr(0, canonical_size);
  EXPECT_EQ(canonical, EncodeCanonical(e));
  EXPECT_EQ(canonical.find("secret"), std::string::npos);
  EXPECT_EQ(e.personal_digest, Sha256("secret"));
  // The digest sits just before the previous hash.
  EXPECT_EQ(canonical.substr(canonical.size() - 64, 32),
            std::string(reinterpret_cast<const char*>(e.personal_digest.data()), 32));
  // The stored value is canonical | hash | lp(personal).
  EXPECT_EQ(value, canonical + std::string(reinterpret_cast<const char*>(e.hash.data()), 32) +
                       std::string("\0\0\0\x06secret", 10));
  RecordedEvent none = SampleEvent();
  none.event.personal.clear();
  EncodeEventValue(none);
  EXPECT_EQ(none.personal_digest, kZeroHash);
}

TEST(EventCodecTest, EveryFieldChangesTheHash) {
  RecordedEvent base = SampleEvent();
  EncodeEventValue(base);
  std::vector<std::function<void(RecordedEvent&)>> mutations = {
      [](RecordedEvent& e) { e.stream_id += "x"; },
      [](RecordedEvent& e) { e.stream_version++; },
      [](RecordedEvent& e) { e.global_position++; },
      [](RecordedEvent& e) { e.recorded_at += absl::Microseconds(1); },
      [](RecordedEvent& e) { e.event.event_id += "x"; },
      [](RecordedEvent& e) { e.event.type = "Handover"; },
      [](RecordedEvent& e) { e.event.occurred_at += absl::Microseconds(1); },
      [](RecordedEvent& e) { e.event.organisation = "goedwerk"; },
      [](RecordedEvent& e) { e.event.user_id += "x"; },
      [](RecordedEvent& e) { e.event.correlation_id += "x"; },
      [](RecordedEvent& e) { e.event.payload[0] ^= 1; },
      [](RecordedEvent& e) { e.event.personal += "x"; },
      [](RecordedEvent& e) { e.previous_hash[31] ^= 1; },
  };
  for (size_t i = 0; i < mutations.size(); ++i) {
    RecordedEvent changed = SampleEvent();
    mutations[i](changed);
    EncodeEventValue(changed);
    EXPECT_NE(changed.hash, base.hash) << "mutation " << i;
  }
}

TEST(EventCodecTest, LengthPrefixesPreventFieldBoundaryAmbiguity) {
  RecordedEvent a = SampleEvent(), b = SampleEvent();
  a.event.organisation = "ab";
  a.event.user_id = "c";
  b.event.organisation = "a";
  b.event.user_id = "bc";
  EXPECT_NE(EncodeCanonical(a), EncodeCanonical(b));
}

TEST(EventCodecTest, TruncatedOrExtendedValuesAreDataLoss) {
  RecordedEvent e = SampleEvent();
  std::string value = EncodeEventValue(e);
  auto truncated = DecodeEventValue(value.substr(0, value.size() - 1));
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(truncated.status().message(), "stored event is truncated or has a bad length field");
  auto extended = DecodeEventValue(value + "z");
  EXPECT_EQ(extended.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(extended.status().message(), "stored event has 1 unexpected trailing bytes");
  auto bad_magic = DecodeEventValue("XLE1" + value.substr(4));
  EXPECT_EQ(bad_magic.status().code(), absl::StatusCode::kDataLoss);
}

// A view points into the value it was decoded from, and holds what the
// copying decoder returns.
TEST(EventCodecTest, AViewReadsEveryFieldInPlace) {
  RecordedEvent e = SampleEvent();
  const std::string value = EncodeEventValue(e);
  absl::StatusOr<EventView> view = DecodeEventView(value);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->stream_id, "c-000123");
  EXPECT_EQ(view->stream_version, 3u);
  EXPECT_EQ(view->global_position, 42u);
  EXPECT_EQ(view->event_id, "ev-1");
  EXPECT_EQ(view->type, "Intake");
  EXPECT_EQ(view->occurred_at_micros, 1'699'999'999'000'000);
  EXPECT_EQ(view->recorded_at_micros, 1'700'000'000'123'456);
  EXPECT_EQ(view->organisation, "vluchtelingenwerk");
  EXPECT_EQ(view->user_id, "begeleider-7");
  EXPECT_EQ(view->correlation_id, "corr-9");
  EXPECT_EQ(view->payload, e.event.payload);
  EXPECT_EQ(view->personal, "secret");
  EXPECT_EQ(view->previous_hash, std::string(32, '\xab'));
  EXPECT_EQ(view->hash, std::string(reinterpret_cast<const char*>(e.hash.data()), 32));
  EXPECT_EQ(view->personal_digest, std::string(reinterpret_cast<const char*>(e.personal_digest.data()), 32));
  // In place: the payload's bytes are those of `value`, not a copy.
  EXPECT_GE(view->payload.data(), value.data());
  EXPECT_LE(view->payload.data() + view->payload.size(), value.data() + value.size());

  const RecordedEvent copied = ToRecordedEvent(*view);
  absl::StatusOr<RecordedEvent> decoded = DecodeEventValue(value);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(copied.event, decoded->event);
  EXPECT_EQ(copied.hash, decoded->hash);
  EXPECT_EQ(copied.previous_hash, decoded->previous_hash);
  EXPECT_EQ(copied.personal_digest, decoded->personal_digest);

  EXPECT_EQ(DecodeEventView(value.substr(0, value.size() - 1)).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeEventView(value + "z").status().code(), absl::StatusCode::kDataLoss);
}

TEST(EventCodecTest, ContentDigestIgnoresServerFieldsButNotContent) {
  ProposedEvent p = SampleEvent().event;
  Hash d = ContentDigest("c-1", p);
  EXPECT_EQ(d, ContentDigest("c-1", p));
  EXPECT_NE(d, ContentDigest("c-2", p));
  p.payload += "x";
  EXPECT_NE(d, ContentDigest("c-1", p));
}

TEST(EventCodecTest, AStreamRunOfOneIsTheFormer8ByteEntryAndDamageIsDataLoss) {
  EXPECT_EQ(EncodeStreamRun(42, 1), EncodeU64(42));  // what format 4 wrote per event
  EXPECT_EQ(EncodeStreamRun(42, 100).size(), 16u);
  for (uint64_t count : {uint64_t{1}, uint64_t{2}, uint64_t{100}}) {
    auto run = DecodeStreamRun(EncodeStreamRun(7, count));
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_EQ(run->first_position, 7u);
    EXPECT_EQ(run->count, count);
  }
  for (const std::string& damaged :
       {std::string("12345"), EncodeU64(0), EncodeU64(5) + EncodeU64(0), EncodeU64(UINT64_MAX) + EncodeU64(2),
        EncodeU64(5) + EncodeU64(2) + "x"}) {
    EXPECT_EQ(DecodeStreamRun(damaged).status().code(), absl::StatusCode::kDataLoss) << damaged.size();
  }
}

TEST(EventCodecTest, KeysSortNumerically) {
  EXPECT_LT(EventKey(255), EventKey(256));
  EXPECT_LT(StreamKey("c-1", 9), StreamKey("c-1", 10));
  // A stream's keys never interleave with a longer stream id that shares its prefix.
  EXPECT_LT(StreamKey("c-1", UINT64_MAX), StreamKey("c-10", 0));
}

}  // namespace
}  // namespace caseledger::storage
