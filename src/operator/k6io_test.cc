// k6-operator compatibility (--k6-io): keys, owner references, status writes and
// the CRD ownership check, against an in-memory API server (kube's FakeObjects).
// The real thing is tests/kube/k6io_test.sh.
#include "operator/k6io.h"

#include <gtest/gtest.h>

#include "kube/test_server.h"
#include "operator/controller.h"
#include "operator/reconciler.h"

namespace herd::op {
namespace {

using json = nlohmann::json;
using kube::testing::FakeObjects;
using kube::testing::HttpRequest;
using kube::testing::TestServer;

json testrun(const std::string& api_version) {
  return {{"apiVersion", api_version},
          {"kind", "TestRun"},
          {"metadata", {{"name", "load"}, {"namespace", "perf"}, {"uid", "uid-1"}, {"generation", 1}}},
          {"spec", {{"parallelism", 1}, {"script", {{"configMap", {{"name", "s"}, {"file", "t.js"}}}}}}}};
}

TEST(K6io, KeysCarryTheGroupOfK6ioObjectsOnly) {
  EXPECT_EQ(group_of(testrun("k6.io/v1alpha1")), "k6.io");
  EXPECT_EQ(group_of(testrun("herd.dev/v1alpha1")), "herd.dev");
  EXPECT_EQ(group_of(json::object()), "herd.dev");
  EXPECT_EQ(testrun_key(testrun("herd.dev/v1alpha1")), "perf/load");
  EXPECT_EQ(testrun_key(testrun("k6.io/v1alpha1")), "k6.io:perf/load");
  EXPECT_EQ(split_testrun_key("k6.io:perf/load"), (std::pair<std::string_view, std::string>{"k6.io", "perf/load"}));
  EXPECT_EQ(split_testrun_key("perf/load"), (std::pair<std::string_view, std::string>{"herd.dev", "perf/load"}));
}

TEST(K6io, ChildrenAreOwnedUnderTheTestRunsGroup) {
  EXPECT_EQ(owner_reference(testrun("k6.io/v1alpha1"))["apiVersion"], "k6.io/v1alpha1");
  EXPECT_EQ(owner_reference(testrun("herd.dev/v1alpha1"))["apiVersion"], "herd.dev/v1alpha1");
  json job = initializer_job(testrun("k6.io/v1alpha1"), JobSettings{});
  EXPECT_EQ(job["metadata"]["ownerReferences"][0]["apiVersion"], "k6.io/v1alpha1");
  EXPECT_EQ(job["metadata"]["ownerReferences"][0]["kind"], "TestRun");
}

class K6ioApi : public ::testing::Test {
 protected:
  FakeObjects store_;
  TestServer server_{[this](const HttpRequest& r) {
    HttpRequest q = r;  // PUT .../status updates the object, as the status subresource does
    if (q.method == "PUT" && q.path.ends_with("/status")) q.path.resize(q.path.size() - 7);
    return store_.handle(q);
  }};
  kube::Client client_{kube::ClusterConfig{.server = server_.url()}};

  void crd(const std::string& name, json labels) {
    client_.create(kube::path_for("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
                   {{"apiVersion", "apiextensions.k8s.io/v1"},
                    {"kind", "CustomResourceDefinition"},
                    {"metadata", {{"name", name}, {"labels", labels}}}});
  }
};

TEST_F(K6ioApi, RefusesMissingOrForeignCrds) {
  std::string why = check_k6io_crds(client_);
  EXPECT_NE(why.find("the CRD testruns.k6.io is not installed"), std::string::npos) << why;
  EXPECT_NE(why.find("k6io.enabled"), std::string::npos) << why;

  // k6-operator's CRDs: no herd label.
  crd("testruns.k6.io", {{"app.kubernetes.io/name", "k6-operator"}});
  crd("privateloadzones.k6.io", json::object());
  why = check_k6io_crds(client_);
  EXPECT_NE(why.find("testruns.k6.io exists but is not herd's (no label herd.dev/k6-io=true; it has "
                     "app.kubernetes.io/name=k6-operator)"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("k6-operator, owns the k6.io group"), std::string::npos) << why;
}

TEST_F(K6ioApi, AcceptsHerdsCrds) {
  crd("testruns.k6.io", {{"herd.dev/k6-io", "true"}});
  EXPECT_NE(check_k6io_crds(client_).find("privateloadzones.k6.io is not installed"), std::string::npos);
  crd("privateloadzones.k6.io", {{"herd.dev/k6-io", "false"}});
  EXPECT_NE(check_k6io_crds(client_).find("privateloadzones.k6.io exists but is not herd's"), std::string::npos);
  client_.remove(
      kube::path_for("apiextensions.k8s.io", "v1", "customresourcedefinitions", "", "privateloadzones.k6.io"));
  crd("privateloadzones.k6.io", {{"herd.dev/k6-io", "true"}});
  EXPECT_EQ(check_k6io_crds(client_), "");
}

TEST_F(K6ioApi, AK6ioTestRunIsReconciledInItsOwnGroup) {
  client_.create(testruns_path("perf", "", "k6.io"), testrun("k6.io/v1alpha1"));
  std::vector<std::string> keys;
  ControllerOptions opts;
  opts.k6io = true;
  opts.reconcile.http = [&](const std::string& key, const std::string&, const std::string&, const std::string&,
                            bool) -> std::optional<std::pair<long, std::string>> {
    keys.push_back(key);
    return std::pair<long, std::string>{404, ""};
  };
  Controller controller(client_, opts);
  controller.reconcile("k6.io:perf/load");
  json tr = store_.get(testruns_path("perf", "load", "k6.io"));
  EXPECT_EQ(tr["status"]["stage"], "initialization") << tr.dump();
  EXPECT_TRUE(store_.get(testruns_path("perf", "load")).is_null());  // nothing in herd.dev
  json job = store_.get("/apis/batch/v1/namespaces/perf/jobs/load-initializer");
  ASSERT_FALSE(job.is_null());
  EXPECT_EQ(job["metadata"]["ownerReferences"][0]["apiVersion"], "k6.io/v1alpha1");
  // The herd.dev key of the same name finds no TestRun and changes nothing.
  controller.reconcile("perf/load");
  EXPECT_TRUE(store_.get(testruns_path("perf", "load")).is_null());
}

TEST_F(K6ioApi, AK6ioTestRunsSummaryAndStatusGoToK6io) {
  json tr = testrun("k6.io/v1alpha1");
  tr["status"] = {{"stage", "started"}, {"startTime", "2026-11-29T12:00:00Z"}};
  client_.create(testruns_path("perf", "", "k6.io"), tr);
  auto running = [](const std::string& component, const std::string& ip) {
    return json{
        {"metadata",
         {{"name", "load-" + component},
          {"namespace", "perf"},
          {"labels", {{"herd.dev/testrun", "load"}, {"herd.dev/component", component}}}}},
        {"status",
         {{"phase", "Running"},
          {"podIP", ip},
          {"containerStatuses", {{{"name", "herd"}, {"restartCount", 0}, {"state", {{"running", json::object()}}}}}}}}};
  };
  TestRunChildren kids;
  kids.runners[1].push_back(running("runner", "127.0.1.1"));
  kids.coordinator = running("coordinator", "127.0.1.2");
  std::vector<std::string> keys;
  ReconcilerOptions opts;
  opts.http = [&](const std::string& key, const std::string&, const std::string& url, const std::string&,
                  bool) -> std::optional<std::pair<long, std::string>> {
    keys.push_back(key);
    if (url.ends_with("/v1/summary")) {
      return std::pair<long, std::string>{
          200,
          json{{"exitCode", 0}, {"result", "passed"}, {"text", "summary\n"}, {"metrics", {{"iterations", 40}}}}.dump()};
    }
    return std::pair<long, std::string>{404, ""};
  };
  kube::EventRecorder events(client_, "herd-operator");
  std::atomic<std::uint64_t> changes{0};
  TestRunReconciler(client_, events, opts, changes, client_.get(testruns_path("perf", "load", "k6.io")), kids).run();
  ASSERT_FALSE(keys.empty());
  for (const auto& k : keys) EXPECT_EQ(k, "k6.io:perf/load");  // an answer requeues the k6.io TestRun
  json st = store_.get(testruns_path("perf", "load", "k6.io"))["status"];
  EXPECT_EQ(st["stage"], "finished") << st.dump();
  EXPECT_EQ(st["metrics"]["iterations"], 40);
  json cm = store_.get("/api/v1/namespaces/perf/configmaps/load-summary");
  EXPECT_EQ(cm["metadata"]["ownerReferences"][0]["apiVersion"], "k6.io/v1alpha1");
}

}  // namespace
}  // namespace herd::op
