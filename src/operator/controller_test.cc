// The Controller against a loopback API server that forbids one resource, as a
// missing RBAC verb does: the failure is logged, counted in /metrics and named
// by /readyz.
#include "operator/controller.h"

#include <gtest/gtest.h>

#include "kube/test_server.h"

namespace herd::op {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using kube::testing::ChunkWriter;
using kube::testing::HttpReply;
using kube::testing::HttpRequest;
using kube::testing::TestServer;

template <class F>
bool eventually(F&& condition, std::chrono::milliseconds timeout = 10s) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

/// Empty collections with idle watches; lists of `forbidden` answer 403 like the API server without RBAC.
class ForbiddingApiServer {
 public:
  explicit ForbiddingApiServer(std::string forbidden) : forbidden_(std::move(forbidden)) {}
  std::string url() const { return server_.url(); }

 private:
  HttpReply handle(const HttpRequest& r) {
    std::string resource = r.path.substr(r.path.rfind('/') + 1);
    if (resource == forbidden_) {
      return HttpReply{403, json{{"kind", "Status"},
                                 {"code", 403},
                                 {"reason", "Forbidden"},
                                 {"message", resource +
                                                 " is forbidden: User \"system:serviceaccount:herd:herd\" "
                                                 "cannot list resource \"" +
                                                 resource + "\""}}
                                .dump()};
    }
    if (r.query.count("watch")) {
      HttpReply reply;
      reply.stream = [this](const ChunkWriter&) { server_.pause(60'000); };
      return reply;
    }
    return HttpReply{200,
                     json{{"kind", "List"}, {"items", json::array()}, {"metadata", {{"resourceVersion", "1"}}}}.dump()};
  }

  std::string forbidden_;
  TestServer server_{[this](const HttpRequest& r) { return handle(r); }};
};

TEST(Controller, AForbiddenListIsLoggedCountedAndNamedByReadiness) {
  ForbiddingApiServer api("jobs");
  kube::Client client(kube::ClusterConfig{.server = api.url()});
  Controller controller(client, ControllerOptions{.namespaces = {"perf"}, .workers = 1});
  ::testing::internal::CaptureStderr();
  controller.start();
  // Counted, and every other informer has listed (they race the forbidden one).
  auto forbidden = [&] {
    return controller.informer_errors().count({"jobs", 403}) > 0 &&
           controller.readiness().reason.find("pods") == std::string::npos;
  };
  bool counted = eventually(forbidden);
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(counted);
  EXPECT_NE(log.find("list jobs in namespace perf failed, HTTP 403"), std::string::npos) << log;
  EXPECT_NE(log.find("cannot list resource"), std::string::npos) << log;

  Readiness ready = controller.readiness();
  EXPECT_FALSE(ready.ready);
  EXPECT_NE(ready.reason.find("jobs in namespace perf: not synced: list failed with HTTP 403"), std::string::npos)
      << ready.reason;
  EXPECT_EQ(ready.reason.find("pods"), std::string::npos) << ready.reason;  // the others have listed
  EXPECT_NE(controller.metrics_text(true).find("herd_operator_informer_errors_total{resource=\"jobs\",code=\"403\"} "),
            std::string::npos)
      << controller.metrics_text(true);
  EXPECT_FALSE(controller.synced());
}

TEST(Controller, ReadyOnceEveryInformerHasListed) {
  ForbiddingApiServer api("nothing");
  kube::Client client(kube::ClusterConfig{.server = api.url()});
  Controller controller(client, ControllerOptions{.namespaces = {"perf"}, .workers = 1});
  EXPECT_FALSE(controller.readiness().ready);
  controller.start();
  ASSERT_TRUE(eventually([&] { return controller.readiness().ready; })) << controller.readiness().reason;
  EXPECT_TRUE(controller.informer_errors().empty());
  EXPECT_EQ(controller.metrics_text(false).find("herd_operator_informer_errors_total{"), std::string::npos);
}

}  // namespace
}  // namespace herd::op
