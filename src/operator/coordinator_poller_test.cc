// CoordinatorPoller against real HTTP servers on loopback: calls never block,
// answers arrive through the callback, refused and slow servers give status 0.
#include "operator/coordinator_poller.h"

#include <gtest/gtest.h>

#include <condition_variable>

#include "kube/test_server.h"

namespace herd::op {
namespace {

using namespace std::chrono_literals;
using kube::testing::HttpReply;
using kube::testing::HttpRequest;
using kube::testing::TestServer;
using Clock = std::chrono::steady_clock;

/// Collects the keys the poller reports.
class Answers {
 public:
  void operator()(const std::string& key) {
    std::lock_guard lock(mu_);
    keys_.push_back(key);
    cv_.notify_all();
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return keys_.size() >= n; });
  }
  std::vector<std::string> keys() {
    std::lock_guard lock(mu_);
    return keys_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> keys_;
};

TEST(CoordinatorPoller, ASlowAnswerNeverBlocksTheCallerAndRequeuesTheKey) {
  TestServer server([](const HttpRequest& r) {
    HttpReply reply{200, "{\"path\":\"" + r.path + "\",\"method\":\"" + r.method +
                             "\",\"body\":" + (r.body.empty() ? "null" : r.body) + "}"};
    reply.delay_ms = 700;
    return reply;
  });
  Answers answers;
  CoordinatorPoller poller([&](const std::string& key) { answers(key); });
  auto started = Clock::now();
  EXPECT_FALSE(poller.call("perf/load", "GET", server.url() + "/v1/summary", "").has_value());
  EXPECT_FALSE(poller.call("perf/load", "GET", server.url() + "/v1/summary", "").has_value());  // under way: once
  EXPECT_FALSE(poller.call("perf/load", "PATCH", server.url() + "/v1/status", R"({"x":1})").has_value());
  EXPECT_LT(Clock::now() - started, 200ms);  // the server takes 700 ms
  EXPECT_EQ(poller.in_flight(), 2u);
  ASSERT_TRUE(answers.wait_for(2));
  EXPECT_EQ(answers.keys(), (std::vector<std::string>{"perf/load", "perf/load"}));
  EXPECT_EQ(server.requests(), 2);
  auto summary = poller.call("perf/load", "GET", server.url() + "/v1/summary", "");
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->first, 200);
  EXPECT_EQ(summary->second, R"({"path":"/v1/summary","method":"GET","body":null})");
  auto patch = poller.call("perf/load", "PATCH", server.url() + "/v1/status", R"({"x":1})");
  ASSERT_TRUE(patch.has_value());
  EXPECT_EQ(patch->second, R"({"path":"/v1/status","method":"PATCH","body":{"x":1}})");
  // An answer is read once: the next call asks again.
  EXPECT_FALSE(poller.call("perf/load", "GET", server.url() + "/v1/summary", "").has_value());
}

TEST(CoordinatorPoller, NoAnswerIsStatusZero) {
  Answers answers;
  CoordinatorPoller poller([&](const std::string& key) { answers(key); }, 300ms);
  std::string refused = "http://127.0.0.1:" + std::to_string(kube::testing::closed_port()) + "/v1/summary";
  EXPECT_FALSE(poller.call("a/b", "GET", refused, "").has_value());
  TestServer slow([&](const HttpRequest&) {
    HttpReply reply{200, "{}"};
    reply.delay_ms = 2000;
    return reply;
  });
  EXPECT_FALSE(poller.call("a/c", "GET", slow.url() + "/v1/summary", "").has_value());
  ASSERT_TRUE(answers.wait_for(2));
  EXPECT_EQ(poller.call("a/b", "GET", refused, "")->first, 0);
  auto timed_out = poller.call("a/c", "GET", slow.url() + "/v1/summary", "");
  ASSERT_TRUE(timed_out.has_value());
  EXPECT_EQ(timed_out->first, 0);
  EXPECT_FALSE(timed_out->second.empty());  // curl's reason
}

TEST(CoordinatorPoller, DestroyingItWithACallUnderWayIsPrompt) {
  TestServer server([](const HttpRequest&) {
    HttpReply reply{200, "{}"};
    reply.delay_ms = 2500;
    return reply;
  });
  auto started = Clock::now();
  {
    CoordinatorPoller poller([](const std::string&) {});
    poller.call("a/b", "GET", server.url() + "/v1/metrics", "");
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_LT(Clock::now() - started, 1s);
}

TEST(CoordinatorPoller, AKeptAnswerIsReadAgainUntilItIsNotA200) {
  TestServer server([](const HttpRequest& r) {
    return r.path == "/v1/summary" ? HttpReply{200, R"({"exitCode":0})"} : HttpReply{404, "{}"};
  });
  Answers answers;
  CoordinatorPoller poller([&](const std::string& key) { answers(key); });
  const std::string summary = server.url() + "/v1/summary", report = server.url() + "/v1/report";
  EXPECT_FALSE(poller.call("perf/load", "GET", summary, "", true));
  EXPECT_FALSE(poller.call("perf/load", "GET", report, "", true));
  ASSERT_TRUE(answers.wait_for(2));
  for (int i = 0; i < 3; ++i) {  // kept: the same answer, no new request
    auto a = poller.call("perf/load", "GET", summary, "", true);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->first, 200);
  }
  auto not_found = poller.call("perf/load", "GET", report, "", true);
  ASSERT_TRUE(not_found);
  EXPECT_EQ(not_found->first, 404);
  EXPECT_FALSE(poller.call("perf/load", "GET", report, "", true)) << "a 404 is not kept: asked again";
  ASSERT_TRUE(poller.call("perf/load", "GET", summary, "", false)) << "read without keep: forgotten after";
  EXPECT_FALSE(poller.call("perf/load", "GET", summary, "", true));
  ASSERT_TRUE(answers.wait_for(4));
  EXPECT_EQ(server.requests(), 4);
}

}  // namespace
}  // namespace herd::op
