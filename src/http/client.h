#pragma once
// An asynchronous HTTP client for one worker thread. Plain http:// to an IP
// literal or localhost goes through herd's own HTTP/1.1 client (h1.h: a few
// syscalls per request); everything else through libcurl's multi interface
// driven by curl_multi_socket_action from the worker's EventLoop
// (docs/http-client.md).
// One exchange per call (no redirect following: the k6 layer follows
// redirects so that each hop is a sample, as k6 does). Keep-alive connections
// are pooled per Request::conn_group and reused. Easy handles are pooled and
// reused too, so idle virtual users hold none.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "http/content_coding.h"
#include "http/netopts.h"
#include "http/tls_names.h"
#include "loop/event_loop.h"

namespace herd::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

/// Response header bytes (status line, header lines and any interim 1xx
/// responses, as received) past which a request fails with error_code 1000 and
/// header_limit_message(): Go's http.Transport default MaxResponseHeaderBytes.
inline constexpr std::size_t kMaxResponseHeaderBytes = std::size_t{1} << 20;
/// The error_code of a request that hit a size limit or was cancelled: k6's
/// generic 1000 (k6 has no specific code for these).
inline constexpr int kLimitErrorCode = 1000;
inline constexpr int kCanceledErrorCode = 1000;
inline constexpr const char* kCanceledMessage = "request canceled";
/// libcurl 7.88's own compile-time limits, stricter than kMaxResponseHeaderBytes
/// and not adjustable: a response through libcurl (https, HTTP/2, host names,
/// proxies) fails at 300 KiB of headers or a 100 KiB header line, with
/// error_code 1000 and header_limit_message(that limit).
inline constexpr std::size_t kCurlMaxHeaderBytes = 300 * 1024;
inline constexpr std::size_t kCurlMaxHeaderLine = 100 * 1024;
std::string header_limit_message(std::size_t limit = kMaxResponseHeaderBytes);
std::string body_limit_message(std::size_t limit);

struct Request {
  std::string method = "GET";
  std::string url;  ///< absolute http:// or https:// URL
  Headers headers;  ///< sent as given (plus Host, Content-Length)
  std::string body;
  std::chrono::milliseconds timeout{60000};
  std::string basic_user;  ///< basic auth when non-empty
  std::string basic_password;
  bool keep_body = true;  ///< false: the body is read and counted but not stored (nor decoded)
  /// With keep_body: body bytes (as received, before decoding) past which the
  /// request fails (error_code 1000, body_limit_message). Without: no limit, the
  /// bytes are dropped as they arrive.
  std::size_t max_body = kDefaultMaxResponseBody;
  /// A body with a Content-Encoding herd knows (gzip, deflate, br, zstd; see
  /// content_coding.h) is decoded; past this many decoded bytes it fails (1701).
  std::size_t max_decoded_body = kDefaultMaxDecodedBody;
  bool insecure_skip_tls_verify = false;
  /// Keep-alive connections are pooled per group: the k6 layer passes the VU,
  /// so each VU keeps its own connections (the built-in client keys its pools by
  /// it; libcurl gets a share handle per group). 0: one pool for the worker.
  std::uint64_t conn_group = 0;
  /// Source address to connect from (k6's localIPs); "" = the system's choice.
  std::string local_ip;
  /// A new connection that is closed after the exchange (k6's noConnectionReuse).
  bool fresh_connection = false;
  /// Borrowed instead of copied (the k6 layer sends its request's headers and
  /// body on every hop of a request): non-null, they are sent before `headers`
  /// and instead of `body` (which stays empty). The caller keeps them alive and
  /// unchanged until the callback has run. Client::start copies them in (own())
  /// for libcurl; the built-in client reads them where they are.
  const Headers* shared_headers = nullptr;
  const std::string* shared_body = nullptr;

  /// The body to send: *shared_body or body.
  const std::string& body_ref() const { return shared_body ? *shared_body : body; }
  /// Calls fn(name, value) for shared_headers, then headers.
  template <typename Fn>
  void for_each_header(Fn&& fn) const {
    if (shared_headers)
      for (const auto& [k, v] : *shared_headers) fn(k, v);
    for (const auto& [k, v] : headers) fn(k, v);
  }
  /// Copies shared_headers and shared_body in (then null): the request owns everything.
  void own() {
    if (shared_headers) headers.insert(headers.begin(), shared_headers->begin(), shared_headers->end());
    if (shared_body) body = *shared_body;
    shared_headers = nullptr;
    shared_body = nullptr;
  }
};

/// k6's request timings, milliseconds.
struct Timings {
  double blocked = 0;
  double connecting = 0;
  double tls_handshaking = 0;
  double sending = 0;
  double waiting = 0;
  double receiving = 0;
  double duration = 0;  ///< sending + waiting + receiving
};

struct Response {
  int status = 0;           ///< 0 when no response was received
  std::string proto;        ///< "HTTP/1.1", "HTTP/2.0"; "" on error
  std::string status_text;  ///< "200 OK" (k6's status_text); "" on error
  Headers headers;          ///< as received, in order (names as sent by the server)
  std::string body;         ///< decoded when the server sent a known Content-Encoding
  std::string url;          ///< the URL requested
  std::string remote_ip;
  int remote_port = 0;
  std::string tls_version;       ///< "tls1.3" (k6's http.TLS_1_3); "" without TLS
  std::string tls_cipher_suite;  ///< IANA name, e.g. "TLS_AES_128_GCM_SHA256"; "" without TLS
  /// The stapled OCSP response (TLS only); null without TLS. Behind a pointer so a
  /// plain-http Response stays small (it lives in every in-flight request).
  std::shared_ptr<const OcspInfo> ocsp;
  std::string error;   ///< "" on success; k6-style message otherwise
  int error_code = 0;  ///< k6's error codes (1000-1999); 0 on success; as in k6, a
                       ///< response with status >= 400 gets 1000 + status (error stays "");
                       ///< a body that fails to decode keeps its status and gets 1701
  Timings timings;
  std::uint64_t bytes_sent = 0;      ///< request bytes on the wire (headers + body)
  std::uint64_t bytes_received = 0;  ///< response bytes on the wire (headers + body)
};

/// Go's Request.isReplayable (a body in memory is always rewindable): GET, HEAD,
/// OPTIONS, TRACE, or any method with an Idempotency-Key or X-Idempotency-Key
/// header. Only these are resent after a reused connection died once any of
/// the request was written (both transports).
bool replayable(const Request& r);

/// Maps a libcurl result to k6's error code and message (e.g. connection
/// refused -> 1212, timeout -> 1050, DNS failure -> 1101).
std::pair<int, std::string> k6_error_from_curl(int curl_code, const std::string& detail);

struct ClientOptions {
  /// Plain http:// to an IP literal or localhost goes through herd's own HTTP/1.1 client
  /// (src/http/h1.h); false sends everything through libcurl. The environment
  /// variable HERD_HTTP_CLIENT=curl turns it off too (for comparisons).
  bool builtin_http1 = true;
  /// k6's network options (hosts, blockHostnames, blacklistIPs, dns, TLS,
  /// noConnectionReuse), applied to every request; null = none.
  std::shared_ptr<const NetConfig> net;
};

namespace detail {
/// Whether a Client may use the built-in HTTP/1.1 client: options.builtin_http1,
/// HERD_HTTP_CLIENT not "curl", and no proxy in the environment (libcurl speaks
/// to proxies).
bool builtin_allowed(const ClientOptions& options);
}  // namespace detail

class Client {
 public:
  explicit Client(loop::EventLoop& loop, ClientOptions options = {});
  ~Client();  ///< aborts in-flight requests without calling their callbacks
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  using Callback = std::function<void(Response&&)>;
  /// Starts a request; `done` runs later on the loop thread, exactly once
  /// (also on error, with status 0 and error/error_code set). Never throws for
  /// network errors.
  void start(Request&& req, Callback done);
  std::size_t in_flight() const;
  /// Connections held by the built-in HTTP/1.1 client (idle or busy).
  std::size_t builtin_connections() const;
  /// Closes the idle keep-alive connections of `conn_group` in both transports
  /// (k6's noVUConnectionReuse, between a VU's iterations). Busy ones finish
  /// their exchange and are then not reused.
  void close_idle(std::uint64_t conn_group);
  /// Cancels every request of `conn_group` in flight in both transports: each
  /// callback runs before this returns, with status 0, error_code
  /// kCanceledErrorCode and error kCanceledMessage, and its connection is
  /// closed. Requests started by those callbacks are not cancelled; requests
  /// whose error callback is already queued complete with that error on the
  /// next loop iteration. Returns how many were cancelled. Loop thread only
  /// (from another thread, post() it to the loop); it may be called from a
  /// response callback (or a VU fiber resumed inside one).
  std::size_t cancel(std::uint64_t conn_group);
  /// Replaces ClientOptions::net for requests started from now on (the engine
  /// learns the options after its first worker exists). Loop thread only.
  void set_net(std::shared_ptr<const NetConfig> net);

 private:
  struct Impl;
  /// start() with hosts/blockHostnames/blacklistIPs set (out of line: see client.cc).
  [[gnu::noinline]] void start_routed(Request&& req, Callback&& done, loop::Clock::time_point started);
  std::unique_ptr<Impl> impl_;
};

}  // namespace herd::http
