#pragma once
// A WebSocket client connection on a loop::EventLoop: TCP connect, the
// HTTP/1.1 upgrade (ws/handshake.h), then RFC 6455 frames (ws/frame.h). All on
// the loop's thread, no thread or blocking call of its own: host names resolve
// with the loop's c-ares channel (ws/resolver.h). wss:// runs TLS (ws/tls.h)
// over the same non-blocking socket.
//
// Lifetime: owned by a shared_ptr; callbacks may drop the last outside
// reference (the session keeps itself alive while it runs a callback).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "loop/event_loop.h"
#include "ws/deflate.h"
#include "ws/frame.h"
#include "ws/resolver.h"
#include "ws/tls.h"

namespace herd::ws {

/// ws://host[:port]/path?query or wss://..., split.
struct WsUrl {
  bool tls = false;
  std::string host;  ///< without brackets
  int port = 80;
  std::string host_header;
  std::string target;
};
/// Throws std::invalid_argument with a k6-like message for a URL that is not ws:// or wss://.
WsUrl parse_url(const std::string& url);

struct SessionOptions {
  std::string url;
  std::vector<std::string> protocols;
  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t max_message = 64u << 20;
  std::chrono::milliseconds handshake_timeout{60000};
  std::chrono::milliseconds close_timeout{3000};  ///< waiting for the server's close frame after ours
  TlsOptions tls;                                 ///< wss:// only
  bool deflate = false;                           ///< offer permessage-deflate (k6's compression: 'deflate')
  /// k6's `hosts`: connect to this IP literal (and port, when not 0) instead of
  /// resolving the URL's host. The Host header, SNI and certificate check keep the URL's name.
  std::string connect_ip;
  int connect_port = 0;
  /// When not "", the session fails with this error before any traffic (blockHostnames, blacklistIPs).
  std::string refuse;
  /// k6's dns option for names the session resolves (not IP literals, localhost or `hosts` entries).
  DnsPolicy dns_policy = DnsPolicy::kPreferIPv4;
  long dns_ttl_seconds = 300;  ///< 0: no caching, -1: forever
  /// Checks the address a name resolved to (blacklistIPs): "" or the error the session fails with.
  std::function<std::string(const std::string& ip)> vet_ip;
};

/// How the opening handshake ended.
struct HandshakeResult {
  std::string error;  ///< "" on success
  int status = 0;
  std::string status_text;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string protocol;      ///< the subprotocol the server chose
  bool deflate = false;      ///< permessage-deflate was negotiated
  double connecting_ms = 0;  ///< from the start to the end of the handshake
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  struct Callbacks {
    /// Always called once. On failure nothing else follows.
    std::function<void(const HandshakeResult&)> on_handshake;
    /// Text, binary, ping (already answered with a pong) and pong. Not close.
    std::function<void(Event&&)> on_event;
    /// An error after the handshake (protocol violation, reset, EOF); on_closed follows.
    std::function<void(const std::string&)> on_error;
    /// Once, at the end of an opened session: the close code and reason
    /// (1006 when the connection dropped without a close frame).
    std::function<void(int, const std::string&)> on_closed;
  };

  /// Starts connecting on `loop` (the callbacks run later, on the loop).
  static std::shared_ptr<Session> start(loop::EventLoop& loop, SessionOptions opts, Callbacks cb);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  bool open() const;  ///< handshake done, no close sent or received
  /// Sends a message or a ping/pong (false when not open).
  bool send(Opcode op, std::string_view payload);
  /// Starts the closing handshake (a no-op unless open).
  void close(int code, std::string_view reason);
  /// Closes the connection now: a best-effort close frame (none when `code` is 0), no callbacks any more.
  void abort(int code);

  std::uint64_t bytes_sent() const { return bytes_sent_; }
  std::uint64_t bytes_received() const { return bytes_received_; }

 private:
  Session(loop::EventLoop& loop, SessionOptions opts, Callbacks cb);
  void begin();
  void on_resolved(const std::string& name, LookupResult r, int port);
  void connect_to(const sockaddr_storage& addr, socklen_t len, const std::string& ip, int port);
  void on_io(std::uint32_t ev);
  void on_connected();
  void on_readable();
  void handle_bytes(std::string_view data);
  void flush();
  void finish(int code, const std::string& reason);
  void fail_handshake(std::string error);
  void fail_open(const std::string& error, int code_to_send);
  void close_fd();
  void mask_frame(Opcode op, std::string_view payload);
  void tls_step();
  void update_interest();
  /// Plain or TLS I/O: > 0 bytes, 0 = EOF, -1 = would block, -2 = error (`why` says what).
  long io_send(const char* p, std::size_t n, std::string* why);
  long io_recv(char* p, std::size_t n, std::string* why);

  enum class State { kConnecting, kTls, kHandshaking, kOpen, kClosing, kDone };
  loop::EventLoop& loop_;
  SessionOptions opts_;
  Callbacks cb_;
  State state_ = State::kConnecting;
  int fd_ = -1;
  std::string dial_;  ///< "dial tcp 127.0.0.1:80: " for error messages
  std::string host_;  ///< the URL's host (SNI, certificate check)
  std::shared_ptr<SSL_CTX> ctx_;
  SslPtr ssl_;
  bool tls_wants_out_ = false;         ///< the TLS handshake or a read waits for the socket to be writable
  bool tls_write_wants_read_ = false;  ///< a TLS write waits for the socket to be readable

  std::string out_;
  std::size_t out_pos_ = 0;
  bool want_out_ = false;
  std::string in_;  ///< handshake bytes
  std::string key_;
  std::vector<std::string> offered_;
  Decoder decoder_;
  std::unique_ptr<Deflater> deflater_;  ///< set when permessage-deflate was negotiated
  std::unique_ptr<Inflater> inflater_;
  loop::TimerId timer_ = 0;
  std::shared_ptr<void> lookup_;  ///< the name lookup in flight (dropping it cancels it)
  loop::Clock::time_point started_;
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t bytes_received_ = 0;
  bool close_after_flush_ = false;
  int closing_code_ = 0;
  std::string closing_reason_;
};

}  // namespace herd::ws
