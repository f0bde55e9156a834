#include "gateway/pg_types.h"

#include <duckdb.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>

namespace sluice::gateway {

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

// --- type mapping ------------------------------------------------------------------------------

namespace {

struct ArrayPair {
  int32_t element;
  int32_t array;
};
constexpr ArrayPair kArrays[] = {
    {oid::kBool, 1000},      {oid::kBytea, 1001},       {oid::kInt8, 1016},
    {oid::kInt2, 1005},      {oid::kInt4, 1007},        {oid::kText, 1009},
    {oid::kJson, 199},       {oid::kFloat4, 1021},      {oid::kFloat8, 1022},
    {oid::kVarchar, 1015},   {oid::kDate, 1182},        {oid::kTime, 1183},
    {oid::kTimestamp, 1115}, {oid::kTimestamptz, 1185}, {oid::kInterval, 1187},
    {oid::kTimetz, 1270},    {oid::kNumeric, 1231},     {oid::kUuid, 2951}};

PgType scalar(int32_t o) {
  switch (o) {
    case oid::kBool:
      return {o, 1, -1, "bool"};
    case oid::kInt2:
      return {o, 2, -1, "int2"};
    case oid::kInt4:
      return {o, 4, -1, "int4"};
    case oid::kInt8:
      return {o, 8, -1, "int8"};
    case oid::kFloat4:
      return {o, 4, -1, "float4"};
    case oid::kFloat8:
      return {o, 8, -1, "float8"};
    case oid::kDate:
      return {o, 4, -1, "date"};
    case oid::kTime:
      return {o, 8, -1, "time"};
    case oid::kTimetz:
      return {o, 12, -1, "timetz"};
    case oid::kTimestamp:
      return {o, 8, -1, "timestamp"};
    case oid::kTimestamptz:
      return {o, 8, -1, "timestamptz"};
    case oid::kInterval:
      return {o, 16, -1, "interval"};
    case oid::kUuid:
      return {o, 16, -1, "uuid"};
    case oid::kBytea:
      return {o, -1, -1, "bytea"};
    case oid::kJson:
      return {o, -1, -1, "json"};
    case oid::kNumeric:
      return {o, -1, -1, "numeric"};
    case oid::kVarchar:
      return {o, -1, -1, "varchar"};
    default:
      return {oid::kText, -1, -1, "text"};
  }
}

int32_t scalar_oid(duckdb_type t) {
  switch (t) {
    case DUCKDB_TYPE_BOOLEAN:
      return oid::kBool;
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_UTINYINT:
      return oid::kInt2;
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_USMALLINT:
      return oid::kInt4;
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UINTEGER:
      return oid::kInt8;
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_DECIMAL:
      return oid::kNumeric;
    case DUCKDB_TYPE_FLOAT:
      return oid::kFloat4;
    case DUCKDB_TYPE_DOUBLE:
      return oid::kFloat8;
    case DUCKDB_TYPE_VARCHAR:
      return oid::kVarchar;
    case DUCKDB_TYPE_BLOB:
      return oid::kBytea;
    case DUCKDB_TYPE_DATE:
      return oid::kDate;
    case DUCKDB_TYPE_TIME:
      return oid::kTime;
    case DUCKDB_TYPE_TIME_TZ:
      return oid::kTimetz;
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
      return oid::kTimestamp;
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return oid::kTimestamptz;
    case DUCKDB_TYPE_INTERVAL:
      return oid::kInterval;
    case DUCKDB_TYPE_UUID:
      return oid::kUuid;
    default:
      return oid::kText;
  }
}

bool is_json(duckdb_logical_type t) {
  char* alias = duckdb_logical_type_get_alias(t);
  bool json = alias != nullptr && std::strcmp(alias, "JSON") == 0;
  duckdb_free(alias);
  return json;
}

}  // namespace

int32_t array_oid_of(int32_t element_oid) {
  for (const auto& p : kArrays)
    if (p.element == element_oid) return p.array;
  return 0;
}

std::string_view duckdb_name_of_oid(int32_t o) {
  switch (o) {
    case oid::kBool:
      return "BOOLEAN";
    case oid::kInt2:
      return "SMALLINT";
    case oid::kInt4:
      return "INTEGER";
    case oid::kInt8:
      return "BIGINT";
    case oid::kFloat4:
      return "FLOAT";
    case oid::kFloat8:
      return "DOUBLE";
    case oid::kNumeric:
      return "DECIMAL(38,10)";
    case oid::kText:
    case oid::kVarchar:
    case oid::kJson:
      return "VARCHAR";
    case oid::kBytea:
      return "BLOB";
    case oid::kDate:
      return "DATE";
    case oid::kTime:
      return "TIME";
    case oid::kTimestamp:
      return "TIMESTAMP";
    case oid::kTimestamptz:
      return "TIMESTAMPTZ";
    case oid::kInterval:
      return "INTERVAL";
    case oid::kUuid:
      return "UUID";
    default:
      return "";
  }
}

PgType pg_type_of(duckdb_logical_type type) {
  duckdb_type id = duckdb_get_type_id(type);
  if (id == DUCKDB_TYPE_LIST || id == DUCKDB_TYPE_ARRAY) {
    duckdb_logical_type child = id == DUCKDB_TYPE_LIST ? duckdb_list_type_child_type(type)
                                                       : duckdb_array_type_child_type(type);
    PgType c = pg_type_of(child);
    duckdb_destroy_logical_type(&child);
    int32_t arr = array_oid_of(c.oid);
    if (arr == 0) {
      // Nested arrays keep the element's array type (PostgreSQL arrays are multi-dimensional).
      for (const auto& p : kArrays)
        if (p.array == c.oid) arr = p.array;
    }
    if (arr == 0) return scalar(oid::kText);
    return {arr, -1, c.typmod, "_" + c.name};
  }
  if (id == DUCKDB_TYPE_VARCHAR && is_json(type)) return scalar(oid::kJson);
  PgType t = scalar(scalar_oid(id));
  if (id == DUCKDB_TYPE_DECIMAL) {
    t.typmod = ((duckdb_decimal_width(type) << 16) | duckdb_decimal_scale(type)) + 4;
  }
  return t;
}

PgType pg_type_from_duckdb_name(std::string_view n) {
  static const std::pair<std::string_view, int32_t> kNames[] = {
      {"BOOLEAN", oid::kBool},     {"TINYINT", oid::kInt2},
      {"SMALLINT", oid::kInt2},    {"INTEGER", oid::kInt4},
      {"BIGINT", oid::kInt8},      {"HUGEINT", oid::kNumeric},
      {"UTINYINT", oid::kInt2},    {"USMALLINT", oid::kInt4},
      {"UINTEGER", oid::kInt8},    {"UBIGINT", oid::kNumeric},
      {"FLOAT", oid::kFloat4},     {"DOUBLE", oid::kFloat8},
      {"DECIMAL", oid::kNumeric},  {"VARCHAR", oid::kVarchar},
      {"DATE", oid::kDate},        {"TIMESTAMP", oid::kTimestamp},
      {"UUID", oid::kUuid},        {"TIMESTAMP WITH TIME ZONE", oid::kTimestamptz},
      {"INTERVAL", oid::kInterval}};
  for (const auto& [name, o] : kNames)
    if (name == n) return scalar(o);
  return scalar(oid::kText);
}

// --- text formatting ---------------------------------------------------------------------------

namespace {

constexpr int64_t kMicrosPerDay = 86400000000LL;
constexpr int32_t kPgEpochDays = 10957;  // 2000-01-01 - 1970-01-01
constexpr int64_t kPgEpochMicros = kPgEpochDays * kMicrosPerDay;

// Days since 1970-01-01 -> proleptic Gregorian y/m/d (H. Hinnant's civil_from_days).
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += (m <= 2);
}

void append_2(std::string& out, unsigned v) {
  out += static_cast<char>('0' + v / 10);
  out += static_cast<char>('0' + v % 10);
}

void append_ymd(std::string& out, int64_t days, bool& bc) {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  bc = y <= 0;
  if (bc) y = 1 - y;
  fmt::format_to(std::back_inserter(out), "{:04d}-", y);
  append_2(out, m);
  out += '-';
  append_2(out, d);
}

// HH:MM:SS[.ffffff] with trailing zeros of the fraction trimmed, as PostgreSQL prints.
void append_time_of_day(std::string& out, int64_t micros) {
  int64_t secs = micros / 1000000, frac = micros % 1000000;
  append_2(out, static_cast<unsigned>(secs / 3600));
  out += ':';
  append_2(out, static_cast<unsigned>(secs / 60 % 60));
  out += ':';
  append_2(out, static_cast<unsigned>(secs % 60));
  if (frac != 0) {
    char buf[24];
    std::snprintf(buf, sizeof(buf), ".%06lld", static_cast<long long>(frac));
    size_t len = 7;
    while (buf[len - 1] == '0')
      --len;
    out.append(buf, len);
  }
}

void append_int128(std::string& out, i128 v) {
  if (v == 0) {
    out += '0';
    return;
  }
  bool neg = v < 0;
  u128 u = neg ? static_cast<u128>(-(v + 1)) + 1 : static_cast<u128>(v);
  char buf[48];
  int i = 0;
  while (u > 0) {
    buf[i++] = static_cast<char>('0' + static_cast<int>(u % 10));
    u /= 10;
  }
  if (neg) out += '-';
  while (i > 0)
    out += buf[--i];
}

void append_uint128(std::string& out, u128 u) {
  if (u == 0) {
    out += '0';
    return;
  }
  char buf[48];
  int i = 0;
  while (u > 0) {
    buf[i++] = static_cast<char>('0' + static_cast<int>(u % 10));
    u /= 10;
  }
  while (i > 0)
    out += buf[--i];
}

void append_decimal(std::string& out, i128 v, int scale) {
  if (scale == 0) {
    append_int128(out, v);
    return;
  }
  std::string digits;
  bool neg = v < 0;
  append_uint128(digits, neg ? static_cast<u128>(-(v + 1)) + 1 : static_cast<u128>(v));
  if (digits.size() <= static_cast<size_t>(scale)) {
    digits = std::string(static_cast<size_t>(scale) + 1 - digits.size(), '0') + digits;
  }
  if (neg) out += '-';
  out.append(digits, 0, digits.size() - scale);
  out += '.';
  out.append(digits, digits.size() - scale, std::string::npos);
}

void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "Infinity" : "-Infinity";
  } else {
    fmt::format_to(std::back_inserter(out), "{}", v);
  }
}

void append_float(std::string& out, float v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "Infinity" : "-Infinity";
  } else {
    fmt::format_to(std::back_inserter(out), "{}", v);
  }
}

void append_uuid(std::string& out, duckdb_hugeint h) {
  // DuckDB stores UUIDs as a hugeint with the top bit flipped (so that they sort as text).
  uint64_t upper = static_cast<uint64_t>(h.upper) ^ (uint64_t{1} << 63);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%04x%08x",
                static_cast<unsigned>(upper >> 32), static_cast<unsigned>((upper >> 16) & 0xffff),
                static_cast<unsigned>(upper & 0xffff), static_cast<unsigned>(h.lower >> 48),
                static_cast<unsigned>((h.lower >> 32) & 0xffff),
                static_cast<unsigned>(h.lower & 0xffffffff));
  out += buf;
}

void append_interval(std::string& out, duckdb_interval iv) {
  size_t start = out.size();
  auto part = [&](int64_t n, const char* unit, const char* units) {
    if (n == 0) return;
    if (out.size() > start) out += ' ';
    fmt::format_to(std::back_inserter(out), "{} {}", n, (n == 1 || n == -1) ? unit : units);
  };
  part(iv.months / 12, "year", "years");
  part(iv.months % 12, "mon", "mons");
  part(iv.days, "day", "days");
  if (iv.micros != 0 || out.size() == start) {
    if (out.size() > start) out += ' ';
    int64_t m = iv.micros;
    if (m < 0) {
      out += '-';
      m = -m;
    }
    append_time_of_day(out, m);
  }
}

void append_hex_bytea(std::string& out, std::string_view b) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  for (unsigned char c : b) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
}

// Array element quoting (PostgreSQL array_out).
void append_array_element(std::string& out, std::string_view v) {
  bool quote = v.empty() || (v.size() == 4 && (v == "NULL" || v == "null" || v == "Null"));
  for (char c : v) {
    if (c == '"' || c == '\\' || c == '{' || c == '}' || c == ',' || c == ' ' || c == '\t' ||
        c == '\n' || c == '\r') {
      quote = true;
      break;
    }
  }
  if (!quote) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

// Big-endian appends for binary format.
void be16(std::string& o, uint16_t v) {
  o += static_cast<char>(v >> 8);
  o += static_cast<char>(v);
}
void be32(std::string& o, uint32_t v) {
  be16(o, static_cast<uint16_t>(v >> 16));
  be16(o, static_cast<uint16_t>(v));
}
void be64(std::string& o, uint64_t v) {
  be32(o, static_cast<uint32_t>(v >> 32));
  be32(o, static_cast<uint32_t>(v));
}

}  // namespace

void format_date(int32_t days, std::string& out) {
  if (days == std::numeric_limits<int32_t>::max()) {
    out += "infinity";
    return;
  }
  if (days == -std::numeric_limits<int32_t>::max()) {
    out += "-infinity";
    return;
  }
  bool bc = false;
  append_ymd(out, days, bc);
  if (bc) out += " BC";
}

void format_timestamp(int64_t micros, bool with_tz, std::string& out) {
  if (micros == std::numeric_limits<int64_t>::max()) {
    out += "infinity";
    return;
  }
  if (micros == -std::numeric_limits<int64_t>::max()) {
    out += "-infinity";
    return;
  }
  int64_t days = micros / kMicrosPerDay, rem = micros % kMicrosPerDay;
  if (rem < 0) {
    rem += kMicrosPerDay;
    --days;
  }
  bool bc = false;
  append_ymd(out, days, bc);
  out += ' ';
  append_time_of_day(out, rem);
  if (with_tz) out += "+00";
  if (bc) out += " BC";
}

Result<std::string> numeric_text_to_binary(std::string_view text) {
  std::string out;
  if (text == "NaN") {
    be16(out, 0);
    be16(out, 0);
    be16(out, 0xC000);
    be16(out, 0);
    return out;
  }
  bool neg = !text.empty() && text[0] == '-';
  if (neg || (!text.empty() && text[0] == '+')) text.remove_prefix(1);
  size_t dot = text.find('.');
  std::string ip(text.substr(0, dot));
  std::string fp(dot == std::string_view::npos ? "" : text.substr(dot + 1));
  for (std::string_view part : {std::string_view(ip), std::string_view(fp)})
    for (char c : part)
      if (c < '0' || c > '9') return invalid_argument(fmt::format("invalid numeric '{}'", text));
  uint16_t dscale = static_cast<uint16_t>(fp.size());
  size_t nz = ip.find_first_not_of('0');
  ip = nz == std::string::npos ? std::string() : ip.substr(nz);
  ip = std::string((4 - ip.size() % 4) % 4, '0') + ip;
  fp.append((4 - fp.size() % 4) % 4, '0');
  std::vector<uint16_t> digits;
  for (size_t i = 0; i < ip.size(); i += 4)
    digits.push_back(static_cast<uint16_t>(std::stoi(ip.substr(i, 4))));
  int weight = static_cast<int>(ip.size() / 4) - 1;
  for (size_t i = 0; i < fp.size(); i += 4)
    digits.push_back(static_cast<uint16_t>(std::stoi(fp.substr(i, 4))));
  size_t lead = 0;
  while (lead < digits.size() && digits[lead] == 0) {
    ++lead;
    --weight;
  }
  digits.erase(digits.begin(), digits.begin() + static_cast<std::ptrdiff_t>(lead));
  while (!digits.empty() && digits.back() == 0)
    digits.pop_back();
  if (digits.empty()) weight = 0;
  be16(out, static_cast<uint16_t>(digits.size()));
  be16(out, static_cast<uint16_t>(static_cast<int16_t>(weight)));
  be16(out, neg && !digits.empty() ? 0x4000 : 0);
  be16(out, dscale);
  for (auto d : digits)
    be16(out, d);
  return out;
}

// --- column encoder ----------------------------------------------------------------------------

struct ColumnEncoder::Impl {
  duckdb_type id = DUCKDB_TYPE_INVALID;
  bool binary = false;
  bool ok = true;
  int32_t pg_oid = oid::kText;
  // decimal
  uint8_t scale = 0;
  duckdb_type decimal_internal = DUCKDB_TYPE_INVALID;
  // enum
  duckdb_type enum_internal = DUCKDB_TYPE_INVALID;
  std::vector<std::string> enum_values;
  // list / array / map children, struct fields
  std::vector<std::unique_ptr<Impl>> children;
  std::vector<std::string> child_names;
  uint64_t array_size = 0;

  duckdb_vector vector = nullptr;
  const void* data = nullptr;
  uint64_t* validity = nullptr;

  void init(duckdb_logical_type t, bool bin) {
    id = duckdb_get_type_id(t);
    binary = bin;
    pg_oid = pg_type_of(t).oid;
    switch (id) {
      case DUCKDB_TYPE_DECIMAL:
        scale = duckdb_decimal_scale(t);
        decimal_internal = duckdb_decimal_internal_type(t);
        break;
      case DUCKDB_TYPE_ENUM: {
        enum_internal = duckdb_enum_internal_type(t);
        uint32_t n = duckdb_enum_dictionary_size(t);
        for (uint32_t i = 0; i < n; ++i) {
          char* v = duckdb_enum_dictionary_value(t, i);
          enum_values.emplace_back(v != nullptr ? v : "");
          duckdb_free(v);
        }
        break;
      }
      case DUCKDB_TYPE_LIST:
      case DUCKDB_TYPE_ARRAY:
      case DUCKDB_TYPE_MAP: {
        duckdb_logical_type c = id == DUCKDB_TYPE_ARRAY ? duckdb_array_type_child_type(t)
                                                        : duckdb_list_type_child_type(t);
        if (id == DUCKDB_TYPE_ARRAY) array_size = duckdb_array_type_array_size(t);
        auto child = std::make_unique<Impl>();
        child->init(c, bin);
        duckdb_destroy_logical_type(&c);
        if (bin && (id == DUCKDB_TYPE_MAP || child->id == DUCKDB_TYPE_LIST ||
                    child->id == DUCKDB_TYPE_ARRAY || !child->ok))
          ok = false;
        children.push_back(std::move(child));
        break;
      }
      case DUCKDB_TYPE_STRUCT: {
        idx_t n = duckdb_struct_type_child_count(t);
        for (idx_t i = 0; i < n; ++i) {
          duckdb_logical_type c = duckdb_struct_type_child_type(t, i);
          char* name = duckdb_struct_type_child_name(t, i);
          child_names.emplace_back(name != nullptr ? name : "");
          duckdb_free(name);
          auto child = std::make_unique<Impl>();
          child->init(c, false);
          duckdb_destroy_logical_type(&c);
          children.push_back(std::move(child));
        }
        if (bin) ok = false;
        break;
      }
      default:
        break;
    }
    if (bin) {
      switch (id) {
        case DUCKDB_TYPE_BIT:
        case DUCKDB_TYPE_TIME_TZ:
        case DUCKDB_TYPE_UNION:
          ok = false;
          break;
        default:
          break;
      }
    }
  }

  void set_vector(duckdb_vector v) {
    vector = v;
    data = duckdb_vector_get_data(v);
    validity = duckdb_vector_get_validity(v);
    if (id == DUCKDB_TYPE_LIST || id == DUCKDB_TYPE_MAP) {
      children[0]->set_vector(duckdb_list_vector_get_child(v));
    } else if (id == DUCKDB_TYPE_ARRAY) {
      children[0]->set_vector(duckdb_array_vector_get_child(v));
    } else if (id == DUCKDB_TYPE_STRUCT) {
      for (size_t i = 0; i < children.size(); ++i)
        children[i]->set_vector(duckdb_struct_vector_get_child(v, i));
    }
  }

  bool is_null(uint64_t row) const {
    return validity != nullptr && !duckdb_validity_row_is_valid(validity, row);
  }

  template <typename T>
  T at(uint64_t row) const {
    return static_cast<const T*>(data)[row];
  }

  std::string_view str(uint64_t row) const {
    auto* s = const_cast<duckdb_string_t*>(static_cast<const duckdb_string_t*>(data) + row);
    return {duckdb_string_t_data(s), duckdb_string_t_length(*s)};
  }

  i128 hugeint(uint64_t row) const {
    auto h = at<duckdb_hugeint>(row);
    return (static_cast<i128>(h.upper) << 64) | static_cast<i128>(h.lower);
  }

  i128 decimal_value(uint64_t row) const {
    switch (decimal_internal) {
      case DUCKDB_TYPE_SMALLINT:
        return at<int16_t>(row);
      case DUCKDB_TYPE_INTEGER:
        return at<int32_t>(row);
      case DUCKDB_TYPE_BIGINT:
        return at<int64_t>(row);
      default:
        return hugeint(row);
    }
  }

  int64_t timestamp_micros(uint64_t row) const {
    int64_t v = at<int64_t>(row);
    bool special =
        v == std::numeric_limits<int64_t>::max() || v == -std::numeric_limits<int64_t>::max();
    if (special) return v;
    switch (id) {
      case DUCKDB_TYPE_TIMESTAMP_S:
        return v * 1000000;
      case DUCKDB_TYPE_TIMESTAMP_MS:
        return v * 1000;
      case DUCKDB_TYPE_TIMESTAMP_NS:
        return v / 1000;
      default:
        return v;
    }
  }

  uint32_t enum_index(uint64_t row) const {
    switch (enum_internal) {
      case DUCKDB_TYPE_UTINYINT:
        return at<uint8_t>(row);
      case DUCKDB_TYPE_USMALLINT:
        return at<uint16_t>(row);
      default:
        return at<uint32_t>(row);
    }
  }

  // Text form of a non-NULL value.
  void text(std::string& out, uint64_t row) const {
    switch (id) {
      case DUCKDB_TYPE_BOOLEAN:
        out += at<bool>(row) ? 't' : 'f';
        return;
      case DUCKDB_TYPE_TINYINT:
        fmt::format_to(std::back_inserter(out), "{}", at<int8_t>(row));
        return;
      case DUCKDB_TYPE_SMALLINT:
        fmt::format_to(std::back_inserter(out), "{}", at<int16_t>(row));
        return;
      case DUCKDB_TYPE_INTEGER:
        fmt::format_to(std::back_inserter(out), "{}", at<int32_t>(row));
        return;
      case DUCKDB_TYPE_BIGINT:
        fmt::format_to(std::back_inserter(out), "{}", at<int64_t>(row));
        return;
      case DUCKDB_TYPE_UTINYINT:
        fmt::format_to(std::back_inserter(out), "{}", at<uint8_t>(row));
        return;
      case DUCKDB_TYPE_USMALLINT:
        fmt::format_to(std::back_inserter(out), "{}", at<uint16_t>(row));
        return;
      case DUCKDB_TYPE_UINTEGER:
        fmt::format_to(std::back_inserter(out), "{}", at<uint32_t>(row));
        return;
      case DUCKDB_TYPE_UBIGINT:
        fmt::format_to(std::back_inserter(out), "{}", at<uint64_t>(row));
        return;
      case DUCKDB_TYPE_HUGEINT:
        append_int128(out, hugeint(row));
        return;
      case DUCKDB_TYPE_UHUGEINT: {
        auto h = at<duckdb_uhugeint>(row);
        append_uint128(out, (static_cast<u128>(h.upper) << 64) | h.lower);
        return;
      }
      case DUCKDB_TYPE_FLOAT:
        append_float(out, at<float>(row));
        return;
      case DUCKDB_TYPE_DOUBLE:
        append_double(out, at<double>(row));
        return;
      case DUCKDB_TYPE_DECIMAL:
        append_decimal(out, decimal_value(row), scale);
        return;
      case DUCKDB_TYPE_VARCHAR:
        out += str(row);
        return;
      case DUCKDB_TYPE_BLOB:
        append_hex_bytea(out, str(row));
        return;
      case DUCKDB_TYPE_DATE:
        format_date(at<int32_t>(row), out);
        return;
      case DUCKDB_TYPE_TIME:
        append_time_of_day(out, at<int64_t>(row));
        return;
      case DUCKDB_TYPE_TIMESTAMP:
      case DUCKDB_TYPE_TIMESTAMP_S:
      case DUCKDB_TYPE_TIMESTAMP_MS:
      case DUCKDB_TYPE_TIMESTAMP_NS:
        format_timestamp(timestamp_micros(row), false, out);
        return;
      case DUCKDB_TYPE_TIMESTAMP_TZ:
        format_timestamp(at<int64_t>(row), true, out);
        return;
      case DUCKDB_TYPE_INTERVAL:
        append_interval(out, at<duckdb_interval>(row));
        return;
      case DUCKDB_TYPE_UUID:
        append_uuid(out, at<duckdb_hugeint>(row));
        return;
      case DUCKDB_TYPE_ENUM: {
        uint32_t i = enum_index(row);
        if (i < enum_values.size()) out += enum_values[i];
        return;
      }
      case DUCKDB_TYPE_LIST:
      case DUCKDB_TYPE_MAP: {
        auto e = at<duckdb_list_entry>(row);
        list_text(out, e.offset, e.length);
        return;
      }
      case DUCKDB_TYPE_ARRAY:
        list_text(out, row * array_size, array_size);
        return;
      case DUCKDB_TYPE_STRUCT: {
        // A composite value, as PostgreSQL's record_out writes it: (a,b).
        out += '(';
        for (size_t i = 0; i < children.size(); ++i) {
          if (i > 0) out += ',';
          if (children[i]->is_null(row)) continue;
          std::string v;
          children[i]->text(v, row);
          bool quote = v.empty() || v.find_first_of("\",()\\ ") != std::string::npos;
          if (!quote) {
            out += v;
            continue;
          }
          out += '"';
          for (char c : v) {
            if (c == '"' || c == '\\') out += c;
            out += c;
          }
          out += '"';
        }
        out += ')';
        return;
      }
      default: {
        // Anything else: DuckDB's own text form.
        duckdb_value v = nullptr;
        (void)v;
        out += "?";
        return;
      }
    }
  }

  void list_text(std::string& out, uint64_t offset, uint64_t length) const {
    const Impl& c = *children[0];
    out += '{';
    std::string elem;
    for (uint64_t i = 0; i < length; ++i) {
      if (i > 0) out += ',';
      if (c.is_null(offset + i)) {
        out += "NULL";
        continue;
      }
      elem.clear();
      c.text(elem, offset + i);
      if (c.id == DUCKDB_TYPE_LIST || c.id == DUCKDB_TYPE_ARRAY) {
        out += elem;
      } else {
        append_array_element(out, elem);
      }
    }
    out += '}';
  }

  // Binary form of a non-NULL value (PostgreSQL's *send functions).
  void bin(std::string& out, uint64_t row) const {
    switch (id) {
      case DUCKDB_TYPE_BOOLEAN:
        out += static_cast<char>(at<bool>(row) ? 1 : 0);
        return;
      case DUCKDB_TYPE_TINYINT:
        be16(out, static_cast<uint16_t>(at<int8_t>(row)));
        return;
      case DUCKDB_TYPE_UTINYINT:
        be16(out, at<uint8_t>(row));
        return;
      case DUCKDB_TYPE_SMALLINT:
        be16(out, static_cast<uint16_t>(at<int16_t>(row)));
        return;
      case DUCKDB_TYPE_USMALLINT:
        be32(out, at<uint16_t>(row));
        return;
      case DUCKDB_TYPE_INTEGER:
        be32(out, static_cast<uint32_t>(at<int32_t>(row)));
        return;
      case DUCKDB_TYPE_UINTEGER:
        be64(out, at<uint32_t>(row));
        return;
      case DUCKDB_TYPE_BIGINT:
        be64(out, static_cast<uint64_t>(at<int64_t>(row)));
        return;
      case DUCKDB_TYPE_FLOAT: {
        uint32_t u;
        float f = at<float>(row);
        std::memcpy(&u, &f, 4);
        be32(out, u);
        return;
      }
      case DUCKDB_TYPE_DOUBLE: {
        uint64_t u;
        double d = at<double>(row);
        std::memcpy(&u, &d, 8);
        be64(out, u);
        return;
      }
      case DUCKDB_TYPE_DECIMAL:
      case DUCKDB_TYPE_HUGEINT:
      case DUCKDB_TYPE_UHUGEINT:
      case DUCKDB_TYPE_UBIGINT: {
        std::string t;
        text(t, row);
        auto b = numeric_text_to_binary(t);
        if (b.is_ok()) out += *b;
        return;
      }
      case DUCKDB_TYPE_VARCHAR:
      case DUCKDB_TYPE_BLOB:
        out += str(row);
        return;
      case DUCKDB_TYPE_ENUM: {
        uint32_t i = enum_index(row);
        if (i < enum_values.size()) out += enum_values[i];
        return;
      }
      case DUCKDB_TYPE_DATE: {
        int32_t d = at<int32_t>(row);
        bool special =
            d == std::numeric_limits<int32_t>::max() || d == -std::numeric_limits<int32_t>::max();
        be32(out, static_cast<uint32_t>(special ? d : d - kPgEpochDays));
        return;
      }
      case DUCKDB_TYPE_TIME:
        be64(out, static_cast<uint64_t>(at<int64_t>(row)));
        return;
      case DUCKDB_TYPE_TIMESTAMP:
      case DUCKDB_TYPE_TIMESTAMP_S:
      case DUCKDB_TYPE_TIMESTAMP_MS:
      case DUCKDB_TYPE_TIMESTAMP_NS:
      case DUCKDB_TYPE_TIMESTAMP_TZ: {
        int64_t v = id == DUCKDB_TYPE_TIMESTAMP_TZ ? at<int64_t>(row) : timestamp_micros(row);
        bool special =
            v == std::numeric_limits<int64_t>::max() || v == -std::numeric_limits<int64_t>::max();
        be64(out, static_cast<uint64_t>(special ? v : v - kPgEpochMicros));
        return;
      }
      case DUCKDB_TYPE_INTERVAL: {
        auto iv = at<duckdb_interval>(row);
        be64(out, static_cast<uint64_t>(iv.micros));
        be32(out, static_cast<uint32_t>(iv.days));
        be32(out, static_cast<uint32_t>(iv.months));
        return;
      }
      case DUCKDB_TYPE_UUID: {
        auto h = at<duckdb_hugeint>(row);
        be64(out, static_cast<uint64_t>(h.upper) ^ (uint64_t{1} << 63));
        be64(out, h.lower);
        return;
      }
      case DUCKDB_TYPE_LIST:
      case DUCKDB_TYPE_ARRAY: {
        uint64_t offset, length;
        if (id == DUCKDB_TYPE_LIST) {
          auto e = at<duckdb_list_entry>(row);
          offset = e.offset;
          length = e.length;
        } else {
          offset = row * array_size;
          length = array_size;
        }
        // array_send: ndim, has_null, element type, (dim, lower bound), elements.
        const Impl& c = *children[0];
        bool has_null = false;
        for (uint64_t i = 0; i < length; ++i)
          has_null = has_null || c.is_null(offset + i);
        be32(out, length == 0 ? 0 : 1);
        be32(out, has_null ? 1 : 0);
        be32(out, static_cast<uint32_t>(c.pg_oid));
        if (length > 0) {
          be32(out, static_cast<uint32_t>(length));
          be32(out, 1);
        }
        for (uint64_t i = 0; i < length; ++i) {
          if (c.is_null(offset + i)) {
            be32(out, 0xffffffffu);
            continue;
          }
          size_t at_len = out.size();
          be32(out, 0);
          c.bin(out, offset + i);
          uint32_t n = static_cast<uint32_t>(out.size() - at_len - 4);
          out[at_len] = static_cast<char>(n >> 24);
          out[at_len + 1] = static_cast<char>(n >> 16);
          out[at_len + 2] = static_cast<char>(n >> 8);
          out[at_len + 3] = static_cast<char>(n);
        }
        return;
      }
      default:
        text(out, row);
        return;
    }
  }
};

ColumnEncoder::ColumnEncoder(duckdb_logical_type type, bool binary)
    : impl_(std::make_unique<Impl>()) {
  impl_->init(type, binary);
}
ColumnEncoder::~ColumnEncoder() = default;
ColumnEncoder::ColumnEncoder(ColumnEncoder&&) noexcept = default;
ColumnEncoder& ColumnEncoder::operator=(ColumnEncoder&&) noexcept = default;

bool ColumnEncoder::supported() const {
  return impl_->ok;
}

void ColumnEncoder::set_vector(duckdb_vector vector) {
  impl_->set_vector(vector);
}

void ColumnEncoder::write_field(Writer& w, uint64_t row) const {
  if (impl_->is_null(row)) {
    w.i32(-1);
    return;
  }
  std::string& buf = w.buffer();
  size_t at = buf.size();
  buf.append(4, '\0');
  if (impl_->binary) {
    impl_->bin(buf, row);
  } else {
    impl_->text(buf, row);
  }
  w.patch_i32(at, static_cast<int32_t>(buf.size() - at - 4));
}

bool ColumnEncoder::append_text(std::string& out, uint64_t row) const {
  if (impl_->is_null(row)) return false;
  impl_->text(out, row);
  return true;
}

// --- binary parameters -------------------------------------------------------------------------

Result<std::string> binary_param_to_text(int32_t type_oid, std::string_view b) {
  auto u = [&](size_t i) { return static_cast<uint64_t>(static_cast<uint8_t>(b[i])); };
  auto read_be = [&](size_t off, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i)
      v = (v << 8) | u(off + i);
    return v;
  };
  auto need = [&](size_t n) -> Status {
    if (b.size() != n) {
      return invalid_argument(fmt::format("binary parameter of type {} has {} bytes, expected {}",
                                          type_oid, b.size(), n));
    }
    return Status::ok();
  };
  std::string out;
  switch (type_oid) {
    case oid::kBool:
      SLUICE_RETURN_IF_ERROR(need(1));
      return std::string(b[0] ? "true" : "false");
    case oid::kInt2:
      SLUICE_RETURN_IF_ERROR(need(2));
      return std::to_string(static_cast<int16_t>(read_be(0, 2)));
    case oid::kInt4:
      SLUICE_RETURN_IF_ERROR(need(4));
      return std::to_string(static_cast<int32_t>(read_be(0, 4)));
    case oid::kInt8:
      SLUICE_RETURN_IF_ERROR(need(8));
      return std::to_string(static_cast<int64_t>(read_be(0, 8)));
    case oid::kFloat4: {
      SLUICE_RETURN_IF_ERROR(need(4));
      uint32_t v = static_cast<uint32_t>(read_be(0, 4));
      float f;
      std::memcpy(&f, &v, 4);
      append_float(out, f);
      return out;
    }
    case oid::kFloat8: {
      SLUICE_RETURN_IF_ERROR(need(8));
      uint64_t v = read_be(0, 8);
      double d;
      std::memcpy(&d, &v, 8);
      append_double(out, d);
      return out;
    }
    case oid::kDate: {
      SLUICE_RETURN_IF_ERROR(need(4));
      format_date(static_cast<int32_t>(read_be(0, 4)) + kPgEpochDays, out);
      return out;
    }
    case oid::kTimestamp:
    case oid::kTimestamptz: {
      SLUICE_RETURN_IF_ERROR(need(8));
      format_timestamp(static_cast<int64_t>(read_be(0, 8)) + kPgEpochMicros,
                       type_oid == oid::kTimestamptz, out);
      return out;
    }
    case oid::kUuid: {
      SLUICE_RETURN_IF_ERROR(need(16));
      duckdb_hugeint h;
      h.upper = static_cast<int64_t>(read_be(0, 8) ^ (uint64_t{1} << 63));
      h.lower = read_be(8, 8);
      append_uuid(out, h);
      return out;
    }
    case oid::kNumeric: {
      if (b.size() < 8) return invalid_argument("binary numeric parameter is truncated");
      uint16_t n = static_cast<uint16_t>(read_be(0, 2));
      int16_t weight = static_cast<int16_t>(read_be(2, 2));
      uint16_t sign = static_cast<uint16_t>(read_be(4, 2));
      uint16_t dscale = static_cast<uint16_t>(read_be(6, 2));
      if (b.size() != 8 + 2 * size_t{n}) return invalid_argument("bad binary numeric parameter");
      if (sign == 0xC000) return std::string("NaN");
      std::string ip, fp;
      for (int i = 0; i < n; ++i) {
        auto d = static_cast<unsigned>(read_be(8 + 2 * i, 2));
        std::string g = fmt::format("{:04d}", d);
        if (i <= weight) {
          ip += g;
        } else {
          fp += g;
        }
      }
      for (int i = n; i <= weight; ++i)
        ip += "0000";
      if (weight < -1) fp = std::string(static_cast<size_t>(-1 - weight) * 4, '0') + fp;
      size_t nz = ip.find_first_not_of('0');
      ip = nz == std::string::npos ? std::string("0") : ip.substr(nz);
      fp.resize(dscale, '0');
      out = (sign == 0x4000 ? "-" : "") + ip;
      if (!fp.empty()) out += "." + fp;
      return out;
    }
    case oid::kBytea:
    case oid::kText:
    case oid::kVarchar:
    case oid::kJson:
    case oid::kUnknown:
    case 0:
      return std::string(b);
    default:
      return unimplemented(
          fmt::format("binary parameters of type {} are not supported; send "
                      "them in text format",
                      type_oid));
  }
}

}  // namespace sluice::gateway
