#pragma once
// The built-in HTTP/1.1 client's URL and request checks: which requests it can
// send as they are (plain http:// to an IP literal or localhost, nothing
// libcurl would rewrite) and, for those, the parsed address, Host header and
// request target. Everything else goes through libcurl (http/client.cc).

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <string_view>

#include "http/client.h"

namespace herd::http::detail {

/// An http:// URL that the built-in client can send as is.
struct FastUrl {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string ip;  ///< "127.0.0.1", "::1"
  int port = 80;
  std::string host_header;  ///< as libcurl sends it: the port only when not 80
  std::string target;       ///< origin-form request target: path and query, "/" at least
  bool localhost = false;   ///< host "localhost": 127.0.0.1, then [::1] if that refuses
};

/// Parses `url` when it is http://<IPv4 or [IPv6] literal, or localhost>[:port][/path][?query][#fragment]
/// with nothing that libcurl would rewrite (user info, dot segments, spaces,
/// control or non-ASCII bytes, backslashes). False means: let libcurl do it.
bool fast_url(std::string_view url, FastUrl* out);

/// True when the request's headers, method and options need nothing beyond
/// the built-in client (no Transfer-Encoding, Expect, Connection: upgrade, no
/// CR/LF in names or values).
bool fast_request(const Request& req);

}  // namespace herd::http::detail
