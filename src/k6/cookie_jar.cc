#include "k6/cookie_jar.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <limits>

namespace herd::k6 {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

bool domain_match(const std::string& host, const Cookie& c) {
  if (c.host_only) return host == c.domain;
  if (host == c.domain) return true;
  return host.size() > c.domain.size() && host.compare(host.size() - c.domain.size(), c.domain.size(), c.domain) == 0 &&
         host[host.size() - c.domain.size() - 1] == '.';
}

bool path_match(const std::string& req, const std::string& cp) {
  if (req == cp) return true;
  if (req.rfind(cp, 0) != 0) return false;
  return cp.back() == '/' || (req.size() > cp.size() && req[cp.size()] == '/');
}

// Parses an HTTP date (RFC 1123 and common variants); 0 on failure.
std::int64_t parse_http_date(const std::string& s) {
  static const char* kFormats[] = {"%a, %d %b %Y %H:%M:%S", "%a, %d-%b-%Y %H:%M:%S", "%A, %d-%b-%y %H:%M:%S",
                                   "%a %b %d %H:%M:%S %Y"};
  for (const char* f : kFormats) {
    std::tm tm{};
    const char* end = strptime(s.c_str(), f, &tm);
    if (end) return static_cast<std::int64_t>(timegm(&tm));
  }
  return 0;
}

std::string default_path(const std::string& p) {
  if (p.empty() || p[0] != '/') return "/";
  size_t slash = p.rfind('/');
  if (slash == 0) return "/";
  return p.substr(0, slash);
}

}  // namespace

UrlParts split_url(const std::string& url) {
  UrlParts u;
  size_t se = url.find("://");
  size_t start = 0;
  if (se != std::string::npos) {
    u.scheme = lower(url.substr(0, se));
    start = se + 3;
  }
  size_t pe = url.find_first_of("/?#", start);
  std::string authority = url.substr(start, pe == std::string::npos ? std::string::npos : pe - start);
  size_t at = authority.rfind('@');
  if (at != std::string::npos) authority = authority.substr(at + 1);
  if (!authority.empty() && authority[0] == '[') {
    size_t rb = authority.find(']');
    u.host = lower(authority.substr(1, rb == std::string::npos ? std::string::npos : rb - 1));
  } else {
    size_t colon = authority.find(':');
    u.host = lower(authority.substr(0, colon));
  }
  if (pe == std::string::npos || url[pe] != '/') {
    u.path = "/";
  } else {
    size_t qe = url.find_first_of("?#", pe);
    u.path = url.substr(pe, qe == std::string::npos ? std::string::npos : qe - pe);
  }
  return u;
}

bool parse_set_cookie(const std::string& header, const UrlParts& origin, std::int64_t now_unix, Cookie* out) {
  Cookie c;
  size_t pos = 0;
  bool first = true;
  bool have_max_age = false;
  while (pos <= header.size()) {
    size_t semi = header.find(';', pos);
    std::string part = trim(header.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos));
    pos = semi == std::string::npos ? header.size() + 1 : semi + 1;
    size_t eq = part.find('=');
    std::string k = trim(part.substr(0, eq));
    std::string v = eq == std::string::npos ? "" : trim(part.substr(eq + 1));
    if (first) {
      if (eq == std::string::npos || k.empty()) return false;
      c.name = k;
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      c.value = v;
      first = false;
      continue;
    }
    std::string lk = lower(k);
    if (lk == "domain" && !v.empty()) {
      if (v[0] == '.') v = v.substr(1);
      c.domain = lower(v);
      c.host_only = false;
    } else if (lk == "path") {
      c.path = (!v.empty() && v[0] == '/') ? v : default_path(origin.path);
    } else if (lk == "secure") {
      c.secure = true;
    } else if (lk == "httponly") {
      c.http_only = true;
    } else if (lk == "max-age") {
      try {
        long long ma = std::stoll(v);
        c.max_age = ma;
        constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
        bool overflows = now_unix > 0 && ma > kMax - now_unix;  // saturate: a cookie for all time
        c.expires_unix = ma <= 0 ? 1 : overflows ? kMax : now_unix + ma;
        have_max_age = true;
      } catch (...) {
      }
    } else if (lk == "expires" && !have_max_age) {
      std::int64_t t = parse_http_date(v);
      if (t) c.expires_unix = t <= 0 ? 1 : t;
    }
  }
  if (c.domain.empty()) {
    c.domain = origin.host;
    c.host_only = true;
  } else if (!cookie_domain_allowed(origin.host, c.domain)) {
    return false;  // a server may not set cookies for another domain (RFC 6265 5.3 step 6)
  }
  if (c.path.empty() || c.path == "/") c.path = c.path.empty() ? default_path(origin.path) : c.path;
  *out = c;
  return true;
}

void CookieJar::store(const Cookie& c, std::int64_t now_unix) {
  auto same = [&](const Cookie& o) { return o.name == c.name && o.domain == c.domain && o.path == c.path; };
  cookies_.erase(std::remove_if(cookies_.begin(), cookies_.end(), same), cookies_.end());
  if (c.expires_unix != 0 && c.expires_unix <= now_unix) return;
  cookies_.push_back(c);
}

std::vector<Cookie> CookieJar::for_url(const std::string& url, std::int64_t now_unix) const {
  UrlParts u = split_url(url);
  std::vector<Cookie> out;
  for (const auto& c : cookies_) {
    if (c.expires_unix != 0 && c.expires_unix <= now_unix) continue;
    if (c.secure && u.scheme != "https") continue;
    if (!domain_match(u.host, c)) continue;
    if (!path_match(u.path, c.path)) continue;
    out.push_back(c);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Cookie& a, const Cookie& b) { return a.path.size() > b.path.size(); });
  return out;
}

std::string CookieJar::header_for(const std::string& url, std::int64_t now_unix) const {
  if (cookies_.empty()) return "";
  std::string h;
  for (const auto& c : for_url(url, now_unix)) {
    if (!h.empty()) h += "; ";
    h += c.name + "=" + c.value;
  }
  return h;
}

void CookieJar::clear_url(const std::string& url) {
  UrlParts u = split_url(url);
  cookies_.erase(std::remove_if(cookies_.begin(), cookies_.end(),
                                [&](const Cookie& c) { return domain_match(u.host, c) && path_match(u.path, c.path); }),
                 cookies_.end());
}

void CookieJar::remove(const std::string& url, const std::string& name) {
  UrlParts u = split_url(url);
  cookies_.erase(std::remove_if(cookies_.begin(), cookies_.end(),
                                [&](const Cookie& c) {
                                  return c.name == name && domain_match(u.host, c) && path_match(u.path, c.path);
                                }),
                 cookies_.end());
}

std::string cookie_default_path(const std::string& url_path) {
  return default_path(url_path);
}

bool cookie_domain_allowed(const std::string& host, const std::string& domain) {
  if (host == domain) return true;
  bool ip = host.find(':') != std::string::npos || host.find_first_not_of("0123456789.") == std::string::npos;
  if (ip) return false;  // an address has no parent domains
  return host.size() > domain.size() && host.compare(host.size() - domain.size(), domain.size(), domain) == 0 &&
         host[host.size() - domain.size() - 1] == '.';
}

}  // namespace herd::k6
