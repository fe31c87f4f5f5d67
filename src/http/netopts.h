#pragma once
// k6's network options as the HTTP client applies them: host name overrides
// (`hosts`), blocked host names (`blockHostnames`), blocked destination ranges
// (`blacklistIPs`), source addresses (`localIPs`), DNS settings (`dns`), TLS
// settings (`tlsVersion`, `tlsCipherSuites`, `tlsAuth`) and connection reuse.
// Pure data and matching: no sockets, no libcurl (the option parser links it).

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herd::http {

/// An IPv4 or IPv6 address.
struct IpAddr {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  ///< network order; IPv4 uses the first 4

  /// "127.0.0.1", "::1" (no brackets, no zone). nullopt when not an IP literal.
  static std::optional<IpAddr> parse(std::string_view text);
  std::string str() const;
  bool operator==(const IpAddr&) const = default;
};

/// A CIDR range such as "127.0.0.0/8" or "fd00::/64".
struct IpNet {
  IpAddr base;  ///< with the host bits cleared
  int prefix = 0;
  std::string text;  ///< as given

  static std::optional<IpNet> parse(std::string_view text);
  bool contains(const IpAddr& ip) const;
};

/// Host name patterns as k6 matches them: case-insensitive, exact, or with one
/// leading `*` that matches any prefix ("*.example.com" matches
/// "a.b.example.com" but not "example.com").
class HostPatterns {
 public:
  /// Adds a pattern; returns "" or why it is invalid.
  std::string add(std::string_view pattern);
  /// The first pattern matching `host` (lower-case host expected), or nullptr.
  const std::string* match(std::string_view host) const;
  bool empty() const { return patterns_.empty(); }

 private:
  std::vector<std::string> patterns_;  ///< lower-case
};

/// k6's `hosts`: "name" or "name:port" (name may use a leading `*`) mapped to
/// "IP" or "IP:port". A key with a port only applies to that port; exact
/// names win over wildcards, keys with a port over keys without.
class HostMap {
 public:
  struct Target {
    IpAddr ip;
    int port = 0;  ///< 0: the URL's port
  };
  /// Returns "" or why the entry is invalid.
  std::string add(std::string_view key, std::string_view value);
  /// The override for `host` (lower-case, no brackets) at `port`, or nullptr.
  const Target* find(std::string_view host, int port) const;
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    std::string name;  ///< lower-case, may start with '*'
    int port = 0;      ///< 0: any port
    Target target;
  };
  std::vector<Entry> entries_;
};

/// k6's `localIPs`: single addresses, "A-B" ranges and CIDRs; VU n (from 1)
/// gets address (n - 1) modulo the pool size, in the order given.
class IpPool {
 public:
  /// Parses "10.0.0.1,10.0.0.5-10.0.0.9,fd00::/120". Returns "" or the error.
  std::string parse(std::string_view text);
  bool empty() const { return ranges_.empty(); }
  std::string get(std::uint64_t index) const;

 private:
  struct Range {
    IpAddr first;
    unsigned __int128 count = 0;
  };
  std::vector<Range> ranges_;
  unsigned __int128 total_ = 0;
};

/// k6's `dns` option. Defaults are k6's, except `select` (see DnsSelect).
struct DnsConfig {
  enum class Policy { kPreferIPv4, kPreferIPv6, kOnlyIPv4, kOnlyIPv6, kAny };
  /// Seconds a resolved name is cached: 0 = no caching, -1 = forever. k6: 5m.
  long ttl_seconds = 300;
  Policy policy = Policy::kPreferIPv4;
};

/// One `tlsAuth` entry: a client certificate offered to the listed domains.
struct ClientCert {
  std::vector<std::string> domains;  ///< lower-case host names, exact match
  std::string cert_pem;
  std::string key_pem;
  std::string password;  ///< of an encrypted key; "" when none
};

/// TLS settings (libcurl only: the built-in client speaks plain HTTP).
struct TlsConfig {
  int min_version = 0;      ///< 0 = library default; else 10 (TLS 1.0), 11, 12, 13
  int max_version = 0;      ///< 0 = no maximum
  std::string cipher_list;  ///< OpenSSL names for TLS <= 1.2, ':'-separated; "" = default
  std::vector<ClientCert> client_certs;

  /// The client certificate for `host`, or nullptr.
  const ClientCert* cert_for(std::string_view host) const;
};

/// herd's default for NetConfig::max_response_body (and Request::max_body): 256 MiB.
inline constexpr std::size_t kDefaultMaxResponseBody = std::size_t{256} << 20;

/// The network options of a run. Immutable once the run starts; shared by
/// every worker's Client.
struct NetConfig {
  HostMap hosts;
  HostPatterns blocked_hostnames;
  std::vector<IpNet> blacklist;
  DnsConfig dns;
  TlsConfig tls;
  bool no_connection_reuse = false;     ///< every request on a new connection
  bool no_vu_connection_reuse = false;  ///< k6 layer: close a VU's connections between iterations
  IpPool local_ips;                     ///< k6 layer: the source address of each VU
  /// herd's maxResponseBodyBytes: the most body bytes a response may bring when its
  /// body is kept (raw and decoded); past it the request fails. Bytes, > 0.
  std::size_t max_response_body = kDefaultMaxResponseBody;

  /// True when requests need their host looked at (hosts, blocked names or ranges).
  bool checks_hosts() const { return !hosts.empty() || !blocked_hostnames.empty() || !blacklist.empty(); }
  /// The range containing `ip`, or nullptr.
  const IpNet* blacklisted(const IpAddr& ip) const;
};

/// The parts of an absolute http(s) URL that the network options look at.
struct UrlHost {
  bool https = false;
  std::string host;                                    ///< lower-case; IPv6 without brackets
  int port = 0;                                        ///< explicit or the scheme's default
  std::size_t authority_begin = 0, authority_end = 0;  ///< offsets of host[:port] in the URL
};
/// nullopt when `url` is not an http:// or https:// URL with a host.
std::optional<UrlHost> split_url_host(std::string_view url);

/// Where a request goes under `hosts`, `blockHostnames` and `blacklistIPs`.
struct NetRoute {
  int error_code = 0;       ///< kBlockedHostnameErrorCode or kBlacklistedIpErrorCode: refused before any traffic
  std::string error;        ///< k6's message when refused
  bool mapped = false;      ///< a `hosts` override applies
  std::string connect_to;   ///< for libcurl's CURLOPT_CONNECT_TO: "host:port:ip:port"
  std::string builtin_url;  ///< for the built-in client: the URL with the address in place of the name; "" for
                            ///< https or URLs with user info
  std::string host_header;  ///< with builtin_url: the Host header the original URL gives (as libcurl sends it)
};
/// Applies the options to `url`. A URL that is not http(s) is left alone (the transport reports it).
/// `localhost` is checked against blacklistIPs as 127.0.0.1, where both transports connect first.
NetRoute route_request(const NetConfig& net, std::string_view url);

/// k6's messages for blocked requests (error codes 1110 and 1111).
constexpr int kBlacklistedIpErrorCode = 1110;
constexpr int kBlockedHostnameErrorCode = 1111;
std::string blacklisted_ip_message(const IpAddr& ip, const IpNet& net);
std::string blocked_hostname_message(std::string_view host, std::string_view pattern);

}  // namespace herd::http
