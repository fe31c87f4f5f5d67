// End-to-end tests of the test lifecycle, options/flags and executors of `herd run`.
#include "harness.h"

namespace herd::it {
namespace {

using RunTest = HerdTest;

// ---- lifecycle ----------------------------------------------------------------

TEST_F(RunTest, SetupDataReachesDefaultAndTeardownWhichRunOnce) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 3, iterations: 2 } } };
export function setup() {
  http.post(`${__ENV.BASE_URL}/counter/lc-setup/inc`);
  return { token: 'abc', n: 42, list: [1, 2] };
}
export default function (data) {
  http.post(`${__ENV.BASE_URL}/counter/lc-default/inc`);
  check(data, { 'setup data in default': (d) => d && d.token === 'abc' && d.n === 42 && d.list[1] === 2 });
}
export function teardown(data) {
  http.post(`${__ENV.BASE_URL}/counter/lc-teardown/inc`);
  console.log(`TEARDOWN ${JSON.stringify(data.n)} ${data.token}`);
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(counter("lc-setup"), 1) << r;
  EXPECT_EQ(counter("lc-teardown"), 1) << r;
  EXPECT_EQ(counter("lc-default"), 6) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 6);
  auto msgs = log_messages(r.err, "info");
  EXPECT_NE(std::find(msgs.begin(), msgs.end(), "TEARDOWN 42 abc"), msgs.end()) << r;
  // Iterations only count the default function.
  EXPECT_EQ(metric_value(exp, "iterations", "count"), 6);
}

TEST_F(RunTest, HandleSummaryWritesStdoutAndFiles) {
  std::filesystem::create_directories(dir_.file("reports"));  // k6 does not create parent directories
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
export const options = { iterations: 2 };
export default function () { http.get(`${__ENV.BASE_URL}/`); }
export function handleSummary(data) {
  return {
    stdout: `CUSTOM SUMMARY iterations=${data.metrics.iterations.values.count}\n`,
    'reports/summary.json': JSON.stringify(data),
    'plain.txt': 'plain text',
  };
}
)JS");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("CUSTOM SUMMARY iterations=2"), std::string::npos) << r;
  // The default text summary is replaced.
  EXPECT_EQ(r.out.find("http_req_duration"), std::string::npos) << r;
  EXPECT_EQ(dir_.read("plain.txt"), "plain text");
  ASSERT_TRUE(dir_.exists("reports/summary.json")) << r;
  json d = json::parse(dir_.read("reports/summary.json"), nullptr, false);
  EXPECT_EQ(d["metrics"]["iterations"]["values"]["count"], 2) << d.dump();
}

TEST_F(RunTest, HandleSummaryDataShape) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 2, thresholds: { http_req_duration: ['p(95)<10000'] } };
export default function () { check(http.get(`${__ENV.BASE_URL}/`), { ok: (r) => r.status === 200 }); }
export function handleSummary(data) { return { 'summary.json': JSON.stringify(data) }; }
)JS");
  ASSERT_EQ(r.exit_code, 0) << r;
  json d = json::parse(dir_.read("summary.json"), nullptr, false);
  ASSERT_FALSE(d.is_discarded()) << r;
  ASSERT_TRUE(d.contains("metrics") && d.contains("root_group") && d.contains("state") && d.contains("options"))
      << d.dump();
  const json& dur = d["metrics"]["http_req_duration"];
  EXPECT_EQ(dur["type"], "trend");
  EXPECT_EQ(dur["contains"], "time");
  for (const char* k : {"avg", "min", "med", "max", "p(90)", "p(95)"}) EXPECT_TRUE(dur["values"].contains(k)) << k;
  EXPECT_EQ(dur["thresholds"]["p(95)<10000"]["ok"], true);
  EXPECT_EQ(d["metrics"]["http_reqs"]["type"], "counter");
  EXPECT_EQ(d["metrics"]["http_reqs"]["values"]["count"], 2);
  EXPECT_EQ(d["metrics"]["checks"]["type"], "rate");
  EXPECT_EQ(d["metrics"]["checks"]["values"]["passes"], 2);
  EXPECT_EQ(d["root_group"]["checks"][0]["name"], "ok");
  EXPECT_TRUE(d["state"].contains("testRunDurationMs"));
  // No default summary on stdout when handleSummary returns no stdout key.
  EXPECT_EQ(r.out.find("http_reqs"), std::string::npos) << r;
}

// ---- options & flags -----------------------------------------------------------

TEST_F(RunTest, VusAndDurationFlags) {
  ProcResult r;
  json exp = run_export(R"JS(
import { sleep } from 'k6';
export default function () { sleep(0.1); }
)JS",
                        &r, {"-u", "3", "-d", "1500ms"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(metric_value(exp, "vus_max", "value"), 3) << exp["metrics"].dump();
  EXPECT_EQ(metric_value(exp, "vus", "max"), 3) << exp["metrics"].dump();
  double iters = metric_value(exp, "iterations", "count");
  EXPECT_GE(iters, 30);  // 3 VUs x ~15 iterations
  EXPECT_LE(iters, 48);
  EXPECT_GE(r.seconds, 1.4);
  EXPECT_LT(r.seconds, 10);
}

TEST_F(RunTest, IterationsFlagOverridesScript) {
  ProcResult r;
  json exp = run_export(R"JS(
export const options = { vus: 2, iterations: 50 };
export default function () {}
)JS",
                        &r, {"-i", "7"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(metric_value(exp, "iterations", "count"), 7) << r;
  EXPECT_EQ(metric_value(exp, "vus_max", "value"), 2) << r;
}

TEST_F(RunTest, StageFlagsRampVus) {
  ProcResult r;
  json exp = run_export(R"JS(
import { sleep } from 'k6';
import exec from 'k6/execution';
export default function () { console.log(`STAGE ${exec.scenario.executor}`); sleep(0.1); }
)JS",
                        &r, {"-s", "1s:4", "--stage", "1s:0"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(metric_value(exp, "vus_max", "value"), 4) << exp["metrics"].dump();
  EXPECT_GE(metric_value(exp, "iterations", "count"), 5);
  EXPECT_GE(r.seconds, 1.9);
  EXPECT_LT(r.seconds, 12);
  auto msgs = log_messages(r.err, "info");
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(msgs[0], "STAGE ramping-vus");
}

TEST_F(RunTest, GlobalTagsFromFlagAndOptions) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
export const options = { iterations: 2, tags: { team: 'core' } };
export default function () { http.get(`${__ENV.BASE_URL}/`); }
)JS",
                            {"--tag", "env=staging", "--out", "json=out.json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::istringstream in(dir_.read("out.json"));
  std::string line;
  int points = 0, reqs = 0, metrics = 0;
  std::set<std::string> names;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    std::string type = j.value("type", "");
    if (type == "Metric") {
      metrics++;
      EXPECT_TRUE(j["data"].contains("name") && j["data"].contains("type") && j["data"].contains("contains")) << line;
      EXPECT_EQ(j["data"]["name"], j["metric"]);
      names.insert(j.value("metric", ""));
      continue;
    }
    ASSERT_EQ(type, "Point") << line;
    points++;
    EXPECT_TRUE(j["data"]["time"].is_string()) << line;
    EXPECT_TRUE(j["data"]["value"].is_number()) << line;
    EXPECT_TRUE(names.count(j.value("metric", ""))) << "Point before its Metric line: " << line;
    if (j["metric"] == "http_reqs") {
      reqs++;
      EXPECT_EQ(j["data"]["tags"].value("env", ""), "staging") << line;
      EXPECT_EQ(j["data"]["value"], 1);
    }
  }
  EXPECT_EQ(reqs, 2);
  EXPECT_GE(metrics, 5);
  EXPECT_GT(points, 10);
  for (const char* m : {"http_reqs", "http_req_duration", "iterations", "iteration_duration", "data_sent"})
    EXPECT_TRUE(names.count(m)) << m;

  // Without --tag, options.tags apply (a --tag flag replaces them, as in k6).
  r = run_script(R"JS(
import http from 'k6/http';
export const options = { iterations: 1, tags: { team: 'core' } };
export default function () { http.get(`${__ENV.BASE_URL}/`); }
)JS",
                 {"--out", "json=out2.json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::istringstream in2(dir_.read("out2.json"));
  int tagged = 0;
  while (std::getline(in2, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.value("type", "") == "Point" && j.value("metric", "") == "http_reqs") {
      EXPECT_EQ(j["data"]["tags"].value("team", ""), "core") << line;
      tagged++;
    }
  }
  EXPECT_EQ(tagged, 1);
}

TEST_F(RunTest, EnvIsAvailableInTheInitContext) {
  // k6 scripts commonly read __ENV at the top level: for options and for
  // constants used by setup()/teardown() as well as by the default function.
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
const BASE = __ENV.BASE_URL;
export const options = { iterations: Number(__ENV.ITERS || 1) };
export function setup() { http.post(`${BASE}/counter/initenv-setup/inc`); return { b: BASE }; }
export default function (d) { http.post(`${BASE}/counter/initenv-default/inc`); }
export function teardown(d) { http.post(`${BASE}/counter/initenv-teardown/inc`); }
)JS",
                        &r, {"-e", "ITERS=3"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(metric_value(exp, "iterations", "count"), 3) << "options computed from __ENV\n" << r;
  EXPECT_EQ(counter("initenv-default"), 3) << r;
  EXPECT_EQ(counter("initenv-setup"), 1) << r;
  EXPECT_EQ(counter("initenv-teardown"), 1) << r;
}

TEST_F(RunTest, SummaryExportHasK6LegacyShape) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check, group } from 'k6';
export const options = { iterations: 3, thresholds: { http_req_duration: ['p(95)<10000'], http_req_failed: ['rate>0.5'] } };
export default function () {
  group('g', () => { check(http.get(`${__ENV.BASE_URL}/`), { 'is 200': (r) => r.status === 200 }); });
}
)JS",
                        &r);
  EXPECT_EQ(r.exit_code, 99) << r;  // http_req_failed rate>0.5 fails
  ASSERT_TRUE(exp.is_object()) << r;
  ASSERT_TRUE(exp.contains("root_group") && exp.contains("metrics")) << exp.dump();
  const json& root = exp["root_group"];
  EXPECT_EQ(root["name"], "");
  EXPECT_EQ(root["path"], "");
  EXPECT_TRUE(root.contains("id"));
  EXPECT_TRUE(root["groups"].is_object());
  EXPECT_TRUE(root["checks"].is_object());
  EXPECT_EQ(root["groups"]["g"]["checks"]["is 200"]["passes"], 3) << root.dump();
  const json& m = exp["metrics"];
  // Counter: count + rate. Trend: the trend stats. Rate: value/passes/fails. Gauge: value/min/max.
  EXPECT_TRUE(m["http_reqs"].contains("count") && m["http_reqs"].contains("rate")) << m["http_reqs"].dump();
  for (const char* k : {"avg", "min", "med", "max", "p(90)", "p(95)"})
    EXPECT_TRUE(m["http_req_duration"].contains(k)) << k;
  EXPECT_FALSE(m["http_req_duration"].contains("values"));
  EXPECT_TRUE(m["checks"].contains("value") && m["checks"].contains("passes") && m["checks"].contains("fails"));
  EXPECT_TRUE(m["vus_max"].contains("value") && m["vus_max"].contains("min") && m["vus_max"].contains("max"));
  // Legacy thresholds map: true means the threshold was crossed.
  EXPECT_EQ(m["http_req_duration"]["thresholds"]["p(95)<10000"], false);
  EXPECT_EQ(m["http_req_failed"]["thresholds"]["rate>0.5"], true);
}

TEST_F(RunTest, ChecksLandInTheirOwnSeriesWhateverTheirTagsAndCount) {
  // check() keeps each name's tag set per VU while the base tags stay the same
  // (VuState::check_tags, at most 256 names): the same name at the root and in a
  // group, before and after a VU tag is set, with extra tags, and more names than
  // the cache holds must each count in their own series, as before the cache.
  ProcResult r;
  json exp = run_export(R"JS(
import { check, group } from 'k6';
import exec from 'k6/execution';
export const options = { iterations: 4, vus: 1 };
export default function () {
  check(1, { same: () => true });
  group('g', () => { check(1, { same: () => false }); });
  check(1, { same: () => true });
  if (exec.vu.iterationInScenario >= 2) exec.vu.tags.phase = 'late';
  check(1, { same: (v) => v === 1 }, { extra: 'x' });
  for (let i = 0; i < 300; i++) check(1, { [`n${i}`]: () => i % 2 === 0 });
}
)JS",
                        &r, {"--out", "json=checks.json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const json& rg = exp["root_group"];
  EXPECT_EQ(rg["checks"]["same"]["passes"], 12) << rg.dump();
  EXPECT_EQ(rg["checks"]["same"]["fails"], 0);
  EXPECT_EQ(rg["groups"]["g"]["checks"]["same"]["fails"], 4);
  EXPECT_EQ(rg["groups"]["g"]["checks"]["same"]["passes"], 0);
  EXPECT_EQ(rg["checks"].size(), 301u);
  for (int i : {0, 1, 255, 256, 298, 299}) {
    const json& c = rg["checks"]["n" + std::to_string(i)];
    EXPECT_EQ(c["passes"], i % 2 == 0 ? 4 : 0) << i << " " << c.dump();
    EXPECT_EQ(c["fails"], i % 2 == 0 ? 0 : 4) << i << " " << c.dump();
  }
  std::istringstream in(dir_.read("checks.json"));
  std::string line;
  int late = 0, extra = 0;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.value("type", "") != "Point" || j.value("metric", "") != "checks") continue;
    const json& t = j["data"]["tags"];
    if (t.value("check", "") != "same") continue;
    late += t.value("phase", "") == "late";
    extra += t.value("extra", "") == "x";
  }
  EXPECT_EQ(late, 5);   // iteration 2: the check after the tag is set; iteration 3: all four
  EXPECT_EQ(extra, 4);  // one per iteration
}

TEST_F(RunTest, NoSummarySuppressesTheTextSummary) {
  const char* script = R"JS(
import http from 'k6/http';
export const options = { iterations: 1 };
export default function () { http.get(`${__ENV.BASE_URL}/`); }
)JS";
  ProcResult with = run_script(script);
  ASSERT_EQ(with.exit_code, 0) << with;
  EXPECT_NE(with.out.find("http_reqs"), std::string::npos) << with;
  ProcResult without = run_script(script, {"--no-summary"});
  ASSERT_EQ(without.exit_code, 0) << without;
  EXPECT_EQ(without.out.find("http_reqs"), std::string::npos) << without;
  EXPECT_EQ(without.err.find("http_reqs"), std::string::npos) << without;
}

TEST_F(RunTest, SummaryModes) {
  const char* script = R"JS(
import http from 'k6/http';
import { check, group } from 'k6';
export const options = { iterations: 2 };
export default function () {
  group('grp', () => { check(http.get(`${__ENV.BASE_URL}/`), { 'status ok': (r) => r.status === 200 }); });
}
)JS";
  ProcResult compact = run_script(script);
  ASSERT_EQ(compact.exit_code, 0) << compact;
  EXPECT_NE(compact.out.find("TOTAL RESULTS"), std::string::npos) << compact;
  EXPECT_NE(compact.out.find("http_req_duration"), std::string::npos) << compact;
  EXPECT_EQ(compact.out.find("http_req_waiting"), std::string::npos) << "compact hides the timing breakdown\n"
                                                                     << compact;

  ProcResult full = run_script(script, {"--summary-mode", "full"});
  ASSERT_EQ(full.exit_code, 0) << full;
  EXPECT_NE(full.out.find("http_req_waiting"), std::string::npos) << full;
  EXPECT_NE(full.out.find("GROUP: grp"), std::string::npos) << full;

  ProcResult legacy = run_script(script, {"--summary-mode=legacy"});
  ASSERT_EQ(legacy.exit_code, 0) << legacy;
  EXPECT_EQ(legacy.out.find("TOTAL RESULTS"), std::string::npos) << legacy;
  EXPECT_NE(legacy.out.find("█ grp"), std::string::npos) << legacy;
  EXPECT_NE(legacy.out.find("✓ status ok"), std::string::npos) << legacy;
  EXPECT_NE(legacy.out.find("http_req_waiting"), std::string::npos) << legacy;
  EXPECT_NE(legacy.out.find("checks"), std::string::npos) << legacy;

  ProcResult bad = run_script(script, {"--summary-mode", "fancy"});
  EXPECT_EQ(bad.exit_code, 104) << bad;
}

TEST_F(RunTest, QuietStillPrintsTheSummary) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
export const options = { iterations: 1 };
export default function () { http.get(`${__ENV.BASE_URL}/`); }
)JS",
                            {"--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("http_reqs"), std::string::npos) << r;
  EXPECT_EQ(r.err.find("running ("), std::string::npos) << r;
}

TEST_F(RunTest, NoThresholdsIgnoresFailingThresholds) {
  const char* script = R"JS(
export const options = { iterations: 1, thresholds: { iterations: ['count>100'] } };
export default function () {}
)JS";
  ProcResult failing = run_script(script);
  EXPECT_EQ(failing.exit_code, 99) << failing;
  ProcResult ignored = run_script(script, {"--no-thresholds"});
  EXPECT_EQ(ignored.exit_code, 0) << ignored;
}

TEST_F(RunTest, SummaryTrendStats) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
export const options = { iterations: 3 };
export default function () { http.get(`${__ENV.BASE_URL}/`); }
)JS",
                        &r, {"--summary-trend-stats", "avg,p(99),count,p(99.9)"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const json& d = exp["metrics"]["http_req_duration"];
  EXPECT_TRUE(d.contains("avg")) << d.dump();
  EXPECT_TRUE(d.contains("p(99)")) << d.dump();
  EXPECT_TRUE(d.contains("p(99.9)")) << d.dump();
  EXPECT_EQ(d.value("count", -1.0), 3) << d.dump();
  EXPECT_FALSE(d.contains("med")) << d.dump();
  EXPECT_FALSE(d.contains("p(95)")) << d.dump();
  EXPECT_NE(r.out.find("p(99)="), std::string::npos) << r;
  EXPECT_EQ(r.out.find("med="), std::string::npos) << r;
}

TEST_F(RunTest, EnvironmentVariablesAndPrecedence) {
  const char* script = R"JS(
export const options = { vus: 1, iterations: 2 };
export default function () {}
)JS";
  ProcResult r;
  json exp = run_export(script, &r, {}, {{"K6_ITERATIONS", "5"}, {"K6_VUS", "3"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(metric_value(exp, "iterations", "count"), 5) << "env over script";
  EXPECT_EQ(metric_value(exp, "vus_max", "value"), 3) << "env over script";

  exp = run_export(script, &r, {"-i", "4", "-u", "2"}, {{"K6_ITERATIONS", "5"}, {"K6_VUS", "3"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(metric_value(exp, "iterations", "count"), 4) << "CLI over env";
  EXPECT_EQ(metric_value(exp, "vus_max", "value"), 2) << "CLI over env";

  exp = run_export(script, &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(metric_value(exp, "iterations", "count"), 2) << "script alone";
}

TEST_F(RunTest, EnvSummaryExportAndNoSummary) {
  const char* script = R"JS(
export const options = { iterations: 2 };
export default function () {}
)JS";
  ProcResult r = run_script(script, {}, {{"K6_SUMMARY_EXPORT", "env-export.json"}, {"K6_NO_SUMMARY", "true"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out.find("iterations"), std::string::npos) << r;
  ASSERT_TRUE(dir_.exists("env-export.json")) << r;
  json exp = json::parse(dir_.read("env-export.json"), nullptr, false);
  EXPECT_EQ(metric_value(exp, "iterations", "count"), 2);
}

// ---- executors -----------------------------------------------------------------

TEST_F(RunTest, SharedIterationsRunsExactlyTheCount) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 4, iterations: 17 } } };
export default function () { http.post(`${__ENV.BASE_URL}/counter/shared/inc`); }
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(counter("shared"), 17);
  EXPECT_EQ(metric_value(exp, "iterations", "count"), 17);
  EXPECT_EQ(metric_value(exp, "vus_max", "value"), 4);
}

// The iteration metrics go to series cached per VU (engine_iteration.cc) while its
// tags stay the same: a VU tag set during an iteration must still tag that
// iteration's samples, each in its own series, with or without a tag filter.
// Without outputs, check() and a custom metric's add() without tags go straight
// to the series each VU found for them (VuState::check_series, metric_series; at
// most 64 each): a group, a VU tag set mid-test, extra tags and more check names
// than that must still land every sample in its own series.
TEST_F(RunTest, ChecksAndCustomMetricsWithoutOutputsLandInTheirOwnSeries) {
  ProcResult r;
  json exp = run_export(R"JS(
import { check, group } from 'k6';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
const hits = new Counter('hits');
const lat = new Trend('lat');
export const options = {
  iterations: 4, vus: 1,
  thresholds: { 'checks{phase:late}': ['rate>=0'], 'checks{extra:x}': ['rate>=0'], 'checks{check:n99}': ['rate>=0'],
                'hits{phase:late}': ['count>=0'], 'hits{extra:y}': ['count>=0'], 'lat{phase:late}': ['max>=0'] },
};
export default function () {
  const it = exec.vu.iterationInScenario;
  check(1, { same: () => true });
  group('g', () => { check(1, { same: () => false }); hits.add(1); });
  check(1, { same: () => true });
  hits.add(2);
  lat.add(it);
  if (it >= 2) exec.vu.tags.phase = 'late';
  check(1, { same: (v) => v === 1 }, { extra: 'x' });
  hits.add(5, { extra: 'y' });
  hits.add(7);
  lat.add(10 + it);
  for (let i = 0; i < 100; i++) check(1, { [`n${i}`]: () => i % 2 === 0 });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  const json& rg = exp["root_group"];
  EXPECT_EQ(rg["checks"]["same"]["passes"], 12) << rg.dump();
  EXPECT_EQ(rg["checks"]["same"]["fails"], 0);
  EXPECT_EQ(rg["groups"]["g"]["checks"]["same"]["fails"], 4);
  EXPECT_EQ(rg["checks"].size(), 101u);
  for (int i : {0, 1, 63, 64, 98, 99}) {
    const json& c = rg["checks"]["n" + std::to_string(i)];
    EXPECT_EQ(c["passes"], i % 2 == 0 ? 4 : 0) << i << " " << c.dump();
    EXPECT_EQ(c["fails"], i % 2 == 0 ? 0 : 4) << i << " " << c.dump();
  }
  const json& m = exp["metrics"];
  EXPECT_EQ(metric_value(exp, "checks", "passes"), 212) << m["checks"].dump();
  EXPECT_EQ(metric_value(exp, "checks", "fails"), 204);
  // after the tag is set: 101 checks (51 pass) in iteration 2, 104 (53 pass) in iteration 3
  EXPECT_EQ(metric_value(exp, "checks{phase:late}", "passes"), 104) << m.dump();
  EXPECT_EQ(metric_value(exp, "checks{phase:late}", "fails"), 101);
  EXPECT_EQ(metric_value(exp, "checks{extra:x}", "passes"), 4);
  EXPECT_EQ(metric_value(exp, "checks{check:n99}", "fails"), 4);
  EXPECT_EQ(metric_value(exp, "hits", "count"), 60);
  EXPECT_EQ(metric_value(exp, "hits{phase:late}", "count"), 27);
  EXPECT_EQ(metric_value(exp, "hits{extra:y}", "count"), 20);
  EXPECT_EQ(metric_value(exp, "lat", "min"), 0);
  EXPECT_EQ(metric_value(exp, "lat", "max"), 13);
  EXPECT_EQ(metric_value(exp, "lat{phase:late}", "min"), 3);
  EXPECT_EQ(metric_value(exp, "lat{phase:late}", "max"), 13);
}

TEST_F(RunTest, IterationMetricsFollowTheVuTagsOfEachIteration) {
  for (bool filtered : {false, true}) {
    ProcResult r;
    std::vector<std::string> args;
    if (filtered) args = {"--system-tags", "scenario"};
    json exp = run_export(R"JS(
import exec from 'k6/execution';
export const options = {
  scenarios: { s: { executor: 'per-vu-iterations', vus: 1, iterations: 5 } },
  thresholds: {
    'iterations{par:even}': ['count==3'],
    'iterations{par:odd}': ['count==2'],
    'iteration_duration{par:odd}': ['max>=0'],
  },
};
export default function () { exec.vu.metrics.tags.par = __ITER % 2 === 0 ? 'even' : 'odd'; }
)JS",
                          &r, args);
    ASSERT_EQ(r.exit_code, 0) << "filtered " << filtered << "\n" << r;
    EXPECT_EQ(metric_value(exp, "iterations", "count"), 5) << r;
  }
}

TEST_F(RunTest, PerVuIterationsRunsVusTimesIterations) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 3, iterations: 4 } } };
export default function () { http.post(`${__ENV.BASE_URL}/counter/pervu-${__VU}/inc`); }
)JS");
  ASSERT_EQ(r.exit_code, 0) << r;
  for (int vu = 1; vu <= 3; vu++) EXPECT_EQ(counter("pervu-" + std::to_string(vu)), 4) << "VU " << vu;
  EXPECT_EQ(counter("pervu-4"), 0);
}

TEST_F(RunTest, ConstantVusRunsForTheDuration) {
  ProcResult r;
  json exp = run_export(R"JS(
import { sleep } from 'k6';
import exec from 'k6/execution';
export const options = { scenarios: { c: { executor: 'constant-vus', vus: 2, duration: '1s' } } };
export default function () { sleep(0.2); }
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  double iters = metric_value(exp, "iterations", "count");
  EXPECT_GE(iters, 8);  // 2 VUs x 5
  EXPECT_LE(iters, 12);
  EXPECT_EQ(metric_value(exp, "vus_max", "value"), 2);
  EXPECT_GE(r.seconds, 0.95);
  EXPECT_LT(r.seconds, 8);
}

TEST_F(RunTest, RampingVusFollowsStages) {
  ProcResult r = run_script(R"JS(
import { sleep } from 'k6';
import exec from 'k6/execution';
export const options = {
  scenarios: { r: { executor: 'ramping-vus', startVUs: 0, gracefulRampDown: '0s',
                    stages: [{ duration: '1s', target: 4 }, { duration: '500ms', target: 4 }, { duration: '1s', target: 0 }] } },
};
export default function () {
  console.log(`RAMP ${Math.round(exec.instance.currentTestRunDuration)} ${exec.instance.vusActive}`);
  sleep(0.1);
}
)JS",
                            {"--summary-export", "export.json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  json exp = json::parse(dir_.read("export.json"), nullptr, false);
  EXPECT_EQ(metric_value(exp, "vus_max", "value"), 4);
  // Early on few VUs are active, in the plateau all 4.
  int early_max = 0, plateau_max = 0;
  for (auto& m : log_messages(r.err, "info")) {
    long t = 0, active = 0;
    if (std::sscanf(m.c_str(), "RAMP %ld %ld", &t, &active) != 2) continue;
    if (t < 300) early_max = std::max<int>(early_max, static_cast<int>(active));
    if (t > 1100 && t < 1450) plateau_max = std::max<int>(plateau_max, static_cast<int>(active));
  }
  EXPECT_LE(early_max, 2) << r;
  EXPECT_EQ(plateau_max, 4) << r;
  EXPECT_GE(r.seconds, 2.4);
  EXPECT_LT(r.seconds, 12);
}

}  // namespace
}  // namespace herd::it

namespace herd::it {
namespace {

TEST_F(RunTest, MoreVusThanSharedIterationsIsAnInvalidConfig) {
  // k6: "the number of iterations (2) can't be less than the number of VUs (5)".
  ProcResult r = run_script(R"JS(
export default function () {}
)JS",
                            {"-u", "5", "-i", "2"});
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("iterations"), std::string::npos) << r;
}

TEST_F(RunTest, AbortInSetupExits108) {
  ProcResult r = run_script(R"JS(
import exec from 'k6/execution';
import http from 'k6/http';
export const options = { iterations: 3 };
export function setup() { exec.test.abort('no data'); }
export default function () { http.post(`${__ENV.BASE_URL}/counter/after-setup-abort/inc`); }
)JS");
  EXPECT_EQ(r.exit_code, 108) << r;
  EXPECT_EQ(counter("after-setup-abort"), 0) << r;
  EXPECT_NE(r.err.find("no data"), std::string::npos) << r;
}

TEST_F(RunTest, IncludeSystemEnvVarsFalseHidesTheProcessEnvironment) {
  ProcResult r = run_script(R"JS(
export const options = { iterations: 1 };
export default function () { console.log(`SYS ${__ENV.FROM_PROC} ${__ENV.FROM_FLAG}`); }
)JS",
                            {"--include-system-env-vars=false", "-e", "FROM_FLAG=x"}, {{"FROM_PROC", "p"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto msgs = log_messages(r.err, "info");
  ASSERT_EQ(msgs.size(), 1u) << r;
  EXPECT_EQ(msgs[0], "SYS undefined x");
}

}  // namespace
}  // namespace herd::it
