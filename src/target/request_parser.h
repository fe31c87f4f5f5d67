#pragma once
// The target server's HTTP/1.1 request parser (server.cc feeds it the bytes a
// connection has read). Pure: no sockets, so it is unit-tested and fuzzed
// (fuzz/target_request_fuzz.cc) on its own.

#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace herd::target {

/// One parsed request. Every view points into the parsed input, except `body`
/// of a chunked request, which points into the caller's `chunk_body`.
struct Request {
  std::string_view method;
  std::string_view target;  ///< path + query as sent
  std::string_view path;
  std::string_view query;  ///< after '?', without it
  int minor = 1;           ///< HTTP/1.<minor>, 0..9
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view body;
  bool keep_alive = true;
  bool head = false;  ///< method is HEAD

  /// The first header named `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
};

/// Limits applied while parsing.
struct RequestLimits {
  std::size_t max_header_bytes = 64 * 1024;       ///< request line + headers; more -> 431
  std::size_t max_body_bytes = 64 * 1024 * 1024;  ///< Content-Length or decoded chunks above -> 413
};

/// Outcome of parse_request.
struct ParseResult {
  enum Status { kNeedMore, kRequest, kError };
  Status status = kNeedMore;
  std::size_t consumed = 0;  ///< kRequest: bytes of the input the request used (with leading empty lines)
  int error_status = 0;      ///< kError: the status to answer (400, 413, 431) before closing
  std::string_view error_body;
  /// kNeedMore: the head is complete, carries "Expect: 100-continue", and the body is still missing.
  bool expect_continue = false;
};

/// Parses one request at the front of `in` into `r` (its headers are cleared
/// first). A chunked body is decoded into `chunk_body` (overwritten). Never
/// reads outside `in`; `in` may end anywhere (kNeedMore asks for more bytes).
ParseResult parse_request(std::string_view in, Request& r, std::string& chunk_body, const RequestLimits& limits = {});

/// True when the comma-separated `value` holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token);

/// `s` without leading spaces/tabs and trailing spaces, tabs and CRs.
std::string_view trim_ows(std::string_view s);

/// Whole-string decimal integer (a leading - only for signed types); false on anything
/// else: spaces, +, overflow.
template <typename Int>
bool parse_int(std::string_view s, Int& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace herd::target
