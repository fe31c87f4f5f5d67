#pragma once
// Internal to the built-in HTTP/1.1 client (http/h1.cc): the state of one
// request/response exchange, the connection it runs on, and the llhttp
// callbacks that fill the exchange's Response as its bytes arrive
// (http/h1_exchange.cc).

#include <llhttp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "http/client.h"
#include "http/content_coding.h"
#include "http/h1_url.h"
#include "loop/event_loop.h"

namespace herd::http::detail {

using loop::Clock;

struct Conn;

/// A connection pool's key: the group (the VU) and the address as given.
struct PoolKey {
  std::uint64_t group = 0;
  std::uint16_t family = 0;              // AF_INET or AF_INET6
  std::uint16_t port = 0;                // network order
  std::array<unsigned char, 16> addr{};  // IPv4: the first 4 bytes
  bool operator==(const PoolKey&) const = default;
};

struct PoolKeyHash {
  std::size_t operator()(const PoolKey& k) const {
    std::uint64_t a = 0, b = 0;
    std::memcpy(&a, k.addr.data(), 8);
    std::memcpy(&b, k.addr.data() + 8, 8);
    std::uint64_t h = k.group * 0x9E3779B97F4A7C15ULL;
    h ^= (a + (std::uint64_t{k.port} << 16 | k.family)) * 0xC2B2AE3D27D4EB4FULL;
    h ^= b * 0x165667B19E3779F9ULL;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};

/// A size limit a response ran into (the parser callbacks stop it).
enum class Overflow : std::uint8_t { kNone, kHeaders, kBody };

/// One request and its response: owned by H1Client::Impl from start() until
/// its callback runs; on a connection (`conn`) while it is being sent or read.
struct Exchange {
  Exchange() = default;
  explicit Exchange(Request&& r) : req(std::move(r)) {}

  Request req;
  std::shared_ptr<const FastUrl> url;  // never null once started; copied on write (localhost's [::1] fallback)
  Client::Callback done;
  Response resp;
  Clock::time_point started{}, deadline = Clock::time_point::max();
  Clock::time_point connect_start{}, write_start{}, write_done{}, first_byte{};
  double connecting_ms = 0;
  std::string head;         // serialized request line and headers
  std::size_t written = 0;  // bytes of head + body written
  Conn* conn = nullptr;
  bool retried = false;
  bool is_head = false;
  bool got_bytes = false;  // any response byte on the current connection
  bool complete = false;
  bool keep_alive = false;
  bool failing = false;                     // an error callback is queued (later())
  bool queued = false;                      // waiting in H1Client::Impl::pending for the next flush
  bool headers_done = false;                // the final header block is parsed
  bool cancel_mark = false;                 // H1Client::cancel() fails it
  bool expired_mark = false;                // the timeout sweep fails it
  Overflow overflow = Overflow::kNone;      // set by a parser callback that refused the response
  std::size_t header_bytes = 0;             // header bytes parsed (kMaxResponseHeaderBytes)
  std::size_t body_bytes = 0;               // body bytes kept (req.max_body)
  PoolKey key;                              // from the URL as given (a localhost fallback keeps it)
  std::string field, value;                 // header being parsed
  std::string reason;                       // the status line's phrase
  std::unique_ptr<ContentDecoder> decoder;  // set when the response has a Content-Encoding to undo
  Exchange* prev = nullptr;                 // in-flight list
  Exchange* next = nullptr;

  std::size_t total() const { return head.size() + req.body_ref().size(); }
};

/// A TCP connection: connecting, busy with `ex`, or idle in its pool (`ex` null).
struct Conn {
  int fd = -1;
  PoolKey key;
  Exchange* ex = nullptr;
  bool connecting = false;
  bool want_out = false;
  bool retired = false;       // close_idle() while busy: closed after its exchange
  bool parser_ready = false;  // `parser` is initialized for the current exchange (h1.cc: parser())
  llhttp_t parser{};
};

/// llhttp settings for a response parser whose `data` is the Exchange it
/// fills: status phrase, header list, body (decoded per Content-Encoding when
/// kept), and at the end of the message status, proto and keep-alive; the
/// parser pauses there (HPE_PAUSED).
extern const llhttp_settings_t kParserSettings;

}  // namespace herd::http::detail
