#include "bus/wire.h"

#include <gtest/gtest.h>

#include "bus/crc32c.h"
#include "bus/kafka_errors.h"

namespace sluice::bus {
namespace {

TEST(Wire, RoundTripsPrimitives) {
  std::string buf;
  WireWriter w(&buf);
  w.i8(-3);
  w.i16(-2);
  w.i32(123456789);
  w.i64(-9876543210LL);
  w.varint(-1);
  w.varint(300);
  w.string("topic");
  w.nullable_string(std::nullopt);
  w.bytes("abc");
  w.null_bytes();
  w.compact_string("flex");
  w.compact_array_length(2);
  w.i8(7);
  w.i8(8);
  w.empty_tagged_fields();
  WireReader r(buf);
  EXPECT_EQ(r.i8(), -3);
  EXPECT_EQ(r.i16(), -2);
  EXPECT_EQ(r.i32(), 123456789);
  EXPECT_EQ(r.i64(), -9876543210LL);
  EXPECT_EQ(r.varint(), -1);
  EXPECT_EQ(r.varint(), 300);
  EXPECT_EQ(r.string(), "topic");
  EXPECT_FALSE(r.nullable_string().has_value());
  EXPECT_EQ(r.bytes(), "abc");
  EXPECT_FALSE(r.nullable_bytes().has_value());
  EXPECT_EQ(r.compact_string(), "flex");
  EXPECT_EQ(r.compact_array_length(), 2);
  EXPECT_EQ(r.i8(), 7);
  EXPECT_EQ(r.i8(), 8);
  r.skip_tagged_fields();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(Wire, ShortReadFailsAndSticks) {
  std::string buf("\0\5ab", 4);
  WireReader r(std::string_view(buf.data(), 4));
  EXPECT_EQ(r.string(), "");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.i32(), 0);
  EXPECT_FALSE(r.ok());
}

TEST(Wire, HugeArrayLengthFails) {
  std::string buf;
  WireWriter w(&buf);
  w.i32(1 << 30);
  WireReader r(buf);
  r.array_length(4);
  EXPECT_FALSE(r.ok());
}

TEST(Crc32c, MatchesKnownVectors) {
  // RFC 3720 B.4 test vector and the classic "123456789" check value.
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  // Incremental equals one shot.
  EXPECT_EQ(crc32c("56789", 5, crc32c("1234", 4)), 0xE3069283u);
}

TEST(KafkaErrors, MapsStatusCodes) {
  EXPECT_EQ(to_kafka_error(Status::ok()), KafkaError::kNone);
  EXPECT_EQ(to_kafka_error(not_found("x")), KafkaError::kUnknownTopicOrPartition);
  EXPECT_EQ(to_kafka_error(corruption("x")), KafkaError::kCorruptMessage);
  EXPECT_EQ(to_kafka_error(io_error("x")), KafkaError::kKafkaStorageError);
  EXPECT_EQ(code(KafkaError::kUnsupportedVersion), 35);
  EXPECT_EQ(kafka_error_name(KafkaError::kRebalanceInProgress), "REBALANCE_IN_PROGRESS");
}

}  // namespace
}  // namespace sluice::bus
