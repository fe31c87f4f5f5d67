#include "util/duration.h"

#include <gtest/gtest.h>

#include <limits>

namespace herd::util {
namespace {

using std::chrono::microseconds;
using namespace std::chrono_literals;

TEST(ParseDuration, GoUnits) {
  EXPECT_EQ(parse_duration("1h2m3.5s"), 1h + 2min + 3500ms);
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("10us"), 10us);
  EXPECT_EQ(parse_duration("1\xC2\xB5s"), 1us);  // U+00B5 micro sign
  EXPECT_EQ(parse_duration("7\xCE\xBCs"), 7us);  // U+03BC greek mu
  EXPECT_EQ(parse_duration("2000ns"), 2us);
  EXPECT_EQ(parse_duration("30s"), 30s);
  EXPECT_EQ(parse_duration("1m"), 1min);
  EXPECT_EQ(parse_duration("2h"), 2h);
}

TEST(ParseDuration, Fractions) {
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration(".5s"), 500ms);
  EXPECT_EQ(parse_duration("1.s"), 1s);
  EXPECT_EQ(parse_duration("0.25m"), 15s);
  EXPECT_EQ(parse_duration("1.0000015s"), microseconds(1'000'001));  // sub-us truncated
  EXPECT_EQ(parse_duration("1500ns"), 1us);
}

TEST(ParseDuration, SignsAndZero) {
  EXPECT_EQ(parse_duration("-1s"), -1s);
  EXPECT_EQ(parse_duration("+2s"), 2s);
  EXPECT_EQ(parse_duration("0"), 0s);
  EXPECT_EQ(parse_duration("0s"), 0s);
  EXPECT_EQ(parse_duration("-1m30s"), -90s);
}

TEST(ParseDuration, BareNumberIsMilliseconds) {
  EXPECT_EQ(parse_duration("500"), 500ms);
  EXPECT_EQ(parse_duration("1500"), 1500ms);
  EXPECT_EQ(parse_duration("-5"), -5ms);
  EXPECT_EQ(parse_duration("1.5"), 1500us);
}

TEST(ParseDuration, DaysExtension) {
  EXPECT_EQ(parse_duration("1d"), 24h);
  EXPECT_EQ(parse_duration("2d3h"), 51h);
}

TEST(ParseDuration, Errors) {
  for (const char* bad : {"", "-", "+", "s", "1x", "1 s", "1s ", " 1s", ".s", "1s.", "abc", "1h-2m", "1e3s",
                          "99999999999999999999999999h", "1.5.5s", "ms5"}) {
    EXPECT_THROW(parse_duration(bad), DurationError) << '"' << bad << '"';
  }
}

TEST(ParseDuration, ErrorQuotesInput) {
  try {
    parse_duration("12parsecs");
    FAIL() << "no exception";
  } catch (const DurationError& e) {
    EXPECT_NE(std::string(e.what()).find("\"12parsecs\""), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unknown unit"), std::string::npos) << e.what();
  }
}

TEST(ParseDuration, Overflow) {
  EXPECT_THROW(parse_duration("9223372036854775808us"), DurationError);
  EXPECT_EQ(parse_duration("9223372036854775807us"), microseconds(std::numeric_limits<std::int64_t>::max()));
}

TEST(FormatDuration, GoStyle) {
  EXPECT_EQ(format_duration(0s), "0s");
  EXPECT_EQ(format_duration(500ms), "500ms");
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(1h), "1h0m0s");
  EXPECT_EQ(format_duration(1500ms), "1.5s");
  EXPECT_EQ(format_duration(1us), "1\xC2\xB5s");
  EXPECT_EQ(format_duration(1500us), "1.5ms");
  EXPECT_EQ(format_duration(30s), "30s");
  EXPECT_EQ(format_duration(1h + 2min + 3500ms), "1h2m3.5s");
  EXPECT_EQ(format_duration(microseconds(1'000'001)), "1.000001s");
  EXPECT_EQ(format_duration(-90s), "-1m30s");
  EXPECT_EQ(format_duration(10min), "10m0s");
  EXPECT_EQ(format_duration(48h), "48h0m0s");
}

TEST(FormatDuration, ExtremesDoNotCrash) {
  auto mx = microseconds(std::numeric_limits<std::int64_t>::max());
  auto mn = microseconds(std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(format_duration(mx), "2562047788h0m54.775807s");
  EXPECT_EQ(format_duration(mn), "-2562047788h0m54.775808s");
}

TEST(FormatDuration, RoundTrips) {
  const std::int64_t samples[] = {
      1,          999,        1000,          1001,          999'999,         1'000'000,
      59'999'999, 60'000'000, 3'600'000'000, 3'600'000'001, 123'456'789'012, std::numeric_limits<std::int64_t>::max(),
      -1,         -1'500'000};
  for (auto s : samples) {
    microseconds d(s);
    EXPECT_EQ(parse_duration(format_duration(d)), d) << s << " -> " << format_duration(d);
  }
}

}  // namespace
}  // namespace herd::util
