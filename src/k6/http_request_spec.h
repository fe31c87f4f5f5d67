#pragma once
// Internal to k6/http: one logical request as the script described it, built
// from the arguments of http.request/asyncRequest/batch (method, url, body,
// params) and the run's options: headers, tags, cookies, timeout, redirects,
// responseType, responseCallback, and the body encoded (string, binary,
// urlencoded or multipart object, compressed). The extras of params are read
// by parse_param_extras() (k6/http_params.h).

#include <quickjs.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "http/client.h"
#include "k6/http_params.h"
#include "k6/vu_state.h"

namespace herd::k6 {

/// An inclusive range of expected statuses (http.expectedStatuses()).
struct StatusRange {
  int lo, hi;
};

/// One logical request as the script described it.
struct RequestSpec {
  std::string method;
  std::string url;  ///< moved to Flight::current_url when the flight is made
  std::string body;
  bool has_body = false;
  http::Headers headers;
  std::map<std::string, std::string> tags;
  std::map<std::string, std::string> cookies;  ///< request cookies (params.cookies)
  std::chrono::milliseconds timeout{60000};
  std::int64_t redirects = 10;
  std::string response_type = "text";  ///< text | binary | none
  bool has_expected = true;            ///< false: responseCallback null -> no http_req_failed
  bool default_expected = true;        ///< 200-399, k6's default (no list allocated per request)
  std::vector<StatusRange> expected;   ///< http.expectedStatuses() when !default_expected
  HttpParamExtras extras;              ///< compression, auth, jar (k6/http_params.h)
};

/// Fills `spec` from (method, url, body, params); on failure a JS exception is pending.
bool parse_request(JSContext* ctx, VuState* vu, const std::string& method, JSValueConst url, JSValueConst body,
                   JSValueConst params, RequestSpec* spec);

}  // namespace herd::k6
