// Time zones, cron schedules (DST in Europe/Berlin and America/New_York), durations, backoff.
#include "scheduler/schedule.h"

#include <gtest/gtest.h>

namespace sluice::scheduler {
namespace {

// UTC seconds of a UTC wall-clock time.
int64_t utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0) {
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}
std::string at(int64_t t, const TimeZone& tz) {
  return iso_offset(t, tz);
}

TEST(TimeZone, OffsetsAcrossDst) {
  auto be = TimeZone::load("Europe/Berlin");
  ASSERT_TRUE(be.is_ok()) << be.status().message();
  EXPECT_EQ(be->offset_at(utc(2026, 1, 15)), 3600);
  EXPECT_EQ(be->offset_at(utc(2026, 7, 15)), 7200);
  // 2026-03-29 01:00 UTC the clocks jump from 02:00 to 03:00.
  EXPECT_EQ(be->offset_at(utc(2026, 3, 29, 0, 59)), 3600);
  EXPECT_EQ(be->offset_at(utc(2026, 3, 29, 1, 0)), 7200);
  // A skipped wall-clock time maps to the jump; a repeated one to its first occurrence.
  EXPECT_EQ(be->to_utc(utc(2026, 3, 29, 2, 30)), utc(2026, 3, 29, 1, 0));
  EXPECT_EQ(be->to_utc(utc(2026, 10, 25, 2, 30)), utc(2026, 10, 25, 0, 30));
  EXPECT_EQ(be->to_utc(utc(2026, 10, 25, 3, 30)), utc(2026, 10, 25, 2, 30));
}

TEST(TimeZone, UnknownZoneIsAnError) {
  auto tz = TimeZone::load("Mars/Olympus");
  ASSERT_FALSE(tz.is_ok());
  EXPECT_NE(tz.status().message().find("unknown time zone 'Mars/Olympus'"), std::string::npos);
}

TEST(Cron, PresetsAndFields) {
  auto tz = TimeZone::utc();
  auto daily = Schedule::parse("@daily");
  ASSERT_TRUE(daily.is_ok());
  EXPECT_EQ(daily->next_after(utc(2026, 11, 21, 10), tz), utc(2026, 11, 22));
  EXPECT_FALSE(daily->sub_daily());
  auto s = Schedule::parse("*/15 9-17 * * MON-FRI");
  ASSERT_TRUE(s.is_ok()) << s.status().message();
  EXPECT_TRUE(s->sub_daily());
  // 2026-11-21 is a Saturday: next is Monday 09:00.
  EXPECT_EQ(s->next_after(utc(2026, 11, 21, 10), tz), utc(2026, 11, 23, 9));
  EXPECT_EQ(s->next_after(utc(2026, 11, 23, 9), tz), utc(2026, 11, 23, 9, 15));
  EXPECT_EQ(s->next_after(utc(2026, 11, 23, 17, 45), tz), utc(2026, 11, 24, 9));
  auto monthly = Schedule::parse("@monthly");
  EXPECT_EQ(monthly->next_after(utc(2026, 12, 5), tz), utc(2027, 1, 1));
  // Day of month and day of week both restricted: either matches.
  auto both = Schedule::parse("0 0 13 * 5");
  EXPECT_EQ(both->next_after(utc(2026, 11, 1), tz), utc(2026, 11, 6));  // Friday the 6th
  auto feb30 = Schedule::parse("0 0 30 2 *");
  EXPECT_FALSE(feb30->next_after(utc(2026, 1, 1), tz).has_value());
  EXPECT_TRUE(Schedule::parse("none")->is_none());
}

TEST(Cron, BadExpressionsNameTheField) {
  auto a = Schedule::parse("61 * * * *");
  ASSERT_FALSE(a.is_ok());
  EXPECT_EQ(a.status().message(),
            "bad cron expression '61 * * * *': bad minute field '61': out of range (allowed "
            "0-59)");
  auto b = Schedule::parse("0 0 * *");
  ASSERT_FALSE(b.is_ok());
  EXPECT_NE(b.status().message().find("expected 5 fields"), std::string::npos);
  auto c = Schedule::parse("@fortnightly");
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("unknown schedule '@fortnightly'"), std::string::npos);
  EXPECT_FALSE(Schedule::parse("0 0 * FOO *").is_ok());
  EXPECT_FALSE(Schedule::parse("*/0 * * * *").is_ok());
}

TEST(Cron, DailyAcrossSpringForwardBerlin) {
  auto be = *TimeZone::load("Europe/Berlin");
  auto s = *Schedule::parse("30 2 * * *");  // 02:30 does not exist on 2026-03-29
  auto t1 = s.next_after(utc(2026, 3, 27, 12), be);
  EXPECT_EQ(at(*t1, be), "2026-03-28T02:30:00+01:00");
  auto t2 = s.next_after(*t1, be);
  EXPECT_EQ(at(*t2, be), "2026-03-29T03:00:00+02:00");  // runs when the clocks jump
  auto t3 = s.next_after(*t2, be);
  EXPECT_EQ(at(*t3, be), "2026-03-30T02:30:00+02:00");
  // Midnight runs keep local midnight: 23 hours between them that day.
  auto d = *Schedule::parse("@daily");
  auto m1 = d.next_after(utc(2026, 3, 28, 12), be);
  auto m2 = d.next_after(*m1, be);
  EXPECT_EQ(at(*m1, be), "2026-03-29T00:00:00+01:00");
  EXPECT_EQ(*m2 - *m1, 23 * 3600);
}

TEST(Cron, DailyAcrossFallBackBerlinRunsOnce) {
  auto be = *TimeZone::load("Europe/Berlin");
  auto s = *Schedule::parse("30 2 * * *");  // 02:30 happens twice on 2026-10-25
  auto t1 = s.next_after(utc(2026, 10, 24, 12), be);
  EXPECT_EQ(at(*t1, be), "2026-10-25T02:30:00+02:00");
  auto t2 = s.next_after(*t1, be);
  EXPECT_EQ(at(*t2, be), "2026-10-26T02:30:00+01:00");
}

TEST(Cron, HourlyAcrossDstNewYork) {
  auto ny = *TimeZone::load("America/New_York");
  auto h = *Schedule::parse("@hourly");
  // Fall back 2026-11-01 02:00 EDT → 01:00 EST: 01:00 local happens twice, both run.
  std::vector<std::string> got;
  int64_t t = utc(2026, 11, 1, 4, 30);  // 00:30 EDT
  for (int i = 0; i < 4; ++i) {
    t = *h.next_after(t, ny);
    got.push_back(at(t, ny));
  }
  EXPECT_EQ(got,
            (std::vector<std::string>{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00",
                                      "2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"}));
  // Spring forward 2026-03-08 02:00 EST → 03:00 EDT: one real hour between 01:00 and 03:00.
  got.clear();
  t = utc(2026, 3, 8, 5, 30);  // 00:30 EST
  for (int i = 0; i < 3; ++i) {
    t = *h.next_after(t, ny);
    got.push_back(at(t, ny));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00",
                                           "2026-03-08T04:00:00-04:00"}));
}

TEST(Durations, ParseAndBackoff) {
  EXPECT_DOUBLE_EQ(*parse_duration("250ms"), 0.25);
  EXPECT_DOUBLE_EQ(*parse_duration("30s"), 30);
  EXPECT_DOUBLE_EQ(*parse_duration("5m"), 300);
  EXPECT_DOUBLE_EQ(*parse_duration("2h"), 7200);
  EXPECT_DOUBLE_EQ(*parse_duration("1d"), 86400);
  EXPECT_DOUBLE_EQ(*parse_duration("1.5"), 1.5);
  EXPECT_FALSE(parse_duration("soon").is_ok());
  EXPECT_FALSE(parse_duration("-1s").is_ok());
  // Base 10s doubling per retry, capped at 60s.
  EXPECT_DOUBLE_EQ(retry_delay_seconds(10, true, 60, 2), 10);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(10, true, 60, 3), 20);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(10, true, 60, 4), 40);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(10, true, 60, 5), 60);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(10, false, 60, 5), 10);
}

TEST(Dates, ParseAndFormat) {
  EXPECT_EQ(*parse_date("2026-11-21"), days_from_civil(2026, 11, 21));
  EXPECT_FALSE(parse_date("2026-02-30").is_ok());
  EXPECT_FALSE(parse_date("21.11.2026").is_ok());
  EXPECT_EQ(format_date(utc(2026, 11, 21, 23, 59)), "2026-11-21");
  EXPECT_EQ(iso_utc(utc(2026, 11, 21, 10) * 1000000 + 123000), "2026-11-21T10:00:00.123Z");
}

}  // namespace
}  // namespace sluice::scheduler
