// libFuzzer target: Set-Cookie parsing (k6/cookie_jar.h). Input: the response
// URL on the first line, the header value after it. Must never crash or hit UB;
// an accepted cookie has a name, a path starting with '/', and a domain the
// response's host may set; the jar then stores and serves it without crashing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "k6/cookie_jar.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t nl = in.find('\n');
  if (nl == std::string_view::npos) return 0;
  std::string url(in.substr(0, nl));
  std::string header(in.substr(nl + 1));
  constexpr std::int64_t kNow = 1'780'000'000;
  herd::k6::UrlParts origin = herd::k6::split_url(url);
  herd::k6::Cookie c;
  if (!herd::k6::parse_set_cookie(header, origin, kNow, &c)) return 0;
  if (c.name.empty() || c.path.empty() || c.path[0] != '/') std::abort();
  if (c.host_only ? c.domain != origin.host : !herd::k6::cookie_domain_allowed(origin.host, c.domain)) std::abort();
  herd::k6::CookieJar jar;
  jar.store(c, kNow);
  (void)jar.header_for(url, kNow);
  jar.remove(url, c.name);
  return 0;
}
