#pragma once
// Non-blocking host name resolution on a loop::EventLoop with c-ares: one
// channel per loop (an EventLoop attachment, so it dies before the loop), its
// sockets watched by the loop and its retries driven by a loop timer. A lookup
// never blocks the loop's thread; its callback runs on the loop.
//
// Where queries go: the system's resolver configuration (/etc/resolv.conf,
// /etc/hosts), or only the servers in HERD_DNS_SERVERS ("ip[:port],..."; IP
// literals only). Each lookup is bounded by its own timeout.

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/netopts.h"
#include "loop/event_loop.h"

namespace herd::ws {

/// k6's dns.policy: the one the HTTP client uses.
using DnsPolicy = http::DnsConfig::Policy;

struct ResolvedAddr {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string ip;  ///< "127.0.0.1" or "::1" (no brackets)
};

struct LookupResult {
  std::string error;                ///< "" on success; else Go's wording after "lookup NAME: " (see resolver.cc)
  std::vector<ResolvedAddr> addrs;  ///< in the policy's order (port 0)
};

/// The servers HERD_DNS_SERVERS names, as c-ares's CSV ("" when unset); throws
/// std::invalid_argument with a clear message for an entry that is not "ip[:port]".
std::string dns_servers_from_env(const char* value);
/// HERD_DNS_TIMEOUT ("2s", "500ms"; default 10 s): the bound of one lookup. Throws std::invalid_argument.
std::chrono::milliseconds dns_timeout_from_env(const char* value);

class Resolver : public loop::EventLoop::Attachment {
 public:
  using Callback = std::function<void(LookupResult)>;
  /// The resolver of `loop`, made on first use (loop thread only). Throws
  /// std::runtime_error when c-ares cannot start or HERD_DNS_SERVERS is invalid.
  static Resolver& of(loop::EventLoop& loop);
  ~Resolver() override;
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  /// Looks `name` up; `cb` runs once on the loop (never inside this call), unless
  /// the returned handle is destroyed first. `ttl_seconds`: k6's dns.ttl (0: no
  /// cache, -1: forever) for answers cached per loop.
  [[nodiscard]] std::shared_ptr<void> lookup(const std::string& name, DnsPolicy policy, long ttl_seconds, Callback cb);

  struct Impl;

 private:
  explicit Resolver(loop::EventLoop& loop);
  std::shared_ptr<Impl> impl_;
};

}  // namespace herd::ws
