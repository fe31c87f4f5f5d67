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

TEST_F(ExecutorTest, ConstantArrivalRate1000PerSecondFor10sStarts10000) {
  ProcResult r;
  json exp = run_export(R"JS(
export const options = { scenarios: { car: { executor: 'constant-arrival-rate', rate: 1000, timeUnit: '1s',
  duration: '10s', preAllocatedVUs: 50, maxVUs: 100 } } };
export default function () {}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NEAR(metric_value(exp, "iterations", "count"), 10000, 1) << r;
  EXPECT_EQ(metric_value(exp, "dropped_iterations", "count"), -1e300);
  EXPECT_GE(r.seconds, 9.9);
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

// The first scenario's hard stop (its end plus gracefulStop) falls while the
// second runs on the same VU: it must not interrupt that VU (it did: the
// second scenario ended at once, having run one iteration).
TEST_F(ExecutorTest, AScenariosHardStopSparesTheVusTheNextScenarioReuses) {
  ProcResult r;
  json exp = run_export(R"JS(
import { sleep } from 'k6';
export const options = {
  scenarios: {
    a: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '1s', gracefulStop: '0s', exec: 'x' },
    b: { executor: 'constant-vus', vus: 1, duration: '2s', startTime: '1s', exec: 'y' },
  },
  thresholds: { 'iterations{scenario:b}': ['count>=3'] },
};
export function x() {}
export function y() { sleep(0.5); }
)JS",
                        &r);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_GE(r.seconds, 2.5) << r;
  EXPECT_GE(metric_value(exp, "iterations", "count"), 4) << r;
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

TEST_F(ExecutorTest, ExecutionSegmentsSplitThePlanExactly) {
  const std::string script = R"JS(
import http from 'k6/http';
import exec from 'k6/execution';
export const options = { scenarios: {
  s: { executor: 'shared-iterations', vus: 5, iterations: 31 },
  a: { executor: 'constant-arrival-rate', rate: 40, timeUnit: '1s', duration: '1s', preAllocatedVUs: 6, exec: 'arr' } } };
export default function () { http.post(`${__ENV.BASE_URL}/counter/s-${exec.scenario.iterationInTest}/inc`); }
export function arr() { http.post(`${__ENV.BASE_URL}/counter/a-${exec.scenario.iterationInTest}/inc`); }
)JS";
  double iterations = 0;
  for (const char* seg : {"0:1/4", "1/4:1/2", "1/2:1"}) {
    ProcResult r;
    json exp = run_export(script, &r, {"--execution-segment", seg, "--execution-segment-sequence", "0,1/4,1/2,1"});
    ASSERT_EQ(r.exit_code, 0) << seg << "\n" << r;
    iterations += metric_value(exp, "iterations", "count");
    EXPECT_EQ(metric_value(exp, "dropped_iterations", "count"), -1e300) << seg;
  }
  EXPECT_EQ(iterations, 31 + 40) << "the parts add up to the whole";
  for (int i = 0; i < 31; i++) EXPECT_EQ(counter("s-" + std::to_string(i)), 1) << "shared iteration " << i;
  for (int i = 0; i < 40; i++) EXPECT_EQ(counter("a-" + std::to_string(i)), 1) << "arrival iteration " << i;
}

TEST_F(ExecutorTest, BadExecutionSegmentExits104) {
  ProcResult r = run_script("export default function () {}\n", {"--execution-segment", "1/2:1/4"});
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("--execution-segment"), std::string::npos) << r;
}

}  // namespace
}  // namespace herd::it
