#include <fmt/format.h>

#include <cmath>
#include <cstdlib>

#include "engine/lake_stats_internal.h"

namespace sluice::engine::detail {
namespace {

__extension__ using Int128 = __int128;

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool parse_date(std::string_view s, int64_t& days, size_t& pos) {
  int y = 0;
  unsigned m = 0, d = 0;
  int n = 0;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%d-%u-%u%n", &y, &m, &d, &n) != 3) return false;
  days = days_from_civil(y, m, d);
  pos = static_cast<size_t>(n);
  return true;
}

// "HH:MM:SS[.ffffff]" at s[pos]; returns micros of day.
bool parse_time(std::string_view s, size_t& pos, int64_t& micros) {
  unsigned hh = 0, mm = 0, ss = 0;
  int n = 0;
  std::string str(s.substr(pos));
  if (std::sscanf(str.c_str(), "%u:%u:%u%n", &hh, &mm, &ss, &n) != 3) return false;
  pos += static_cast<size_t>(n);
  int64_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (digits < 6) frac = frac * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    for (; digits < 6; ++digits)
      frac *= 10;
  }
  micros = ((static_cast<int64_t>(hh) * 60 + mm) * 60 + ss) * 1000000 + frac;
  return true;
}

// "+HH[:MM]" or "-HH[:MM]" offset in seconds; none is UTC.
int64_t parse_offset(std::string_view s, size_t pos) {
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return 0;
  int sign = s[pos] == '-' ? -1 : 1;
  unsigned hh = 0, mm = 0;
  std::string str(s.substr(pos + 1));
  std::sscanf(str.c_str(), "%u:%u", &hh, &mm);
  return sign * static_cast<int64_t>(hh * 3600 + mm * 60);
}

}  // namespace

std::optional<lake::Value> parse_stat_value(const lake::Type& type, const std::string& text) {
  if (!type.is_primitive()) return std::nullopt;
  const std::string& p = type.primitive;
  char* end = nullptr;
  if (p == "boolean") {
    if (text == "true") return lake::Value(true);
    if (text == "false") return lake::Value(false);
    return std::nullopt;
  }
  if (p == "int") {
    long v = std::strtol(text.c_str(), &end, 10);
    if (*end != '\0') return std::nullopt;
    return lake::Value(static_cast<int32_t>(v));
  }
  if (p == "long") {
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (*end != '\0') return std::nullopt;
    return lake::Value(static_cast<int64_t>(v));
  }
  if (p == "float" || p == "double") {
    double v = std::strtod(text.c_str(), &end);
    if (*end != '\0' || std::isnan(v)) return std::nullopt;
    if (p == "float") return lake::Value(static_cast<float>(v));
    return lake::Value(v);
  }
  if (p == "string") return lake::Value(text);
  if (p == "date") {
    int64_t days = 0;
    size_t pos = 0;
    if (!parse_date(text, days, pos)) return std::nullopt;
    return lake::Value(static_cast<int32_t>(days));
  }
  if (p == "time") {
    size_t pos = 0;
    int64_t micros = 0;
    if (!parse_time(text, pos, micros)) return std::nullopt;
    return lake::Value(micros);
  }
  if (p == "timestamp" || p == "timestamptz") {
    int64_t days = 0;
    size_t pos = 0;
    if (!parse_date(text, days, pos)) return std::nullopt;
    int64_t micros = 0;
    if (pos < text.size() && (text[pos] == ' ' || text[pos] == 'T')) {
      ++pos;
      if (!parse_time(text, pos, micros)) return std::nullopt;
    }
    int64_t offset = parse_offset(text, pos);
    return lake::Value(days * 86400000000LL + micros - offset * 1000000);
  }
  if (p.rfind("decimal", 0) == 0) {
    int precision = 0, scale = 0;
    if (std::sscanf(p.c_str(), "decimal(%d, %d)", &precision, &scale) != 2 &&
        std::sscanf(p.c_str(), "decimal(%d,%d)", &precision, &scale) != 2) {
      return std::nullopt;
    }
    // Unscaled value from the decimal text, then minimal big-endian two's complement.
    Int128 unscaled = 0;
    bool neg = false;
    int frac_digits = -1;
    for (char c : text) {
      if (c == '-') {
        neg = true;
      } else if (c == '.') {
        frac_digits = 0;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        unscaled = unscaled * 10 + (c - '0');
        if (frac_digits >= 0) ++frac_digits;
      } else {
        return std::nullopt;
      }
    }
    for (int f = std::max(frac_digits, 0); f < scale; ++f)
      unscaled *= 10;
    if (frac_digits > scale) return std::nullopt;
    if (neg) unscaled = -unscaled;
    std::vector<uint8_t> bytes;
    for (int i = 15; i >= 0; --i)
      bytes.push_back(static_cast<uint8_t>(unscaled >> (i * 8)));
    // Drop redundant sign bytes.
    size_t start = 0;
    while (start + 1 < bytes.size() && ((bytes[start] == 0x00 && (bytes[start + 1] & 0x80) == 0) ||
                                        (bytes[start] == 0xff && (bytes[start + 1] & 0x80) != 0))) {
      ++start;
    }
    return lake::Value(std::vector<uint8_t>(bytes.begin() + start, bytes.end()));
  }
  return std::nullopt;
}

bool value_less(const lake::Value& a, const lake::Value& b) {
  if (a.index() != b.index()) return a.index() < b.index();
  if (std::holds_alternative<std::vector<uint8_t>>(a)) {
    // Decimals: compare as signed big-endian integers.
    const auto& x = std::get<std::vector<uint8_t>>(a);
    const auto& y = std::get<std::vector<uint8_t>>(b);
    auto to_i128 = [](const std::vector<uint8_t>& v) {
      Int128 r = (!v.empty() && (v[0] & 0x80)) ? -1 : 0;
      for (uint8_t c : v)
        r = (r << 8) | c;
      return r;
    };
    return to_i128(x) < to_i128(y);
  }
  return std::visit(
      [&](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, lake::Null>) {
          return false;
        } else {
          return x < std::get<T>(b);
        }
      },
      a);
}

}  // namespace sluice::engine::detail
