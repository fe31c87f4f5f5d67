// End-to-end tests of the k6 script API (k6, k6/metrics, k6/execution,
// k6/data, globals) through the real `herd run` binary.
#include <set>

#include "harness.h"

namespace herd::it {
namespace {

using ApiTest = HerdTest;

TEST_F(ApiTest, SleepBlocksTheIterationForTheGivenSeconds) {
  ProcResult r;
  json exp = run_export(R"JS(
import { sleep } from 'k6';
export const options = { iterations: 2 };
export default function () { sleep(0.3); }
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(metric_value(exp, "iterations", "count"), 2) << r;
  EXPECT_GE(metric_value(exp, "iteration_duration", "min"), 290) << r;
  EXPECT_LT(metric_value(exp, "iteration_duration", "max"), 2000) << r;
  EXPECT_GE(r.seconds, 0.55) << r;
}

TEST_F(ApiTest, CheckReturnsBoolAndCountsPassesAndFails) {
  ProcResult r;
  json exp = run_export(R"JS(
import { check } from 'k6';
export const options = { iterations: 4 };
export default function () {
  const a = check(1, { 'one is one': (v) => v === 1, 'truthy value': true });
  const b = check(1, { 'one is two': (v) => v === 2 });
  if (a !== true || b !== false) console.error('BAD RETURN ' + a + ' ' + b);
  check(null, { 'thrower': () => { throw new Error('inside check'); } });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err.find("BAD RETURN"), std::string::npos) << r;
  const json& checks = exp["root_group"]["checks"];
  ASSERT_TRUE(checks.contains("one is one")) << exp.dump(2);
  EXPECT_EQ(checks["one is one"]["passes"], 4);
  EXPECT_EQ(checks["one is one"]["fails"], 0);
  EXPECT_EQ(checks["truthy value"]["passes"], 4);
  EXPECT_EQ(checks["one is two"]["passes"], 0);
  EXPECT_EQ(checks["one is two"]["fails"], 4);
  EXPECT_EQ(checks["thrower"]["fails"], 4);  // a throwing check counts as failed
  EXPECT_EQ(checks["one is one"]["path"], "::one is one");
  // The `checks` rate: 8 + 0 passes, 4 + 4 fails.
  EXPECT_EQ(metric_value(exp, "checks", "passes"), 8) << exp["metrics"]["checks"].dump();
  EXPECT_EQ(metric_value(exp, "checks", "fails"), 8) << exp["metrics"]["checks"].dump();
  EXPECT_DOUBLE_EQ(metric_value(exp, "checks", "value"), 0.5);
}

TEST_F(ApiTest, CheckTagsAreUsableInThresholds) {
  ProcResult r;
  json exp = run_export(R"JS(
import { check } from 'k6';
export const options = {
  iterations: 3,
  thresholds: { 'checks{kind:good}': ['rate==1'], 'checks{kind:bad}': ['rate==0'] },
};
export default function () {
  check(1, { 'good one': (v) => v === 1 }, { kind: 'good' });
  check(1, { 'bad one': (v) => v === 0 }, { kind: 'bad' });
}
)JS",
                        &r);
  EXPECT_EQ(r.exit_code, 0) << r;
  ASSERT_TRUE(exp["metrics"].contains("checks{kind:good}")) << exp["metrics"].dump();
  EXPECT_DOUBLE_EQ(metric_value(exp, "checks{kind:good}", "value"), 1.0);
  EXPECT_DOUBLE_EQ(metric_value(exp, "checks{kind:bad}", "value"), 0.0);
  EXPECT_EQ(exp["metrics"]["checks{kind:good}"]["thresholds"]["rate==1"], false);  // legacy: true = crossed
}

TEST_F(ApiTest, NestedGroupsBuildTheRootGroupTreeAndGroupDuration) {
  ProcResult r;
  json exp = run_export(R"JS(
import { check, group, sleep } from 'k6';
import http from 'k6/http';
export const options = { iterations: 2, thresholds: { 'group_duration{group:::outer::inner}': ['min>=50'] } };
export default function () {
  check(true, { 'top': (v) => v });
  const v = group('outer', function () {
    check(true, { 'in outer': (v) => v });
    return group('inner', function () {
      sleep(0.06);
      const res = http.get(`${__ENV.BASE_URL}/`);
      check(res, { 'in inner': (r) => r.status === 200 });
      return 42;
    });
  });
  if (v !== 42) console.error('GROUP RETURN ' + v);
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err.find("GROUP RETURN"), std::string::npos) << r;
  const json& root = exp["root_group"];
  EXPECT_EQ(root["checks"]["top"]["passes"], 2) << root.dump(2);
  ASSERT_TRUE(root["groups"].contains("outer")) << root.dump(2);
  const json& outer = root["groups"]["outer"];
  EXPECT_EQ(outer["path"], "::outer");
  EXPECT_EQ(outer["checks"]["in outer"]["passes"], 2);
  ASSERT_TRUE(outer["groups"].contains("inner")) << root.dump(2);
  const json& inner = outer["groups"]["inner"];
  EXPECT_EQ(inner["path"], "::outer::inner");
  EXPECT_EQ(inner["checks"]["in inner"]["passes"], 2);
  EXPECT_EQ(inner["checks"]["in inner"]["path"], "::outer::inner::in inner");
  // group_duration: 2 outer + 2 inner samples, the inner ones >= 60ms.
  ASSERT_TRUE(exp["metrics"].contains("group_duration")) << exp["metrics"].dump();
  EXPECT_GE(metric_value(exp, "group_duration", "max"), 55);
  EXPECT_GE(metric_value(exp, "group_duration{group:::outer::inner}", "min"), 55) << exp["metrics"].dump();
}

TEST_F(ApiTest, FailThrowsAndEndsTheIterationButNotTheTest) {
  ProcResult r;
  json exp = run_export(R"JS(
import { fail } from 'k6';
import http from 'k6/http';
export const options = { iterations: 3 };
export default function () {
  http.post(`${__ENV.BASE_URL}/counter/fail-before/inc`);
  fail('deliberate failure');
  http.post(`${__ENV.BASE_URL}/counter/fail-after/inc`);
}
)JS",
                        &r);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(counter("fail-before"), 3) << r;
  EXPECT_EQ(counter("fail-after"), 0) << r;
  EXPECT_NE(r.err.find("script.js:7"), std::string::npos) << "the log names the caller's line\n" << r;
  auto errs = log_messages(r.err, "error");
  EXPECT_EQ(std::count_if(errs.begin(), errs.end(),
                          [](const std::string& m) { return m.find("deliberate failure") != std::string::npos; }),
            3)
      << r;
}

TEST_F(ApiTest, CustomMetricsWithTagsAndThresholds) {
  ProcResult r;
  json exp = run_export(R"JS(
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';
const c = new Counter('my_counter');
const g = new Gauge('my_gauge');
const rt = new Rate('my_rate');
const t = new Trend('my_trend', true);
export const options = {
  iterations: 4,
  thresholds: {
    my_counter: ['count==10'],
    'my_counter{kind:a}': ['count==4'],
    my_gauge: ['value==4'],
    my_rate: ['rate==0.75'],
    my_trend: ['avg==25', 'min==10', 'max==40'],
    'my_trend{kind:b}': ['max==40', 'min==40'],
  },
};
export default function () {
  const i = __ITER + 1;            // 1..4
  c.add(1, { kind: 'a' });
  c.add(i === 4 ? 3 : 1);          // 1+1+1+3 = 6 untagged
  g.add(i);
  rt.add(i !== 2);                 // 3 of 4 true
  t.add(i * 10, { kind: i === 4 ? 'b' : 'c' });
}
)JS",
                        &r);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(metric_value(exp, "my_counter", "count"), 10) << exp["metrics"].dump();
  EXPECT_EQ(metric_value(exp, "my_counter{kind:a}", "count"), 4);
  EXPECT_EQ(metric_value(exp, "my_gauge", "value"), 4);
  EXPECT_EQ(metric_value(exp, "my_gauge", "min"), 1);
  EXPECT_EQ(metric_value(exp, "my_gauge", "max"), 4);
  EXPECT_DOUBLE_EQ(metric_value(exp, "my_rate", "value"), 0.75);
  EXPECT_EQ(metric_value(exp, "my_rate", "passes"), 3);
  EXPECT_EQ(metric_value(exp, "my_rate", "fails"), 1);
  EXPECT_DOUBLE_EQ(metric_value(exp, "my_trend", "avg"), 25);
  EXPECT_DOUBLE_EQ(metric_value(exp, "my_trend", "min"), 10);
  EXPECT_DOUBLE_EQ(metric_value(exp, "my_trend", "max"), 40);
  EXPECT_DOUBLE_EQ(metric_value(exp, "my_trend{kind:b}", "max"), 40);
  for (auto& [name, m] : exp["metrics"].items()) {
    if (!m.contains("thresholds")) continue;
    for (auto& [src, crossed] : m["thresholds"].items()) {
      EXPECT_EQ(crossed, false) << name << " " << src;
    }
  }
  // A time trend is rendered with time units in the text summary.
  EXPECT_NE(r.out.find("my_trend"), std::string::npos) << r;
  EXPECT_NE(r.out.find("avg=25ms"), std::string::npos) << r;
}

TEST_F(ApiTest, ExecutionInfoIdsAndIterationNumbers) {
  ProcResult r = run_script(R"JS(
import exec from 'k6/execution';
export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 3, iterations: 12 } } };
export default function () {
  console.log(`EXEC ${exec.vu.idInTest} ${exec.scenario.iterationInTest} ${__VU} ${__ITER} ${exec.scenario.name} ${exec.scenario.executor}`);
}
)JS");
  ASSERT_EQ(r.exit_code, 0) << r;
  std::set<long> iters, vus;
  std::map<long, std::vector<long>> per_vu_iter;
  int lines = 0;
  for (auto& m : log_messages(r.err, "info")) {
    long vu = 0, it = 0, gvu = 0, giter = 0;
    char name[64] = {0}, ex[64] = {0};
    if (std::sscanf(m.c_str(), "EXEC %ld %ld %ld %ld %63s %63s", &vu, &it, &gvu, &giter, name, ex) != 6) continue;
    lines++;
    EXPECT_TRUE(iters.insert(it).second) << "duplicate iterationInTest " << it;
    vus.insert(vu);
    EXPECT_EQ(vu, gvu) << "vu.idInTest != __VU";
    per_vu_iter[gvu].push_back(giter);
    EXPECT_STREQ(name, "s");
    EXPECT_STREQ(ex, "shared-iterations");
  }
  EXPECT_EQ(lines, 12) << r;
  ASSERT_EQ(iters.size(), 12u);
  EXPECT_EQ(*iters.begin(), 0);
  EXPECT_EQ(*iters.rbegin(), 11);
  for (long v : vus) {
    EXPECT_GE(v, 1);
    EXPECT_LE(v, 3);
  }
  for (auto& [vu, list] : per_vu_iter)
    for (size_t i = 0; i < list.size(); i++) EXPECT_EQ(list[i], static_cast<long>(i)) << "__ITER of VU " << vu;
}

TEST_F(ApiTest, ExecutionTestAbortExits108) {
  ProcResult r = run_script(R"JS(
import exec from 'k6/execution';
import http from 'k6/http';
export const options = { vus: 1, duration: '20s' };
export default function () {
  http.post(`${__ENV.BASE_URL}/counter/abort-iter/inc`);
  if (exec.scenario.iterationInTest === 2) exec.test.abort('enough');
}
export function teardown() { http.post(`${__ENV.BASE_URL}/counter/abort-teardown/inc`); }
)JS");
  EXPECT_EQ(r.exit_code, 108) << r;
  EXPECT_LT(r.seconds, 15) << r;
  EXPECT_EQ(counter("abort-iter"), 3) << r;
  // k6 runs teardown() with the global context: test.abort() does not skip it.
  EXPECT_EQ(counter("abort-teardown"), 1) << r;
  EXPECT_NE(r.err.find("enough"), std::string::npos) << r;
}

TEST_F(ApiTest, SharedArrayIsSharedAndInitOnly) {
  ProcResult r = run_script(R"JS(
import { SharedArray } from 'k6/data';
const data = new SharedArray('users', function () {
  console.log('BUILDING SHARED ARRAY');
  return [{ name: 'ann', n: 1 }, { name: 'bob', n: 2 }, { name: 'cy', n: 3 }];
});
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 3, iterations: 1 } } };
export default function () {
  console.log(`SA ${__VU} ${data.length} ${data[1].name}:${data[1].n} ${data.map((x) => x.name).join(',')}`);
  try {
    new SharedArray('late', () => [1]);
    console.log('LATE SHARED ARRAY CREATED');
  } catch (e) {
    console.log('LATE ERROR ' + e.message);
  }
  try { data[0] = 1; console.log('WRITE OK'); } catch (e) { console.log('WRITE REFUSED'); }
}
)JS");
  ASSERT_EQ(r.exit_code, 0) << r;
  auto msgs = log_messages(r.err, "info");
  std::set<std::string> vus_seen;
  int late_errors = 0, builds = 0, refused = 0;
  for (auto& m : msgs) {
    if (m.rfind("SA ", 0) == 0) {
      vus_seen.insert(m.substr(3, m.find(' ', 3) - 3));
      EXPECT_NE(m.find(" 3 bob:2 ann,bob,cy"), std::string::npos) << m;
    }
    if (m.rfind("LATE ERROR", 0) == 0) late_errors++;
    if (m == "BUILDING SHARED ARRAY") builds++;
    if (m == "WRITE REFUSED") refused++;
    EXPECT_NE(m, "LATE SHARED ARRAY CREATED");
  }
  EXPECT_EQ(vus_seen.size(), 3u) << r;
  EXPECT_EQ(late_errors, 3) << r;
  EXPECT_EQ(refused, 3) << r;
  // k6: the callback runs once, whatever the number of VUs.
  EXPECT_EQ(builds, 1) << r;
}

TEST_F(ApiTest, EnvVariablesFromFlagsAndProcessEnvironment) {
  ProcResult r = run_script(R"JS(
export const options = { iterations: 1 };
const initSeen = __ENV.FROM_FLAG;
export default function () {
  console.log(`ENV ${__ENV.FROM_FLAG} ${__ENV.FROM_PROC} ${initSeen} ${__ENV.OVERRIDE}`);
}
)JS",
                            {"-e", "FROM_FLAG=flagval", "--env", "OVERRIDE=cli"},
                            {{"FROM_PROC", "procval"}, {"OVERRIDE", "proc"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto msgs = log_messages(r.err, "info");
  ASSERT_EQ(msgs.size(), 1u) << r;
  EXPECT_EQ(msgs[0], "ENV flagval procval flagval cli");
}

// __ENV reads are cached per VU once iterations run (k6/env_object.cc): a write
// or delete through __ENV must still show at once, in every later iteration,
// with the same keys and values as before the cache.
TEST_F(ApiTest, EnvReadsFollowWritesAndDeletesAcrossIterations) {
  ProcResult r = run_script(R"JS(
export const options = { iterations: 3, vus: 1 };
export default function () {
  const seen = [__ENV.A, __ENV.A, __ENV.B, 'A' in __ENV, __ENV.MISSING];
  if (__ITER === 0) {
    __ENV.A = 'written';
  } else if (__ITER === 1) {
    seen.push(__ENV.A);
    delete __ENV.A;
    seen.push(__ENV.A, 'A' in __ENV);
    __ENV.A = { toString() { return `obj-${__ENV.B}`; } };
  }
  seen.push(__ENV.A, Object.keys(__ENV).filter((k) => k === 'A' || k === 'B').sort().join('+'));
  console.log(`ENV${__ITER} ${seen.join('|')}`);
}
)JS",
                            {"-e", "A=one", "-e", "B=two"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto msgs = log_messages(r.err, "info");
  ASSERT_EQ(msgs.size(), 3u) << r;
  EXPECT_EQ(msgs[0], "ENV0 one|one|two|true||written|A+B");
  EXPECT_EQ(msgs[1], "ENV1 written|written|two|true||written||false|obj-two|A+B");
  EXPECT_EQ(msgs[2], "ENV2 obj-two|obj-two|two|true||obj-two|A+B");
}

TEST_F(ApiTest, ConsoleLevels) {
  ProcResult r = run_script(R"JS(
export const options = { iterations: 1 };
export default function () {
  console.log('via log', { a: 1 });
  console.info('via info');
  console.warn('via warn');
  console.error('via error');
  console.debug('via debug');
}
)JS");
  ASSERT_EQ(r.exit_code, 0) << r;
  auto has = [&](const std::string& level, const std::string& msg) {
    auto v = log_messages(r.err, level);
    return std::find(v.begin(), v.end(), msg) != v.end();
  };
  EXPECT_TRUE(has("info", R"(via log {\"a\":1})") || has("info", R"(via log {"a":1})")) << r;
  EXPECT_TRUE(has("info", "via info")) << r;
  EXPECT_TRUE(has("warning", "via warn")) << r;
  EXPECT_TRUE(has("error", "via error")) << r;
  EXPECT_EQ(r.err.find("via debug"), std::string::npos) << "debug needs --verbose\n" << r;
  EXPECT_NE(r.err.find("source=console"), std::string::npos) << r;
  // Console output goes to stderr, never into the summary on stdout.
  EXPECT_EQ(r.out.find("via log"), std::string::npos) << r;

  ProcResult v = run_script(R"JS(
export const options = { iterations: 1 };
export default function () { console.debug('via debug'); }
)JS",
                            {"--verbose"});
  ASSERT_EQ(v.exit_code, 0) << v;
  auto dbg = log_messages(v.err, "debug");
  EXPECT_NE(std::find(dbg.begin(), dbg.end(), "via debug"), dbg.end()) << v;
}

TEST_F(ApiTest, ConsoleMessagesAreLogfmtEscaped) {
  // k6 (logrus text format) quotes msg values: embedded quotes and newlines are
  // escaped, so one console call is one log line.
  ProcResult r = run_script(R"JS(
export const options = { iterations: 1 };
export default function () { console.log('say "hi"\nsecond line'); }
)JS");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find(R"(msg="say \"hi\"\nsecond line")"), std::string::npos) << r;
  EXPECT_EQ(count_occurrences(r.err, "\nsecond line"), 0) << r;
}

TEST_F(ApiTest, OpenReadsLocalFilesInInitOnly) {
  dir_.write("data/users.txt", "alice\nbob\n");
  dir_.write("data/blob.bin", std::string("\x00\x01\x02\x03\xff", 5));
  ProcResult r = run_script(R"JS(
const text = open('./data/users.txt');
const bin = open('data/blob.bin', 'b');
export const options = { iterations: 1 };
export default function () {
  console.log(`OPEN ${text.split('\n').join('|')} ${bin.byteLength} ${new Uint8Array(bin)[4]}`);
  try {
    open('./data/users.txt');
    console.log('OPEN IN VU WORKED');
  } catch (e) {
    console.log('OPEN IN VU FAILED: ' + e.message);
  }
}
)JS");
  ASSERT_EQ(r.exit_code, 0) << r;
  auto msgs = log_messages(r.err, "info");
  ASSERT_GE(msgs.size(), 2u) << r;
  EXPECT_EQ(msgs[0], "OPEN alice|bob| 5 255") << r;
  EXPECT_EQ(msgs[1].rfind("OPEN IN VU FAILED: ", 0), 0u) << r;
  EXPECT_NE(msgs[1].find("init"), std::string::npos) << r;

  // A missing file fails the init context: exit 107 naming the file.
  ProcResult m = run_script(R"JS(
const x = open('./nope.txt');
export default function () {}
)JS");
  EXPECT_EQ(m.exit_code, 107) << m;
  EXPECT_NE(m.err.find("nope.txt"), std::string::npos) << m;
}

TEST_F(ApiTest, RelativeImportsOfLocalModules) {
  dir_.write("lib/math.js", R"JS(
import { twice } from './util/twice.js';
export function addThenTwice(a, b) { return twice(a + b); }
export default { name: 'math' };
)JS");
  dir_.write("lib/util/twice.js", "export const twice = (x) => x * 2;\n");
  ProcResult r = run_script(R"JS(
import math, { addThenTwice } from './lib/math.js';
export const options = { iterations: 1 };
export default function () { console.log(`IMPORT ${math.name} ${addThenTwice(2, 3)}`); }
)JS");
  ASSERT_EQ(r.exit_code, 0) << r;
  auto msgs = log_messages(r.err, "info");
  ASSERT_EQ(msgs.size(), 1u) << r;
  EXPECT_EQ(msgs[0], "IMPORT math 10");
}

TEST_F(ApiTest, ScriptGivenByAbsolutePathFromAnotherDirectory) {
  dir_.write("lib/x.js", "export const x = 'relative-to-script';\n");
  dir_.write("script.js", R"JS(
import { x } from './lib/x.js';
const t = open('./lib/x.js');
export const options = { iterations: 1 };
export default function () { console.log(`ABS ${x} ${t.length > 0}`); }
)JS");
  RunSpec spec;
  spec.args = {"run", dir_.file("script.js")};
  spec.cwd = "/";
  ProcResult r = run_spec(spec);
  ASSERT_EQ(r.exit_code, 0) << r;
  auto msgs = log_messages(r.err, "info");
  ASSERT_EQ(msgs.size(), 1u) << r;
  EXPECT_EQ(msgs[0], "ABS relative-to-script true");
}

}  // namespace
}  // namespace herd::it
