#pragma once
// Shared by the control server tests: a fake ControlHandler, a libcurl
// client, raw-socket helpers and the ControlServerTest fixture.

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/control_server.h"

namespace herd::api::testutil {

using nlohmann::json;
using namespace std::chrono_literals;
using metrics::MetricType;
using metrics::ValueType;

class CurlEnv : public ::testing::Environment {
 public:
  void SetUp() override { curl_global_init(CURL_GLOBAL_DEFAULT); }
  void TearDown() override { curl_global_cleanup(); }
};

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
    if (before_setup) before_setup();  // unlocked: may block while other calls go on
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
  std::optional<json> start_info() override {
    std::lock_guard<std::mutex> lk(mu);
    return start_value;
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
  std::optional<json> start_value;
  std::function<void()> before_setup;
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

inline std::size_t on_body(char* p, std::size_t sz, std::size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, sz * n);
  return sz * n;
}
inline std::size_t on_header(char* p, std::size_t sz, std::size_t n, void* ud) {
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
inline HttpResult http(CURL* h, const std::string& method, const std::string& url,
                       const std::optional<std::string>& body = std::nullopt,
                       const std::vector<std::string>& extra = {}, long expect_timeout_ms = 0) {
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

inline int raw_connect(std::uint16_t port, int timeout_ms = 5000) {
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

inline void raw_send(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close early (e.g. 431): fine
    off += static_cast<std::size_t>(n);
  }
}

/// Reads until EOF, error or timeout. `eof` tells whether a clean EOF was seen.
inline std::string raw_read_all(int fd, bool* eof = nullptr) {
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

inline std::string raw_roundtrip(std::uint16_t port, const std::string& data, bool* eof = nullptr) {
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

inline int status_of(const std::string& resp) {
  if (resp.size() < 12 || resp.compare(0, 9, "HTTP/1.1 ") != 0) return -1;
  return std::stoi(resp.substr(9, 3));
}

inline json body_of(const std::string& resp) {
  auto p = resp.find("\r\n\r\n");
  if (p == std::string::npos) return nullptr;
  return json::parse(resp.substr(p + 4), nullptr, false);
}

inline int count_of(const std::string& hay, const std::string& needle) {
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

inline metrics::TagSet tags(std::vector<std::pair<std::string, std::string>> kv) {
  return metrics::TagSet(std::move(kv));
}

inline metrics::Snapshot make_snapshot() {
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
}  // namespace herd::api::testutil
