#include "exec/plan.h"

#include <cmath>

#include <gtest/gtest.h>

#include <limits>

namespace herd::exec {
namespace {

using namespace std::chrono_literals;

ScenarioConfig make(const std::string& executor) {
  ScenarioConfig s;
  s.name = executor;
  s.executor = executor;
  return s;
}

ScenarioConfig constant_vus(std::int64_t vus, microseconds duration, microseconds start = 0s,
                            microseconds grace = 30s) {
  ScenarioConfig s = make("constant-vus");
  s.vus = vus;
  s.duration = duration;
  s.start_time = start;
  s.graceful_stop = grace;
  return s;
}

ScenarioConfig ramping(std::int64_t start_vus, std::vector<Stage> stages) {
  ScenarioConfig s = make("ramping-vus");
  s.start_vus = start_vus;
  s.stages = std::move(stages);
  return s;
}

TEST(ScenarioMaxVUs, PerExecutor) {
  ScenarioConfig si = make("shared-iterations");
  si.vus = 7;
  EXPECT_EQ(scenario_max_vus(si), 7);
  ScenarioConfig pvi = make("per-vu-iterations");
  pvi.vus = 3;
  EXPECT_EQ(scenario_max_vus(pvi), 3);
  EXPECT_EQ(scenario_max_vus(constant_vus(12, 10s)), 12);
  EXPECT_EQ(scenario_max_vus(ramping(2, {{10s, 20}, {10s, 5}})), 20);
  EXPECT_EQ(scenario_max_vus(ramping(30, {{10s, 20}})), 30);
  ScenarioConfig car = make("constant-arrival-rate");
  car.pre_allocated_vus = 10;
  car.max_vus = 50;
  EXPECT_EQ(scenario_max_vus(car), 50);
  car.max_vus = 0;  // 0 = preAllocatedVUs
  EXPECT_EQ(scenario_max_vus(car), 10);
  ScenarioConfig rar = make("ramping-arrival-rate");
  rar.pre_allocated_vus = 4;
  rar.max_vus = 9;
  EXPECT_EQ(scenario_max_vus(rar), 9);
  ScenarioConfig ec = make("externally-controlled");
  ec.vus = 2;
  ec.max_vus = 8;
  EXPECT_EQ(scenario_max_vus(ec), 8);
}

TEST(ScenarioDuration, PerExecutor) {
  ScenarioConfig si = make("shared-iterations");
  EXPECT_EQ(scenario_duration(si), 10min);
  EXPECT_EQ(scenario_duration_with_grace(si), 10min + 30s);
  ScenarioConfig pvi = make("per-vu-iterations");
  pvi.max_duration = 1min;
  pvi.graceful_stop = 5s;
  EXPECT_EQ(scenario_duration(pvi), 1min);
  EXPECT_EQ(scenario_duration_with_grace(pvi), 65s);
  EXPECT_EQ(scenario_duration(constant_vus(1, 45s)), 45s);
  EXPECT_EQ(scenario_duration_with_grace(constant_vus(1, 45s, 0s, 2s)), 47s);
  ScenarioConfig rv = ramping(0, {{10s, 5}, {20s, 5}, {5s, 0}});
  rv.graceful_ramp_down = 7s;
  EXPECT_EQ(scenario_duration(rv), 35s);
  EXPECT_EQ(scenario_duration_with_grace(rv), 65s);  // gracefulStop, not gracefulRampDown
  ScenarioConfig car = make("constant-arrival-rate");
  car.duration = 2min;
  EXPECT_EQ(scenario_duration_with_grace(car), 2min + 30s);
  ScenarioConfig rar = make("ramping-arrival-rate");
  rar.stages = {{1min, 10}, {30s, 0}};
  rar.graceful_stop = 0s;
  EXPECT_EQ(scenario_duration(rar), 90s);
  EXPECT_EQ(scenario_duration_with_grace(rar), 90s);
  ScenarioConfig ec = make("externally-controlled");
  ec.duration = 5min;
  EXPECT_EQ(scenario_duration_with_grace(ec), 5min);  // no gracefulStop
}

TEST(RampingVUsAt, LinearInterpolationRoundedTowardTheStageStart) {
  ScenarioConfig s = ramping(0, {{10s, 10}, {10s, 10}, {20s, 0}});
  EXPECT_EQ(ramping_vus_at(s, 0s), 0);
  EXPECT_EQ(ramping_vus_at(s, 999ms), 0);
  EXPECT_EQ(ramping_vus_at(s, 1s), 1);
  EXPECT_EQ(ramping_vus_at(s, 5500ms), 5);
  EXPECT_EQ(ramping_vus_at(s, 10s), 10);
  EXPECT_EQ(ramping_vus_at(s, 15s), 10);
  EXPECT_EQ(ramping_vus_at(s, 20s), 10);
  EXPECT_EQ(ramping_vus_at(s, 21s), 10);  // 10 - 0.5 = 9.5 -> 10 (k6 drops a VU a whole step later)
  EXPECT_EQ(ramping_vus_at(s, 22s), 9);
  EXPECT_EQ(ramping_vus_at(s, 30s), 5);
  EXPECT_EQ(ramping_vus_at(s, 39999ms), 1);  // 0.0005 -> 1
  EXPECT_EQ(ramping_vus_at(s, 38s), 1);
  EXPECT_EQ(ramping_vus_at(s, 40s), 0);
  EXPECT_EQ(ramping_vus_at(s, 1h), 0);
}

TEST(RampingVUsAt, StartVUsAndZeroLengthStages) {
  ScenarioConfig s = ramping(5, {{0s, 20}, {10s, 30}});
  EXPECT_EQ(ramping_vus_at(s, -1s), 5);
  EXPECT_EQ(ramping_vus_at(s, 0s), 20);  // zero-length stage applies at once
  EXPECT_EQ(ramping_vus_at(s, 1us), 20);
  EXPECT_EQ(ramping_vus_at(s, 5s), 25);
  EXPECT_EQ(ramping_vus_at(s, 10s), 30);
  ScenarioConfig up = ramping(3, {{4s, 5}});
  EXPECT_EQ(ramping_vus_at(up, 1s), 3);  // 3.5 -> 3
  EXPECT_EQ(ramping_vus_at(up, 2s), 4);
  EXPECT_EQ(ramping_vus_at(up, 3s), 4);  // 4.5 -> 4
}

TEST(RampingRateAt, Interpolates) {
  ScenarioConfig s = make("ramping-arrival-rate");
  s.start_rate = 10;
  s.stages = {{10s, 20}, {0s, 100}, {10s, 0}};
  EXPECT_DOUBLE_EQ(ramping_rate_at(s, 0s), 10.0);
  EXPECT_DOUBLE_EQ(ramping_rate_at(s, 5s), 15.0);
  EXPECT_DOUBLE_EQ(ramping_rate_at(s, 2500ms), 12.5);
  EXPECT_DOUBLE_EQ(ramping_rate_at(s, 10s), 100.0);  // zero-length stage jumps
  EXPECT_DOUBLE_EQ(ramping_rate_at(s, 15s), 50.0);
  EXPECT_DOUBLE_EQ(ramping_rate_at(s, 20s), 0.0);
  EXPECT_DOUBLE_EQ(ramping_rate_at(s, 1h), 0.0);
}

TEST(ExecutionRequirements, SingleScenario) {
  auto r = execution_requirements({constant_vus(10, 1min)});
  EXPECT_EQ(r.max_vus, 10);
  EXPECT_EQ(r.total_duration, 90s);
  EXPECT_FALSE(r.unbounded);
}

TEST(ExecutionRequirements, OverlappingScenariosAddUp) {
  // a: [0, 40s), b: [30s, 70s) overlap.
  auto r = execution_requirements({constant_vus(10, 10s), constant_vus(5, 10s, 30s)});
  EXPECT_EQ(r.max_vus, 15);
  EXPECT_EQ(r.total_duration, 70s);
}

TEST(ExecutionRequirements, SequentialScenariosReuseVUs) {
  // a: [0, 40s), b starts exactly at 40s: VUs are handed over.
  auto r = execution_requirements({constant_vus(10, 10s), constant_vus(5, 10s, 40s)});
  EXPECT_EQ(r.max_vus, 10);
  EXPECT_EQ(r.total_duration, 80s);
  // One microsecond earlier they overlap.
  r = execution_requirements({constant_vus(10, 10s), constant_vus(5, 10s, 40s - 1us)});
  EXPECT_EQ(r.max_vus, 15);
}

TEST(ExecutionRequirements, PeakOverTime) {
  // a=4 [0,20s), b=6 [10s,30s), c=3 [25s,45s), d=100 [50s, 60s)
  auto r = execution_requirements({constant_vus(4, 20s, 0s, 0s), constant_vus(6, 20s, 10s, 0s),
                                   constant_vus(3, 20s, 25s, 0s), constant_vus(100, 10s, 50s, 0s)});
  EXPECT_EQ(r.max_vus, 100);
  EXPECT_EQ(r.total_duration, 60s);
  r = execution_requirements(
      {constant_vus(4, 20s, 0s, 0s), constant_vus(6, 20s, 10s, 0s), constant_vus(3, 20s, 25s, 0s)});
  EXPECT_EQ(r.max_vus, 10);
  EXPECT_EQ(r.total_duration, 45s);
}

TEST(ExecutionRequirements, MixedExecutors) {
  ScenarioConfig rv = ramping(0, {{30s, 20}, {30s, 0}});  // [0, 90s)
  ScenarioConfig car = make("constant-arrival-rate");     // [60s, 150s)
  car.start_time = 60s;
  car.duration = 1min;
  car.pre_allocated_vus = 5;
  car.max_vus = 15;
  ScenarioConfig si = make("shared-iterations");  // [0, 10m30s)
  si.vus = 2;
  auto r = execution_requirements({rv, car, si});
  EXPECT_EQ(r.max_vus, 37);
  EXPECT_EQ(r.total_duration, 10min + 30s);
}

TEST(ExecutionRequirements, UnboundedExternallyControlled) {
  ScenarioConfig ec = make("externally-controlled");
  ec.vus = 1;
  ec.max_vus = 4;
  ec.start_time = 5s;
  auto r = execution_requirements({ec, constant_vus(3, 100s)});
  EXPECT_TRUE(r.unbounded);
  EXPECT_EQ(r.max_vus, 7);
  EXPECT_EQ(r.total_duration, 130s);
}

TEST(ExecutionRequirements, EmptyAndHugeValues) {
  auto r = execution_requirements({});
  EXPECT_EQ(r.max_vus, 0);
  EXPECT_EQ(r.total_duration, 0s);
  auto huge = constant_vus(std::numeric_limits<std::int64_t>::max(), microseconds::max(), microseconds::max());
  r = execution_requirements({huge, huge});
  EXPECT_EQ(r.total_duration, microseconds::max());
}

}  // namespace

namespace {

std::int64_t count_arrivals(const ScenarioConfig& s) {
  std::int64_t n = 0;
  std::optional<microseconds> prev;
  while (auto t = arrival_offset(s, n)) {
    if (prev) {
      EXPECT_GE(*t, *prev) << "iteration " << n;
    }
    prev = t;
    n++;
    if (n > 10'000'000) break;
  }
  return n;
}

TEST(ArrivalOffset, ConstantRateIsExactAndAbsolute) {
  ScenarioConfig s;
  s.executor = "constant-arrival-rate";
  s.rate = 1000;
  s.time_unit = std::chrono::seconds(1);
  s.duration = std::chrono::seconds(10);
  EXPECT_EQ(count_arrivals(s), 10'000);
  EXPECT_EQ(*arrival_offset(s, 0), microseconds(0));
  EXPECT_EQ(*arrival_offset(s, 1), microseconds(1000));
  EXPECT_EQ(*arrival_offset(s, 9999), microseconds(9'999'000));
  s.rate = 3;  // 3 per second: 333333.33 us apart, no drift
  s.duration = std::chrono::seconds(3);
  EXPECT_EQ(count_arrivals(s), 9);
  EXPECT_EQ(*arrival_offset(s, 3), microseconds(1'000'000));
  s.rate = 50;
  s.time_unit = std::chrono::minutes(1);
  s.duration = std::chrono::minutes(2);
  EXPECT_EQ(count_arrivals(s), 100);
}

TEST(ArrivalOffset, RampingRateIntegratesTheStages) {
  ScenarioConfig s;
  s.executor = "ramping-arrival-rate";
  s.start_rate = 0;
  s.time_unit = std::chrono::seconds(1);
  s.stages = {{std::chrono::seconds(10), 100}, {std::chrono::seconds(10), 100}, {std::chrono::seconds(10), 0}};
  // 0->100/s over 10 s: 500; 100/s for 10 s: 1000; 100->0 over 10 s: 500.
  std::int64_t n = count_arrivals(s);
  EXPECT_GE(n, 1999);
  EXPECT_LE(n, 2001);
  // The 500th iteration is due when the ramp ends (t = 10 s).
  EXPECT_NEAR(static_cast<double>(arrival_offset(s, 500)->count()), 10e6, 1.0);
  // Half of the first ramp's iterations (250) come at t = 10 * sqrt(1/2) s.
  EXPECT_NEAR(static_cast<double>(arrival_offset(s, 250)->count()), 10e6 * std::sqrt(0.5), 2.0);
  EXPECT_NEAR(static_cast<double>(arrival_offset(s, 1000)->count()), 15e6, 1.0);
}

}  // namespace
}  // namespace herd::exec
