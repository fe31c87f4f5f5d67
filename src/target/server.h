#pragma once
// herd's own loopback target: a small, fast HTTP/1.1 server for examples,
// tests and benchmarks (`herd target`). Keep-alive, epoll, one event loop per
// thread. It refuses to bind anything but loopback addresses.
//
// Routes (documented in docs/target.md):
//   GET  /                      200 "ok"
//   ANY  /echo                  echoes method, path, query, headers and body as JSON
//   GET  /status/{code}         that status
//   GET  /delay/{ms}            200 after ms milliseconds (timer, not a blocked thread)
//   GET  /bytes/{n}             n bytes of body
//   GET  /json                  a fixed JSON document
//   GET  /redirect/{n}          302 chain of n hops ending at /
//   GET  /cookies               the request's cookies as JSON {"cookies":{..}}
//   GET  /cookies/set?k=v&...   sets cookies, then returns them as JSON
//   GET  /basic-auth/{u}/{p}    200 if Authorization matches, else 401
//   GET  /headers               request headers as JSON
//   ANY  /counter/{name}/inc    increments a named counter; /counter/{name} reads it
//   GET  /close                 closes the connection without answering
//   GET  /ws                    WebSocket echo (RFC 6455 upgrade; target/ws_route.h)
//   /login /account /links      HTML pages for form and link flows (target/html_pages.h)
//   GET  /gzip /deflate /br /zstd, /encoded, ANY /decode, GET /digest-auth/auth/{u}/{p}:
//                               content codings and digest auth (target/semantics_routes.h)

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace herd::target {

struct ServerOptions {
  std::string host = "127.0.0.1";  ///< must be a loopback address
  std::uint16_t port = 0;          ///< 0 = pick a free port
  int threads = 1;
};

class Server {
 public:
  explicit Server(ServerOptions opts);  ///< binds; throws std::runtime_error on failure
  ~Server();                            ///< stops and joins
  void start();                         ///< starts the worker threads; returns at once
  void stop();
  std::uint16_t port() const;
  std::string base_url() const;  ///< e.g. "http://127.0.0.1:41234"
  std::uint64_t requests_served() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// `herd target [--listen HOST:PORT] [--threads N]`: runs until SIGINT/SIGTERM.
/// Prints "listening on http://HOST:PORT" on stdout once bound. Returns the exit code.
int target_main(int argc, char** argv);

}  // namespace herd::target
