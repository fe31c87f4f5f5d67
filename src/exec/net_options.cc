#include "exec/net_options.h"

#include <cmath>

#include "exec/options.h"
#include "http/tls_names.h"
#include "util/duration.h"

namespace herd::exec {
namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& path, const std::string& msg) {
  throw OptionsError(path + ": " + msg);
}

std::string str(const json& v, const std::string& path) {
  if (!v.is_string()) fail(path, "must be a string");
  return v.get<std::string>();
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// A list given as a JSON array of strings or (as k6's CLI/env form) one comma-separated string.
std::vector<std::string> str_list(const json& v, const std::string& path) {
  if (v.is_string()) return split_commas(v.get<std::string>());
  if (!v.is_array()) fail(path, "must be an array of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) out.push_back(str(v[i], path + "[" + std::to_string(i) + "]"));
  return out;
}

void add_blacklist(http::NetConfig& net, const std::vector<std::string>& items, const std::string& path) {
  for (const std::string& item : items) {
    auto n = http::IpNet::parse(item);
    if (!n) fail(path, "invalid CIDR \"" + item + "\" (expected e.g. \"10.0.0.0/8\" or \"fd00::/64\")");
    net.blacklist.push_back(*n);
  }
}

void add_blocked(http::NetConfig& net, const std::vector<std::string>& items, const std::string& path) {
  for (const std::string& item : items) {
    std::string err = net.blocked_hostnames.add(item);
    if (!err.empty()) fail(path, err);
  }
}

void set_local_ips(http::NetConfig& net, const std::string& text, const std::string& path) {
  std::string err = net.local_ips.parse(text);
  if (!err.empty()) fail(path, err);
}

long ttl_seconds(const json& v, const std::string& path) {
  if (v.is_string() && v.get<std::string>() == "inf") return -1;
  double ms = 0;
  if (v.is_number()) {
    ms = v.get<double>();
  } else if (v.is_string()) {
    try {
      ms = static_cast<double>(util::parse_duration(v.get<std::string>()).count()) / 1000.0;
    } catch (const std::exception& e) {
      fail(path, e.what());
    }
  } else {
    fail(path, "must be a duration (e.g. \"1m\"), a number of milliseconds, \"0\" or \"inf\"");
  }
  if (!std::isfinite(ms) || ms < 0) fail(path, "must not be negative");
  return ms == 0 ? 0 : std::max(1L, static_cast<long>(std::ceil(ms / 1000.0)));  // libcurl counts seconds
}

void set_dns_field(http::DnsConfig& dns, const std::string& key, const json& v, const std::string& path) {
  using P = http::DnsConfig::Policy;
  if (key == "ttl") {
    dns.ttl_seconds = ttl_seconds(v, path);
  } else if (key == "select") {
    std::string s = str(v, path);
    if (s == "random" || s == "roundRobin") {
      fail(path, "\"" + s +
                     "\" is not supported: herd resolves through libcurl, which connects to the first address "
                     "it gets (use \"first\")");
    }
    if (s != "first") fail(path, "must be one of first, random, roundRobin (got \"" + s + "\")");
  } else if (key == "policy") {
    std::string s = str(v, path);
    if (s == "preferIPv4")
      dns.policy = P::kPreferIPv4;
    else if (s == "preferIPv6")
      dns.policy = P::kPreferIPv6;
    else if (s == "onlyIPv4")
      dns.policy = P::kOnlyIPv4;
    else if (s == "onlyIPv6")
      dns.policy = P::kOnlyIPv6;
    else if (s == "any")
      dns.policy = P::kAny;
    else
      fail(path, "must be one of preferIPv4, preferIPv6, onlyIPv4, onlyIPv6, any (got \"" + s + "\")");
  } else {
    fail(path, "unknown field (expected ttl, select or policy)");
  }
}

int tls_version(const json& v, const std::string& path) {
  std::string s = str(v, path);
  auto n = http::tls_version_from_name(s);
  if (!n) fail(path, "unknown TLS version \"" + s + "\" (expected ssl3.0, tls1.0, tls1.1, tls1.2 or tls1.3)");
  if (*n == 3) fail(path, "ssl3.0 is not supported: the system's OpenSSL has no SSL 3.0");
  return *n;
}

void set_tls_auth(http::TlsConfig& tls, const json& v, const std::string& path) {
  if (!v.is_array()) fail(path, "must be an array of {domains, cert, key} objects");
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "]";
    const json& e = v[i];
    if (!e.is_object()) fail(p, "must be an object with domains, cert and key");
    http::ClientCert c;
    for (auto it = e.begin(); it != e.end(); ++it) {
      const std::string fp = p + "." + it.key();
      if (it.key() == "domains") {
        for (std::string d : str_list(it.value(), fp)) {
          for (char& ch : d) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          c.domains.push_back(d);
        }
      } else if (it.key() == "cert") {
        c.cert_pem = str(it.value(), fp);
      } else if (it.key() == "key") {
        c.key_pem = str(it.value(), fp);
      } else if (it.key() == "password") {
        c.password = str(it.value(), fp);
      } else {
        fail(fp, "unknown field (expected domains, cert, key, password)");
      }
    }
    if (c.cert_pem.find("-----BEGIN") == std::string::npos) fail(p + ".cert", "must be a PEM certificate");
    if (c.key_pem.find("-----BEGIN") == std::string::npos) fail(p + ".key", "must be a PEM private key");
    if (c.domains.empty()) fail(p + ".domains", "must list at least one domain");
    tls.client_certs.push_back(std::move(c));
  }
}

// herd's maxResponseBodyBytes: a whole number of bytes above 0, as a JSON
// number or a string of digits (the environment gives strings).
std::size_t byte_count(const json& v, const std::string& p) {
  constexpr const char* kWant = "must be a whole number of bytes above 0 (e.g. 268435456)";
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > 0) return static_cast<std::size_t>(v.get<std::uint64_t>());
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (d >= 1 && d <= 9.0e18 && d == static_cast<double>(static_cast<std::uint64_t>(d)))
      return static_cast<std::size_t>(d);
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    std::uint64_t n = 0;
    bool ok = !s.empty() && s.size() <= 18;
    for (char c : s) {
      if (c < '0' || c > '9') ok = false;
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (ok && n > 0) return static_cast<std::size_t>(n);
  }
  fail(p, kWant);
}

}  // namespace

bool apply_net_option(http::NetConfig& net, const std::string& k, const json& v, const std::string& p) {
  if (k == "hosts") {
    if (!v.is_object()) fail(p, "must be an object mapping host names to IP addresses");
    for (auto it = v.begin(); it != v.end(); ++it) {
      std::string err = net.hosts.add(it.key(), str(it.value(), p + "." + it.key()));
      if (!err.empty()) fail(p + "." + it.key(), err);
    }
  } else if (k == "dns") {
    if (v.is_string()) {
      for (const std::string& kv : split_commas(v.get<std::string>())) {
        auto eq = kv.find('=');
        if (eq == std::string::npos) fail(p, "expected key=value pairs, e.g. \"ttl=1m,policy=onlyIPv4\"");
        set_dns_field(net.dns, kv.substr(0, eq), json(kv.substr(eq + 1)), p + "." + kv.substr(0, eq));
      }
    } else {
      if (!v.is_object()) fail(p, "must be an object with ttl, select and policy");
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!it.value().is_null()) set_dns_field(net.dns, it.key(), it.value(), p + "." + it.key());
      }
    }
  } else if (k == "blacklistIPs") {
    add_blacklist(net, str_list(v, p), p);
  } else if (k == "blockHostnames") {
    add_blocked(net, str_list(v, p), p);
  } else if (k == "localIPs") {
    std::vector<std::string> items = str_list(v, p);
    std::string joined;
    for (const std::string& s : items) joined += (joined.empty() ? "" : ",") + s;
    if (!joined.empty()) set_local_ips(net, joined, p);
  } else if (k == "noVUConnectionReuse") {
    if (!v.is_boolean()) fail(p, "must be a boolean");
    net.no_vu_connection_reuse = v.get<bool>();
  } else if (k == "tlsVersion") {
    if (v.is_string()) {
      net.tls.min_version = net.tls.max_version = tls_version(v, p);
    } else if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (it.key() == "min")
          net.tls.min_version = tls_version(it.value(), p + ".min");
        else if (it.key() == "max")
          net.tls.max_version = tls_version(it.value(), p + ".max");
        else
          fail(p + "." + it.key(), "unknown field (expected min and max)");
      }
      if (net.tls.min_version && net.tls.max_version && net.tls.min_version > net.tls.max_version)
        fail(p, "min must not be above max");
    } else {
      fail(p, "must be a version string (e.g. \"tls1.2\") or {min, max}");
    }
  } else if (k == "tlsCipherSuites") {
    std::string list;
    std::vector<std::string> names = str_list(v, p);
    for (std::size_t i = 0; i < names.size(); ++i) {
      auto suite = http::cipher_suite_from_iana(names[i]);
      if (!suite) fail(p + "[" + std::to_string(i) + "]", "unknown cipher suite \"" + names[i] + "\"");
      if (suite->tls13) continue;  // as in k6: TLS 1.3 suites are not configurable
      list += (list.empty() ? "" : ":") + suite->openssl_name;
    }
    if (list.empty() && !names.empty()) {
      fail(p, "lists only TLS 1.3 suites, which cannot be restricted (as in k6); add TLS 1.2 suites or drop it");
    }
    net.tls.cipher_list = list;
  } else if (k == "tlsAuth") {
    set_tls_auth(net.tls, v, p);
  } else if (k == "maxResponseBodyBytes") {
    net.max_response_body = byte_count(v, p);
  } else {
    return false;
  }
  return true;
}

void apply_net_env(http::NetConfig& net, const std::map<std::string, std::string>& environ,
                   const std::map<std::string, std::string>& labels) {
  auto get = [&](const char* name) -> const std::string* {
    auto it = environ.find(name);
    return it == environ.end() || it->second.empty() ? nullptr : &it->second;
  };
  auto label = [&](const char* name) -> std::string {
    auto it = labels.find(name);
    return it == labels.end() ? std::string(name) : it->second;
  };
  if (const std::string* v = get("K6_DNS")) {
    net.dns = http::DnsConfig{};
    apply_net_option(net, "dns", json(*v), label("K6_DNS"));
  }
  if (const std::string* v = get("K6_BLACKLIST_IPS")) {
    net.blacklist.clear();
    add_blacklist(net, split_commas(*v), label("K6_BLACKLIST_IPS"));
  }
  if (const std::string* v = get("K6_BLOCK_HOSTNAMES")) {
    net.blocked_hostnames = http::HostPatterns{};
    add_blocked(net, split_commas(*v), label("K6_BLOCK_HOSTNAMES"));
  }
  if (const std::string* v = get("K6_LOCAL_IPS")) set_local_ips(net, *v, label("K6_LOCAL_IPS"));
  if (const std::string* v = get("HERD_MAX_RESPONSE_BODY_BYTES"))
    apply_net_option(net, "maxResponseBodyBytes", json(*v), label("HERD_MAX_RESPONSE_BODY_BYTES"));
  if (const std::string* v = get("K6_NO_VU_CONNECTION_REUSE")) {
    if (*v == "1" || *v == "true" || *v == "TRUE" || *v == "True" || *v == "t" || *v == "T") {
      net.no_vu_connection_reuse = true;
    } else if (*v == "0" || *v == "false" || *v == "FALSE" || *v == "False" || *v == "f" || *v == "F") {
      net.no_vu_connection_reuse = false;
    } else {
      fail(label("K6_NO_VU_CONNECTION_REUSE"), "invalid boolean \"" + *v + "\"");
    }
  }
}

}  // namespace herd::exec
