// The network options through http::Client, each case against both transports
// (the built-in HTTP/1.1 client and libcurl): hosts overrides (no DNS query:
// made-up names), blocked names and ranges, source addresses, connection reuse
// and DNS policy. The peer is a small TCP server on loopback that answers every
// request with what it saw: the client's address, the Host header and the
// connection number.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "http/client.h"
#include "http/netopts.h"
#include "http/raw_server_testing.h"
#include "loop/event_loop.h"

using herd::http::Client;
using herd::http::ClientOptions;
using herd::http::NetConfig;
using herd::http::Request;
using herd::http::Response;
using herd::loop::Clock;
using herd::loop::EventLoop;
using namespace std::chrono_literals;

namespace {

/// HTTP/1.1 on 127.0.0.1 (testing::RawServer; keep-alive, GET only): the body
/// of every answer is "peer=IP host=HOST conn=N". Counts the connections it accepted.
class PeerServer {
 public:
  bool ok() const { return raw_.listening(); }
  int port() const { return raw_.port(); }
  int connections() const { return raw_.connections(); }

 private:
  static void serve(int fd, int n, const std::atomic<bool>& stop) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    char ip[INET_ADDRSTRLEN] = "";
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0)
      inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
    std::string buf, head;
    while (herd::http::testing::read_request(fd, buf, &head, stop)) {
      std::string host;
      if (auto h = head.find("\r\nHost: "); h != std::string::npos) {
        host = head.substr(h + 8, head.find("\r\n", h + 8) - (h + 8));
      }
      std::string body = "peer=" + std::string(ip) + " host=" + host + " conn=" + std::to_string(n);
      std::string out = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
      if (!herd::http::testing::write_all(fd, out, stop)) break;
    }
  }

  herd::http::testing::RawServer raw_{
      [](int fd, int index, const std::atomic<bool>& stop) { serve(fd, index + 1, stop); }};
};

class NetClientTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()); }

  void make_client() {
    ClientOptions o;
    o.builtin_http1 = GetParam();
    o.net = std::make_shared<const NetConfig>(net_);
    client_ = std::make_unique<Client>(loop_, o);
  }

  Response get(const std::string& url, std::uint64_t group = 1, const std::string& local_ip = "") {
    if (!client_) make_client();
    Request req;
    req.url = url;
    req.conn_group = group;
    req.local_ip = local_ip;
    std::optional<Response> out;
    client_->start(std::move(req), [&](Response&& r) { out = std::move(r); });
    auto end = Clock::now() + 10s;
    while (!out && Clock::now() < end) loop_.run_once(20ms);
    EXPECT_TRUE(out.has_value()) << url;
    return out.value_or(Response{});
  }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }
  std::string port() const { return std::to_string(server_.port()); }

  PeerServer server_;
  NetConfig net_;
  EventLoop loop_;
  std::unique_ptr<Client> client_;
};

INSTANTIATE_TEST_SUITE_P(Clients, NetClientTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Builtin" : "Curl"; });

TEST_P(NetClientTest, HostsSendMadeUpNamesToLoopbackWithTheirHostHeader) {
  ASSERT_EQ(net_.hosts.add("api.herd.test", "127.0.0.1:" + port()), "");
  ASSERT_EQ(net_.hosts.add("*.wild.herd.test", "127.0.0.1"), "");
  Response a = get("http://api.herd.test/x");
  EXPECT_EQ(a.error, "");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "peer=127.0.0.1 host=api.herd.test conn=1");
  EXPECT_EQ(a.url, "http://api.herd.test/x");
  EXPECT_EQ(a.remote_ip, "127.0.0.1");
  EXPECT_EQ(a.remote_port, server_.port());
  // The built-in client takes a name mapped to an address; libcurl otherwise.
  EXPECT_EQ(client_->builtin_connections(), GetParam() ? 1u : 0u);
  Response w = get("http://a.b.wild.herd.test:" + port() + "/");
  EXPECT_EQ(w.status, 200);
  // (libcurl keys connections by name, the built-in client by address: a new one or not)
  EXPECT_EQ(w.body.rfind("peer=127.0.0.1 host=a.b.wild.herd.test:" + port() + " conn=", 0), 0u) << w.body;
  // Not covered by the map: a lookup that fails (.test is reserved, RFC 6761).
  Response miss = get("http://wild.herd.test:" + port() + "/");
  EXPECT_EQ(miss.status, 0);
  EXPECT_EQ(miss.error_code, 1101) << miss.error;
}

TEST_P(NetClientTest, BlockedHostnamesFailWithoutTraffic) {
  ASSERT_EQ(net_.blocked_hostnames.add("*.blocked.herd.test"), "");
  ASSERT_EQ(net_.hosts.add("api.blocked.herd.test", "127.0.0.1:" + port()), "");
  Response r = get("http://api.blocked.herd.test/");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error_code, 1111);
  EXPECT_EQ(r.error, "hostname (api.blocked.herd.test) is in a blocked pattern (*.blocked.herd.test)");
  EXPECT_EQ(server_.connections(), 0);
  Response ok = get(base() + "/");  // addresses are not host names
  EXPECT_EQ(ok.status, 200);
}

TEST_P(NetClientTest, BlacklistedRangesFailForAddressesMappedNamesAndLocalhost) {
  net_.blacklist.push_back(*herd::http::IpNet::parse("127.0.0.0/8"));
  ASSERT_EQ(net_.hosts.add("api.herd.test", "127.0.0.1:" + port()), "");
  for (const std::string& url :
       {base() + "/", std::string("http://api.herd.test/"), "http://localhost:" + port() + "/"}) {
    Response r = get(url);
    EXPECT_EQ(r.status, 0) << url;
    EXPECT_EQ(r.error_code, 1110) << url;
    EXPECT_EQ(r.error, "IP (127.0.0.1) is in a blacklisted range (127.0.0.0/8)") << url;
  }
  EXPECT_EQ(server_.connections(), 0);
}

TEST_P(NetClientTest, BlacklistAllowsOtherRanges) {
  net_.blacklist.push_back(*herd::http::IpNet::parse("127.0.0.2/32"));
  Response r = get(base() + "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(server_.connections(), 1);
}

TEST_P(NetClientTest, LocalIpIsTheSourceAddress) {
  Response r = get(base() + "/", 1, "127.0.0.2");
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.body, "peer=127.0.0.2 host=127.0.0.1:" + port() + " conn=1");
  Response other = get(base() + "/", 2, "127.0.0.3");
  EXPECT_EQ(other.body, "peer=127.0.0.3 host=127.0.0.1:" + port() + " conn=2");
}

TEST_P(NetClientTest, NoConnectionReuseOpensOneConnectionPerRequest) {
  net_.no_connection_reuse = true;
  for (int i = 1; i <= 3; i++) {
    Response r = get(base() + "/");
    EXPECT_EQ(r.body, "peer=127.0.0.1 host=127.0.0.1:" + port() + " conn=" + std::to_string(i));
  }
  EXPECT_EQ(server_.connections(), 3);
}

TEST_P(NetClientTest, CloseIdleDropsOnlyThatGroupsConnections) {
  EXPECT_EQ(get(base() + "/", 1).status, 200);
  EXPECT_EQ(get(base() + "/", 2).status, 200);
  EXPECT_EQ(get(base() + "/", 1).status, 200);  // kept alive
  EXPECT_EQ(server_.connections(), 2);
  client_->close_idle(1);
  Response again = get(base() + "/", 1);
  EXPECT_EQ(again.body, "peer=127.0.0.1 host=127.0.0.1:" + port() + " conn=3");
  Response kept = get(base() + "/", 2);
  EXPECT_EQ(kept.body, "peer=127.0.0.1 host=127.0.0.1:" + port() + " conn=2");
}

TEST_P(NetClientTest, CloseIdleWithARequestInFlightLetsItFinishThenDropsTheConnection) {
  make_client();
  Request req;
  req.url = base() + "/";
  req.conn_group = 1;
  std::optional<Response> first;
  client_->start(std::move(req), [&](Response&& r) { first = std::move(r); });
  client_->close_idle(1);  // the request is in flight on the group's connection cache
  auto end = Clock::now() + 10s;
  while (!first && Clock::now() < end) loop_.run_once(20ms);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 200);
  Response next = get(base() + "/", 1);
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(server_.connections(), 2);
}

TEST_P(NetClientTest, DnsPolicyOnlyIPv6SendsLocalhostToIPv6) {
  net_.dns.policy = herd::http::DnsConfig::Policy::kOnlyIPv6;
  Response r = get("http://localhost:" + port() + "/");  // the server is on 127.0.0.1 only
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error_code, 1212) << r.error;  // refused: [::1] was dialled, never 127.0.0.1
  EXPECT_EQ(server_.connections(), 0);
  client_.reset();
  net_.dns.policy = herd::http::DnsConfig::Policy::kOnlyIPv4;
  Response v4 = get("http://localhost:" + port() + "/");
  EXPECT_EQ(v4.status, 200);
  EXPECT_EQ(v4.remote_ip, "127.0.0.1");
}

}  // namespace
