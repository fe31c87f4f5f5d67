// Control API endpoints: status, metrics, groups, setup, errors.
#include <atomic>
#include <future>
#include <thread>

#include "api/control_server_test_util.h"
#include "export/prom_text.h"
#include "metrics/snapshot_binary.h"

namespace herd::api {
namespace {

using namespace testutil;

[[maybe_unused]] auto* const curl_env = ::testing::AddGlobalTestEnvironment(new CurlEnv);

TEST_F(ControlServerTest, GetStatusEnvelope) {
  auto r = http(nullptr, "GET", base + "/v1/status");
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  json j = r.j();
  EXPECT_EQ(j["data"]["type"], "status");
  EXPECT_EQ(j["data"]["id"], "default");
  const json& a = j["data"]["attributes"];
  EXPECT_EQ(a["status"], 7);
  EXPECT_EQ(a["status-name"], "Running");
  EXPECT_EQ(a["paused"], false);
  EXPECT_EQ(a["vus"], 5);
  EXPECT_EQ(a["vus-max"], 10);
  EXPECT_EQ(a["stopped"], false);
  EXPECT_EQ(a["running"], true);
  EXPECT_EQ(a["tainted"], false);
}

TEST_F(ControlServerTest, HeadStatusHasNoBody) {
  auto r = http(nullptr, "HEAD", base + "/v1/status");
  EXPECT_EQ(r.code, 200);
  EXPECT_TRUE(r.body.empty());
  EXPECT_GT(std::stoul(r.headers["content-length"]), 10u);
}

TEST_F(ControlServerTest, PatchPauseAndResume) {
  std::string pause = R"({"data":{"type":"status","id":"default","attributes":{"paused":true}}})";
  auto r = http(nullptr, "PATCH", base + "/v1/status", pause, {"Content-Type: application/json"});
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.j()["data"]["attributes"]["paused"], true);
  EXPECT_EQ(r.j()["data"]["type"], "status");
  ASSERT_EQ(h.patch_count(), 1u);
  EXPECT_EQ(h.patches[0].paused, std::optional<bool>(true));
  EXPECT_FALSE(h.patches[0].vus);
  EXPECT_FALSE(h.patches[0].vus_max);
  EXPECT_FALSE(h.patches[0].stopped);

  r = http(nullptr, "PATCH", base + "/v1/status", R"({"data":{"attributes":{"paused":false}}})");
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.j()["data"]["attributes"]["paused"], false);
  ASSERT_EQ(h.patch_count(), 2u);
  EXPECT_EQ(h.patches[1].paused, std::optional<bool>(false));
}

// "start at T" (issue #17): the instant reaches the handler; the status
// tells the runner's clock (for the coordinator's clock-offset estimate).
TEST_F(ControlServerTest, PatchResumeWithStartAt) {
  auto r = http(nullptr, "PATCH", base + "/v1/status", R"({"data":{"attributes":{"paused":true}}})");
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_FALSE(h.patches[0].start_at_us);
  r = http(nullptr, "PATCH", base + "/v1/status",
           R"({"data":{"attributes":{"paused":false,"start-at-us":1700000000123456}}})");
  ASSERT_EQ(r.code, 200) << r.body;
  ASSERT_EQ(h.patch_count(), 2u);
  EXPECT_EQ(h.patches[1].start_at_us, std::optional<std::int64_t>(1700000000123456));
  const auto now_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  ASSERT_TRUE(r.j()["data"]["attributes"]["clock-us"].is_number_integer()) << r.body;
  EXPECT_NEAR(static_cast<double>(r.j()["data"]["attributes"]["clock-us"].get<std::int64_t>()),
              static_cast<double>(now_us), 5e6);
}

TEST_F(ControlServerTest, PatchResumeRunningTestIs400WithHandlerMessage) {
  auto r = http(nullptr, "PATCH", base + "/v1/status", R"({"data":{"attributes":{"paused":false}}})");
  expect_error(r, 400, "test is not paused");
}

TEST_F(ControlServerTest, PatchVusAndVusMax) {
  // A client echoing the whole status back (read-only fields included) is fine.
  auto r = http(
      nullptr, "PATCH", base + "/v1/status",
      R"({"data":{"type":"status","id":"default","attributes":{"vus":20,"vus-max":30,"running":true,"tainted":false,"status":7}}})");
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.j()["data"]["attributes"]["vus"], 20);
  EXPECT_EQ(r.j()["data"]["attributes"]["vus-max"], 30);
  ASSERT_EQ(h.patch_count(), 1u);
  EXPECT_EQ(h.patches[0].vus, std::optional<std::int64_t>(20));
  EXPECT_EQ(h.patches[0].vus_max, std::optional<std::int64_t>(30));
  EXPECT_FALSE(h.patches[0].paused);
}

TEST_F(ControlServerTest, PatchVusAboveMaxIs400) {
  auto r = http(nullptr, "PATCH", base + "/v1/status", R"({"data":{"attributes":{"vus":11}}})");
  expect_error(r, 400, "vus-max");
  EXPECT_EQ(h.st.vus, 5);
}

TEST_F(ControlServerTest, PatchStop) {
  auto r = http(nullptr, "PATCH", base + "/v1/status", R"({"data":{"attributes":{"stopped":true}}})");
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.j()["data"]["attributes"]["stopped"], true);
  EXPECT_EQ(r.j()["data"]["attributes"]["running"], false);
  ASSERT_EQ(h.patch_count(), 1u);
  EXPECT_EQ(h.patches[0].stopped, std::optional<bool>(true));
}

TEST_F(ControlServerTest, PatchTypeErrorsAre400AndNeverReachHandler) {
  const char* bodies[] = {
      R"({"data":{"attributes":{"vus":"ten"}}})",
      R"({"data":{"attributes":{"vus":-1}}})",
      R"({"data":{"attributes":{"vus":1.5}}})",
      R"({"data":{"attributes":{"vus-max":18446744073709551615}}})",
      R"({"data":{"attributes":{"paused":"yes"}}})",
      R"({"data":{"attributes":{"stopped":1}}})",
      R"({"data":{"attributes":{"start-at-us":1700000000000000}}})",
      R"({"data":{"attributes":{"paused":false,"start-at-us":"soon"}}})",
      R"({"data":{"attributes":{"paused":false,"start-at-us":-5}}})",
      R"({"data":{"attributes":[]}})",
      R"({"data":{"type":"metrics","attributes":{}}})",
      R"({"paused":true})",
      R"([1,2])",
      R"("data")",
  };
  for (const char* b : bodies) {
    SCOPED_TRACE(b);
    auto r = http(nullptr, "PATCH", base + "/v1/status", std::string(b));
    expect_error(r, 400);
  }
  EXPECT_EQ(h.patch_count(), 0u);
}

TEST_F(ControlServerTest, MalformedJsonIs400) {
  for (std::string b : {"{", "", "{\"data\":}", "nul", "{\"data\":{}} trailing"}) {
    SCOPED_TRACE(b);
    auto r = http(nullptr, "PATCH", base + "/v1/status", b);
    expect_error(r, 400);
  }
  auto r = http(nullptr, "PUT", base + "/v1/setup", std::string("{\"a\":"));
  expect_error(r, 400);
  EXPECT_EQ(h.patch_count(), 0u);
  EXPECT_EQ(h.set_setup_calls, 0);
}

TEST_F(ControlServerTest, DeeplyNestedJsonIs400NotACrash) {
  std::string deep(200000, '[');
  deep += std::string(200000, ']');
  auto r = http(nullptr, "PUT", base + "/v1/setup", deep);
  expect_error(r, 400, "nested");
  EXPECT_EQ(h.set_setup_calls, 0);
  // Brackets inside strings do not count.
  r = http(nullptr, "PUT", base + "/v1/setup", json(std::string(1000, '[')).dump());
  EXPECT_EQ(r.code, 200) << r.body;
}

// ------------------------------------------------------------------ metrics

TEST_F(ControlServerTest, ListMetricsInK6Shape) {
  h.snap = make_snapshot();
  h.tainted["http_req_duration"] = true;
  auto r = http(nullptr, "GET", base + "/v1/metrics");
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json");
  json data = r.j()["data"];
  ASSERT_TRUE(data.is_array());
  std::map<std::string, json> by;
  for (const auto& m : data) {
    EXPECT_EQ(m["type"], "metrics");
    by[m["id"].get<std::string>()] = m["attributes"];
  }
  ASSERT_EQ(by.size(), 4u) << r.body;  // "unused" has no samples
  EXPECT_FALSE(by.count("unused"));

  EXPECT_EQ(by["http_reqs"]["type"], "counter");
  EXPECT_EQ(by["http_reqs"]["contains"], "default");
  EXPECT_TRUE(by["http_reqs"]["tainted"].is_null());
  EXPECT_DOUBLE_EQ(by["http_reqs"]["sample"]["count"].get<double>(), 10);
  EXPECT_DOUBLE_EQ(by["http_reqs"]["sample"]["rate"].get<double>(), 5);  // 10 over 2 s

  EXPECT_EQ(by["vus"]["type"], "gauge");
  EXPECT_DOUBLE_EQ(by["vus"]["sample"]["value"].get<double>(), 3);
  EXPECT_DOUBLE_EQ(by["vus"]["sample"]["min"].get<double>(), 3);
  EXPECT_DOUBLE_EQ(by["vus"]["sample"]["max"].get<double>(), 5);

  EXPECT_EQ(by["checks"]["type"], "rate");
  EXPECT_DOUBLE_EQ(by["checks"]["sample"]["rate"].get<double>(), 0.8);  // 4 of 5

  const json& t = by["http_req_duration"];
  EXPECT_EQ(t["type"], "trend");
  EXPECT_EQ(t["contains"], "time");
  EXPECT_EQ(t["tainted"], true);
  EXPECT_DOUBLE_EQ(t["sample"]["avg"].get<double>(), 50.5);
  EXPECT_DOUBLE_EQ(t["sample"]["min"].get<double>(), 1);
  EXPECT_DOUBLE_EQ(t["sample"]["max"].get<double>(), 100);
  EXPECT_NEAR(t["sample"]["med"].get<double>(), 50.5, 1.0);
  EXPECT_NEAR(t["sample"]["p(90)"].get<double>(), 90.1, 1.0);
  EXPECT_NEAR(t["sample"]["p(95)"].get<double>(), 95.05, 1.0);
}

TEST_F(ControlServerTest, GetOneMetricAndUnknownMetric) {
  h.snap = make_snapshot();
  auto r = http(nullptr, "GET", base + "/v1/metrics/vus");
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.j()["data"]["type"], "metrics");
  EXPECT_EQ(r.j()["data"]["id"], "vus");
  EXPECT_DOUBLE_EQ(r.j()["data"]["attributes"]["sample"]["value"].get<double>(), 3);
  expect_error(http(nullptr, "GET", base + "/v1/metrics/nope"), 404, "nope");
  expect_error(http(nullptr, "GET", base + "/v1/metrics/unused"), 404);
  expect_error(http(nullptr, "GET", base + "/v1/metrics/bad%zz"), 400);
  // Percent-encoded ids are decoded.
  EXPECT_EQ(http(nullptr, "GET", base + "/v1/metrics/v%75s").code, 200);
}

TEST_F(ControlServerTest, SnapshotEndpointIsWireFormat) {
  h.snap = make_snapshot();
  auto r = http(nullptr, "GET", base + "/v1/snapshot");
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  json j = r.j();
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j, h.snap.to_json());
  metrics::Snapshot back = metrics::Snapshot::from_json(j);
  EXPECT_EQ(back.series.size(), h.snap.series.size());
}

TEST_F(ControlServerTest, SnapshotEndpointServesTheBinaryFormWhenAccepted) {
  h.snap = make_snapshot();
  auto r = http(nullptr, "GET", base + "/v1/snapshot", std::nullopt,
                {"Accept: application/vnd.herd.snapshot, application/json;q=0.5"});
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(r.headers["content-type"], "application/vnd.herd.snapshot");
  EXPECT_EQ(r.body, metrics::to_binary(h.snap));
  EXPECT_EQ(metrics::from_binary(r.body).to_json(), h.snap.to_json());
  // Anything else, or the binary form refused, is answered in JSON.
  for (const char* accept : {"Accept: */*", "Accept: application/json", "Accept: application/vnd.herd.snapshot;q=0"}) {
    auto j = http(nullptr, "GET", base + "/v1/snapshot", std::nullopt, {accept});
    ASSERT_EQ(j.code, 200) << accept;
    EXPECT_EQ(j.headers["content-type"], "application/json") << accept;
    EXPECT_EQ(j.j(), h.snap.to_json()) << accept;
  }
  // The Accept of a second header line counts too.
  auto two = http(nullptr, "GET", base + "/v1/snapshot", std::nullopt,
                  {"Accept: application/json", "Accept: application/vnd.herd.snapshot"});
  EXPECT_EQ(two.headers["content-type"], "application/vnd.herd.snapshot");
}

TEST_F(ControlServerTest, ScrapeEndpointIsPrometheusText) {
  h.snap = make_snapshot();
  auto r = http(nullptr, "GET", base + "/metrics");
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, exporter::prom_text(h.snap));
  EXPECT_NE(r.body.find("# TYPE k6_vus gauge\n"), std::string::npos) << r.body;
  auto head = http(nullptr, "HEAD", base + "/metrics?x=1");
  EXPECT_EQ(head.code, 200);
  EXPECT_TRUE(head.body.empty());
  auto post = http(nullptr, "POST", base + "/metrics", std::string("{}"));
  expect_error(post, 405);
  EXPECT_EQ(post.headers["allow"], "GET, HEAD");
  expect_error(http(nullptr, "GET", base + "/metrics/x"), 404);
  h.snap = metrics::Snapshot{};
  r = http(nullptr, "GET", base + "/metrics");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "") << "no series yet: an empty exposition";
}

// ------------------------------------------------------------------ groups

TEST_F(ControlServerTest, GroupsFromChecks) {
  h.snap = make_snapshot();
  auto r = http(nullptr, "GET", base + "/v1/groups");
  ASSERT_EQ(r.code, 200) << r.body;
  json data = r.j()["data"];
  ASSERT_EQ(data.size(), 2u) << r.body;
  const json& root = data[0];
  const json& login = data[1];
  EXPECT_EQ(root["type"], "groups");
  EXPECT_EQ(root["attributes"]["path"], "");
  EXPECT_EQ(root["attributes"]["name"], "");
  ASSERT_EQ(root["attributes"]["checks"].size(), 1u);
  EXPECT_EQ(root["attributes"]["checks"][0]["name"], "status is 200");
  EXPECT_EQ(root["attributes"]["checks"][0]["passes"], 3);
  EXPECT_EQ(root["attributes"]["checks"][0]["fails"], 1);
  EXPECT_TRUE(root["relationships"]["parent"]["data"].is_null());
  ASSERT_EQ(root["relationships"]["groups"]["data"].size(), 1u);
  EXPECT_EQ(root["relationships"]["groups"]["data"][0]["id"], login["id"]);
  EXPECT_EQ(login["attributes"]["name"], "login");
  EXPECT_EQ(login["attributes"]["path"], "::login");
  EXPECT_EQ(login["relationships"]["parent"]["data"]["id"], root["id"]);
  EXPECT_NE(root["id"], login["id"]);

  std::string id = login["id"];
  auto one = http(nullptr, "GET", base + "/v1/groups/" + id);
  ASSERT_EQ(one.code, 200);
  EXPECT_EQ(one.j()["data"], login);
  expect_error(http(nullptr, "GET", base + "/v1/groups/ffff"), 404);
}

// ------------------------------------------------------------------ setup / teardown

TEST_F(ControlServerTest, SetupGetPostPut) {
  auto r = http(nullptr, "GET", base + "/v1/setup");
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(r.j(), json::parse(R"({"data":{"type":"setupData","id":"default","attributes":{"data":null}}})"));

  r = http(nullptr, "POST", base + "/v1/setup");
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.j()["data"]["attributes"]["data"], json({{"token", "abc"}}));
  EXPECT_EQ(h.run_setup_calls, 1);

  r = http(nullptr, "PUT", base + "/v1/setup", std::string(R"({"v":[1,2,3]})"), {"Content-Type: application/json"});
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.j()["data"]["type"], "setupData");
  EXPECT_EQ(r.j()["data"]["attributes"]["data"], json::parse(R"({"v":[1,2,3]})"));
  EXPECT_EQ(h.setup_data, json::parse(R"({"v":[1,2,3]})"));

  r = http(nullptr, "GET", base + "/v1/setup");
  EXPECT_EQ(r.j()["data"]["attributes"]["data"], json::parse(R"({"v":[1,2,3]})"));

  // An empty PUT body clears the data.
  r = http(nullptr, "PUT", base + "/v1/setup", std::string(""));
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_TRUE(h.setup_data.is_null());
  EXPECT_EQ(h.set_setup_calls, 2);
}

// setup() may run for minutes: the server answers meanwhile, so that a stop
// reaches it (the engine's stop interrupts setup()); one setup at a time.
TEST_F(ControlServerTest, SetupRunsWhileOtherRequestsAreAnswered) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> entered{false};
  h.before_setup = [&] {
    entered = true;
    released.wait_for(std::chrono::seconds(10));
  };
  HttpResult post;
  std::thread t([&] { post = http(nullptr, "POST", base + "/v1/setup"); });
  for (int i = 0; i < 500 && !entered; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(entered.load());
  auto t0 = std::chrono::steady_clock::now();
  auto r = http(nullptr, "GET", base + "/v1/status");
  EXPECT_EQ(r.code, 200);
  r = http(nullptr, "PATCH", base + "/v1/status", std::string(R"({"data":{"attributes":{"stopped":true}}})"));
  EXPECT_EQ(r.code, 200) << r.body;
  r = http(nullptr, "POST", base + "/v1/setup");
  EXPECT_EQ(r.code, 409) << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5)) << "answered only after setup()";
  release.set_value();
  t.join();
  EXPECT_EQ(post.code, 200) << post.body;
  EXPECT_EQ(post.j()["data"]["attributes"]["data"], json({{"token", "abc"}}));
  // The next setup is served again.
  h.before_setup = nullptr;
  EXPECT_EQ(http(nullptr, "POST", base + "/v1/setup").code, 200);
}

TEST_F(ControlServerTest, HandlerExceptionsAre500WithMessage) {
  h.setup_error = "setup() threw: boom";
  expect_error(http(nullptr, "POST", base + "/v1/setup"), 500, "setup() threw: boom");
  h.teardown_error = "teardown failed";
  expect_error(http(nullptr, "POST", base + "/v1/teardown"), 500, "teardown failed");
  h.throw_weird = true;
  expect_error(http(nullptr, "POST", base + "/v1/teardown"), 500);
  // The server survives.
  EXPECT_EQ(http(nullptr, "GET", base + "/v1/status").code, 200);
}

TEST_F(ControlServerTest, HandlerErrorChoosesTheStatus) {
  h.setup_not_implemented = true;
  expect_error(http(nullptr, "GET", base + "/v1/setup"), 501, "setup is not served here");
  EXPECT_EQ(http(nullptr, "GET", base + "/v1/status").code, 200);
}

TEST_F(ControlServerTest, SummaryIs404UntilTheHandlerHasOneThenServedAsIs) {
  expect_error(http(nullptr, "GET", base + "/v1/summary"), 404, "no summary yet");
  {
    std::lock_guard<std::mutex> lk(h.mu);
    h.summary_value = json{{"exitCode", 0}, {"result", "passed"}};
  }
  auto r = http(nullptr, "GET", base + "/v1/summary");
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.j(), (json{{"exitCode", 0}, {"result", "passed"}}));
  EXPECT_TRUE(http(nullptr, "HEAD", base + "/v1/summary").body.empty());
}

TEST_F(ControlServerTest, StartIs404UntilTheHandlerHasOneThenServedAsIs) {
  expect_error(http(nullptr, "GET", base + "/v1/start"), 404, "not started yet");
  {
    std::lock_guard<std::mutex> lk(h.mu);
    h.start_value = json{{"runners", 3}, {"skewMs", 1.5}};
  }
  auto r = http(nullptr, "GET", base + "/v1/start");
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.j(), (json{{"runners", 3}, {"skewMs", 1.5}}));
  expect_error(http(nullptr, "PUT", base + "/v1/start", std::string("{}")), 405);
}

TEST_F(ControlServerTest, Teardown) {
  auto r = http(nullptr, "POST", base + "/v1/teardown");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(h.teardown_calls, 1);
}

// ------------------------------------------------------------------ routing errors

TEST_F(ControlServerTest, UnknownPathIs404) {
  for (std::string p :
       {"/", "/v1", "/v1/", "/v2/status", "/v1/statuses", "/v1/status/x", "/v1/setup/x", "/v1/metrics/"}) {
    SCOPED_TRACE(p);
    expect_error(http(nullptr, "GET", base + p), 404);
  }
}

TEST_F(ControlServerTest, WrongMethodIs405WithAllow) {
  struct Case {
    const char* method;
    const char* path;
    const char* allow;
  } cases[] = {{"POST", "/v1/status", "GET, HEAD, PATCH"},
               {"DELETE", "/v1/metrics", "GET, HEAD"},
               {"PUT", "/v1/metrics/vus", "GET, HEAD"},
               {"PATCH", "/v1/setup", "GET, HEAD, POST, PUT"},
               {"GET", "/v1/teardown", "POST"},
               {"POST", "/v1/snapshot", "GET, HEAD"},
               {"POST", "/v1/groups", "GET, HEAD"},
               {"PUT", "/v1/summary", "GET, HEAD"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.path);
    auto r = http(nullptr, c.method, base + c.path, std::string("{}"));
    expect_error(r, 405);
    EXPECT_EQ(r.headers["allow"], c.allow);
  }
  EXPECT_EQ(h.teardown_calls, 0);
  EXPECT_EQ(h.patch_count(), 0u);
}

TEST_F(ControlServerTest, QueryStringIsIgnored) {
  EXPECT_EQ(http(nullptr, "GET", base + "/v1/status?x=1").code, 200);
}

// ------------------------------------------------------------------ HTTP robustness (raw sockets)

}  // namespace
}  // namespace herd::api
