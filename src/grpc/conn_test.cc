// src/grpc in process, without the herd binary (so a TSan build can run it):
// the demo service on a loopback port, and several "VU" threads, each with its
// own event loop, Protos and Connection, making unary and streaming calls at
// once. Every completion arrives on a gRPC thread and is posted to the caller's
// loop, where all state is touched, as src/k6/grpc_module.cc does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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

TEST(GrpcMetadata, WhatGrpcWouldAbortOnIsNamed) {
  EXPECT_EQ(metadata_error({{"x-a", "printable value ~"}, {"k.0_-", ""}, {"x-bin", std::string("\0\n\xff", 3)}}), "");
  EXPECT_THAT(metadata_error({{"X-A", "v"}}), ::testing::HasSubstr("invalid metadata key \"X-A\""));
  EXPECT_THAT(metadata_error({{"", "v"}}), ::testing::HasSubstr("invalid metadata key \"\""));
  EXPECT_THAT(metadata_error({{"a\nb", "v"}}), ::testing::HasSubstr("invalid metadata key \"a\\x0ab\""));
  EXPECT_THAT(metadata_error({{"x", "a\tb"}}), ::testing::HasSubstr("invalid value for metadata key \"x\""));
  EXPECT_THAT(metadata_error({{"x", "\x7f"}}), ::testing::HasSubstr("printable ASCII"));
  EXPECT_THAT(metadata_error({{"-bin", "\n"}}), ::testing::HasSubstr("\"-bin\""));  // a key that is only the suffix
}

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

/// A loopback TCP listener that is no gRPC server: it closes every connection
/// it accepts (a peer that went away between connect and HTTP/2's preface).
class ClosingListener {
 public:
  ClosingListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("ClosingListener: cannot listen on 127.0.0.1");
    port_ = ntohs(a.sin_port);
  }
  ~ClosingListener() { close(); }
  ClosingListener(const ClosingListener&) = delete;
  ClosingListener& operator=(const ClosingListener&) = delete;
  int port() const { return port_; }
  /// Accepts one connection and closes it; false when none came in `wait`.
  bool close_one(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) return false;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return false;
    ::close(c);
    return true;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1, port_ = 0;
};

struct Opened {
  std::shared_ptr<Connection> conn;
  std::string error;
};

std::future<Opened> open_plaintext(const std::string& addr, std::chrono::milliseconds timeout) {
  auto p = std::make_shared<std::promise<Opened>>();
  ConnectOptions opts;
  opts.plaintext = true;
  opts.timeout = timeout;
  Connection::open(addr, opts, [p](std::shared_ptr<Connection> c, std::string err) {
    p->set_value(Opened{std::move(c), std::move(err)});
  });
  return p->get_future();
}

// A failed attempt that is not a refusal (here the peer closes the connection
// before HTTP/2 starts; on a loopback gRPC 1.51 sometimes fails a fresh attempt
// with a stray "UNKNOWN: ... No such file or directory") is retried by gRPC's
// backoff (~1 s) until the connect timeout, as k6 retries a temporary dial error.
TEST(GrpcInProcess, AFailedAttemptIsRetriedUntilTheConnectTimeout) {
  ClosingListener listener;
  const int port = listener.port();
  std::unique_ptr<target::GrpcDemoServer> server;
  std::thread serve([&] {
    // The first attempt meets a closed connection; the real server takes the
    // port before gRPC's next attempt.
    if (listener.close_one(10s)) {
      listener.close();
      server = std::make_unique<target::GrpcDemoServer>("127.0.0.1:" + std::to_string(port));
    }
  });
  auto opened = open_plaintext("127.0.0.1:" + std::to_string(port), 20s);
  ASSERT_EQ(opened.wait_for(30s), std::future_status::ready);
  serve.join();
  ASSERT_TRUE(server) << "the client never connected";
  auto r = opened.get();
  EXPECT_TRUE(r.conn) << r.error;
  EXPECT_EQ(r.error, "");
}

// A peer that never gets to HTTP/2 fails connect at the timeout (not a hang),
// with k6's wording and the last attempt's reason.
TEST(GrpcInProcess, APeerThatAlwaysFailsFailsConnectAtTheTimeout) {
  ClosingListener listener;
  std::atomic<bool> stop{false};
  std::thread closer([&] {
    while (!stop) listener.close_one(50ms);
  });
  auto opened = open_plaintext("127.0.0.1:" + std::to_string(listener.port()), 2s);
  auto status = opened.wait_for(30s);
  stop = true;
  closer.join();
  ASSERT_EQ(status, std::future_status::ready);
  auto r = opened.get();
  EXPECT_FALSE(r.conn);
  EXPECT_NE(
      r.error.find("failed to connect to 127.0.0.1:" + std::to_string(listener.port()) + ": context deadline exceeded"),
      std::string::npos)
      << r.error;
}

// A refused dial is no temporary error: connect fails at once (k6: grpc-go's
// FailOnNonTempDialError), long before its timeout.
TEST(GrpcInProcess, ARefusedConnectFailsAtOnce) {
  int port = 0;
  {
    ClosingListener gone;
    port = gone.port();
  }
  auto opened = open_plaintext("127.0.0.1:" + std::to_string(port), 60s);
  ASSERT_EQ(opened.wait_for(20s), std::future_status::ready);
  auto r = opened.get();
  EXPECT_FALSE(r.conn);
  EXPECT_NE(r.error.find("Connection refused"), std::string::npos) << r.error;
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
