#include "exec/executor.h"

#include <gtest/gtest.h>

#include "exec/plan.h"

namespace herd::exec {
namespace {

using std::chrono::seconds;

ScenarioConfig ramp() {
  ScenarioConfig s;
  s.executor = "ramping-vus";
  s.start_vus = 0;
  s.stages = {{seconds(10), 10}, {seconds(10), 10}, {seconds(10), 0}};
  return s;
}

TEST(RampingActivation, MatchesRampingVusAt) {
  ScenarioConfig s = ramp();
  // VU k becomes active when the target first exceeds k: at (k+1) seconds.
  for (int k = 0; k < 10; k++) {
    auto t = ramping_next_activation(s, k, microseconds(0));
    ASSERT_TRUE(t.has_value()) << k;
    EXPECT_EQ(*t, seconds(k + 1)) << k;
    EXPECT_GT(ramping_vus_at(s, *t), k);
    EXPECT_LE(ramping_vus_at(s, *t - microseconds(1)), k);
  }
  EXPECT_FALSE(ramping_next_activation(s, 10, microseconds(0)).has_value());
  // Already active: now.
  EXPECT_EQ(*ramping_next_activation(s, 3, seconds(15)), seconds(15));
}

TEST(RampingDeactivation, FindsTheRampDown) {
  ScenarioConfig s = ramp();
  for (int k = 0; k < 10; k++) {
    auto t = ramping_next_deactivation(s, k, seconds(12));
    ASSERT_TRUE(t.has_value()) << k;
    EXPECT_LE(ramping_vus_at(s, *t), k);
    EXPECT_GT(ramping_vus_at(s, *t - microseconds(1)), k);
    EXPECT_GE(*t, seconds(20));
    EXPECT_LE(*t, seconds(30));
  }
  // VU 9 is dropped first (target falls below 10 just after 20 s).
  EXPECT_LT(*ramping_next_deactivation(s, 9, seconds(12)), *ramping_next_deactivation(s, 0, seconds(12)));
}

TEST(RampingActivation, StartVusAndInstantStages) {
  ScenarioConfig s;
  s.executor = "ramping-vus";
  s.start_vus = 5;
  s.stages = {{seconds(0), 8}, {seconds(10), 8}};
  EXPECT_EQ(*ramping_next_activation(s, 4, microseconds(0)), microseconds(0));
  auto t = ramping_next_activation(s, 6, microseconds(0));
  ASSERT_TRUE(t.has_value());
  EXPECT_GT(ramping_vus_at(s, *t), 6);
}

}  // namespace
}  // namespace herd::exec
