// Confluent wire format: magic byte 0, big-endian schema id, payload.
#include "bus/serde.h"

#include <gtest/gtest.h>

namespace sluice::bus {
namespace {

TEST(Serde, EncodesHeaderBigEndian) {
  std::string m = encode_wire(0x01020304, "payload");
  ASSERT_EQ(m.size(), 12u);
  EXPECT_EQ(m.substr(0, 5), std::string("\x00\x01\x02\x03\x04", 5));
  EXPECT_EQ(m.substr(5), "payload");
  EXPECT_EQ(encode_wire(1, ""), std::string("\x00\x00\x00\x00\x01", 5));
}

TEST(Serde, RoundTripsIdsAndPayloads) {
  for (int32_t id : {1, 255, 256, 65536, 100000, 0x7fffffff}) {
    std::string payload = "p" + std::to_string(id) + std::string("\0\xff", 2);
    std::string message = encode_wire(id, payload);  // the payload view points into it
    auto d = decode_wire(message);
    ASSERT_TRUE(d.is_ok()) << d.status().to_string();
    EXPECT_EQ(d->schema_id, id);
    EXPECT_EQ(d->payload, payload);
  }
  std::string built = "";
  append_wire_header(built, 42);
  built += "x";
  EXPECT_EQ(decode_wire(built)->schema_id, 42);
}

TEST(Serde, RejectsShortAndBadMagic) {
  auto shortm = decode_wire(std::string("\x00\x00\x01", 3));
  ASSERT_FALSE(shortm.is_ok());
  EXPECT_EQ(shortm.status().message(),
            "message of 3 bytes is too short for the schema registry wire format (5-byte header)");
  auto magic = decode_wire(std::string("\x01\x00\x00\x00\x01x", 6));
  ASSERT_FALSE(magic.is_ok());
  EXPECT_EQ(magic.status().message(),
            "unknown magic byte 1 (the schema registry wire format starts with 0)");
}

}  // namespace
}  // namespace sluice::bus
