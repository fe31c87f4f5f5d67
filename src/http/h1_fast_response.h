#pragma once
// Internal to the built-in HTTP/1.1 client (http/h1.cc): a parser for the
// common response, read whole by one read(): "HTTP/1.1 <200-599 but 204/304>
// <reason>", header lines of token names and printable values, a
// Content-Length body and nothing after it. It fills the Exchange exactly as
// llhttp and the callbacks of h1_exchange.cc would, with a fraction of their
// instructions. Anything else (other versions, 1xx/204/304, HEAD, chunked or
// close-delimited bodies, Connection/Upgrade headers, bare LF, control or
// non-ASCII bytes, a partial or longer message, a body past max_body) it
// leaves to llhttp, untouched.

#include <cstddef>

#include "http/h1_exchange.h"

namespace herd::http::detail {

/// True when [data, data + len) is a whole response of that shape: `ex` then
/// holds it (resp.status, proto, status_text, headers, body; reason,
/// headers_done, complete, keep_alive, decoder) as after llhttp paused at its
/// end. False: `ex` is untouched.
bool fast_parse_response(Exchange* ex, const char* data, std::size_t len);

}  // namespace herd::http::detail
