#include "k6/rate_limit.h"

#include <gtest/gtest.h>

namespace herd::k6 {
namespace {

TEST(RequestRateLimitTest, SlotsAreOneIntervalApartAndNeverInThePast) {
  RequestRateLimit rl(10);  // 100 ms
  EXPECT_EQ(rl.reserve(1'000'000'000), 1'000'000'000);
  EXPECT_EQ(rl.reserve(1'000'000'000), 1'100'000'000);
  EXPECT_EQ(rl.reserve(1'050'000'000), 1'200'000'000);
  EXPECT_EQ(rl.reserve(5'000'000'000), 5'000'000'000);  // idle time is not banked as a burst
  EXPECT_EQ(rl.reserve(5'000'000'000), 5'100'000'000);
}

}  // namespace
}  // namespace herd::k6
