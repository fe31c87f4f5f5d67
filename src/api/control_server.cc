#include "api/control_server.h"
#include "api/address.h"
#include "api/http_request.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "export/prom_text.h"
#include "loop/event_loop.h"
#include "metrics/snapshot_binary.h"
#include "metrics/summary.h"
#include "util/ascii.h"
#include "util/http_status.h"
#include "util/listen.h"

namespace herd::api {

using detail::HostPort;
using detail::split_address;

using loop::Clock;
using nlohmann::json;

std::string_view to_string(ExecutionStatus s) {
  switch (s) {
    case ExecutionStatus::kCreated:
      return "Created";
    case ExecutionStatus::kInitVUs:
      return "InitVUs";
    case ExecutionStatus::kInitExecutors:
      return "InitExecutors";
    case ExecutionStatus::kInitDone:
      return "InitDone";
    case ExecutionStatus::kPausedBeforeRun:
      return "PausedBeforeRun";
    case ExecutionStatus::kStarted:
      return "Started";
    case ExecutionStatus::kSetup:
      return "Setup";
    case ExecutionStatus::kRunning:
      return "Running";
    case ExecutionStatus::kTeardown:
      return "Teardown";
    case ExecutionStatus::kEnded:
      return "Ended";
    case ExecutionStatus::kInterrupted:
      return "Interrupted";
  }
  return "Unknown";
}

namespace {

// ------------------------------------------------------------------ helpers

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string_view reason(int status) {
  std::string_view r = util::http_reason_phrase(status);
  return r.empty() ? "Unknown" : r;
}

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::string allow;  ///< for 405
};

Response error_response(int status, std::string_view title, std::string_view detail) {
  json e = {{"status", std::to_string(status)}, {"title", std::string(title)}, {"detail", std::string(detail)}};
  Response r;
  r.status = status;
  r.body = dump(json{{"errors", json::array({e})}});
  return r;
}
Response error_response(int status, std::string_view detail) {
  return error_response(status, reason(status), detail);
}

Response json_response(const json& j) {
  Response r;
  r.body = dump(j);
  return r;
}

bool all_space(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

}  // namespace

// ==================================================================== server state

struct ControlServer::State {
  struct Conn {
    int fd = -1;
    std::string in;
    std::size_t scan = 0;  ///< where the search for the end of the head resumes
    std::string out;
    std::size_t out_off = 0;
    bool have_head = false;
    HttpRequest req;
    std::size_t head_len = 0;
    bool continue_sent = false;
    bool close_after = false;  ///< close once `out` is written
    bool peer_eof = false;
    bool draining = false;  ///< write side shut down; input discarded until EOF or drain_deadline
    bool waiting = false;   ///< its request runs on the slow-call thread; nothing else is read meanwhile
    std::uint64_t id = 0;   ///< unique for the server's life (fds are reused)
    Clock::time_point last_activity;
    Clock::time_point drain_deadline;
    std::uint32_t events = 0;
  };

  State(ControlHandler& h, ControlServerOptions o) : handler(h), opts(o) {}
  ~State() {
    if (slow_thread.joinable()) slow_thread.join();
  }

  ControlHandler& handler;
  ControlServerOptions opts;
  loop::EventLoop loop;
  int listen_fd = -1;
  std::unordered_map<int, std::unique_ptr<Conn>> conns;
  std::atomic<std::thread::id> tid{};
  bool closed = false;
  std::uint64_t next_conn_id = 1;
  // POST /v1/setup and /v1/teardown run the script for as long as it takes:
  // on a thread of their own, so that the server still answers meanwhile
  // (a stop must reach a setup() that never returns). One at a time.
  std::thread slow_thread;
  bool slow_busy = false;  ///< server thread only

  // ---------------------------------------------------------------- I/O

  void on_accept() {
    for (;;) {
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // EAGAIN, or EMFILE and friends: retried on the next readiness
      }
      if (conns.size() >= opts.max_connections) {
        ::close(fd);
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      c->last_activity = Clock::now();
      c->events = EPOLLIN;
      c->id = next_conn_id++;
      conns.emplace(fd, std::move(c));
      loop.watch(fd, EPOLLIN, [this, fd](std::uint32_t ev) { on_event(fd, ev); });
    }
  }

  void on_event(int fd, std::uint32_t ev) {
    auto it = conns.find(fd);
    if (it == conns.end()) return;
    Conn* c = it->second.get();
    if (ev & EPOLLERR) {
      close_conn(c);
      return;
    }
    if (ev & (EPOLLIN | EPOLLHUP)) {
      if (!do_read(c)) return;
    }
    service(c);
  }

  /// Reads what is available. Returns false when the connection was closed.
  bool do_read(Conn* c) {
    char buf[64 * 1024];
    std::size_t budget = 1024 * 1024;  // per readiness event, for fairness
    while (budget > 0) {
      ssize_t n = ::recv(c->fd, buf, sizeof buf, 0);
      if (n > 0) {
        c->last_activity = Clock::now();
        budget -= std::min<std::size_t>(budget, static_cast<std::size_t>(n));
        if (!c->draining) c->in.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) {
        if (c->draining) {
          close_conn(c);
          return false;
        }
        c->peer_eof = true;
        return true;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      close_conn(c);
      return false;
    }
    return true;
  }

  /// Writes pending output. Returns false when the connection was closed.
  bool flush(Conn* c) {
    while (c->out_off < c->out.size()) {
      ssize_t n = ::send(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c->out_off += static_cast<std::size_t>(n);
        c->last_activity = Clock::now();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      close_conn(c);
      return false;
    }
    c->out.clear();
    c->out_off = 0;
    return true;
  }

  void set_interest(Conn* c, std::uint32_t events) {
    if (c->events == events) return;
    c->events = events;
    loop.modify(c->fd, events);
  }

  void close_conn(Conn* c) {
    int fd = c->fd;
    loop.unwatch(fd);
    ::close(fd);
    conns.erase(fd);  // destroys *c
  }

  /// Parses and answers as many requests as possible, then sets the epoll interest.
  void service(Conn* c) {
    for (;;) {
      if (!flush(c)) return;
      if (c->out_off < c->out.size()) {
        set_interest(c, EPOLLOUT);  // back-pressure: no reading while a response is stuck
        return;
      }
      if (c->draining) {
        set_interest(c, EPOLLIN);
        return;
      }
      if (c->close_after) {
        // Lingering close: shut the write side and discard input for a while,
        // so that unread request bytes do not turn into an RST that destroys
        // the response on the way.
        ::shutdown(c->fd, SHUT_WR);
        c->draining = true;
        c->in.clear();
        c->drain_deadline = Clock::now() + std::chrono::seconds(2);
        if (c->peer_eof) {
          close_conn(c);
          return;
        }
        set_interest(c, EPOLLIN);
        return;
      }
      if (c->waiting) {
        set_interest(c, 0);  // hangups are still reported
        if (c->peer_eof) close_conn(c);
        return;
      }
      if (!step(c)) break;
    }
    if (c->peer_eof) {
      close_conn(c);
      return;
    }
    set_interest(c, EPOLLIN);
  }

  void queue_response(Conn* c, const Response& r, bool head_only, bool keep_alive) {
    std::string& o = c->out;
    o += "HTTP/1.1 ";
    o += std::to_string(r.status);
    o += ' ';
    o += reason(r.status);
    o += "\r\n";
    if (!r.body.empty() || r.status != 200) {
      o += "Content-Type: ";
      o += r.content_type;
      o += "\r\n";
    }
    o += "Content-Length: ";
    o += std::to_string(r.body.size());
    o += "\r\n";
    if (!r.allow.empty()) {
      o += "Allow: ";
      o += r.allow;
      o += "\r\n";
    }
    o += "Cache-Control: no-store\r\n";
    if (!keep_alive)
      o += "Connection: close\r\n";
    else if (c->req.minor == 0)
      o += "Connection: keep-alive\r\n";
    o += "\r\n";
    if (!head_only) o += r.body;
    if (!keep_alive) c->close_after = true;
  }

  void fail(Conn* c, int status, std::string_view detail) {
    queue_response(c, error_response(status, detail), false, false);
  }

  /// One parsing step. Returns true when it made progress (queued output or
  /// consumed a request), false when it needs more input.
  bool step(Conn* c) {
    if (!c->have_head) {
      HeadRead h = read_request_head(c->in, c->scan, {opts.max_header_bytes, opts.max_body_bytes}, c->req);
      if (h.skip) c->in.erase(0, h.skip);
      if (h.status == HeadRead::kNeedMore) return false;
      if (h.status == HeadRead::kError) {
        fail(c, h.error.status, h.error.detail);
        return true;
      }
      c->have_head = true;
      c->head_len = h.head_len;
      c->continue_sent = false;
    }
    std::size_t need = c->head_len + static_cast<std::size_t>(c->req.content_length);
    if (c->in.size() < need) {
      if (c->req.expect_continue && c->req.minor >= 1 && !c->continue_sent) {
        c->continue_sent = true;
        c->out += "HTTP/1.1 100 Continue\r\n\r\n";
        return true;
      }
      return false;
    }
    std::string body = c->in.substr(c->head_len, static_cast<std::size_t>(c->req.content_length));
    c->in.erase(0, need);
    c->scan = 0;
    c->have_head = false;
    if (is_slow_call(c->req)) {
      start_slow_call(c, std::move(body));
      return true;
    }
    Response r = route(c->req, body);
    queue_response(c, r, c->req.method == "HEAD", c->req.keep_alive);
    return true;
  }

  // ---------------------------------------------------------------- slow calls

  static bool is_slow_call(const HttpRequest& req) {
    if (req.method != "POST") return false;
    std::string_view path = req.target;
    path = path.substr(0, path.find('?'));
    return path == "/v1/setup" || path == "/v1/teardown";
  }

  void start_slow_call(Conn* c, std::string body) {
    const bool keep_alive = c->req.keep_alive;
    if (slow_busy) {
      queue_response(c, error_response(409, "setup() or teardown() is already running"), false, keep_alive);
      return;
    }
    if (slow_thread.joinable()) slow_thread.join();  // the previous call has ended
    slow_busy = true;
    c->waiting = true;
    slow_thread = std::thread([this, id = c->id, req = c->req, body = std::move(body), keep_alive] {
      auto r = std::make_shared<Response>(route(req, body));
      loop.post([this, id, r, keep_alive] {
        slow_busy = false;
        for (auto& [fd, conn] : conns) {
          if (conn->id != id) continue;
          Conn* w = conn.get();
          w->waiting = false;
          w->last_activity = Clock::now();
          queue_response(w, *r, false, keep_alive);
          set_interest(w, EPOLLIN);
          service(w);
          return;
        }
      });
    });
  }

  // ---------------------------------------------------------------- routing

  Response route(const HttpRequest& req, const std::string& body) {
    if (!opts.run_id.empty() && !req.run.empty() && req.run != opts.run_id) {
      return error_response(409, "this process belongs to test run " + opts.run_id + ", not to " + req.run);
    }
    std::string_view path = req.target;
    path = path.substr(0, path.find('?'));
    std::vector<std::string> segs;
    {
      std::string_view p = path.substr(1);
      while (true) {
        std::size_t slash = p.find('/');
        auto dec = pct_decode(p.substr(0, slash));
        if (!dec) return error_response(400, "malformed percent-encoding in the path");
        segs.push_back(std::move(*dec));
        if (slash == std::string_view::npos) break;
        p.remove_prefix(slash + 1);
      }
    }
    const std::string& m = req.method;
    bool get = m == "GET" || m == "HEAD";
    auto not_allowed = [&](const char* allow) {
      Response r = error_response(405, "method " + m + " is not allowed on " + std::string(path));
      r.allow = allow;
      return r;
    };
    try {
      if (segs.size() == 1 && segs[0] == "metrics") {
        if (!get) return not_allowed("GET, HEAD");
        Response r;
        r.body = exporter::prom_text(handler.snapshot());
        r.content_type = std::string(exporter::kPromTextContentType);
        return r;
      }
      if (segs.size() < 2 || segs[0] != "v1") return error_response(404, "no such endpoint: " + std::string(path));
      const std::string& what = segs[1];
      if (segs.size() == 2) {
        if (what == "status") {
          if (get) return status_response();
          if (m == "PATCH") return patch_status(body);
          return not_allowed("GET, HEAD, PATCH");
        }
        if (what == "metrics") {
          if (get) return metrics_response(nullptr);
          return not_allowed("GET, HEAD");
        }
        if (what == "groups") {
          if (get) return groups_response(nullptr);
          return not_allowed("GET, HEAD");
        }
        if (what == "setup") {
          if (get) return setup_envelope(handler.get_setup_data());
          if (m == "POST") return setup_envelope(handler.run_setup());
          if (m == "PUT") return put_setup(body);
          return not_allowed("GET, HEAD, POST, PUT");
        }
        if (what == "teardown") {
          if (m == "POST") {
            handler.run_teardown();
            return Response{200, "", "application/json", ""};
          }
          return not_allowed("POST");
        }
        if (what == "snapshot") {
          if (!get) return not_allowed("GET, HEAD");
          if (!metrics::accepts_binary_snapshot(req.accept)) return json_response(handler.snapshot().to_json());
          Response r;
          r.body = metrics::to_binary(handler.snapshot());
          r.content_type = std::string(metrics::kSnapshotBinaryType);
          return r;
        }
        if (what == "summary") {
          if (!get) return not_allowed("GET, HEAD");
          auto summary = handler.summary();
          if (!summary) return error_response(404, "no summary yet: the test has not ended");
          return json_response(*summary);
        }
        if (what == "start") {
          if (!get) return not_allowed("GET, HEAD");
          auto start = handler.start_info();
          if (!start) return error_response(404, "not started yet: the runners have not been released");
          return json_response(*start);
        }
        if (what == "report") {
          if (!get) return not_allowed("GET, HEAD");
          auto html = handler.report();
          if (!html) return error_response(404, "no report: the test did not ask for one (K6_WEB_DASHBOARD_EXPORT)");
          return Response{200, std::move(*html), "text/html; charset=utf-8", ""};
        }
      } else if (segs.size() == 3 && !segs[2].empty()) {
        if (what == "metrics") {
          if (get) return metrics_response(&segs[2]);
          return not_allowed("GET, HEAD");
        }
        if (what == "groups") {
          if (get) return groups_response(&segs[2]);
          return not_allowed("GET, HEAD");
        }
      }
      return error_response(404, "no such endpoint: " + std::string(path));
    } catch (const HandlerError& e) {
      return error_response(e.status() >= 400 && e.status() <= 599 ? e.status() : 500, e.what());
    } catch (const std::exception& e) {
      return error_response(500, e.what());
    } catch (...) {
      return error_response(500, "unknown error");
    }
  }

  /// Parses a request body as JSON; nullopt and `err` set on failure.
  std::optional<json> parse_json(const std::string& body, Response& err) {
    if (json_depth(body, opts.max_json_depth) > opts.max_json_depth) {
      err = error_response(400, "Malformed JSON", "JSON nested deeper than " + std::to_string(opts.max_json_depth));
      return std::nullopt;
    }
    try {
      return json::parse(body);
    } catch (const json::exception& e) {
      err = error_response(400, "Malformed JSON", e.what());
      return std::nullopt;
    }
  }

  static json status_json(const StatusInfo& s) {
    json a = json::object();
    a["status"] = static_cast<int>(s.status);
    a["status-name"] = std::string(to_string(s.status));
    a["paused"] = s.paused;
    a["vus"] = s.vus;
    a["vus-max"] = s.vus_max;
    a["stopped"] = s.stopped;
    a["running"] = s.running;
    a["tainted"] = s.tainted;
    if (s.exit_code) a["exit-code"] = *s.exit_code;
    if (!s.abort_reason.empty()) a["abort-reason"] = s.abort_reason;
    if (s.started_at_us > 0) a["started-at-us"] = s.started_at_us;
    // This runner's clock when it answered: the coordinator estimates the clock offset from it.
    a["clock-us"] =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    return json{{"data", {{"type", "status"}, {"id", "default"}, {"attributes", std::move(a)}}}};
  }

  Response status_response() { return json_response(status_json(handler.status())); }

  Response patch_status(const std::string& body) {
    Response err;
    auto j = parse_json(body, err);
    if (!j) return err;
    auto bad = [](const std::string& detail) { return error_response(400, "Invalid status patch", detail); };
    if (!j->is_object() || !j->contains("data") || !(*j)["data"].is_object())
      return bad(R"(expected {"data":{"type":"status","id":"default","attributes":{...}}})");
    const json& data = (*j)["data"];
    if (data.contains("type") && data["type"] != "status") return bad("data.type must be \"status\"");
    json attrs = json::object();
    if (data.contains("attributes")) {
      if (!data["attributes"].is_object()) return bad("data.attributes must be an object");
      attrs = data["attributes"];
    }
    StatusPatch p;
    auto get_bool = [&](const char* key, std::optional<bool>& out) -> std::optional<std::string> {
      if (!attrs.contains(key) || attrs[key].is_null()) return std::nullopt;
      if (!attrs[key].is_boolean()) return std::string(key) + " must be a boolean";
      out = attrs[key].get<bool>();
      return std::nullopt;
    };
    auto get_count = [&](const char* key, std::optional<std::int64_t>& out) -> std::optional<std::string> {
      if (!attrs.contains(key) || attrs[key].is_null()) return std::nullopt;
      const json& v = attrs[key];
      if (v.is_number_unsigned()) {
        if (v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          return std::string(key) + " is too large";
        out = static_cast<std::int64_t>(v.get<std::uint64_t>());
        return std::nullopt;
      }
      if (v.is_number_integer()) {
        if (v.get<std::int64_t>() < 0) return std::string(key) + " must not be negative";
        out = v.get<std::int64_t>();
        return std::nullopt;
      }
      return std::string(key) + " must be a non-negative integer";
    };
    for (auto e : {get_bool("paused", p.paused), get_bool("stopped", p.stopped), get_count("vus", p.vus),
                   get_count("vus-max", p.vus_max), get_count("start-at-us", p.start_at_us)})
      if (e) return bad(*e);
    if (p.start_at_us && !(p.paused && !*p.paused)) return bad("start-at-us needs \"paused\": false");
    if (auto e = handler.patch_status(p)) return error_response(400, "Invalid status change", *e);
    return status_response();
  }

  Response metrics_response(const std::string* only) {
    metrics::Snapshot snap = handler.snapshot();
    double elapsed_s = static_cast<double>(handler.status().elapsed.count()) / 1e6;
    std::set<metrics::MetricId> observed;
    for (const auto& [key, state] : snap.series) observed.insert(key.metric);
    auto resource = [&](metrics::MetricId id) {
      const metrics::MetricDef& def = snap.metrics.at(id);
      json a = json::object();
      a["type"] = std::string(metrics::to_string(def.type));
      a["contains"] = std::string(metrics::to_string(def.contains));
      auto t = handler.metric_tainted(def.name);
      a["tainted"] = t ? json(*t) : json(nullptr);
      a["sample"] = metric_sample(def.type, snap.aggregate(id), elapsed_s);
      return json{{"type", "metrics"}, {"id", def.name}, {"attributes", std::move(a)}};
    };
    if (only) {
      auto id = snap.find(*only);
      if (!id || !observed.count(*id)) return error_response(404, "no such metric: " + *only);
      return json_response(json{{"data", resource(*id)}});
    }
    std::vector<metrics::MetricId> ids;
    for (auto id : observed)
      if (id < snap.metrics.size()) ids.push_back(id);
    std::sort(ids.begin(), ids.end(), [&](auto a, auto b) { return snap.metrics[a].name < snap.metrics[b].name; });
    json list = json::array();
    for (auto id : ids) list.push_back(resource(id));
    return json_response(json{{"data", std::move(list)}});
  }

  static void flatten_groups(const json& g, const json& parent_id, json& out) {
    json children = json::array();
    if (g.contains("groups") && g["groups"].is_array())
      for (const auto& c : g["groups"]) children.push_back({{"type", "groups"}, {"id", c.value("id", "")}});
    json checks = json::array();
    if (g.contains("checks") && g["checks"].is_array())
      for (const auto& c : g["checks"])
        checks.push_back({{"id", c.value("id", "")},
                          {"path", c.value("path", "")},
                          {"name", c.value("name", "")},
                          {"passes", c.value("passes", json(0))},
                          {"fails", c.value("fails", json(0))}});
    json parent = parent_id.is_null() ? json(nullptr) : json{{"type", "groups"}, {"id", parent_id}};
    out.push_back({{"type", "groups"},
                   {"id", g.value("id", "")},
                   {"attributes", {{"path", g.value("path", "")}, {"name", g.value("name", "")}, {"checks", checks}}},
                   {"relationships", {{"groups", {{"data", children}}}, {"parent", {{"data", parent}}}}}});
    if (g.contains("groups") && g["groups"].is_array())
      for (const auto& c : g["groups"]) flatten_groups(c, g.value("id", ""), out);
  }

  Response groups_response(const std::string* only) {
    metrics::Snapshot snap = handler.snapshot();
    json data = metrics::build_summary_data(snap, {}, {}, std::chrono::milliseconds(0), metrics::SummaryOptions{});
    json all = json::array();
    if (data.contains("root_group") && data["root_group"].is_object()) flatten_groups(data["root_group"], nullptr, all);
    if (!only) return json_response(json{{"data", std::move(all)}});
    for (auto& g : all)
      if (g["id"] == *only) return json_response(json{{"data", std::move(g)}});
    return error_response(404, "no such group: " + *only);
  }

  static Response setup_envelope(json data) {
    return json_response(
        json{{"data", {{"type", "setupData"}, {"id", "default"}, {"attributes", {{"data", std::move(data)}}}}}});
  }

  Response put_setup(const std::string& body) {
    json data = nullptr;
    if (!all_space(body)) {
      Response err;
      auto j = parse_json(body, err);
      if (!j) return err;
      data = std::move(*j);
    }
    handler.set_setup_data(data);
    return setup_envelope(std::move(data));
  }

  // ---------------------------------------------------------------- housekeeping

  void sweep() {
    auto now = Clock::now();
    std::vector<Conn*> dead;
    for (auto& [fd, c] : conns) {
      if (c->waiting) continue;
      if (c->draining ? now >= c->drain_deadline : now - c->last_activity >= opts.idle_timeout) dead.push_back(c.get());
    }
    for (Conn* c : dead) close_conn(c);
    schedule_sweep();
  }

  void schedule_sweep() {
    auto every = std::chrono::duration_cast<Clock::duration>(opts.idle_timeout / 4);
    every = std::clamp<Clock::duration>(every, std::chrono::milliseconds(10), std::chrono::seconds(1));
    loop.add_timer(Clock::now() + every, [this] { sweep(); });
  }

  /// After the thread has ended: closes every socket. Idempotent.
  void close_all() {
    if (closed) return;
    closed = true;
    for (auto& [fd, c] : conns) ::close(fd);
    conns.clear();
    if (listen_fd >= 0) ::close(listen_fd);
    listen_fd = -1;
  }
};

// ==================================================================== ControlServer

ControlServer::ControlServer(const std::string& address, ControlHandler& handler, ControlServerOptions opts) {
  HostPort hp = split_address(address);
  util::ListenAddress where;
  std::string why;
  if (!util::resolve_listen_address(hp.host, hp.port, hp.bracketed, &where, &why))
    throw std::invalid_argument("control API address \"" + address + "\": cannot resolve host: " + why);
  int fd = util::listen_socket(where, 128, "control API");
  try {
    bound_ = util::bound_address(fd, &port_);
  } catch (const std::system_error& e) {
    ::close(fd);
    throw std::system_error(e.code(), "control API: cannot getsockname of " + address);
  }

  try {
    st_ = std::make_unique<State>(handler, opts);
  } catch (...) {
    ::close(fd);
    throw;
  }
  st_->listen_fd = fd;
  State* st = st_.get();
  st->loop.watch(fd, EPOLLIN, [st](std::uint32_t) { st->on_accept(); });
  st->schedule_sweep();
  thread_ = std::thread([st] {
    st->tid.store(std::this_thread::get_id());
    try {
      st->loop.run();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "herd: control API server stopped: %s\n", e.what());
    }
  });
}

ControlServer::~ControlServer() {
  stop();
}

void ControlServer::stop() {
  if (!st_) return;
  st_->loop.stop();
  if (std::this_thread::get_id() == st_->tid.load()) return;  // from a handler: the join comes later
  std::lock_guard<std::mutex> lk(stop_mu_);
  if (thread_.joinable()) thread_.join();
  st_->close_all();
}

}  // namespace herd::api
