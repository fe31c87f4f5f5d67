#include "kube/informer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>

#include "kube/test_server.h"

namespace herd::kube {
namespace {

using nlohmann::json;
using testing::HttpReply;
using testing::HttpRequest;
using testing::TestServer;
using namespace std::chrono_literals;

// One namespaced collection served like the API server: paged lists and
// watches streaming the changes made through put()/erase().
class FakeCollection {
 public:
  void put(const std::string& name, const std::string& value, bool notify = true) {
    std::lock_guard lock(mu_);
    json o = {{"metadata", {{"name", name}, {"namespace", "ns"}, {"resourceVersion", std::to_string(++rv_)}}},
              {"data", {{"v", value}}}};
    bool existed = objects_.count(name) > 0;
    objects_[name] = o;
    if (notify) push_locked(existed ? "MODIFIED" : "ADDED", o);
  }
  void erase(const std::string& name, bool notify = true) {
    std::lock_guard lock(mu_);
    json o = objects_.at(name);
    objects_.erase(name);
    o["metadata"]["resourceVersion"] = std::to_string(++rv_);
    if (notify) push_locked("DELETED", o);
  }
  void bookmark() {
    std::lock_guard lock(mu_);
    push_locked("BOOKMARK", json{{"metadata", {{"resourceVersion", std::to_string(++rv_)}}}});
  }
  void expire_watch() {  // as after etcd compaction: the next watch line is a 410
    std::lock_guard lock(mu_);
    expire_ = true;
    cv_.notify_all();
  }
  void fail_lists(int n) {
    std::lock_guard lock(mu_);
    failing_lists_ = n;
  }
  long rv() const {
    std::lock_guard lock(mu_);
    return rv_;
  }
  int watches() const {
    std::lock_guard lock(mu_);
    return watches_;
  }

  HttpReply handle(const HttpRequest& r, const TestServer& server) {
    std::unique_lock lock(mu_);
    if (r.query.count("watch")) {
      ++watches_;
      HttpReply reply;
      long from = r.query.count("resourceVersion") ? std::stol(r.query.at("resourceVersion")) : 0;
      reply.stream = [this, &server, from](const testing::ChunkWriter& send) {
        std::unique_lock lock(mu_);
        std::size_t next = 0;
        while (next < log_.size() && log_[next].first <= from) ++next;
        while (!server.stopping()) {
          if (expire_) {
            expire_ = false;
            send(
                json{{"type", "ERROR"}, {"object", {{"kind", "Status"}, {"code", 410}, {"reason", "Expired"}}}}.dump() +
                "\n");
            return;
          }
          for (; next < log_.size(); ++next) {
            if (!send(log_[next].second)) return;
          }
          cv_.wait_for(lock, 10ms);
        }
      };
      return reply;
    }
    if (failing_lists_ > 0) {
      --failing_lists_;
      return HttpReply{500, R"({"kind":"Status","code":500,"reason":"InternalError","message":"etcd down"})"};
    }
    std::size_t start = r.query.count("continue") ? std::stoul(r.query.at("continue")) : 0;
    std::size_t limit = r.query.count("limit") ? std::stoul(r.query.at("limit")) : objects_.size();
    json list = {{"kind", "ConfigMapList"}, {"apiVersion", "v1"}, {"items", json::array()}};
    auto it = objects_.begin();
    std::advance(it, std::min(start, objects_.size()));
    for (std::size_t n = 0; it != objects_.end() && n < limit; ++it, ++n) list["items"].push_back(it->second);
    list["metadata"]["resourceVersion"] = std::to_string(rv_);
    if (it != objects_.end()) list["metadata"]["continue"] = std::to_string(start + limit);
    for (auto& item : list["items"]) item.erase("kind");  // lists leave kind out of items
    return HttpReply{200, list.dump()};
  }

 private:
  void push_locked(const std::string& type, json object) {
    object["kind"] = "ConfigMap";
    object["apiVersion"] = "v1";
    log_.emplace_back(rv_, json{{"type", type}, {"object", object}}.dump() + "\n");
    cv_.notify_all();
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, json> objects_;
  std::vector<std::pair<long, std::string>> log_;  ///< every event, by resourceVersion
  long rv_ = 10;
  bool expire_ = false;
  int failing_lists_ = 0;
  int watches_ = 0;
};

class Recorder {
 public:
  InformerHandlers handlers() {
    auto data = [](const Object& o) { return o->value(json::json_pointer("/data/v"), std::string()); };
    return {
        [this, data](const Object& o) { push("add " + object_key(*o) + " " + data(o)); },
        [this, data](const Object& a, const Object& b) {
          push("update " + object_key(*b) + " " + data(a) + "->" + data(b));
        },
        [this](const Object& o) { push("delete " + object_key(*o)); },
    };
  }
  // Waits until `n` calls were seen; returns them all and forgets them.
  std::vector<std::string> take(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 5s, [&] { return calls_.size() >= n; });
    std::vector<std::string> out;
    out.swap(calls_);
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  void push(std::string s) {
    std::lock_guard lock(mu_);
    calls_.push_back(std::move(s));
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> calls_;
};

template <class F>
bool eventually(F&& condition, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

struct Fixture {
  FakeCollection collection;
  TestServer server{[this](const HttpRequest& r) { return collection.handle(r, server); }};
  Client client{ClusterConfig{.server = server.url()}};
};

TEST(Informer, ListsInPagesThenFollowsTheWatch) {
  Fixture f;
  f.collection.put("a", "1");
  f.collection.put("b", "1");
  f.collection.put("c", "1");
  Recorder rec;
  Informer informer(f.client, {.path = "/api/v1/namespaces/ns/configmaps", .page_size = 2}, rec.handlers());
  EXPECT_FALSE(informer.has_synced());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(5s));
  EXPECT_EQ(rec.take(3), (std::vector<std::string>{"add ns/a 1", "add ns/b 1", "add ns/c 1"}));
  EXPECT_EQ(informer.store().size(), 3u);
  Object a = informer.store().get("ns/a");
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)["kind"], "ConfigMap");  // filled in from the list's kind
  EXPECT_EQ((*a)["apiVersion"], "v1");
  EXPECT_EQ(informer.resource_version(), "13");

  ASSERT_TRUE(eventually([&] { return f.collection.watches() > 0; }));
  f.collection.put("d", "1");
  f.collection.put("a", "2");
  f.collection.erase("b");
  EXPECT_EQ(rec.take(3), (std::vector<std::string>{"add ns/d 1", "delete ns/b", "update ns/a 1->2"}));
  EXPECT_EQ(informer.store().size(), 3u);
  EXPECT_FALSE(informer.store().get("ns/b"));
  EXPECT_EQ((*informer.store().get("ns/a"))["data"]["v"], "2");

  f.collection.bookmark();
  std::string bookmark = std::to_string(f.collection.rv());
  EXPECT_TRUE(eventually([&] { return informer.resource_version() == bookmark; }));
  EXPECT_EQ(informer.relists(), 1);

  auto t0 = std::chrono::steady_clock::now();
  informer.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

TEST(Informer, RelistsAfterGoneAndReportsTheDifference) {
  Fixture f;
  f.collection.put("keep", "1");
  f.collection.put("change", "1");
  f.collection.put("vanish", "1");
  Recorder rec;
  Informer informer(f.client, {.path = "/api/v1/namespaces/ns/configmaps"}, rec.handlers());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(5s));
  rec.take(3);
  ASSERT_TRUE(eventually([&] { return f.collection.watches() > 0; }));
  // Changes the watch never reports (compacted away), then a 410.
  f.collection.put("change", "2", false);
  f.collection.erase("vanish", false);
  f.collection.put("new", "1", false);
  f.collection.expire_watch();
  EXPECT_EQ(rec.take(3), (std::vector<std::string>{"add ns/new 1", "delete ns/vanish", "update ns/change 1->2"}));
  EXPECT_EQ(informer.relists(), 2);
  EXPECT_EQ(informer.store().size(), 3u);
}

TEST(Informer, RetriesAFailedListWithBackoff) {
  Fixture f;
  f.collection.put("a", "1");
  f.collection.fail_lists(2);
  Recorder rec;
  Informer informer(f.client, {.path = "/api/v1/namespaces/ns/configmaps", .backoff_min = 20ms}, rec.handlers());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(5s));
  EXPECT_EQ(rec.take(1), (std::vector<std::string>{"add ns/a 1"}));
}

TEST(Informer, ReportsEveryFailedListWithItsStatusThenClearsTheErrorOnSync) {
  Fixture f;
  f.collection.put("a", "1");
  f.collection.fail_lists(2);
  std::mutex mu;
  std::vector<InformerError> errors;
  InformerHandlers handlers;
  handlers.on_error = [&](const InformerError& e) {
    std::lock_guard lock(mu);
    errors.push_back(e);
  };
  Informer informer(f.client, {.path = "/api/v1/namespaces/ns/configmaps", .backoff_min = 20ms}, handlers);
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(5s));
  std::lock_guard lock(mu);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].verb, "list");
  EXPECT_EQ(errors[0].code, 500);
  EXPECT_NE(errors[0].message.find("etcd down"), std::string::npos) << errors[0].message;
  EXPECT_FALSE(informer.last_error().has_value());  // a good list clears it
}

TEST(Informer, AFailingListStaysVisibleAsTheLastError) {
  Fixture f;
  f.collection.fail_lists(1000);
  Informer informer(f.client, {.path = "/api/v1/namespaces/ns/configmaps", .backoff_min = 20ms});
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.last_error().has_value(); }));
  EXPECT_FALSE(informer.has_synced());
  EXPECT_EQ(informer.last_error()->code, 500);
  EXPECT_EQ(informer.last_error()->verb, "list");
}

TEST(Informer, PeriodicResyncReplaysCachedObjects) {
  Fixture f;
  f.collection.put("a", "1");
  Recorder rec;
  Informer informer(f.client, {.path = "/api/v1/namespaces/ns/configmaps", .resync = 50ms}, rec.handlers());
  informer.start();
  ASSERT_TRUE(informer.wait_for_sync(5s));
  EXPECT_EQ(rec.take(1), (std::vector<std::string>{"add ns/a 1"}));
  auto calls = rec.take(1);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls[0], "update ns/a 1->1");
}

TEST(Informer, KeysAreNamespaceSlashName) {
  EXPECT_EQ(object_key(json{{"metadata", {{"name", "a"}, {"namespace", "ns"}}}}), "ns/a");
  EXPECT_EQ(object_key(json{{"metadata", {{"name", "node-1"}}}}), "node-1");
}

}  // namespace
}  // namespace herd::kube
