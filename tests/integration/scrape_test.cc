// The scrape endpoint GET /metrics (issue #13) with a real Prometheus server
// scraping it: a runner (`herd run --address`) and a coordinator
// (`herd run --parallelism 2 --address`), each against the loopback target.
#include <cmath>

#include "live_process.h"

namespace herd::it {
namespace {

const char* kPrometheus = "/usr/bin/prometheus";
const std::string kStop = R"({"data":{"type":"status","id":"default","attributes":{"stopped":true}}})";

const char* kScript = R"(
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 2, duration: '3s' };
export default function () {
  // A hostile tag: escaped in the exposition; "le" is renamed on histograms.
  http.get(`${__ENV.BASE_URL}/`, { tags: { 'my-tag': 'a"b\\c\nd \u00e9', le: 'x' } });
  sleep(0.02);
}
)";

/// Sum of a counter's series in an exposition; checks that every line is a
/// comment or `name{labels} value` (a failure names the line). -1 when absent.
double parse_exposition(const std::string& text, const std::string& sample_name) {
  static const std::regex sample(
      R"re(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? ([^ ]+))re");
  double sum = -1;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) == 0) continue;
    std::smatch m;
    if (!std::regex_match(line, m, sample)) {
      ADD_FAILURE() << "not a comment nor a sample: [" << line << "]";
      continue;
    }
    if (m[1].str() == sample_name) sum = (sum < 0 ? 0 : sum) + std::stod(m[5].str());
  }
  return sum;
}

/// A Prometheus server scraping 127.0.0.1:`target_port`/metrics every second.
class Prometheus {
 public:
  Prometheus(const TempDir& dir, std::uint16_t target_port) : port_(closed_port()) {
    std::string cfg = dir.write("prometheus.yml",
                                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                "scrape_configs:\n  - job_name: herd\n    scrape_interval: 1s\n"
                                "    scrape_timeout: 1s\n    static_configs:\n"
                                "      - targets: ['127.0.0.1:" +
                                    std::to_string(target_port) + "']\n");
    proc_ = std::make_unique<BackgroundProcess>(
        kPrometheus,
        std::vector<std::string>{"--config.file=" + cfg, "--storage.tsdb.path=" + dir.file("prom-data"),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"},
        std::map<std::string, std::string>{}, dir.path());
  }
  ~Prometheus() {
    if (proc_ && proc_->running()) {
      kill(proc_->pid(), SIGTERM);
      proc_->wait_exit(10s);
    }
  }

  /// Waits (bounded) until `q` returns a vector with a sample whose value is
  /// `good`; that sample ({"metric":{labels},"value":[time,"v"]}), else null.
  json wait_sample(const std::string& q, std::chrono::milliseconds timeout, const std::function<bool(double)>& good) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string body;
      if (http_call(port_, "GET", "/api/v1/query?query=" + url_encode(q), "", &body) == 200) {
        try {
          json j = json::parse(body);
          const json& r = j["data"]["result"];
          if (r.is_array() && !r.empty() && good(std::stod(r[0]["value"][1].get<std::string>()))) return r[0];
        } catch (const std::exception&) {
        }
      }
      std::this_thread::sleep_for(200ms);
    }
    return nullptr;
  }
  std::optional<double> wait_query(const std::string& q, std::chrono::milliseconds timeout,
                                   const std::function<bool(double)>& good) {
    json s = wait_sample(q, timeout, good);
    if (s.is_null()) return std::nullopt;
    return std::stod(s["value"][1].get<std::string>());
  }
  const BackgroundProcess& process() const { return *proc_; }

 private:
  std::uint16_t port_;
  std::unique_ptr<BackgroundProcess> proc_;
};

class ScrapeTest : public HerdTest {
 protected:
  /// False (and the test skipped, or failed under CI=true) without Prometheus.
  bool have_prometheus() {
    if (access(kPrometheus, X_OK) == 0) return true;
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") ADD_FAILURE() << kPrometheus << " is missing (scripts/install-deps.sh)";
    return false;
  }

  /// Runs `herd run [extra] --address 127.0.0.1:0 --linger` of kScript with
  /// Prometheus scraping its /metrics, and checks what both see.
  void scrape_run(const std::vector<std::string>& extra) {
    dir_.write("script.js", kScript);
    std::vector<std::string> args = {"run"};
    args.insert(args.end(), extra.begin(), extra.end());
    for (const char* a : {"--address", "127.0.0.1:0", "--linger", "--summary-export", "export.json", "script.js"})
      args.emplace_back(a);
    BackgroundProcess herd(herd_binary(), args, {{"BASE_URL", base_url()}}, dir_.path());
    std::string port_s = herd.wait_for(std::regex(R"(control API listening on http://127\.0\.0\.1:(\d+))"), 30s);
    ASSERT_FALSE(port_s.empty()) << herd;
    auto port = static_cast<std::uint16_t>(std::stoi(port_s));
    Prometheus prom(dir_, port);

    // While the test runs, every exposition parses.
    static const std::regex ended("the control API lingers until stopped");
    int scrapes = 0, with_requests = 0;
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline && !std::regex_search(herd.err(), ended)) {
      std::string body;
      ASSERT_EQ(http_call(port, "GET", "/metrics", "", &body), 200) << body;
      scrapes++;
      if (parse_exposition(body, "k6_http_reqs_total") > 0) with_requests++;
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_FALSE(herd.wait_for(ended, 1ms).empty()) << "the test did not end\n" << herd;
    EXPECT_GT(scrapes, 5);
    EXPECT_GT(with_requests, 0) << "k6_http_reqs_total while the test ran";

    // Prometheus has scraped it: the target is up, the counter is there and
    // the classic histogram gives a median.
    EXPECT_TRUE(prom.wait_query("up{job=\"herd\"}", 30s, [](double v) { return v == 1; })) << prom.process() << "\n"
                                                                                           << herd;
    auto reqs = prom.wait_query("sum(k6_http_reqs_total)", 30s, [](double v) { return v > 0; });
    EXPECT_TRUE(reqs) << prom.process();
    // Label values arrive intact; the tag "le" is renamed on the histogram only.
    json reqs_sample = prom.wait_sample("k6_http_reqs_total", 10s, [](double v) { return v > 0; });
    ASSERT_TRUE(reqs_sample.is_object());
    EXPECT_EQ(reqs_sample["metric"].value("my_tag", ""), "a\"b\\c\nd \u00e9") << reqs_sample;
    EXPECT_EQ(reqs_sample["metric"].value("le", ""), "x") << reqs_sample;
    json dur_sample = prom.wait_sample("k6_http_req_duration_seconds_count", 10s, [](double v) { return v > 0; });
    ASSERT_TRUE(dur_sample.is_object());
    EXPECT_EQ(dur_sample["metric"].value("exported_le", ""), "x") << dur_sample;
    auto median = prom.wait_query("histogram_quantile(0.5, sum by (le) (k6_http_req_duration_seconds_bucket))", 30s,
                                  [](double v) { return std::isfinite(v); });
    ASSERT_TRUE(median) << prom.process();
    EXPECT_GT(*median, 0);
    EXPECT_LT(*median, 1) << "seconds: loopback requests take well under a second";

    // At the end the endpoint agrees with the end-of-test summary.
    json exp = json::parse(dir_.read("export.json"));
    double count = exp["metrics"]["http_reqs"]["count"].get<double>();
    EXPECT_GT(count, 0);
    std::string body;
    ASSERT_EQ(http_call(port, "GET", "/metrics", "", &body), 200);
    EXPECT_EQ(parse_exposition(body, "k6_http_reqs_total"), count) << body;
    EXPECT_EQ(parse_exposition(body, "k6_http_req_duration_seconds_count"), count) << body;
    EXPECT_EQ(static_cast<double>(served()), count);
    auto final_reqs = prom.wait_query("sum(k6_http_reqs_total)", 30s, [&](double v) { return v == count; });
    EXPECT_TRUE(final_reqs) << "Prometheus's last scrape holds the final count " << count;

    EXPECT_EQ(http_call(port, "PATCH", "/v1/status", kStop, &body), 200) << body;
    EXPECT_EQ(herd.wait_exit(30s), std::optional<int>(0)) << herd;
  }
};

TEST_F(ScrapeTest, PrometheusScrapesARunner) {
  if (!have_prometheus()) GTEST_SKIP() << kPrometheus << " is missing";
  scrape_run({});
}

TEST_F(ScrapeTest, PrometheusScrapesTheCoordinator) {
  if (!have_prometheus()) GTEST_SKIP() << kPrometheus << " is missing";
  scrape_run({"--parallelism", "2"});
}

}  // namespace
}  // namespace herd::it
