#include "dashboard/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <gtest/gtest.h>

#include "dashboard/assets.h"

namespace herd::dashboard {
namespace {

/// A blocking loopback client: sends `request`, reads until `until` appears,
/// the peer closes, or 5 s pass.
class Client {
 public:
  explicit Client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect");
  }
  ~Client() { ::close(fd_); }
  void send(const std::string& s) { ASSERT_EQ(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL), (ssize_t)s.size()); }
  /// Reads until `until` is in what was read (or EOF, or 5 s).
  std::string read_until(const std::string& until) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (until.empty() || got_.find(until) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      got_.append(buf, static_cast<std::size_t>(n));
    }
    return got_;
  }

 private:
  int fd_ = -1;
  std::string got_;
};

std::string get(std::uint16_t port, const std::string& path, const std::string& method = "GET") {
  Client c(port);
  c.send(method + " " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
  return c.read_until("");  // the server closes after answering
}

TEST(DashboardServer, ServesThePageAndItsFilesWithNoExternalUrl) {
  DashboardServer s("127.0.0.1", 0);
  ASSERT_NE(s.port(), 0);
  EXPECT_EQ(s.url(), "http://127.0.0.1:" + std::to_string(s.port()));
  std::string page = get(s.port(), "/");
  EXPECT_EQ(page.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << page.substr(0, 200);
  EXPECT_NE(page.find("Content-Type: text/html"), std::string::npos);
  EXPECT_NE(page.find("<script src=\"dygraph.min.js\">"), std::string::npos);
  std::string lib = get(s.port(), "/dygraph.min.js");
  EXPECT_NE(lib.find("Dygraph"), std::string::npos);
  EXPECT_GT(lib.size(), 100'000u);
  // Nothing the page loads points off the machine (a licence URL in a comment is no fetch).
  for (const Asset& a : assets()) {
    std::string body(a.body);
    EXPECT_EQ(body.find("sourceMappingURL"), std::string::npos) << a.path;
    if (a.path == "/" || a.path == "/dashboard.js" || a.path == "/dashboard.css") {
      EXPECT_FALSE(std::regex_search(body, std::regex("(https?:)?//[a-z0-9.-]+\\.[a-z]{2,}"))) << a.path;
    }
  }
  EXPECT_EQ(get(s.port(), "/nope").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(get(s.port(), "/", "POST").rfind("HTTP/1.1 405", 0), 0u);
  std::string head = get(s.port(), "/", "HEAD");
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(head.find("<html"), std::string::npos);
}

TEST(DashboardServer, StreamsUpdatesAndReplaysThemToLateBrowsers) {
  DashboardServer s("127.0.0.1", 0);
  s.publish(R"({"t":1})");
  Client first(s.port());
  first.send("GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
  std::string got = first.read_until("data: {\"t\":1}\n\n");
  EXPECT_NE(got.find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_NE(got.find("event: update\ndata: {\"t\":1}\n\n"), std::string::npos) << got;
  s.publish(R"({"t":2})");
  got = first.read_until("data: {\"t\":2}\n\n");
  EXPECT_NE(got.find("data: {\"t\":2}\n\n"), std::string::npos) << got;

  Client late(s.port());
  late.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  got = late.read_until("data: {\"t\":2}\n\n");
  EXPECT_LT(got.find("{\"t\":1}"), got.find("{\"t\":2}")) << got;
}

TEST(DashboardServer, TheLastUpdateReachesTheBrowserBeforeItStops) {
  auto s = std::make_unique<DashboardServer>("127.0.0.1", 0);
  Client c(s->port());
  c.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  c.read_until("retry: 1000\n\n");
  // More than the socket buffers hold: most of it is still queued when the server stops.
  std::string big = R"({"final":true,"pad":")" + std::string(8 << 20, 'x') + R"("})";
  s->publish(big);
  std::thread stopper([&s] { s.reset(); });  // meanwhile this thread reads, as a browser does
  std::string got = c.read_until("\"}\n\n");
  stopper.join();
  EXPECT_NE(got.find(big + "\n\n"), std::string::npos) << got.size();
}

TEST(DashboardServer, BusyPortIsAClearError) {
  DashboardServer a("127.0.0.1", 0);
  try {
    DashboardServer b("127.0.0.1", a.port());
    FAIL() << "bound twice";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("web dashboard: cannot bind 127.0.0.1:" + std::to_string(a.port())),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace herd::dashboard
