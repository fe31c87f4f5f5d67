#pragma once
// herd's own HTTP/1.1 client for plain http:// to an IP literal: the hot path
// of a load test. It does what a load generator needs per request and nothing
// else: one writev() and one read() per exchange on a kept-alive connection,
// the response parsed by llhttp, no per-request epoll changes and no liveness
// poll() (an idle connection stays registered for input, so a peer's close is
// seen as it happens). Everything else (https, HTTP/2, host names, proxies,
// unusual headers) goes through libcurl; Client decides (see fast_url() in
// http/h1_url.h).
//
// Connections are pooled per (group, address): the k6 layer passes the VU as
// the group, so each VU keeps its own keep-alive connections, as in k6.
//
// Files: h1_url (which requests it takes), h1_exchange (an exchange's state
// and the llhttp callbacks that parse its response), h1.cc (the connection
// pool and the exchange state machine).

#include <cstdint>
#include <memory>
#include <string>

#include "http/client.h"
#include "http/h1_url.h"
#include "loop/event_loop.h"

namespace herd::http::detail {

class H1Client {
 public:
  explicit H1Client(loop::EventLoop& loop);
  ~H1Client();  ///< closes every connection; callbacks of requests in flight are not called
  H1Client(const H1Client&) = delete;
  H1Client& operator=(const H1Client&) = delete;

  /// As Client::start. `started` is when the caller got the request (the
  /// start of `blocked`).
  /// `url` is shared, not copied per request (the client keeps the last one parsed).
  void start(Request&& req, std::shared_ptr<const FastUrl> url, loop::Clock::time_point started, Client::Callback done);
  std::size_t in_flight() const;
  std::size_t open_connections() const;
  /// Closes the idle connections of `conn_group`.
  void close_idle(std::uint64_t conn_group);
  /// As Client::cancel for this transport's requests.
  std::size_t cancel(std::uint64_t conn_group);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herd::http::detail
