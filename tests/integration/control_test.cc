// The control API driven over HTTP against a real paused runner (issue #3).
#include <thread>

#include "harness.h"

namespace herd::it {
namespace {

class ControlTest : public HerdTest {
 protected:
  /// Starts `herd run --paused --address 127.0.0.1:PORT [args] script.js` in the background.
  void start(const std::string& script, std::vector<std::string> args) {
    dir_.write("script.js", script);
    api_port_ = closed_port();
    RunSpec spec;
    spec.args = {"run", "--paused", "--address", "127.0.0.1:" + std::to_string(api_port_)};
    spec.args.insert(spec.args.end(), args.begin(), args.end());
    spec.args.push_back("script.js");
    spec.env.emplace("BASE_URL", base_url());
    spec.cwd = dir_.path();
    spec.timeout = 60s;
    finish();  // a previous run, if any, is over before the next one starts
    runner_.emplace([spec] { return run_process(herd_binary(), spec); });
  }
  ProcResult finish() {
    if (runner_) result_ = runner_->wait();
    runner_.reset();
    return result_;
  }
  void TearDown() override {
    if (runner_) {
      std::string b;
      http_call(api_port_, "PATCH", "/v1/status", R"({"data":{"attributes":{"stopped":true}}})", &b);
      runner_.reset();
    }
    HerdTest::TearDown();
  }
  /// GET /v1/status attributes, waiting until the API answers.
  json status() {
    for (int i = 0; i < 200; i++) {
      std::string b;
      if (http_call(api_port_, "GET", "/v1/status", "", &b) == 200) return json::parse(b)["data"]["attributes"];
      std::this_thread::sleep_for(50ms);
    }
    return json();
  }
  // The API answers while the VUs are still being initialised (vus-max counts
  // initialised VUs): waits up to 10 s for vus-max to reach `n`.
  json status_with_vus_max(int n) {
    json st = status();
    for (int i = 0; i < 200 && st.is_object() && st.value("vus-max", -1) < n; i++) {
      std::this_thread::sleep_for(50ms);
      st = status();
    }
    return st;
  }
  int patch(const std::string& attrs, std::string* body) {
    return http_call(api_port_, "PATCH", "/v1/status",
                     R"({"data":{"type":"status","id":"default","attributes":)" + attrs + "}}", body);
  }
  std::uint16_t api_port_ = 0;
  std::optional<BackgroundRun> runner_;  ///< always joined (BackgroundRun)
  ProcResult result_;
};

TEST_F(ControlTest, PausedRunnerStartsOnResumeScalesAndStopsWith103) {
  start(R"JS(
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { scenarios: { ext: { executor: 'externally-controlled', vus: 1, maxVUs: 4, duration: '0s' } } };
export default function () { http.post(`${__ENV.BASE_URL}/counter/ext-${__VU}/inc`); sleep(0.05); }
)JS",
        {});
  json st = status_with_vus_max(4);
  ASSERT_TRUE(st.is_object()) << "the API never answered";
  EXPECT_EQ(st["paused"], true);
  EXPECT_EQ(st["vus-max"], 4);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(served(), 0u) << "a paused runner sends nothing";

  std::string body;
  ASSERT_EQ(patch(R"({"paused":false})", &body), 200) << body;
  std::this_thread::sleep_for(400ms);
  EXPECT_GT(counter("ext-1"), 0);
  EXPECT_EQ(counter("ext-3"), 0) << "only 1 VU was asked for";

  ASSERT_EQ(patch(R"({"vus":3})", &body), 200) << body;
  std::this_thread::sleep_for(400ms);
  EXPECT_GT(counter("ext-3"), 0) << "VU 3 runs after scaling to 3";
  EXPECT_EQ(counter("ext-4"), 0);
  EXPECT_EQ(patch(R"({"vus":9})", &body), 400) << "above maxVUs";
  EXPECT_NE(body.find("maxVUs"), std::string::npos) << body;

  std::string m;
  ASSERT_EQ(http_call(api_port_, "GET", "/v1/metrics/iterations", "", &m), 200) << m;
  EXPECT_GT(json::parse(m)["data"]["attributes"]["sample"]["count"].get<double>(), 0) << m;
  std::string snap;
  ASSERT_EQ(http_call(api_port_, "GET", "/v1/snapshot", "", &snap), 200);
  EXPECT_EQ(json::parse(snap)["version"], 1) << snap.substr(0, 200);

  ASSERT_EQ(patch(R"({"stopped":true})", &body), 200) << body;
  ProcResult r = finish();
  EXPECT_EQ(r.exit_code, 103) << r;
  EXPECT_NE(r.out.find("iterations"), std::string::npos) << "the summary is still printed\n" << r;
}

TEST_F(ControlTest, SetupRunsOnceThroughTheApiAndItsDataIsShared) {
  start(R"JS(
import http from 'k6/http';
export const options = { iterations: 3 };
export function setup() { http.post(`${__ENV.BASE_URL}/counter/setup/inc`); return { token: 'abc' }; }
export default function (data) { http.post(`${__ENV.BASE_URL}/counter/data-${data.token}/inc`); }
export function teardown(data) { http.post(`${__ENV.BASE_URL}/counter/teardown-${data.token}/inc`); }
)JS",
        {"--no-setup"});
  ASSERT_TRUE(status().is_object());
  std::string body;
  ASSERT_EQ(http_call(api_port_, "POST", "/v1/setup", "", &body), 200) << body;
  EXPECT_EQ(json::parse(body)["data"]["attributes"]["data"]["token"], "abc") << body;
  // Another runner would receive the data with PUT (the raw JSON value, as k6); replace it and check it is used.
  ASSERT_EQ(http_call(api_port_, "PUT", "/v1/setup", R"({"token":"xyz"})", &body), 200) << body;
  ASSERT_EQ(patch(R"({"paused":false})", &body), 200) << body;
  ProcResult r = finish();
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(counter("setup"), 1) << "setup ran once, through the API";
  EXPECT_EQ(counter("data-xyz"), 3);
  EXPECT_EQ(counter("teardown-xyz"), 1);
}

TEST_F(ControlTest, MalformedRequestsGet400AndTheRunnerSurvives) {
  start("export const options = { iterations: 1 };\nexport default function () {}\n", {});
  ASSERT_TRUE(status().is_object());
  std::string body;
  EXPECT_EQ(http_call(api_port_, "PATCH", "/v1/status", "{not json", &body), 400) << body;
  EXPECT_EQ(http_call(api_port_, "PATCH", "/v1/status", R"({"data":{"attributes":{"vus":-3}}})", &body), 400) << body;
  EXPECT_EQ(http_call(api_port_, "GET", "/v1/nope", "", &body), 404) << body;
  EXPECT_EQ(status()["paused"], true) << "still alive and paused";
  ASSERT_EQ(patch(R"({"paused":false})", &body), 200) << body;
  EXPECT_EQ(finish().exit_code, 0);
}

}  // namespace
}  // namespace herd::it
