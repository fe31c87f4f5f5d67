#pragma once
// herd's own HTTP/1.1 client for plain http:// to an IP literal: the hot path
// of a load test. It does what a load generator needs per request and nothing
// else: one writev() and one read() per exchange on a kept-alive connection,
// the response parsed by llhttp, no per-request epoll changes and no liveness
// poll() (an idle connection stays registered for input, so a peer's close is
// seen as it happens). Everything else (https, HTTP/2, host names, proxies,
// unusual headers) goes through libcurl; Client decides (see fast_url()).
//
// Connections are pooled per (group, address): the k6 layer passes the VU as
// the group, so each VU keeps its own keep-alive connections, as in k6.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http/client.h"
#include "loop/event_loop.h"

namespace herd::http::detail {

/// An http:// URL that the built-in client can send as is.
struct FastUrl {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string ip;  ///< "127.0.0.1", "::1"
  int port = 80;
  std::string host_header;  ///< as libcurl sends it: the port only when not 80
  std::string target;       ///< origin-form request target: path and query, "/" at least
  bool localhost = false;   ///< host "localhost": 127.0.0.1, then [::1] if that refuses
};

/// Parses `url` when it is http://<IPv4 or [IPv6] literal, or localhost>[:port][/path][?query][#fragment]
/// with nothing that libcurl would rewrite (user info, dot segments, spaces,
/// control or non-ASCII bytes, backslashes). False means: let libcurl do it.
bool fast_url(std::string_view url, FastUrl* out);

/// True when the request's headers, method and options need nothing beyond
/// the built-in client (no Transfer-Encoding, Expect, Connection: upgrade, no
/// CR/LF in names or values).
bool fast_request(const Request& req);

class H1Client {
 public:
  explicit H1Client(loop::EventLoop& loop);
  ~H1Client();  ///< closes every connection; callbacks of requests in flight are not called
  H1Client(const H1Client&) = delete;
  H1Client& operator=(const H1Client&) = delete;

  /// As Client::start. `started` is when the caller got the request (the
  /// start of `blocked`).
  void start(Request req, FastUrl url, loop::Clock::time_point started, Client::Callback done);
  std::size_t in_flight() const;
  std::size_t open_connections() const;
  /// Closes the idle connections of `conn_group`.
  void close_idle(std::uint64_t conn_group);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herd::http::detail
