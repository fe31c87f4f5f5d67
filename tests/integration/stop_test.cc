// Issue #12: stops reach JavaScript that never yields (iterations, setup,
// teardown, handleSummary, init), signals during initialisation, absurd VU
// counts and durations refused up front, huge script waits clamped.
#include <thread>

#include "harness.h"

namespace herd::it {
namespace {

using StopTest = HerdTest;

// Logged by teardown: how the iterations ended.
const char* const kCountingTeardown = R"JS(
import exec from 'k6/execution';
export function teardown() {
  console.log(`COUNTS completed=${exec.instance.iterationsCompleted} interrupted=${exec.instance.iterationsInterrupted}`);
}
)JS";

TEST_F(StopTest, BusyIterationEndsAtDurationPlusGracefulStopWithExit0AndSummary) {
  ProcResult r = run_script(std::string(kCountingTeardown) + R"JS(
export const options = { scenarios: { busy: { executor: 'constant-vus', vus: 2, duration: '2s', gracefulStop: '1s' } } };
export default function () { for (;;) {} }
)JS",
                            {}, {}, 25s);
  EXPECT_FALSE(r.timed_out) << "a busy iteration ignored the duration and gracefulStop\n" << r;
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_GT(r.seconds, 2.5) << r;
  EXPECT_LT(r.seconds, 8) << r;
  EXPECT_NE(r.err.find("COUNTS completed=0 interrupted=2"), std::string::npos) << r;
  EXPECT_NE(r.out.find("vus_max"), std::string::npos) << "summary printed\n" << r;
  EXPECT_EQ(r.err.find("interrupted\n    at"), std::string::npos) << "an interrupt is no script error\n" << r;
  EXPECT_EQ(r.err.find("level=error"), std::string::npos) << r;
}

TEST_F(StopTest, InterruptedVuRunsTheNextScenarioNormally) {
  // The same VU is reused by the second scenario: the stop of the first must
  // not leak into it (its iterations complete).
  ProcResult r = run_script(std::string(kCountingTeardown) + R"JS(
export const options = { scenarios: {
  busy: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '1s', gracefulStop: '0s', exec: 'busy' },
  calm: { executor: 'per-vu-iterations', vus: 1, iterations: 3, startTime: '2s', exec: 'calm' } } };
export function busy() { for (;;) {} }
export function calm() { let x = 0; for (let i = 0; i < 100000; i++) x += i; }
)JS",
                            {}, {}, 25s);
  EXPECT_FALSE(r.timed_out) << r;
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find("COUNTS completed=3 interrupted=1"), std::string::npos) << r;
}

TEST_F(StopTest, BusyIterationOfARampedDownVuEndsAtGracefulRampDown) {
  // Both VUs leave the ramp by 2 s; with gracefulRampDown 1s their busy
  // iterations are interrupted by 3 s (k6), not at the hard stop (5 s + 60 s).
  ProcResult r = run_script(std::string(kCountingTeardown) + R"JS(
export const options = { scenarios: { ramp: { executor: 'ramping-vus', startVUs: 2, gracefulRampDown: '1s',
  gracefulStop: '60s', stages: [{ duration: '1s', target: 2 }, { duration: '1s', target: 0 }, { duration: '3s', target: 0 }] } } };
export default function () { for (;;) {} }
)JS",
                            {}, {}, 30s);
  EXPECT_FALSE(r.timed_out) << "busy iterations were not interrupted at gracefulRampDown\n" << r;
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_LT(r.seconds, 12) << r;
  EXPECT_NE(r.err.find("COUNTS completed=0 interrupted=2"), std::string::npos) << r;
  EXPECT_EQ(r.err.find("level=error"), std::string::npos) << r;
}

TEST_F(StopTest, FirstSigintStopsABusyIterationWith105TeardownAndSummary) {
  dir_.write("script.js", R"JS(
export const options = { vus: 1, duration: '60s' };
export default function () { console.log('BUSY'); for (;;) {} }
export function teardown() { console.log('TEARDOWN RAN'); }
)JS");
  RunSpec spec;
  spec.args = {"run", "script.js"};
  spec.signal_when = "BUSY";
  spec.signal_delay = 300ms;
  spec.timeout = 25s;
  ProcResult r = run_spec(spec);
  ASSERT_TRUE(r.signal_sent) << r;
  EXPECT_EQ(r.signals_sent, 1) << r;
  EXPECT_FALSE(r.timed_out) << "the first SIGINT did not reach the busy iteration\n" << r;
  EXPECT_EQ(r.exit_code, 105) << r;
  EXPECT_LT(r.seconds, 8) << r;
  EXPECT_NE(r.err.find("TEARDOWN RAN"), std::string::npos) << r;
  EXPECT_NE(r.out.find("vus_max"), std::string::npos) << "summary printed\n" << r;
}

TEST_F(StopTest, ControlApiStopReachesABusyIteration) {
  std::uint16_t api = closed_port();
  dir_.write("script.js", R"JS(
export const options = { vus: 1, duration: '60s' };
export default function () { console.log('BUSY'); for (;;) {} }
)JS");
  RunSpec spec;
  spec.args = {"run", "--address", "127.0.0.1:" + std::to_string(api), "script.js"};
  spec.timeout = 25s;
  std::optional<BackgroundRun> run;
  run.emplace([this, spec] { return run_spec(spec); });
  int code = 0;
  for (int i = 0; i < 200 && code != 200; i++) {
    std::this_thread::sleep_for(50ms);
    std::string b;
    code = http_call(api, "GET", "/v1/status", "", &b);
  }
  ASSERT_EQ(code, 200);
  std::this_thread::sleep_for(500ms);  // the VU is in its busy iteration
  std::string body;
  EXPECT_EQ(http_call(api, "PATCH", "/v1/status", R"({"data":{"attributes":{"stopped":true}}})", &body), 200) << body;
  const ProcResult& r = run->wait();
  EXPECT_FALSE(r.timed_out) << "the API stop did not reach the busy iteration\n" << r;
  EXPECT_EQ(r.exit_code, 103) << r;
  EXPECT_LT(r.seconds, 10) << r;
}

TEST_F(StopTest, BusySetupTimesOutWithExit100) {
  ProcResult r = run_script(R"JS(
export const options = { iterations: 1, setupTimeout: '1s' };
export function setup() { for (;;) {} }
export default function () {}
)JS",
                            {}, {}, 20s);
  EXPECT_FALSE(r.timed_out) << r;
  EXPECT_EQ(r.exit_code, 100) << r;
  EXPECT_LT(r.seconds, 8) << r;
  EXPECT_NE(r.err.find("setup() execution timed out after 1 seconds"), std::string::npos) << r;
}

TEST_F(StopTest, SigintStopsABusySetupWith105) {
  dir_.write("script.js", R"JS(
export const options = { iterations: 1 };
export function setup() { console.log('SETUP'); for (;;) {} }
export default function () {}
)JS");
  RunSpec spec;
  spec.args = {"run", "script.js"};
  spec.signal_when = "SETUP";
  spec.signal_delay = 300ms;
  spec.timeout = 30s;
  ProcResult r = run_spec(spec);
  ASSERT_TRUE(r.signal_sent) << r;
  EXPECT_FALSE(r.timed_out) << "SIGINT waited for setupTimeout (60 s)\n" << r;
  EXPECT_EQ(r.exit_code, 105) << r;
  EXPECT_LT(r.seconds, 8) << r;
  EXPECT_NE(r.err.find("setup() was interrupted: the test was stopped"), std::string::npos) << r;
}

TEST_F(StopTest, BusyTeardownTimesOutWithExit101AndSummary) {
  ProcResult r = run_script(R"JS(
export const options = { iterations: 1, teardownTimeout: '1s' };
export default function () {}
export function teardown() { for (;;) {} }
)JS",
                            {}, {}, 20s);
  EXPECT_FALSE(r.timed_out) << r;
  EXPECT_EQ(r.exit_code, 101) << r;
  EXPECT_LT(r.seconds, 8) << r;
  EXPECT_NE(r.err.find("teardown() execution timed out after 1 seconds"), std::string::npos) << r;
  EXPECT_NE(r.out.find("iterations"), std::string::npos) << "summary printed\n" << r;
}

TEST_F(StopTest, BusyHandleSummaryIsStoppedAndTheDefaultSummaryPrinted) {
  ProcResult r = run_script(R"JS(
export const options = { iterations: 1, teardownTimeout: '1s' };
export default function () {}
export function handleSummary(data) { for (;;) {} }
)JS",
                            {}, {}, 20s);
  EXPECT_FALSE(r.timed_out) << r;
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_LT(r.seconds, 8) << r;
  EXPECT_NE(r.err.find("handleSummary() did not return within 1 seconds"), std::string::npos) << r;
  EXPECT_NE(r.out.find("iterations"), std::string::npos) << "default summary printed\n" << r;
}

TEST_F(StopTest, SigintStopsABusyInitContextWith105AndNoSummary) {
  dir_.write("script.js", R"JS(
console.log('INIT');
for (;;) {}
export default function () {}
)JS");
  RunSpec spec;
  spec.args = {"run", "script.js"};
  spec.signal_when = "INIT";
  spec.signal_delay = 300ms;
  spec.timeout = 20s;
  ProcResult r = run_spec(spec);
  ASSERT_TRUE(r.signal_sent) << r;
  EXPECT_FALSE(r.timed_out) << "SIGINT ignored in a busy init context\n" << r;
  EXPECT_EQ(r.exit_code, 105) << r;
  EXPECT_LT(r.seconds, 5) << r;
  EXPECT_NE(r.err.find("initialisation interrupted by a signal"), std::string::npos) << r;
  EXPECT_EQ(r.out.find("iterations"), std::string::npos) << "no summary\n" << r;
}

TEST_F(StopTest, SigintDuringVuInitialisationStopsItPromptly) {
  // VU 0 initialises at once; the load VUs' init contexts are slow (30 ms
  // each, 400 VUs = 12 s): SIGINT stops the initialisation, not just after it.
  dir_.write("script.js", R"JS(
if (__VU === 1) console.log('VU INIT');
if (__VU > 0) { const end = Date.now() + 30; while (Date.now() < end) {} }
export const options = { vus: 400, duration: '1s' };
export default function () {}
)JS");
  RunSpec spec;
  spec.args = {"run", "--workers", "1", "script.js"};
  spec.signal_when = "VU INIT";
  spec.signal_delay = 300ms;
  spec.timeout = 30s;
  ProcResult r = run_spec(spec);
  ASSERT_TRUE(r.signal_sent) << r;
  EXPECT_EQ(r.exit_code, 105) << r;
  EXPECT_LT(r.seconds, 5) << "initialisation went on after SIGINT\n" << r;
  EXPECT_NE(r.err.find("initialisation interrupted by a signal"), std::string::npos) << r;
}

TEST_F(StopTest, AbsurdVuCountsAreRefusedUpFrontNamingTheOption) {
  ProcResult r = run_script("export default function () {}", {"-u", "99999999999", "-d", "1s"}, {}, 15s);
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_LT(r.seconds, 5) << r;
  EXPECT_NE(r.err.find("vus: 99999999999 VUs is more than this machine can hold"), std::string::npos) << r;

  r = run_script(R"JS(
export const options = { scenarios: { open: { executor: 'constant-arrival-rate', rate: 1, duration: '1s',
  preAllocatedVUs: 1, maxVUs: 50000000000 } } };
export default function () {}
)JS",
                 {}, {}, 15s);
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("scenarios.open.maxVUs: 50000000000 VUs"), std::string::npos) << r;

  r = run_script(R"JS(
export const options = { stages: [{ duration: '1s', target: 1 }, { duration: '1s', target: 80000000000 }] };
export default function () {}
)JS",
                 {}, {}, 15s);
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("stages[1].target: 80000000000 VUs"), std::string::npos) << r;
}

TEST_F(StopTest, HugeDurationOptionsAreRefusedNamingTheOption) {
  ProcResult r = run_script("export default function () {}", {"-d", "3000000h"}, {}, 15s);
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("duration: 3000000h0m0s is longer than the longest supported duration"), std::string::npos) << r;
  r = run_script(R"JS(
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 1, duration: '1s', gracefulStop: '2000000h' } } };
export default function () {}
)JS",
                 {}, {}, 15s);
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("scenarios.s.gracefulStop"), std::string::npos) << r;
  r = run_script(R"JS(
export const options = { iterations: 1, setupTimeout: '900000h' };
export default function () {}
)JS",
                 {}, {}, 15s);
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("setupTimeout"), std::string::npos) << r;
}

TEST_F(StopTest, HugeScriptWaitsLastUntilTheTestEnds) {
  // Each form waits "forever": the iteration never completes and is
  // interrupted at the hard stop (duration 1 s + gracefulStop 0 s).
  for (const char* wait : {"sleep(Infinity)", "sleep(1e300)", "setTimeout(() => console.log('FIRED'), 1e300)",
                           "setTimeout(() => console.log('FIRED'), Infinity); sleep(Infinity)"}) {
    ProcResult r = run_script(std::string(kCountingTeardown) + R"JS(
import { sleep } from 'k6';
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 1, duration: '1s', gracefulStop: '0s' } } };
export default function () { )JS" +
                                  wait + " }\n",
                              {}, {}, 20s);
    EXPECT_EQ(r.exit_code, 0) << wait << "\n" << r;
    EXPECT_LT(r.seconds, 8) << wait << "\n" << r;
    EXPECT_NE(r.err.find("COUNTS completed=0 interrupted=1"), std::string::npos) << wait << "\n" << r;
    EXPECT_EQ(r.err.find("FIRED"), std::string::npos) << wait << "\n" << r;
  }
}

TEST_F(StopTest, HugeRequestTimeoutIsNoImmediateTimeout) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
export const options = { iterations: 1 };
export default function () {
  for (const t of [1e30, Infinity, '3000000h']) {
    const res = http.get(`${__ENV.BASE_URL}/`, { timeout: t });
    console.log(`STATUS ${t} ${res.status} ${res.error}`);
  }
}
)JS",
                            {}, {}, 20s);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find("STATUS 1e+30 200"), std::string::npos) << r;
  EXPECT_NE(r.err.find("STATUS Infinity 200"), std::string::npos) << r;
  EXPECT_NE(r.err.find("STATUS 3000000h 200"), std::string::npos) << r;
}

}  // namespace
}  // namespace herd::it
