// The closed-model executors' schedules, driven with an injected clock: every
// call says what time it is, so nothing sleeps and every timing is exact.
#include "exec/executor.h"

#include <gtest/gtest.h>

#include "exec/plan.h"

namespace herd::exec {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const SteadyTime T0 = SteadyTime() + std::chrono::hours(1);

ScenarioConfig scenario(const std::string& executor) {
  ScenarioConfig s;
  s.name = "s";
  s.executor = executor;
  return s;
}

TEST(ClosedModelExecutor, SharedIterationsHandsOutEachIterationOnce) {
  ScenarioConfig s = scenario("shared-iterations");
  s.vus = 3;
  s.iterations = 7;
  s.max_duration = seconds(10);
  ClosedModelExecutor ex(s, T0);
  std::vector<std::int64_t> got;
  for (int round = 0; round < 5; round++)
    for (int k = 0; k < 3; k++) {
      NextStep n = ex.next(k, round, T0 + milliseconds(100 * round));
      if (n.kind == NextStep::kRun) got.push_back(n.iteration);
      else EXPECT_EQ(n.kind, NextStep::kStop);
    }
  EXPECT_EQ(got, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(ex.end(), T0 + seconds(10));
  EXPECT_EQ(ex.hard_stop(), T0 + seconds(10) + seconds(30));
}

TEST(ClosedModelExecutor, SharedIterationsStopAtMaxDuration) {
  ScenarioConfig s = scenario("shared-iterations");
  s.vus = 1;
  s.iterations = 1000;
  s.max_duration = seconds(2);
  ClosedModelExecutor ex(s, T0);
  EXPECT_EQ(ex.next(0, 0, T0 + milliseconds(1999)).kind, NextStep::kRun);
  EXPECT_EQ(ex.next(0, 1, T0 + seconds(2)).kind, NextStep::kStop);
}

TEST(ClosedModelExecutor, PerVuIterationsCountsPerVu) {
  ScenarioConfig s = scenario("per-vu-iterations");
  s.vus = 2;
  s.iterations = 3;
  ClosedModelExecutor ex(s, T0);
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(ex.next(0, i, T0).kind, NextStep::kRun);
    EXPECT_EQ(ex.next(1, i, T0).kind, NextStep::kRun);
  }
  EXPECT_EQ(ex.next(0, 3, T0).kind, NextStep::kStop);
  EXPECT_EQ(ex.next(1, 3, T0).kind, NextStep::kStop);
}

TEST(ClosedModelExecutor, ConstantVusRunUntilTheDurationEnds) {
  ScenarioConfig s = scenario("constant-vus");
  s.vus = 5;
  s.duration = seconds(30);
  s.graceful_stop = seconds(5);
  ClosedModelExecutor ex(s, T0);
  EXPECT_EQ(ex.next(4, 1000, T0 + seconds(29)).kind, NextStep::kRun);
  EXPECT_EQ(ex.next(4, 1001, T0 + seconds(30)).kind, NextStep::kStop);
  EXPECT_EQ(ex.hard_stop(), T0 + seconds(35));
}

TEST(ClosedModelExecutor, RampingVusWaitsForItsTurnAndGetsARampDownDeadline) {
  ScenarioConfig s = scenario("ramping-vus");
  s.start_vus = 0;
  s.stages = {{seconds(4), 4}, {seconds(4), 4}, {seconds(4), 0}};
  s.graceful_ramp_down = seconds(2);
  s.graceful_stop = seconds(30);
  ClosedModelExecutor ex(s, T0);
  // VU 2 (the third) is needed once the target exceeds 2: at 3 s.
  NextStep w = ex.next(2, 0, T0 + seconds(1));
  ASSERT_EQ(w.kind, NextStep::kWait);
  EXPECT_EQ(w.wake_at, T0 + seconds(3));
  NextStep r = ex.next(2, 0, w.wake_at);
  ASSERT_EQ(r.kind, NextStep::kRun);
  // The ramp down (8 s -> 12 s, 4 -> 0) drops VU 2 as soon as the target
  // (rounded down, as k6 does) falls below 3: just after 9 s. The iteration
  // then has gracefulRampDown (2 s) to finish.
  ASSERT_TRUE(r.interrupt_at.has_value());
  EXPECT_EQ(*r.interrupt_at, T0 + seconds(9) + std::chrono::microseconds(1) + seconds(2));
  // After the drop it waits again (until the end: the ramp never comes back).
  NextStep after = ex.next(2, 1, T0 + seconds(10) + milliseconds(1));
  ASSERT_EQ(after.kind, NextStep::kWait);
  EXPECT_EQ(after.wake_at, ex.end());
  EXPECT_EQ(ex.next(0, 5, T0 + seconds(12)).kind, NextStep::kStop);
}

TEST(ClosedModelExecutor, ExternallyControlledFollowsTheActiveCount) {
  ScenarioConfig s = scenario("externally-controlled");
  s.vus = 2;
  s.max_vus = 5;
  s.duration = seconds(0);  // until stopped
  ClosedModelExecutor ex(s, T0);
  EXPECT_EQ(ex.next(1, 0, T0).kind, NextStep::kRun);
  EXPECT_EQ(ex.next(3, 0, T0).kind, NextStep::kWait);
  ex.set_active_vus(4);
  EXPECT_EQ(ex.next(3, 0, T0 + seconds(1)).kind, NextStep::kRun);
  ex.set_active_vus(1);
  EXPECT_EQ(ex.next(1, 9, T0 + seconds(2)).kind, NextStep::kWait);
  EXPECT_GT(ex.end(), T0 + std::chrono::hours(24 * 300)) << "no duration: runs until stopped";
}

}  // namespace
}  // namespace herd::exec
