#include "gateway/pg_wire.h"

#include <fmt/format.h>

namespace sluice::gateway {

namespace {
Status truncated() {
  return invalid_argument("malformed message: truncated");
}
}  // namespace

Result<int16_t> Reader::i16() {
  if (remaining() < 2) return truncated();
  auto p = reinterpret_cast<const uint8_t*>(data_.data() + pos_);
  pos_ += 2;
  return static_cast<int16_t>((p[0] << 8) | p[1]);
}

Result<int32_t> Reader::i32() {
  if (remaining() < 4) return truncated();
  auto p = reinterpret_cast<const uint8_t*>(data_.data() + pos_);
  pos_ += 4;
  return static_cast<int32_t>((uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) |
                              (uint32_t(p[2]) << 8) | uint32_t(p[3]));
}

Result<uint8_t> Reader::u8() {
  if (remaining() < 1) return truncated();
  return static_cast<uint8_t>(data_[pos_++]);
}

Result<std::string> Reader::cstr() {
  size_t end = data_.find('\0', pos_);
  if (end == std::string_view::npos) {
    return invalid_argument("malformed message: unterminated string");
  }
  std::string out(data_.substr(pos_, end - pos_));
  pos_ = end + 1;
  return out;
}

Result<std::string_view> Reader::bytes(size_t n) {
  if (remaining() < n) return truncated();
  auto out = data_.substr(pos_, n);
  pos_ += n;
  return out;
}

void Writer::begin(char type) {
  buf_.push_back(type);
  start_ = buf_.size();
  buf_.append(4, '\0');
}

void Writer::end() {
  patch_i32(start_, static_cast<int32_t>(buf_.size() - start_));
}

void Writer::patch_i32(size_t at, int32_t v) {
  auto u = static_cast<uint32_t>(v);
  buf_[at] = static_cast<char>(u >> 24);
  buf_[at + 1] = static_cast<char>(u >> 16);
  buf_[at + 2] = static_cast<char>(u >> 8);
  buf_[at + 3] = static_cast<char>(u);
}

void Writer::i16(int16_t v) {
  auto u = static_cast<uint16_t>(v);
  buf_.push_back(static_cast<char>(u >> 8));
  buf_.push_back(static_cast<char>(u));
}

void Writer::i32(int32_t v) {
  auto u = static_cast<uint32_t>(v);
  char b[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8),
               static_cast<char>(u)};
  buf_.append(b, 4);
}

void Writer::i64(int64_t v) {
  i32(static_cast<int32_t>(static_cast<uint64_t>(v) >> 32));
  i32(static_cast<int32_t>(static_cast<uint64_t>(v) & 0xffffffffu));
}

void Writer::cstr(std::string_view s) {
  buf_.append(s);
  buf_.push_back('\0');
}

Result<StartupMessage> parse_startup(std::string_view body) {
  Reader r(body);
  StartupMessage m;
  SLUICE_ASSIGN_OR_RETURN(m.code, r.i32());
  if (m.code == kCancelRequestCode) {
    SLUICE_ASSIGN_OR_RETURN(m.cancel_pid, r.i32());
    SLUICE_ASSIGN_OR_RETURN(m.cancel_secret, r.i32());
    return m;
  }
  if (m.code == kSslRequestCode || m.code == kGssEncRequestCode) return m;
  if ((m.code >> 16) != 3) {
    return invalid_argument(fmt::format("unsupported frontend protocol {}.{}: Sluice speaks 3.0",
                                        m.code >> 16, m.code & 0xffff));
  }
  while (!r.done()) {
    SLUICE_ASSIGN_OR_RETURN(auto key, r.cstr());
    if (key.empty()) break;
    SLUICE_ASSIGN_OR_RETURN(auto value, r.cstr());
    m.params[key] = value;
  }
  return m;
}

Result<ParseMessage> parse_parse(std::string_view body) {
  Reader r(body);
  ParseMessage m;
  SLUICE_ASSIGN_OR_RETURN(m.name, r.cstr());
  SLUICE_ASSIGN_OR_RETURN(m.query, r.cstr());
  SLUICE_ASSIGN_OR_RETURN(auto n, r.i16());
  if (n < 0) return invalid_argument("malformed Parse: negative parameter count");
  for (int i = 0; i < n; ++i) {
    SLUICE_ASSIGN_OR_RETURN(auto oid, r.i32());
    m.param_types.push_back(oid);
  }
  return m;
}

Result<BindMessage> parse_bind(std::string_view body) {
  Reader r(body);
  BindMessage m;
  SLUICE_ASSIGN_OR_RETURN(m.portal, r.cstr());
  SLUICE_ASSIGN_OR_RETURN(m.statement, r.cstr());
  SLUICE_ASSIGN_OR_RETURN(auto nf, r.i16());
  if (nf < 0) return invalid_argument("malformed Bind: negative format count");
  for (int i = 0; i < nf; ++i) {
    SLUICE_ASSIGN_OR_RETURN(auto f, r.i16());
    m.param_formats.push_back(f);
  }
  SLUICE_ASSIGN_OR_RETURN(auto np, r.i16());
  if (np < 0) return invalid_argument("malformed Bind: negative parameter count");
  for (int i = 0; i < np; ++i) {
    SLUICE_ASSIGN_OR_RETURN(auto len, r.i32());
    if (len == -1) {
      m.params.emplace_back(std::nullopt);
      continue;
    }
    if (len < 0) return invalid_argument("malformed Bind: negative parameter length");
    SLUICE_ASSIGN_OR_RETURN(auto v, r.bytes(static_cast<size_t>(len)));
    m.params.emplace_back(std::string(v));
  }
  SLUICE_ASSIGN_OR_RETURN(auto nr, r.i16());
  if (nr < 0) return invalid_argument("malformed Bind: negative result format count");
  for (int i = 0; i < nr; ++i) {
    SLUICE_ASSIGN_OR_RETURN(auto f, r.i16());
    m.result_formats.push_back(f);
  }
  return m;
}

void write_error(Writer& w, const ErrorFields& e, char type) {
  w.begin(type);
  w.i8('S');
  w.cstr(e.severity);
  w.i8('V');
  w.cstr(e.severity);
  w.i8('C');
  w.cstr(e.sqlstate);
  w.i8('M');
  w.cstr(e.message);
  if (!e.detail.empty()) {
    w.i8('D');
    w.cstr(e.detail);
  }
  if (!e.hint.empty()) {
    w.i8('H');
    w.cstr(e.hint);
  }
  if (e.position > 0) {
    w.i8('P');
    w.cstr(std::to_string(e.position));
  }
  w.i8(0);
  w.end();
}

}  // namespace sluice::gateway
