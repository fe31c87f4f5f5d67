// End-to-end tests of --out experimental-prometheus-rw (issue #13) against a
// real Prometheus (Debian's 2.42, started here on a loopback port with its
// remote-write receiver and native histograms): the counters Prometheus stores
// are the summary's counts exactly, and histogram_quantile over the exported
// native histograms is within 1 % of the summary's p(95), for one process
// and for a --parallelism 3 run. A failing endpoint (refused, HTTP 500, no
// answer) never fails or stalls the test: the failure is logged once and
// the dropped samples are counted at the end.
#include <curl/curl.h>

#include <cmath>

#include "harness.h"

namespace herd::it {
namespace {

const char* const kPrometheus = "/usr/bin/prometheus";

/// A Prometheus server on a free loopback port with a temp data dir, killed
/// (and reaped) on destruction.
class Prometheus {
 public:
  explicit Prometheus(const TempDir& dir) {
    port_ = closed_port();
    std::string cfg = dir.write("prom/prometheus.yml", "global:\n  scrape_interval: 1h\n");
    std::string log = dir.file("prom/prometheus.log");
    std::vector<std::string> args = {kPrometheus,
                                     "--config.file=" + cfg,
                                     "--storage.tsdb.path=" + dir.file("prom/data"),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                     "--web.enable-remote-write-receiver",
                                     "--enable-feature=native-histograms"};
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      std::vector<char*> argv;
      argv.reserve(args.size() + 1);
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(kPrometheus, argv.data());
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string body;
      if (http_call(port_, "GET", "/-/ready", "", &body) == 200) {
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(100ms);
    }
    if (!ready_) log_ = dir.read("prom/prometheus.log");
  }
  ~Prometheus() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const { return ready_; }
  const std::string& log() const { return log_; }
  std::string write_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/write"; }

  /// The value of an instant query's single result; NaN if there is none.
  double query(const std::string& promql, std::string* raw = nullptr) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> c(curl_easy_init(), curl_easy_cleanup);
    std::unique_ptr<char, decltype(&curl_free)> q(curl_easy_escape(c.get(), promql.c_str(), 0), curl_free);
    std::string body;
    http_call(port_, "GET", std::string("/api/v1/query?query=") + q.get(), "", &body);
    if (raw) *raw = body;
    try {
      json j = json::parse(body);
      const json& res = j["data"]["result"];
      if (res.size() != 1) return NAN;
      return std::stod(res[0]["value"][1].get<std::string>());
    } catch (...) {
      return NAN;
    }
  }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  bool ready_ = false;
  std::string log_;
};

bool have_prometheus() {
  return access(kPrometheus, X_OK) == 0;
}

#define REQUIRE_PROMETHEUS()                                                                                 \
  do {                                                                                                       \
    if (!have_prometheus()) {                                                                                \
      const char* ci = std::getenv("CI");                                                                    \
      if (ci && std::string(ci) == "true") FAIL() << kPrometheus << " is missing (scripts/install-deps.sh)"; \
      GTEST_SKIP() << kPrometheus << " is missing";                                                          \
    }                                                                                                        \
  } while (0)

const char* const kLoad = R"JS(
import http from 'k6/http';
import { sleep } from 'k6';
export const options = {
  vus: 6, iterations: 900,
  thresholds: { http_req_duration: ['p(95)<60000'], 'http_reqs{status:200}': ['count<10'] },
};
export default function () {
  sleep(0.01);  // ~1.5 s in all: pushes while it runs (the coordinator merges every second)
  http.get(__ENV.BASE_URL + '/');
  if (__ITER % 3 === 0) http.get(__ENV.BASE_URL + '/delay/3');
}
)JS";

class PromRwTest : public HerdTest {
 protected:
  std::map<std::string, std::string> env(const Prometheus& p, bool native = true) {
    std::map<std::string, std::string> e = {{"K6_PROMETHEUS_RW_SERVER_URL", p.write_url()},
                                            {"K6_PROMETHEUS_RW_PUSH_INTERVAL", "100ms"}};
    if (native) e["K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM"] = "true";
    return e;
  }

  // Runs kLoad with the output and checks Prometheus against the summary export.
  void check_run(Prometheus& prom, const std::string& testid, std::vector<std::string> extra) {
    ProcResult r;
    std::vector<std::string> args = {"--out", "experimental-prometheus-rw", "--tag", "testid=" + testid};
    args.insert(args.end(), extra.begin(), extra.end());
    json exp = run_export(kLoad, &r, args, env(prom));
    ASSERT_EQ(r.exit_code, 99) << r;  // the count<10 threshold is crossed on purpose
    ASSERT_TRUE(exp.is_object()) << r;
    // Periodic pushes and the final one, all accepted; written by one process only.
    static const std::regex re(R"(samples sent in (\d+) pushes, 0 samples dropped)");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.out, m, re)) << "the summary's OUTPUTS names the counts\n" << r;
    EXPECT_GE(std::stoi(m[1].str()), 2) << r;
    EXPECT_EQ(count_occurrences(r.out + r.err, "samples sent in"), 1) << r;
    double count = exp["metrics"]["http_reqs"]["count"].get<double>();
    double p95_ms = exp["metrics"]["http_req_duration"]["p(95)"].get<double>();
    ASSERT_GE(count, 1200);  // 900 iterations, a third of each VU's with a second request
    std::string raw;
    double got = prom.query("sum(k6_http_reqs_total{testid=\"" + testid + "\"})", &raw);
    EXPECT_EQ(got, count) << raw;
    double p95_s =
        prom.query("histogram_quantile(0.95, sum(k6_http_req_duration_seconds{testid=\"" + testid + "\"}))", &raw);
    double err = std::abs(p95_s * 1000 - p95_ms) / p95_ms;
    EXPECT_LT(err, 0.01) << "prometheus " << p95_s * 1000 << " ms, herd " << p95_ms << " ms; " << raw;
    std::printf("[%s] histogram_quantile(0.95) %.4f ms vs summary p(95) %.4f ms: %.3f %%\n", testid.c_str(),
                p95_s * 1000, p95_ms, err * 100);
    // The histogram's count is exact too, and the other metric kinds arrive.
    EXPECT_EQ(prom.query("sum(histogram_count(k6_http_req_duration_seconds{testid=\"" + testid + "\"}))"), count);
    EXPECT_EQ(prom.query("sum(k6_iterations_total{testid=\"" + testid + "\"})"), 900);
    EXPECT_EQ(prom.query("max(k6_http_req_failed_rate{testid=\"" + testid + "\"})"), 0);
    // vus and vus_max carry the run's tags, as in k6 (a dashboard filters them by testid).
    EXPECT_EQ(prom.query("k6_vus_max{testid=\"" + testid + "\"}"), exp["metrics"]["vus_max"]["value"].get<double>());
    EXPECT_EQ(prom.query("count(k6_vus{testid=\"" + testid + "\"})"), 1);
    EXPECT_EQ(prom.query("count(k6_http_req_duration_seconds{testid=\"" + testid + "\",scenario=\"default\"})"), 2)
        << "one series per URL";
    // Threshold verdicts (herd_threshold_passed, 1 passes / 0 crossed): the last push carries the
    // summary's, from the process or from the coordinator.
    auto verdict = [&](const std::string& metric, const std::string& source) {
      return prom.query("herd_threshold_passed{testid=\"" + testid + "\",metric=\"" + metric + "\",threshold=\"" +
                        source + "\"}");
    };
    EXPECT_EQ(verdict("http_req_duration", "p(95)<60000"), 1);
    EXPECT_EQ(verdict("http_reqs{status:200}", "count<10"), 0);
    EXPECT_EQ(exp["metrics"]["http_reqs{status:200}"]["thresholds"]["count<10"], true) << "crossed in the summary";
  }
};

TEST_F(PromRwTest, SingleProcessCountsAndP95MatchTheSummary) {
  REQUIRE_PROMETHEUS();
  Prometheus prom(dir_);
  ASSERT_TRUE(prom.ready()) << prom.log();
  check_run(prom, "single", {});
}

TEST_F(PromRwTest, ParallelRunWritesTheMergedSeriesOnce) {
  REQUIRE_PROMETHEUS();
  Prometheus prom(dir_);
  ASSERT_TRUE(prom.ready()) << prom.log();
  check_run(prom, "par3", {"--parallelism", "3"});
  // One writer: no per-runner series (no instance label), one series per URL.
  EXPECT_EQ(prom.query("count(k6_http_reqs_total{testid=\"par3\",url=\"" + base_url() + "/\"})"), 1);
  // Generator health (issue #15): the coordinator writes one set of gauges per runner.
  EXPECT_EQ(prom.query("count(last_over_time(herd_generator_cpu_ratio{testid=\"par3\"}[5m]))"), 3);
  EXPECT_EQ(prom.query("count(last_over_time(herd_generator_loop_lag_seconds{testid=\"par3\",segment=\"1/3:2/3\","
                       "runner=\"runner 2 (segment 1/3:2/3)\"}[5m]))"),
            1);
}

TEST_F(PromRwTest, TrendStatsByDefault) {
  REQUIRE_PROMETHEUS();
  Prometheus prom(dir_);
  ASSERT_TRUE(prom.ready()) << prom.log();
  auto e = env(prom, false);
  e["K6_PROMETHEUS_RW_TREND_STATS"] = "p(99),count,max";
  e["K6_PROMETHEUS_RW_STALE_MARKERS"] = "true";
  ProcResult r;
  json exp = run_export(kLoad, &r, {"--out", "experimental-prometheus-rw", "--tag", "testid=stats"}, e);
  ASSERT_EQ(r.exit_code, 99) << r;  // kLoad's count<10 threshold
  // Staleness markers end every series: an instant query finds nothing now...
  EXPECT_TRUE(std::isnan(prom.query("sum(k6_http_req_duration_count{testid=\"stats\"})")));
  // ...but the values before the end are there.
  EXPECT_EQ(prom.query("sum(last_over_time(k6_http_req_duration_count{testid=\"stats\"}[5m]))"),
            exp["metrics"]["http_reqs"]["count"].get<double>());
  double max_s = prom.query("max(last_over_time(k6_http_req_duration_max{testid=\"stats\"}[5m]))");
  EXPECT_NEAR(max_s * 1000, exp["metrics"]["http_req_duration"]["max"].get<double>(), 1e-6);
  EXPECT_FALSE(std::isnan(prom.query("max(last_over_time(k6_http_req_duration_p99{testid=\"stats\"}[5m]))")));
  EXPECT_TRUE(std::isnan(prom.query("sum(last_over_time(k6_http_req_duration_seconds{testid=\"stats\"}[5m]))")));
}

// ---------------------------------------------------------------- failures

/// A loopback server on its own thread: answers every request with `status`,
/// or (status 0) accepts connections and never answers.
class BadEndpoint {
 public:
  explicit BadEndpoint(int status) : status_(status) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 64) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1");
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::jthread([this](std::stop_token st) { serve(st); });
  }
  ~BadEndpoint() {
    thread_.request_stop();
    thread_.join();
    for (int c : held_) close(c);
    close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/api/v1/write"; }

 private:
  void serve(std::stop_token st) {
    while (!st.stop_requested()) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      if (status_ == 0) {
        held_.push_back(c);  // never answered
        continue;
      }
      std::string req;
      char buf[65536];
      timeval tv{0, 200000};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      for (;;) {  // the headers, then Content-Length bytes of body
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
        auto h = req.find("\r\n\r\n");
        if (h == std::string::npos) continue;
        auto cl = req.find("Content-Length: ");
        std::size_t want = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16));
        if (req.size() >= h + 4 + want) break;
      }
      std::string resp =
          "HTTP/1.1 " + std::to_string(status_) + " Oops\r\nContent-Length: 4\r\nConnection: close\r\n\r\nboom";
      (void)!write(c, resp.data(), resp.size());
      close(c);
    }
  }
  int status_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::vector<int> held_;
  std::jthread thread_;  ///< last member
};

const char* const kShort = R"JS(
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 2, duration: '1500ms' };
export default function () { http.get(__ENV.BASE_URL + '/'); sleep(0.05); }
)JS";

// "--out experimental-prometheus-rw: N samples sent in P pushes, D samples dropped"
long dropped(const std::string& err) {
  static const std::regex re(R"(experimental-prometheus-rw: \d+ samples sent in \d+ pushes, (\d+) samples dropped)");
  std::smatch m;
  return std::regex_search(err, m, re) ? std::stol(m[1].str()) : -1;
}

void expect_failure_is_counted(const ProcResult& r, const std::string& kind) {
  EXPECT_EQ(r.exit_code, 0) << r;  // the test itself passed
  EXPECT_GT(dropped(r.out), 0) << "the summary says how many were dropped\n" << r;
  EXPECT_NE(r.out.find("    OUTPUTS\n    --out experimental-prometheus-rw:"), std::string::npos) << r;
  EXPECT_EQ(count_occurrences(r.err, kind), 1) << "logged once, not per push\n" << r;
  EXPECT_NE(r.out.find("http_reqs"), std::string::npos) << "the summary is printed\n" << r;
}

TEST_F(PromRwTest, RefusedEndpointIsLoggedOnceAndCounted) {
  RefusingPort refusing;
  std::string url = "http://127.0.0.1:" + std::to_string(refusing.port()) + "/api/v1/write";
  ProcResult r = run_script(kShort, {"--out", "experimental-prometheus-rw"},
                            {{"K6_PROMETHEUS_RW_SERVER_URL", url}, {"K6_PROMETHEUS_RW_PUSH_INTERVAL", "100ms"}});
  expect_failure_is_counted(r, "Couldn't connect to server");
  EXPECT_LT(r.seconds, 10) << r;
}

TEST_F(PromRwTest, WithoutATextSummaryTheCountsAreLogged) {
  RefusingPort refusing;
  std::string url = "http://127.0.0.1:" + std::to_string(refusing.port()) + "/api/v1/write";
  for (std::string how : {"--no-summary", "handleSummary"}) {
    std::string script = kShort;
    std::vector<std::string> args = {"--out", "experimental-prometheus-rw"};
    if (how == "--no-summary")
      args.push_back(how);
    else
      script += "export function handleSummary(data) { return { stdout: 'custom summary\\n' }; }\n";
    ProcResult r =
        run_script(script, args, {{"K6_PROMETHEUS_RW_SERVER_URL", url}, {"K6_PROMETHEUS_RW_PUSH_INTERVAL", "100ms"}});
    EXPECT_EQ(r.exit_code, 0) << how << "\n" << r;
    EXPECT_GT(dropped(r.err), 0) << how << "\n" << r;
    EXPECT_EQ(r.out.find("OUTPUTS"), std::string::npos) << how << "\n" << r;
  }
}

TEST_F(PromRwTest, Http500IsLoggedOnceAndCounted) {
  BadEndpoint bad(500);
  ProcResult r = run_script(kShort, {"--out", "experimental-prometheus-rw"},
                            {{"K6_PROMETHEUS_RW_SERVER_URL", bad.url()}, {"K6_PROMETHEUS_RW_PUSH_INTERVAL", "100ms"}});
  expect_failure_is_counted(r, "HTTP 500: boom");
  EXPECT_LT(r.seconds, 10) << r;
}

TEST_F(PromRwTest, SilentEndpointDoesNotStallTheTest) {
  BadEndpoint silent(0);
  ProcResult r =
      run_script(kShort, {"--out", "experimental-prometheus-rw"},
                 {{"K6_PROMETHEUS_RW_SERVER_URL", silent.url()}, {"K6_PROMETHEUS_RW_PUSH_INTERVAL", "100ms"}});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_GT(dropped(r.out), 0) << r;
  // The load ran its 1.5 s; the end waits at most for the final push's 5 s timeout.
  EXPECT_LT(r.seconds, 12) << r;
  EXPECT_GT(served(), 20u) << "the pushes never held the VUs back";
}

TEST_F(PromRwTest, BadSettingsAreRefusedBeforeTheTest) {
  struct Case {
    std::map<std::string, std::string> env;
    std::string want;
  };
  for (const Case& c : {Case{{{"K6_PROMETHEUS_RW_PUSH_INTERVAL", "often"}}, "K6_PROMETHEUS_RW_PUSH_INTERVAL"},
                        Case{{{"K6_PROMETHEUS_RW_TREND_STATS", "p(200)"}}, "K6_PROMETHEUS_RW_TREND_STATS"},
                        Case{{{"K6_PROMETHEUS_RW_CLIENT_CERTIFICATE", "c.pem"}}, "K6_PROMETHEUS_RW_CLIENT_CERTIFICATE"},
                        Case{{{"K6_PROMETHEUS_RW_STALE_MARKERS", "maybe"}}, "K6_PROMETHEUS_RW_STALE_MARKERS"}}) {
    ProcResult r = run_script(kShort, {"--out", "experimental-prometheus-rw"}, c.env);
    EXPECT_EQ(r.exit_code, 104) << r;
    EXPECT_NE(r.err.find("--out experimental-prometheus-rw: " + c.want), std::string::npos) << r;
  }
  ProcResult arg = run_script(kShort, {"--out", "experimental-prometheus-rw=http://x"});
  EXPECT_EQ(arg.exit_code, 104) << arg;
  EXPECT_NE(arg.err.find("takes no argument"), std::string::npos) << arg;
  EXPECT_EQ(served(), 0u);
}

}  // namespace
}  // namespace herd::it
