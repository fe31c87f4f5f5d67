#pragma once
// --http-debug / options.httpDebug: every request and response as text in the
// log (source "http-debug"), headers only, or with bodies for "full".

#include <string>

#include "http/client.h"

namespace herd::k6 {

struct VuState;

/// The request as sent: request line, Host, the headers, Content-Length when
/// there is a body, and (with_body) the body.
std::string dump_request(const http::Request& req, bool with_body);

/// The response: status line, headers, and (with_body) the body; the error for
/// a request that got no response.
std::string dump_response(const http::Response& res, bool with_body);

/// Logs `req` / `res` when the run's httpDebug is on ("headers" or "full").
void debug_request(VuState& vu, const http::Request& req);
void debug_response(VuState& vu, const http::Response& res);

}  // namespace herd::k6
