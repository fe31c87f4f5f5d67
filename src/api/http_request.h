#pragma once
// The control API server's HTTP/1.1 request-head parser (control_server.cc
// feeds it a connection's input). Pure: no sockets, so it is unit-tested and
// fuzzed (fuzz/api_request_fuzz.cc) on its own.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herd::api {

/// The environment variable naming the test run a runner or coordinator belongs
/// to (the operator sets the TestRun's uid): ControlServerOptions::run_id, and the
/// coordinator's X-Herd-Run header.
inline constexpr std::string_view kRunIdEnv = "HERD_RUN_ID";

/// What the server needs of a request head.
struct HttpRequest {
  std::string method;  ///< a token, 1..32 characters
  std::string target;  ///< origin-form: starts with '/'
  int minor = 1;       ///< HTTP/1.<minor>, 0..9
  bool keep_alive = true;
  bool has_content_length = false;
  std::uint64_t content_length = 0;  ///< < 10^18
  bool has_transfer_encoding = false;
  bool expect_continue = false;
  /// The Accept header's value ("" = none; several Accept lines joined with ", ").
  std::string accept;
  /// The X-Herd-Run header's value ("" = none): which test run the caller
  /// drives (see ControlServerOptions::run_id).
  std::string run;
};

/// A request the server answers with `status` and `detail`, then closes.
struct HttpError {
  int status = 400;
  std::string detail;
};

/// Parses the request head (request line and header lines, without the empty line).
std::optional<HttpError> parse_request_head(std::string_view head, HttpRequest& req);

/// Size limits checked while reading a head.
struct HeadLimits {
  std::size_t max_header_bytes = 64 * 1024;       ///< more -> 431
  std::size_t max_body_bytes = 16 * 1024 * 1024;  ///< Content-Length above -> 413
};

/// Outcome of read_request_head.
struct HeadRead {
  enum Status { kNeedMore, kHead, kError };
  Status status = kNeedMore;
  /// Leading empty-line bytes (CR/LF) before the request line: the caller drops
  /// them from its input first (in every status). Counted from the input's start.
  std::size_t skip = 0;
  std::size_t head_len = 0;  ///< kHead: bytes of the head after `skip`, with its empty line
  HttpError error;           ///< kError
};

/// Looks for a complete request head at the front of `in` and parses it into
/// `req`. `scan` is where an earlier call on the same (grown) input stopped
/// searching, counted after `skip`; it is updated and must start at 0 for a
/// new request. The head ends at "\n\n" or "\n\r\n". Errors: 431 for a head over
/// the limit, parse_request_head's, 501 for Transfer-Encoding, 413 for a body
/// over the limit.
HeadRead read_request_head(std::string_view in, std::size_t& scan, const HeadLimits& limits, HttpRequest& req);

/// Percent-decodes a path segment; nullopt on a bad escape.
std::optional<std::string> pct_decode(std::string_view s);

/// Nesting depth of a JSON text (brackets outside strings); stops counting at `limit`+1.
std::size_t json_depth(std::string_view s, std::size_t limit);

}  // namespace herd::api
