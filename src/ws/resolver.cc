#include "ws/resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include "util/duration.h"

namespace herd::ws {

namespace {

const char kAttachmentKey = 0;
constexpr std::chrono::milliseconds kDefaultTimeout{10000};

struct ChannelFree {
  void operator()(ares_channeldata* c) const { ares_destroy(c); }
};
struct AddrInfoFree {
  void operator()(ares_addrinfo* a) const { ares_freeaddrinfo(a); }
};
using ChannelPtr = std::unique_ptr<ares_channeldata, ChannelFree>;

std::string trim(std::string s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(0, 1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

/// HERD_DNS_SERVERS and HERD_DNS_TIMEOUT, read once per process.
struct EnvConfig {
  std::string servers;  ///< c-ares CSV, "" = the system's configuration
  std::chrono::milliseconds timeout = kDefaultTimeout;
  std::string error;
};

const EnvConfig& env_config() {
  static const EnvConfig c = [] {
    EnvConfig e;
    try {
      e.servers = dns_servers_from_env(std::getenv("HERD_DNS_SERVERS"));
      e.timeout = dns_timeout_from_env(std::getenv("HERD_DNS_TIMEOUT"));
    } catch (const std::exception& ex) {
      e.error = ex.what();
    }
    return e;
  }();
  return c;
}

/// Go's wording for a failed lookup (after "lookup NAME: ").
std::string lookup_error(int status) {
  switch (status) {
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_ENONAME:
      return "no such host";
    case ARES_ETIMEOUT:
      return "i/o timeout";
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_EFORMERR:
    case ARES_EBADRESP:
      return "server misbehaving";
    case ARES_ECONNREFUSED:
      return "connection refused";
    default:
      return ares_strerror(status);
  }
}

}  // namespace

std::string dns_servers_from_env(const char* value) {
  if (!value || !*value) return "";
  std::string all(value), csv;
  std::size_t p = 0;
  while (p <= all.size()) {
    std::size_t e = all.find(',', p);
    std::string one = trim(all.substr(p, e == std::string::npos ? std::string::npos : e - p));
    p = e == std::string::npos ? all.size() + 1 : e + 1;
    if (one.empty()) continue;
    std::string host = one, port = "53";
    if (one.front() == '[') {
      std::size_t close = one.find(']');
      if (close == std::string::npos) throw std::invalid_argument("HERD_DNS_SERVERS: malformed entry \"" + one + "\"");
      host = one.substr(1, close - 1);
      if (close + 1 < one.size()) {
        if (one[close + 1] != ':') throw std::invalid_argument("HERD_DNS_SERVERS: malformed entry \"" + one + "\"");
        port = one.substr(close + 2);
      }
    } else if (std::count(one.begin(), one.end(), ':') == 1) {
      host = one.substr(0, one.find(':'));
      port = one.substr(one.find(':') + 1);
    }
    in6_addr a6{};
    in_addr a4{};
    bool v6 = inet_pton(AF_INET6, host.c_str(), &a6) == 1;
    if (!v6 && inet_pton(AF_INET, host.c_str(), &a4) != 1)
      throw std::invalid_argument("HERD_DNS_SERVERS: \"" + one + "\" is not an IP address with an optional port");
    int n = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || n > 65535) {
        n = -1;
        break;
      }
      n = n * 10 + (c - '0');
    }
    if (port.empty() || n < 1 || n > 65535)
      throw std::invalid_argument("HERD_DNS_SERVERS: invalid port in \"" + one + "\"");
    if (!csv.empty()) csv += ",";
    csv += (v6 ? "[" + host + "]" : host) + ":" + std::to_string(n);
  }
  if (csv.empty()) throw std::invalid_argument("HERD_DNS_SERVERS: no server in \"" + all + "\"");
  return csv;
}

std::chrono::milliseconds dns_timeout_from_env(const char* value) {
  if (!value || !*value) return kDefaultTimeout;
  std::chrono::microseconds d;
  try {
    d = util::parse_duration(value);
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("HERD_DNS_TIMEOUT: ") + e.what());
  }
  if (d < std::chrono::milliseconds(1) || d > std::chrono::hours(1))
    throw std::invalid_argument(std::string("HERD_DNS_TIMEOUT: \"") + value + "\" must be between 1ms and 1h");
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

struct Resolver::Impl : std::enable_shared_from_this<Resolver::Impl> {
  explicit Impl(loop::EventLoop& l) : loop(l) {}
  ~Impl() {
    channel.reset();  // pending queries end with ARES_EDESTRUCTION (ignored); their sockets are unwatched
    if (channel_timer) loop.cancel_timer(channel_timer);
    for (auto& [id, p] : pending)
      if (p.timer) loop.cancel_timer(p.timer);
  }

  struct Pending {
    Callback cb;
    std::string name, key;
    DnsPolicy policy = DnsPolicy::kPreferIPv4;
    long ttl = 0;
    loop::TimerId timer = 0;
    bool finished = false;
  };
  struct CacheEntry {
    std::vector<ResolvedAddr> addrs;
    loop::Clock::time_point expires;
  };
  /// What c-ares carries for one query (owned by c-ares until its callback).
  struct QueryArg {
    std::weak_ptr<Impl> impl;
    std::string key;
  };

  loop::EventLoop& loop;
  ChannelPtr channel;
  std::chrono::milliseconds timeout{kDefaultTimeout};
  loop::TimerId channel_timer = 0;
  std::set<int> watched;
  std::map<std::uint64_t, Pending> pending;
  std::map<std::string, std::vector<std::uint64_t>> inflight;  ///< by key: the lookups waiting for one query
  std::map<std::string, CacheEntry> cache;
  std::uint64_t next_id = 1;

  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* im = static_cast<Impl*>(data);
    if (!readable && !writable) {
      if (im->watched.erase(fd)) im->loop.unwatch(fd);
      return;
    }
    std::uint32_t ev = (readable ? std::uint32_t{EPOLLIN} : 0u) | (writable ? std::uint32_t{EPOLLOUT} : 0u);
    if (im->watched.insert(fd).second)
      im->loop.watch(fd, ev, [im, fd](std::uint32_t e) { im->on_io(fd, e); });
    else
      im->loop.modify(fd, ev);
  }

  void on_io(int fd, std::uint32_t e) {
    ares_socket_t r = (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD;
    ares_socket_t w = (e & EPOLLOUT) ? fd : ARES_SOCKET_BAD;
    ares_process_fd(channel.get(), r, w);
    reschedule();
  }

  /// One loop timer for c-ares's retries and timeouts.
  void reschedule() {
    if (channel_timer) loop.cancel_timer(channel_timer), channel_timer = 0;
    if (!channel) return;
    timeval tv{};
    timeval* t = ares_timeout(channel.get(), nullptr, &tv);
    if (!t) return;
    auto when = loop.now() + std::chrono::seconds(t->tv_sec) + std::chrono::microseconds(t->tv_usec);
    channel_timer = loop.add_timer(when, [this] {
      channel_timer = 0;
      ares_process_fd(channel.get(), ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      reschedule();
    });
  }

  static void order(std::vector<ResolvedAddr>* addrs, DnsPolicy policy) {
    if (policy == DnsPolicy::kPreferIPv4 || policy == DnsPolicy::kPreferIPv6) {
      int first = policy == DnsPolicy::kPreferIPv4 ? AF_INET : AF_INET6;
      std::stable_partition(addrs->begin(), addrs->end(),
                            [first](const ResolvedAddr& a) { return a.addr.ss_family == first; });
    }
  }

  /// Ends lookup `id` with `r`: its callback runs after the loop's current work, if its handle still lives.
  void finish(std::uint64_t id, LookupResult r) {
    auto it = pending.find(id);
    if (it == pending.end() || it->second.finished) return;
    it->second.finished = true;
    if (it->second.timer) loop.cancel_timer(it->second.timer), it->second.timer = 0;
    if (r.error.empty()) order(&r.addrs, it->second.policy);
    std::weak_ptr<Impl> w = shared_from_this();
    loop.defer([w, id, r = std::move(r)]() mutable {
      auto im = w.lock();
      if (!im) return;
      auto p = im->pending.find(id);
      if (p == im->pending.end()) return;  // the handle went meanwhile
      Callback cb = std::move(p->second.cb);
      im->pending.erase(p);
      if (cb) cb(std::move(r));
    });
  }

  void complete(const std::string& key, int status, std::vector<ResolvedAddr> addrs) {
    auto waiting = inflight.find(key);
    if (waiting == inflight.end()) return;
    std::vector<std::uint64_t> ids = std::move(waiting->second);
    inflight.erase(waiting);
    LookupResult r;
    if (status != ARES_SUCCESS)
      r.error = lookup_error(status);
    else if (addrs.empty())
      r.error = "no such host";
    else
      r.addrs = std::move(addrs);
    for (std::uint64_t id : ids) {
      auto it = pending.find(id);
      if (it == pending.end()) continue;
      if (r.error.empty() && it->second.ttl != 0) {
        auto expires =
            it->second.ttl < 0 ? loop::Clock::time_point::max() : loop.now() + std::chrono::seconds(it->second.ttl);
        cache[key] = CacheEntry{r.addrs, expires};
      }
      finish(id, r);
    }
  }

  static void on_answer(void* arg, int status, int /*timeouts*/, ares_addrinfo* res) {
    std::unique_ptr<QueryArg> q(static_cast<QueryArg*>(arg));
    std::unique_ptr<ares_addrinfo, AddrInfoFree> owner(res);
    if (status == ARES_EDESTRUCTION) return;
    auto im = q->impl.lock();
    if (!im) return;
    std::vector<ResolvedAddr> addrs;
    if (status == ARES_SUCCESS && res) {
      for (ares_addrinfo_node* n = res->nodes; n; n = n->ai_next) {
        if (!n->ai_addr || (n->ai_family != AF_INET && n->ai_family != AF_INET6)) continue;
        if (n->ai_addrlen > sizeof(sockaddr_storage)) continue;
        ResolvedAddr a;
        std::memcpy(&a.addr, n->ai_addr, n->ai_addrlen);
        a.len = n->ai_addrlen;
        char buf[INET6_ADDRSTRLEN] = {};
        const void* src = n->ai_family == AF_INET
                              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(n->ai_addr)->sin_addr)
                              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(n->ai_addr)->sin6_addr);
        inet_ntop(n->ai_family, src, buf, sizeof buf);
        a.ip = buf;
        bool dup = std::any_of(addrs.begin(), addrs.end(), [&a](const ResolvedAddr& b) { return b.ip == a.ip; });
        if (!dup) addrs.push_back(std::move(a));
      }
    }
    im->complete(q->key, status, std::move(addrs));
  }
};

Resolver::Resolver(loop::EventLoop& loop) : impl_(std::make_shared<Impl>(loop)) {
  const EnvConfig& env = env_config();
  if (!env.error.empty()) throw std::runtime_error(env.error);
  static std::once_flag once;
  static int init_status = ARES_SUCCESS;
  std::call_once(once, [] { init_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (init_status != ARES_SUCCESS) throw std::runtime_error(std::string("c-ares: ") + ares_strerror(init_status));
  impl_->timeout = env.timeout;
  ares_options o{};
  o.sock_state_cb = &Impl::on_sock_state;
  o.sock_state_cb_data = impl_.get();
  // Tries within the lookup's bound: a third of it each, at most 2 s (c-ares doubles it per round).
  o.timeout = static_cast<int>(std::clamp<long long>(env.timeout.count() / 3, 50, 2000));
  o.tries = 3;
  ares_channel ch = nullptr;
  int rc = ares_init_options(&ch, &o, ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
  if (rc != ARES_SUCCESS) throw std::runtime_error(std::string("c-ares: ") + ares_strerror(rc));
  impl_->channel.reset(ch);
  if (!env.servers.empty()) {
    rc = ares_set_servers_ports_csv(ch, env.servers.c_str());
    if (rc != ARES_SUCCESS) throw std::runtime_error("HERD_DNS_SERVERS: " + env.servers + ": " + ares_strerror(rc));
  }
}

Resolver::~Resolver() = default;

Resolver& Resolver::of(loop::EventLoop& loop) {
  if (auto* a = loop.attachment(&kAttachmentKey)) return static_cast<Resolver&>(*a);
  std::unique_ptr<Resolver> r(new Resolver(loop));
  return static_cast<Resolver&>(*loop.attach(&kAttachmentKey, std::move(r)));
}

std::shared_ptr<void> Resolver::lookup(const std::string& name, DnsPolicy policy, long ttl_seconds, Callback cb) {
  Impl& im = *impl_;
  int family = policy == DnsPolicy::kOnlyIPv4 ? AF_INET : policy == DnsPolicy::kOnlyIPv6 ? AF_INET6 : AF_UNSPEC;
  std::string key = name + '\n' + std::to_string(family);
  std::uint64_t id = im.next_id++;
  Impl::Pending& p = im.pending[id];
  p.cb = std::move(cb);
  p.name = name;
  p.key = key;
  p.policy = policy;
  p.ttl = ttl_seconds;
  std::weak_ptr<Impl> w = impl_;
  auto handle = std::shared_ptr<void>(nullptr, [w, id](void*) {
    if (auto i = w.lock()) {
      auto it = i->pending.find(id);
      if (it == i->pending.end()) return;
      if (it->second.timer) i->loop.cancel_timer(it->second.timer);
      i->pending.erase(it);
    }
  });
  auto c = im.cache.find(key);
  if (c != im.cache.end()) {
    if (ttl_seconds != 0 && im.loop.now() < c->second.expires) {
      LookupResult r;
      r.addrs = c->second.addrs;
      im.finish(id, std::move(r));
      return handle;
    }
    im.cache.erase(c);
  }
  p.timer = im.loop.add_timer(im.loop.now() + im.timeout, [w, id] {
    if (auto i = w.lock()) {
      auto it = i->pending.find(id);
      if (it == i->pending.end()) return;
      it->second.timer = 0;
      LookupResult r;
      r.error = "i/o timeout";
      i->finish(id, std::move(r));
    }
  });
  auto& waiting = im.inflight[key];
  waiting.push_back(id);
  if (waiting.size() > 1) return handle;  // the query for this name is on its way
  ares_addrinfo_hints hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  auto arg = std::make_unique<Impl::QueryArg>(Impl::QueryArg{w, key});
  ares_getaddrinfo(im.channel.get(), name.c_str(), nullptr, &hints, &Impl::on_answer, arg.release());
  im.reschedule();
  return handle;
}

}  // namespace herd::ws
