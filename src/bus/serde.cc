#include "bus/serde.h"

#include <fmt/format.h>

namespace sluice::bus {

void append_wire_header(std::string& out, int32_t schema_id) {
  auto id = static_cast<uint32_t>(schema_id);
  out.push_back(static_cast<char>(kWireMagic));
  out.push_back(static_cast<char>((id >> 24) & 0xff));
  out.push_back(static_cast<char>((id >> 16) & 0xff));
  out.push_back(static_cast<char>((id >> 8) & 0xff));
  out.push_back(static_cast<char>(id & 0xff));
}

std::string encode_wire(int32_t schema_id, std::string_view payload) {
  std::string out;
  out.reserve(kWireHeaderSize + payload.size());
  append_wire_header(out, schema_id);
  out.append(payload);
  return out;
}

Result<WireMessage> decode_wire(std::string_view message) {
  if (message.size() < kWireHeaderSize) {
    return invalid_argument(fmt::format(
        "message of {} bytes is too short for the schema registry wire format (5-byte header)",
        message.size()));
  }
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(message[i])); };
  if (b(0) != kWireMagic) {
    return invalid_argument(
        fmt::format("unknown magic byte {} (the schema registry wire format starts with 0)", b(0)));
  }
  WireMessage m;
  m.schema_id = static_cast<int32_t>((b(1) << 24) | (b(2) << 16) | (b(3) << 8) | b(4));
  m.payload = message.substr(kWireHeaderSize);
  return m;
}

}  // namespace sluice::bus
