#pragma once
// The target's WebSocket echo route (GET /ws with an RFC 6455 upgrade): every
// text or binary message comes back as it came, pings get pongs, a close is
// answered and the connection closed. Frames through ws/frame.h.

#include <memory>
#include <string>
#include <string_view>

#include "target/request_parser.h"
#include "ws/frame.h"

namespace herd::target {

/// The 101 answer to a valid upgrade request, or "" with `*error` set (answer 400).
std::string ws_upgrade_response(const Request& r, std::string* error);

/// One upgraded connection's echo state.
class WsEcho {
 public:
  /// Decodes `in` and appends the replies to `out`. False when the connection
  /// must close once `out` is written (a close frame, or a protocol error).
  bool feed(std::string_view in, std::string* out);

 private:
  ws::Decoder decoder_{ws::Decoder::Limits{64u << 20, true}};
};

}  // namespace herd::target
