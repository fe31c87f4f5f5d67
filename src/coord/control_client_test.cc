// The coordinator's HTTP client on curl's socket interface (one epoll set):
// many concurrent exchanges over keep-alive connections, the binary snapshot
// negotiated, and wake() cutting a wait short.
#include "coord/control_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "api/control_server.h"
#include "api/control_server_test_util.h"
#include "metrics/snapshot_binary.h"

namespace herd::coord {
namespace {

using namespace std::chrono_literals;

/// A loopback listener whose connections the kernel completes and nobody
/// reads: a runner that accepts and never answers. Closed with the object.
struct SilentListener {
  int fd = -1;
  std::uint16_t port = 0;
  SilentListener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      if (fd >= 0) ::close(fd);
      fd = -1;
      return;
    }
    port = ntohs(a.sin_port);
  }
  ~SilentListener() {
    if (fd >= 0) ::close(fd);
  }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port) + path; }
};

TEST(ControlClient, ManyExchangesAtOnceAllAnsweredRoundAfterRound) {
  constexpr std::size_t kServers = 48;
  std::vector<std::unique_ptr<api::testutil::FakeHandler>> handlers;
  std::vector<std::unique_ptr<api::ControlServer>> servers;
  for (std::size_t i = 0; i < kServers; ++i) {
    handlers.push_back(std::make_unique<api::testutil::FakeHandler>());
    handlers.back()->st.vus = static_cast<std::int64_t>(i);
    servers.push_back(std::make_unique<api::ControlServer>("127.0.0.1:0", *handlers.back()));
  }
  ControlClient client(kServers);
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<Exchange> xs(kServers);
    std::vector<Exchange*> batch;
    for (std::size_t i = 0; i < kServers; ++i) {
      xs[i].connection = i;
      xs[i].url = "http://" + servers[i]->address() + (round == 1 ? "/v1/snapshot" : "/v1/status");
      xs[i].accept = round == 1 ? std::string(metrics::kSnapshotBinaryType) : "";
      xs[i].timeout = 10s;
      batch.push_back(&xs[i]);
    }
    ASSERT_TRUE(client.perform(batch));
    for (std::size_t i = 0; i < kServers; ++i) {
      ASSERT_EQ(xs[i].status, 200) << i << ": " << xs[i].error;
      if (round == 1) {
        EXPECT_TRUE(metrics::is_binary_snapshot_type(xs[i].content_type)) << xs[i].content_type;
        EXPECT_NO_THROW(metrics::from_binary(xs[i].response));
      } else {
        // Each answer went to its own exchange.
        auto a = nlohmann::json::parse(xs[i].response).at("data").at("attributes");
        EXPECT_EQ(a.at("vus").get<std::int64_t>(), static_cast<std::int64_t>(i));
      }
    }
  }
  for (auto& h : handlers) EXPECT_EQ(h->status_calls, 2);
}

// curl's own timeout runs on its timer (CURLMOPT_TIMERFUNCTION): a runner that
// accepts and never answers is "timed out" by curl, not left hanging until
// the batch's outer deadline.
TEST(ControlClient, ARunnerThatNeverAnswersTimesOut) {
  SilentListener silent_runner;
  ASSERT_GE(silent_runner.fd, 0);
  api::testutil::FakeHandler h;
  api::ControlServer good("127.0.0.1:0", h);
  ControlClient client(2);
  Exchange silent, answered;
  silent.url = silent_runner.url("/v1/status");
  silent.timeout = 300ms;
  answered.connection = 1;
  answered.url = "http://" + good.address() + "/v1/status";
  answered.timeout = 10s;
  EXPECT_TRUE(client.perform({&silent, &answered}));
  EXPECT_EQ(silent.status, 0);
  EXPECT_TRUE(silent.timed_out) << silent.error;
  EXPECT_NE(silent.error, "no answer in time");  // curl's timeout, not the batch's deadline
  EXPECT_EQ(answered.status, 200) << answered.error;
}

TEST(ControlClient, WakeEndsAWaitAtOnce) {
  ControlClient client(1);
  const auto t0 = std::chrono::steady_clock::now();
  std::thread waker([&] {
    std::this_thread::sleep_for(50ms);
    client.wake();
  });
  client.wait_until(util::Clock::real().now() + 30s);
  waker.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  // A wake() before the wait ends the next wait too (it is not lost).
  client.wake();
  const auto t1 = std::chrono::steady_clock::now();
  client.wait_until(util::Clock::real().now() + 30s);
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 10s);
}

TEST(ControlClient, AConnectionTheRunnerClosedIsReopened) {
  api::testutil::FakeHandler h;
  auto server = std::make_unique<api::ControlServer>("127.0.0.1:0", h);
  const std::string addr = server->address();
  ControlClient client(1);
  Exchange x;
  x.url = "http://" + addr + "/v1/status";
  x.timeout = 10s;
  ASSERT_TRUE(client.perform({&x}));
  ASSERT_EQ(x.status, 200) << x.error;
  // The runner goes away (its keep-alive connection closes) and comes back on the same port.
  server.reset();
  client.wait_until(util::Clock::real().now() + 100ms);  // the closed idle socket must not spin or break the wait
  server = std::make_unique<api::ControlServer>(addr, h);
  ASSERT_TRUE(client.perform({&x}));
  EXPECT_EQ(x.status, 200) << x.error;
}

// The coordinator names its test run in every call (HERD_RUN_ID): a runner of
// another run refuses it, one of the same run answers.
TEST(ControlClient, NamesItsTestRunSoThatAnotherRunsRunnerRefuses) {
  api::testutil::FakeHandler h;
  api::ControlServerOptions o;
  o.run_id = "uid-new";
  api::ControlServer server("127.0.0.1:0", h, o);
  ControlClient client(1);
  Exchange x;
  x.url = "http://" + server.address() + "/v1/status";
  client.set_run_id("uid-old");
  client.perform({&x});
  EXPECT_EQ(x.status, 409) << x.response;
  EXPECT_NE(x.response.find("uid-new, not to uid-old"), std::string::npos) << x.response;
  client.set_run_id("uid-new");
  client.perform({&x});
  EXPECT_EQ(x.status, 200) << x.response;
}

TEST(ControlClient, AnAbandonedExchangeIsStampedWhenGivenUp) {
  SilentListener silent_runner;
  ASSERT_GE(silent_runner.fd, 0);
  ControlClient client(1);
  Exchange x;
  x.url = silent_runner.url("/v1/status");
  x.timeout = 5s;
  const auto t0 = util::Clock::real().now();
  const auto give_up = std::chrono::steady_clock::now() + 200ms;
  EXPECT_FALSE(client.perform({&x}, [&] { return std::chrono::steady_clock::now() > give_up; }));
  EXPECT_EQ(x.status, 0);
  EXPECT_EQ(x.error, "cancelled");
  EXPECT_GE(x.done, t0);
}

}  // namespace
}  // namespace herd::coord
