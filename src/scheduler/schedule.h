// Time zones (TZif files under /usr/share/zoneinfo, read by our own code: g++ 12 has no
// <chrono> tzdb) and schedules (cron expressions and @presets) evaluated in a time zone.
// Times are Unix seconds (UTC) unless a name says "local" (wall-clock seconds, as if UTC).
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::scheduler {

class TimeZone {
 public:
  // "UTC", "Etc/UTC" or an IANA name ("Europe/Berlin"); $TZDIR overrides /usr/share/zoneinfo.
  static Result<TimeZone> load(std::string_view name);
  static TimeZone utc();

  const std::string& name() const { return name_; }
  // Seconds east of UTC in effect at `utc`.
  int32_t offset_at(int64_t utc) const;
  int64_t to_local(int64_t utc) const { return utc + offset_at(utc); }
  // A wall-clock time to UTC. A time that occurs twice (clocks going back) maps to its first
  // occurrence; a time skipped by clocks going forward maps to the instant of the jump.
  int64_t to_utc(int64_t local) const;

 private:
  std::string name_ = "UTC";
  std::vector<int64_t> transitions_;  // UTC instants, ascending
  std::vector<int32_t> offsets_;      // offset from transitions_[i] on
  int32_t initial_ = 0;               // offset before the first transition
};

// Civil date helpers (proleptic Gregorian, days since 1970-01-01).
int64_t days_from_civil(int y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int& y, unsigned& m, unsigned& d);
// "YYYY-MM-DD" → days; InvalidArgument otherwise.
Result<int64_t> parse_date(std::string_view s);
std::string format_date(int64_t local_seconds);           // YYYY-MM-DD of a wall-clock time
std::string format_local_minute(int64_t local_seconds);   // YYYY-MM-DDTHH:MM
std::string iso_utc(int64_t utc_micros);                  // 2026-11-21T10:00:00.123Z
std::string iso_offset(int64_t utc, const TimeZone& tz);  // 2026-11-21T11:00:00+01:00

class Schedule {
 public:
  // "@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually", a
  // 5-field cron expression ("30 2 * * 1-5", names like MON/JAN, lists, ranges, steps), or
  // "none"/"@none"/empty (manual and backfill runs only). The message names the bad field.
  static Result<Schedule> parse(std::string_view expr);

  const std::string& text() const { return text_; }
  bool is_none() const { return none_; }
  // More than one tick a day is possible (run keys then carry the time).
  bool sub_daily() const;
  // The first tick strictly after `utc`, evaluated on `tz`'s wall clock; nullopt for "none"
  // or when nothing matches within 5 years (e.g. "0 0 30 2 *").
  std::optional<int64_t> next_after(int64_t utc, const TimeZone& tz) const;
  // The first tick at or after `utc`.
  std::optional<int64_t> next_at_or_after(int64_t utc, const TimeZone& tz) const {
    return next_after(utc - 1, tz);
  }

 private:
  bool matches_day(int y, unsigned m, unsigned d, int64_t days) const;
  std::string text_;
  bool none_ = false;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> doms_;
  std::bitset<13> months_;
  std::bitset<7> dows_;
  bool dom_star_ = true, dow_star_ = true;
};

// Retry delay before try `next_try` (2 = the first retry): base * 2^(next_try-2) with
// exponential backoff, capped at max_delay; base otherwise.
double retry_delay_seconds(double base, bool exponential, double max_delay, int next_try);

// "30s", "5m", "2h", "1d", "250ms", or a plain number of seconds.
Result<double> parse_duration(std::string_view s);

}  // namespace sluice::scheduler
