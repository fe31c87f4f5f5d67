#include "ws/resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <stdexcept>

#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace herd::ws {
namespace {

TEST(DnsEnv, ServersAreIpLiteralsWithOptionalPorts) {
  EXPECT_EQ(dns_servers_from_env(nullptr), "");
  EXPECT_EQ(dns_servers_from_env(""), "");
  EXPECT_EQ(dns_servers_from_env("127.0.0.1:5353"), "127.0.0.1:5353");
  EXPECT_EQ(dns_servers_from_env(" 10.0.0.1 , ::1, [::1]:54"), "10.0.0.1:53,[::1]:53,[::1]:54");
  for (const char* bad : {"dns.example:53", "127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1:x", "[::1", "[::1]x", ","}) {
    EXPECT_THROW(dns_servers_from_env(bad), std::invalid_argument) << bad;
  }
  try {
    dns_servers_from_env("127.0.0.1,dns.example");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "HERD_DNS_SERVERS: \"dns.example\" is not an IP address with an optional port");
  }
}

TEST(DnsEnv, TimeoutIsADuration) {
  EXPECT_EQ(dns_timeout_from_env(nullptr), 10s);
  EXPECT_EQ(dns_timeout_from_env("1500ms"), 1500ms);
  EXPECT_EQ(dns_timeout_from_env("2s"), 2s);
  for (const char* bad : {"0s", "-1s", "abc", "2h"})
    EXPECT_THROW(dns_timeout_from_env(bad), std::invalid_argument) << bad;
}

/// A UDP socket on 127.0.0.1 that never answers: the only server the resolver of this
/// process may use (HERD_DNS_SERVERS, set before the first Resolver; read once).
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~SilentServer() { ::close(fd_); }
  int port() const { return port_; }
  /// Datagrams received so far.
  int drain() {
    char buf[1500];
    int n = 0;
    while (::recv(fd_, buf, sizeof buf, 0) > 0) ++n;
    return n;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

SilentServer& silent_server() {
  static SilentServer s;
  static bool set = [] {
    std::string v = "127.0.0.1:" + std::to_string(s.port());
    ::setenv("HERD_DNS_SERVERS", v.c_str(), 1);
    ::setenv("HERD_DNS_TIMEOUT", "300ms", 1);
    return true;
  }();
  (void)set;
  return s;
}

template <typename Pred>
bool run_until(loop::EventLoop& loop, Pred done) {
  auto end = loop::Clock::now() + 10s;
  while (!done()) {
    if (loop::Clock::now() > end) return false;
    loop.run_once(10ms);
  }
  return true;
}

TEST(Resolver, ALookupThatGetsNoAnswerEndsWithATimeoutOnTheLoop) {
  SilentServer& server = silent_server();
  loop::EventLoop loop;
  std::optional<LookupResult> got;
  auto h = Resolver::of(loop).lookup("nowhere.herd.test", DnsPolicy::kOnlyIPv4, 0,
                                     [&got](LookupResult r) { got = std::move(r); });
  EXPECT_FALSE(got) << "never inside lookup()";
  ASSERT_TRUE(run_until(loop, [&] { return got.has_value(); }));
  EXPECT_EQ(got->error, "i/o timeout");
  EXPECT_GE(server.drain(), 1) << "the query went to HERD_DNS_SERVERS";
}

TEST(Resolver, ADroppedHandleOrADestroyedLoopEndsTheLookupWithoutItsCallback) {
  silent_server();
  bool called = false;
  {
    loop::EventLoop loop;
    auto h = Resolver::of(loop).lookup("dropped.herd.test", DnsPolicy::kAny, 0, [&](LookupResult) { called = true; });
    loop.run_once(1ms);
    h.reset();
    bool later = false;
    loop.add_timer(loop.now() + 600ms, [&] { later = true; });
    ASSERT_TRUE(run_until(loop, [&] { return later; }));
    // A lookup in flight when the loop goes: its channel dies first (ASan checks the rest).
    auto h2 = Resolver::of(loop).lookup("inflight.herd.test", DnsPolicy::kAny, 0, [&](LookupResult) { called = true; });
    loop.run_once(1ms);
  }
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace herd::ws
