// Both transports (the built-in HTTP/1.1 client and libcurl) against
// misbehaving servers on loopback: response size limits, no resending of a
// POST that reached the server, and cancelling the requests of one group.

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "http/client.h"
#include "http/raw_server_testing.h"
#include "loop/event_loop.h"

using herd::http::Client;
using herd::http::ClientOptions;
using herd::http::Request;
using herd::http::Response;
using herd::http::testing::peer_closes;
using herd::http::testing::RawServer;
using herd::http::testing::read_request;
using herd::http::testing::write_all;
using herd::loop::Clock;
using herd::loop::EventLoop;
using namespace std::chrono_literals;

namespace {

using Stop = const std::atomic<bool>&;

/// Param: true = the built-in client, false = libcurl.
class Hardening : public ::testing::TestWithParam<bool> {
 protected:
  Response send(Request req) {
    std::optional<Response> out;
    client_.start(std::move(req), [&](Response&& r) { out = std::move(r); });
    auto end = Clock::now() + 20s;
    while (!out && Clock::now() < end) loop_.run_once(20ms);
    EXPECT_TRUE(out.has_value()) << "no answer within 20 s";
    return out.value_or(Response{});
  }
  Response get(const std::string& url) {
    Request r;
    r.url = url;
    return send(std::move(r));
  }

  EventLoop loop_;
  Client client_{loop_, ClientOptions{.builtin_http1 = GetParam()}};
};

// Answers each request with `head` and then `filler` forever (until the peer goes).
RawServer::Handler endless(std::string head, std::string filler) {
  return [head, filler](int fd, int, Stop stop) {
    std::string buf, req;
    if (!read_request(fd, buf, &req, stop) || !write_all(fd, head, stop)) return;
    while (!stop && write_all(fd, filler, stop)) {
    }
  };
}

TEST_P(Hardening, EndlessHeaderLineFailsOnlyThatRequest) {
  RawServer srv(endless("HTTP/1.1 200 OK\r\nX-Endless: ", std::string(16384, 'a')));
  ASSERT_TRUE(srv.listening());
  Response r = get(srv.base() + "/");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error_code, 1000);
  // libcurl stops at its own 100 KiB line limit (client.h)
  EXPECT_EQ(r.error, herd::http::header_limit_message(GetParam() ? herd::http::kMaxResponseHeaderBytes
                                                                 : herd::http::kCurlMaxHeaderLine));
  EXPECT_LE(r.bytes_received, herd::http::kMaxResponseHeaderBytes + 256 * 1024);
  EXPECT_EQ(client_.in_flight(), 0u);
}

TEST_P(Hardening, HeaderBlockPastOneMiBFailsAndOneJustUnderPasses) {
  auto headers = [](std::size_t total) {
    std::string h = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; h.size() < total; ++i) h += "X-H" + std::to_string(i) + ": " + std::string(60, 'v') + "\r\n";
    return h;
  };
  std::string big = headers(herd::http::kMaxResponseHeaderBytes + 4096) + "Content-Length: 2\r\n\r\nok";
  std::string fits = headers(200 * 1024) + "Content-Length: 2\r\n\r\nok";
  RawServer srv([&](int fd, int, Stop stop) {
    std::string buf, req;
    while (read_request(fd, buf, &req, stop))
      if (!write_all(fd, req.find("/big") != std::string::npos ? big : fits, stop)) return;
  });
  Response r = get(srv.base() + "/big");
  EXPECT_EQ(r.error_code, 1000);
  EXPECT_EQ(r.error, herd::http::header_limit_message(GetParam() ? herd::http::kMaxResponseHeaderBytes
                                                                 : herd::http::kCurlMaxHeaderBytes));
  Response ok = get(srv.base() + "/fits");
  EXPECT_EQ(ok.status, 200) << ok.error;
  EXPECT_EQ(ok.body, "ok");
  EXPECT_GT(ok.headers.size(), 2500u);
}

TEST_P(Hardening, EndlessChunkedBodyFailsAtTheBodyLimit) {
  std::string chunk = "4000\r\n" + std::string(0x4000, 'b') + "\r\n";
  RawServer srv(endless("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", chunk));
  Request req;
  req.url = srv.base() + "/";
  req.max_body = 1 << 20;
  Response r = send(std::move(req));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error_code, 1000);
  EXPECT_EQ(r.error, herd::http::body_limit_message(1 << 20));
  EXPECT_TRUE(r.body.empty());
}

TEST_P(Hardening, DiscardedBodyIsCountedNotStoredNorLimited) {
  const std::size_t size = 8 << 20;
  RawServer srv([&](int fd, int, Stop stop) {
    std::string buf, req;
    if (!read_request(fd, buf, &req, stop)) return;
    if (!write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n", stop)) return;
    std::string block(64 * 1024, 'c');
    for (std::size_t sent = 0; sent < size && write_all(fd, block, stop); sent += block.size()) {
    }
  });
  Request req;
  req.url = srv.base() + "/";
  req.keep_body = false;  // responseType: 'none' / discardResponseBodies
  req.max_body = 64 * 1024;
  Response r = send(std::move(req));
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.error_code, 0);
  EXPECT_TRUE(r.body.empty());
  EXPECT_GE(r.bytes_received, size);
}

// The server answers a GET on a new connection, then reads the next request on
// it and closes the connection without answering; later connections are answered.
struct ClosingAfterSecondRequest {
  std::atomic<int> posts{0};
  RawServer srv{[this](int fd, int index, Stop stop) {
    std::string buf, req;
    for (int n = 0; read_request(fd, buf, &req, stop); ++n) {
      if (req.rfind("POST", 0) == 0) ++posts;
      if (index == 0 && n == 1) return;  // read whole, then closed unanswered
      if (!write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", stop)) return;
    }
  }};
};

TEST_P(Hardening, PostThatReachedTheServerIsNotResent) {
  ClosingAfterSecondRequest s;
  EXPECT_EQ(get(s.srv.base() + "/warm").status, 200);
  Request post;
  post.method = "POST";
  post.url = s.srv.base() + "/order";
  post.body = "one order";
  Response r = send(std::move(post));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error_code, 1000);
  EXPECT_EQ(r.error, "EOF");
  EXPECT_EQ(s.posts.load(), 1);
  // libcurl may open its new connection before it asks to rewind the body (and gives up)
  EXPECT_LE(s.srv.connections(), GetParam() ? 1 : 2);
}

TEST_P(Hardening, BytesSentCountTheBodyOfANonReplayableRequest) {
  std::atomic<std::size_t> seen{0};
  RawServer srv([&](int fd, int, Stop stop) {
    std::string buf, req;
    if (!read_request(fd, buf, &req, stop)) return;
    seen = req.size();
    write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", stop);
  });
  Request post;
  post.method = "POST";
  post.url = srv.base() + "/small";
  post.body = "tiny";  // shorter than the head: the old rule would have dropped it
  Response r = send(std::move(post));
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.bytes_sent, seen.load());
}

TEST_P(Hardening, ReplayableRequestsAreStillRetriedOnce) {
  for (const char* how : {"GET", "POST+Idempotency-Key"}) {
    ClosingAfterSecondRequest s;
    EXPECT_EQ(get(s.srv.base() + "/warm").status, 200);
    Request again;
    again.url = s.srv.base() + "/again";
    if (std::string(how) != "GET") {
      again.method = "POST";
      again.body = "x";
      again.headers.emplace_back("Idempotency-Key", "k1");
    }
    Response r = send(std::move(again));
    EXPECT_EQ(r.status, 200) << how << ": " << r.error;
    EXPECT_EQ(s.srv.connections(), 2) << how;
    if (std::string(how) != "GET") {
      EXPECT_EQ(s.posts.load(), 2);
    }
  }
}

TEST_P(Hardening, CancelCompletesTheGroupsRequestsAndClosesTheirSockets) {
  std::atomic<int> read{0}, closed{0};
  RawServer srv([&](int fd, int, Stop stop) {
    std::string buf, req;
    if (!read_request(fd, buf, &req, stop)) return;
    ++read;
    if (peer_closes(fd, 30000, stop)) ++closed;  // never answers
  });
  std::vector<Response> done;
  auto start = [&](std::uint64_t group, const std::string& path) {
    Request r;
    r.url = srv.base() + path;
    r.method = path == "/post" ? "POST" : "GET";
    r.body = path == "/post" ? "body" : "";
    r.conn_group = group;
    client_.start(std::move(r), [&](Response&& resp) { done.push_back(std::move(resp)); });
  };
  start(7, "/a");
  start(7, "/b");
  start(7, "/post");
  start(8, "/other");
  auto end = Clock::now() + 10s;
  while (read.load() < 4 && Clock::now() < end) loop_.run_once(10ms);
  ASSERT_EQ(read.load(), 4);
  EXPECT_EQ(client_.in_flight(), 4u);

  auto t0 = Clock::now();
  EXPECT_EQ(client_.cancel(7), 3u);
  ASSERT_EQ(done.size(), 3u);  // completed inside cancel()
  for (const Response& r : done) {
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.error_code, herd::http::kCanceledErrorCode);
    EXPECT_EQ(r.error, herd::http::kCanceledMessage);
  }
  EXPECT_EQ(client_.in_flight(), 1u);
  end = Clock::now() + 5s;
  while (closed.load() < 3 && Clock::now() < end) loop_.run_once(10ms);
  EXPECT_EQ(closed.load(), 3) << "the cancelled requests' sockets were not closed";
  EXPECT_LT(Clock::now() - t0, 2s);

  EXPECT_EQ(client_.cancel(7), 0u);
  EXPECT_EQ(client_.cancel(8), 1u);
  EXPECT_EQ(done.size(), 4u);
  EXPECT_EQ(client_.in_flight(), 0u);
  if (GetParam()) {
    EXPECT_EQ(client_.builtin_connections(), 0u);
  }
}

TEST_P(Hardening, CancelFromTheCallbackOfATimedOutRequest) {
  RawServer srv([](int fd, int, Stop stop) {
    std::string buf, req;
    if (read_request(fd, buf, &req, stop)) peer_closes(fd, 30000, stop);  // never answers
  });
  std::vector<Response> done;
  for (int i = 0; i < 3; ++i) {
    Request r;
    r.url = srv.base() + "/" + std::to_string(i);
    r.conn_group = 5;
    r.timeout = 300ms;
    client_.start(std::move(r), [&](Response&& resp) {
      done.push_back(std::move(resp));
      if (done.size() == 1) client_.cancel(5);  // the other two time out in the same sweep
    });
  }
  auto end = Clock::now() + 10s;
  while (done.size() < 3 && Clock::now() < end) loop_.run_once(10ms);
  for (int i = 0; i < 10; ++i) loop_.run_once(5ms);
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[0].error_code, 1050);
  EXPECT_EQ(done[1].error, herd::http::kCanceledMessage);
  EXPECT_EQ(done[2].error, herd::http::kCanceledMessage);
  EXPECT_EQ(client_.in_flight(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Transports, Hardening, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "builtin" : "curl"; });

}  // namespace
