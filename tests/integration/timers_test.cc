// Uncaught exceptions in setTimeout / setInterval callbacks through the real binary:
// as in k6, one fails the iteration like an exception of the function itself (the
// error is logged with its file:line:column, the iteration counts, its other timers
// are dropped, the next iteration runs), and fails setup() like a throw there.
#include "harness.h"

namespace herd::it {
namespace {

// Error records that mention `text`; each must carry script.js:LINE:COLUMN.
int errors_at(const ProcResult& r, const std::string& text, int line) {
  int n = 0;
  const std::regex loc("script\\.js:" + std::to_string(line) + ":\\d+");
  for (auto& m : log_messages(r.err, "error"))
    if (m.find(text) != std::string::npos) {
      n++;
      EXPECT_TRUE(std::regex_search(m, loc)) << "no script.js:" << line << ":COL in: " << m;
    }
  return n;
}

// Iteration 0 leaves an interval running and a timer that throws; 1 and 2 wait on
// a timer of their own. maxDuration bounds the run if iteration 0 never ends.
constexpr const char* kOptions = R"JS(
export const options = {
  scenarios: { s: { executor: 'shared-iterations', vus: 1, iterations: 3, maxDuration: '10s', gracefulStop: '0s' } },
};
const count = (name) => http.post(`${__ENV.BASE_URL}/counter/${name}/inc`);
)JS";

class TimersTest : public HerdTest {
 protected:
  void expect_one_failed_then_two(const ProcResult& r, const json& exp) {
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(counter("started"), 3) << r;
    EXPECT_EQ(counter("waited"), 2) << r;
    EXPECT_GE(counter("ticks"), 1) << r;
    EXPECT_EQ(counter("stale-ticks"), 0) << r;  // no tick after iteration 0
    EXPECT_EQ(counter("never"), 0) << r;
    EXPECT_EQ(counter("after-await"), 0) << r;
    // As in k6, the failed iteration is a complete one (not an interrupted one).
    EXPECT_EQ(metric_value(exp, "iterations", "count"), 3) << r;
    // A warning per timer dropped with iteration 0: its interval and its 60 s timeout.
    int dropped = 0;
    for (auto& m : log_messages(r.err, "warning"))
      if (m.find("dropped: the iteration ended with an error") != std::string::npos) dropped++;
    EXPECT_EQ(dropped, 2) << r;
  }
};

TEST_F(TimersTest, ThrowingTimerFailsTheIterationAndClearsItsTimers) {
  ProcResult r;
  json exp = run_export(std::string("import http from 'k6/http';") + kOptions + R"JS(
export default function () {
  count('started');
  if (__ITER === 0) {
    setInterval(() => count(__ITER === 0 ? 'ticks' : 'stale-ticks'), 5);
    setTimeout(() => { throw new Error('timer exploded'); }, 50);
    setTimeout(() => count('never'), 60000);
    return;
  }
  setTimeout(() => count('waited'), 200);
}
)JS",
                        &r);
  expect_one_failed_then_two(r, exp);
  EXPECT_EQ(errors_at(r, "timer exploded", 11), 1) << r;
}

TEST_F(TimersTest, ThrowingTimerFailsAnAsyncIteration) {
  ProcResult r;
  json exp = run_export(
      std::string("import http from 'k6/http';\nimport { setTimeout as st } from 'k6/timers';") + kOptions + R"JS(
export default async function () {
  count('started');
  if (__ITER === 0) {
    setInterval(() => count(__ITER === 0 ? 'ticks' : 'stale-ticks'), 5);
    st(() => { throw new Error('async timer exploded'); }, 50);
    await new Promise((resolve) => st(resolve, 60000));
    count('after-await');
    return;
  }
  await new Promise((resolve) => st(resolve, 200));
  count('waited');
}
)JS",
      &r);
  expect_one_failed_then_two(r, exp);
  EXPECT_EQ(errors_at(r, "async timer exploded", 12), 1) << r;
}

TEST_F(TimersTest, RejectedAsyncTimerCallbackFailsTheIteration) {
  ProcResult r;
  json exp = run_export(std::string("import http from 'k6/http';") + kOptions + R"JS(
export default function () {
  count('started');
  if (__ITER === 0) {
    setInterval(() => count(__ITER === 0 ? 'ticks' : 'stale-ticks'), 5);
    setTimeout(async () => { await null; throw new Error('rejected in a timer'); }, 50);
    setTimeout(() => count('never'), 60000);
    return;
  }
  setTimeout(() => count('waited'), 200);
}
)JS",
                        &r);
  expect_one_failed_then_two(r, exp);
  EXPECT_EQ(errors_at(r, "rejected in a timer", 11), 1) << r;
  EXPECT_NE(r.err.find("Uncaught (in promise)"), std::string::npos) << r;
}

TEST_F(TimersTest, ThrowingTimerInSetupFailsTheTest) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
export const options = { iterations: 2 };
export function setup() {
  setTimeout(() => { throw new Error('setup timer exploded'); }, 10);
  setTimeout(() => http.post(`${__ENV.BASE_URL}/counter/setup-late/inc`), 60000);
}
export default function () { http.post(`${__ENV.BASE_URL}/counter/after-bad-setup/inc`); }
)JS");
  // k6: the same as an exception thrown by setup() itself (exit code 107, no iterations).
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_NE(r.err.find("setup timer exploded"), std::string::npos) << r;
  EXPECT_NE(r.err.find("script.js:5:"), std::string::npos) << r;
  EXPECT_EQ(counter("after-bad-setup"), 0) << r;
  EXPECT_EQ(counter("setup-late"), 0) << r;
}

TEST_F(TimersTest, ThrowingTimerInTeardownFailsItLikeAThrowThere) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
export const options = { iterations: 2 };
export default function () { http.post(`${__ENV.BASE_URL}/counter/iters/inc`); }
export function teardown() {
  setInterval(() => {}, 5);
  setTimeout(() => { throw new Error('teardown timer exploded'); }, 10);
}
)JS");
  // As a throw in teardown() itself: "teardown() failed: ...", exit code 107.
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_NE(r.err.find("teardown() failed: script.js:7:"), std::string::npos) << r;
  EXPECT_NE(r.err.find("teardown timer exploded"), std::string::npos) << r;
  EXPECT_EQ(counter("iters"), 2) << r;
}

TEST_F(TimersTest, InitContextTimersRunDuringInitAndAThrowFailsIt) {
  const std::string script = R"JS(
import http from 'k6/http';
export const options = { iterations: 2 };
let fired = false;
setTimeout(() => { fired = true; }, 10);
if (__ENV.THROW) setTimeout(() => { throw new Error('init timer exploded'); }, 20);
export default function () { if (fired) http.post(`${__ENV.BASE_URL}/counter/init-fired/inc`); }
)JS";
  // k6 runs the init context's event loop to its end: both iterations see the timer fired.
  ProcResult r = run_script(script);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(counter("init-fired"), 2) << r;
  // A throw there fails the init like an exception of the init code (exit code 107).
  r = run_script(script, {"-e", "THROW=1"});
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_NE(r.err.find("init timer exploded"), std::string::npos) << r;
  EXPECT_NE(r.err.find("script.js:6:"), std::string::npos) << r;
  EXPECT_EQ(counter("init-fired"), 2) << r;  // no iteration ran
}

}  // namespace
}  // namespace herd::it
