#include "k6/seeded_random.h"

#include <gtest/gtest.h>

namespace herd::k6 {
namespace {

TEST(SeededRandomTest, SameSeedSameSequence) {
  EXPECT_EQ(seeded_random_value(42, 0), seeded_random_value(42, 0));
  EXPECT_NE(seeded_random_value(42, 0), seeded_random_value(43, 0));
  EXPECT_NE(seeded_random_value(42, 0), seeded_random_value(42, 1));
  for (int i = 0; i < 1000; ++i) {
    double v = seeded_random_value(7, i);
    ASSERT_GE(v, 0.0);
    ASSERT_LT(v, 1.0);
  }
}

}  // namespace
}  // namespace herd::k6
