// Issue #3 executors against the real binary and target: arrival-rate counts
// and timing, dropped iterations, multiple scenarios with startTime and exec.
#include "harness.h"

namespace herd::it {
namespace {

class ExecutorTest : public HerdTest {};

TEST_F(ExecutorTest, ConstantArrivalRateStartsExactlyRateTimesDuration) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
export const options = { scenarios: { car: { executor: 'constant-arrival-rate', rate: 200, timeUnit: '1s',
  duration: '2s', preAllocatedVUs: 10, maxVUs: 20 } } };
export default function () { http.post(`${__ENV.BASE_URL}/counter/car/inc`); }
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(counter("car"), 400);
  EXPECT_EQ(metric_value(exp, "iterations", "count"), 400);
  EXPECT_EQ(metric_value(exp, "dropped_iterations", "count"), -1e300) << "no iteration may be dropped";
  // Open-model metrics exist and are sane: the lag is small against a 5 ms spacing.
  EXPECT_GE(metric_value(exp, "iteration_start_lag", "min"), 0) << r;
  EXPECT_LT(metric_value(exp, "iteration_start_lag", "med"), 5.0) << r;
  EXPECT_GE(metric_value(exp, "iteration_duration_corrected", "avg"), metric_value(exp, "iteration_duration", "avg"));
  EXPECT_GE(r.seconds, 1.9);
}

TEST_F(ExecutorTest, ArrivalRateDropsIterationsWhenNoVuIsFree) {
  ProcResult r;
  json exp = run_export(R"JS(
import { sleep } from 'k6';
export const options = { scenarios: { slow: { executor: 'constant-arrival-rate', rate: 50, timeUnit: '1s',
  duration: '2s', preAllocatedVUs: 2, maxVUs: 2 } } };
export default function () { sleep(0.5); }
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  double done = metric_value(exp, "iterations", "count");
  double dropped = metric_value(exp, "dropped_iterations", "count");
  EXPECT_EQ(done + dropped, 100) << r;
  // Two VUs, 0.5 s each, over 2 s: about 8 iterations.
  EXPECT_GE(done, 6);
  EXPECT_LE(done, 10);
}

TEST_F(ExecutorTest, RampingArrivalRateFollowsTheStages) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
export const options = { scenarios: { ramp: { executor: 'ramping-arrival-rate', startRate: 0, timeUnit: '1s',
  preAllocatedVUs: 10, maxVUs: 10, stages: [{ duration: '1s', target: 100 }, { duration: '1s', target: 100 }] } } };
export default function () { http.post(`${__ENV.BASE_URL}/counter/rar/inc`); }
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  // 0 -> 100/s over 1 s is 50 iterations, then 100 more.
  EXPECT_NEAR(counter("rar"), 150, 1);
  EXPECT_NEAR(metric_value(exp, "iterations", "count"), 150, 1);
}

TEST_F(ExecutorTest, ScenariosWithStartTimeExecAndEnvAndTags) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import exec from 'k6/execution';
export const options = {
  scenarios: {
    first: { executor: 'shared-iterations', vus: 2, iterations: 6, exec: 'one', env: { WHO: 'first' } },
    second: { executor: 'per-vu-iterations', vus: 2, iterations: 2, startTime: '1s', exec: 'two', tags: { kind: 'late' } },
  },
  thresholds: { 'iterations{scenario:first}': ['count==6'], 'iterations{kind:late}': ['count==4'] },
};
export function one() { http.post(`${__ENV.BASE_URL}/counter/${__ENV.WHO}-${exec.scenario.name}/inc`); }
export function two() { http.post(`${__ENV.BASE_URL}/counter/two-${exec.scenario.name}/inc`); }
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(counter("first-first"), 6);
  EXPECT_EQ(counter("two-second"), 4);
  EXPECT_EQ(metric_value(exp, "iterations", "count"), 10);
  EXPECT_GE(r.seconds, 1.0) << "the second scenario starts at 1s";
}

TEST_F(ExecutorTest, GracefulStopInterruptsLongIterationsWithoutCountingThem) {
  ProcResult r;
  json exp = run_export(R"JS(
import { sleep } from 'k6';
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 2, duration: '1s', gracefulStop: '0s' } } };
export default function () { sleep(5); }
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_LT(r.seconds, 4.0) << "iterations must be interrupted at the end of the graceful stop";
  EXPECT_EQ(metric_value(exp, "iterations", "count"), -1e300) << "interrupted iterations are not counted";
}

}  // namespace
}  // namespace herd::it
