#pragma once
// The client side of the RFC 6455 opening handshake: the Upgrade request, and
// the checks of the server's answer (status 101, Upgrade, Connection,
// Sec-WebSocket-Accept, the chosen subprotocol and extensions).

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ws/deflate.h"

namespace herd::ws {

/// A random 16-byte nonce, base64 (the Sec-WebSocket-Key).
std::string make_key();
/// base64(SHA-1(key + the RFC's GUID)): what the server must answer.
std::string accept_for(std::string_view key);

struct UpgradeRequest {
  std::string host_header;  ///< host[:port]
  std::string target;       ///< path and query, "/" at least
  std::string key;          ///< Sec-WebSocket-Key
  std::vector<std::string> protocols;
  std::vector<std::pair<std::string, std::string>> headers;  ///< the script's own (User-Agent, Cookie, ...)
  bool deflate = false;                                      ///< offer permessage-deflate (kDeflateOffer)
};
/// The request bytes. Throws std::invalid_argument for a header name or value
/// with CR/LF or a NUL, or a header the handshake itself sets.
std::string build_request(const UpgradeRequest& r);

/// The server's answer head.
struct ResponseHead {
  int status = 0;
  std::string status_text;
  std::vector<std::pair<std::string, std::string>> headers;  ///< as sent (names as written)
  /// First value of header `name` (case-insensitive), or "".
  std::string get(std::string_view name) const;
};

/// Parses a response head from `buf`. Returns the bytes it used (after the
/// blank line), 0 when it needs more, or throws std::runtime_error for a
/// malformed head or one over `max_bytes`.
std::size_t parse_response_head(std::string_view buf, ResponseHead* out, std::size_t max_bytes = 1u << 20);

/// Checks a 101 answer against the request: "" when it is a valid upgrade,
/// else the reason (k6-like: "websocket: bad handshake" plus what was wrong).
/// `protocol` gets the chosen subprotocol; `deflate` (when deflate was offered)
/// is true when the server accepted permessage-deflate, with its parameters in `params`.
std::string check_upgrade(const ResponseHead& h, const UpgradeRequest& r, std::string* protocol,
                          bool* deflate = nullptr, DeflateParams* params = nullptr);

}  // namespace herd::ws
