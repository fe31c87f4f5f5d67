#pragma once
// Internal to k6/http: a logical request in flight. The request natives start
// and wait for it and follow its hops (k6/http_natives.cc); the Response object
// reads what it ended with (k6/http_response.cc).

#include <quickjs.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "http/client.h"
#include "k6/cookie_jar.h"
#include "k6/http_request_spec.h"
#include "k6/vu_state.h"

namespace herd::k6 {

/// A logical request in flight: its hops, their samples, the final response.
struct Flight : std::enable_shared_from_this<Flight> {
  Flight() = default;  ///< parse_request() fills spec in place (no RequestSpec moved per request)
  explicit Flight(RequestSpec&& s) : spec(std::move(s)) {}

  VuState* vu = nullptr;
  RequestSpec spec;
  std::string current_url;
  std::string current_method;
  std::int64_t redirects_left = 0;
  http::Response final;
  std::vector<Cookie> set_cookies;  ///< cookies set by the final response
  bool done = false;
  bool abandoned = false;
  std::function<void()> on_done;  ///< async requests: called instead of waking the VU
  std::string sent_cookie_header;
  std::string digest_header;  ///< Authorization answering a digest challenge (k6/digest_auth.h)
  bool paced = false;         ///< options.rps slot taken

  /// Sends the current hop; the first waits for its options.rps slot.
  void start_hop();
  /// True when `status` is in spec.expected.
  bool expected(int status) const;
  /// Adds the hop's samples (one per hop, as k6 does) to the VU's sink.
  void emit(const http::Response& r);
  /// A hop's response: stores its cookies, answers a digest challenge, follows
  /// a redirect, or ends the flight (then on_done, else the VU wakes).
  void on_hop(http::Response&& r);
};

/// The Response object for a finished flight (k6/http_response.cc): status,
/// error_code and body now, the other fields built when first read.
JSValue make_response(JSContext* ctx, VuState* vu, std::shared_ptr<Flight> fp);

}  // namespace herd::k6
