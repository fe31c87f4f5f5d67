// libFuzzer target: the built-in client's fast response parser
// (h1_fast_response.h) against llhttp with the client's own callbacks. Any
// bytes: it must never crash; a response it takes must be one whole message to
// llhttp too, and leave the exchange exactly as llhttp leaves it; one it
// declines must leave the exchange untouched. The first byte picks the request
// side: bit 0 a HEAD request, bit 1 the body not kept, bit 2 a 4-byte body limit.
#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "http/h1_exchange.h"
#include "http/h1_fast_response.h"

namespace {

using herd::http::detail::Exchange;

void setup(Exchange& e, std::uint8_t flags) {
  e.is_head = (flags & 1) != 0;
  if (flags & 2) e.req.keep_body = false;
  if (flags & 4) e.req.max_body = 4;
}

bool same(const Exchange& a, const Exchange& b) {
  return a.resp.status == b.resp.status && a.resp.proto == b.resp.proto && a.resp.status_text == b.resp.status_text &&
         a.reason == b.reason && a.resp.body == b.resp.body && a.resp.headers == b.resp.headers &&
         a.complete == b.complete && a.keep_alive == b.keep_alive && a.headers_done == b.headers_done &&
         !!a.decoder == !!b.decoder && a.body_bytes == b.body_bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const char* bytes = reinterpret_cast<const char*>(data + 1);
  const std::size_t len = size - 1;

  Exchange fast;
  setup(fast, flags);
  const Exchange untouched_reference = [&] {
    Exchange e;
    setup(e, flags);
    return e;
  }();
  if (!herd::http::detail::fast_parse_response(&fast, bytes, len)) {
    if (!same(fast, untouched_reference)) std::abort();  // declined, yet it changed the exchange
    return 0;
  }
  Exchange slow;
  setup(slow, flags);
  llhttp_t p{};
  llhttp_init(&p, HTTP_RESPONSE, &herd::http::detail::kParserSettings);
  p.data = &slow;
  llhttp_errno_t rc = llhttp_execute(&p, bytes, len);
  const bool whole = rc == HPE_PAUSED && slow.complete && llhttp_get_error_pos(&p) == bytes + len;
  if (!whole || !same(fast, slow)) std::abort();
  return 0;
}
