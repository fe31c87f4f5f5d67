// Issue #11, options part: --out json (gzip, stdout) and csv, systemTags,
// -c/--config, randomSeed, --http-debug, --log-output/--log-format, --no-color,
// --summary-mode=disabled, and k6 options/outputs herd refuses by name.
#include <zlib.h>

#include <set>

#include "harness.h"

namespace herd::it {
namespace {

class OptionsTest : public HerdTest {
 protected:
  std::string two_requests() const {
    return "import http from 'k6/http';\n"
           "export const options = { iterations: 2 };\n"
           "export default function () { http.get(__ENV.BASE_URL + '/'); }\n";
  }
};

std::string gunzip(const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) return "";
  std::string out;
  char buf[4096];
  int n;
  while ((n = gzread(gz, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  gzclose(gz);
  return out;
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '{') continue;
    try {
      out.push_back(json::parse(line));
    } catch (...) {
    }
  }
  return out;
}

std::vector<json> points_of(const std::vector<json>& lines, const std::string& metric) {
  std::vector<json> out;
  for (const auto& l : lines)
    if (l.value("type", "") == "Point" && l.value("metric", "") == metric) out.push_back(l);
  return out;
}

TEST_F(OptionsTest, OutJsonGzipAndStdout) {
  auto r = run_script(two_requests(), {"-q", "--no-summary", "--out", "json=out.json.gz", "--out", "json=-"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::string raw = dir_.read("out.json.gz");
  ASSERT_GE(raw.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(raw[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(raw[1]), 0x8b);
  auto from_file = json_lines(gunzip(dir_.file("out.json.gz")));
  auto from_stdout = json_lines(r.out);
  EXPECT_EQ(points_of(from_file, "http_reqs").size(), 2u);
  EXPECT_EQ(points_of(from_stdout, "http_reqs").size(), 2u) << r.out;
  EXPECT_EQ(from_file.size(), from_stdout.size());
}

TEST_F(OptionsTest, OutCsvHasK6Columns) {
  auto r = run_script(two_requests(), {"-q", "--no-summary", "--out", "csv=out.csv"},
                      {{"K6_CSV_TIME_FORMAT", "unix_milli"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::istringstream in(dir_.read("out.csv"));
  std::string header, line;
  std::getline(in, header);
  EXPECT_EQ(header,
            "metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,proto,"
            "scenario,service,status,subproto,tls_version,url,extra_tags,metadata");
  int reqs = 0;
  while (std::getline(in, line)) {
    if (line.rfind("http_reqs,", 0) != 0) continue;
    ++reqs;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) f.push_back(cell);
    if (line.back() == ',') f.push_back("");
    ASSERT_EQ(f.size(), 19u) << line;
    EXPECT_EQ(f[1].size(), 13u) << "unix_milli timestamp: " << line;
    EXPECT_EQ(f[2], "1.000000");
    EXPECT_EQ(f[6], "true");  // expected_response
    EXPECT_EQ(f[8], "GET");
    EXPECT_EQ(f[11], "default");  // scenario
    EXPECT_EQ(f[13], "200");
    EXPECT_EQ(f[16], base_url() + "/");
  }
  EXPECT_EQ(reqs, 2);
}

TEST_F(OptionsTest, OtherOutputsAreRefusedByName) {
  auto r = run_script(two_requests(), {"-q", "--out", "statsd=127.0.0.1:8125"});
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(
      r.err.find("unknown output type \"statsd\" (herd supports json, csv, influxdb and experimental-prometheus-rw)"),
      std::string::npos)
      << r;
  EXPECT_EQ(served(), 0u);
}

TEST_F(OptionsTest, DistributedRunsRefuseOutputsTheyCannotJoin) {
  for (const char* out : {"csv=out.csv", "json=-", "json=out.json.gz"}) {
    auto r = run_script(two_requests(), {"-q", "--parallelism", "2", "--out", out});
    EXPECT_EQ(r.exit_code, 104) << out << " " << r;
    EXPECT_NE(r.err.find(std::string("--out ") + out + ": distributed runs"), std::string::npos) << r;
  }
  EXPECT_EQ(served(), 0u);
}

TEST_F(OptionsTest, HttpDebugLogsRequestsAndResponses) {
  std::string script =
      "import http from 'k6/http';\n"
      "export default function () { http.post(__ENV.BASE_URL + '/echo?x=1', 'payload-123', "
      "{ headers: { 'X-Probe': 'p1' } }); }\n";
  auto r =
      run_script(script, {"-q", "--no-summary", "--log-format", "raw", "--log-output", "file=h.log", "--http-debug"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::string log = dir_.read("h.log");
  std::string host = base_url().substr(std::string("http://").size());
  EXPECT_NE(log.find("Request:\nPOST /echo?x=1 HTTP/1.1\r\nHost: " + host + "\r\n"), std::string::npos) << log;
  EXPECT_NE(log.find("X-Probe: p1\r\n"), std::string::npos) << log;
  EXPECT_NE(log.find("Content-Length: 11\r\n"), std::string::npos) << log;
  EXPECT_NE(log.find("Response:\nHTTP/1.1 200 OK\r\n"), std::string::npos) << log;
  EXPECT_EQ(log.find("payload-123"), std::string::npos) << "bodies only with full: " << log;
  r = run_script(script,
                 {"-q", "--no-summary", "--log-format", "raw", "--log-output", "file=full.log", "--http-debug=full"});
  ASSERT_EQ(r.exit_code, 0) << r;
  log = dir_.read("full.log");
  EXPECT_EQ(count_occurrences(log, "payload-123"), 2) << "request body and the echoed body: " << log;
  r = run_script(script, {"-q", "--no-summary", "--log-format", "raw"}, {{"K6_HTTP_DEBUG", "full"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(count_occurrences(r.err, "payload-123"), 2) << r;
  r = run_script(script, {"-q", "--no-summary", "--log-format", "raw"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err.find("Request:"), std::string::npos) << r;
}

TEST_F(OptionsTest, RpsCapsTheRequestRateOfAllVus) {
  std::string script =
      "import http from 'k6/http';\n"
      "export const options = { vus: 5, iterations: 30 };\n"
      "export default function () { http.get(__ENV.BASE_URL + '/'); }\n";
  // 30 requests at 20/s: the last may start 29/20 = 1.45 s after the first.
  auto capped = run_script(script, {"-q", "--no-summary", "--rps", "20", "--out", "json=capped.json"});
  ASSERT_EQ(capped.exit_code, 0) << capped;
  EXPECT_EQ(served(), 30u);
  auto pts = points_of(json_lines(dir_.read("capped.json")), "http_reqs");
  ASSERT_EQ(pts.size(), 30u);
  auto parse_time = [](const json& p) {
    std::string t = p["data"]["time"];  // ...THH:MM:SS.ffffff...
    auto colon = t.find(':');
    return std::stod(t.substr(colon + 1, 2)) * 60 + std::stod(t.substr(colon + 4, 9));
  };
  double first = 1e18, last = -1e18;
  for (const auto& p : pts) {
    first = std::min(first, parse_time(p));
    last = std::max(last, parse_time(p));
  }
  double span = last - first;
  if (span < 0) span += 3600;  // crossed an hour
  EXPECT_GE(span, 1.35) << "30 requests at 20/s cannot all end within " << span << " s";
  EXPECT_LT(span, 10.0);
  // Through options and K6_RPS as well; without it the same requests take far less time.
  auto uncapped = run_script(script, {"-q", "--no-summary"});
  ASSERT_EQ(uncapped.exit_code, 0) << uncapped;
  EXPECT_LT(uncapped.seconds, capped.seconds);
  auto env_capped = run_script(script, {"-q", "--no-summary"}, {{"K6_RPS", "20"}});
  ASSERT_EQ(env_capped.exit_code, 0) << env_capped;
  EXPECT_GE(env_capped.seconds, 1.35) << env_capped;
}

TEST_F(OptionsTest, SystemTagsLimitWhatSamplesCarry) {
  std::string script =
      "import http from 'k6/http';\n"
      "export const options = { iterations: 2, systemTags: ['status', 'method'] };\n"
      "export default function () { http.get(__ENV.BASE_URL + '/', { tags: { mine: 'x' } }); }\n";
  auto r = run_script(script, {"-q", "--no-summary", "--out", "json=out.json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto pts = points_of(json_lines(dir_.read("out.json")), "http_req_duration");
  ASSERT_EQ(pts.size(), 2u);
  std::set<std::string> keys;
  for (auto& [k, v] : pts[0]["data"]["tags"].items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"method", "mine", "status"}));
  // The flag overrides the script.
  r = run_script(script, {"-q", "--no-summary", "--system-tags", "url", "--out", "json=out2.json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  pts = points_of(json_lines(dir_.read("out2.json")), "http_reqs");
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_EQ(pts[0]["data"]["tags"], (json{{"url", base_url() + "/"}, {"mine", "x"}}));
  // A system tag herd never adds is refused.
  r = run_script(script, {"-q", "--system-tags", "status,vu"});
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("--system-tags[1]: the system tag \"vu\" is not supported by herd"), std::string::npos) << r;
}

TEST_F(OptionsTest, ConfigFileRanksBelowScriptAndFlags) {
  dir_.write("k6.json", R"({"iterations": 5, "userAgent": "from-config", "tags": {"origin": "config"}})");
  std::string script =
      "import http from 'k6/http';\n"
      "export const options = { userAgent: __ENV.SCRIPT_UA || undefined };\n"
      "export default function () {\n"
      "  const ua = http.get(__ENV.BASE_URL + '/headers').json().headers['User-Agent'];\n"
      "  http.get(__ENV.BASE_URL + '/counter/' + ua + '/inc');\n"
      "}\n";
  auto r = run_script(script, {"-q", "--no-summary", "-c", "k6.json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(counter("from-config"), 5);
  r = run_script(script, {"-q", "--no-summary", "--config", "k6.json", "-i", "2"}, {{"SCRIPT_UA", "from-script"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(counter("from-script"), 2);
  r = run_script(script, {"-q", "--no-summary", "-c", "missing.json"});
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("config file \"missing.json\": cannot read"), std::string::npos) << r;
}

TEST_F(OptionsTest, RandomSeedMakesMathRandomRepeatable) {
  std::string script =
      "import { randomSeed } from 'k6';\n"
      "export const options = { vus: 2, iterations: 4 };\n"
      "export default function () {\n"
      "  if (__ENV.SEED) randomSeed(Number(__ENV.SEED));\n"
      "  console.log(Math.random() + ' ' + Math.random());\n"
      "}\n";
  auto lines_for = [&](const std::string& seed) {
    std::map<std::string, std::string> env;
    if (!seed.empty()) env["SEED"] = seed;
    auto r = run_script(script, {"-q", "--no-summary", "--log-format", "raw"}, env);
    EXPECT_EQ(r.exit_code, 0) << r;
    std::vector<std::string> out;
    std::istringstream in(r.err);
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) out.push_back(line);
    return out;
  };
  auto a = lines_for("42");
  ASSERT_EQ(a.size(), 4u);
  for (const auto& l : a) EXPECT_EQ(l, a[0]);  // every VU and iteration: the same sequence
  auto first = a[0].substr(0, a[0].find(' '));
  EXPECT_NE(first, a[0].substr(a[0].find(' ') + 1));  // a sequence, not a constant
  auto again = lines_for("42");
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again[0], a[0]);  // and across runs
  auto other = lines_for("43");
  ASSERT_FALSE(other.empty());
  EXPECT_NE(other[0], a[0]);
  auto unseeded = lines_for("");
  std::set<std::string> distinct(unseeded.begin(), unseeded.end());
  EXPECT_EQ(distinct.size(), 4u);
}

TEST_F(OptionsTest, LogOutputAndFormat) {
  std::string script =
      "export const options = { iterations: 1 };\n"
      "export default function () { console.log('hello \"there\"'); console.error('bad'); }\n";
  auto r = run_script(script, {"-q", "--no-summary", "--log-output", "file=logs/run.log", "--log-format", "json"});
  EXPECT_EQ(r.exit_code, 104) << r;  // the folder does not exist: refused before the run
  EXPECT_NE(r.err.find("--log-output file=logs/run.log: cannot open \"logs/run.log\""), std::string::npos) << r;
  r = run_script(script, {"-q", "--no-summary", "--log-output", "file=run.log", "--log-format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err.find("hello"), std::string::npos) << r;
  auto lines = json_lines(dir_.read("run.log"));
  ASSERT_EQ(lines.size(), 2u) << dir_.read("run.log");
  EXPECT_EQ(lines[0]["msg"], "hello \"there\"");
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["source"], "console");
  EXPECT_EQ(lines[1]["level"], "error");
  EXPECT_TRUE(lines[1]["time"].is_string());
  r = run_script(script, {"-q", "--no-summary", "--log-output", "stdout"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(log_messages(r.out), (std::vector<std::string>{"hello \\\"there\\\"", "bad"})) << r;
  r = run_script(script, {"-q", "--no-summary"}, {{"K6_LOG_OUTPUT", "stdout"}, {"K6_LOG_FORMAT", "raw"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "hello \"there\"\nbad\n") << r;
  r = run_script(script, {"-q", "--no-summary", "--log-output", "none"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(log_messages(r.err).empty()) << r;
  EXPECT_TRUE(log_messages(r.out).empty()) << r;
  r = run_script(script, {"-q", "--log-output", "loki=http://127.0.0.1:1/loki/api/v1/push"});
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("log output \"loki\" is not supported by herd"), std::string::npos) << r;
  r = run_script(script, {"-q", "--log-format", "logfmt"});
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("for \"--log-format\" flag: expected text, json or raw"), std::string::npos) << r;
}

TEST_F(OptionsTest, NoColorAndDisabledSummary) {
  std::string script =
      "export const options = { iterations: 1 };\n"
      "export default function () {}\n"
      "export function handleSummary(data) { return { stdout: 'noColor=' + data.options.noColor + '\\n' }; }\n";
  auto r = run_script(script, {"-q", "--no-color"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "noColor=true\n");
  r = run_script(script, {"-q"}, {{"NO_COLOR", "1"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "noColor=true\n");
  r = run_script(script, {"-q"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "noColor=false\n");
  r = run_script("export default function () {}\n", {"-q", "--summary-mode", "disabled"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "");
  r = run_script("export default function () {}\n", {"-q", "--summary-mode", "compact"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("TOTAL RESULTS"), std::string::npos) << r;
}

TEST_F(OptionsTest, UnimplementedOptionsAreRefusedByName) {
  auto r = run_script("export const options = { tlsAIAFetch: true };\nexport default function () {}\n", {"-q"});
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("options.tlsAIAFetch: not supported by herd"), std::string::npos) << r;
  r = run_script("export default function () {}\n", {"-q", "--compatibility-mode", "base"});
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("flag --compatibility-mode is not supported by herd"), std::string::npos) << r;
  r = run_script("export const options = { cloud: { name: 'x' } };\nexport default function () {}\n", {"-q"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(log_messages(r.err, "warning"),
            (std::vector<std::string>{
                "options.cloud is only used by Grafana Cloud runs; herd ignores it, as a local k6 run does"}))
      << r;
}

TEST_F(OptionsTest, HelpListsOnlyFlagsThatParse) {
  RunSpec spec;
  spec.args = {"run", "--help"};
  auto r = run_spec(spec);
  ASSERT_EQ(r.exit_code, 0) << r;
  std::regex flag_re(R"(--([a-z][a-z-]+))");
  std::set<std::string> flags;
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), flag_re), end; it != end; ++it) flags.insert((*it)[1]);
  EXPECT_GT(flags.size(), 30u);
  for (const char* k6_only : {"compatibility-mode", "profiling-enabled", "traces-output"})
    EXPECT_EQ(flags.count(k6_only), 0u) << k6_only;
  for (const char* ours : {"config", "http-debug", "rps", "log-output", "log-format", "no-color", "system-tags", "out",
                           "dns", "local-ips", "blacklist-ip", "block-hostnames", "batch", "secret-source"})
    EXPECT_EQ(flags.count(ours), 1u) << ours;
}

// The raw log lines of a run (--log-format raw), parsed as JSON where they are JSON.
std::vector<json> raw_json_logs(const ProcResult& r) {
  return json_lines(r.err);
}

TEST_F(OptionsTest, HttpFlagsTakeEffect) {
  std::string script =
      "import http from 'k6/http';\n"
      "export default function () {\n"
      "  if (__ENV.PART === 'discard') {\n"
      "    console.log(JSON.stringify({ body: http.get(__ENV.BASE_URL + '/bytes/10').body }));\n"
      "    return;\n"
      "  }\n"
      "  const ua = http.get(__ENV.BASE_URL + '/headers').json().headers['User-Agent'];\n"
      "  const status = http.get(__ENV.BASE_URL + '/redirect/3').status;\n"
      "  console.log(JSON.stringify({ ua, status }));\n"
      "}\n";
  auto r = run_script(script,
                      {"-q", "--no-summary", "--log-format", "raw", "--user-agent", "ua-flag", "--max-redirects", "1"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto logs = raw_json_logs(r);
  ASSERT_EQ(logs.size(), 1u) << r;
  EXPECT_EQ(logs[0]["ua"], "ua-flag");
  EXPECT_EQ(logs[0]["status"], 302);  // stopped after one redirect
  r = run_script(script, {"-q", "--no-summary", "--log-format", "raw", "--discard-response-bodies"},
                 {{"PART", "discard"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  logs = raw_json_logs(r);
  ASSERT_EQ(logs.size(), 1u) << r;
  EXPECT_TRUE(logs[0]["body"].is_null()) << r;
}

TEST_F(OptionsTest, ThrowFlagTurnsRequestErrorsIntoExceptions) {
  RefusingPort refusing;
  std::string script =
      "import http from 'k6/http';\n"
      "export default function () {\n"
      "  try { http.get('http://127.0.0.1:" +
      std::to_string(refusing.port()) +
      "/'); console.log('returned'); } catch (e) { console.log('threw'); }\n"
      "}\n";
  auto r = run_script(script, {"-q", "--no-summary", "--log-format", "raw", "-w"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find("threw"), std::string::npos) << r;
  r = run_script(script, {"-q", "--no-summary", "--log-format", "raw"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find("returned"), std::string::npos) << r;
}

TEST_F(OptionsTest, NoTeardownAndConsoleOutput) {
  std::string script =
      "export default function () { console.log('iteration'); }\n"
      "export function teardown() { console.log('teardown ran'); }\n";
  auto r = run_script(script, {"-q", "--no-summary", "--no-usage-report", "--console-output", "console.log"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::string logged = dir_.read("console.log");
  EXPECT_NE(logged.find("iteration"), std::string::npos) << logged;
  EXPECT_NE(logged.find("teardown ran"), std::string::npos) << logged;
  EXPECT_EQ(r.err.find("iteration"), std::string::npos) << r;
  r = run_script(script, {"-q", "--no-summary", "--no-teardown", "--console-output", "console2.log"});
  ASSERT_EQ(r.exit_code, 0) << r;
  logged = dir_.read("console2.log");
  EXPECT_NE(logged.find("iteration"), std::string::npos) << logged;
  EXPECT_EQ(logged.find("teardown ran"), std::string::npos) << logged;
}

TEST_F(OptionsTest, NoCookiesResetKeepsTheJarAcrossIterations) {
  std::string script =
      "import http from 'k6/http';\n"
      "export const options = { iterations: 2 };\n"
      "export default function () {\n"
      "  if (__ITER === 0) { http.get(__ENV.BASE_URL + '/cookies/set?kept=1'); return; }\n"
      "  console.log(JSON.stringify(http.get(__ENV.BASE_URL + '/cookies').json().cookies));\n"
      "}\n";
  auto r = run_script(script, {"-q", "--no-summary", "--log-format", "raw", "--no-cookies-reset"});
  ASSERT_EQ(r.exit_code, 0) << r;
  auto logs = raw_json_logs(r);
  ASSERT_EQ(logs.size(), 1u) << r;
  EXPECT_EQ(logs[0], (json{{"kept", "1"}}));
  r = run_script(script, {"-q", "--no-summary", "--log-format", "raw"});
  ASSERT_EQ(r.exit_code, 0) << r;
  logs = raw_json_logs(r);
  ASSERT_EQ(logs.size(), 1u) << r;
  EXPECT_EQ(logs[0], json::object());
}

}  // namespace
}  // namespace herd::it
