#include "core/clock.h"

#include <gtest/gtest.h>

#include <string>

namespace recsys {
namespace {

TEST(ClockTest, FormatsUtcWithMillis) {
  EXPECT_EQ(FormatRfc3339Millis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(FromCivil(2024, 3, 1, 12, 34, 56) + 789),
            "2024-03-01T12:34:56.789Z");
  EXPECT_EQ(FormatRfc3339Millis(FromCivil(2024, 2, 29, 23, 59, 59) + 5),
            "2024-02-29T23:59:59.005Z");
}

TEST(ClockTest, AppendAddsToExistingText) {
  std::string s = "t=";
  AppendRfc3339Millis(1700000000123, &s);
  EXPECT_EQ(s, "t=2023-11-14T22:13:20.123Z");
}

TEST(ClockTest, FormatParseRoundTrip) {
  for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{999}, int64_t{1700000000123},
                     FromCivil(2000, 2, 29, 0, 0, 0), FromCivil(2099, 12, 31, 23, 59, 59) + 999,
                     int64_t{-1}, int64_t{-86400000}, FromCivil(1900, 1, 1, 6, 7, 8) + 9}) {
    const std::string text = FormatRfc3339Millis(ms);
    EXPECT_EQ(ParseRfc3339(text), ms) << text;
  }
}

TEST(ClockTest, NegativeTimesAreBeforeTheEpoch) {
  EXPECT_EQ(FormatRfc3339Millis(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Millis(-86400000), "1969-12-31T00:00:00.000Z");
  EXPECT_EQ(ParseRfc3339("1969-12-31T23:59:59.999Z"), -1);
  CivilTime c = ToCivil(-1);
  EXPECT_EQ(c.year, 1969);
  EXPECT_EQ(c.month, 12);
  EXPECT_EQ(c.day, 31);
  EXPECT_EQ(c.hour, 23);
  EXPECT_EQ(c.millis, 999);
  EXPECT_EQ(c.weekday, 3);  // Wednesday
}

TEST(ClockTest, ParsesOffsetsToUtc) {
  const int64_t utc = FromCivil(2024, 3, 1, 10, 0, 0);
  EXPECT_EQ(ParseRfc3339("2024-03-01T10:00:00Z"), utc);
  EXPECT_EQ(ParseRfc3339("2024-03-01T12:00:00+02:00"), utc);
  EXPECT_EQ(ParseRfc3339("2024-03-01T04:30:00-05:30"), utc);
  EXPECT_EQ(ParseRfc3339("2024-03-01T10:00:00+00:00"), utc);
  EXPECT_EQ(ParseRfc3339("2024-03-01T01:00:00+01:00"), FromCivil(2024, 3, 1, 0, 0, 0));
  // Crossing midnight and the year boundary.
  EXPECT_EQ(ParseRfc3339("2024-01-01T00:30:00+01:00"), FromCivil(2023, 12, 31, 23, 30, 0));
}

TEST(ClockTest, ParsesFractionsAndSeparators) {
  const int64_t base = FromCivil(2024, 3, 1, 10, 0, 0);
  EXPECT_EQ(ParseRfc3339("2024-03-01T10:00:00.5Z"), base + 500);
  EXPECT_EQ(ParseRfc3339("2024-03-01T10:00:00.05Z"), base + 50);
  EXPECT_EQ(ParseRfc3339("2024-03-01T10:00:00.123456789Z"), base + 123);
  EXPECT_EQ(ParseRfc3339("2024-03-01t10:00:00z"), base);
  EXPECT_EQ(ParseRfc3339("2024-03-01 10:00:00Z"), base);
}

TEST(ClockTest, RejectsInvalidDatesAndTimes) {
  for (const char* bad : {
           "2023-02-29T00:00:00Z",  // 2023 is not a leap year
           "1900-02-29T00:00:00Z",  // nor is 1900
           "2024-04-31T00:00:00Z",
           "2024-13-01T00:00:00Z",
           "2024-00-10T00:00:00Z",
           "2024-01-00T00:00:00Z",
           "2024-01-01T24:00:00Z",
           "2024-01-01T23:60:00Z",
           "2024-01-01T23:59:61Z",
           "2024-01-01T10:00:00+24:00",
           "2024-01-01T10:00:00+02:60",
       }) {
    EXPECT_EQ(ParseRfc3339(bad), std::nullopt) << bad;
  }
  EXPECT_NE(ParseRfc3339("2000-02-29T00:00:00Z"), std::nullopt);
}

TEST(ClockTest, RejectsMalformedText) {
  for (const char* bad : {
           "",
           "2024",
           "2024-03-01",
           "2024-03-01T10:00:00",  // no zone
           "2024-03-01T10:00Z",
           "2024-3-01T10:00:00Z",
           "2024-03-01X10:00:00Z",
           "2024-03-01T10:00:00.Z",
           "2024-03-01T10:00:00Zjunk",
           " 2024-03-01T10:00:00Z",
           "2024-03-01T10:00:00+0200",
           "2024-03-01T10:00:00+02",
           "1700000000000",
           "2024-03-01T10:00:00 UTC",
       }) {
    EXPECT_EQ(ParseRfc3339(bad), std::nullopt) << bad;
  }
}

TEST(ClockTest, ToCivilGivesWeekday) {
  CivilTime epoch = ToCivil(0);
  EXPECT_EQ(epoch.weekday, 4);  // Thursday
  CivilTime c = ToCivil(FromCivil(2024, 3, 1, 12, 34, 56) + 789);
  EXPECT_EQ(c.year, 2024);
  EXPECT_EQ(c.month, 3);
  EXPECT_EQ(c.day, 1);
  EXPECT_EQ(c.hour, 12);
  EXPECT_EQ(c.minute, 34);
  EXPECT_EQ(c.second, 56);
  EXPECT_EQ(c.millis, 789);
  EXPECT_EQ(c.weekday, 5);                                     // Friday
  EXPECT_EQ(ToCivil(FromCivil(2023, 12, 31)).weekday, 0);      // Sunday
  EXPECT_EQ(ToCivil(FromCivil(2024, 1, 1) - 1).weekday, 0);    // last millisecond of Sunday
  EXPECT_EQ(ToCivil(FromCivil(1969, 12, 28)).weekday, 0);      // Sunday before the epoch
  EXPECT_EQ(ToCivil(FromCivil(1969, 12, 27, 23)).weekday, 6);  // Saturday
}

TEST(ClockTest, ManualClockMovesOnlyWhenTold) {
  ManualClock clock(1000);
  EXPECT_EQ(clock.NowMillis(), 1000);
  clock.Advance(250);
  EXPECT_EQ(clock.NowMillis(), 1250);
  clock.Set(5);
  EXPECT_EQ(clock.NowMillis(), 5);
}

TEST(ClockTest, SystemClockIsAfter2020) {
  EXPECT_GT(SystemClock()->NowMillis(), FromCivil(2020, 1, 1));
}

}  // namespace
}  // namespace recsys
