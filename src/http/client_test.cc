#include "http/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <strings.h>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "loop/event_loop.h"
#include "target/server.h"

using herd::http::Client;
using herd::http::Request;
using herd::http::Response;
using herd::loop::Clock;
using herd::loop::EventLoop;
using namespace std::chrono_literals;

namespace {

std::string header(const Response& r, const std::string& name) {
  for (auto& [k, v] : r.headers)
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  return "";
}

// A port on 127.0.0.1 with nothing listening.
std::uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Every case runs twice: with herd's built-in HTTP/1.1 client (plain http:// to
// an IP literal) and with libcurl for everything.
class ClientTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    server_ = std::make_unique<herd::target::Server>(herd::target::ServerOptions{});
    server_->start();
    base_ = server_->base_url();
    client_ = std::make_unique<Client>(loop_, herd::http::ClientOptions{GetParam()});
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
  }

  // Runs the loop until `pred` or ~10s.
  template <typename Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = 10000ms) {
    auto end = Clock::now() + limit;
    while (!pred()) {
      if (Clock::now() > end) return false;
      loop_.run_once(20ms);
    }
    return true;
  }

  Response send(Request req) {
    std::optional<Response> out;
    int calls = 0;
    client_->start(std::move(req), [&](Response&& r) {
      ++calls;
      out = std::move(r);
    });
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    loop_.run_once(0us);
    EXPECT_EQ(calls, 1);
    return out.value_or(Response{});
  }

  Response get(const std::string& path) {
    Request r;
    r.url = base_ + path;
    return send(std::move(r));
  }

  EventLoop loop_;
  std::unique_ptr<herd::target::Server> server_;
  std::unique_ptr<Client> client_;
  std::string base_;
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Clients, ClientTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Builtin" : "Curl"; });

TEST_P(ClientTest, SimpleGet) {
  auto r = get("/");
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.error_code, 0);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.proto, "HTTP/1.1");
  EXPECT_EQ(r.status_text, "200 OK");
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(r.url, base_ + "/");
  EXPECT_EQ(header(r, "Content-Length"), "2");
  EXPECT_EQ(r.remote_ip, "127.0.0.1");
  EXPECT_EQ(r.remote_port, server_->port());
  EXPECT_GT(r.bytes_sent, 20u);
  EXPECT_GT(r.bytes_received, 2u + 30u);
  const auto& t = r.timings;
  // A fresh client opens a connection: its time is measured, and every phase
  // lies within the whole request (a loopback "ok" takes far less than 5 s).
  EXPECT_GT(t.connecting, 0);
  EXPECT_EQ(t.tls_handshaking, 0);
  EXPECT_GT(t.duration, 0);
  EXPECT_NEAR(t.duration, t.sending + t.waiting + t.receiving, 1e-9);
  for (double phase : {t.blocked, t.connecting, t.sending, t.waiting, t.receiving}) {
    EXPECT_GE(phase, 0);
    EXPECT_LT(phase, 5000);
  }
  EXPECT_LT(t.duration, 5000);
  EXPECT_EQ(client_->in_flight(), 0u);
  EXPECT_EQ(client_->builtin_connections(), GetParam() ? 1u : 0u);  // the path under test was taken
}

TEST_P(ClientTest, HeadersInOrderAndRequestHeadersSent) {
  Request req;
  req.url = base_ + "/headers";
  req.headers = {{"X-First", "1"}, {"X-Second", "two"}, {"User-Agent", "herd-test"}};
  auto r = send(std::move(req));
  ASSERT_EQ(r.status, 200);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["headers"]["X-First"], "1");
  EXPECT_EQ(j["headers"]["X-Second"], "two");
  EXPECT_EQ(j["headers"]["User-Agent"], "herd-test");
  EXPECT_FALSE(j["headers"].contains("Expect"));
  // response headers keep server order and names
  ASSERT_GE(r.headers.size(), 3u);
  EXPECT_EQ(r.headers[0].first, "Server");
  EXPECT_EQ(r.headers[1].first, "Content-Type");
  EXPECT_EQ(r.headers[2].first, "Content-Length");
}

TEST_P(ClientTest, MethodsAndBodies) {
  for (std::string m : {"POST", "PUT", "PATCH", "DELETE", "OPTIONS", "GET"}) {
    Request req;
    req.method = m;
    req.url = base_ + "/echo?x=1";
    if (m != "OPTIONS") req.body = "payload-" + m;
    auto r = send(std::move(req));
    ASSERT_EQ(r.status, 200) << m << " " << r.error;
    auto j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["method"], m);
    EXPECT_EQ(j["query"], "x=1");
    EXPECT_EQ(j["body"], m == "OPTIONS" ? "" : "payload-" + m) << m;
    // no form content type invented for raw bodies
    EXPECT_FALSE(j["headers"].contains("Content-Type")) << m;
  }
  Request post_empty;
  post_empty.method = "POST";
  post_empty.url = base_ + "/echo";
  auto r = send(std::move(post_empty));
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["headers"]["Content-Length"], "0");
}

TEST_P(ClientTest, HeadHasNoBody) {
  Request req;
  req.method = "HEAD";
  req.url = base_ + "/bytes/1000";
  auto r = send(std::move(req));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "Content-Length"), "1000");
  EXPECT_TRUE(r.body.empty());
}

TEST_P(ClientTest, LargeBodiesBothWays) {
  Request req;
  req.method = "POST";
  req.url = base_ + "/echo";
  req.body = std::string(200000, 'b');
  req.headers = {{"Content-Type", "text/plain"}};
  auto r = send(std::move(req));
  ASSERT_EQ(r.status, 200);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["body"].get<std::string>().size(), 200000u);
  EXPECT_EQ(j["headers"]["Content-Type"], "text/plain");
  EXPECT_GE(r.bytes_sent, 200000u);
  EXPECT_LT(r.bytes_sent, 201000u);

  auto big = get("/bytes/1000000");
  EXPECT_EQ(big.body.size(), 1000000u);
  EXPECT_GE(big.bytes_received, 1000000u);

  Request discard;
  discard.url = base_ + "/bytes/500000";
  discard.keep_body = false;
  auto d = send(std::move(discard));
  EXPECT_EQ(d.status, 200);
  EXPECT_TRUE(d.body.empty());
  EXPECT_GE(d.bytes_received, 500000u);
}

TEST_P(ClientTest, KeepAliveReusesConnection) {
  auto first = get("/");
  auto second = get("/json");
  auto third = get("/");
  ASSERT_EQ(second.status, 200);
  EXPECT_GT(first.timings.connecting, 0);  // so that the zeros below mean reuse, not "never measured"
  EXPECT_EQ(second.timings.connecting, 0);
  EXPECT_EQ(second.timings.tls_handshaking, 0);
  EXPECT_EQ(third.timings.connecting, 0);
  EXPECT_EQ(first.remote_port, second.remote_port);
}

TEST_P(ClientTest, BasicAuth) {
  Request req;
  req.url = base_ + "/basic-auth/alice/s3cret";
  req.basic_user = "alice";
  req.basic_password = "s3cret";
  auto ok = send(req);
  EXPECT_EQ(ok.status, 200);
  req.basic_password = "wrong";
  auto bad = send(req);
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.error_code, 1401);  // k6: 1000 + status for >= 400
  EXPECT_EQ(bad.error, "");
}

TEST_P(ClientTest, ServerErrorStatusIsAResponse) {
  auto r = get("/status/500");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.status_text, "500 Internal Server Error");
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.error_code, 1500);
  EXPECT_EQ(r.proto, "HTTP/1.1");
  auto redirect = get("/redirect/2");
  EXPECT_EQ(redirect.status, 302);  // not followed
  EXPECT_EQ(header(redirect, "Location"), "/redirect/1");
  EXPECT_EQ(redirect.error_code, 0);
}

// The server holds the answer for 200 ms: that time is "waiting" (time to first
// byte), not sending or receiving, and the whole request takes at least as long.
TEST_P(ClientTest, DelayIsCountedAsWaiting) {
  auto t0 = Clock::now();
  auto r = get("/delay/200");
  auto took = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  ASSERT_EQ(r.status, 200);
  const auto& t = r.timings;
  EXPECT_GE(t.waiting, 199.0);  // the target's timer has 1 ms granularity
  EXPECT_LT(t.waiting, 5000.0);
  EXPECT_LT(t.sending, t.waiting);
  EXPECT_LT(t.receiving, t.waiting);
  EXPECT_GE(t.duration, t.waiting);
  EXPECT_LE(t.duration, took + 1.0);
}

TEST_P(ClientTest, Timeout) {
  Request req;
  req.url = base_ + "/delay/3000";
  req.timeout = 200ms;
  auto t0 = Clock::now();
  auto r = send(std::move(req));
  auto took = Clock::now() - t0;
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error_code, 1050);
  EXPECT_EQ(r.error, "request timeout");
  EXPECT_EQ(r.proto, "");
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 2000ms);
}

TEST_P(ClientTest, ConnectionRefused) {
  auto port = closed_port();
  Request req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  auto r = send(std::move(req));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error_code, 1212);
  EXPECT_EQ(r.error, "dial tcp 127.0.0.1:" + std::to_string(port) + ": connect: connection refused");
}

TEST_P(ClientTest, ServerClosesWithoutAnswer) {
  auto r = get("/close");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error_code, 1000);
  EXPECT_EQ(r.error, "EOF");
  EXPECT_EQ(get("/").status, 200);
}

TEST_P(ClientTest, InvalidUrls) {
  Request a;
  a.url = "ftp://127.0.0.1/x";
  auto ra = send(std::move(a));
  EXPECT_EQ(ra.error_code, 1020);
  EXPECT_NE(ra.error.find("unsupported protocol scheme"), std::string::npos);
  Request b;
  b.url = "http://";
  auto rb = send(std::move(b));
  EXPECT_EQ(rb.error_code, 1020) << rb.error;
  Request c;
  c.url = "not a url";
  EXPECT_EQ(send(std::move(c)).error_code, 1020);
}

TEST_P(ClientTest, ErrorCodeMapping) {
  using herd::http::k6_error_from_curl;
  EXPECT_EQ(k6_error_from_curl(0, "").first, 0);
  EXPECT_EQ(k6_error_from_curl(28, "Operation timed out after 200 milliseconds").first, 1050);
  auto refused = k6_error_from_curl(7, "Failed to connect to 127.0.0.1 port 1 after 0 ms: Connection refused");
  EXPECT_EQ(refused.first, 1212);
  EXPECT_EQ(refused.second, "dial tcp 127.0.0.1:1: connect: connection refused");
  EXPECT_EQ(k6_error_from_curl(7, "Failed to connect to 127.0.0.1 port 9 after 10 ms: Connection timed out").first,
            1211);
  auto dns = k6_error_from_curl(6, "Could not resolve host: nosuch.invalid");
  EXPECT_EQ(dns.first, 1101);
  EXPECT_EQ(dns.second, "lookup nosuch.invalid: no such host");
  EXPECT_EQ(k6_error_from_curl(5, "").first, 1100);
  EXPECT_EQ(k6_error_from_curl(3, "URL using bad/illegal format").first, 1020);
  EXPECT_EQ(k6_error_from_curl(1, "Protocol \"ftp\" not supported").first, 1020);
  EXPECT_EQ(k6_error_from_curl(56, "Recv failure: Connection reset by peer").first, 1220);
  EXPECT_EQ(k6_error_from_curl(55, "Send failure: Broken pipe").first, 1201);
  EXPECT_EQ(k6_error_from_curl(55, "Send failure: Connection reset by peer").first, 1220);
  EXPECT_EQ(k6_error_from_curl(35, "error:0A00010B:SSL routines::wrong version number").first, 1301);
  EXPECT_EQ(k6_error_from_curl(35, "handshake failure").first, 1300);
  EXPECT_EQ(k6_error_from_curl(60, "SSL certificate problem: self-signed certificate").first, 1310);
  EXPECT_EQ(k6_error_from_curl(60, "SSL: no alternative certificate subject name matches target host name").first,
            1311);
  EXPECT_EQ(k6_error_from_curl(92, "stream error").first, 1630);
  EXPECT_EQ(k6_error_from_curl(52, "Empty reply from server").first, 1000);
  EXPECT_EQ(k6_error_from_curl(8, "weird").first, 1000);
}

TEST_P(ClientTest, ManyConcurrentRequests) {
  const int kN = 200;
  int done = 0, ok = 0;
  for (int i = 0; i < kN; ++i) {
    Request req;
    req.url = base_ + (i % 2 ? "/delay/20" : "/echo?i=" + std::to_string(i));
    client_->start(std::move(req), [&](Response&& r) {
      ++done;
      if (r.status == 200) ++ok;
    });
  }
  EXPECT_EQ(client_->in_flight(), static_cast<std::size_t>(kN));
  ASSERT_TRUE(run_until([&] { return done == kN; }, 20000ms)) << done;
  EXPECT_EQ(ok, kN);
  EXPECT_EQ(client_->in_flight(), 0u);
  // A second wave reuses the pooled connections.
  int done2 = 0, fresh = 0;
  for (int i = 0; i < kN; ++i) {
    Request req;
    req.url = base_ + "/";
    client_->start(std::move(req), [&](Response&& r) {
      ++done2;
      if (r.timings.connecting > 0) ++fresh;
    });
  }
  ASSERT_TRUE(run_until([&] { return done2 == kN; }, 20000ms));
  EXPECT_LT(fresh, kN / 2);
}

TEST_P(ClientTest, DelayedResponsesInterleave) {
  std::vector<int> order;
  auto t0 = Clock::now();
  for (int ms : {300, 100, 200, 0}) {
    Request req;
    req.url = base_ + "/delay/" + std::to_string(ms);
    client_->start(std::move(req), [&order, ms](Response&& r) {
      EXPECT_EQ(r.status, 200);
      order.push_back(ms);
    });
  }
  ASSERT_TRUE(run_until([&] { return order.size() == 4; }));
  // Concurrent: the longest delay bounds it from below, the sequential sum (600 ms) from above.
  EXPECT_GE(Clock::now() - t0, 300ms);
  EXPECT_LT(Clock::now() - t0, 600ms);
  EXPECT_EQ(order, (std::vector<int>{0, 100, 200, 300}));
}

TEST_P(ClientTest, CallbackMayStartNextRequest) {
  int chain = 0;
  std::function<void(Response &&)> next = [&](Response&& r) {
    EXPECT_EQ(r.status, 200);
    if (++chain < 20) {
      Request req;
      req.url = base_ + "/";
      client_->start(std::move(req), next);
    }
  };
  Request req;
  req.url = base_ + "/";
  client_->start(std::move(req), next);
  ASSERT_TRUE(run_until([&] { return chain == 20; }));
  EXPECT_EQ(chain, 20);
}

TEST_P(ClientTest, DestroyWithRequestsInFlightSkipsCallbacks) {
  int calls = 0;
  for (int i = 0; i < 5; ++i) {
    Request req;
    req.url = base_ + "/delay/1000";
    client_->start(std::move(req), [&](Response&&) { ++calls; });
  }
  Request bad;
  bad.url = "gopher://x";
  client_->start(std::move(bad), [&](Response&&) { ++calls; });
  for (int i = 0; i < 5; ++i) loop_.run_once(5ms);
  EXPECT_EQ(calls, 1);  // only the invalid URL completed
  client_.reset();
  for (int i = 0; i < 5; ++i) loop_.run_once(5ms);
  EXPECT_EQ(calls, 1);
}

TEST_P(ClientTest, CallbackMayDestroyClient) {
  int calls = 0;
  for (int i = 0; i < 3; ++i) {
    Request req;
    req.url = base_ + "/";
    client_->start(std::move(req), [&](Response&&) {
      ++calls;
      client_.reset();
    });
  }
  run_until([&] { return client_ == nullptr; });
  for (int i = 0; i < 5; ++i) loop_.run_once(5ms);
  EXPECT_EQ(calls, 1);
}

TEST_P(ClientTest, DecodesCompressedBodies) {
  for (std::string coding : {"gzip", "deflate", "br", "zstd"}) {
    auto r = get("/" + coding);
    ASSERT_EQ(r.status, 200) << coding;
    EXPECT_EQ(r.error_code, 0) << coding << ": " << r.error;
    EXPECT_EQ(header(r, "Content-Encoding"), coding);  // the header stays as received, as in k6
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << coding << ": " << r.body.substr(0, 40);
    EXPECT_EQ(j["content_encoding"], coding);
    EXPECT_EQ(j["items"][1]["name"], "second");
    EXPECT_LT(r.bytes_received, 400u);  // counted on the wire, not decoded
  }
  // several codings, a body large enough to arrive in many reads
  auto r = get("/encoded?coding=gzip,br&bytes=300000");
  ASSERT_EQ(r.error_code, 0) << r.error;
  ASSERT_EQ(r.body.size(), 300000u);
  EXPECT_EQ(r.body.substr(0, 4), "abcd");
  EXPECT_EQ(r.body[299999], static_cast<char>('a' + 299999 % 26));
}

TEST_P(ClientTest, BadCompressedBodiesFailOnlyThatRequest) {
  for (std::string q : {"coding=gzip&bytes=50000&corrupt=1", "coding=br&bytes=50000&truncate=1",
                        "coding=zstd&bytes=50000&corrupt=1", "coding=deflate&bytes=50000&truncate=1"}) {
    auto r = get("/encoded?" + q);
    EXPECT_EQ(r.status, 200) << q;
    EXPECT_EQ(r.error_code, 1701) << q;
    EXPECT_EQ(r.error.rfind("error decompressing response body (", 0), 0u) << q << ": " << r.error;
    EXPECT_TRUE(r.body.empty()) << q;
    auto ok = get("/");  // the client (and a kept-alive connection) carry on
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "ok");
  }
}

TEST_P(ClientTest, DecompressionBombIsBounded) {
  Request req;
  req.url = base_ + "/encoded?coding=zstd&bytes=8000000&fill=zero";
  req.max_decoded_body = 1 << 20;
  auto r = send(std::move(req));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.error_code, 1701);
  EXPECT_NE(r.error.find("larger than the limit"), std::string::npos) << r.error;
  // a body not kept is not decoded either
  Request none;
  none.url = base_ + "/encoded?coding=gzip&bytes=50000&corrupt=1";
  none.keep_body = false;
  auto n = send(std::move(none));
  EXPECT_EQ(n.error_code, 0) << n.error;
}
