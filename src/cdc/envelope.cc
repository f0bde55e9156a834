// Change events as Kafka messages: Debezium's JSON envelope and its Avro form in Confluent's
// wire format. See envelope.h and docs/cdc.md ("Output").
#include "cdc/envelope.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <unordered_map>
#include <vector>

#include "bus/serde.h"
#include "bus/wire.h"
#include "common/log.h"
#include "http/client.h"

namespace sluice::cdc {

using Json = nlohmann::ordered_json;

namespace {

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string base64(std::string_view s) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(s[i]) << 16) | (static_cast<uint8_t>(s[i + 1]) << 8) |
                 static_cast<uint8_t>(s[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == s.size()) {
    uint32_t v = static_cast<uint8_t>(s[i]) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == s.size()) {
    uint32_t v = (static_cast<uint8_t>(s[i]) << 16) | (static_cast<uint8_t>(s[i + 1]) << 8);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

// Debezium / Kafka Connect schema of one column.
Json connect_field(const Column& c) {
  Json f;
  switch (c.kind) {
    case ValueKind::kBool:
      f["type"] = "boolean";
      break;
    case ValueKind::kInt16:
      f["type"] = "int16";
      break;
    case ValueKind::kInt32:
      f["type"] = "int32";
      break;
    case ValueKind::kInt64:
      f["type"] = "int64";
      break;
    case ValueKind::kFloat32:
      f["type"] = "float";
      break;
    case ValueKind::kFloat64:
      f["type"] = "double";
      break;
    case ValueKind::kBytes:
      f["type"] = "bytes";
      break;
    case ValueKind::kTimestampTz:
      f["type"] = "string";
      f["name"] = "io.debezium.time.ZonedTimestamp";
      break;
    case ValueKind::kUuid:
      f["type"] = "string";
      f["name"] = "io.debezium.data.Uuid";
      break;
    case ValueKind::kJson:
      f["type"] = "string";
      f["name"] = "io.debezium.data.Json";
      break;
    default:
      f["type"] = "string";
      break;
  }
  f["optional"] = !c.key && c.nullable;
  f["field"] = c.name;
  return f;
}

Json json_value(const Column& c, const Value& v) {
  if (!v) return nullptr;
  const std::string& s = *v;
  switch (c.kind) {
    case ValueKind::kBool:
      return s == "true";
    case ValueKind::kInt16:
    case ValueKind::kInt32:
    case ValueKind::kInt64: {
      char* end = nullptr;
      long long x = std::strtoll(s.c_str(), &end, 10);
      if (end && *end == 0) return x;
      return s;
    }
    case ValueKind::kFloat32:
    case ValueKind::kFloat64: {
      char* end = nullptr;
      double x = std::strtod(s.c_str(), &end);
      if (end && *end == 0 && std::isfinite(x)) return x;
      return s;
    }
    case ValueKind::kBytes:
      return base64(s);
    default:
      return s;
  }
}

Json row_json(const TableSchema& schema, const std::optional<Row>& row, bool key_only) {
  if (!row) return nullptr;
  Json o = Json::object();
  for (size_t i = 0; i < schema.columns.size() && i < row->values.size(); ++i) {
    if (key_only && !schema.columns[i].key) continue;
    o[schema.columns[i].name] = json_value(schema.columns[i], row->values[i]);
  }
  return o;
}

}  // namespace

Result<EventFormat> parse_event_format(std::string_view text) {
  if (text == "json") return EventFormat::kJson;
  if (text == "avro") return EventFormat::kAvro;
  return invalid_argument(
      fmt::format("cdc.format '{}' is not a change event format (json or avro)", text));
}

std::string debezium_key(const ChangeEvent& e, const std::string& topic_prefix) {
  const TableSchema& s = *e.schema;
  Json fields = Json::array();
  for (const auto& c : s.columns)
    if (c.key) fields.push_back(connect_field(c));
  Json k;
  k["schema"] = {{"type", "struct"},
                 {"fields", fields},
                 {"optional", false},
                 {"name", fmt::format("{}.{}.{}.Key", topic_prefix, s.schema, s.table)}};
  const auto& row = e.after ? e.after : e.before;
  k["payload"] = row ? row_json(s, row, true) : Json(nullptr);
  return k.dump();
}

std::string debezium_value(const ChangeEvent& e, const Transaction& t,
                           const sources::SourceConfig& source, const std::string& topic_prefix) {
  const TableSchema& s = *e.schema;
  const bool pg = source.kind == sources::SourceKind::kPostgres;
  const std::string name = fmt::format("{}.{}.{}", topic_prefix, s.schema, s.table);
  Json cols = Json::array();
  for (const auto& c : s.columns)
    cols.push_back(connect_field(c));
  Json row_schema = {
      {"type", "struct"}, {"fields", cols}, {"optional", true}, {"name", name + ".Value"}};
  Json before_schema = row_schema;
  before_schema["field"] = "before";
  Json after_schema = row_schema;
  after_schema["field"] = "after";
  auto str = [](const char* f, bool opt) {
    return Json{{"type", "string"}, {"optional", opt}, {"field", f}};
  };
  auto i64 = [](const char* f, bool opt) {
    return Json{{"type", "int64"}, {"optional", opt}, {"field", f}};
  };
  Json source_fields = Json::array({str("version", false), str("connector", false),
                                    str("name", false), i64("ts_ms", false), str("snapshot", true),
                                    str("db", false), str("schema", false), str("table", false),
                                    str("txId", true), i64("lsn", true), str("position", true)});
  Json schema = {
      {"type", "struct"},
      {"fields", Json::array({before_schema, after_schema,
                              Json{{"type", "struct"},
                                   {"fields", source_fields},
                                   {"optional", false},
                                   {"name", pg ? "io.debezium.connector.postgresql.Source"
                                               : "io.debezium.connector.mysql.Source"},
                                   {"field", "source"}},
                              str("op", false), i64("ts_ms", true)})},
      {"optional", false},
      {"name", name + ".Envelope"}};
  Json src;
  src["version"] = "sluice";
  src["connector"] = pg ? "postgresql" : "mysql";
  src["name"] = topic_prefix;
  src["ts_ms"] = t.commit_ts_ms;
  src["snapshot"] = e.snapshot ? "true" : "false";
  src["db"] = s.database;
  src["schema"] = s.schema;
  src["table"] = s.table;
  src["txId"] = t.txid.empty() ? Json(nullptr) : Json(t.txid);
  src["lsn"] = pg ? Json(e.position.major) : Json(nullptr);
  src["position"] = e.position.resume;
  Json payload;
  payload["before"] = row_json(s, e.before, false);
  payload["after"] = row_json(s, e.after, false);
  payload["source"] = src;
  payload["op"] = std::string(1, static_cast<char>(e.op));
  payload["ts_ms"] = now_ms();
  Json v;
  v["schema"] = schema;
  v["payload"] = payload;
  return v.dump();
}

// --- Avro ----------------------------------------------------------------------------------

namespace {

// Avro names are [A-Za-z_][A-Za-z0-9_]*: other characters become '_' (as Debezium does).
std::string avro_name(std::string_view s) {
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    out.push_back(std::isalnum(c) || c == '_' ? ch : '_');
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out.insert(0, "_");
  return out;
}

std::string record_namespace(const TableSchema& s, const std::string& topic_prefix) {
  return fmt::format("{}.{}.{}", avro_name(topic_prefix), avro_name(s.schema), avro_name(s.table));
}

// Avro binary encoding (spec "Binary Encoding"): int and long as zigzag varints (the Kafka
// protocol's varint, bus::WireWriter), float/double little-endian, bytes and strings
// length-prefixed, a union as its branch index then the value.
class AvroOut {
 public:
  explicit AvroOut(std::string* out) : w_(out) {}
  void boolean(bool b) { w_.boolean(b); }
  void long_value(int64_t v) { w_.varint(v); }
  void float_value(float f) { little_endian(f); }
  void double_value(double d) { little_endian(d); }
  void bytes(std::string_view b) {
    w_.varint(static_cast<int64_t>(b.size()));
    w_.raw(b);
  }
  void branch(int i) { w_.varint(i); }

 private:
  template <typename T>
  void little_endian(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // x86/ARM little-endian hosts
    w_.raw(std::string_view(b, sizeof(T)));
  }
  bus::WireWriter w_;
};

bool decimal_as_bytes(const Column& c) {
  return c.precision >= 1 && c.precision <= 38;
}

// The Avro type of a column's values (docs/cdc.md, "Type mapping").
Json avro_type(const Column& c) {
  switch (c.kind) {
    case ValueKind::kBool:
      return "boolean";
    case ValueKind::kInt16:
    case ValueKind::kInt32:
      return "int";
    case ValueKind::kInt64:
      return "long";
    case ValueKind::kFloat32:
      return "float";
    case ValueKind::kFloat64:
      return "double";
    case ValueKind::kDecimal:
      if (decimal_as_bytes(c)) {
        return Json{{"type", "bytes"},
                    {"logicalType", "decimal"},
                    {"precision", c.precision},
                    {"scale", c.scale}};
      }
      return "string";  // unconstrained numeric: exact as text
    case ValueKind::kDate:
      return Json{{"type", "int"}, {"logicalType", "date"}};
    case ValueKind::kTime:
      return Json{{"type", "long"}, {"logicalType", "time-micros"}};
    case ValueKind::kTimestamp:
      return Json{{"type", "long"},
                  {"logicalType", "timestamp-micros"},
                  {"connect.name", "io.debezium.time.MicroTimestamp"}};
    case ValueKind::kTimestampTz:
      return Json{{"type", "long"}, {"logicalType", "timestamp-micros"}};
    case ValueKind::kUuid:
      return Json{{"type", "string"}, {"connect.name", "io.debezium.data.Uuid"}};
    case ValueKind::kJson:
      return Json{{"type", "string"}, {"connect.name", "io.debezium.data.Json"}};
    case ValueKind::kBytes:
      return "bytes";
    default:
      return "string";
  }
}

bool optional_column(const Column& c) {
  return !c.key && c.nullable;
}

Json avro_fields(const TableSchema& s, bool key_only) {
  Json fields = Json::array();
  for (const auto& c : s.columns) {
    if (key_only && !c.key) continue;
    Json f = {{"name", avro_name(c.name)}};
    if (optional_column(c)) {
      f["type"] = Json::array({"null", avro_type(c)});
      f["default"] = nullptr;
    } else {
      f["type"] = avro_type(c);
    }
    fields.push_back(f);
  }
  return fields;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Reads an unsigned decimal number of at least one digit at `*p`.
bool digits(const char** p, int64_t* out, int max_digits = 18) {
  const char* q = *p;
  int64_t v = 0;
  int n = 0;
  while (std::isdigit(static_cast<unsigned char>(*q)) && n < max_digits) {
    v = v * 10 + (*q++ - '0');
    ++n;
  }
  if (n == 0) return false;
  *p = q;
  *out = v;
  return true;
}

// '.ffffff' (any number of digits, truncated to microseconds), if present.
int64_t fraction_micros(const char** p) {
  if (**p != '.') return 0;
  ++*p;
  int64_t us = 0;
  int n = 0;
  while (std::isdigit(static_cast<unsigned char>(**p))) {
    if (n < 6) us = us * 10 + (**p - '0');
    ++n;
    ++*p;
  }
  for (; n < 6; ++n)
    us *= 10;
  return us;
}

bool parse_date(const char** p, int64_t* days) {
  int64_t y = 0, m = 0, d = 0;
  if (!digits(p, &y) || *(*p)++ != '-' || !digits(p, &m) || *(*p)++ != '-' || !digits(p, &d))
    return false;
  if (m < 1 || m > 12 || d < 1 || d > 31) return false;
  *days = days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  return true;
}

// [-]H+:MM:SS[.ffffff] (MariaDB's TIME may be negative or beyond 24 h).
bool parse_time(const char** p, int64_t* micros) {
  bool neg = **p == '-';
  if (neg) ++*p;
  int64_t h = 0, m = 0, s = 0;
  if (!digits(p, &h) || *(*p)++ != ':' || !digits(p, &m) || *(*p)++ != ':' || !digits(p, &s))
    return false;
  int64_t v = ((h * 60 + m) * 60 + s) * 1000000 + fraction_micros(p);
  *micros = neg ? -v : v;
  return true;
}

// YYYY-MM-DD[ T]HH:MM:SS[.ffffff][(+|-)HH[:MM]] as microseconds since the epoch (UTC).
bool parse_timestamp(const char* p, int64_t* micros) {
  int64_t days = 0, tod = 0;
  if (!parse_date(&p, &days) || (*p != ' ' && *p != 'T')) return false;
  ++p;
  if (*p == '-' || !parse_time(&p, &tod)) return false;
  int64_t offset_s = 0;
  if (*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1;
    int64_t oh = 0, om = 0;
    if (!digits(&p, &oh, 2)) return false;
    if (*p == ':') ++p;
    if (std::isdigit(static_cast<unsigned char>(*p)) && !digits(&p, &om, 2)) return false;
    offset_s = sign * (oh * 3600 + om * 60);
  } else if (*p == 'Z') {
    ++p;
  }
  if (*p != 0) return false;
  *micros = days * 86400000000LL + tod - offset_s * 1000000;
  return true;
}

// A decimal's text as the big-endian two's-complement bytes of its unscaled value at `scale`
// (Avro's decimal logical type on bytes).
bool decimal_bytes(const std::string& text, int scale, std::string* out) {
  const char* p = text.c_str();
  bool neg = *p == '-';
  if (neg || *p == '+') ++p;
  std::string ds;  // the unscaled value's digits
  int frac = -1;
  for (; *p; ++p) {
    if (*p == '.' && frac < 0) {
      frac = 0;
    } else if (std::isdigit(static_cast<unsigned char>(*p))) {
      ds.push_back(*p);
      if (frac >= 0) ++frac;
    } else {
      return false;
    }
  }
  if (ds.empty()) return false;
  if (frac < 0) frac = 0;
  for (; frac < scale; ++frac)
    ds.push_back('0');
  while (frac > scale) {  // more fractional digits than the scale: only zeros may go
    if (ds.back() != '0') return false;
    ds.pop_back();
    --frac;
  }
  std::vector<uint8_t> le;  // magnitude, little-endian base 256
  for (char dc : ds) {
    unsigned carry = static_cast<unsigned>(dc - '0');
    for (auto& b : le) {
      unsigned x = b * 10u + carry;
      b = static_cast<uint8_t>(x & 0xff);
      carry = x >> 8;
    }
    if (carry) le.push_back(static_cast<uint8_t>(carry));
  }
  while (!le.empty() && le.back() == 0)
    le.pop_back();
  le.push_back(0);  // room for the sign bit
  if (neg) {
    unsigned carry = 1;
    for (auto& b : le) {
      unsigned x = static_cast<uint8_t>(~b) + carry;
      b = static_cast<uint8_t>(x & 0xff);
      carry = x >> 8;
    }
  }
  // Minimal: drop leading bytes that only repeat the sign.
  while (le.size() > 1) {
    uint8_t top = le.back(), next = le[le.size() - 2];
    if ((top == 0 && !(next & 0x80)) || (top == 0xff && (next & 0x80))) {
      le.pop_back();
    } else {
      break;
    }
  }
  out->assign(le.rbegin(), le.rend());
  return true;
}

// The zero of a column's Avro type: what a NOT NULL column holds in a before image that only
// carries the key (PostgreSQL's REPLICA IDENTITY DEFAULT), as Debezium does.
void put_zero(AvroOut& o, const Column& c) {
  switch (c.kind) {
    case ValueKind::kBool:
      o.boolean(false);
      return;
    case ValueKind::kFloat32:
      o.float_value(0);
      return;
    case ValueKind::kFloat64:
      o.double_value(0);
      return;
    case ValueKind::kInt16:
    case ValueKind::kInt32:
    case ValueKind::kInt64:
    case ValueKind::kDate:
    case ValueKind::kTime:
    case ValueKind::kTimestamp:
    case ValueKind::kTimestampTz:
      o.long_value(0);
      return;
    case ValueKind::kDecimal:
      o.bytes(decimal_as_bytes(c) ? std::string_view("\0", 1) : std::string_view());
      return;
    default:
      o.bytes("");
      return;
  }
}

Status put_value(AvroOut& o, const TableSchema& s, const Column& c, const Value& v) {
  if (optional_column(c)) {
    o.branch(v ? 1 : 0);
    if (!v) return Status::ok();
  } else if (!v) {
    put_zero(o, c);
    return Status::ok();
  }
  const std::string& t = *v;
  auto bad = [&](const char* as) {
    return invalid_argument(fmt::format("table {}.{} column {}: value '{}' is not {} (Avro {})",
                                        s.schema, s.table, c.name, t.substr(0, 64), as,
                                        avro_type(c).dump()));
  };
  switch (c.kind) {
    case ValueKind::kBool:
      if (t == "true" || t == "t" || t == "1") {
        o.boolean(true);
      } else if (t == "false" || t == "f" || t == "0") {
        o.boolean(false);
      } else {
        return bad("a boolean");
      }
      return Status::ok();
    case ValueKind::kInt16:
    case ValueKind::kInt32:
    case ValueKind::kInt64: {
      char* end = nullptr;
      errno = 0;
      long long x = std::strtoll(t.c_str(), &end, 10);
      if (t.empty() || *end != 0 || errno == ERANGE) return bad("an integer");
      if (c.kind != ValueKind::kInt64 && (x < INT32_MIN || x > INT32_MAX))
        return bad("a 32-bit integer");
      o.long_value(x);
      return Status::ok();
    }
    case ValueKind::kFloat32:
    case ValueKind::kFloat64: {
      char* end = nullptr;
      double x = std::strtod(t.c_str(), &end);
      if (t.empty() || *end != 0) return bad("a number");
      if (c.kind == ValueKind::kFloat32) {
        o.float_value(static_cast<float>(x));
      } else {
        o.double_value(x);
      }
      return Status::ok();
    }
    case ValueKind::kDecimal: {
      if (!decimal_as_bytes(c)) break;
      std::string b;
      if (!decimal_bytes(t, c.scale, &b)) return bad("a decimal of its scale");
      o.bytes(b);
      return Status::ok();
    }
    case ValueKind::kDate: {
      const char* p = t.c_str();
      int64_t days = 0;
      if (!parse_date(&p, &days) || *p != 0) return bad("a date");
      o.long_value(days);
      return Status::ok();
    }
    case ValueKind::kTime: {
      const char* p = t.c_str();
      int64_t us = 0;
      if (!parse_time(&p, &us) || *p != 0) return bad("a time");
      o.long_value(us);
      return Status::ok();
    }
    case ValueKind::kTimestamp:
    case ValueKind::kTimestampTz: {
      int64_t us = 0;
      if (!parse_timestamp(t.c_str(), &us)) return bad("a timestamp");
      o.long_value(us);
      return Status::ok();
    }
    default:
      break;
  }
  o.bytes(t);  // strings, bytes, uuid, json, other
  return Status::ok();
}

Status put_row(AvroOut& o, const TableSchema& s, const Row& r, bool key_only) {
  for (size_t i = 0; i < s.columns.size(); ++i) {
    const Column& c = s.columns[i];
    if (key_only && !c.key) continue;
    static const Value kNull;
    SLUICE_RETURN_IF_ERROR(put_value(o, s, c, i < r.values.size() ? r.values[i] : kNull));
  }
  return Status::ok();
}

void put_optional_string(AvroOut& o, const std::optional<std::string>& v) {
  o.branch(v ? 1 : 0);
  if (v) o.bytes(*v);
}

}  // namespace

Json avro_key_schema(const TableSchema& s, const std::string& topic_prefix) {
  return Json{{"type", "record"},
              {"name", record_namespace(s, topic_prefix) + ".Key"},
              {"fields", avro_fields(s, true)}};
}

Json avro_value_schema(const TableSchema& s, sources::SourceKind kind,
                       const std::string& topic_prefix) {
  const std::string ns = record_namespace(s, topic_prefix);
  const bool pg = kind == sources::SourceKind::kPostgres;
  Json value = {{"type", "record"}, {"name", ns + ".Value"}, {"fields", avro_fields(s, false)}};
  auto field = [](const char* name, Json type) { return Json{{"name", name}, {"type", type}}; };
  auto optional = [](const char* name, const char* type) {
    return Json{{"name", name}, {"type", Json::array({"null", type})}, {"default", nullptr}};
  };
  // The fields the JSON envelope's `source` carries, in its order.
  Json source = {{"type", "record"},
                 {"name", pg ? "io.debezium.connector.postgresql.Source"
                             : "io.debezium.connector.mysql.Source"},
                 {"fields", Json::array({field("version", "string"), field("connector", "string"),
                                         field("name", "string"), field("ts_ms", "long"),
                                         optional("snapshot", "string"), field("db", "string"),
                                         field("schema", "string"), field("table", "string"),
                                         optional("txId", "string"), optional("lsn", "long"),
                                         optional("position", "string")})}};
  return Json{
      {"type", "record"},
      {"name", ns + ".Envelope"},
      {"fields",
       Json::array(
           {Json{{"name", "before"}, {"type", Json::array({"null", value})}, {"default", nullptr}},
            Json{{"name", "after"},
                 {"type", Json::array({"null", ns + ".Value"})},
                 {"default", nullptr}},
            field("source", source), field("op", "string"), optional("ts_ms", "long")})}};
}

Result<std::string> avro_key(const ChangeEvent& e) {
  std::string out;
  AvroOut o(&out);
  const auto& row = e.after ? e.after : e.before;
  if (row) SLUICE_RETURN_IF_ERROR(put_row(o, *e.schema, *row, true));
  return out;
}

Result<std::string> avro_value(const ChangeEvent& e, const Transaction& t,
                               const sources::SourceConfig& source,
                               const std::string& topic_prefix) {
  const TableSchema& s = *e.schema;
  const bool pg = source.kind == sources::SourceKind::kPostgres;
  std::string out;
  AvroOut o(&out);
  for (const auto* row : {&e.before, &e.after}) {
    o.branch(*row ? 1 : 0);
    if (*row) SLUICE_RETURN_IF_ERROR(put_row(o, s, **row, false));
  }
  o.bytes("sluice");
  o.bytes(pg ? "postgresql" : "mysql");
  o.bytes(topic_prefix);
  o.long_value(t.commit_ts_ms);
  put_optional_string(o, std::string(e.snapshot ? "true" : "false"));
  o.bytes(s.database);
  o.bytes(s.schema);
  o.bytes(s.table);
  put_optional_string(o, t.txid.empty() ? std::nullopt : std::optional<std::string>(t.txid));
  o.branch(pg ? 1 : 0);
  if (pg) o.long_value(static_cast<int64_t>(e.position.major));
  put_optional_string(o, e.position.resume);
  o.bytes(std::string(1, static_cast<char>(e.op)));
  o.branch(1);
  o.long_value(now_ms());
  return out;
}

Result<std::string> registry_url_from(const std::string& registry_url,
                                      const std::string& registry_listen) {
  if (!registry_url.empty()) return registry_url;
  auto colon = registry_listen.rfind(':');
  if (colon == std::string::npos) {
    return invalid_argument(fmt::format(
        "cdc.registry_url is empty and registry.listen '{}' is not HOST:PORT", registry_listen));
  }
  std::string host = registry_listen.substr(0, colon);
  std::string port = registry_listen.substr(colon + 1);
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") host = "127.0.0.1";
  if (port == "0") {
    return invalid_argument(
        "cdc.registry_url is empty and registry.listen has port 0: set cdc.registry_url to the "
        "schema registry's address");
  }
  return fmt::format("http://{}:{}", host, port);
}

// --- EventEncoder ----------------------------------------------------------------------------

struct EventEncoder::Impl {
  Options options;
  sources::SourceConfig source;
  std::string host;
  uint16_t port = 0;
  std::unique_ptr<http::Client> client;
  struct Ids {
    std::shared_ptr<const TableSchema> schema;  // keeps the pointer it is cached under unique
    int32_t key = 0, value = 0;
  };
  std::unordered_map<const TableSchema*, Ids> ids;                    // per table schema version
  std::map<std::pair<std::string, std::string>, int32_t> registered;  // (subject, schema)

  Result<int32_t> register_schema(const std::string& subject, const std::string& schema) {
    auto known = registered.find({subject, schema});
    if (known != registered.end()) return known->second;
    const std::string where =
        fmt::format("schema registry {}: subject {}", options.registry_url, subject);
    if (!client) client = std::make_unique<http::Client>(host, port, 10000);
    auto r = client->post("/subjects/" + subject + "/versions", Json{{"schema", schema}}.dump(),
                          "application/vnd.schemaregistry.v1+json");
    if (!r.is_ok()) {
      client.reset();
      return unavailable(
          fmt::format("{}: cannot register the schema: {}", where, r.status().message()));
    }
    auto body = nlohmann::json::parse(r->body, nullptr, false);
    if (r->status == 200 && body.is_object() && body.contains("id") &&
        body["id"].is_number_integer()) {
      auto id = body["id"].get<int32_t>();
      registered[{subject, schema}] = id;
      log::info("cdc registered a schema", {log::kv("subject", subject), log::kv("id", id)});
      return id;
    }
    std::string why = body.is_object() && body.contains("message") && body["message"].is_string()
                          ? body["message"].get<std::string>()
                          : r->body.substr(0, 300);
    std::string msg =
        fmt::format("{}: the registry refused the schema (HTTP {}): {}", where, r->status, why);
    if (r->status >= 500) return unavailable(msg);
    return invalid_argument(msg);
  }
};

EventEncoder::EventEncoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventEncoder::~EventEncoder() = default;

Result<std::unique_ptr<EventEncoder>> EventEncoder::open(const Options& options,
                                                         const sources::SourceConfig& source) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->source = source;
  if (options.format == EventFormat::kAvro) {
    std::string_view u = options.registry_url;
    if (u.rfind("http://", 0) != 0) {
      return invalid_argument(fmt::format(
          "cdc.registry_url '{}' is not an http://HOST:PORT address", options.registry_url));
    }
    u.remove_prefix(7);
    while (!u.empty() && u.back() == '/')
      u.remove_suffix(1);
    auto colon = u.rfind(':');
    int port = 0;
    if (colon != std::string_view::npos) port = std::atoi(std::string(u.substr(colon + 1)).c_str());
    if (colon == std::string_view::npos || colon == 0 || port <= 0 || port > 65535 ||
        u.find('/') != std::string_view::npos) {
      return invalid_argument(fmt::format(
          "cdc.registry_url '{}' is not an http://HOST:PORT address", options.registry_url));
    }
    impl->host = std::string(u.substr(0, colon));
    impl->port = static_cast<uint16_t>(port);
  }
  return std::unique_ptr<EventEncoder>(new EventEncoder(std::move(impl)));
}

Result<EncodedEvent> EventEncoder::encode(const ChangeEvent& e, const Transaction& t) {
  Impl& m = *impl_;
  EncodedEvent out;
  out.topic = fmt::format("{}.{}.{}", m.options.topic_prefix, e.schema->schema, e.schema->table);
  if (m.options.format == EventFormat::kJson) {
    out.key = debezium_key(e, m.options.topic_prefix);
    out.value = debezium_value(e, t, m.source, m.options.topic_prefix);
    return out;
  }
  auto it = m.ids.find(e.schema.get());
  if (it == m.ids.end()) {
    Impl::Ids ids;
    ids.schema = e.schema;
    SLUICE_ASSIGN_OR_RETURN(
        ids.key, m.register_schema(out.topic + "-key",
                                   avro_key_schema(*e.schema, m.options.topic_prefix).dump()));
    SLUICE_ASSIGN_OR_RETURN(
        ids.value, m.register_schema(
                       out.topic + "-value",
                       avro_value_schema(*e.schema, m.source.kind, m.options.topic_prefix).dump()));
    it = m.ids.emplace(e.schema.get(), std::move(ids)).first;
  }
  SLUICE_ASSIGN_OR_RETURN(std::string key, avro_key(e));
  SLUICE_ASSIGN_OR_RETURN(std::string value, avro_value(e, t, m.source, m.options.topic_prefix));
  bus::append_wire_header(out.key, it->second.key);
  out.key += key;
  bus::append_wire_header(out.value, it->second.value);
  out.value += value;
  return out;
}

}  // namespace sluice::cdc
