#include "target/ws_route.h"

#include <vector>

#include "ws/handshake.h"

namespace herd::target {

std::string ws_upgrade_response(const Request& r, std::string* error) {
  std::string_view key = r.header("Sec-WebSocket-Key");
  if (r.method != "GET" || !has_token(r.header("Upgrade"), "websocket") ||
      !has_token(r.header("Connection"), "upgrade") || key.empty()) {
    *error = "not a WebSocket upgrade request\n";
    return "";
  }
  if (r.header("Sec-WebSocket-Version") != "13") {
    *error = "Sec-WebSocket-Version must be 13\n";
    return "";
  }
  std::string out =
      "HTTP/1.1 101 Switching Protocols\r\nServer: herd-target\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      ws::accept_for(key) + "\r\n";
  // Subprotocols: the first one offered, so scripts can test their negotiation.
  std::string_view protos = r.header("Sec-WebSocket-Protocol");
  if (!protos.empty()) {
    std::string_view first = trim_ows(protos.substr(0, protos.find(',')));
    if (!first.empty()) out += "Sec-WebSocket-Protocol: " + std::string(first) + "\r\n";
  }
  out += "\r\n";
  return out;
}

bool WsEcho::feed(std::string_view in, std::string* out) {
  std::vector<ws::Event> events;
  bool ok = decoder_.feed(in, &events);
  for (auto& e : events) {
    switch (e.kind) {
      case ws::Event::Kind::kText:
        ws::append_frame(out, ws::Opcode::kText, e.data, true, nullptr);
        break;
      case ws::Event::Kind::kBinary:
        ws::append_frame(out, ws::Opcode::kBinary, e.data, true, nullptr);
        break;
      case ws::Event::Kind::kPing:
        ws::append_frame(out, ws::Opcode::kPong, e.data, true, nullptr);
        break;
      case ws::Event::Kind::kPong:
        break;
      case ws::Event::Kind::kClose:
        ws::append_frame(out, ws::Opcode::kClose,
                         ws::close_payload(e.close_code == ws::kCloseNoStatus ? 0 : e.close_code, ""), true, nullptr);
        return false;
    }
  }
  if (!ok) {
    ws::append_frame(out, ws::Opcode::kClose, ws::close_payload(decoder_.close_code(), ""), true, nullptr);
    return false;
  }
  return true;
}

}  // namespace herd::target
