// libFuzzer target: the WebSocket frame decoder (ws/frame.h) and the handshake
// answer parser (ws/handshake.h). Input byte 0 picks the decoder's side
// (masked or not) and a small message limit; the rest is fed whole and in
// pieces whose sizes come from the input, and both feeds must agree (same
// events, same verdict). Every text event must be valid UTF-8, every close
// code one the RFC allows, and a re-encoded event must decode to itself.
// Input bit 2 turns permessage-deflate on: compressed messages are inflated
// (ws/deflate.h) under a 64 KiB limit, which the output must never pass.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "ws/deflate.h"
#include "ws/frame.h"
#include "ws/handshake.h"

namespace {

using herd::ws::Decoder;
using herd::ws::Event;

bool same(const std::vector<Event>& a, const std::vector<Event>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].kind != b[i].kind || a[i].data != b[i].data || a[i].close_code != b[i].close_code) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t flags = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  Decoder::Limits lim{(flags & 2) ? std::size_t{64} : std::size_t{1} << 20, (flags & 1) != 0, (flags & 4) != 0};
  Decoder whole(lim), pieces(lim);
  std::vector<Event> ew, ep;
  bool okw = whole.feed(in, &ew);
  bool okp = true;
  std::size_t i = 0, step = 1 + (flags >> 4);
  while (i < in.size() && okp) {
    std::size_t n = std::min(step, in.size() - i);
    okp = pieces.feed(in.substr(i, n), &ep);
    i += n;
    step = step * 3 % 17 + 1;
  }
  if (okw != okp || !same(ew, ep)) std::abort();
  if (!okw && (whole.close_code() == 0 || whole.error().empty())) std::abort();
  herd::ws::Inflater inflater((flags & 8) != 0, 64 * 1024);
  bool inflater_ok = true;
  for (const Event& e : ew) {
    if (e.compressed) {
      if (!(flags & 4)) std::abort();
      if (!inflater_ok) continue;
      std::string plain, err;
      int code = inflater.inflate(e.data, &plain, &err);
      if (plain.size() > 64 * 1024) std::abort();
      if (code != 0 && (err.empty() || (code != herd::ws::kCloseTooBig && code != herd::ws::kCloseInvalidData)))
        std::abort();
      inflater_ok = code == 0;
      continue;
    }
    if (e.kind == Event::Kind::kText && !herd::ws::valid_utf8(e.data)) std::abort();
    if (e.kind == Event::Kind::kClose && e.close_code != herd::ws::kCloseNoStatus &&
        !herd::ws::valid_close_code(e.close_code))
      std::abort();
    // Re-encode (a data message as one frame) and decode again.
    herd::ws::Opcode op = e.kind == Event::Kind::kText     ? herd::ws::Opcode::kText
                          : e.kind == Event::Kind::kBinary ? herd::ws::Opcode::kBinary
                          : e.kind == Event::Kind::kPing   ? herd::ws::Opcode::kPing
                          : e.kind == Event::Kind::kPong   ? herd::ws::Opcode::kPong
                                                           : herd::ws::Opcode::kClose;
    std::string payload =
        e.kind == Event::Kind::kClose
            ? herd::ws::close_payload(e.close_code == herd::ws::kCloseNoStatus ? 0 : e.close_code, e.data)
            : e.data;
    const std::uint8_t key[4] = {9, 8, 7, 6};
    std::string wire;
    herd::ws::append_frame(&wire, op, payload, true, lim.expect_masked ? key : nullptr);
    Decoder again(lim);
    std::vector<Event> back;
    if (!again.feed(wire, &back) || back.size() != 1 || back[0].data != e.data || back[0].kind != e.kind) std::abort();
  }
  // The same bytes as a handshake answer: must parse or throw, never crash.
  try {
    herd::ws::ResponseHead h;
    (void)herd::ws::parse_response_head(in, &h, 4096);
  } catch (const std::exception&) {
  }
  return 0;
}
