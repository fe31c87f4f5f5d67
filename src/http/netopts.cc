#include "http/netopts.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "util/ascii.h"

namespace herd::http {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool parse_port(std::string_view text, int* port) {
  int p = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), p);
  if (ec != std::errc{} || end != text.data() + text.size() || p < 1 || p > 65535) return false;
  *port = p;
  return true;
}

// "name" (letters, digits, '-', '_', '.') with an optional leading '*'.
bool valid_pattern(std::string_view p) {
  if (p.empty()) return false;
  std::string_view rest = p.front() == '*' ? p.substr(1) : p;
  return std::all_of(rest.begin(), rest.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
}

bool pattern_matches(std::string_view pattern, std::string_view host) {
  if (!pattern.empty() && pattern.front() == '*') {
    std::string_view suffix = pattern.substr(1);
    return host.size() >= suffix.size() && host.substr(host.size() - suffix.size()) == suffix;
  }
  return pattern == host;
}

// "IP" or "IP:port" or "[IPv6]:port".
bool parse_ip_port(std::string_view text, IpAddr* ip, int* port) {
  *port = 0;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return false;
    auto a = IpAddr::parse(text.substr(1, close - 1));
    if (!a) return false;
    *ip = *a;
    std::string_view after = text.substr(close + 1);
    if (after.empty()) return true;
    return after.front() == ':' && parse_port(after.substr(1), port);
  }
  if (auto a = IpAddr::parse(text)) {  // bare IPv4 or IPv6
    *ip = *a;
    return true;
  }
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  auto a = IpAddr::parse(text.substr(0, colon));
  if (!a || a->v6) return false;  // an IPv6 address with a port needs brackets
  *ip = *a;
  return parse_port(text.substr(colon + 1), port);
}

unsigned __int128 to_int(const IpAddr& a) {
  unsigned __int128 v = 0;
  int n = a.v6 ? 16 : 4;
  for (int i = 0; i < n; ++i) v = (v << 8) | a.bytes[static_cast<std::size_t>(i)];
  return v;
}

IpAddr from_int(unsigned __int128 v, bool v6) {
  IpAddr a;
  a.v6 = v6;
  int n = v6 ? 16 : 4;
  for (int i = n - 1; i >= 0; --i) {
    a.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v & 0xff);
    v >>= 8;
  }
  return a;
}

}  // namespace

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  std::string s(text);
  IpAddr a;
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    return a;
  }
  a.v6 = true;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  return a;
}

std::string IpAddr::str() const {
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf)) return "";
  return buf;
}

std::optional<IpNet> IpNet::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto ip = IpAddr::parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  int prefix = -1;
  std::string_view bits = text.substr(slash + 1);
  auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
  if (bits.empty() || ec != std::errc{} || end != bits.data() + bits.size()) return std::nullopt;
  if (prefix < 0 || prefix > (ip->v6 ? 128 : 32)) return std::nullopt;
  IpNet net;
  net.prefix = prefix;
  net.text = std::string(text);
  net.base = *ip;
  for (int i = prefix; i < 128; ++i) net.base.bytes[static_cast<std::size_t>(i / 8)] &= ~(0x80 >> (i % 8));
  return net;
}

bool IpNet::contains(const IpAddr& ip) const {
  if (ip.v6 != base.v6) return false;
  for (int i = 0; i < prefix; ++i) {
    auto byte = static_cast<std::size_t>(i / 8);
    int bit = 0x80 >> (i % 8);
    if ((ip.bytes[byte] & bit) != (base.bytes[byte] & bit)) return false;
  }
  return true;
}

std::string HostPatterns::add(std::string_view pattern) {
  if (!valid_pattern(pattern)) {
    return "invalid host name pattern \"" + std::string(pattern) +
           "\" (letters, digits, '-', '_' and '.', with an optional leading '*')";
  }
  patterns_.push_back(lower(pattern));
  return "";
}

const std::string* HostPatterns::match(std::string_view host) const {
  for (const std::string& p : patterns_)
    if (pattern_matches(p, host)) return &p;
  return nullptr;
}

std::string HostMap::add(std::string_view key, std::string_view value) {
  Entry e;
  std::string_view name = key;
  if (auto colon = key.rfind(':'); colon != std::string_view::npos && key.find(':') == colon) {
    if (!parse_port(key.substr(colon + 1), &e.port)) return "invalid port in \"" + std::string(key) + "\"";
    name = key.substr(0, colon);
  }
  if (!valid_pattern(name)) {
    return "invalid host name \"" + std::string(key) + "\" (a name or name:port, with an optional leading '*')";
  }
  e.name = lower(name);
  if (!parse_ip_port(value, &e.target.ip, &e.target.port)) {
    return "invalid address \"" + std::string(value) + "\" for \"" + std::string(key) +
           "\" (expected an IP address, IP:port or [IPv6]:port)";
  }
  entries_.push_back(std::move(e));
  return "";
}

const HostMap::Target* HostMap::find(std::string_view host, int port) const {
  const Entry* best = nullptr;
  int best_rank = -1;
  for (const Entry& e : entries_) {
    if (e.port != 0 && e.port != port) continue;
    if (!pattern_matches(e.name, host)) continue;
    bool exact = e.name.front() != '*';
    int rank = (exact ? 2 : 0) + (e.port != 0 ? 1 : 0);
    if (rank > best_rank) {
      best = &e;
      best_rank = rank;
    }
  }
  return best ? &best->target : nullptr;
}

std::string IpPool::parse(std::string_view text) {
  ranges_.clear();
  total_ = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string_view item =
        text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    const std::string bad = "invalid address, range or CIDR \"" + std::string(item) + "\"";
    Range r;
    if (item.find('/') != std::string_view::npos) {
      auto net = IpNet::parse(item);
      if (!net) return bad;
      int host_bits = (net->base.v6 ? 128 : 32) - net->prefix;
      r.first = net->base;
      r.count = host_bits >= 128 ? ~static_cast<unsigned __int128>(0) : static_cast<unsigned __int128>(1) << host_bits;
    } else if (auto dash = item.find('-'); dash != std::string_view::npos) {
      auto a = IpAddr::parse(item.substr(0, dash));
      auto b = IpAddr::parse(item.substr(dash + 1));
      if (!a || !b || a->v6 != b->v6 || to_int(*b) < to_int(*a)) return bad;
      r.first = *a;
      r.count = to_int(*b) - to_int(*a) + 1;
    } else {
      auto a = IpAddr::parse(item);
      if (!a) return bad;
      r.first = *a;
      r.count = 1;
    }
    total_ += r.count;
    ranges_.push_back(r);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return "";
}

std::string IpPool::get(std::uint64_t index) const {
  if (ranges_.empty()) return "";
  unsigned __int128 i = total_ == 0 ? 0 : static_cast<unsigned __int128>(index) % total_;
  for (const Range& r : ranges_) {
    if (i < r.count) return from_int(to_int(r.first) + i, r.first.v6).str();
    i -= r.count;
  }
  return ranges_.front().first.str();
}

const ClientCert* TlsConfig::cert_for(std::string_view host) const {
  for (const ClientCert& c : client_certs)
    for (const std::string& d : c.domains)
      if (d == host) return &c;
  return nullptr;
}

const IpNet* NetConfig::blacklisted(const IpAddr& ip) const {
  for (const IpNet& n : blacklist)
    if (n.contains(ip)) return &n;
  return nullptr;
}

std::optional<UrlHost> split_url_host(std::string_view url) {
  UrlHost u;
  std::size_t p;
  if (url.size() > 7 && util::iequals(url.substr(0, 7), "http://")) {
    p = 7;
  } else if (url.size() > 8 && util::iequals(url.substr(0, 8), "https://")) {
    p = 8;
    u.https = true;
  } else {
    return std::nullopt;
  }
  std::size_t end = url.find_first_of("/?#", p);
  if (end == std::string_view::npos) end = url.size();
  std::string_view authority = url.substr(p, end - p);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    p += at + 1;
    authority = authority.substr(at + 1);
  }
  u.authority_begin = p;
  u.authority_end = end;
  std::string_view host = authority, port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else if (auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  u.host = lower(host);
  while (!u.host.empty() && u.host.back() == '.') u.host.pop_back();  // "example.com." is example.com
  u.port = u.https ? 443 : 80;
  if (!port_text.empty() && !parse_port(port_text, &u.port)) return std::nullopt;
  return u;
}

NetRoute route_request(const NetConfig& net, std::string_view url) {
  NetRoute route;
  std::optional<UrlHost> u = split_url_host(url);
  if (!u) return route;  // libcurl reports the bad URL
  std::optional<IpAddr> ip = IpAddr::parse(u->host);
  int port = u->port;
  if (!ip) {
    if (const std::string* p = net.blocked_hostnames.match(u->host)) {
      route.error_code = kBlockedHostnameErrorCode;
      route.error = blocked_hostname_message(u->host, *p);
      return route;
    }
    if (const HostMap::Target* to = net.hosts.find(u->host, u->port)) {
      ip = to->ip;
      if (to->port != 0) port = to->port;
      route.mapped = true;
    }
  }
  // localhost is loopback without DNS (RFC 6761): 127.0.0.1 first, as both transports connect.
  std::optional<IpAddr> checked = ip;
  if (!checked && u->host == "localhost") checked = IpAddr::parse("127.0.0.1");
  if (checked) {
    if (const IpNet* n = net.blacklisted(*checked)) {
      route.error_code = kBlacklistedIpErrorCode;
      route.error = blacklisted_ip_message(*checked, *n);
      return route;
    }
  }
  if (!route.mapped) return route;
  std::string addr = ip->v6 ? "[" + ip->str() + "]" : ip->str();
  std::string host = u->host.find(':') != std::string::npos ? "[" + u->host + "]" : u->host;
  route.connect_to = host + ":" + std::to_string(u->port) + ":" + addr + ":" + std::to_string(port);
  bool userinfo = u->authority_begin != (u->https ? 8u : 7u);
  if (!u->https && !userinfo) {
    route.builtin_url = "http://" + addr + ":" + std::to_string(port) + std::string(url.substr(u->authority_end));
    route.host_header = host;  // as libcurl sends it: the port only when not 80
    if (u->port != 80) route.host_header += ":" + std::to_string(u->port);
  }
  return route;
}

std::string blacklisted_ip_message(const IpAddr& ip, const IpNet& net) {
  return "IP (" + ip.str() + ") is in a blacklisted range (" + net.text + ")";
}

std::string blocked_hostname_message(std::string_view host, std::string_view pattern) {
  return "hostname (" + std::string(host) + ") is in a blocked pattern (" + std::string(pattern) + ")";
}

}  // namespace herd::http
