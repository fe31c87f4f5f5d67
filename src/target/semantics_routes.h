#pragma once
// Target routes for HTTP semantics a client must get right (docs/target.md):
//   GET /gzip, /deflate, /br, /zstd        a JSON document sent with that Content-Encoding
//   GET /encoded?coding=gzip,br&bytes=N    N bytes encoded with the codings in order; options
//                                          fill=zero (default text), corrupt=1 (second half
//                                          of the encoded bytes flipped), truncate=1
//   ANY /decode                            decodes the request body by its Content-Encoding and
//                                          answers {"content_encoding","length","body"}
//   GET /digest-auth/auth/{user}/{pass}    HTTP Digest (RFC 7616, MD5, qop=auth): 401 with a
//                                          challenge, 200 {"authenticated":true,"user"} when the
//                                          Authorization answers it
// Pure functions of the request: the server (server.cc) writes the reply.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herd::target {

/// What these routes read of a request.
struct RouteRequest {
  std::string_view method;
  std::string_view target;  ///< path and query as sent (digest's `uri`)
  std::string_view path;
  std::string_view query;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view body;
  std::string_view header(std::string_view name) const;
};

/// The answer: status, Content-Type, body and extra header lines ("Name: value\r\n"...).
struct RouteReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string extra_headers;
};

/// Serves `r` when its path is one of the routes above; false otherwise.
bool serve_semantics_route(const RouteRequest& r, RouteReply* out);

}  // namespace herd::target
