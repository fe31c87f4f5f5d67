// libFuzzer target: fast_url (which URLs the built-in HTTP/1.1 client takes)
// must never crash, and what it accepts must be consistent: an origin-form
// target, a valid port, and a round trip through its own Host header.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/h1.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view url(reinterpret_cast<const char*>(data), size);
  herd::http::detail::FastUrl u;
  if (!herd::http::detail::fast_url(url, &u)) return 0;
  if (u.target.empty() || u.target.front() != '/') std::abort();
  if (u.target.find('#') != std::string::npos) std::abort();
  if (u.port < 1 || u.port > 65535 || u.ip.empty() || u.host_header.empty()) std::abort();
  herd::http::detail::FastUrl again;
  if (!herd::http::detail::fast_url("http://" + u.host_header + u.target, &again)) std::abort();
  if (again.target != u.target || again.port != u.port || again.ip != u.ip || again.host_header != u.host_header)
    std::abort();
  return 0;
}
