// `herd target`: command-line front end of the target server (server.h).
#include <pthread.h>
#include <signal.h>

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include "target/grpc_service.h"
#include "target/request_parser.h"
#include "target/server.h"
#include "util/signals.h"

namespace herd::target {

namespace {

void usage(std::FILE* f) {
  std::fprintf(f,
               "usage: herd target [--listen HOST:PORT] [--threads N]\n"
               "  Runs herd's loopback HTTP target server until SIGINT/SIGTERM.\n"
               "  --listen HOST:PORT   loopback address (default 127.0.0.1:8080; [::1]:PORT for IPv6)\n"
               "  --threads N          worker threads (default 1)\n"
               "  --grpc-listen HOST:PORT  also serve the demo gRPC service (herd.demo.Demo, plaintext,\n"
               "                       server reflection) there\n");
}

bool split_listen(const std::string& s, std::string& host, std::uint16_t& port) {
  std::size_t colon;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    host = s.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = s.rfind(':');
    if (colon == std::string::npos) return false;
    host = s.substr(0, colon);
  }
  if (host.empty()) host = "127.0.0.1";
  unsigned p = 0;
  if (!parse_int(std::string_view(s).substr(colon + 1), p) || p > 65535) return false;
  port = static_cast<std::uint16_t>(p);
  return true;
}

}  // namespace

int target_main(int argc, char** argv) {
  ServerOptions opts;
  std::string grpc_listen;
  opts.port = 8080;
  int i = 1;
  // accept both `herd target ...` (argv[1] == "target") and direct invocation
  if (argc > 1 && std::string_view(argv[1]) == "target") i = 2;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& flag) -> std::string {
      auto eq = a.find('=');
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "-h" || a == "--help") {
        usage(stdout);
        return 0;
      } else if (a == "--listen" || a.rfind("--listen=", 0) == 0 || a == "-l") {
        std::string v = value("--listen");
        if (!split_listen(v, opts.host, opts.port)) throw std::invalid_argument("bad --listen value '" + v + "'");
      } else if (a == "--grpc-listen" || a.rfind("--grpc-listen=", 0) == 0) {
        grpc_listen = value("--grpc-listen");
        std::string h;
        std::uint16_t p = 0;
        if (!split_listen(grpc_listen, h, p))
          throw std::invalid_argument("bad --grpc-listen value '" + grpc_listen + "'");
      } else if (a == "--threads" || a.rfind("--threads=", 0) == 0 || a == "-t") {
        std::string v = value("--threads");
        int n = 0;
        if (!parse_int(std::string_view(v), n) || n < 1 || n > 256)
          throw std::invalid_argument("bad --threads value '" + v + "'");
        opts.threads = n;
      } else {
        throw std::invalid_argument("unknown argument '" + a + "'");
      }
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "herd target: %s\n", e.what());
      usage(stderr);
      return 2;
    }
  }

  // Block the signals before any thread starts so that only the watcher sees them.
  sigset_t old;
  pthread_sigmask(SIG_SETMASK, nullptr, &old);  // query only: restored at the end
  util::block_stop_signals();
  int rc = 0;
  try {
    std::mutex mu;
    std::condition_variable cv;
    bool signalled = false;
    util::SignalWatcher signals([&](int, int) {
      {
        std::lock_guard<std::mutex> g(mu);
        signalled = true;
      }
      cv.notify_all();
    });
    Server server(opts);
    server.start();
    std::printf("listening on %s\n", server.base_url().c_str());
    std::unique_ptr<GrpcDemoServer> grpc;
    if (!grpc_listen.empty()) {
      grpc = std::make_unique<GrpcDemoServer>(grpc_listen);
      std::printf("gRPC listening on %s\n", grpc->address().c_str());
    }
    std::fflush(stdout);
    {
      std::unique_lock<std::mutex> lk(mu);
      cv.wait(lk, [&] { return signalled; });
    }
    if (grpc) grpc->shutdown();
    server.stop();
    std::fprintf(stderr, "herd target: stopped after %llu requests\n",
                 static_cast<unsigned long long>(server.requests_served()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    rc = 1;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return rc;
}
}  // namespace herd::target
