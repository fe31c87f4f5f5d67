// Distributed execution (issue #11): a test split over runner processes
// (`herd run --parallelism N`, each with its execution segment) delivers the
// load of one process; setup/teardown timeouts, exec.test.fail and
// handleSummary's setup_data work the same in both modes.
#include <cmath>

#include "harness.h"

namespace herd::it {
namespace {

class DistributedTest : public HerdTest {
 protected:
  /// `herd run [--parallelism n] [args] script.js` in the temp dir (n = 0: one process).
  ProcResult run_n(const std::string& script, int n, std::vector<std::string> args = {},
                   std::chrono::milliseconds timeout = 60s) {
    if (n > 0) {
      args.insert(args.begin(), std::to_string(n));
      args.insert(args.begin(), "--parallelism");
    }
    return run_script(script, std::move(args), {}, timeout);
  }
  json read_export(const std::string& name) {
    try {
      return json::parse(dir_.read(name));
    } catch (...) {
      return json();
    }
  }
};

// A ramp up and down: a split run starts, keeps and drops the same VUs at the
// same instants as one process, so its iteration count matches within 2 %.
// (Scaling each stage target per runner, as herd once did, lost 16-23 %.)
TEST_F(DistributedTest, RampingVusOverFourRunnersRunsTheIterationsOfOneProcess) {
  const std::string script = R"JS(
import { sleep } from 'k6';
export const options = {
  scenarios: { ramp: { executor: 'ramping-vus', startVUs: 0, gracefulRampDown: '0s', gracefulStop: '0s',
    stages: [{ duration: '1500ms', target: 10 }, { duration: '500ms', target: 10 }, { duration: '1500ms', target: 1 }] } },
};
export default function () { sleep(0.1); }
)JS";
  ProcResult one = run_n(script, 0, {"--summary-export", "one.json"});
  ASSERT_EQ(one.exit_code, 0) << one;
  ProcResult four = run_n(script, 4, {"--summary-export", "four.json"});
  ASSERT_EQ(four.exit_code, 0) << four;
  double i1 = metric_value(read_export("one.json"), "iterations", "count");
  double i4 = metric_value(read_export("four.json"), "iterations", "count");
  // About (7.5 + 5 + 8.25) VU-seconds / 0.1 s.
  ASSERT_GT(i1, 150) << one;
  EXPECT_LE(std::abs(i4 - i1), 0.02 * i1) << "one process: " << i1 << ", four runners: " << i4 << "\n" << four;
}

// ramping-arrival-rate: the runners start the global schedule's iterations
// between them (each one its striped share), so the totals are equal.
TEST_F(DistributedTest, RampingArrivalRateOverFourRunnersStartsTheSameIterations) {
  const std::string script = R"JS(
export const options = {
  scenarios: { rar: { executor: 'ramping-arrival-rate', startRate: 10, timeUnit: '1s', preAllocatedVUs: 8,
    gracefulStop: '1s', stages: [{ duration: '1500ms', target: 150 }, { duration: '1500ms', target: 30 }] } },
};
export default function () {}
)JS";
  ProcResult one = run_n(script, 0, {"--summary-export", "one.json"});
  ASSERT_EQ(one.exit_code, 0) << one;
  ProcResult four = run_n(script, 4, {"--summary-export", "four.json"});
  ASSERT_EQ(four.exit_code, 0) << four;
  json e1 = read_export("one.json"), e4 = read_export("four.json");
  double i1 = metric_value(e1, "iterations", "count"), i4 = metric_value(e4, "iterations", "count");
  // The integral of the rate: (10 + 150) / 2 * 1.5 + (150 + 30) / 2 * 1.5 = 255.
  EXPECT_NEAR(i1, 255, 2) << one;
  EXPECT_LE(std::abs(i4 - i1), 0.02 * i1) << "one process: " << i1 << ", four runners: " << i4 << "\n" << four;
}

// setupTimeout (k6: exit code 100): a setup() that waits on a slow request, a
// sleep or a timer is interrupted, and no iteration runs. One process and two.
TEST_F(DistributedTest, SetupTimeoutEndsTheTestWithExitCode100) {
  const std::string script = R"JS(
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { setupTimeout: '700ms', iterations: 2, vus: 1 };
export async function setup() {
  if (__ENV.HOW === 'http') http.get(`${__ENV.BASE_URL}/delay/5000`);
  if (__ENV.HOW === 'sleep') sleep(5);
  if (__ENV.HOW === 'timer') await new Promise((resolve) => setTimeout(resolve, 5000));
  return { late: true };
}
export default function () { http.get(`${__ENV.BASE_URL}/counter/ran-${__ENV.HOW}/inc`); }
)JS";
  for (const std::string how : {"http", "sleep", "timer"}) {
    for (int n : {0, 2}) {
      SCOPED_TRACE(how + (n ? " over 2 runners" : " in one process"));
      auto t0 = std::chrono::steady_clock::now();
      ProcResult r = run_n(script, n, {"-e", "HOW=" + how});
      auto took = std::chrono::steady_clock::now() - t0;
      EXPECT_EQ(r.exit_code, 100) << r;
      EXPECT_NE(r.err.find("setup() execution timed out after 0.7 seconds"), std::string::npos) << r;
      EXPECT_LT(took, 4500ms) << "the timeout did not interrupt setup()";
      EXPECT_LE(counter("ran-" + how), 0) << "an iteration ran after a failed setup()";
    }
  }
}

// A setup() that never yields cannot be interrupted yet, but under
// --parallelism the coordinator stops waiting after setupTimeout + 5 s and
// still ends with 100.
TEST_F(DistributedTest, BusySetupOverRunnersEndsWithExitCode100) {
  const std::string script = R"JS(
export const options = { setupTimeout: '300ms', iterations: 1 };
export function setup() { const end = Date.now() + 6500; while (Date.now() < end) {} }
export default function () {}
)JS";
  ProcResult r = run_n(script, 2);
  EXPECT_EQ(r.exit_code, 100) << r;
  // The runner interrupts its busy setup() itself (issue #12) and answers 504.
  EXPECT_NE(r.err.find("setup() execution timed out after 0.3 seconds"), std::string::npos) << r;
  EXPECT_LT(r.seconds, 5) << r;
}

// teardownTimeout (k6: exit code 101): the summary is still written.
TEST_F(DistributedTest, TeardownTimeoutEndsTheTestWithExitCode101) {
  const std::string script = R"JS(
import { sleep } from 'k6';
export const options = { teardownTimeout: '500ms', iterations: 4, vus: 2 };
export default function () {}
export function teardown() { sleep(5); }
)JS";
  for (int n : {0, 2}) {
    SCOPED_TRACE(n ? "over 2 runners" : "in one process");
    auto t0 = std::chrono::steady_clock::now();
    ProcResult r = run_n(script, n, {"--summary-export", "out.json"});
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(r.exit_code, 101) << r;
    EXPECT_NE(r.err.find("teardown() execution timed out after 0.5 seconds"), std::string::npos) << r;
    EXPECT_LT(took, 4500ms) << "the timeout did not interrupt teardown()";
    EXPECT_EQ(metric_value(read_export("out.json"), "iterations", "count"), 4) << r;
  }
}

// exec.test.fail() (k6: exit code 110): the test goes on to its end.
TEST_F(DistributedTest, TestFailMarksTheRunFailedAndLetsItFinish) {
  const std::string script = R"JS(
import http from 'k6/http';
import exec from 'k6/execution';
export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 2, iterations: 6 } } };
export default function () {
  const n = http.post(`${__ENV.BASE_URL}/counter/${__ENV.NAME}/inc`).json('value');
  if (n === 2) exec.test.fail(`iteration ${n} found a problem`);
}
)JS";
  for (int n : {0, 2}) {
    const std::string name = n ? "fail-par" : "fail-one";
    ProcResult r = run_n(script, n, {"-e", "NAME=" + name});
    EXPECT_EQ(r.exit_code, 110) << r;
    EXPECT_EQ(counter(name), 6) << "every iteration runs after test.fail()\n" << r;
    EXPECT_NE(r.err.find("test marked as failed: iteration 2 found a problem"), std::string::npos) << r;
  }
  // Failed thresholds take precedence (99) over a test marked failed.
  const std::string both = R"JS(
import exec from 'k6/execution';
export const options = { iterations: 1, thresholds: { iterations: ['count>5'] } };
export default function () { exec.test.fail(); }
)JS";
  ProcResult r = run_n(both, 0);
  EXPECT_EQ(r.exit_code, 99) << r;
}

// handleSummary(data) gets what setup() returned as data.setup_data.
TEST_F(DistributedTest, HandleSummaryDataHasTheSetupData) {
  const std::string script = R"JS(
export const options = { vus: 2, iterations: 2 };
export function setup() { if (__ENV.SETUP === '1') return { token: 'tk-42', ids: [3, 1] }; }
export default function () {}
export function handleSummary(data) {
  return { 'setup.json': JSON.stringify({ has: 'setup_data' in data, value: data.setup_data }) };
}
)JS";
  for (int n : {0, 2}) {
    SCOPED_TRACE(n ? "over 2 runners" : "in one process");
    ProcResult r = run_n(script, n, {"-e", "SETUP=1"});
    ASSERT_EQ(r.exit_code, 0) << r;
    json got = read_export("setup.json");
    EXPECT_EQ(got, json::parse(R"({"has":true,"value":{"token":"tk-42","ids":[3,1]}})")) << r;
    r = run_n(script, n, {"-e", "SETUP=0"});
    ASSERT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(read_export("setup.json"), json::parse(R"({"has":false})")) << "setup() returned nothing\n" << r;
  }
}

// minIterationDuration pads short iterations with a sleep that
// iteration_duration does not count; setup() is not padded.
TEST_F(DistributedTest, MinIterationDurationPadsShortIterations) {
  const std::string script = R"JS(
export const options = { vus: 1, iterations: 4, minIterationDuration: '10ms' };
export function setup() {}
export default function () {}
)JS";
  for (int n : {0, 1}) {
    SCOPED_TRACE(n ? "through a runner" : "in one process");
    // The flag overrides the script's 10 ms (and reaches the runners).
    ProcResult r = run_n(script, n, {"--min-iteration-duration", "250ms", "--summary-export", "out.json"});
    ASSERT_EQ(r.exit_code, 0) << r;
    json e = read_export("out.json");
    EXPECT_EQ(metric_value(e, "iterations", "count"), 4) << r;
    EXPECT_LT(metric_value(e, "iteration_duration", "max"), 100) << r;
    // Four padded iterations: the test lasts at least 1 s (iterations/s <= 4).
    double rate = metric_value(e, "iterations", "rate");
    EXPECT_GT(rate, 0) << r;
    EXPECT_LE(rate, 4.2) << r;
  }
}

}  // namespace
}  // namespace herd::it
