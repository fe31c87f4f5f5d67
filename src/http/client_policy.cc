// Which client a request may go to, and whether it may be sent again: policy
// decisions of http::Client, kept apart from its transports.
#include <cstdlib>
#include <string_view>

#include "http/client.h"
#include "util/ascii.h"

namespace herd::http {

namespace {

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v && *v;
}

}  // namespace

namespace detail {

// The built-in client speaks to the address in the URL; with a proxy
// configured, libcurl must do it.
bool builtin_allowed(const ClientOptions& options) {
  if (!options.builtin_http1) return false;
  const char* which = std::getenv("HERD_HTTP_CLIENT");
  if (which && std::string_view(which) == "curl") return false;
  return !env_set("http_proxy") && !env_set("all_proxy") && !env_set("ALL_PROXY");
}

}  // namespace detail

bool replayable(const Request& r) {
  const std::string& m = r.method;
  if (m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE") return true;
  bool key = false;
  r.for_each_header([&](const std::string& k, const std::string&) {
    key = key || util::iequals(k, "idempotency-key") || util::iequals(k, "x-idempotency-key");
  });
  return key;
}

}  // namespace herd::http
