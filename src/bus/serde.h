// Confluent's wire format for registry-aware Kafka messages, so Sluice's producers and consumers
// interoperate with other registry clients: byte 0 is the magic 0, bytes 1-4 the schema's global
// id (big-endian int32), then the payload (Avro binary or JSON text). docs/registry.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::bus {

inline constexpr uint8_t kWireMagic = 0;
inline constexpr size_t kWireHeaderSize = 5;

struct WireMessage {
  int32_t schema_id = 0;
  std::string_view payload;  // points into the decoded buffer
};

// magic byte + id + payload.
std::string encode_wire(int32_t schema_id, std::string_view payload);
// Appends the 5-byte header to `out` (for building a message in place).
void append_wire_header(std::string& out, int32_t schema_id);
// InvalidArgument when shorter than 5 bytes or the magic byte is not 0.
Result<WireMessage> decode_wire(std::string_view message);

}  // namespace sluice::bus
