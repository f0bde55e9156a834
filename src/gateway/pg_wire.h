// PostgreSQL Frontend/Backend Protocol v3 primitives ("Message Formats" chapter): reading
// frontend messages with bounds checks (malformed input is an error, never a crash) and
// building backend messages.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::gateway {

inline constexpr int32_t kProtocolV3 = 196608;        // 3.0
inline constexpr int32_t kSslRequestCode = 80877103;  // 1234.5679
inline constexpr int32_t kGssEncRequestCode = 80877104;
inline constexpr int32_t kCancelRequestCode = 80877102;
// Messages larger than this are refused (a malformed length must not allocate gigabytes).
inline constexpr size_t kMaxMessageBytes = 64u << 20;

// Reads big-endian fields from a message body; every read checks bounds.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  Result<int16_t> i16();
  Result<int32_t> i32();
  Result<uint8_t> u8();
  // A NUL-terminated string.
  Result<std::string> cstr();
  Result<std::string_view> bytes(size_t n);
  size_t remaining() const { return data_.size() - pos_; }
  bool done() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// Appends backend messages to a buffer: begin(type) ... end() patches the length.
class Writer {
 public:
  void begin(char type);
  void end();
  void i8(uint8_t v) { buf_.push_back(static_cast<char>(v)); }
  void i16(int16_t v);
  void i32(int32_t v);
  void i64(int64_t v);
  void cstr(std::string_view s);
  void raw(std::string_view s) { buf_.append(s); }
  // Patches a 32-bit length placeholder written earlier at `at`.
  void patch_i32(size_t at, int32_t v);
  size_t size() const { return buf_.size(); }
  std::string& buffer() { return buf_; }
  void clear() { buf_.clear(); }

 private:
  std::string buf_;
  size_t start_ = 0;
};

// The first message of a connection (it has no type byte).
struct StartupMessage {
  int32_t code = 0;  // kProtocolV3, kSslRequestCode, kCancelRequestCode, ...
  std::map<std::string, std::string> params;  // user, database, options, application_name ...
  int32_t cancel_pid = 0;
  int32_t cancel_secret = 0;
};
// Parses the body of a startup packet (after its 4-byte length).
Result<StartupMessage> parse_startup(std::string_view body);

// Bind ('B').
struct BindMessage {
  std::string portal;
  std::string statement;
  std::vector<int16_t> param_formats;
  std::vector<std::optional<std::string>> params;
  std::vector<int16_t> result_formats;
};
Result<BindMessage> parse_bind(std::string_view body);

// Parse ('P').
struct ParseMessage {
  std::string name;
  std::string query;
  std::vector<int32_t> param_types;
};
Result<ParseMessage> parse_parse(std::string_view body);

// An ErrorResponse / NoticeResponse.
struct ErrorFields {
  std::string severity = "ERROR";
  std::string sqlstate = "XX000";
  std::string message;
  std::string detail;
  std::string hint;
  int position = 0;  // 1-based character position in the query; 0: none
};
void write_error(Writer& w, const ErrorFields& e, char type = 'E');

}  // namespace sluice::gateway
