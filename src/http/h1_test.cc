// The built-in HTTP/1.1 client against a scripted TCP server on loopback:
// the wire cases the target server never produces (chunked bodies, bodies that
// end with the connection, interim responses, idle connections closed by the
// peer, malformed and truncated answers), plus URL and request eligibility.

#include "http/h1.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "http/client.h"
#include "http/raw_server_testing.h"
#include "loop/event_loop.h"

using herd::http::Client;
using herd::http::Request;
using herd::http::Response;
using herd::http::detail::fast_request;
using herd::http::detail::fast_url;
using herd::http::detail::FastUrl;
using herd::loop::Clock;
using herd::loop::EventLoop;
using namespace std::chrono_literals;

namespace {

/// What the scripted server does with one request.
struct Reply {
  std::string bytes;         ///< written as is
  bool close_after = false;  ///< close the connection after writing
};

/// A TCP server on 127.0.0.1 (testing::RawServer) that reads whole requests
/// (head plus Content-Length body) and answers each with `script(connection,
/// request number on that connection, raw request)`.
class ScriptedServer {
 public:
  using Script = std::function<Reply(int conn, int index, const std::string& request)>;

  /// On 127.0.0.1, or on [::1] only with `v6`.
  explicit ScriptedServer(Script script, bool v6 = false)
      : script_(std::move(script)),
        raw_([this](int fd, int conn, const std::atomic<bool>& stop) { serve(fd, conn, stop); }, v6) {}

  bool listening() const { return raw_.listening(); }
  std::string base() const { return raw_.base(); }
  int port() const { return raw_.port(); }
  int connections() const { return raw_.connections(); }
  std::vector<std::string> requests() {
    std::lock_guard lk(mu_);
    return requests_;
  }

 private:
  void serve(int fd, int conn, const std::atomic<bool>& stop) {
    std::string buf, request;
    for (int index = 0; herd::http::testing::read_request(fd, buf, &request, stop); ++index) {
      {
        std::lock_guard lk(mu_);
        requests_.push_back(request);
      }
      Reply r = script_(conn, index, request);
      if (!herd::http::testing::write_all(fd, r.bytes, stop) || r.close_after) break;
    }
  }

  Script script_;
  std::mutex mu_;
  std::vector<std::string> requests_;
  herd::http::testing::RawServer raw_;  ///< last: its threads end before the members they use go
};

std::string ok(std::string_view body, std::string_view extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + std::string(extra) + "\r\n" +
         std::string(body);
}

class H1Test : public ::testing::Test {
 protected:
  Response send(Request req) {
    std::optional<Response> out;
    int calls = 0;
    client_.start(std::move(req), [&](Response&& r) {
      ++calls;
      out = std::move(r);
    });
    auto end = Clock::now() + 10s;
    while (!out && Clock::now() < end) loop_.run_once(20ms);
    loop_.run_once(0us);
    EXPECT_EQ(calls, 1);
    return out.value_or(Response{});
  }
  Response get(const std::string& url, std::uint64_t group = 0) {
    Request r;
    r.url = url;
    r.conn_group = group;
    return send(std::move(r));
  }
  // Lets the client see what the peer did to idle connections.
  void settle() {
    for (int i = 0; i < 5; ++i) loop_.run_once(10ms);
  }

  EventLoop loop_;
  Client client_{loop_};
};

}  // namespace

TEST(FastUrl, AcceptsIpLiteralsAndBuildsTheRequestTarget) {
  FastUrl u;
  ASSERT_TRUE(fast_url("http://127.0.0.1:8080/a/b?x=1&y=2#frag", &u));
  EXPECT_EQ(u.ip, "127.0.0.1");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.host_header, "127.0.0.1:8080");
  EXPECT_EQ(u.target, "/a/b?x=1&y=2");
  ASSERT_TRUE(fast_url("http://127.0.0.1", &u));
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.host_header, "127.0.0.1");
  EXPECT_EQ(u.target, "/");
  ASSERT_TRUE(fast_url("http://127.0.0.1:80?q=1", &u));
  EXPECT_EQ(u.host_header, "127.0.0.1");
  EXPECT_EQ(u.target, "/?q=1");
  ASSERT_TRUE(fast_url("http://[::1]:9000/x", &u));
  EXPECT_EQ(u.ip, "::1");
  EXPECT_EQ(u.host_header, "[::1]:9000");
  EXPECT_EQ(u.addr.ss_family, AF_INET6);
  ASSERT_TRUE(fast_url("http://LocalHost:8080/l", &u));
  EXPECT_TRUE(u.localhost);
  EXPECT_EQ(u.ip, "127.0.0.1");
  EXPECT_EQ(u.host_header, "localhost:8080");
  ASSERT_TRUE(fast_url("http://127.0.0.1/%20encoded/..x", &u));
  EXPECT_EQ(u.target, "/%20encoded/..x");
}

TEST(FastUrl, LeavesEverythingElseToLibcurl) {
  FastUrl u;
  for (const char* url :
       {"https://127.0.0.1/", "http://localhost.localdomain:8080/", "http://example.test/", "http://user:pw@127.0.0.1/",
        "http://127.0.0.1/a/../b", "http://127.0.0.1/./x", "http://127.0.0.1/a/..", "http://127.0.0.1/a b",
        "http://127.0.0.1:/", "http://127.0.0.1:0/", "http://127.0.0.1:65536/", "http://127.0.0.1:8x/", "http://127.1/",
        "http://[::1/", "http://[fe80::1%25eth0]/", "http://127.0.0.1/\\x", "HTTP://127.0.0.1/", "http://",
        "http://127.0.0.1/caf\xc3\xa9"})
    EXPECT_FALSE(fast_url(url, &u)) << url;
}

TEST(FastUrl, RequestsWithUnusualHeadersGoToLibcurl) {
  Request r;
  r.url = "http://127.0.0.1/";
  r.headers = {{"X-A", "1"}, {"X-Empty", ""}};
  EXPECT_TRUE(fast_request(r));
  for (const auto& h : std::vector<std::pair<std::string, std::string>>{{"Transfer-Encoding", "chunked"},
                                                                        {"expect", "100-continue"},
                                                                        {"Upgrade", "h2c"},
                                                                        {"X-Bad", "a\r\nInjected: 1"},
                                                                        {"Bad Name", "1"},
                                                                        {"X:Colon", "1"},
                                                                        {"X\rCr", "1"},
                                                                        {"X\nLf", "1"},
                                                                        {std::string("X\0Nul", 5), "1"},
                                                                        {"X-Lf", "a\nb"},
                                                                        {"X-Cr", "a\rb"},
                                                                        {"X-Nul", std::string("a\0b", 3)},
                                                                        {"", "1"}}) {
    Request b = r;
    b.headers.push_back(h);
    EXPECT_FALSE(fast_request(b)) << h.first;
  }
  Request ok = r;  // a value may hold ':' and ' ' (only names may not)
  ok.headers.emplace_back("X-Ok", "a: b c\t\x7f\xff");
  EXPECT_TRUE(fast_request(ok));
  Request m = r;
  m.method = "GET /x";
  EXPECT_FALSE(fast_request(m));
  // Long values are checked eight bytes at a time: a bad byte anywhere, in any lane.
  const std::string long_value = "Mozilla/5.0 (X11; Linux x86_64) herd/1.0 https://example.com/";
  for (char bad : {'\r', '\n', '\0'}) {
    for (std::size_t at = 0; at < long_value.size(); ++at) {
      Request b = r;
      std::string v = long_value;
      v[at] = bad;
      b.headers.emplace_back("User-Agent", v);
      EXPECT_FALSE(fast_request(b)) << at;
    }
  }
  Request good = r;
  good.headers.emplace_back("User-Agent", long_value + "\x80\xff\x7f\x01\x0b");
  EXPECT_TRUE(fast_request(good));
  // Borrowed headers (Request::shared_headers) are checked like the request's own.
  herd::http::Headers shared = {{"X-Shared", "1"}, {"Transfer-Encoding", "chunked"}};
  Request s = r;
  s.shared_headers = &shared;
  EXPECT_FALSE(fast_request(s));
  shared.pop_back();
  EXPECT_TRUE(fast_request(s));
  shared.emplace_back("X-Bad", "a\r\nInjected: 1");
  EXPECT_FALSE(fast_request(s));
}

TEST_F(H1Test, SerializesTheRequestAsLibcurlWould) {
  ScriptedServer srv([](int, int, const std::string&) { return Reply{ok("fine")}; });
  Request r;
  r.method = "POST";
  r.url = srv.base() + "/p/q?x=1#ignored";
  r.headers = {{"X-Empty", ""}, {"User-Agent", "herd-test"}};
  r.basic_user = "alice";
  r.basic_password = "s3cret";
  auto resp = send(std::move(r));
  ASSERT_EQ(resp.status, 200) << resp.error;
  EXPECT_EQ(client_.builtin_connections(), 1u);
  auto reqs = srv.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const std::string& q = reqs[0];
  EXPECT_EQ(q.rfind("POST /p/q?x=1 HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(srv.port()) + "\r\n", 0), 0u) << q;
  EXPECT_NE(q.find("\r\nAuthorization: Basic YWxpY2U6czNjcmV0\r\n"), std::string::npos) << q;
  EXPECT_NE(q.find("\r\nX-Empty:\r\n"), std::string::npos) << q;
  EXPECT_NE(q.find("\r\nUser-Agent: herd-test\r\n"), std::string::npos) << q;
  EXPECT_NE(q.find("\r\nAccept: */*\r\n"), std::string::npos) << q;
  EXPECT_NE(q.find("\r\nContent-Length: 0\r\n"), std::string::npos) << q;  // POST without a body
  EXPECT_EQ(resp.bytes_sent, q.size());
  EXPECT_EQ(resp.remote_ip, "127.0.0.1");
  EXPECT_EQ(resp.remote_port, srv.port());
}

// Request::shared_headers and shared_body go out exactly as the same headers and
// body owned by the request, through the built-in client and through libcurl.
TEST_F(H1Test, BorrowedHeadersAndBodyAreSentAsOwnedOnes) {
  ScriptedServer srv([](int, int, const std::string&) { return Reply{ok("fine")}; });
  const herd::http::Headers shared = {{"Content-Type", "application/json"}, {"X-Flow", "checkout"}};
  const std::string body = R"({"customer":1,"lines":[{"sku":"A-1","qty":2}]})";
  auto make = [&](bool borrowed) {
    Request r;
    r.method = "POST";
    r.url = srv.base() + "/echo";
    if (borrowed) {
      r.shared_headers = &shared;
      r.shared_body = &body;
    } else {
      r.headers = shared;
      r.body = body;
    }
    r.headers.emplace_back("Cookie", "a=1");
    return r;
  };
  ASSERT_EQ(send(make(false)).status, 200);
  ASSERT_EQ(send(make(true)).status, 200);
  EventLoop curl_loop;
  Client curl_client(curl_loop, herd::http::ClientOptions{.builtin_http1 = false});
  for (bool borrowed : {false, true}) {
    std::optional<Response> out;
    curl_client.start(make(borrowed), [&](Response&& r) { out = std::move(r); });
    auto end = Clock::now() + 10s;
    while (!out && Clock::now() < end) curl_loop.run_once(20ms);
    ASSERT_TRUE(out);
    ASSERT_EQ(out->status, 200) << out->error;
  }
  auto reqs = srv.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[1], reqs[0]);
  EXPECT_EQ(reqs[3], reqs[2]);
  EXPECT_NE(reqs[0].find("\r\nContent-Type: application/json\r\nX-Flow: checkout\r\nCookie: a=1\r\n"),
            std::string::npos)
      << reqs[0];
  EXPECT_EQ(reqs[0].substr(reqs[0].size() - body.size()), body);
  EXPECT_NE(reqs[2].find("\r\nContent-Type: application/json\r\nX-Flow: checkout\r\nCookie: a=1\r\n"),
            std::string::npos)
      << reqs[2];
  EXPECT_EQ(reqs[2].substr(reqs[2].size() - body.size()), body);
}

TEST_F(H1Test, ChunkedBodyIsDecodedAndTheConnectionKept) {
  ScriptedServer srv([](int, int, const std::string&) {
    return Reply{
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-T: a  \r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"};
  });
  auto a = get(srv.base() + "/");
  ASSERT_EQ(a.status, 200) << a.error;
  EXPECT_EQ(a.body, "hello world");
  ASSERT_EQ(a.headers.size(), 2u);
  EXPECT_EQ(a.headers[1].first, "X-T");
  EXPECT_EQ(a.headers[1].second, "a");  // trailing blanks trimmed
  auto b = get(srv.base() + "/");
  EXPECT_EQ(b.body, "hello world");
  EXPECT_EQ(srv.connections(), 1);
  EXPECT_EQ(b.timings.connecting, 0);
}

TEST_F(H1Test, BodyEndingWithTheConnection) {
  ScriptedServer srv([](int, int, const std::string&) {
    return Reply{"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", true};
  });
  auto a = get(srv.base() + "/");
  ASSERT_EQ(a.status, 200) << a.error;
  EXPECT_EQ(a.proto, "HTTP/1.0");
  EXPECT_EQ(a.body, "until the end");
  auto b = get(srv.base() + "/");
  EXPECT_EQ(b.body, "until the end");
  EXPECT_EQ(srv.connections(), 2);  // not reused
  EXPECT_EQ(client_.builtin_connections(), 0u);
}

TEST_F(H1Test, InterimResponsesAreSkipped) {
  ScriptedServer srv([](int, int, const std::string&) {
    return Reply{"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"};
  });
  auto a = get(srv.base() + "/");
  EXPECT_EQ(a.status, 201) << a.error;
  EXPECT_EQ(a.body, "ok");
  ASSERT_EQ(a.headers.size(), 1u);
  EXPECT_EQ(a.headers[0].first, "Content-Length");
}

TEST_F(H1Test, IdleConnectionClosedByThePeerIsReplaced) {
  // The server closes after each answer without saying so: the client sees the
  // close while the connection is idle and opens a new one for the next request.
  ScriptedServer srv([](int, int, const std::string&) { return Reply{ok("x"), true}; });
  auto a = get(srv.base() + "/");
  settle();
  EXPECT_EQ(client_.builtin_connections(), 0u);
  auto b = get(srv.base() + "/");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(b.status, 200) << b.error;
  EXPECT_EQ(b.error_code, 0);
  EXPECT_EQ(srv.connections(), 2);
}

TEST_F(H1Test, RequestOnAConnectionClosedMeanwhileIsRetriedOnce) {
  // The second request reaches a connection the server closes instead of
  // answering (a keep-alive race): sent again on a new connection, it succeeds.
  ScriptedServer srv([](int conn, int index, const std::string&) {
    if (conn == 0 && index == 1) return Reply{"", true};
    return Reply{ok("y")};
  });
  auto a = get(srv.base() + "/");
  auto b = get(srv.base() + "/");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(b.status, 200) << b.error;
  EXPECT_EQ(b.body, "y");
  EXPECT_EQ(srv.connections(), 2);
  EXPECT_EQ(srv.requests().size(), 3u);
  EXPECT_GT(b.timings.connecting, 0);
}

TEST_F(H1Test, FreshConnectionClosedWithoutAnswerIsAnError) {
  ScriptedServer srv([](int, int, const std::string&) { return Reply{"", true}; });
  auto a = get(srv.base() + "/");
  EXPECT_EQ(a.status, 0);
  EXPECT_EQ(a.error_code, 1000);
  EXPECT_EQ(a.error, "EOF");
  EXPECT_EQ(srv.requests().size(), 1u);  // not retried: nothing says the request was not processed
}

TEST_F(H1Test, MalformedAndTruncatedResponses) {
  ScriptedServer srv([](int, int index, const std::string&) {
    if (index == 0) return Reply{"HTTP/1.1 abc Nope\r\n\r\n", true};
    return Reply{};
  });
  auto bad = get(srv.base() + "/");
  EXPECT_EQ(bad.status, 0);
  EXPECT_EQ(bad.error_code, 1000);
  EXPECT_EQ(bad.error.rfind("malformed HTTP response: ", 0), 0u) << bad.error;

  ScriptedServer cut([](int, int, const std::string&) {
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", true};
  });
  auto short_body = get(cut.base() + "/");
  EXPECT_EQ(short_body.status, 0);
  EXPECT_EQ(short_body.error_code, 1000);
  EXPECT_EQ(short_body.error, "unexpected EOF");
  EXPECT_TRUE(short_body.body.empty());
}

TEST_F(H1Test, ExtraBytesAfterTheResponseRetireTheConnection) {
  ScriptedServer srv([](int, int, const std::string&) { return Reply{ok("one") + "garbage"}; });
  auto a = get(srv.base() + "/");
  EXPECT_EQ(a.body, "one");
  auto b = get(srv.base() + "/");
  EXPECT_EQ(b.body, "one");
  EXPECT_EQ(srv.connections(), 2);
}

TEST_F(H1Test, HeadAndNoContentKeepTheConnection) {
  ScriptedServer srv([](int, int index, const std::string&) {
    if (index == 0) return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"};
    return Reply{"HTTP/1.1 204 No Content\r\n\r\n"};
  });
  Request head;
  head.method = "HEAD";
  head.url = srv.base() + "/";
  auto a = send(std::move(head));
  EXPECT_EQ(a.status, 200) << a.error;
  EXPECT_TRUE(a.body.empty());
  auto b = get(srv.base() + "/");
  EXPECT_EQ(b.status, 204) << b.error;
  EXPECT_EQ(srv.connections(), 1);
}

TEST_F(H1Test, EachGroupKeepsItsOwnConnections) {
  ScriptedServer srv([](int, int, const std::string&) { return Reply{ok("g")}; });
  EXPECT_EQ(get(srv.base() + "/", 1).status, 200);
  EXPECT_EQ(get(srv.base() + "/", 2).status, 200);
  EXPECT_EQ(get(srv.base() + "/", 1).status, 200);
  EXPECT_EQ(get(srv.base() + "/", 2).status, 200);
  EXPECT_EQ(srv.connections(), 2);
  EXPECT_EQ(client_.builtin_connections(), 2u);
}

TEST_F(H1Test, ErrorStatusKeepsBodyAndCode) {
  ScriptedServer srv([](int, int, const std::string&) {
    return Reply{"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"};
  });
  auto a = get(srv.base() + "/");
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.status_text, "503 Service Unavailable");
  EXPECT_EQ(a.error_code, 1503);
  EXPECT_EQ(a.error, "");
  EXPECT_EQ(a.body, "busy");
}

TEST(H1Queue, ClientDestroyedWithRequestsWaitingForTheFlush) {
  ScriptedServer srv([](int, int, const std::string&) { return Reply{ok("q")}; });
  EventLoop loop;
  auto client = std::make_unique<Client>(loop);
  int calls = 0;
  Request first;
  first.url = srv.base() + "/";
  client->start(std::move(first), [&](Response&& r) {
    ++calls;
    EXPECT_EQ(r.status, 200);
  });
  auto end = Clock::now() + 10s;
  while (calls == 0 && Clock::now() < end) loop.run_once(20ms);
  ASSERT_EQ(calls, 1);
  for (int i = 0; i < 3; ++i) {  // on the kept-alive connection: queued until the loop's next flush
    Request r;
    r.url = srv.base() + "/";
    client->start(std::move(r), [&](Response&&) { ++calls; });
  }
  EXPECT_EQ(client->in_flight(), 3u);
  client.reset();  // before any flush
  for (int i = 0; i < 3; ++i) loop.run_once(10ms);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(srv.requests().size(), 1u);
}

TEST(CurlPools, EachGroupKeepsItsOwnConnectionsThroughLibcurlToo) {
  ScriptedServer srv([](int, int, const std::string&) { return Reply{ok("c")}; });
  EventLoop loop;
  Client client(loop, herd::http::ClientOptions{false});
  auto get = [&](std::uint64_t group) {
    std::optional<Response> out;
    Request r;
    r.url = srv.base() + "/";
    r.conn_group = group;
    client.start(std::move(r), [&](Response&& resp) { out = std::move(resp); });
    auto end = Clock::now() + 10s;
    while (!out && Clock::now() < end) loop.run_once(20ms);
    return out.value_or(Response{});
  };
  for (std::uint64_t g : {1, 2, 1, 2, 1}) EXPECT_EQ(get(g).status, 200);
  EXPECT_EQ(srv.connections(), 2);
  EXPECT_EQ(client.builtin_connections(), 0u);  // all through libcurl
}

TEST_F(H1Test, LocalhostIsLoopbackWithoutDnsAndFallsBackToIpv6) {
  ScriptedServer v4([](int, int, const std::string&) { return Reply{ok("four")}; });
  auto a = get("http://localhost:" + std::to_string(v4.port()) + "/");
  EXPECT_EQ(a.body, "four") << a.error;
  EXPECT_EQ(a.remote_ip, "127.0.0.1");
  EXPECT_EQ(client_.builtin_connections(), 1u);
  ASSERT_EQ(v4.requests().size(), 1u);
  EXPECT_NE(v4.requests()[0].find("\r\nHost: localhost:" + std::to_string(v4.port()) + "\r\n"), std::string::npos);

  // A [::1] port whose 127.0.0.1 twin is held bound but not listening, so that
  // 127.0.0.1 refuses for sure (another test's server may take the same number).
  std::optional<ScriptedServer> v6_slot;
  std::unique_ptr<int, void (*)(int*)> v4_twin(nullptr, [](int* fd) {
    close(*fd);
    delete fd;
  });
  for (int tries = 0; tries < 20 && !v4_twin; ++tries) {
    v6_slot.emplace([](int, int, const std::string&) { return Reply{ok("six")}; }, true);
    if (!v6_slot->listening()) GTEST_SKIP() << "no IPv6 loopback on this machine";
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(v6_slot->port()));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
      v4_twin.reset(new int(fd));
    } else {
      close(fd);
    }
  }
  ASSERT_TRUE(v4_twin) << "no [::1] port whose 127.0.0.1 twin is free";
  ScriptedServer& v6 = *v6_slot;
  std::string url = "http://localhost:" + std::to_string(v6.port()) + "/";
  auto b = get(url);  // 127.0.0.1 refuses (nothing listens there on this port), [::1] answers
  EXPECT_EQ(b.body, "six") << b.error;
  EXPECT_EQ(b.remote_ip, "::1");
  auto c = get(url);  // the [::1] connection is found again under the URL's pool key
  EXPECT_EQ(c.body, "six");
  EXPECT_EQ(v6.connections(), 1);
  EXPECT_EQ(c.timings.connecting, 0);
}

TEST_F(H1Test, StatusTextIsThePhraseTheServerSent) {
  ScriptedServer srv([](int, int index, const std::string&) {
    if (index == 0) return Reply{"HTTP/1.1 299 Fine Thanks\r\nContent-Length: 0\r\n\r\n"};
    return Reply{"HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n"};  // no phrase: the registered one
  });
  EXPECT_EQ(get(srv.base() + "/").status_text, "299 Fine Thanks");
  auto b = get(srv.base() + "/");
  EXPECT_EQ(b.status, 404) << b.error;
  EXPECT_EQ(b.status_text, "404 Not Found");
}
