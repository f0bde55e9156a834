#include "scheduler/schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

namespace sluice::scheduler {

// ---- civil dates (H. Hinnant's algorithms) ----

int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yy + (m <= 2));
}

namespace {
int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}
bool parse_int(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

Result<int64_t> parse_date(std::string_view s) {
  int y = 0, m = 0, d = 0;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-' || !parse_int(s.substr(0, 4), y) ||
      !parse_int(s.substr(5, 2), m) || !parse_int(s.substr(8, 2), d) || m < 1 || m > 12 || d < 1 ||
      d > 31) {
    return invalid_argument(fmt::format("'{}' is not a date YYYY-MM-DD", s));
  }
  int64_t days = days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  int yy;
  unsigned mm, dd;
  civil_from_days(days, yy, mm, dd);
  if (static_cast<int>(dd) != d)
    return invalid_argument(fmt::format("'{}' is not a valid date", s));
  return days;
}

std::string format_date(int64_t local) {
  int y;
  unsigned m, d;
  civil_from_days(floor_div(local, 86400), y, m, d);
  return fmt::format("{:04}-{:02}-{:02}", y, m, d);
}

std::string format_local_minute(int64_t local) {
  int64_t sod = local - floor_div(local, 86400) * 86400;
  return fmt::format("{}T{:02}:{:02}", format_date(local), sod / 3600, (sod / 60) % 60);
}

std::string iso_utc(int64_t micros) {
  int64_t secs = floor_div(micros, 1000000);
  int64_t ms = (micros - secs * 1000000) / 1000;
  int64_t sod = secs - floor_div(secs, 86400) * 86400;
  return fmt::format("{}T{:02}:{:02}:{:02}.{:03}Z", format_date(secs), sod / 3600, (sod / 60) % 60,
                     sod % 60, ms);
}

std::string iso_offset(int64_t utc, const TimeZone& tz) {
  int32_t off = tz.offset_at(utc);
  int64_t local = utc + off;
  int64_t sod = local - floor_div(local, 86400) * 86400;
  int32_t a = std::abs(off);
  return fmt::format("{}T{:02}:{:02}:{:02}{}{:02}:{:02}", format_date(local), sod / 3600,
                     (sod / 60) % 60, sod % 60, off < 0 ? '-' : '+', a / 3600, (a / 60) % 60);
}

// ---- time zones ----

namespace {
uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
int64_t be64(const unsigned char* p) {
  return static_cast<int64_t>((uint64_t{be32(p)} << 32) | be32(p + 4));
}
}  // namespace

TimeZone TimeZone::utc() {
  return TimeZone{};
}

Result<TimeZone> TimeZone::load(std::string_view name) {
  if (name.empty() || name == "UTC" || name == "Etc/UTC" || name == "utc") return utc();
  if (name.find("..") != std::string_view::npos || name.front() == '/') {
    return invalid_argument(fmt::format("unknown time zone '{}'", name));
  }
  const char* dir = std::getenv("TZDIR");
  std::string path = fmt::format("{}/{}", dir && *dir ? dir : "/usr/share/zoneinfo", name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return invalid_argument(fmt::format(
        "unknown time zone '{}' (no {}; use an IANA name such as Europe/Berlin)", name, path));
  }
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto bad = [&] { return corruption(fmt::format("time zone file {} is not a TZif file", path)); };
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  if (n < 44 || data.compare(0, 4, "TZif") != 0) return bad();
  auto counts = [&](size_t at, uint32_t c[6]) {
    for (int i = 0; i < 6; ++i)
      c[i] = be32(p + at + 20 + 4 * i);
  };
  uint32_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  counts(0, c);
  size_t at = 44;
  int tsize = 4;
  if (data[4] >= '2') {
    at += c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    if (at + 44 > n || data.compare(at, 4, "TZif") != 0) return bad();
    counts(at, c);
    at += 44;
    tsize = 8;
  }
  size_t need = c[3] * tsize + c[3] + c[4] * 6;
  if (at + need > n || c[4] == 0) return bad();
  TimeZone tz;
  tz.name_ = std::string(name);
  std::vector<int32_t> type_off(c[4]);
  const unsigned char* types = p + at + c[3] * tsize + c[3];
  for (uint32_t i = 0; i < c[4]; ++i)
    type_off[i] = static_cast<int32_t>(be32(types + 6 * i));
  tz.initial_ = type_off[0];
  for (uint32_t i = 0; i < c[3]; ++i) {
    int64_t t = tsize == 8 ? be64(p + at + 8 * i) : static_cast<int32_t>(be32(p + at + 4 * i));
    unsigned idx = p[at + c[3] * tsize + i];
    if (idx >= c[4]) return bad();
    tz.transitions_.push_back(t);
    tz.offsets_.push_back(type_off[idx]);
  }
  return tz;
}

int32_t TimeZone::offset_at(int64_t utc) const {
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc);
  if (it == transitions_.begin()) return initial_;
  return offsets_[static_cast<size_t>(it - transitions_.begin() - 1)];
}

int64_t TimeZone::to_utc(int64_t local) const {
  // Candidate offsets: those in effect within two days either side.
  std::vector<int32_t> offs{offset_at(local - 2 * 86400)};
  auto lo = std::lower_bound(transitions_.begin(), transitions_.end(), local - 2 * 86400);
  auto hi = std::upper_bound(transitions_.begin(), transitions_.end(), local + 2 * 86400);
  for (auto it = lo; it != hi; ++it)
    offs.push_back(offsets_[static_cast<size_t>(it - transitions_.begin())]);
  std::optional<int64_t> best;
  for (int32_t o : offs) {
    int64_t u = local - o;
    if (offset_at(u) == o && (!best || u < *best)) best = u;
  }
  if (best) return *best;
  // In a gap: the transition whose jump skips `local`.
  for (auto it = lo; it != hi; ++it) {
    size_t i = static_cast<size_t>(it - transitions_.begin());
    int32_t before = i == 0 ? initial_ : offsets_[i - 1];
    if (*it + before <= local && local < *it + offsets_[i]) return *it;
  }
  return local - offs.front();
}

// ---- cron ----

namespace {

const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                             "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
const char* kDowNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

bool parse_value(std::string v, int field, int& out) {
  if (parse_int(v, out)) return true;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char ch) { return std::toupper(ch); });
  if (field == 3) {
    for (int i = 0; i < 12; ++i)
      if (v == kMonthNames[i]) return out = i + 1, true;
  }
  if (field == 4) {
    for (int i = 0; i < 7; ++i)
      if (v == kDowNames[i]) return out = i, true;
  }
  return false;
}

// Parses one field into `bits` (indices lo..hi); `star` says whether it was '*' (or '?').
Status parse_field(std::string_view text, int field, int lo, int hi, std::vector<bool>& bits,
                   bool& star) {
  static const char* kNames[] = {"minute", "hour", "day of month", "month", "day of week"};
  auto err = [&](std::string_view why) {
    return invalid_argument(fmt::format("bad {} field '{}': {} (allowed {}-{})", kNames[field],
                                        text, why, lo, field == 4 ? 7 : hi));
  };
  star = text == "*" || text == "?";
  bits.assign(static_cast<size_t>(hi + 1), false);
  std::stringstream ss{std::string(text)};
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (part.empty()) return err("empty list item");
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string::npos) {
      if (!parse_int(part.substr(slash + 1), step) || step <= 0) return err("bad step");
      part = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (part == "*" || part == "?") {
    } else if (auto dash = part.find('-'); dash != std::string::npos) {
      if (!parse_value(part.substr(0, dash), field, a) ||
          !parse_value(part.substr(dash + 1), field, b))
        return err("bad range");
    } else {
      if (!parse_value(part, field, a)) return err("not a number");
      b = step > 1 ? hi : a;
    }
    if (field == 4 && b == 7) b = 7;
    int max = field == 4 ? 7 : hi;
    if (a < lo || b > max || a > b) return err("out of range");
    for (int v = a; v <= b; v += step)
      bits[static_cast<size_t>(field == 4 && v == 7 ? 0 : v)] = true;
  }
  return Status::ok();
}

}  // namespace

Result<Schedule> Schedule::parse(std::string_view expr_in) {
  std::string expr(expr_in);
  while (!expr.empty() && std::isspace(static_cast<unsigned char>(expr.back())))
    expr.pop_back();
  while (!expr.empty() && std::isspace(static_cast<unsigned char>(expr.front())))
    expr.erase(0, 1);
  Schedule s;
  s.text_ = expr;
  if (expr.empty() || expr == "none" || expr == "@none" || expr == "null") {
    s.none_ = true;
    s.text_ = "none";
    return s;
  }
  std::string cron = expr;
  if (expr[0] == '@') {
    if (expr == "@hourly")
      cron = "0 * * * *";
    else if (expr == "@daily" || expr == "@midnight")
      cron = "0 0 * * *";
    else if (expr == "@weekly")
      cron = "0 0 * * 0";
    else if (expr == "@monthly")
      cron = "0 0 1 * *";
    else if (expr == "@yearly" || expr == "@annually")
      cron = "0 0 1 1 *";
    else
      return invalid_argument(fmt::format(
          "unknown schedule '{}' (use @hourly, @daily, @weekly, @monthly, @yearly, none or a "
          "5-field cron expression)",
          expr));
  }
  std::stringstream ss(cron);
  std::vector<std::string> f{std::istream_iterator<std::string>(ss), {}};
  if (f.size() != 5) {
    return invalid_argument(
        fmt::format("bad cron expression '{}': expected 5 fields (minute hour day-of-month month "
                    "day-of-week), got {}",
                    expr, f.size()));
  }
  static const int kLo[] = {0, 0, 1, 1, 0}, kHi[] = {59, 23, 31, 12, 6};
  std::vector<bool> bits;
  bool star = false;
  for (int i = 0; i < 5; ++i) {
    Status st = parse_field(f[static_cast<size_t>(i)], i, kLo[i], kHi[i], bits, star);
    if (!st.is_ok()) {
      return invalid_argument(fmt::format("bad cron expression '{}': {}", expr, st.message()));
    }
    for (size_t v = 0; v < bits.size(); ++v) {
      if (!bits[v]) continue;
      if (i == 0) s.minutes_.set(v);
      if (i == 1) s.hours_.set(v);
      if (i == 2) s.doms_.set(v);
      if (i == 3) s.months_.set(v);
      if (i == 4) s.dows_.set(v);
    }
    if (i == 2) s.dom_star_ = star;
    if (i == 4) s.dow_star_ = star;
  }
  return s;
}

bool Schedule::sub_daily() const {
  return !none_ && minutes_.count() * hours_.count() > 1;
}

bool Schedule::matches_day(int /*y*/, unsigned m, unsigned d, int64_t days) const {
  if (!months_[m]) return false;
  int dow = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
  bool dom = doms_[d], dw = dows_[static_cast<size_t>(dow)];
  if (dom_star_ && dow_star_) return true;
  if (dom_star_) return dw;
  if (dow_star_) return dom;
  return dom || dw;  // both restricted: either matches (cron semantics)
}

std::optional<int64_t> Schedule::next_after(int64_t t, const TimeZone& tz) const {
  if (none_) return std::nullopt;
  const int64_t limit_days = 5 * 366 + 2;
  if (hours_.all()) {
    // Every hour matches: step real minutes so both copies of a repeated hour run.
    int64_t u = floor_div(t, 60) * 60 + 60;
    int64_t end = u + limit_days * 86400;
    while (u < end) {
      int64_t local = tz.to_local(u);
      int64_t days = floor_div(local, 86400);
      int y;
      unsigned m, d;
      civil_from_days(days, y, m, d);
      if (!matches_day(y, m, d, days)) {
        u += (days + 1) * 86400 - local;  // to the next local midnight
        u = floor_div(u, 60) * 60;
        continue;
      }
      int64_t sod = local - days * 86400;
      if (minutes_[static_cast<size_t>((sod / 60) % 60)] && local % 60 == 0) return u;
      u += 60;
    }
    return std::nullopt;
  }
  int64_t local0 = tz.to_local(t);
  int64_t day = floor_div(local0, 86400);
  for (int64_t i = 0; i <= limit_days; ++i, ++day) {
    int y;
    unsigned m, d;
    civil_from_days(day, y, m, d);
    if (!matches_day(y, m, d, day)) continue;
    for (size_t h = 0; h < 24; ++h) {
      if (!hours_[h]) continue;
      for (size_t mi = 0; mi < 60; ++mi) {
        if (!minutes_[mi]) continue;
        int64_t local = day * 86400 + static_cast<int64_t>(h * 3600 + mi * 60);
        if (local < local0 - 86400) continue;
        int64_t u = tz.to_utc(local);
        if (u > t) return u;
      }
    }
  }
  return std::nullopt;
}

double retry_delay_seconds(double base, bool exponential, double max_delay, int next_try) {
  if (!exponential) return std::min(base, max_delay > 0 ? max_delay : base);
  double d = base * std::pow(2.0, std::max(0, next_try - 2));
  return max_delay > 0 ? std::min(d, max_delay) : d;
}

Result<double> parse_duration(std::string_view s) {
  std::string v(s);
  auto bad = [&] {
    return invalid_argument(fmt::format("'{}' is not a duration (e.g. 250ms, 30s, 5m, 2h, 1d)", s));
  };
  if (v.empty()) return bad();
  double mult = 1;
  std::string num = v;
  if (v.size() > 2 && v.ends_with("ms"))
    mult = 0.001, num = v.substr(0, v.size() - 2);
  else if (v.back() == 's')
    num = v.substr(0, v.size() - 1);
  else if (v.back() == 'm')
    mult = 60, num = v.substr(0, v.size() - 1);
  else if (v.back() == 'h')
    mult = 3600, num = v.substr(0, v.size() - 1);
  else if (v.back() == 'd')
    mult = 86400, num = v.substr(0, v.size() - 1);
  char* end = nullptr;
  double x = std::strtod(num.c_str(), &end);
  if (num.empty() || end != num.c_str() + num.size() || x < 0 || !std::isfinite(x)) return bad();
  return x * mult;
}

}  // namespace sluice::scheduler
