#include "bus/wire.h"

namespace sluice::bus {

uint64_t WireReader::uvarint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (!ok_ || pos_ >= data_.size()) {
      ok_ = false;
      return 0;
    }
    uint8_t b = static_cast<uint8_t>(data_[pos_++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  ok_ = false;
  return 0;
}

int64_t WireReader::varint() {
  uint64_t u = uvarint();
  return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
}

std::string_view WireReader::raw(size_t n) {
  if (!ok_ || data_.size() - pos_ < n) {
    ok_ = false;
    return {};
  }
  auto v = data_.substr(pos_, n);
  pos_ += n;
  return v;
}

std::string WireReader::string() {
  return nullable_string().value_or(std::string{});
}

std::optional<std::string> WireReader::nullable_string() {
  int16_t n = i16();
  if (!ok_ || n < 0) return std::nullopt;
  return std::string(raw(static_cast<size_t>(n)));
}

std::optional<std::string_view> WireReader::nullable_bytes() {
  int32_t n = i32();
  if (!ok_ || n < 0) return std::nullopt;
  return raw(static_cast<size_t>(n));
}

int32_t WireReader::array_length(size_t min_element_size) {
  int32_t n = i32();
  if (!ok_) return 0;
  if (n < -1 || (n > 0 && static_cast<size_t>(n) * min_element_size > remaining())) {
    ok_ = false;
    return 0;
  }
  return n;
}

std::optional<std::string> WireReader::compact_nullable_string() {
  uint64_t n = uvarint();
  if (!ok_ || n == 0) return std::nullopt;
  return std::string(raw(static_cast<size_t>(n - 1)));
}

int32_t WireReader::compact_array_length() {
  uint64_t n = uvarint();
  if (!ok_) return 0;
  if (n == 0) return -1;
  if (n - 1 > remaining()) {
    ok_ = false;
    return 0;
  }
  return static_cast<int32_t>(n - 1);
}

void WireReader::skip_tagged_fields() {
  uint64_t n = uvarint();
  for (uint64_t i = 0; ok_ && i < n; ++i) {
    uvarint();  // tag
    uint64_t size = uvarint();
    raw(static_cast<size_t>(size));
  }
}

void WireWriter::uvarint(uint64_t v) {
  while (v >= 0x80) {
    out_->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_->push_back(static_cast<char>(v));
}

void WireWriter::string(std::string_view s) {
  i16(static_cast<int16_t>(s.size()));
  out_->append(s);
}

void WireWriter::nullable_string(const std::optional<std::string>& s) {
  if (!s) {
    i16(-1);
    return;
  }
  string(*s);
}

void WireWriter::bytes(std::string_view b) {
  i32(static_cast<int32_t>(b.size()));
  out_->append(b);
}

void WireWriter::compact_string(std::string_view s) {
  uvarint(s.size() + 1);
  out_->append(s);
}

void WireWriter::patch_i32(size_t at, int32_t v) {
  store_be32(out_->data() + at, v);
}

}  // namespace sluice::bus
