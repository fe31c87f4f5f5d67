// src/grpc in process, without the herd binary (so a TSan build can run it):
// the demo service on a loopback port, and several "VU" threads, each with its
// own event loop, Protos and Connection, making unary and streaming calls at
// once. Every completion arrives on a gRPC thread and is posted to the caller's
// loop, where all state is touched, as src/k6/grpc_module.cc does.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "grpc/conn.h"
#include "grpc/protos.h"
#include "loop/event_loop.h"
#include "target/grpc_service.h"

// libgrpc, absl and the other libraries gRPC brings are Debian's, not built
// with TSan: their own synchronisation (absl, atomics) is invisible to it, so
// the libc calls they make (memcpy, epoll_wait on a descriptor another gRPC
// thread made, ...) look like races. TSan's ignore_noninstrumented_modules
// leaves out what those libraries do; herd's code (the callbacks, posting to
// the loops, Protos, Connection) stays checked. TSAN_OPTIONS adds to this.
extern "C" const char* __tsan_default_options() {  // NOLINT(bugprone-reserved-identifier)
  return "ignore_noninstrumented_modules=1";
}

namespace herd::rpc {
namespace {

using namespace std::chrono_literals;

constexpr int kThreads = 4, kUnary = 16, kCount = 5, kChat = 5;

/// One VU's worth of calls, all state on its loop thread.
struct Vu {
  loop::EventLoop loop;
  Protos protos;
  std::shared_ptr<Connection> conn;
  std::string error;
  int unary_ok = 0, count_msgs = 0, chat_msgs = 0, streams_done = 0, streams_ok = 0;
  long long count_sum = 0;
  bool timed_out = false;

  void finish_if_done() {
    if (!error.empty() || (unary_ok == kUnary && streams_done == 2)) loop.stop();
  }

  void start(const std::string& addr) {
    ConnectOptions opts;
    opts.plaintext = true;
    opts.timeout = 10s;
    Connection::open(addr, opts, [this](std::shared_ptr<Connection> c, std::string err) {
      loop.post([this, c = std::move(c), err = std::move(err)] {
        if (!c) {
          error = "connect: " + err;
          loop.stop();
          return;
        }
        conn = c;
        calls();
      });
    });
  }

  void calls() {
    const auto* echo = protos.find("herd.demo.Demo/Echo");
    const auto* count = protos.find("herd.demo.Demo/Count");
    const auto* chat = protos.find("herd.demo.Demo/Chat");
    for (int i = 0; i < kUnary; i++) {
      std::string text = "m" + std::to_string(i);
      conn->unary(method_path(echo), protos.encode(echo->input_type(), R"({"text":")" + text + R"("})"), {}, 10s,
                  [this, echo, text](CallResult r) {
                    loop.post([this, echo, text, r = std::move(r)] {
                      if (r.code == 0 && protos.decode(echo->output_type(), r.body).find(text) != std::string::npos)
                        unary_ok++;
                      else
                        error = "unary: " + r.status_message;
                      finish_if_done();
                    });
                  });
    }
    Connection::StreamHandlers ch;
    ch.on_message = [this, count](std::string bytes) {
      loop.post([this, count, bytes = std::move(bytes)] {
        count_msgs++;
        auto json = protos.decode(count->output_type(), bytes);
        count_sum += std::stoll(json.substr(json.find(":\"") + 2));
      });
    };
    ch.on_done = [this](CallResult r) { loop.post([this, r] { stream_done(r); }); };
    auto counting = conn->stream(method_path(count), {}, 10s, std::move(ch));
    counting->write(protos.encode(count->input_type(), R"({"count":)" + std::to_string(kCount) + "}"));
    counting->writes_done();

    Connection::StreamHandlers bh;
    bh.on_message = [this](std::string) { loop.post([this] { chat_msgs++; }); };
    bh.on_done = [this](CallResult r) { loop.post([this, r] { stream_done(r); }); };
    auto chatting = conn->stream(method_path(chat), {}, 10s, std::move(bh));
    for (int i = 0; i < kChat; i++) chatting->write(protos.encode(chat->input_type(), R"({"text":"c"})"));
    chatting->writes_done();
  }

  void stream_done(const CallResult& r) {
    streams_done++;
    if (r.code == 0) streams_ok++;
    finish_if_done();
  }

  void run() {
    auto guard = loop.add_timer(loop.now() + 20s, [this] {
      timed_out = true;
      loop.stop();
    });
    loop.run();
    loop.cancel_timer(guard);
    if (conn) conn->cancel_all_and_wait();
  }
};

TEST(GrpcInProcess, ConcurrentUnaryAndStreamingCallsPostToTheirLoops) {
  target::GrpcDemoServer server("127.0.0.1:0");
  std::vector<std::unique_ptr<Vu>> vus;
  for (int i = 0; i < kThreads; i++) {
    vus.push_back(std::make_unique<Vu>());
    vus.back()->protos.load({}, {"grpc_demo.proto"}, std::string(HERD_SOURCE_DIR) + "/src/target");
  }
  std::vector<std::thread> threads;
  threads.reserve(vus.size());
  for (auto& vu : vus)
    threads.emplace_back([&server, v = vu.get()] {
      v->start(server.address());
      v->run();
    });
  for (auto& t : threads) t.join();
  for (auto& vu : vus) {
    EXPECT_EQ(vu->error, "");
    EXPECT_FALSE(vu->timed_out);
    EXPECT_EQ(vu->unary_ok, kUnary);
    EXPECT_EQ(vu->streams_ok, 2);
    EXPECT_EQ(vu->count_msgs, kCount);
    EXPECT_EQ(vu->count_sum, kCount * (kCount + 1) / 2);
    EXPECT_EQ(vu->chat_msgs, kChat);
  }
}

TEST(GrpcInProcess, CancellingOpenCallsFromTheLoopWhileTheyComplete) {
  target::GrpcDemoServer server("127.0.0.1:0");
  Vu vu;
  vu.protos.load({}, {"grpc_demo.proto"}, std::string(HERD_SOURCE_DIR) + "/src/target");
  std::atomic<int> done_callbacks{0};
  std::thread t([&] {
    ConnectOptions opts;
    opts.plaintext = true;
    Connection::open(server.address(), opts, [&](std::shared_ptr<Connection> c, std::string err) {
      vu.loop.post([&, c, err] {
        if (!c) {
          vu.error = err;
          vu.loop.stop();
          return;
        }
        vu.conn = c;
        const auto* count = vu.protos.find("herd.demo.Demo/Count");
        // Slow streams; the first message received cancels everything on the connection.
        for (int i = 0; i < 4; i++) {
          Connection::StreamHandlers h;
          h.on_message = [&](std::string) {
            vu.loop.post([&] {
              if (vu.count_msgs++ == 0) {
                vu.conn->cancel_all_and_wait();
                vu.loop.stop();
              }
            });
          };
          h.on_done = [&](CallResult r) {
            if (r.code == 1) done_callbacks++;  // CANCELLED
          };
          auto s = c->stream(method_path(count), {}, 10s, std::move(h));
          s->write(vu.protos.encode(count->input_type(), R"({"count":100,"intervalMs":20})"));
          s->writes_done();
        }
      });
    });
    vu.run();
  });
  t.join();
  EXPECT_EQ(vu.error, "");
  EXPECT_FALSE(vu.timed_out);
  EXPECT_EQ(done_callbacks.load(), 4);  // every stream ended, cancelled, before cancel_all_and_wait returned
}

// gRPC runs the callback API's completions on threads of a completion queue
// that the last grpc::Channel to go shuts down, joining those threads: a channel
// dropped on one of them joins itself (EDEADLK, ignored by gRPC 1.51), frees
// the queue under the running thread and crashes the process a moment later.
// Here the script's side lets go of the connection while a call is in flight,
// so the call's completion holds the last reference (as when a VU closes a
// Client and the calls it cancelled end on gRPC's threads).
TEST(GrpcInProcess, TheLastReferenceToAConnectionMayGoOnAGrpcThread) {
  target::GrpcDemoServer server("127.0.0.1:0");
  Protos protos;
  protos.load({}, {"grpc_demo.proto"}, std::string(HERD_SOURCE_DIR) + "/src/target");
  const auto* echo = protos.find("herd.demo.Demo/Echo");
  for (int round = 0; round < 10; round++) {
    std::promise<std::shared_ptr<Connection>> opened;
    ConnectOptions opts;
    opts.plaintext = true;
    opts.timeout = 10s;
    Connection::open(server.address(), opts,
                     [&](std::shared_ptr<Connection> c, std::string) { opened.set_value(std::move(c)); });
    auto conn = opened.get_future().get();
    ASSERT_TRUE(conn);
    std::promise<int> done;
    auto body = protos.encode(echo->input_type(), R"({"text":"x","delayMs":50})");
    auto call = conn->unary(method_path(echo), body, {}, 10s, [&](CallResult r) { done.set_value(r.code); });
    call.reset();
    conn.reset();  // the call in flight now holds the only reference
    auto result = done.get_future();
    ASSERT_EQ(result.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(result.get(), 0);
  }
  // A crash shows up on the next use of gRPC's threads: one more round trip.
  std::promise<std::shared_ptr<Connection>> last;
  ConnectOptions opts;
  opts.plaintext = true;
  Connection::open(server.address(), opts, [&](std::shared_ptr<Connection> c, std::string) { last.set_value(c); });
  EXPECT_TRUE(last.get_future().get());
}

TEST(GrpcInProcess, ProtosLoadOnManyThreadsAtOnce) {
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::atomic<int> ok{0};
  for (int i = 0; i < kThreads; i++)
    threads.emplace_back([&] {
      Protos p;
      auto methods = p.load({}, {"grpc_demo.proto"}, std::string(HERD_SOURCE_DIR) + "/src/target");
      if (methods.size() == 4 && p.find("/herd.demo.Demo/Chat")) ok++;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads);
}

}  // namespace
}  // namespace herd::rpc
