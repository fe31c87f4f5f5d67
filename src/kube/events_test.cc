#include "kube/events.h"

#include <gtest/gtest.h>

#include "kube/test_server.h"

namespace herd::kube {
namespace {

using nlohmann::json;
using testing::FakeObjects;
using testing::HttpRequest;
using testing::TestServer;

struct Fixture {
  FakeObjects objects;
  TestServer server{[this](const HttpRequest& r) { return objects.handle(r); }};
  Client client{ClusterConfig{.server = server.url()}};
};

TEST(EventRecorder, AggregatesRepeatsIntoACount) {
  Fixture f;
  EventRecorder rec(f.client, "herd-operator", "node-1");
  json run = {{"apiVersion", "herd.dev/v1alpha1"},
              {"kind", "TestRun"},
              {"metadata", {{"name", "smoke"}, {"namespace", "load"}, {"uid", "u-1"}, {"resourceVersion", "7"}}}};
  ASSERT_TRUE(rec.record(run, kEventNormal, "Started", "2 runners started"));
  ASSERT_TRUE(rec.record(run, kEventNormal, "Started", "2 runners started"));
  ASSERT_TRUE(rec.record(run, kEventNormal, "Started", "2 runners started"));
  EXPECT_EQ(f.objects.count_under("/api/v1/namespaces/load/events"), 1u);
  ASSERT_TRUE(rec.record(run, kEventWarning, "RunnerFailed", "runner 1 exited with 97"));
  EXPECT_EQ(f.objects.count_under("/api/v1/namespaces/load/events"), 2u);

  Client lister(ClusterConfig{.server = f.server.url()});
  json list = lister.get("/api/v1/namespaces/load/events");
  json started, failed;
  for (const auto& e : list["items"]) (e["reason"] == "Started" ? started : failed) = e;
  EXPECT_EQ(started["count"], 3);
  EXPECT_EQ(started["type"], "Normal");
  EXPECT_EQ(started["involvedObject"], (json{{"apiVersion", "herd.dev/v1alpha1"},
                                             {"kind", "TestRun"},
                                             {"name", "smoke"},
                                             {"namespace", "load"},
                                             {"uid", "u-1"},
                                             {"resourceVersion", "7"}}));
  EXPECT_EQ(started["source"], (json{{"component", "herd-operator"}, {"host", "node-1"}}));
  EXPECT_EQ(started["metadata"]["name"].get<std::string>().rfind("smoke.", 0), 0u);
  EXPECT_EQ(started["firstTimestamp"].get<std::string>().size(), 20u);  // 2006-01-02T15:04:05Z
  EXPECT_EQ(failed["count"], 1);
  EXPECT_EQ(failed["type"], "Warning");
}

TEST(EventRecorder, ClusterScopedObjectsGoToDefault) {
  Fixture f;
  EventRecorder rec(f.client, "herd-operator");
  json node = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "n1"}, {"uid", "u-2"}}}};
  ASSERT_TRUE(rec.record(node, kEventWarning, "NoCapacity", std::string(5000, 'x')));
  json list = f.client.get("/api/v1/namespaces/default/events");
  ASSERT_EQ(list["items"].size(), 1u);
  EXPECT_EQ(list["items"][0]["message"].get<std::string>().size(), 1024u);
  EXPECT_FALSE(list["items"][0]["involvedObject"].contains("namespace"));
  EXPECT_FALSE(list["items"][0]["source"]["host"].get<std::string>().empty());
}

TEST(EventRecorder, RecreatesAnExpiredEventAndReportsFailures) {
  Fixture f;
  EventRecorder rec(f.client, "herd-operator");
  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "c"}, {"namespace", "ns"}}}};
  ASSERT_TRUE(rec.record(cm, kEventNormal, "Synced", "ok"));
  json list = f.client.get("/api/v1/namespaces/ns/events");
  f.client.remove("/api/v1/namespaces/ns/events/" + list["items"][0]["metadata"]["name"].get<std::string>());
  ASSERT_TRUE(rec.record(cm, kEventNormal, "Synced", "ok"));
  EXPECT_EQ(f.objects.count_under("/api/v1/namespaces/ns/events"), 1u);

  Client down(ClusterConfig{.server = "http://127.0.0.1:" + std::to_string(testing::closed_port())});
  EventRecorder failing(down, "herd-operator");
  EXPECT_FALSE(failing.record(cm, kEventNormal, "Synced", "ok"));
}

}  // namespace
}  // namespace herd::kube
