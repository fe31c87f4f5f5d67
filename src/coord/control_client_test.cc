// The coordinator's HTTP client on curl's socket interface (one epoll set):
// many concurrent exchanges over keep-alive connections, the binary snapshot
// negotiated, and wake() cutting a wait short.
#include "coord/control_client.h"

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

}  // namespace
}  // namespace herd::coord
