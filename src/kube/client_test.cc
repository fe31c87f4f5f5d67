#include "kube/client.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "kube/test_server.h"

namespace herd::kube {
namespace {

using nlohmann::json;
using testing::HttpReply;
using testing::HttpRequest;
using testing::TestServer;
using namespace std::chrono_literals;

ClusterConfig config_for(const TestServer& server) {
  ClusterConfig c;
  c.server = server.url();
  c.token = "secret";
  return c;
}

std::string status_body(int code, const std::string& reason, const std::string& message) {
  return json{{"kind", "Status"}, {"apiVersion", "v1"}, {"code", code}, {"reason", reason}, {"message", message}}
      .dump();
}

TEST(Paths, CoreAndNamedGroups) {
  EXPECT_EQ(path_for("", "v1", "configmaps", "ns"), "/api/v1/namespaces/ns/configmaps");
  EXPECT_EQ(path_for("", "v1", "namespaces", "", "ns"), "/api/v1/namespaces/ns");
  EXPECT_EQ(path_for("", "v1", "pods", "ns", "p", "log"), "/api/v1/namespaces/ns/pods/p/log");
  EXPECT_EQ(path_for("apps", "v1", "deployments", "ns", "web", "scale"),
            "/apis/apps/v1/namespaces/ns/deployments/web/scale");
  EXPECT_EQ(path_for("herd.dev", "v1alpha1", "testruns"), "/apis/herd.dev/v1alpha1/testruns");
  EXPECT_EQ(path_for("rbac.authorization.k8s.io", "v1", "clusterroles", "", "admin"),
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin");
}

TEST(Paths, QueryEscaping) {
  EXPECT_EQ(query_escape("app=web,tier in (a,b)"), "app%3Dweb%2Ctier%20in%20%28a%2Cb%29");
  EXPECT_EQ(query_escape("a-b_c.d~"), "a-b_c.d~");
  EXPECT_EQ(add_query("/api/v1/pods", "limit", "5"), "/api/v1/pods?limit=5");
  EXPECT_EQ(add_query("/api/v1/pods?limit=5", "labelSelector", "a=b"), "/api/v1/pods?limit=5&labelSelector=a%3Db");
}

TEST(LineSplitter, ReassemblesLinesAcrossChunks) {
  std::string stream = "{\"a\":1}\n\n{\"b\":2}\r\n{\"c\":3}\n{\"d\"";
  for (std::size_t step = 1; step <= stream.size(); ++step) {
    LineSplitter s;
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < stream.size(); i += step) {
      s.feed(std::string_view(stream).substr(i, step), [&](std::string_view l) { lines.emplace_back(l); });
    }
    EXPECT_EQ(lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"})) << "step " << step;
    EXPECT_EQ(s.pending(), "{\"d\"");
  }
}

TEST(WatchDecoder, DecodesEventsAtAnySplitAndTheLastOneWithoutANewline) {
  const std::string body =
      "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}}\r\n\n"
      "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"7\"}}}";
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    WatchDecoder d("GET /api/v1/pods?watch=1");
    std::vector<std::string> seen;
    auto on_event = [&](std::string_view type, const nlohmann::json& o) {
      seen.push_back(std::string(type) + " " + o["metadata"].value("name", ""));
    };
    d.feed(std::string_view(body).substr(0, cut), on_event);
    d.feed(std::string_view(body).substr(cut), on_event);
    EXPECT_EQ(seen, std::vector<std::string>{"ADDED a"}) << cut;
    d.finish(on_event);
    d.finish(on_event);  // once only
    EXPECT_EQ(seen, (std::vector<std::string>{"ADDED a", "BOOKMARK "})) << cut;
    EXPECT_EQ(d.resource_version(), "7");
  }
  WatchDecoder d("ctx");
  auto ignore = [](std::string_view, const nlohmann::json&) {};
  EXPECT_THROW(d.feed("[1,2]\n", ignore), Error);
  EXPECT_THROW(d.feed("{\"type\":1,\"object\":{}}\n", ignore), Error);
  try {
    d.feed(R"({"type":"ERROR","object":{"kind":"Status","code":403,"reason":"Forbidden"}})"
           "\n",
           ignore);
    ADD_FAILURE();
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.is_forbidden());
    EXPECT_EQ(std::string(e.what()).rfind("ctx: 403 Forbidden", 0), 0u) << e.what();
  }
}

TEST(LineSplitter, LimitsLineLength) {
  LineSplitter s(8);
  auto ignore = [](std::string_view) {};
  s.feed("12345678\n1234", ignore);
  EXPECT_THROW(s.feed("56789", ignore), std::length_error);
}

TEST(ApiErrors, FromStatusAndPlainBodies) {
  ApiError nf = ApiError::from_response({404, status_body(404, "NotFound", "configmaps \"x\" not found")}, "GET /p");
  EXPECT_TRUE(nf.is_not_found());
  EXPECT_EQ(nf.reason(), "NotFound");
  EXPECT_STREQ(nf.what(), "GET /p: 404 NotFound: configmaps \"x\" not found");
  ApiError exists = ApiError::from_response({409, status_body(409, "AlreadyExists", "exists")});
  EXPECT_TRUE(exists.is_already_exists());
  EXPECT_FALSE(exists.is_conflict());
  ApiError conflict = ApiError::from_response({409, status_body(409, "Conflict", "modified")});
  EXPECT_TRUE(conflict.is_conflict());
  EXPECT_FALSE(conflict.is_already_exists());
  ApiError plain = ApiError::from_response({503, "upstream down\n"});
  EXPECT_EQ(plain.code(), 503);
  EXPECT_EQ(plain.reason(), "ServiceUnavailable");
  EXPECT_EQ(plain.message(), "upstream down");
  EXPECT_TRUE(ApiError::from_status(json{{"code", 410}, {"reason", "Expired"}}).is_gone());
}

TEST(Client, SendsCredentialsAndParsesAnswers) {
  HttpRequest seen;
  std::mutex mu;
  TestServer server([&](const HttpRequest& r) {
    std::lock_guard lock(mu);
    seen = r;
    if (r.path == "/api/v1/namespaces/ns/configmaps/missing") {
      return HttpReply{404, status_body(404, "NotFound", "configmaps \"missing\" not found")};
    }
    return HttpReply{r.method == "POST" ? 201 : 200, json{{"echo", r.method}}.dump()};
  });
  Client client(config_for(server), {.user_agent = "herd-test"});
  EXPECT_EQ(client.get("/api/v1/namespaces/ns/configmaps/a")["echo"], "GET");
  EXPECT_EQ(seen.headers["authorization"], "Bearer secret");
  EXPECT_EQ(seen.headers["accept"], "application/json");
  EXPECT_EQ(seen.headers["user-agent"], "herd-test");
  EXPECT_TRUE(seen.body.empty());

  json cm = {{"metadata", {{"name", "a"}}}, {"data", {{"k", "v"}}}};
  EXPECT_EQ(client.create("/api/v1/namespaces/ns/configmaps", cm)["echo"], "POST");
  EXPECT_EQ(json::parse(seen.body), cm);
  EXPECT_EQ(seen.headers["content-type"], "application/json");
  client.replace("/api/v1/namespaces/ns/configmaps/a", cm);
  EXPECT_EQ(seen.method, "PUT");
  client.update_status("/apis/herd.dev/v1alpha1/namespaces/ns/testruns/t", cm);
  EXPECT_EQ(seen.target, "/apis/herd.dev/v1alpha1/namespaces/ns/testruns/t/status");

  try {
    client.get("/api/v1/namespaces/ns/configmaps/missing");
    FAIL() << "no error";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.is_not_found());
    EXPECT_EQ(e.message(), "configmaps \"missing\" not found");
  }
  Response raw = client.request("GET", "/api/v1/namespaces/ns/configmaps/missing");
  EXPECT_EQ(raw.status, 404);
  EXPECT_FALSE(raw.ok());
}

TEST(Client, PatchAndDeleteOptions) {
  HttpRequest seen;
  std::mutex mu;
  TestServer server([&](const HttpRequest& r) {
    std::lock_guard lock(mu);
    seen = r;
    return HttpReply{200, "{}"};
  });
  Client client(config_for(server));
  const std::string p = "/api/v1/namespaces/ns/configmaps/a";
  struct Case {
    PatchType type;
    const char* content_type;
  } cases[] = {{PatchType::Merge, "application/merge-patch+json"},
               {PatchType::Strategic, "application/strategic-merge-patch+json"},
               {PatchType::Json, "application/json-patch+json"},
               {PatchType::Apply, "application/apply-patch+yaml"}};
  for (const auto& c : cases) {
    client.patch(p, json{{"data", {{"k", "v"}}}}, c.type);
    EXPECT_EQ(seen.method, "PATCH");
    EXPECT_EQ(seen.headers["content-type"], c.content_type);
  }
  client.patch(p, json::object(), PatchType::Apply, "herd-operator", true);
  EXPECT_EQ(seen.query["fieldManager"], "herd-operator");
  EXPECT_EQ(seen.query["force"], "true");

  client.remove(p, Propagation::Foreground, 0);
  EXPECT_EQ(seen.method, "DELETE");
  EXPECT_EQ(json::parse(seen.body), (json{{"apiVersion", "v1"},
                                          {"kind", "DeleteOptions"},
                                          {"propagationPolicy", "Foreground"},
                                          {"gracePeriodSeconds", 0}}));
  client.remove(p);
  EXPECT_EQ(json::parse(seen.body), (json{{"apiVersion", "v1"}, {"kind", "DeleteOptions"}}));
}

TEST(Client, ListOptionsAndPaging) {
  std::vector<std::string> targets;
  std::mutex mu;
  TestServer server([&](const HttpRequest& r) {
    std::lock_guard lock(mu);
    targets.push_back(r.target);
    int page = r.query.count("continue") ? std::stoi(r.query.at("continue")) : 0;
    json list = {{"kind", "ConfigMapList"}, {"items", {{{"metadata", {{"name", "cm" + std::to_string(page)}}}}}}};
    list["metadata"]["resourceVersion"] = "42";
    if (page < 2) list["metadata"]["continue"] = std::to_string(page + 1);
    return HttpReply{200, list.dump()};
  });
  Client client(config_for(server));
  json all = client.list_all("/api/v1/configmaps", {.label_selector = "app=web", .limit = 1});
  ASSERT_EQ(all["items"].size(), 3u);
  EXPECT_EQ(all["items"][2]["metadata"]["name"], "cm2");
  EXPECT_FALSE(all["metadata"].contains("continue"));
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0], "/api/v1/configmaps?labelSelector=app%3Dweb&limit=1");
  EXPECT_EQ(targets[2], "/api/v1/configmaps?labelSelector=app%3Dweb&limit=1&continue=2");
}

TEST(Client, RereadsTokenFileWhenItChanges) {
  std::string auth;
  std::mutex mu;
  TestServer server([&](const HttpRequest& r) {
    std::lock_guard lock(mu);
    auth = r.headers.at("authorization");
    return HttpReply{200, "{}"};
  });
  std::string file = "/tmp/herd-kube-token-" + std::to_string(::getpid());
  std::ofstream(file) << "first\n";
  ClusterConfig c = config_for(server);
  c.token_file = file;
  Client client(c);
  client.get("/x");
  EXPECT_EQ(auth, "Bearer first");
  std::ofstream(file) << "second-token\n";  // a different size: seen even within the same mtime tick
  client.get("/x");
  EXPECT_EQ(auth, "Bearer second-token");
  std::filesystem::remove(file);
  client.get("/x");
  EXPECT_EQ(auth, "Bearer second-token");  // a vanished file keeps the last token
}

TEST(Client, TransportFailuresAndTimeouts) {
  ClusterConfig c;
  c.server = "http://127.0.0.1:" + std::to_string(testing::closed_port());
  Client refused(c);
  try {
    refused.get("/api");
    FAIL() << "no error";
  } catch (const TransportError& e) {
    EXPECT_NE(std::string(e.what()).find("GET /api: "), std::string::npos) << e.what();
  }

  TestServer slow([](const HttpRequest&) { return HttpReply{200, "{}", "application/json", nullptr, 3000}; });
  Client client(config_for(slow), {.timeout = 200ms});
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(client.get("/slow"), TransportError);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(client.request("GET", "/slow", nullptr, kJsonContentType, 100ms), TransportError);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST(Client, ManyThreadsAtOnce) {
  TestServer server([](const HttpRequest& r) { return HttpReply{200, json{{"path", r.path}}.dump()}; });
  Client client(config_for(server), {.max_idle_handles = 2});
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        std::string p = "/t" + std::to_string(t) + "/" + std::to_string(i);
        if (client.get(p)["path"] == p) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 90);
}

// --- watch -----------------------------------------------------------------

std::string event(const std::string& type, const std::string& name, const std::string& rv) {
  return json{{"type", type},
              {"object", {{"kind", "ConfigMap"}, {"metadata", {{"name", name}, {"resourceVersion", rv}}}}}}
             .dump() +
         "\n";
}

TEST(Watch, StreamsEventsSplitAcrossChunks) {
  HttpRequest seen;
  std::mutex mu;
  TestServer server([&](const HttpRequest& r) {
    {
      std::lock_guard lock(mu);
      seen = r;
    }
    HttpReply reply;
    reply.stream = [&server](const testing::ChunkWriter& send) {
      std::string all =
          event("ADDED", "a", "11") + event("MODIFIED", "a", "12") +
          json{{"type", "BOOKMARK"}, {"object", {{"kind", "ConfigMap"}, {"metadata", {{"resourceVersion", "15"}}}}}}
              .dump() +
          "\n" + event("DELETED", "a", "16");
      // Uneven chunks that cut events (and one "\r\n" pair) in the middle, with pauses so they arrive apart.
      for (std::size_t i = 0, step = 7; i < all.size(); i += step, step = step * 3 % 41 + 1) {
        if (!send(std::string_view(all).substr(i, step)) || !server.pause(2)) return;
      }
    };
    return reply;
  });
  Client client(config_for(server));
  std::vector<std::string> got;
  std::string rv = client.watch("/api/v1/namespaces/ns/configmaps", {.resource_version = "10", .timeout_seconds = 60},
                                [&](std::string_view type, const json& o) {
                                  got.push_back(std::string(type) + " " + o["metadata"].value("name", "-") + " " +
                                                o["metadata"].value("resourceVersion", ""));
                                });
  EXPECT_EQ(got, (std::vector<std::string>{"ADDED a 11", "MODIFIED a 12", "BOOKMARK - 15", "DELETED a 16"}));
  EXPECT_EQ(rv, "16");
  EXPECT_EQ(seen.query["watch"], "1");
  EXPECT_EQ(seen.query["allowWatchBookmarks"], "true");
  EXPECT_EQ(seen.query["resourceVersion"], "10");
  EXPECT_EQ(seen.query["timeoutSeconds"], "60");
}

TEST(Watch, ErrorEventWithGoneThrows) {
  TestServer server([](const HttpRequest&) {
    HttpReply reply;
    reply.stream = [](const testing::ChunkWriter& send) {
      send(event("ADDED", "a", "5"));
      send(json{{"type", "ERROR"},
                {"object",
                 {{"kind", "Status"},
                  {"code", 410},
                  {"reason", "Expired"},
                  {"message", "too old resource version: 1 (5)"}}}}
               .dump() +
           "\n");
    };
    return reply;
  });
  Client client(config_for(server));
  int events = 0;
  try {
    client.watch("/api/v1/configmaps", {.resource_version = "1"}, [&](std::string_view, const json&) { ++events; });
    FAIL() << "no error";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.is_gone());
    EXPECT_EQ(e.reason(), "Expired");
  }
  EXPECT_EQ(events, 1);
}

TEST(Watch, NonSuccessAnswerThrowsApiError) {
  TestServer server([](const HttpRequest&) {
    return HttpReply{403, status_body(403, "Forbidden", "configmaps is forbidden: User \"x\" cannot watch")};
  });
  Client client(config_for(server));
  try {
    client.watch("/api/v1/configmaps", {}, [](std::string_view, const json&) {});
    FAIL() << "no error";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.is_forbidden());
    EXPECT_EQ(e.reason(), "Forbidden");
  }
}

TEST(Watch, StopEndsAnIdleWatchPromptly) {
  TestServer server([&](const HttpRequest&) {
    HttpReply reply;
    reply.stream = [&server](const testing::ChunkWriter& send) {
      send(event("ADDED", "a", "7"));
      server.pause(60'000);  // then nothing until the server stops
    };
    return reply;
  });
  Client client(config_for(server));
  std::stop_source stop;
  std::atomic<bool> added{false};
  std::thread stopper([&] {
    while (!added) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(100ms);
    stop.request_stop();
  });
  auto t0 = std::chrono::steady_clock::now();
  std::string rv = client.watch(
      "/api/v1/configmaps", {}, [&](std::string_view, const json&) { added = true; }, stop.get_token());
  auto took = std::chrono::steady_clock::now() - t0;
  stopper.join();
  EXPECT_EQ(rv, "7");
  EXPECT_LT(took, 600ms);
}

TEST(Watch, HandlerExceptionsPropagate) {
  TestServer server([](const HttpRequest&) {
    HttpReply reply;
    reply.stream = [](const testing::ChunkWriter& send) { send(event("ADDED", "a", "7") + event("ADDED", "b", "8")); };
    return reply;
  });
  Client client(config_for(server));
  EXPECT_THROW(client.watch("/x", {}, [](std::string_view, const json&) { throw std::runtime_error("handler"); }),
               std::runtime_error);
}

TEST(Watch, AlreadyStoppedReturnsAtOnce) {
  TestServer server([](const HttpRequest&) { return HttpReply{200, ""}; });
  Client client(config_for(server));
  std::stop_source stop;
  stop.request_stop();
  EXPECT_EQ(client.watch(
                "/x", {.resource_version = "9"}, [](std::string_view, const json&) {}, stop.get_token()),
            "9");
  EXPECT_EQ(server.requests(), 0);
}

TEST(Watch, MalformedEventThrows) {
  TestServer server([](const HttpRequest&) {
    HttpReply reply;
    reply.stream = [](const testing::ChunkWriter& send) { send("{not json\n"); };
    return reply;
  });
  Client client(config_for(server));
  EXPECT_THROW(client.watch("/x", {}, [](std::string_view, const json&) {}), Error);
}

}  // namespace
}  // namespace herd::kube
