// Iceberg spec: Appendix D, binary single-value serialization (manifest bounds, partition
// summaries). Little-endian fixed widths for numbers, raw UTF-8 for strings, big-endian for uuid
// and decimal (unscaled, two's complement, minimum bytes).
#include <bit>
#include <cstring>

#include "lake/lake_internal.h"

namespace sluice::lake {

namespace {

template <typename T>
std::string le_bytes(T v) {
  static_assert(std::is_trivially_copyable_v<T>);
  unsigned char raw[sizeof(T)];
  std::memcpy(raw, &v, sizeof(T));
  std::string out(sizeof(T), '\0');
  // Hosts are little-endian (x86-64, aarch64); keep it explicit anyway.
  for (size_t i = 0; i < sizeof(T); ++i) {
    if constexpr (std::endian::native == std::endian::little) {
      out[i] = static_cast<char>(raw[i]);
    } else {
      out[i] = static_cast<char>(raw[sizeof(T) - 1 - i]);
    }
  }
  return out;
}

template <typename T>
T from_le(std::string_view b) {
  unsigned char raw[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) {
    if constexpr (std::endian::native == std::endian::little) {
      raw[i] = static_cast<unsigned char>(b[i]);
    } else {
      raw[i] = static_cast<unsigned char>(b[sizeof(T) - 1 - i]);
    }
  }
  T v;
  std::memcpy(&v, raw, sizeof(T));
  return v;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Minimal two's complement: drop leading bytes that only repeat the sign.
std::vector<uint8_t> minimal_twos_complement(const std::vector<uint8_t>& in) {
  size_t start = 0;
  while (start + 1 < in.size()) {
    uint8_t b = in[start], next = in[start + 1];
    if ((b == 0x00 && !(next & 0x80)) || (b == 0xff && (next & 0x80))) {
      ++start;
    } else {
      break;
    }
  }
  return std::vector<uint8_t>(in.begin() + static_cast<long>(start), in.end());
}

}  // namespace

namespace detail {

Result<std::vector<uint8_t>> uuid_to_bytes(const std::string& text) {
  std::vector<uint8_t> out;
  int hi = -1;
  for (char c : text) {
    if (c == '-') continue;
    int d = hex_digit(c);
    if (d < 0) return invalid_argument("'" + text + "' is not a UUID");
    if (hi < 0) {
      hi = d;
    } else {
      out.push_back(static_cast<uint8_t>(hi * 16 + d));
      hi = -1;
    }
  }
  if (out.size() != 16 || hi >= 0) return invalid_argument("'" + text + "' is not a UUID");
  return out;
}

std::string uuid_from_bytes(std::string_view b) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    auto c = static_cast<uint8_t>(b[i]);
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

std::vector<uint8_t> minimal_decimal_bytes(const std::vector<uint8_t>& unscaled) {
  return minimal_twos_complement(unscaled);
}

}  // namespace detail

Result<std::string> encode_single_value(const Type& type, const Value& v) {
  if (!type.is_primitive()) {
    return invalid_argument("single-value serialization is defined for primitive types only, not " +
                            type.to_string());
  }
  if (std::holds_alternative<Null>(v)) {
    return invalid_argument("single-value serialization has no encoding for null");
  }
  SLUICE_ASSIGN_OR_RETURN(Value c, detail::coerce_value(type, v, "value"));
  const std::string& p = type.primitive;
  if (p == "boolean") return std::string(1, std::get<bool>(c) ? '\x01' : '\x00');
  if (p == "int" || p == "date") return le_bytes<int32_t>(std::get<int32_t>(c));
  if (p == "long" || p == "time" || p == "timestamp" || p == "timestamptz") {
    return le_bytes<int64_t>(std::get<int64_t>(c));
  }
  if (p == "float") return le_bytes<float>(std::get<float>(c));
  if (p == "double") return le_bytes<double>(std::get<double>(c));
  if (p == "string") return std::get<std::string>(c);
  if (p == "uuid") {
    SLUICE_ASSIGN_OR_RETURN(auto bytes, detail::uuid_to_bytes(std::get<std::string>(c)));
    return std::string(bytes.begin(), bytes.end());
  }
  const auto& b = std::get<std::vector<uint8_t>>(c);
  if (p.rfind("decimal(", 0) == 0) {
    auto m = minimal_twos_complement(b);
    return std::string(m.begin(), m.end());
  }
  return std::string(b.begin(), b.end());  // binary, fixed[L]
}

Result<Value> decode_single_value(const Type& type, std::string_view bytes) {
  if (!type.is_primitive()) {
    return invalid_argument("single-value serialization is defined for primitive types only, not " +
                            type.to_string());
  }
  const std::string& p = type.primitive;
  auto wrong_size = [&](size_t want) {
    return corruption("a " + p + " value takes " + std::to_string(want) +
                      " bytes in single-value serialization, got " + std::to_string(bytes.size()));
  };
  if (p == "boolean") {
    if (bytes.size() != 1) return wrong_size(1);
    return Value(bytes[0] != 0);
  }
  if (p == "int" || p == "date") {
    if (bytes.size() != 4) return wrong_size(4);
    return Value(from_le<int32_t>(bytes));
  }
  if (p == "long" || p == "time" || p == "timestamp" || p == "timestamptz") {
    // A column widened from int keeps 4-byte bounds in older manifests.
    if (bytes.size() == 4 && p == "long")
      return Value(static_cast<int64_t>(from_le<int32_t>(bytes)));
    if (bytes.size() != 8) return wrong_size(8);
    return Value(from_le<int64_t>(bytes));
  }
  if (p == "float") {
    if (bytes.size() != 4) return wrong_size(4);
    return Value(from_le<float>(bytes));
  }
  if (p == "double") {
    if (bytes.size() == 4) return Value(static_cast<double>(from_le<float>(bytes)));
    if (bytes.size() != 8) return wrong_size(8);
    return Value(from_le<double>(bytes));
  }
  if (p == "string") return Value(std::string(bytes));
  if (p == "uuid") {
    if (bytes.size() != 16) return wrong_size(16);
    return Value(detail::uuid_from_bytes(bytes));
  }
  int len = 0;
  if (detail::fixed_length(p, &len) && static_cast<int>(bytes.size()) != len) {
    return wrong_size(static_cast<size_t>(len));
  }
  if (p.rfind("decimal(", 0) == 0 && bytes.empty()) {
    return corruption("a decimal value needs at least one byte");
  }
  return Value(std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

}  // namespace sluice::lake
