#include "kube/leader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <thread>

#include "kube/test_server.h"

namespace herd::kube {
namespace {

using nlohmann::json;
using testing::FakeObjects;
using testing::HttpRequest;
using testing::TestServer;
using namespace std::chrono_literals;

constexpr const char* kLease = "/apis/coordination.k8s.io/v1/namespaces/ns/leases/herd";

struct Fixture {
  FakeObjects objects;
  TestServer server{[this](const HttpRequest& r) { return objects.handle(r); }};
  Client client{ClusterConfig{.server = server.url()}};

  LeaderElectionConfig config(const std::string& identity) {
    return {.lease_namespace = "ns",
            .lease_name = "herd",
            .identity = identity,
            .lease_duration = 1000ms,
            .renew_deadline = 600ms,
            .retry_period = 50ms};
  }
};

TEST(MicroTime, FormatsUtcWithMicroseconds) {
  auto t = std::chrono::system_clock::time_point(std::chrono::microseconds(1'700'000'000'123'456));
  EXPECT_EQ(micro_time(t), "2023-11-14T22:13:20.123456Z");
}

TEST(LeaderElector, RejectsIncompleteConfig) {
  Fixture f;
  EXPECT_THROW(LeaderElector(f.client, f.config("")), std::invalid_argument);
  auto c = f.config("a");
  c.renew_deadline = c.lease_duration;
  EXPECT_THROW(LeaderElector(f.client, c), std::invalid_argument);
}

TEST(LeaderElector, TakesAFreeLeaseAndWaitsForAnExpiredOne) {
  Fixture f;
  LeaderElector a(f.client, f.config("a")), b(f.client, f.config("b"));
  ASSERT_TRUE(a.try_acquire_or_renew());
  json lease = f.objects.get(kLease);
  EXPECT_EQ(lease["spec"]["holderIdentity"], "a");
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 1);
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 0);
  EXPECT_TRUE(std::regex_match(lease["spec"]["renewTime"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")));
  const std::string acquired = lease["spec"]["acquireTime"];

  EXPECT_FALSE(b.try_acquire_or_renew());  // held and fresh
  EXPECT_EQ(b.leader(), "a");
  std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(a.try_acquire_or_renew());  // renew keeps acquireTime
  EXPECT_EQ(f.objects.get(kLease)["spec"]["acquireTime"], acquired);

  EXPECT_FALSE(b.try_acquire_or_renew());  // sees the renewal: the clock restarts
  std::this_thread::sleep_for(1100ms);     // a stops renewing
  ASSERT_TRUE(b.try_acquire_or_renew());
  lease = f.objects.get(kLease);
  EXPECT_EQ(lease["spec"]["holderIdentity"], "b");
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 1);
  EXPECT_NE(lease["spec"]["acquireTime"], acquired);
  EXPECT_FALSE(a.try_acquire_or_renew());
  EXPECT_EQ(a.leader(), "b");
}

TEST(LeaderElector, OnlyOneLeadsAndTheOtherTakesOverAfterRelease) {
  Fixture f;
  std::atomic<int> started_a{0}, stopped_a{0}, started_b{0}, stopped_b{0};
  auto ca = f.config("a"), cb = f.config("b");
  ca.on_started_leading = [&] { ++started_a; };
  ca.on_stopped_leading = [&] { ++stopped_a; };
  cb.on_started_leading = [&] { ++started_b; };
  cb.on_stopped_leading = [&] { ++stopped_b; };
  LeaderElector a(f.client, ca), b(f.client, cb);
  a.start();
  b.start();
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!a.is_leader() && !b.is_leader() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  std::this_thread::sleep_for(300ms);  // several rounds: still exactly one
  ASSERT_NE(a.is_leader(), b.is_leader());
  LeaderElector& leader = a.is_leader() ? a : b;
  LeaderElector& other = a.is_leader() ? b : a;
  EXPECT_EQ(started_a + started_b, 1);

  auto t0 = std::chrono::steady_clock::now();
  leader.stop();
  EXPECT_FALSE(leader.is_leader());
  EXPECT_EQ(stopped_a + stopped_b, 1);
  while (!other.is_leader() && std::chrono::steady_clock::now() - t0 < 3s) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(other.is_leader());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 900ms);  // released: no wait for expiry
  EXPECT_EQ(started_a + started_b, 2);
  EXPECT_EQ(f.objects.get(kLease)["spec"]["leaseTransitions"], 1);
  other.stop();
  EXPECT_EQ(stopped_a + stopped_b, 2);
  EXPECT_EQ(f.objects.get(kLease)["spec"]["holderIdentity"], "");
}

}  // namespace
}  // namespace herd::kube
