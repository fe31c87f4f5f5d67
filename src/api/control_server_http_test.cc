// Control API HTTP handling: limits, malformed requests, connections, binding.
#include "api/control_server_test_util.h"

namespace herd::api {
namespace {

using namespace testutil;

// A runner started for one test run refuses a caller that names another one
// (a coordinator of an earlier TestRun at a reused pod address): nothing of
// that call reaches the handler. A caller that names none (curl) is served.
TEST_F(ControlServerTest, ACallerOfAnotherTestRunIsRefusedWith409) {
  ControlServerOptions o;
  o.run_id = "run-a";
  start(o);
  const std::string stop = R"({"data":{"attributes":{"stopped":true}}})";
  HttpResult other = http(nullptr, "PATCH", base + "/v1/status", stop, {"X-Herd-Run: run-b"});
  expect_error(other, 409, "belongs to test run run-a, not to run-b");
  expect_error(http(nullptr, "GET", base + "/v1/snapshot", std::nullopt, {"X-Herd-Run: run-b"}), 409, "run-b");
  expect_error(http(nullptr, "POST", base + "/v1/setup", "", {"X-Herd-Run: run-b"}), 409, "run-b");
  {
    std::lock_guard<std::mutex> lk(h.mu);
    EXPECT_TRUE(h.patches.empty());
    EXPECT_EQ(h.run_setup_calls, 0);
    EXPECT_FALSE(h.st.stopped);
  }
  EXPECT_EQ(http(nullptr, "GET", base + "/v1/status", std::nullopt, {"X-Herd-Run: run-a"}).code, 200);
  EXPECT_EQ(http(nullptr, "GET", base + "/v1/status").code, 200);
  EXPECT_EQ(http(nullptr, "PATCH", base + "/v1/status", stop, {"x-herd-run: run-a"}).code, 200);
  std::lock_guard<std::mutex> lk(h.mu);
  EXPECT_TRUE(h.st.stopped);
}

TEST_F(ControlServerTest, WithoutARunIdEveryCallerIsServed) {
  EXPECT_EQ(http(nullptr, "GET", base + "/v1/status", std::nullopt, {"X-Herd-Run: whatever"}).code, 200);
}

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
  ts.reserve(kThreads);
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
