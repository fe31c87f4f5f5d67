#include "api/control_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace herd::api {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using metrics::MetricType;
using metrics::ValueType;

class CurlEnv : public ::testing::Environment {
 public:
  void SetUp() override { curl_global_init(CURL_GLOBAL_DEFAULT); }
  void TearDown() override { curl_global_cleanup(); }
};
[[maybe_unused]] auto* const curl_env = ::testing::AddGlobalTestEnvironment(new CurlEnv);

// ------------------------------------------------------------------ fake handler

class FakeHandler : public ControlHandler {
 public:
  StatusInfo status() override {
    std::lock_guard<std::mutex> lk(mu);
    ++status_calls;
    return st;
  }
  std::optional<std::string> patch_status(const StatusPatch& p) override {
    std::lock_guard<std::mutex> lk(mu);
    patches.push_back(p);
    if (p.paused && !*p.paused && !st.paused) return std::string("test is not paused");
    std::int64_t vmax = p.vus_max.value_or(st.vus_max);
    if (p.vus && *p.vus > vmax) return std::string("vus can't be higher than vus-max");
    if (p.paused) st.paused = *p.paused;
    if (p.vus_max) st.vus_max = *p.vus_max;
    if (p.vus) st.vus = *p.vus;
    if (p.stopped && *p.stopped) {
      st.stopped = true;
      st.running = false;
    }
    return std::nullopt;
  }
  metrics::Snapshot snapshot() override {
    std::lock_guard<std::mutex> lk(mu);
    return snap;
  }
  std::optional<bool> metric_tainted(const std::string& m) override {
    std::lock_guard<std::mutex> lk(mu);
    auto it = tainted.find(m);
    if (it == tainted.end()) return std::nullopt;
    return it->second;
  }
  json get_setup_data() override {
    std::lock_guard<std::mutex> lk(mu);
    ++get_setup_calls;
    if (setup_not_implemented) throw HandlerError(501, "setup is not served here");
    return setup_data;
  }
  json run_setup() override {
    std::lock_guard<std::mutex> lk(mu);
    ++run_setup_calls;
    if (!setup_error.empty()) throw std::runtime_error(setup_error);
    setup_data = json{{"token", "abc"}};
    return setup_data;
  }
  void set_setup_data(json d) override {
    std::lock_guard<std::mutex> lk(mu);
    ++set_setup_calls;
    setup_data = std::move(d);
  }
  void run_teardown() override {
    std::lock_guard<std::mutex> lk(mu);
    ++teardown_calls;
    if (throw_weird) throw 42;
    if (!teardown_error.empty()) throw std::runtime_error(teardown_error);
  }
  std::optional<json> summary() override {
    std::lock_guard<std::mutex> lk(mu);
    return summary_value;
  }

  std::mutex mu;
  StatusInfo st{ExecutionStatus::kRunning, false, 5, 10, false, true, false, std::chrono::seconds(2)};
  std::vector<StatusPatch> patches;
  metrics::Snapshot snap;
  std::map<std::string, bool> tainted;
  json setup_data = nullptr;
  std::string setup_error, teardown_error;
  bool throw_weird = false;
  bool setup_not_implemented = false;
  std::optional<json> summary_value;
  int status_calls = 0, get_setup_calls = 0, run_setup_calls = 0, set_setup_calls = 0, teardown_calls = 0;

  std::size_t patch_count() {
    std::lock_guard<std::mutex> lk(mu);
    return patches.size();
  }
};

// ------------------------------------------------------------------ HTTP client helpers

struct HttpResult {
  long code = 0;
  std::string body;
  std::map<std::string, std::string> headers;  ///< lower-case names
  long num_connects = 0;
  long local_port = 0;
  json j() const { return json::parse(body); }
};

std::size_t on_body(char* p, std::size_t sz, std::size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, sz * n);
  return sz * n;
}
std::size_t on_header(char* p, std::size_t sz, std::size_t n, void* ud) {
  std::string line(p, sz * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(ud))[name] = value;
  }
  return sz * n;
}

/// One request; `h` may be a reused handle (keep-alive) or null for a fresh one.
HttpResult http(CURL* h, const std::string& method, const std::string& url,
                const std::optional<std::string>& body = std::nullopt, const std::vector<std::string>& extra = {},
                long expect_timeout_ms = 0) {
  bool own = h == nullptr;
  if (own) h = curl_easy_init();
  HttpResult r;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(h, CURLOPT_NOBODY, method == "HEAD" ? 1L : 0L);
  if (body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  } else if (method != "HEAD") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (expect_timeout_ms) curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, expect_timeout_ms);
  curl_slist* hl = nullptr;
  for (const auto& x : extra) hl = curl_slist_append(hl, x.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &r.headers);
  CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.code);
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r.num_connects);
  curl_easy_getinfo(h, CURLINFO_LOCAL_PORT, &r.local_port);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(hl);
  if (own) curl_easy_cleanup(h);
  if (rc != CURLE_OK) ADD_FAILURE() << method << " " << url << ": " << curl_easy_strerror(rc);
  return r;
}

// ------------------------------------------------------------------ raw socket helpers

int raw_connect(std::uint16_t port, int timeout_ms = 5000) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void raw_send(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close early (e.g. 431): fine
    off += static_cast<std::size_t>(n);
  }
}

/// Reads until EOF, error or timeout. `eof` tells whether a clean EOF was seen.
std::string raw_read_all(int fd, bool* eof = nullptr) {
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (eof) *eof = n == 0 || (n < 0 && errno == ECONNRESET);
    return out;
  }
}

std::string raw_roundtrip(std::uint16_t port, const std::string& data, bool* eof = nullptr) {
  int fd = raw_connect(port);
  if (fd < 0) {
    ADD_FAILURE() << "connect failed";
    return "";
  }
  raw_send(fd, data);
  std::string r = raw_read_all(fd, eof);
  ::close(fd);
  return r;
}

int status_of(const std::string& resp) {
  if (resp.size() < 12 || resp.compare(0, 9, "HTTP/1.1 ") != 0) return -1;
  return std::stoi(resp.substr(9, 3));
}

json body_of(const std::string& resp) {
  auto p = resp.find("\r\n\r\n");
  if (p == std::string::npos) return nullptr;
  return json::parse(resp.substr(p + 4), nullptr, false);
}

int count_of(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (std::size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

// ------------------------------------------------------------------ fixture

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void start(ControlServerOptions o = {}) {
    srv.reset();
    srv = std::make_unique<ControlServer>("127.0.0.1:0", h, o);
    base = "http://127.0.0.1:" + std::to_string(srv->port());
  }
  void expect_error(const HttpResult& r, long code, const std::string& detail_part = "") {
    EXPECT_EQ(r.code, code) << r.body;
    auto ct = r.headers.find("content-type");
    EXPECT_TRUE(ct != r.headers.end() && ct->second == "application/json");
    json j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body;
    ASSERT_TRUE(j.contains("errors") && j["errors"].is_array() && j["errors"].size() == 1) << r.body;
    EXPECT_EQ(j["errors"][0]["status"], std::to_string(code));
    EXPECT_TRUE(j["errors"][0]["title"].is_string());
    EXPECT_NE(j["errors"][0]["detail"].get<std::string>().find(detail_part), std::string::npos) << r.body;
  }

  FakeHandler h;
  std::unique_ptr<ControlServer> srv;
  std::string base;
};

metrics::TagSet tags(std::vector<std::pair<std::string, std::string>> kv) {
  return metrics::TagSet(std::move(kv));
}

metrics::Snapshot make_snapshot() {
  metrics::Snapshot s;
  s.metrics = {{"http_reqs", MetricType::kCounter, ValueType::kDefault},
               {"vus", MetricType::kGauge, ValueType::kDefault},
               {"checks", MetricType::kRate, ValueType::kDefault},
               {"http_req_duration", MetricType::kTrend, ValueType::kTime},
               {"unused", MetricType::kCounter, ValueType::kDefault}};
  metrics::TagSet a = tags({{"status", "200"}}), b = tags({{"status", "500"}});
  s.series[{0, a}].add(MetricType::kCounter, 4, 1);
  s.series[{0, b}].add(MetricType::kCounter, 6, 1);
  auto& g = s.series[{1, metrics::TagSet()}];
  g.add(MetricType::kGauge, 5, 1);
  g.add(MetricType::kGauge, 3, 2);
  metrics::TagSet root_check = tags({{"group", ""}, {"check", "status is 200"}});
  metrics::TagSet login_check = tags({{"group", "::login"}, {"check", "logged in"}});
  for (int i = 0; i < 4; ++i) s.series[{2, root_check}].add(MetricType::kRate, i < 3 ? 1 : 0, 1);
  s.series[{2, login_check}].add(MetricType::kRate, 1, 1);
  for (int i = 1; i <= 100; ++i) s.series[{3, a}].add(MetricType::kTrend, i, 1);
  s.time_us = 1'700'000'000'000'000;
  return s;
}

// ------------------------------------------------------------------ status

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

TEST_F(ControlServerTest, HugeHeaderIs431AndConnectionCloses) {
  std::string req = "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n";
  bool eof = false;
  std::string resp = raw_roundtrip(srv->port(), req, &eof);
  EXPECT_EQ(status_of(resp), 431) << resp.substr(0, 200);
  EXPECT_TRUE(eof);
  json b = body_of(resp);
  ASSERT_TRUE(b.is_object());
  EXPECT_EQ(b["errors"][0]["status"], "431");
  // Still serving.
  EXPECT_EQ(http(nullptr, "GET", base + "/v1/status").code, 200);
}

TEST_F(ControlServerTest, EndlessHeaderWithoutTerminatorIs431) {
  int fd = raw_connect(srv->port());
  ASSERT_GE(fd, 0);
  raw_send(fd, "GET /v1/status HTTP/1.1\r\n");
  for (int i = 0; i < 100; ++i) raw_send(fd, "X-Filler: " + std::string(1000, 'b') + "\r\n");
  std::string resp = raw_read_all(fd);
  ::close(fd);
  EXPECT_EQ(status_of(resp), 431);
}

TEST_F(ControlServerTest, BodyTooLargeIs413) {
  std::string req =
      "PUT /v1/setup HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(16 * 1024 * 1024 + 1) + "\r\n\r\n{}";
  std::string resp = raw_roundtrip(srv->port(), req);
  EXPECT_EQ(status_of(resp), 413) << resp;
  EXPECT_EQ(h.set_setup_calls, 0);
}

TEST_F(ControlServerTest, MalformedRequestsAre400) {
  const char* reqs[] = {
      "GARBAGE\r\n\r\n",
      "GET /v1/status\r\n\r\n",
      "GET  /v1/status HTTP/1.1\r\n\r\n",
      "GET v1/status HTTP/1.1\r\n\r\n",
      "GET /v1/status HTTP/1.x\r\n\r\n",
      "GET /v1/status HTTP/1.1\r\nNoColon\r\n\r\n",
      "GET /v1/status HTTP/1.1\r\nBad Name: x\r\n\r\n",
      "GET /v1/status HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
      "PUT /v1/setup HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "PUT /v1/setup HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      "PUT /v1/setup HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
      "PUT /v1/setup HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
      "GET /v1/status HTTP/1.1\r\nX: a\x01b\r\n\r\n",
  };
  for (const char* q : reqs) {
    SCOPED_TRACE(q);
    bool eof = false;
    std::string resp = raw_roundtrip(srv->port(), q, &eof);
    EXPECT_EQ(status_of(resp), 400) << resp;
    EXPECT_TRUE(eof);
    json b = body_of(resp);
    ASSERT_TRUE(b.is_object()) << resp;
    EXPECT_EQ(b["errors"][0]["status"], "400");
  }
  EXPECT_EQ(status_of(raw_roundtrip(srv->port(), "GET /v1/status HTTP/2.0\r\n\r\n")), 505);
  EXPECT_EQ(status_of(raw_roundtrip(
                srv->port(), "PUT /v1/setup HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")),
            501);
  EXPECT_EQ(h.set_setup_calls, 0);
}

TEST_F(ControlServerTest, BareLfAndLeadingBlankLinesAreAccepted) {
  std::string resp = raw_roundtrip(srv->port(), "\r\nGET /v1/status HTTP/1.1\nConnection: close\n\n");
  EXPECT_EQ(status_of(resp), 200) << resp;
  EXPECT_EQ(body_of(resp)["data"]["type"], "status");
}

TEST_F(ControlServerTest, PipelinedRequestsOnOneConnection) {
  std::string body = R"({"k":1})";
  std::string req =
      "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n"
      "PUT /v1/setup HTTP/1.1\r\nHost: x\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body +
      "GET /v1/setup HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  bool eof = false;
  std::string resp = raw_roundtrip(srv->port(), req, &eof);
  EXPECT_TRUE(eof);
  EXPECT_EQ(count_of(resp, "HTTP/1.1 200 OK\r\n"), 3) << resp;
  EXPECT_EQ(count_of(resp, "Connection: close\r\n"), 1);
  EXPECT_NE(resp.find(R"("attributes":{"data":{"k":1}})"), std::string::npos) << resp;
}

TEST_F(ControlServerTest, Http10ClosesByDefault) {
  auto t0 = std::chrono::steady_clock::now();
  bool eof = false;
  std::string resp = raw_roundtrip(srv->port(), "GET /v1/status HTTP/1.0\r\n\r\n", &eof);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_TRUE(eof);
  EXPECT_EQ(status_of(resp), 200);
  EXPECT_NE(resp.find("Connection: close\r\n"), std::string::npos);
}

TEST_F(ControlServerTest, IdleConnectionsAreClosed) {
  ControlServerOptions o;
  o.idle_timeout = 200ms;
  start(o);
  int fd = raw_connect(srv->port(), 5000);
  ASSERT_GE(fd, 0);
  raw_send(fd, "GET /v1/sta");  // never finished
  auto t0 = std::chrono::steady_clock::now();
  bool eof = false;
  std::string got = raw_read_all(fd, &eof);
  ::close(fd);
  EXPECT_TRUE(eof);
  EXPECT_TRUE(got.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST_F(ControlServerTest, ConnectionLimit) {
  ControlServerOptions o;
  o.max_connections = 2;
  start(o);
  int a = raw_connect(srv->port()), b = raw_connect(srv->port());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  raw_send(a, "GET /v1/status HTTP/1.1\r\n\r\n");  // make sure both are accepted
  raw_send(b, "GET /v1/status HTTP/1.1\r\n\r\n");
  char buf[4096];
  ASSERT_GT(::recv(a, buf, sizeof buf, 0), 0);
  ASSERT_GT(::recv(b, buf, sizeof buf, 0), 0);
  bool eof = false;
  std::string third = raw_roundtrip(srv->port(), "GET /v1/status HTTP/1.1\r\n\r\n", &eof);
  EXPECT_TRUE(third.empty());
  EXPECT_TRUE(eof);
  ::close(a);
  ::close(b);
}

// ------------------------------------------------------------------ connections

TEST_F(ControlServerTest, KeepAliveReusesOneConnection) {
  CURL* c = curl_easy_init();
  auto r1 = http(c, "GET", base + "/v1/status");
  auto r2 = http(c, "PATCH", base + "/v1/status", std::string(R"({"data":{"attributes":{"vus":7}}})"));
  auto r3 = http(c, "GET", base + "/v1/metrics");
  auto r4 = http(c, "GET", base + "/v1/nope");  // errors keep the connection too
  auto r5 = http(c, "GET", base + "/v1/status");
  curl_easy_cleanup(c);
  EXPECT_EQ(r1.code, 200);
  EXPECT_EQ(r2.code, 200);
  EXPECT_EQ(r3.code, 200);
  EXPECT_EQ(r4.code, 404);
  EXPECT_EQ(r5.code, 200);
  EXPECT_EQ(r1.num_connects, 1);
  EXPECT_EQ(r2.num_connects, 0);
  EXPECT_EQ(r3.num_connects, 0);
  EXPECT_EQ(r4.num_connects, 0);
  EXPECT_EQ(r5.num_connects, 0);
  EXPECT_EQ(r1.local_port, r5.local_port);
}

TEST_F(ControlServerTest, Expect100ContinueLargeBody) {
  std::string big = json(std::string(2 * 1024 * 1024, 'x')).dump();
  auto t0 = std::chrono::steady_clock::now();
  auto r = http(nullptr, "PUT", base + "/v1/setup", big, {"Expect: 100-continue"}, 10000);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // not waiting out curl's expect timeout
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(h.setup_data.get<std::string>().size(), 2u * 1024 * 1024);
}

TEST_F(ControlServerTest, ConcurrentClients) {
  constexpr int kThreads = 8, kEach = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      CURL* c = t % 2 ? curl_easy_init() : nullptr;  // half keep-alive, half fresh connections
      for (int i = 0; i < kEach; ++i) {
        auto r = http(c, "GET", base + "/v1/status");
        if (r.code == 200 && json::parse(r.body, nullptr, false).is_object()) ++ok;
      }
      if (c) curl_easy_cleanup(c);
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  EXPECT_EQ(h.status_calls, kThreads * kEach);
}

TEST_F(ControlServerTest, StopWithOpenConnectionDoesNotHang) {
  int fd = raw_connect(srv->port());
  ASSERT_GE(fd, 0);
  raw_send(fd, "GET /v1/status HTTP/1.1\r\n\r\n");  // completed request: connection is known
  char buf[4096];
  ASSERT_GT(::recv(fd, buf, sizeof buf, 0), 0);
  raw_send(fd, "GET /v1/sta");  // and a half-sent one
  std::uint16_t port = srv->port();
  auto t0 = std::chrono::steady_clock::now();
  srv->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  bool eof = false;
  raw_read_all(fd, &eof);
  EXPECT_TRUE(eof);  // the server closed its end
  ::close(fd);
  EXPECT_LT(raw_connect(port), 0);  // the listener is gone
  srv->stop();                      // idempotent
  srv.reset();
}

TEST_F(ControlServerTest, StopFromAnotherThreadWhileClientsAreActive) {
  std::atomic<bool> done{false};
  std::thread client([&] {
    CURL* c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    std::string url = base + "/v1/status", sink;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    while (!done) curl_easy_perform(c);  // errors after stop are expected
    curl_easy_cleanup(c);
  });
  std::this_thread::sleep_for(50ms);
  auto t0 = std::chrono::steady_clock::now();
  srv.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  done = true;
  client.join();  // a client left hanging on an unclosed connection would take curl's 5 s timeout
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

// ------------------------------------------------------------------ binding

TEST(ControlServerBind, BusyPortThrowsClearError) {
  FakeHandler h;
  ControlServer a("127.0.0.1:0", h);
  std::string addr = "127.0.0.1:" + std::to_string(a.port());
  try {
    ControlServer b(addr, h);
    FAIL() << "second bind to " << addr << " succeeded";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EADDRINUSE);
    EXPECT_NE(std::string(e.what()).find(addr), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bind"), std::string::npos) << e.what();
  }
}

TEST(ControlServerBind, BindsOnlyTheGivenAddress) {
  FakeHandler h;
  ControlServer s("127.0.0.1:0", h);
  EXPECT_NE(s.port(), 0);
  EXPECT_EQ(s.address(), "127.0.0.1:" + std::to_string(s.port()));
}

TEST(ControlServerBind, Ipv6Loopback) {
  int probe = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool have_v6 = probe >= 0 && ::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  if (probe >= 0) ::close(probe);
  if (!have_v6) GTEST_SKIP() << "no IPv6 loopback here";
  FakeHandler h;
  ControlServer s("[::1]:0", h);
  EXPECT_EQ(s.address(), "[::1]:" + std::to_string(s.port()));
  auto r = http(nullptr, "GET", "http://[::1]:" + std::to_string(s.port()) + "/v1/status");
  EXPECT_EQ(r.code, 200);
  // Only [::1] is bound: the same port on 127.0.0.1 is not ours (no dual-stack wildcard).
  int fd = raw_connect(s.port(), 1000);
  if (fd >= 0) {
    // Someone else may own that port on IPv4; it must at least not be us.
    raw_send(fd, "GET /v1/status HTTP/1.1\r\n\r\n");
    std::string resp = raw_read_all(fd);
    ::close(fd);
    EXPECT_EQ(resp.find("\"status-name\""), std::string::npos);
  }
}

TEST(ControlServerBind, MalformedAddressesAreRejected) {
  FakeHandler h;
  for (std::string a : {"", "127.0.0.1", ":6565", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:http", "::1:80", "[::1",
                        "[::1]", "[::1]80", "[]:80", "[127.0.0.1]:0", "127.0.0.1:-1"}) {
    SCOPED_TRACE(a);
    EXPECT_THROW(ControlServer(a, h), std::invalid_argument);
  }
}

TEST(ControlServerBind, StopFromHandlerThreadDoesNotDeadlock) {
  struct StoppingHandler : FakeHandler {
    ControlServer* srv = nullptr;
    void run_teardown() override { srv->stop(); }
  } h;
  auto s = std::make_unique<ControlServer>("127.0.0.1:0", h);
  h.srv = s.get();
  std::string url = "http://127.0.0.1:" + std::to_string(s->port()) + "/v1/teardown";
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
  std::string sink;
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_perform(c);  // may or may not get the response: the loop stops after this iteration
  curl_easy_cleanup(c);
  auto t0 = std::chrono::steady_clock::now();
  s.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST(ControlServerSample, K6SampleShapes) {
  metrics::SeriesState c;
  c.add(MetricType::kCounter, 3, 0);
  EXPECT_EQ(metric_sample(MetricType::kCounter, c, 0), json::parse(R"({"count":3.0,"rate":0.0})"));
  metrics::SeriesState r;
  EXPECT_EQ(metric_sample(MetricType::kRate, r, 1), json::parse(R"({"rate":0.0})"));
  metrics::SeriesState t;
  json ts = metric_sample(MetricType::kTrend, t, 1);
  for (const char* k : {"avg", "min", "med", "max", "p(90)", "p(95)"}) EXPECT_TRUE(ts.contains(k)) << k;
  EXPECT_EQ(ts.size(), 6u);
  EXPECT_EQ(to_string(ExecutionStatus::kInterrupted), "Interrupted");
  EXPECT_EQ(to_string(static_cast<ExecutionStatus>(99)), "Unknown");
}

}  // namespace
}  // namespace herd::api
