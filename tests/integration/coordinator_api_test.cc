// What a program watching a distributed test reads without parsing logs
// (the Kubernetes operator): the coordinator's control API on the merged
// results (`herd coordinator --address`, GET /v1/summary, --linger) and the
// one-line result files of `herd coordinator --result-file` and
// `herd inspect --result-file`. Real runner and coordinator processes on loopback.
#include "live_process.h"

namespace herd::it {
namespace {

/// herd in the background, its output collected while it runs (live_process.h).
class LiveProcess : public BackgroundProcess {
 public:
  LiveProcess(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
              const std::string& cwd)
      : BackgroundProcess(herd_binary(), args, env, cwd) {}
};

const std::string kStop = R"({"data":{"type":"status","id":"default","attributes":{"stopped":true}}})";

class CoordinatorApiTest : public HerdTest {
 protected:
  /// Runner i of n of `script` (in the temp dir) on 127.0.0.1:port, as the operator starts them.
  std::unique_ptr<LiveProcess> start_runner(int i, int n, std::uint16_t port,
                                            std::map<std::string, std::string> env = {}) {
    auto bound = [n](int k) {
      return k == 0 ? std::string("0") : k == n ? std::string("1") : std::to_string(k) + "/" + std::to_string(n);
    };
    std::string sequence = "0";
    for (int k = 1; k <= n; ++k) sequence += "," + bound(k);
    env.emplace("BASE_URL", base_url());
    return std::make_unique<LiveProcess>(
        std::vector<std::string>{"run", "--paused", "--linger", "--no-setup", "--no-teardown", "--no-thresholds",
                                 "--address", "127.0.0.1:" + std::to_string(port), "--execution-segment",
                                 bound(i) + ":" + bound(i + 1), "--execution-segment-sequence", sequence, "-q",
                                 "--no-summary", "script.js"},
        env, dir_.path());
  }

  /// `herd coordinator --runners ... --script script.js [extra]`.
  std::unique_ptr<LiveProcess> start_coordinator(const std::vector<std::uint16_t>& ports,
                                                 const std::vector<std::string>& extra) {
    std::string runners;
    for (auto p : ports) runners += (runners.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(p);
    std::vector<std::string> args{"coordinator", "--runners", runners, "--script", "script.js"};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<LiveProcess>(args, std::map<std::string, std::string>{{"BASE_URL", base_url()}},
                                         dir_.path());
  }

  /// The port of a "control API listening on http://127.0.0.1:PORT" line (0 if none within 20 s).
  static std::uint16_t api_port(const LiveProcess& p) {
    std::string port = p.wait_for(std::regex(R"(control API listening on http://127\.0\.0\.1:(\d+))"), 20s);
    return port.empty() ? 0 : static_cast<std::uint16_t>(std::stoi(port));
  }

  static json get_json(std::uint16_t port, const std::string& path, int* status = nullptr) {
    std::string body;
    int st = http_call(port, "GET", path, "", &body);
    if (status) *status = st;
    return json::parse(body, nullptr, false);
  }

  /// Polls /v1/status until it says 9 (Ended); returns its attributes (null after `timeout`).
  /// `seen` collects every status number observed.
  static json wait_ended(std::uint16_t port, std::chrono::milliseconds timeout, std::set<int>* seen = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      json s = get_json(port, "/v1/status");
      if (s.is_object() && s.contains("data")) {
        json a = s["data"]["attributes"];
        if (seen) seen->insert(a.value("status", -1));
        if (a.value("status", -1) == 9) return a;
      }
      std::this_thread::sleep_for(50ms);
    }
    return json();
  }

  json read_json_file(const std::string& name) { return json::parse(dir_.read(name), nullptr, false); }
};

const char* kPassingScript = R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = {
  scenarios: { s: { executor: 'shared-iterations', vus: 4, iterations: 200, maxDuration: '60s' } },
  thresholds: { http_req_duration: ['p(95)<5000'], 'http_reqs{status:200}': ['count>=200'], checks: ['rate==1'] },
};
export default function () {
  const r = http.get(`${__ENV.BASE_URL}/`);
  check(r, { 'status is 200': (r) => r.status === 200 });
}
)JS";

TEST_F(CoordinatorApiTest, MergedResultsServedThenLingersUntilStopped) {
  dir_.write("script.js", kPassingScript);
  std::uint16_t p1 = closed_port(), p2 = closed_port();
  // The coordinator starts first (as a pod may) and keeps retrying the runners.
  auto coord = start_coordinator({p1, p2}, {"--address", "127.0.0.1:0", "--linger", "--result-file", "result.json",
                                            "--ready-timeout", "30s", "--summary-export", "export.json"});
  std::uint16_t port = api_port(*coord);
  ASSERT_NE(port, 0) << *coord;
  int st = 0;
  json early = get_json(port, "/v1/summary", &st);
  EXPECT_EQ(st, 404) << early.dump();
  EXPECT_NE(early.dump().find("no summary yet"), std::string::npos) << early.dump();
  json status0 = get_json(port, "/v1/status");
  EXPECT_LE(status0["data"]["attributes"].value("status", 99), 3) << status0.dump();
  std::this_thread::sleep_for(1500ms);
  ASSERT_TRUE(coord->running()) << *coord;
  auto r1 = start_runner(0, 2, p1);
  auto r2 = start_runner(1, 2, p2);

  std::set<int> seen;
  json ended = wait_ended(port, 60s, &seen);
  ASSERT_TRUE(ended.is_object()) << *coord;
  EXPECT_EQ(ended["exit-code"], 0) << ended.dump();
  EXPECT_EQ(ended["running"], false);
  EXPECT_EQ(ended["tainted"], false);

  json s = get_json(port, "/v1/summary", &st);
  ASSERT_EQ(st, 200) << s.dump();
  EXPECT_EQ(s["exitCode"], 0);
  EXPECT_EQ(s["result"], "passed");
  EXPECT_EQ(s["partial"], false);
  EXPECT_EQ(s["message"], "");
  EXPECT_EQ(s["metrics"]["iterations"], 200) << s["metrics"].dump();
  EXPECT_EQ(s["metrics"]["requests"], 200);
  EXPECT_EQ(s["metrics"]["failureRate"], 0);
  EXPECT_GT(s["metrics"]["p95Ms"].get<double>(), 0);
  EXPECT_GE(s["metrics"]["p99Ms"].get<double>(), s["metrics"]["p95Ms"].get<double>());
  EXPECT_EQ(s["metrics"]["vusMax"], 4);
  EXPECT_GT(s["metrics"]["durationMs"].get<double>(), 0);
  ASSERT_EQ(s["thresholds"].size(), 3u) << s["thresholds"].dump();
  for (const auto& t : s["thresholds"]) EXPECT_EQ(t["ok"], true) << t.dump();
  EXPECT_NE(s["thresholds"].dump().find(R"({"expression":"p(95)<5000","metric":"http_req_duration","ok":true})"),
            std::string::npos)
      << s["thresholds"].dump();
  std::string text = s["text"];
  EXPECT_NE(coord->out().find(text), std::string::npos) << "the text is the summary printed\n" << text << *coord;
  EXPECT_NE(text.find("http_reqs"), std::string::npos);
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << "no ANSI colours";
  EXPECT_EQ(s["data"], read_json_file("export.json")) << "data is the --summary-export JSON";
  EXPECT_EQ(s["data"]["metrics"]["iterations"]["count"], 200);

  // The other endpoints serve the merged view.
  json it = get_json(port, "/v1/metrics/iterations");
  EXPECT_EQ(it["data"]["attributes"]["sample"]["count"], 200) << it.dump();
  json dur = get_json(port, "/v1/metrics/http_req_duration");
  EXPECT_EQ(dur["data"]["attributes"]["tainted"], false) << dur.dump();
  json snap = get_json(port, "/v1/snapshot");
  EXPECT_EQ(snap["version"], 1);
  std::string body;
  EXPECT_EQ(http_call(port, "POST", "/v1/setup", "", &body), 501) << body;

  // The result file: the summary without text and data, one line.
  std::string raw = dir_.read("result.json");
  EXPECT_LT(raw.size(), 4096u);
  EXPECT_EQ(std::count(raw.begin(), raw.end(), '\n'), 1) << raw;
  json f = json::parse(raw, nullptr, false);
  json expected = s;
  expected.erase("text");
  expected.erase("data");
  EXPECT_EQ(f, expected);

  // It lingers until stopped through its API, then exits with the test's code.
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(coord->running()) << *coord;
  EXPECT_EQ(http_call(port, "PATCH", "/v1/status", kStop, &body), 200) << body;
  EXPECT_EQ(coord->wait_exit(10s), 0) << *coord;
  EXPECT_EQ(r1->wait_exit(15s), 0) << *r1;
  EXPECT_EQ(r2->wait_exit(15s), 0) << *r2;
  EXPECT_TRUE(seen.count(9));
  EXPECT_EQ(served(), 200u);
}

TEST_F(CoordinatorApiTest, FailingThresholdIsFailed99) {
  dir_.write("script.js", R"JS(
import http from 'k6/http';
export const options = {
  scenarios: { s: { executor: 'shared-iterations', vus: 2, iterations: 40 } },
  thresholds: { http_reqs: ['count<30'], iterations: ['count==40'] },
};
export default function () { http.get(`${__ENV.BASE_URL}/`); }
)JS");
  std::uint16_t p1 = closed_port(), p2 = closed_port();
  auto r1 = start_runner(0, 2, p1);
  auto r2 = start_runner(1, 2, p2);
  auto coord = start_coordinator({p1, p2}, {"--address", "127.0.0.1:0", "--linger", "--result-file", "result.json"});
  std::uint16_t port = api_port(*coord);
  ASSERT_NE(port, 0) << *coord;
  json ended = wait_ended(port, 60s);
  ASSERT_TRUE(ended.is_object()) << *coord;
  EXPECT_EQ(ended["exit-code"], 99);
  EXPECT_EQ(ended["tainted"], true);
  json s = get_json(port, "/v1/summary");
  EXPECT_EQ(s["exitCode"], 99);
  EXPECT_EQ(s["result"], "failed");
  EXPECT_EQ(s["metrics"]["iterations"], 40);
  EXPECT_NE(s["message"].get<std::string>().find("thresholds on metrics have been crossed"), std::string::npos);
  EXPECT_EQ(s["thresholds"], json::parse(R"([{"metric":"http_reqs","expression":"count<30","ok":false},
                                             {"metric":"iterations","expression":"count==40","ok":true}])"));
  json f = read_json_file("result.json");
  EXPECT_EQ(f["result"], "failed");
  EXPECT_EQ(f["exitCode"], 99);
  EXPECT_EQ(f["thresholds"], s["thresholds"]);
  std::string body;
  EXPECT_EQ(http_call(port, "PATCH", "/v1/status", kStop, &body), 200) << body;
  EXPECT_EQ(coord->wait_exit(10s), 99) << *coord;
  EXPECT_EQ(r1->wait_exit(15s), 0) << *r1;
  EXPECT_EQ(r2->wait_exit(15s), 0) << *r2;
}

TEST_F(CoordinatorApiTest, PatchStopDuringTheTestIs105AbortedWithASummary) {
  dir_.write("script.js", R"JS(
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 2, duration: '60s' } } };
export function teardown() { http.post(`${__ENV.BASE_URL}/counter/teardown/inc`); }
export default function () { http.get(`${__ENV.BASE_URL}/`); sleep(0.05); }
)JS");
  std::uint16_t p1 = closed_port(), p2 = closed_port();
  auto r1 = start_runner(0, 2, p1);
  auto r2 = start_runner(1, 2, p2);
  auto coord = start_coordinator({p1, p2}, {"--address", "127.0.0.1:0", "--linger", "--result-file", "result.json"});
  std::uint16_t port = api_port(*coord);
  ASSERT_NE(port, 0) << *coord;
  // Running, with the runners' VUs summed (1 + 1).
  json running;
  for (int i = 0; i < 300; ++i) {
    json a = get_json(port, "/v1/status")["data"]["attributes"];
    if (a.value("status", -1) == 7 && a.value("vus", 0) == 2) {
      running = a;
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(running.is_object()) << *coord;
  EXPECT_EQ(running["paused"], false);
  EXPECT_EQ(running["vus-max"], 2);
  std::this_thread::sleep_for(1500ms);
  json mid = get_json(port, "/v1/metrics/iterations");
  EXPECT_GT(mid["data"]["attributes"]["sample"].value("count", 0.0), 0) << "merged metrics while running\n"
                                                                        << mid.dump();
  int st = 0;
  get_json(port, "/v1/summary", &st);
  EXPECT_EQ(st, 404);

  std::string body;
  ASSERT_EQ(http_call(port, "PATCH", "/v1/status", kStop, &body), 200) << body;
  EXPECT_EQ(json::parse(body)["data"]["attributes"]["stopped"], true) << body;
  json ended = wait_ended(port, 30s);
  ASSERT_TRUE(ended.is_object()) << *coord;
  EXPECT_EQ(ended["exit-code"], 105);
  json s = get_json(port, "/v1/summary");
  EXPECT_EQ(s["exitCode"], 105);
  EXPECT_EQ(s["result"], "aborted");
  EXPECT_NE(s["message"].get<std::string>().find("control API"), std::string::npos) << s["message"];
  EXPECT_GT(s["metrics"]["iterations"].get<int>(), 0);
  EXPECT_NE(s["text"].get<std::string>().find("iterations"), std::string::npos);
  EXPECT_EQ(counter("teardown"), 1) << "teardown still ran";
  EXPECT_EQ(read_json_file("result.json")["result"], "aborted");
  ASSERT_TRUE(coord->running()) << "lingering\n" << *coord;
  EXPECT_EQ(http_call(port, "PATCH", "/v1/status", kStop, &body), 200) << body;
  EXPECT_EQ(coord->wait_exit(10s), 105) << *coord;
  EXPECT_TRUE(r1->wait_exit(15s).has_value()) << *r1;
  EXPECT_TRUE(r2->wait_exit(15s).has_value()) << *r2;
}

TEST_F(CoordinatorApiTest, LingerTimeoutEndsTheCoordinator) {
  dir_.write("script.js", R"JS(
export const options = { iterations: 3 };
export default function () {}
)JS");
  std::uint16_t p1 = closed_port();
  auto r1 = start_runner(0, 1, p1);
  auto coord = start_coordinator({p1}, {"--address", "127.0.0.1:0", "--linger", "--linger-timeout", "1s"});
  EXPECT_EQ(coord->wait_exit(30s), 0) << *coord;
  EXPECT_NE(coord->err().find("lingers until stopped"), std::string::npos) << *coord;
  EXPECT_NE(coord->err().find("nobody ended the linger within 1s"), std::string::npos) << *coord;
  EXPECT_EQ(r1->wait_exit(15s), 0) << *r1;
}

TEST_F(CoordinatorApiTest, StopDuringABusySetupReachesTheRunner) {
  // Runner 1 is stuck in a setup() that never yields: SIGINT to the
  // coordinator, or a stop through its API, must end that runner too (its
  // API stop interrupts setup()), and the coordinator exits 105.
  dir_.write("script.js", R"JS(
export const options = { iterations: 2, setupTimeout: '120s' };
export function setup() { console.log('SETUP BUSY'); for (;;) {} }
export default function () {}
)JS");
  for (bool by_api : {false, true}) {
    SCOPED_TRACE(by_api ? "PATCH /v1/status stopped" : "SIGINT");
    std::uint16_t p1 = closed_port(), p2 = closed_port();
    auto r1 = start_runner(0, 2, p1);
    auto r2 = start_runner(1, 2, p2);
    auto coord = start_coordinator({p1, p2}, {"--address", "127.0.0.1:0"});
    std::uint16_t port = api_port(*coord);
    ASSERT_NE(port, 0) << *coord;
    ASSERT_FALSE(r1->wait_for(std::regex("SETUP BUSY"), 20s).empty()) << *r1 << *coord;
    std::this_thread::sleep_for(300ms);
    if (by_api) {
      std::string body;
      ASSERT_EQ(http_call(port, "PATCH", "/v1/status", kStop, &body), 200) << body;
    } else {
      ASSERT_EQ(kill(coord->pid(), SIGINT), 0);
    }
    EXPECT_EQ(coord->wait_exit(20s), 105) << *coord;
    EXPECT_EQ(r1->wait_exit(15s), 103) << "the runner in setup() was left running\n" << *r1 << *coord;
    EXPECT_TRUE(r2->wait_exit(15s).has_value()) << *r2;
  }
}

TEST_F(CoordinatorApiTest, RunnerNeverReadyWritesError97) {
  dir_.write("script.js", kPassingScript);
  RefusingPort refusing;
  std::uint16_t dead = refusing.port();
  auto coord = start_coordinator({dead}, {"--ready-timeout", "2s", "--result-file", "result.json"});
  EXPECT_EQ(coord->wait_exit(30s), 97) << *coord;
  std::string raw = dir_.read("result.json");
  EXPECT_LT(raw.size(), 4096u);
  json f = json::parse(raw, nullptr, false);
  EXPECT_EQ(f["exitCode"], 97) << raw;
  EXPECT_EQ(f["result"], "error");
  EXPECT_NE(f["message"].get<std::string>().find("runner 1 (127.0.0.1:" + std::to_string(dead) + ")"),
            std::string::npos)
      << raw;
  EXPECT_FALSE(f.contains("text"));
}

TEST_F(CoordinatorApiTest, CoordinatorScriptErrorWritesError107) {
  dir_.write("script.js", "export default function () {\n  let x = ;\n}\n");
  RefusingPort refusing;
  auto coord = start_coordinator({refusing.port()}, {"--result-file", "result.json"});
  EXPECT_EQ(coord->wait_exit(30s), 107) << *coord;
  json f = read_json_file("result.json");
  EXPECT_EQ(f["exitCode"], 107);
  EXPECT_EQ(f["result"], "error");
  EXPECT_NE(f["message"].get<std::string>().find("script.js:2:"), std::string::npos) << f.dump();
}

TEST_F(CoordinatorApiTest, LocalParallelRunWritesTheResultFileToo) {
  dir_.write("script.js", R"JS(
import http from 'k6/http';
export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 4, iterations: 20 } } };
export default function () { http.get(`${__ENV.BASE_URL}/`); }
)JS");
  ProcResult r = run_spec(RunSpec{.args = {"run", "--parallelism", "2", "--result-file", "result.json", "script.js"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  json f = read_json_file("result.json");
  EXPECT_EQ(f["result"], "passed") << f.dump();
  EXPECT_EQ(f["metrics"]["iterations"], 20);
  EXPECT_EQ(r.err.find("--result-file"), std::string::npos) << "not passed to the runners\n" << r;
}

TEST_F(CoordinatorApiTest, LocalParallelRunServesTheReportOfItsReportFlag) {
  dir_.write("script.js", R"JS(
import http from 'k6/http';
export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 2, iterations: 10 } } };
export default function () { http.get(`${__ENV.BASE_URL}/`); }
)JS");
  LiveProcess run({"run", "--parallelism", "2", "--linger", "--address", "127.0.0.1:0", "--report", "r.html", "-q",
                   "--no-summary", "script.js"},
                  {{"BASE_URL", base_url()}}, dir_.path());
  std::uint16_t port = api_port(run);
  ASSERT_NE(port, 0) << run;
  ASSERT_TRUE(wait_ended(port, 60s).is_object()) << run;
  std::string body;
  EXPECT_EQ(http_call(port, "GET", "/v1/report", "", &body), 200) << body.substr(0, 300);
  EXPECT_EQ(body, dir_.read("r.html"));
  EXPECT_NE(body.find("<html"), std::string::npos) << body.substr(0, 300);
  EXPECT_EQ(http_call(port, "PATCH", "/v1/status", kStop, &body), 200) << body;
  EXPECT_EQ(run.wait_exit(30s), 0) << run;
}

// ---------------------------------------------------------------------------
// herd inspect --result-file (the initializer's termination message).

TEST_F(CoordinatorApiTest, InspectResultFileHoldsTheJsonOnOneLine) {
  dir_.write("script.js", R"JS(
export const options = { scenarios: {
  a: { executor: 'constant-vus', vus: 3, duration: '10s' },
  b: { executor: 'per-vu-iterations', vus: 5, iterations: 2, startTime: '10s', maxDuration: '20s' } } };
export default function () {}
)JS");
  ProcResult r =
      run_spec(RunSpec{.args = {"inspect", "--execution-requirements", "--result-file", "result.json", "script.js"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::string raw = dir_.read("result.json");
  EXPECT_EQ(std::count(raw.begin(), raw.end(), '\n'), 1) << raw;
  EXPECT_LT(raw.size(), 4096u);
  json f = json::parse(raw, nullptr, false);
  EXPECT_EQ(f, json::parse(r.out)) << "the same JSON as on stdout";
  EXPECT_EQ(f["maxVUs"], 8) << "a's gracefulStop overlaps b";
  EXPECT_EQ(f["totalDuration"], "1m0s") << f.dump();
}

TEST_F(CoordinatorApiTest, InspectSyntaxErrorGoesToTheResultFile) {
  dir_.write("script.js", "export default function () {\n  let x = ;\n}\n");
  ProcResult r =
      run_spec(RunSpec{.args = {"inspect", "--execution-requirements", "--result-file", "result.json", "script.js"}});
  EXPECT_EQ(r.exit_code, 107) << r;
  json f = read_json_file("result.json");
  EXPECT_EQ(f["exitCode"], 107) << f.dump();
  std::string e = f["error"];
  EXPECT_TRUE(std::regex_search(e, std::regex(R"(script\.js:2:\d+: SyntaxError)"))) << e;
  EXPECT_NE(r.err.find(e), std::string::npos) << "the same message as on stderr\n" << r;
}

TEST_F(CoordinatorApiTest, InspectInitExceptionAndBadOptionsGoToTheResultFile) {
  dir_.write("script.js", "throw new Error('no config ' + 'x'.repeat(6000));\nexport default function () {}\n");
  ProcResult r = run_spec(RunSpec{.args = {"inspect", "--result-file", "result.json", "script.js"}});
  EXPECT_EQ(r.exit_code, 107) << r;
  std::string raw = dir_.read("result.json");
  EXPECT_LT(raw.size(), 4096u);
  json f = json::parse(raw, nullptr, false);
  EXPECT_EQ(f["exitCode"], 107);
  EXPECT_EQ(f["error"].get<std::string>().find("script.js:1:"), 0u) << raw.substr(0, 300);
  EXPECT_NE(f["error"].get<std::string>().find("more bytes]"), std::string::npos);

  dir_.write("script.js", "export const options = { vus: 'many' };\nexport default function () {}\n");
  r = run_spec(RunSpec{.args = {"inspect", "--result-file", "result.json", "script.js"}});
  EXPECT_EQ(r.exit_code, 104) << r;
  f = read_json_file("result.json");
  EXPECT_EQ(f["exitCode"], 104);
  EXPECT_NE(f["error"].get<std::string>().find("vus"), std::string::npos) << f.dump();
}

// Issue #14: the operator's runners end their log with where the merged result is
// (HERD_RESULT_HINT) once their test ran; without it nothing new is printed.
TEST_F(CoordinatorApiTest, RunnerLogEndsWithTheResultHint) {
  dir_.write("script.js", kPassingScript);
  std::uint16_t p1 = closed_port(), p2 = closed_port();
  const std::string hint = "runner 1 of 2 of TestRun perf/load ended; the merged result: `kubectl -n perf logs x`";
  auto r1 = start_runner(0, 2, p1, {{"HERD_RESULT_HINT", hint}});
  auto r2 = start_runner(1, 2, p2);
  auto coord = start_coordinator({p1, p2}, {"-q"});
  EXPECT_EQ(coord->wait_exit(60s), 0) << *coord;
  EXPECT_EQ(r1->wait_exit(15s), 0) << *r1;
  EXPECT_EQ(r2->wait_exit(15s), 0) << *r2;
  std::string err = r1->err();
  ASSERT_FALSE(err.empty());
  if (err.back() == '\n') err.pop_back();
  EXPECT_EQ(err.substr(err.rfind('\n') + 1), "herd: " + hint) << *r1;
  EXPECT_EQ(count_occurrences(r1->err(), "merged result"), 1) << *r1;
  EXPECT_EQ(r2->err().find("merged result"), std::string::npos) << *r2;
  EXPECT_EQ(coord->err().find("merged result"), std::string::npos) << *coord;

  // Whatever the test's exit code; not when no test ran (there is no merged result);
  // a plain run without it prints nothing new.
  dir_.write("script.js",
             "export const options = { iterations: 1, thresholds: { iterations: ['count>5'] } };\n"
             "export default function () {}\n");
  ProcResult r = run_spec(RunSpec{.args = {"run", "-q", "script.js"}, .env = {{"HERD_RESULT_HINT", "see there"}}});
  EXPECT_EQ(r.exit_code, 99) << r;
  EXPECT_TRUE(r.err.ends_with("herd: see there\n")) << r;
  dir_.write("script.js", "throw new Error('BASE_URL is not set');\nexport default function () {}\n");
  r = run_spec(RunSpec{.args = {"run", "-q", "script.js"}, .env = {{"HERD_RESULT_HINT", "see there"}}});
  EXPECT_EQ(r.exit_code, 107) << r;
  EXPECT_EQ(r.err.find("see there"), std::string::npos) << r;
  dir_.write("script.js", "export default function () {}\n");
  r = run_spec(RunSpec{.args = {"run", "-q", "--no-summary", "script.js"}, .env = {{"HERD_RESULT_HINT", ""}}});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err.find("herd: "), std::string::npos) << r;
}

}  // namespace
}  // namespace herd::it
