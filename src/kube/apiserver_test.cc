// Integration tests against a real kube-apiserver (tests/kube/up.sh). They read
// the admin kubeconfig from HERD_TEST_KUBECONFIG and are skipped without it.
// Each test works in a fresh namespace, deleted afterwards.

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/leader.h"

namespace herd::kube {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string random_suffix() {
  std::random_device rd;
  std::ostringstream s;
  s << std::hex << (rd() & 0xffffff);
  return s.str();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

template <class F>
bool eventually(F&& condition, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

class ApiServer : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* path = std::getenv("HERD_TEST_KUBECONFIG");
    if (!path || !*path) {
      GTEST_SKIP() << "HERD_TEST_KUBECONFIG is not set: no kube-apiserver to test against "
                      "(start one with tests/kube/up.sh and export HERD_TEST_KUBECONFIG=$(bash tests/kube/up.sh "
                      "--print-kubeconfig))";
    }
    config_ = load_kubeconfig(path);
    client_ = std::make_unique<Client>(config_);
    ns_ = "herd-kube-test-" + random_suffix();
    client_->create("/api/v1/namespaces", json{{"metadata", {{"name", ns_}, {"labels", {{"herd.dev/test", "kube"}}}}}});
  }

  void TearDown() override {
    if (!client_ || ns_.empty()) return;
    try {
      client_->remove(path_for("", "v1", "namespaces", "", ns_), Propagation::Background);
    } catch (const Error& e) {
      ADD_FAILURE() << "cleanup: " << e.what();
    }
  }

  std::string cm_path(const std::string& name = "") const { return path_for("", "v1", "configmaps", ns_, name); }

  json configmap(const std::string& name, const std::string& value) const {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}, {"labels", {{"app", "herd-test"}}}}},
            {"data", {{"v", value}}}};
  }

  ClusterConfig config_;
  std::unique_ptr<Client> client_;
  std::string ns_;
};

TEST_F(ApiServer, ConfigMapCrudAndErrors) {
  json created = client_->create(cm_path(), configmap("a", "1"));
  EXPECT_EQ(created["metadata"]["namespace"], ns_);
  EXPECT_FALSE(created["metadata"]["resourceVersion"].get<std::string>().empty());
  EXPECT_EQ(client_->get(cm_path("a"))["data"]["v"], "1");

  try {
    client_->create(cm_path(), configmap("a", "1"));
    ADD_FAILURE() << "no error";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.is_already_exists()) << e.what();
  }

  json listed = client_->list(cm_path(), {.label_selector = "app=herd-test"});
  ASSERT_EQ(listed["items"].size(), 1u);

  EXPECT_EQ(client_->patch(cm_path("a"), json{{"data", {{"m", "merge"}}}})["data"]["m"], "merge");
  EXPECT_EQ(client_->patch(cm_path("a"), json{{"data", {{"s", "strategic"}}}}, PatchType::Strategic)["data"]["s"],
            "strategic");
  json ops = json::array({{{"op", "replace"}, {"path", "/data/v"}, {"value", "2"}}});
  EXPECT_EQ(client_->patch(cm_path("a"), ops, PatchType::Json)["data"]["v"], "2");
  json applied = client_->patch(cm_path("b"), configmap("b", "applied"), PatchType::Apply, "herd-test", true);
  EXPECT_EQ(applied["data"]["v"], "applied");
  EXPECT_EQ(applied["metadata"]["managedFields"][0]["manager"], "herd-test");

  json stale = created;  // the resourceVersion of the first write
  stale["data"]["v"] = "stale";
  try {
    client_->replace(cm_path("a"), stale);
    ADD_FAILURE() << "no error";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.is_conflict()) << e.what();
    EXPECT_EQ(e.code(), 409);
  }
  json fresh = client_->get(cm_path("a"));
  fresh["data"]["v"] = "3";
  EXPECT_EQ(client_->replace(cm_path("a"), fresh)["data"]["v"], "3");

  try {
    client_->create(cm_path(), json{{"metadata", {{"name", "Not_Valid"}}}});
    ADD_FAILURE() << "no error";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.is_invalid()) << e.what();
  }

  client_->remove(cm_path("a"), Propagation::Background, 0);
  try {
    client_->get(cm_path("a"));
    ADD_FAILURE() << "no error";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.is_not_found()) << e.what();
    EXPECT_EQ(e.reason(), "NotFound");
  }
  // Foreground: the garbage collector removes the object after its (no) dependents.
  json deleting = client_->remove(cm_path("b"), Propagation::Foreground);
  EXPECT_TRUE(deleting["metadata"].contains("deletionTimestamp"));
  EXPECT_TRUE(eventually([&] {
    try {
      client_->get(cm_path("b"));
      return false;
    } catch (const ApiError& e) {
      return e.is_not_found();
    }
  }));
}

TEST_F(ApiServer, ListsInPages) {
  for (int i = 0; i < 5; ++i) client_->create(cm_path(), configmap("p" + std::to_string(i), "x"));
  json page = client_->list(cm_path(), {.label_selector = "app=herd-test", .limit = 2});
  EXPECT_EQ(page["items"].size(), 2u);
  EXPECT_FALSE(page["metadata"]["continue"].get<std::string>().empty());
  json all = client_->list_all(cm_path(), {.label_selector = "app=herd-test", .limit = 2});
  EXPECT_EQ(all["items"].size(), 5u);
}

TEST_F(ApiServer, InlinePemCredentialsAndBadCa) {
  ClusterConfig inline_config = config_;
  auto take = [](std::string& file, std::string& pem) {
    if (!file.empty()) pem = slurp(file);
    file.clear();
  };
  take(inline_config.ca_file, inline_config.ca_pem);
  take(inline_config.client_cert_file, inline_config.client_cert_pem);
  take(inline_config.client_key_file, inline_config.client_key_pem);
  Client inline_client(inline_config);
  EXPECT_TRUE(inline_client.get("/version").contains("gitVersion"));

  ClusterConfig untrusted = config_;
  untrusted.ca_file.clear();
  untrusted.ca_pem.clear();  // the system store does not know the test CA
  EXPECT_THROW(Client(untrusted).get("/version"), TransportError);
  untrusted.insecure = true;
  EXPECT_TRUE(Client(untrusted).get("/version").contains("gitVersion"));
}

TEST_F(ApiServer, WatchSeesAddedModifiedDeleted) {
  std::string rv = client_->list(cm_path())["metadata"]["resourceVersion"];
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> seen;
  std::stop_source stop;
  std::string last;
  std::thread watcher([&] {
    last = client_->watch(
        cm_path(), {.resource_version = rv, .label_selector = "app=herd-test", .timeout_seconds = 60},
        [&](std::string_view type, const json& o) {
          if (type == "BOOKMARK") return;
          std::lock_guard lock(mu);
          seen.push_back(std::string(type) + " " + o["metadata"]["name"].get<std::string>());
          cv.notify_all();
        },
        stop.get_token());
  });
  client_->create(cm_path(), configmap("w", "1"));
  client_->patch(cm_path("w"), json{{"data", {{"v", "2"}}}});
  json deleted = client_->remove(cm_path("w"));
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 10s, [&] { return seen.size() >= 3; });
  }
  auto t0 = std::chrono::steady_clock::now();
  stop.request_stop();
  watcher.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED w", "MODIFIED w", "DELETED w"}));
  EXPECT_GE(std::stoull(last), std::stoull(rv));
}

// etcd's HTTP gateway, when known: HERD_TEST_ETCD_URL, or the "ports" file that
// tests/kube/up.sh writes beside the kubeconfig.
std::string etcd_url() {
  if (const char* url = std::getenv("HERD_TEST_ETCD_URL"); url && *url) return url;
  std::ifstream ports(std::filesystem::path(std::getenv("HERD_TEST_KUBECONFIG")).parent_path() / "ports");
  for (std::string line; std::getline(ports, line);) {
    if (line.rfind("etcd=", 0) == 0) return "http://127.0.0.1:" + line.substr(5);
  }
  return "";
}

// A 410 needs history the server no longer has. Events have no watch cache, so
// their watches and lists read etcd directly: once etcd is compacted (every 5
// minutes by the API server, or here through etcd's gateway), a watch from an
// older resourceVersion is Gone, and an informer whose watch ends relists.
TEST_F(ApiServer, ExpiredVersionsAreGoneAndInformersRelist) {
  const std::string events = path_for("", "v1", "events", ns_);
  Informer informer(*client_, {.path = events, .watch_timeout_seconds = 1});
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(10s));
  auto watch_from_one = [&] {
    try {
      client_->watch(events, {.resource_version = "1", .timeout_seconds = 1}, [](std::string_view, const json&) {});
    } catch (const ApiError& e) {
      EXPECT_TRUE(e.is_gone()) << e.what();
      return e.is_gone();
    }
    return false;
  };
  bool gone = watch_from_one();
  std::string etcd = etcd_url();
  if (etcd.empty()) {
    if (!gone) GTEST_SKIP() << "etcd not compacted yet and not reachable to compact (set HERD_TEST_ETCD_URL)";
    return;
  }
  client_->create(cm_path(), configmap("bump", "1"));  // revisions after the informer's
  client_->patch(cm_path("bump"), json{{"data", {{"v", "2"}}}});
  Client etcd_client(ClusterConfig{.server = etcd});
  json range = {{"key", "YQ=="}};
  std::string revision = etcd_client.request("POST", "/v3/kv/range", &range).json()["header"]["revision"];
  json compact = {{"revision", revision}, {"physical", true}};
  ASSERT_TRUE(etcd_client.request("POST", "/v3/kv/compaction", &compact).ok());
  EXPECT_TRUE(watch_from_one());
  EXPECT_TRUE(eventually([&] { return informer.relists() >= 2; })) << "relists: " << informer.relists();
  EXPECT_TRUE(informer.has_synced());
}

TEST_F(ApiServer, InformerSyncsAndFollowsChanges) {
  client_->create(cm_path(), configmap("before", "1"));
  std::mutex mu;
  std::vector<std::string> calls;
  auto push = [&](std::string s) {
    std::lock_guard lock(mu);
    calls.push_back(std::move(s));
  };
  auto count = [&] {
    std::lock_guard lock(mu);
    return calls.size();
  };
  Informer informer(*client_, {.path = cm_path(), .label_selector = "app=herd-test", .page_size = 1},
                    {[&](const Object& o) { push("add " + object_key(*o)); },
                     [&](const Object&, const Object& o) {
                       push("update " + object_key(*o) + " " + (*o)["data"]["v"].get<std::string>());
                     },
                     [&](const Object& o) { push("delete " + object_key(*o)); }});
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(10s));
  ASSERT_TRUE(eventually([&] { return count() == 1; }));
  client_->create(cm_path(), configmap("after", "1"));
  client_->patch(cm_path("before"), json{{"data", {{"v", "2"}}}});
  client_->remove(cm_path("after"));
  ASSERT_TRUE(eventually([&] { return count() >= 4; }));
  informer.stop();
  std::lock_guard lock(mu);
  EXPECT_EQ(calls, (std::vector<std::string>{"add " + ns_ + "/before", "add " + ns_ + "/after",
                                             "update " + ns_ + "/before 2", "delete " + ns_ + "/after"}));
  EXPECT_EQ(informer.store().size(), 1u);
  EXPECT_EQ((*informer.store().get(ns_ + "/before"))["kind"], "ConfigMap");
}

TEST_F(ApiServer, LeaderElectionWithTwoCandidates) {
  std::atomic<int> started{0}, stopped{0};
  auto config = [&](const std::string& id) {
    LeaderElectionConfig c{.lease_namespace = ns_,
                           .lease_name = "herd-operator",
                           .identity = id,
                           .lease_duration = 3s,
                           .renew_deadline = 2s,
                           .retry_period = 200ms};
    c.on_started_leading = [&] { ++started; };
    c.on_stopped_leading = [&] { ++stopped; };
    return c;
  };
  LeaderElector a(*client_, config("a")), b(*client_, config("b"));
  a.start();
  b.start();
  ASSERT_TRUE(eventually([&] { return a.is_leader() || b.is_leader(); }));
  std::this_thread::sleep_for(1s);
  ASSERT_NE(a.is_leader(), b.is_leader());
  EXPECT_EQ(started, 1);
  LeaderElector& leader = a.is_leader() ? a : b;
  LeaderElector& other = a.is_leader() ? b : a;
  json lease = client_->get(path_for("coordination.k8s.io", "v1", "leases", ns_, "herd-operator"));
  EXPECT_EQ(lease["spec"]["holderIdentity"], leader.leader());
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 3);

  auto t0 = std::chrono::steady_clock::now();
  leader.stop();
  EXPECT_EQ(stopped, 1);
  ASSERT_TRUE(eventually([&] { return other.is_leader(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);  // released: no wait for the 3 s expiry
  lease = client_->get(path_for("coordination.k8s.io", "v1", "leases", ns_, "herd-operator"));
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 1);
  other.stop();
  EXPECT_EQ(stopped, 2);
}

TEST_F(ApiServer, ServiceAccountWithoutRbacIsForbidden) {
  client_->create(path_for("", "v1", "serviceaccounts", ns_), json{{"metadata", {{"name", "nobody"}}}});
  json request = {
      {"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenRequest"}, {"spec", {{"expirationSeconds", 600}}}};
  json answer = client_->create(path_for("", "v1", "serviceaccounts", ns_, "nobody", "token"), request);
  std::string token = answer["status"]["token"];
  ASSERT_FALSE(token.empty());

  ClusterConfig sa;
  sa.server = config_.server;
  sa.ca_file = config_.ca_file;
  sa.ca_pem = config_.ca_pem;
  sa.token = token;
  Client restricted(sa);
  try {
    restricted.list(cm_path());
    ADD_FAILURE() << "no error";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.is_forbidden()) << e.what();
    EXPECT_EQ(e.reason(), "Forbidden");
    EXPECT_NE(e.message().find("system:serviceaccount:" + ns_ + ":nobody"), std::string::npos) << e.message();
  }

  // The same through a token file, as in a pod; a wrong token is Unauthorized.
  std::string file = std::filesystem::temp_directory_path() / ("herd-kube-sa-" + random_suffix());
  std::ofstream(file) << "not-a-token\n";
  ClusterConfig from_file = sa;
  from_file.token.clear();
  from_file.token_file = file;
  Client pod(from_file);
  try {
    pod.list(cm_path());
    ADD_FAILURE() << "no error";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 401) << e.what();
  }
  std::ofstream(file) << token << "\n";
  try {
    pod.list(cm_path());
    ADD_FAILURE() << "no error";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.is_forbidden()) << e.what();
  }
  std::filesystem::remove(file);
}

TEST_F(ApiServer, EventsAggregate) {
  json cm = client_->create(cm_path(), configmap("e", "1"));
  EventRecorder recorder(*client_, "herd-test");
  ASSERT_TRUE(recorder.record(cm, kEventNormal, "Tested", "hello"));
  ASSERT_TRUE(recorder.record(cm, kEventNormal, "Tested", "hello"));
  json events = client_->list(path_for("", "v1", "events", ns_), {.field_selector = "involvedObject.name=e"});
  ASSERT_EQ(events["items"].size(), 1u);
  EXPECT_EQ(events["items"][0]["count"], 2);
  EXPECT_EQ(events["items"][0]["involvedObject"]["uid"], cm["metadata"]["uid"]);
}

}  // namespace
}  // namespace herd::kube
