// herd-sim-runners: many simulated runners in one process, for measuring the
// coordinator at scale (bench/scale.sh, docs/scaling.md).
//
// Each simulated runner listens on its own loopback port and speaks the part
// of the runner control API the coordinator uses (GET/PATCH /v1/status,
// GET /v1/snapshot, POST/PUT /v1/setup, POST /v1/teardown) over keep-alive
// HTTP/1.1. Snapshots are real wire-format documents (metrics::Snapshot::to_json,
// or metrics::to_binary when the request's Accept asks for the binary form, as
// a real runner answers) built from synthesised samples: the built-in HTTP metrics with scenario, name,
// method and status tags, histograms with many buckets, a few templates with
// different bucket sets. One epoll loop serves every port.
//
//   herd-sim-runners --runners N [--duration 10s] [--templates 16] [--requests 20000]
//                    [--tagsets 8] [--json-only] --addresses FILE [--expect FILE] [--starts FILE]
//                    [--stats FILE]
//
// --addresses: the comma-separated HOST:PORT list for `herd coordinator --runners`.
// --expect: the exact totals the merged final snapshots must have (JSON).
// --starts: on exit, each runner's start instant (unix µs, one a line), so the
// start skew as the runners saw it can be computed.
// --stats: every second and on exit, {"requests", "snapshots", "bytesOut", "bytesIn", "seconds"}
// since serving started.
// --json-only: answer every snapshot request in JSON, whatever it accepts (a
// runner older than the binary form).
// --measure-decode N: serve nothing; decode (and free) every template's
// mid-test snapshot N times in each form, merge N of them, encode them, and
// print the CPU time per snapshot (the coordinator's per-runner cost without
// the network) as JSON.
// A runner is paused (status 4) until PATCH {"paused":false}; it runs for
// --duration from then (or from the "start-at-us" instant the PATCH names), then
// reports status 9 and exit code 0, and serves its final snapshot. The process
// exits once every runner's linger was ended (PATCH {"stopped":true} after the
// end), or on SIGINT/SIGTERM.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics/registry.h"
#include "metrics/sink.h"
#include "metrics/snapshot_binary.h"
#include "util/duration.h"

namespace {

using json = nlohmann::json;
using namespace herd;

/// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::int64_t unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

volatile sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

struct Options {
  std::size_t runners = 0;
  std::int64_t duration_us = 10'000'000;
  std::size_t templates = 16;
  std::size_t requests = 20000;
  std::size_t tagsets = 8;
  bool json_only = false;
  std::size_t measure_decode = 0;
  std::string addresses_file, expect_file, starts_file, stats_file;
};

/// One template: the snapshot in the middle of the run and the final one,
/// serialised in JSON and in the binary form.
struct Template {
  std::string mid, fin, mid_bin, fin_bin;
  metrics::Snapshot final_snapshot;
};

/// Synthesises a runner's samples: `requests` HTTP requests spread over
/// `tagsets` (scenario, name, status) series, log-normal latencies whose
/// median and spread depend on the template (so bucket sets differ).
Template make_template(std::size_t k, const Options& o) {
  metrics::Registry reg;
  metrics::Sink sink(reg);
  auto id = [&](const char* n) { return *reg.find(n); };
  const metrics::MetricId reqs = id("http_reqs"), dur = id("http_req_duration"), wait = id("http_req_waiting"),
                          send = id("http_req_sending"), recv = id("http_req_receiving"),
                          conn = id("http_req_connecting"), blocked = id("http_req_blocked"),
                          failed = id("http_req_failed"), iters = id("iterations"), idur = id("iteration_duration"),
                          sent = id("data_sent"), rcvd = id("data_received"), checks = id("checks"), vus = id("vus"),
                          vus_max = id("vus_max");
  const metrics::MetricId custom = reg.define("order_value", metrics::MetricType::kTrend, metrics::ValueType::kDefault);
  std::mt19937_64 rng(0x5eed + k);
  const char* scenarios[] = {"browse", "api", "checkout"};
  const char* names[] = {"home", "search", "item", "cart", "login", "pay", "profile", "logout"};
  std::vector<metrics::TagSet> tags;
  for (std::size_t t = 0; t < o.tagsets; ++t)
    tags.push_back(metrics::intern(metrics::TagSet({{"scenario", scenarios[t % 3]},
                                                    {"name", names[t % 8]},
                                                    {"method", t % 4 == 3 ? "POST" : "GET"},
                                                    {"status", t % 7 == 6 ? "404" : "200"},
                                                    {"expected_response", t % 7 == 6 ? "false" : "true"}})));
  std::vector<metrics::TagSet> scen;
  for (const char* s : scenarios)
    scen.push_back(metrics::intern(metrics::TagSet(std::vector<std::pair<std::string, std::string>>{{"scenario", s}})));
  const double median_ms = 5.0 + static_cast<double>(k % 7) * 7.0;
  std::lognormal_distribution<double> lat(std::log(median_ms), 0.5 + 0.05 * static_cast<double>(k % 5));
  std::uniform_real_distribution<double> u(0, 1);
  Template out;
  const std::int64_t t0 = unix_us();
  auto add = [&](metrics::MetricId m, const metrics::TagSet& ts, double v) { sink.add(m, ts, v, t0); };
  for (std::size_t i = 0; i < o.requests; ++i) {
    if (i == o.requests / 2) {
      auto s = sink.snapshot();
      s.time_us = t0;
      out.mid = s.to_json().dump();
      out.mid_bin = metrics::to_binary(s);
    }
    const auto& ts = tags[i % tags.size()];
    const auto& sc = scen[(i % tags.size()) % 3];
    double d = lat(rng);
    bool bad = *ts.get("status") != "200";
    add(reqs, ts, 1);
    add(dur, ts, d);
    add(wait, ts, d * 0.9);
    add(send, ts, 0.01 + u(rng) * 0.05);
    add(recv, ts, 0.02 + u(rng) * 0.3);
    add(conn, ts, i % 50 == 0 ? 0.1 + u(rng) : 0.0);
    add(blocked, ts, i % 50 == 0 ? 0.2 + u(rng) : 0.0);
    add(failed, ts, bad ? 1 : 0);
    add(sent, sc, 120 + static_cast<double>(i % 40));
    add(rcvd, sc, 900 + static_cast<double>(i % 300));
    if (i % 4 == 3) {
      add(iters, sc, 1);
      add(idur, sc, d * 4 + 100);
      add(checks, metrics::intern(metrics::TagSet({{"check", "status is 200"}, {"scenario", *sc.get("scenario")}})),
          bad ? 0 : 1);
      add(custom, sc, 10 + u(rng) * 990);
    }
  }
  add(vus, metrics::TagSet(), 10);
  add(vus_max, metrics::TagSet(), 10);
  out.final_snapshot = sink.snapshot();
  out.final_snapshot.time_us = t0;
  metrics::GeneratorHealth g;
  g.seconds = static_cast<double>(o.duration_us) / 1e6;
  g.cpu_avg = g.cpu_last = g.cpu_max = 0.3;
  out.final_snapshot.generators.push_back(g);
  out.fin = out.final_snapshot.to_json().dump();
  out.fin_bin = metrics::to_binary(out.final_snapshot);
  return out;
}

struct Runner {
  Fd listen;
  std::uint16_t port = 0;
  std::size_t tmpl = 0;
  int status = 4;
  std::int64_t start_us = 0;  ///< when it started (or is to start), unix µs
  std::int64_t end_us = 0;
  int exit_code = -1;
  bool released = false;
};

struct Conn {
  Fd fd;
  std::size_t runner = 0;
  std::string in, out;
};

class Sim {
 public:
  Sim(Options o) : o_(std::move(o)) {}
  void build();
  void serve();
  std::size_t released() const { return released_; }
  void write_starts() const;
  void write_stats() const;

 private:
  void update(Runner& r, std::int64_t now) {
    if (r.status == 7 && now >= r.end_us) {
      r.status = 9;
      r.exit_code = 0;
    }
  }
  std::string status_json(Runner& r) {
    update(r, unix_us());
    json a = {{"status", r.status}, {"paused", r.status == 4},  {"vus", r.status == 7 ? 10 : 0},
              {"vus-max", 10},      {"stopped", r.status == 9}, {"running", r.status == 7},
              {"tainted", false}};
    if (r.exit_code >= 0) a["exit-code"] = r.exit_code;
    if (r.status != 4 && unix_us() >= r.start_us) a["started-at-us"] = r.start_us;
    a["clock-us"] = unix_us();
    return json{{"data", {{"type", "status"}, {"id", "default"}, {"attributes", a}}}}.dump();
  }
  /// Returns the HTTP status; sets `body`. `binary`: a snapshot is answered in the binary form.
  int handle(Runner& r, const std::string& method, const std::string& path, const std::string& req_body, bool binary,
             std::string& body);
  void on_readable(int fd);
  void flush(Conn& c);
  void close_conn(int fd);

  Options o_;
  std::vector<Template> templates_;
  std::vector<Runner> runners_;
  std::unordered_map<int, std::size_t> listen_of_;  ///< listening fd -> runner
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;
  Fd ep_;
  std::size_t released_ = 0;
  std::uint64_t requests_ = 0, bytes_out_ = 0, bytes_in_ = 0, snapshots_ = 0;
  std::int64_t serve_start_us_ = 0;
};

void raise_fd_limit(std::size_t need) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur >= need) return;
  rlimit want = rl;
  want.rlim_cur = need;
  if (want.rlim_max < need) want.rlim_max = need;  // root may raise the hard limit
  if (setrlimit(RLIMIT_NOFILE, &want) == 0) return;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < need)
    throw std::runtime_error("need " + std::to_string(need) + " file descriptors, the limit is " +
                             std::to_string(rl.rlim_cur) + " (raise ulimit -n)");
}

void Sim::build() {
  raise_fd_limit(o_.runners * 2 + 64);
  for (std::size_t k = 0; k < std::min(o_.templates, o_.runners); ++k) templates_.push_back(make_template(k, o_));
  ep_ = Fd(epoll_create1(EPOLL_CLOEXEC));
  if (ep_.get() < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  runners_.resize(o_.runners);
  for (std::size_t i = 0; i < o_.runners; ++i) {
    Runner& r = runners_[i];
    r.tmpl = i % templates_.size();
    r.listen = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (r.listen.get() < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(r.listen.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(r.listen.get(), 64) != 0)
      throw std::runtime_error(std::string("bind/listen: ") + std::strerror(errno));
    socklen_t len = sizeof a;
    getsockname(r.listen.get(), reinterpret_cast<sockaddr*>(&a), &len);
    r.port = ntohs(a.sin_port);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = r.listen.get();
    epoll_ctl(ep_.get(), EPOLL_CTL_ADD, r.listen.get(), &ev);
    listen_of_[r.listen.get()] = i;
  }
  std::string list;
  for (auto& r : runners_) {
    if (!list.empty()) list += ',';
    list += "127.0.0.1:";
    list += std::to_string(r.port);
  }
  std::ofstream(o_.addresses_file) << list << "\n";
  if (!o_.expect_file.empty()) {
    metrics::Snapshot all;
    for (auto& r : runners_) all.merge(templates_[r.tmpl].final_snapshot);
    auto counter = [&](const char* n) { return all.aggregate(*all.find(n)).sum; };
    auto d = all.aggregate(*all.find("http_req_duration")).trend;
    auto chk = all.aggregate(*all.find("checks"));
    std::size_t bytes_mid = 0, bytes_fin = 0, bin_mid = 0, bin_fin = 0;
    for (auto& r : runners_) {
      bytes_mid += templates_[r.tmpl].mid.size();
      bytes_fin += templates_[r.tmpl].fin.size();
      bin_mid += templates_[r.tmpl].mid_bin.size();
      bin_fin += templates_[r.tmpl].fin_bin.size();
    }
    const double n = static_cast<double>(o_.runners);
    json e = {{"runners", o_.runners},
              {"http_reqs", counter("http_reqs")},
              {"iterations", counter("iterations")},
              {"data_sent", counter("data_sent")},
              {"data_received", counter("data_received")},
              {"checks_passes", chk.passes},
              {"checks_total", chk.total},
              {"http_req_duration_min", d.min()},
              {"http_req_duration_max", d.max()},
              {"http_req_duration_avg", d.mean()},
              {"snapshot_bytes_mid_avg", static_cast<double>(bytes_mid) / n},
              {"snapshot_bytes_final_avg", static_cast<double>(bytes_fin) / n},
              {"binary_bytes_mid_avg", static_cast<double>(bin_mid) / n},
              {"binary_bytes_final_avg", static_cast<double>(bin_fin) / n},
              {"json_only", o_.json_only}};
    std::ofstream(o_.expect_file) << e.dump() << "\n";
  }
  std::fprintf(stderr,
               "herd-sim-runners: %zu runners listening (%zu templates, snapshot %zu bytes mid, %zu final; binary "
               "%zu, %zu)\n",
               o_.runners, templates_.size(), templates_[0].mid.size(), templates_[0].fin.size(),
               templates_[0].mid_bin.size(), templates_[0].fin_bin.size());
}

int Sim::handle(Runner& r, const std::string& method, const std::string& path, const std::string& req_body, bool binary,
                std::string& body) {
  const std::int64_t now = unix_us();
  update(r, now);
  if (path == "/v1/status" && method == "GET") {
    body = status_json(r);
    return 200;
  }
  if (path == "/v1/status" && method == "PATCH") {
    json a;
    try {
      a = json::parse(req_body).at("data").at("attributes");
    } catch (const std::exception& e) {
      body = json{{"errors", {{{"detail", e.what()}}}}}.dump();
      return 400;
    }
    if (a.contains("paused") && a["paused"] == false) {
      if (r.status != 4) {
        body = R"({"errors":[{"detail":"test is not paused"}]})";
        return 400;
      }
      r.start_us = now;
      if (a.contains("start-at-us") && a["start-at-us"].is_number_integer())
        r.start_us = std::max(now, a["start-at-us"].get<std::int64_t>());
      r.end_us = r.start_us + o_.duration_us;
      r.status = 7;
    }
    if (a.contains("stopped") && a["stopped"] == true) {
      if (r.status == 9) {
        if (!r.released) released_++;
        r.released = true;
      } else {
        r.status = 9;
        r.exit_code = 105;
      }
    }
    body = status_json(r);
    return 200;
  }
  if (path == "/v1/snapshot" && method == "GET") {
    const Template& t = templates_[r.tmpl];
    snapshots_++;
    if (binary)
      body = r.status == 9 ? t.fin_bin : t.mid_bin;
    else
      body = r.status == 9 ? t.fin : t.mid;
    return 200;
  }
  if (path == "/v1/setup" && (method == "POST" || method == "PUT" || method == "GET")) {
    body = R"({"data":{"type":"setupData","id":"default","attributes":{"data":null}}})";
    return 200;
  }
  if (path == "/v1/teardown" && method == "POST") {
    body = "{}";
    return 200;
  }
  body = R"({"errors":[{"detail":"not found"}]})";
  return 404;
}

void Sim::close_conn(int fd) {
  epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr);
  conns_.erase(fd);
}

void Sim::flush(Conn& c) {
  while (!c.out.empty()) {
    ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes_out_ += static_cast<std::uint64_t>(n);
      c.out.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    close_conn(c.fd.get());
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | (c.out.empty() ? 0u : static_cast<std::uint32_t>(EPOLLOUT));
  ev.data.fd = c.fd.get();
  epoll_ctl(ep_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
}

void Sim::on_readable(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      bytes_in_ += static_cast<std::uint64_t>(n);
      c.in.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    close_conn(fd);
    return;
  }
  for (;;) {
    auto hdr_end = c.in.find("\r\n\r\n");
    if (hdr_end == std::string::npos) break;
    std::string head = c.in.substr(0, hdr_end);
    std::size_t content_length = 0;
    std::string accept;
    for (std::size_t p = head.find("\r\n"); p != std::string::npos; p = head.find("\r\n", p + 2)) {
      static const char kCl[] = "content-length:";
      static const char kAccept[] = "accept:";
      if (strncasecmp(head.c_str() + p + 2, kCl, sizeof kCl - 1) == 0)
        content_length = std::strtoul(head.c_str() + p + 2 + sizeof kCl - 1, nullptr, 10);
      if (strncasecmp(head.c_str() + p + 2, kAccept, sizeof kAccept - 1) == 0) {
        std::size_t from = p + 2 + sizeof kAccept - 1;
        accept += (accept.empty() ? "" : ", ") + head.substr(from, head.find("\r\n", from) - from);
      }
    }
    const bool binary = !o_.json_only && metrics::accepts_binary_snapshot(accept);
    if (c.in.size() < hdr_end + 4 + content_length) break;
    std::string req_body = c.in.substr(hdr_end + 4, content_length);
    c.in.erase(0, hdr_end + 4 + content_length);
    auto sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
    std::string method = head.substr(0, sp1), path = head.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string body;
    int code = handle(runners_[c.runner], method, path, req_body, binary, body);
    requests_++;
    const bool bin_body = binary && code == 200 && path == "/v1/snapshot";
    c.out += "HTTP/1.1 " + std::to_string(code) + (code == 200 ? " OK" : " Error") + "\r\nContent-Type: " +
             (bin_body ? std::string(metrics::kSnapshotBinaryType) : std::string("application/json")) +
             "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    c.out += body;
  }
  flush(c);
}

void Sim::serve() {
  std::vector<epoll_event> evs(256);
  serve_start_us_ = unix_us();
  std::int64_t next_stats = serve_start_us_ + 1'000'000;
  while (!g_stop && released_ < runners_.size()) {
    int n = epoll_wait(ep_.get(), evs.data(), static_cast<int>(evs.size()), 200);
    if (unix_us() >= next_stats) {  // the counters once a second, for a bench that measures a window
      write_stats();
      next_stats += 1'000'000;
    }
    if (n < 0 && errno != EINTR) throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
    for (int k = 0; k < n; ++k) {
      int fd = evs[k].data.fd;
      if (auto l = listen_of_.find(fd); l != listen_of_.end()) {
        for (;;) {
          int cfd = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;
          int one = 1;
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto c = std::make_unique<Conn>();
          c->fd = Fd(cfd);
          c->runner = l->second;
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.fd = cfd;
          epoll_ctl(ep_.get(), EPOLL_CTL_ADD, cfd, &ev);
          conns_[cfd] = std::move(c);
        }
        continue;
      }
      if (evs[k].events & EPOLLOUT) {
        auto it = conns_.find(fd);
        if (it != conns_.end()) flush(*it->second);
      }
      if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(fd);
    }
  }
}

void Sim::write_stats() const {
  if (o_.stats_file.empty()) return;
  const std::string tmp = o_.stats_file + ".tmp";  // renamed over: a reader never sees half a file
  std::ofstream(tmp) << json{{"requests", requests_},
                             {"snapshots", snapshots_},
                             {"bytesOut", bytes_out_},
                             {"bytesIn", bytes_in_},
                             {"seconds", static_cast<double>(unix_us() - serve_start_us_) / 1e6}}
                            .dump()
                     << "\n";
  std::rename(tmp.c_str(), o_.stats_file.c_str());
}

void Sim::write_starts() const {
  write_stats();
  if (o_.starts_file.empty()) return;
  std::ofstream f(o_.starts_file);
  for (auto& r : runners_) f << r.start_us << "\n";
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "herd-sim-runners: %s\nusage: herd-sim-runners --runners N --addresses FILE [--duration 10s] "
               "[--templates 16] [--requests 20000] [--tagsets 8] [--json-only] [--expect FILE] [--starts FILE] "
               "[--stats FILE]\n       herd-sim-runners --measure-decode N [--templates 16] [--requests 20000] "
               "[--tagsets 8]\n",
               why.c_str());
  std::exit(2);
}

std::size_t count_arg(const std::string& flag, const char* v, std::size_t lo, std::size_t hi) {
  char* end = nullptr;
  errno = 0;
  unsigned long long x = std::strtoull(v, &end, 10);
  if (errno || !end || *end || x < lo || x > hi)
    usage(flag + ": \"" + v + "\" is not a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<std::size_t>(x);
}

double cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

/// --measure-decode: CPU µs per snapshot to decode each form and to merge.
int measure_decode(const Options& o) {
  std::vector<Template> ts;
  for (std::size_t k = 0; k < o.templates; ++k) ts.push_back(make_template(k, o));
  const std::size_t n = o.measure_decode;
  // Decode n snapshots and free them again (the coordinator replaces each
  // runner's snapshot every round): per form, the CPU of both.
  std::vector<metrics::Snapshot> decoded;
  decoded.reserve(n);
  double t0 = cpu_us();
  for (std::size_t i = 0; i < n; ++i)
    decoded.push_back(metrics::Snapshot::from_json(json::parse(ts[i % ts.size()].mid)));
  decoded.clear();
  double t1 = cpu_us();
  for (std::size_t i = 0; i < n; ++i) decoded.push_back(metrics::from_binary(ts[i % ts.size()].mid_bin));
  double t2 = cpu_us();
  decoded.clear();
  double t2b = cpu_us();
  for (std::size_t i = 0; i < n; ++i) decoded.push_back(metrics::from_binary(ts[i % ts.size()].mid_bin));
  double t2c = cpu_us();
  metrics::Snapshot merged;
  for (const auto& d : decoded) merged.merge(d);
  double t3 = cpu_us();
  for (std::size_t i = 0; i < n; ++i) (void)metrics::to_binary(decoded[i]);
  double t4 = cpu_us();
  for (std::size_t i = 0; i < n; ++i) (void)decoded[i].to_json().dump();
  double t5 = cpu_us();
  double json_bytes = 0, bin_bytes = 0;
  for (std::size_t i = 0; i < n; ++i) {
    json_bytes += static_cast<double>(ts[i % ts.size()].mid.size());
    bin_bytes += static_cast<double>(ts[i % ts.size()].mid_bin.size());
  }
  const double dn = static_cast<double>(n);
  std::printf("%s\n", json{{"snapshots", n},
                           {"jsonBytes", json_bytes / dn},
                           {"binaryBytes", bin_bytes / dn},
                           {"jsonDecodeUs", (t1 - t0) / dn},
                           {"binaryDecodeUs", (t2b - t1) / dn},
                           {"binaryDecodeOnlyUs", (t2 - t1) / dn},
                           {"mergeUs", (t3 - t2c) / dn},
                           {"binaryEncodeUs", (t4 - t3) / dn},
                           {"jsonEncodeUs", (t5 - t4) / dn}}
                          .dump()
                          .c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") usage("simulated runners for the coordinator");
    if (a == "--json-only") {  // the one flag without a value
      o.json_only = true;
      continue;
    }
    if (i + 1 >= argc) usage(a + " needs a value");
    const char* v = argv[++i];
    if (a == "--runners") {
      o.runners = count_arg(a, v, 1, 100000);
    } else if (a == "--templates") {
      o.templates = count_arg(a, v, 1, 1000);
    } else if (a == "--requests") {
      o.requests = count_arg(a, v, 8, 10'000'000);
    } else if (a == "--tagsets") {
      o.tagsets = count_arg(a, v, 1, 1000);
    } else if (a == "--duration") {
      try {
        o.duration_us = util::parse_duration(v).count();
      } catch (const std::exception& e) {
        usage(std::string("--duration: ") + e.what());
      }
      if (o.duration_us <= 0) usage(std::string("--duration: must be positive: ") + v);
    } else if (a == "--measure-decode") {
      o.measure_decode = count_arg(a, v, 1, 1'000'000);
    } else if (a == "--addresses") {
      o.addresses_file = v;
    } else if (a == "--expect") {
      o.expect_file = v;
    } else if (a == "--starts") {
      o.starts_file = v;
    } else if (a == "--stats") {
      o.stats_file = v;
    } else {
      usage("unknown argument " + a);
    }
  }
  if (o.measure_decode) return measure_decode(o);
  if (o.runners == 0) usage("--runners is required");
  if (o.addresses_file.empty()) usage("--addresses is required");
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  try {
    Sim sim(o);
    sim.build();
    sim.serve();
    sim.write_starts();
    std::fprintf(stderr, "herd-sim-runners: done, %zu of %zu runners released\n", sim.released(), o.runners);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "herd-sim-runners: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
