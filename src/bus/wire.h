// Kafka wire primitives (protocol guide, "Protocol Primitive Types"): big-endian integers,
// zig-zag varints, (nullable) strings and bytes, arrays, and the compact forms used by flexible
// versions. The reader is sticky: after the first short or malformed read every later read
// returns a default value and ok() is false, so a handler parses a whole request and checks once.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::bus {

class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  bool ok() const { return ok_; }
  size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  size_t position() const { return pos_; }

  int8_t i8() { return static_cast<int8_t>(be<uint8_t>()); }
  bool boolean() { return i8() != 0; }
  int16_t i16() { return static_cast<int16_t>(be<uint16_t>()); }
  int32_t i32() { return static_cast<int32_t>(be<uint32_t>()); }
  uint32_t u32() { return be<uint32_t>(); }
  int64_t i64() { return static_cast<int64_t>(be<uint64_t>()); }
  uint64_t uvarint();
  int64_t varint();  // zig-zag

  std::string_view raw(size_t n);
  std::string string();                              // int16 length
  std::optional<std::string> nullable_string();      // int16 length, -1 is null
  std::optional<std::string_view> nullable_bytes();  // int32 length, -1 is null
  std::string_view bytes() { return nullable_bytes().value_or(std::string_view{}); }
  // Array length (int32); -1 (null) is returned as -1. Lengths that cannot fit fail the reader.
  int32_t array_length(size_t min_element_size = 1);

  // Compact (flexible-version) forms.
  std::optional<std::string> compact_nullable_string();
  std::string compact_string() { return compact_nullable_string().value_or(std::string{}); }
  int32_t compact_array_length();  // -1 for null
  void skip_tagged_fields();

  void fail() { ok_ = false; }

 private:
  template <typename T>
  T be() {
    if (!ok_ || data_.size() - pos_ < sizeof(T)) {
      ok_ = false;
      return 0;
    }
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i)
      v = static_cast<T>((v << 8) | static_cast<uint8_t>(data_[pos_ + i]));
    pos_ += sizeof(T);
    return v;
  }
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

class WireWriter {
 public:
  explicit WireWriter(std::string* out) : out_(out) {}
  WireWriter(const WireWriter&) = delete;
  WireWriter& operator=(const WireWriter&) = delete;

  std::string& buffer() { return *out_; }
  size_t size() const { return out_->size(); }

  void i8(int8_t v) { out_->push_back(static_cast<char>(v)); }
  void boolean(bool v) { i8(v ? 1 : 0); }
  void i16(int16_t v) { be(static_cast<uint16_t>(v)); }
  void i32(int32_t v) { be(static_cast<uint32_t>(v)); }
  void u32(uint32_t v) { be(v); }
  void i64(int64_t v) { be(static_cast<uint64_t>(v)); }
  void uvarint(uint64_t v);
  void varint(int64_t v) {
    uvarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  void raw(std::string_view b) { out_->append(b); }
  void string(std::string_view s);
  void nullable_string(const std::optional<std::string>& s);
  void bytes(std::string_view b);
  void null_bytes() { i32(-1); }
  void array_length(int32_t n) { i32(n); }
  // Compact forms.
  void compact_string(std::string_view s);
  void compact_array_length(int32_t n) { uvarint(static_cast<uint64_t>(n) + 1); }
  void empty_tagged_fields() { uvarint(0); }

  // Overwrites 4 bytes at `at` with a big-endian int32 (for length prefixes).
  void patch_i32(size_t at, int32_t v);

 private:
  template <typename T>
  void be(T v) {
    char b[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); ++i)
      b[i] = static_cast<char>((v >> (8 * (sizeof(T) - 1 - i))) & 0xff);
    out_->append(b, sizeof(T));
  }
  std::string* out_;
};

// Big-endian loads and stores on raw buffers (record batch headers).
inline int64_t load_be64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<uint8_t>(p[i]);
  return static_cast<int64_t>(v);
}
inline int32_t load_be32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v = (v << 8) | static_cast<uint8_t>(p[i]);
  return static_cast<int32_t>(v);
}
inline int16_t load_be16(const char* p) {
  return static_cast<int16_t>((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1]));
}
inline void store_be64(char* p, int64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8)
    p[i] = static_cast<char>(v & 0xff);
}
inline void store_be16(char* p, int16_t v) {
  auto u = static_cast<uint16_t>(v);
  p[0] = static_cast<char>(u >> 8);
  p[1] = static_cast<char>(u & 0xff);
}
inline void store_be32(char* p, int32_t v) {
  uint32_t u = static_cast<uint32_t>(v);
  for (int i = 3; i >= 0; --i, u >>= 8)
    p[i] = static_cast<char>(u & 0xff);
}

}  // namespace sluice::bus
