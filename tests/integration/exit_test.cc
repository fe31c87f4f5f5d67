// End-to-end tests of thresholds, exit codes, script errors and the issue's demo.
#include "harness.h"

namespace herd::it {
namespace {

using ExitTest = HerdTest;

// ---- thresholds -------------------------------------------------------------------

TEST_F(ExitTest, EveryThresholdFormPassesAndFailsCorrectly) {
  ProcResult r;
  json exp = run_export(R"JS(
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';
import { sleep } from 'k6';
const c = new Counter('th_counter');
const g = new Gauge('th_gauge');
const rt = new Rate('th_rate');
const t = new Trend('th_trend');
export const options = {
  iterations: 10,
  thresholds: {
    // Trend values 1..10: avg 5.5, min 1, max 10, med 5.5, p(90) ~9.1
    th_trend: ['avg==5.5', 'avg<5', 'min==1', 'min>1', 'max==10', 'max<10', 'med>5', 'med<5',
               'p(90)>8', 'p(90)<8', 'p(99.9)<=10', 'p(0)==1'],
    th_counter: ['count==20', 'count<20', 'rate>0', 'rate<0'],
    th_gauge: ['value==10', 'value!=10'],
    th_rate: ['rate==0.3', 'rate>=0.5'],
    'th_trend{half:low}': ['max==5', 'max>5'],
  },
};
export default function () {
  const i = __ITER + 1;
  t.add(i, { half: i <= 5 ? 'low' : 'high' });
  c.add(2);
  g.add(i);
  rt.add(i % 3 === 0);  // 3, 6, 9 -> 0.3
  sleep(0.01);           // a measurable test duration for the counter's rate
}
)JS",
                        &r, {"-u", "1"});
  EXPECT_EQ(r.exit_code, 99) << r;
  std::map<std::string, std::map<std::string, bool>> expect_crossed = {
      {"th_trend",
       {{"avg==5.5", false},
        {"avg<5", true},
        {"min==1", false},
        {"min>1", true},
        {"max==10", false},
        {"max<10", true},
        {"med>5", false},
        {"med<5", true},
        {"p(90)>8", false},
        {"p(90)<8", true},
        {"p(99.9)<=10", false},
        {"p(0)==1", false}}},
      {"th_counter", {{"count==20", false}, {"count<20", true}, {"rate>0", false}, {"rate<0", true}}},
      {"th_gauge", {{"value==10", false}, {"value!=10", true}}},
      {"th_rate", {{"rate==0.3", false}, {"rate>=0.5", true}}},
      {"th_trend{half:low}", {{"max==5", false}, {"max>5", true}}},
  };
  for (auto& [metric, ths] : expect_crossed) {
    ASSERT_TRUE(exp["metrics"].contains(metric)) << metric << "\n" << r;
    const json& got = exp["metrics"][metric]["thresholds"];
    for (auto& [src, crossed] : ths) {
      ASSERT_TRUE(got.contains(src)) << metric << " " << src << " " << got.dump();
      EXPECT_EQ(got[src].get<bool>(), crossed) << metric << " '" << src << "'";
    }
  }
  // The text summary marks failed thresholds.
  EXPECT_NE(r.out.find("✗ 'avg<5'"), std::string::npos) << r;
  EXPECT_NE(r.out.find("✓ 'avg==5.5'"), std::string::npos) << r;
  EXPECT_NE(r.err.find("thresholds on metrics"), std::string::npos) << r;
}

TEST_F(ExitTest, CounterRateOfAVeryShortTestIsPositive) {
  // A test that finishes in under a millisecond still has a positive duration:
  // the counter's rate is count / duration, never 0 when count > 0.
  ProcResult r;
  json exp = run_export(R"JS(
import { Counter } from 'k6/metrics';
const c = new Counter('quick_counter');
export const options = { iterations: 3, thresholds: { quick_counter: ['rate>0'] } };
export default function () { c.add(1); }
)JS",
                        &r);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_GT(metric_value(exp, "quick_counter", "rate"), 0) << exp["metrics"].dump();
  EXPECT_GT(metric_value(exp, "iterations", "rate"), 0) << exp["metrics"].dump();
}

TEST_F(ExitTest, PassingThresholdsExitZero) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
export const options = {
  iterations: 3,
  thresholds: { http_req_duration: ['p(95)<5000', 'avg<5000'], http_req_failed: ['rate==0'], http_reqs: ['count==3'] },
};
export default function () { http.get(`${__ENV.BASE_URL}/`); }
)JS");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("THRESHOLDS"), std::string::npos) << r;
  EXPECT_EQ(r.out.find("✗"), std::string::npos) << r;
}

TEST_F(ExitTest, AbortOnFailStopsEarlyWithExit99) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
import { sleep } from 'k6';
export const options = {
  vus: 2, duration: '30s',
  thresholds: { http_req_failed: [{ threshold: 'rate<0.1', abortOnFail: true }] },
};
export default function () { http.get(`${__ENV.BASE_URL}/status/500`); sleep(0.05); }
export function teardown() { http.post(`${__ENV.BASE_URL}/counter/aof-teardown/inc`); }
)JS",
                            {}, {}, 40s);
  EXPECT_EQ(r.exit_code, 99) << r;
  EXPECT_LT(r.seconds, 12) << "abortOnFail should stop long before 30s\n" << r;
  EXPECT_NE(r.out.find("http_req_failed"), std::string::npos) << "the summary is still printed\n" << r;
  EXPECT_EQ(counter("aof-teardown"), 1) << "teardown still runs\n" << r;
}

TEST_F(ExitTest, MalformedThresholdsExit104WithAClearMessage) {
  struct Case {
    const char* thresholds;
    const char* needle;
  } cases[] = {
      {"{ http_req_duration: ['p(95)<<200'] }", "p(95)<<200"},
      {"{ http_req_duration: ['avg'] }", "avg"},
      {"{ http_req_duration: ['median<5'] }", "median<5"},
      {"{ no_such_metric: ['count>1'] }", "no_such_metric"},
      {"{ 'http_reqs{status:200': ['count>1'] }", "http_reqs{status:200"},
  };
  for (auto& c : cases) {
    ProcResult r = run_script(std::string(R"JS(
import http from 'k6/http';
export const options = { iterations: 1, thresholds: )JS") +
                              c.thresholds + R"JS( };
export default function () { http.get(`${__ENV.BASE_URL}/`); }
)JS");
    EXPECT_EQ(r.exit_code, 104) << c.thresholds << "\n" << r;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.thresholds << "\n" << r;
  }
  EXPECT_EQ(served(), 0u) << "invalid config must stop the run before any request";
}

// ---- exit codes -------------------------------------------------------------------

TEST_F(ExitTest, BadDurationAndBadOptionsExit104) {
  const char* ok_script = R"JS(
export default function () {}
)JS";
  ProcResult r = run_script(ok_script, {"-d", "10x"});
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("10x"), std::string::npos) << r;

  r = run_script(ok_script, {"-u", "abc"});
  EXPECT_EQ(r.exit_code, 104) << r;

  r = run_script(R"JS(
export const options = { vus: 2, duration: 'ten seconds' };
export default function () {}
)JS");
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("duration"), std::string::npos) << r;

  r = run_script(R"JS(
export const options = { vus: -3, duration: '1s' };
export default function () {}
)JS");
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("vus"), std::string::npos) << r;

  r = run_script(R"JS(
export const options = { scenarios: { s: { executor: 'no-such-executor', vus: 1 } } };
export default function () {}
)JS");
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("no-such-executor"), std::string::npos) << r;

  r = run_script(ok_script, {"--out", "statsd=127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, 104) << r;
}

TEST_F(ExitTest, UsageErrors) {
  RunSpec spec;
  spec.args = {"run"};
  ProcResult r = run_spec(spec);
  EXPECT_NE(r.exit_code, 0) << r;
  spec.args = {"run", "does-not-exist.js"};
  r = run_spec(spec);
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find("does-not-exist.js"), std::string::npos) << r;
  spec.args = {"run", "--help"};
  r = run_spec(spec);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("--vus"), std::string::npos) << r;
}

TEST_F(ExitTest, SigintStopsGracefullyWithExit105AndSummary) {
  RunSpec spec;
  dir_.write("script.js", R"JS(
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 2, duration: '60s' };
export default function () {
  http.get(`${__ENV.BASE_URL}/`);
  console.log('TICK');
  sleep(0.2);
}
export function teardown() { http.post(`${__ENV.BASE_URL}/counter/sigint-teardown/inc`); }
)JS");
  spec.args = {"run", "script.js"};
  spec.signal_when = "TICK";
  spec.signal_delay = 500ms;
  spec.timeout = 40s;
  ProcResult r = run_spec(spec);
  ASSERT_TRUE(r.signal_sent) << r;
  EXPECT_EQ(r.term_signal, 0) << "herd must handle SIGINT, not die of it\n" << r;
  EXPECT_EQ(r.exit_code, 105) << r;
  EXPECT_LT(r.seconds, 20) << r;
  EXPECT_NE(r.out.find("http_reqs"), std::string::npos) << "summary after SIGINT\n" << r;
  EXPECT_NE(r.out.find("iterations"), std::string::npos) << r;
  EXPECT_EQ(counter("sigint-teardown"), 1) << "teardown still runs\n" << r;
}

TEST_F(ExitTest, SyntaxErrorExit107NamesFileLineColumnBeforeAnyRequest) {
  ProcResult r = run_script(R"JS(import http from 'k6/http';
http.get(`${__ENV.BASE_URL}/`);
export default function () {
  http.get(`${__ENV.BASE_URL}/`)
  const x = ;
}
)JS");
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_TRUE(std::regex_search(r.err, std::regex(R"(script\.js:5:\d+)"))) << r;
  EXPECT_EQ(served(), 0u) << r;
}

TEST_F(ExitTest, SyntaxErrorInAnImportedModuleNamesThatModule) {
  dir_.write("lib/broken.js", "export function f() {\n  return 1 +;\n}\n");
  ProcResult r = run_script(R"JS(
import { f } from './lib/broken.js';
export default function () { f(); }
)JS");
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_TRUE(std::regex_search(r.err, std::regex(R"(broken\.js:2:\d+)"))) << r;
  EXPECT_EQ(served(), 0u);
}

TEST_F(ExitTest, ImportOfAMissingModuleExit107) {
  ProcResult r = run_script(R"JS(
import { nope } from './missing-module.js';
export default function () {}
)JS");
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_NE(r.err.find("missing-module.js"), std::string::npos) << r;
}

TEST_F(ExitTest, ExceptionInInitExit107) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
function boom() { throw new Error('init exploded'); }
boom();
export default function () { http.get(`${__ENV.BASE_URL}/`); }
)JS");
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_NE(r.err.find("init exploded"), std::string::npos) << r;
  EXPECT_NE(r.err.find("script.js:3"), std::string::npos) << r;
  EXPECT_EQ(served(), 0u);
}

TEST_F(ExitTest, HttpRequestInInitContextIsAnError) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
http.get(`${__ENV.BASE_URL}/`);
export default function () {}
)JS");
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_NE(r.err.find("init"), std::string::npos) << r;
  EXPECT_EQ(served(), 0u);
}

TEST_F(ExitTest, ExceptionInSetupExit107AndNoIterations) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
export const options = { iterations: 3 };
export function setup() {
  throw new Error('setup exploded');
}
export default function () { http.post(`${__ENV.BASE_URL}/counter/after-bad-setup/inc`); }
)JS");
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_NE(r.err.find("setup exploded"), std::string::npos) << r;
  EXPECT_NE(r.err.find("script.js:5"), std::string::npos) << r;
  EXPECT_EQ(counter("after-bad-setup"), 0);
}

TEST_F(ExitTest, ExceptionInAnIterationIsLoggedAndTheTestGoesOn) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
export const options = { iterations: 5 };
export default function () {
  http.post(`${__ENV.BASE_URL}/counter/iter-exc/inc`);
  if (__ITER % 2 === 0) throw new Error('iteration exploded');
  http.post(`${__ENV.BASE_URL}/counter/iter-exc-after/inc`);
}
)JS",
                        &r);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(counter("iter-exc"), 5) << r;
  EXPECT_EQ(counter("iter-exc-after"), 2) << r;  // iterations 1 and 3
  auto errs = log_messages(r.err, "error");
  int n = 0;
  for (auto& m : errs)
    if (m.find("iteration exploded") != std::string::npos) {
      n++;
      EXPECT_NE(m.find("script.js:6"), std::string::npos) << m;
    }
  EXPECT_EQ(n, 3) << r;
}

TEST_F(ExitTest, MissingDefaultFunction) {
  ProcResult r = run_script(R"JS(
export const options = { iterations: 1 };
export function notDefault() {}
)JS");
  // k6 refuses to start: "executor default: function 'default' not found in exports" (104).
  EXPECT_TRUE(r.exit_code == 104 || r.exit_code == 107) << r;
  EXPECT_NE(r.err.find("default"), std::string::npos) << r;
}

// ---- the issue's demo ---------------------------------------------------------------

TEST_F(ExitTest, DemoScriptPrintsAK6LikeSummary) {
  std::ifstream f(std::string(HERD_SOURCE_DIR) + "/examples/demo.js");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string demo = ss.str();
  ASSERT_NE(demo.find("vus: 10"), std::string::npos) << demo;
  ASSERT_NE(demo.find("sleep(1)"), std::string::npos) << demo;
  ProcResult r = run_script(demo, {"-d", "2s"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_GE(r.seconds, 1.9) << r;
  EXPECT_LT(r.seconds, 15) << r;
  const std::string& s = r.out;
  for (const char* needle : {"http_reqs",
                             "http_req_duration",
                             "avg=",
                             "min=",
                             "med=",
                             "max=",
                             "p(90)=",
                             "p(95)=",
                             "iterations",
                             "vus",
                             "vus_max",
                             "checks",
                             "http_req_failed",
                             "data_received",
                             "data_sent",
                             "iteration_duration",
                             "THRESHOLDS",
                             "'p(95)<200'",
                             "'rate<0.01'",
                             "status is 200"})
    EXPECT_NE(s.find(needle), std::string::npos) << needle << "\n" << r;
  // 10 VUs x 2 iterations (sleep 1s over 2s): 20 requests.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(s, m, std::regex(R"(http_reqs\.*: (\d+))"))) << r;
  int reqs = std::stoi(m[1].str());
  EXPECT_GE(reqs, 18) << r;
  EXPECT_LE(reqs, 30) << r;
  EXPECT_GE(served(), 18u);
  EXPECT_TRUE(std::regex_search(s, std::regex(R"(checks_succeeded\.*: 100\.00%)"))) << r;
}

}  // namespace
}  // namespace herd::it

namespace herd::it {
namespace {

TEST_F(ExitTest, SecondSigintAbortsImmediately) {
  dir_.write("script.js", R"JS(
import { sleep } from 'k6';
export const options = { vus: 1, duration: '60s' };
export default function () { console.log('TICK'); sleep(0.1); }
export function teardown() { console.log('TEARDOWN START'); sleep(8); }
)JS");
  // The first SIGINT stops the iterations; the second, once the (8 s) teardown
  // has started, aborts at once (k6 keeps its signal handler until the run
  // function returns), with exit code 105.
  RunSpec spec;
  spec.args = {"run", "script.js"};
  spec.signal_when = "TICK";
  spec.signal_delay = 300ms;
  spec.more_signals.push_back({"TEARDOWN START", SIGINT, 200ms});
  spec.timeout = 60s;
  ProcResult r = run_spec(spec);
  EXPECT_EQ(r.signals_sent, 2) << r;
  EXPECT_EQ(r.term_signal, 0) << r;
  EXPECT_EQ(r.exit_code, 105) << r;
  EXPECT_LT(r.seconds, 5) << r;
}

}  // namespace
}  // namespace herd::it
