// Iceberg spec: Partition Transforms and Appendix B (32-bit hash requirements).
#include <cctype>
#include <cmath>
#include <cstring>

#include "lake/lake_internal.h"

namespace sluice::lake {

namespace {

__extension__ typedef __int128 Int128;

bool parse_param(const std::string& t, const char* prefix, int* out) {
  size_t n = std::strlen(prefix);
  if (t.rfind(prefix, 0) != 0 || t.size() < n + 2 || t.back() != ']') return false;
  std::string digits = t.substr(n, t.size() - n - 1);
  if (digits.empty() || digits.size() > 9) return false;
  int v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

bool one_of(const std::string& p, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (p == n) return true;
  }
  return false;
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Days since 1970-01-01 to civil year/month (proleptic Gregorian).
void civil_from_days(int64_t z, int64_t* y, unsigned* m) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2 ? 1 : 0);
}

Int128 decimal_to_int128(const std::vector<uint8_t>& b) {
  Int128 v = (!b.empty() && (b[0] & 0x80)) ? -1 : 0;
  for (uint8_t c : b)
    v = (v << 8) | c;  // NOLINT: two's complement accumulate
  return v;
}

std::vector<uint8_t> int128_to_decimal(Int128 v) {
  std::vector<uint8_t> out(16);
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
  return detail::minimal_decimal_bytes(out);
}

}  // namespace

namespace detail {

// MurmurHash3 x86 32-bit (Austin Appleby's algorithm, public domain), as Appendix B requires.
int32_t murmur3_x86_32(const void* data, size_t len, uint32_t seed) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  const uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
  uint32_t h = seed;
  size_t nblocks = len / 4;
  auto rotl = [](uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  for (size_t i = 0; i < nblocks; ++i) {
    uint32_t k;
    std::memcpy(&k, bytes + i * 4, 4);  // little-endian host
    k *= c1;
    k = rotl(k, 15);
    k *= c2;
    h ^= k;
    h = rotl(h, 13);
    h = h * 5 + 0xe6546b64;
  }
  const uint8_t* tail = bytes + nblocks * 4;
  uint32_t k1 = 0;
  switch (len & 3) {
    case 3:
      k1 ^= static_cast<uint32_t>(tail[2]) << 16;
      [[fallthrough]];
    case 2:
      k1 ^= static_cast<uint32_t>(tail[1]) << 8;
      [[fallthrough]];
    case 1:
      k1 ^= tail[0];
      k1 *= c1;
      k1 = rotl(k1, 15);
      k1 *= c2;
      h ^= k1;
  }
  h ^= static_cast<uint32_t>(len);
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return static_cast<int32_t>(h);
}

Result<int32_t> bucket_hash(const Type& type, const Value& v) {
  SLUICE_ASSIGN_OR_RETURN(Value c, coerce_value(type, v, "bucket"));
  const std::string& p = type.primitive;
  auto hash_long = [](int64_t x) {
    unsigned char b[8];
    std::memcpy(b, &x, 8);
    return murmur3_x86_32(b, 8);
  };
  if (p == "int" || p == "date") return hash_long(std::get<int32_t>(c));
  if (one_of(p, {"long", "time", "timestamp", "timestamptz"})) {
    return hash_long(std::get<int64_t>(c));
  }
  if (p == "float" || p == "double") {
    // Appendix B: hashLong(doubleToLongBits(double(v))), -0.0 as 0.0, NaN canonical.
    double d = p == "float" ? static_cast<double>(std::get<float>(c)) : std::get<double>(c);
    if (d == 0.0) d = 0.0;
    int64_t bits;
    if (std::isnan(d)) {
      bits = 0x7ff8000000000000LL;
    } else {
      std::memcpy(&bits, &d, 8);
    }
    return hash_long(bits);
  }
  if (p == "string") {
    const auto& s = std::get<std::string>(c);
    return murmur3_x86_32(s.data(), s.size());
  }
  if (p == "uuid") {
    SLUICE_ASSIGN_OR_RETURN(auto b, uuid_to_bytes(std::get<std::string>(c)));
    return murmur3_x86_32(b.data(), b.size());
  }
  if (p.rfind("decimal(", 0) == 0) {
    auto b = minimal_decimal_bytes(std::get<std::vector<uint8_t>>(c));
    return murmur3_x86_32(b.data(), b.size());
  }
  if (p == "binary" || p.rfind("fixed[", 0) == 0) {
    const auto& b = std::get<std::vector<uint8_t>>(c);
    return murmur3_x86_32(b.data(), b.size());
  }
  return invalid_argument("bucket: type " + p + " cannot be hashed");
}

Result<std::string> canonical_transform(const std::string& transform) {
  std::string t;
  for (char c : transform) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (one_of(t, {"identity", "year", "month", "day", "hour", "void"})) return t;
  int n = 0;
  if (parse_param(t, "bucket[", &n)) {
    if (n <= 0) return invalid_argument("transform '" + transform + "': bucket count must be > 0");
    return "bucket[" + std::to_string(n) + "]";
  }
  if (parse_param(t, "truncate[", &n)) {
    if (n <= 0)
      return invalid_argument("transform '" + transform + "': truncate width must be > 0");
    return "truncate[" + std::to_string(n) + "]";
  }
  return invalid_argument("unknown partition transform '" + transform +
                          "' (expected identity, year, month, day, hour, bucket[N], "
                          "truncate[W] or void)");
}

std::string default_partition_name(const std::string& column, const std::string& transform) {
  if (transform == "identity") return column;
  if (transform.rfind("bucket[", 0) == 0) return column + "_bucket";
  if (transform.rfind("truncate[", 0) == 0) return column + "_trunc";
  if (transform == "void") return column + "_null";
  return column + "_" + transform;
}

bool transform_preserves_order(const std::string& transform) {
  return one_of(transform, {"identity", "year", "month", "day", "hour"}) ||
         transform.rfind("truncate[", 0) == 0;
}

}  // namespace detail

Status validate_transform(const std::string& transform, const Type& source,
                          const std::string& column) {
  auto canon = detail::canonical_transform(transform);
  if (!canon.is_ok()) return canon.status().with_context("column '" + column + "'");
  const std::string& t = *canon;
  if (!source.is_primitive()) {
    if (t == "void") return Status::ok();
    return invalid_argument("column '" + column + "': transform '" + t +
                            "' cannot partition a nested (" + source.to_string() + ") column");
  }
  const std::string& p = source.primitive;
  bool ok = true;
  const char* allowed = "";
  if (t == "identity" || t == "void") {
    ok = true;
  } else if (t.rfind("bucket[", 0) == 0) {
    ok = one_of(p, {"int", "long", "date", "time", "timestamp", "timestamptz", "string", "uuid",
                    "binary"}) ||
         p.rfind("decimal(", 0) == 0 || p.rfind("fixed[", 0) == 0;
    allowed = "int, long, decimal, date, time, timestamp, timestamptz, string, uuid, fixed, binary";
  } else if (t.rfind("truncate[", 0) == 0) {
    ok = one_of(p, {"int", "long", "string", "binary"}) || p.rfind("decimal(", 0) == 0;
    allowed = "int, long, decimal, string, binary";
  } else if (t == "year" || t == "month" || t == "day") {
    ok = one_of(p, {"date", "timestamp", "timestamptz"});
    allowed = "date, timestamp, timestamptz";
  } else if (t == "hour") {
    ok = one_of(p, {"timestamp", "timestamptz"});
    allowed = "timestamp, timestamptz";
  }
  if (!ok) {
    return invalid_argument("column '" + column + "': transform '" + t +
                            "' does not apply to type " + p + " (it applies to " + allowed + ")");
  }
  return Status::ok();
}

Result<TypePtr> transform_result_type(const std::string& transform, const Type& source) {
  SLUICE_RETURN_IF_ERROR(validate_transform(transform, source, "source"));
  SLUICE_ASSIGN_OR_RETURN(std::string t, detail::canonical_transform(transform));
  if (t == "identity" || t == "void" || t.rfind("truncate[", 0) == 0) {
    return std::make_shared<const Type>(source);
  }
  return Type::of("int");  // bucket, year, month, day, hour
}

Result<Value> apply_transform(const std::string& transform, const Type& source, const Value& v) {
  SLUICE_RETURN_IF_ERROR(validate_transform(transform, source, "source"));
  SLUICE_ASSIGN_OR_RETURN(std::string t, detail::canonical_transform(transform));
  if (t == "void") return Value(Null{});
  SLUICE_ASSIGN_OR_RETURN(Value c, detail::coerce_value(source, v, "transform " + t));
  if (std::holds_alternative<Null>(c)) return c;
  if (t == "identity") return c;
  const std::string& p = source.primitive;
  int n = 0;
  if (parse_param(t, "bucket[", &n)) {
    SLUICE_ASSIGN_OR_RETURN(int32_t h, detail::bucket_hash(source, c));
    return Value(static_cast<int32_t>((h & 0x7fffffff) % n));
  }
  if (parse_param(t, "truncate[", &n)) {
    if (p == "int") {
      int64_t x = std::get<int32_t>(c);
      return Value(static_cast<int32_t>(x - (((x % n) + n) % n)));
    }
    if (p == "long") {
      int64_t x = std::get<int64_t>(c);
      return Value(x - (((x % n) + n) % n));
    }
    if (p == "string") {
      // Truncate to n code points (not bytes).
      const auto& s = std::get<std::string>(c);
      size_t i = 0;
      int points = 0;
      while (i < s.size() && points < n) {
        auto lead = static_cast<unsigned char>(s[i]);
        size_t w = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : 4;
        i += w;
        ++points;
      }
      return Value(s.substr(0, std::min(i, s.size())));
    }
    if (p == "binary") {
      const auto& b = std::get<std::vector<uint8_t>>(c);
      return Value(std::vector<uint8_t>(b.begin(), b.begin() + std::min<long>(n, b.size())));
    }
    // decimal: on the unscaled value.
    Int128 x = decimal_to_int128(std::get<std::vector<uint8_t>>(c));
    Int128 w = n;
    return Value(int128_to_decimal(x - (((x % w) + w) % w)));
  }
  int64_t days = 0;
  int64_t micros = 0;
  if (p == "date") {
    days = std::get<int32_t>(c);
  } else {
    micros = std::get<int64_t>(c);
    days = floor_div(micros, 86400LL * 1000000LL);
  }
  if (t == "hour") return Value(static_cast<int32_t>(floor_div(micros, 3600LL * 1000000LL)));
  if (t == "day") return Value(static_cast<int32_t>(days));
  int64_t y = 0;
  unsigned m = 0;
  civil_from_days(days, &y, &m);
  if (t == "year") return Value(static_cast<int32_t>(y - 1970));
  return Value(static_cast<int32_t>((y - 1970) * 12 + (static_cast<int64_t>(m) - 1)));  // month
}

}  // namespace sluice::lake
