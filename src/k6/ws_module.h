#pragma once
// k6's WebSocket modules over herd's own RFC 6455 client (ws/client.h):
// "k6/ws" (ws.connect, blocking the iteration until the socket closes) and
// "k6/websockets" = "k6/experimental/websockets" (the event-based WebSocket
// class on the VU's event loop). Both are JavaScript over the native "herd:ws".

#include <quickjs.h>

#include <map>
#include <string>

namespace herd::k6 {

struct VuState;

/// The native "herd:ws" module (open, send, ping, close, handshake, wait, utf8, text).
JSModuleDef* ws_native_module(JSContext* ctx, const char* name);
/// Closes the VU's sockets and forgets them (the VU is going; k6/natives.cc).
void release_ws_state(const VuState* vu);
/// JS sources of "k6/ws", "k6/websockets" and "k6/experimental/websockets".
std::map<std::string, std::string> ws_module_sources();

}  // namespace herd::k6
