#include "http/h1_url.h"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>

#include "util/ascii.h"

namespace herd::http::detail {

using util::iequals;

namespace {

bool has_dot_segment(std::string_view path) {
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '/') continue;
    std::string_view rest = path.substr(i + 1);
    if (rest == "." || rest == ".." || rest.rfind("./", 0) == 0 || rest.rfind("../", 0) == 0) return true;
  }
  return false;
}

// True when `s` holds CR, LF or NUL: eight bytes at a time (a header value is often a few dozen bytes).
bool has_line_break_or_nul(std::string_view s) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  auto has = [](std::uint64_t w, unsigned char b) {
    std::uint64_t x = w ^ (kOnes * b);
    return ((x - kOnes) & ~x & kHighs) != 0;  // some byte of x is zero
  };
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (has(w, '\r') || has(w, '\n') || has(w, 0)) return true;
  }
  for (; i < s.size(); ++i)
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') return true;
  return false;
}

}  // namespace

bool fast_url(std::string_view url, FastUrl* out) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return false;
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f || c == '\\') return false;
  std::string_view rest = url.substr(kScheme.size());
  std::size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail = auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;

  std::string_view host, port_text;
  bool v6 = false;
  if (authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port_text = after.substr(1);
      if (port_text.empty()) return false;
    }
    v6 = true;
  } else {
    std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return false;
    }
  }
  int port = 80;
  if (!port_text.empty()) {
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || p != port_text.data() + port_text.size() || port < 1 || port > 65535) return false;
  }
  // RFC 6761: localhost is loopback without asking DNS (libcurl does the same).
  // IPv4 first; a refused connection tries [::1] (H1Client::Impl::fail_connect).
  FastUrl u;
  u.localhost = !v6 && iequals(host, "localhost");
  std::string host_str = u.localhost ? "localhost" : std::string(host);
  const std::string literal = u.localhost ? "127.0.0.1" : host_str;
  if (v6) {
    if (host_str.find('%') != std::string::npos) return false;  // zone ids: libcurl
    auto* a = reinterpret_cast<sockaddr_in6*>(&u.addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET6, literal.c_str(), &a->sin6_addr) != 1) return false;
    u.addr_len = sizeof(sockaddr_in6);
    char buf[INET6_ADDRSTRLEN];
    u.ip = inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&u.addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, literal.c_str(), &a->sin_addr) != 1) return false;
    u.addr_len = sizeof(sockaddr_in);
    char buf[INET_ADDRSTRLEN];
    u.ip = inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
  }
  u.port = port;
  u.host_header = v6 ? "[" + host_str + "]" : host_str;
  if (port != 80) u.host_header += ":" + std::to_string(port);

  std::string_view target = tail.substr(0, tail.find('#'));
  std::string_view path = target.substr(0, target.find('?'));
  if (has_dot_segment(path)) return false;
  if (target.empty() || target.front() == '?') u.target = "/";
  u.target.append(target);
  *out = std::move(u);
  return true;
}

bool fast_request(const Request& req) {
  if (req.method.empty()) return false;
  for (char c : req.method)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  // Bytes a header name must not hold: one table load per byte (values: has_line_break_or_nul).
  static constexpr auto kBad = [] {
    std::array<bool, 256> t{};
    for (unsigned char c : {'\r', '\n', '\0', ':', ' '}) t[c] = true;
    return t;
  }();
  bool ok = true;
  req.for_each_header([&](const std::string& k, const std::string& v) {
    if (!ok) return;
    if (k.empty()) ok = false;
    for (char c : k)
      if (kBad[static_cast<unsigned char>(c)]) ok = false;
    if (has_line_break_or_nul(v)) ok = false;
    if ((k.size() == 17 && iequals(k, "transfer-encoding")) || (k.size() == 6 && iequals(k, "expect")) ||
        (k.size() == 7 && iequals(k, "upgrade")))
      ok = false;
  });
  return ok;
}

}  // namespace herd::http::detail
