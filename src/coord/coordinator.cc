#include "coord/coordinator.h"

#include <array>
#include <map>

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "api/control_server.h"
#include "coord/control.h"
#include "coord/result.h"
#include "exec/runner.h"
#include "exec/segment.h"

namespace herd::coord {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------
// Pure helpers.

std::string runner_name(std::size_t i, const RunnerEndpoint& r) {
  std::string s = "runner " + std::to_string(i + 1) + " (" + r.address;
  if (r.pid > 0) s += ", pid " + std::to_string(r.pid);
  return s + ")";
}

std::string segment_sequence(int n) {
  std::string s;
  for (int i = 0; i <= n; ++i) {
    if (i) s += ',';
    s += exec::Rational(i, n).to_string();
  }
  return s;
}

std::string segment_of(int i, int n) {
  return exec::Rational(i, n).to_string() + ":" + exec::Rational(i + 1, n).to_string();
}

namespace {

struct FlagInfo {
  const char* name;
  char shorthand;
  bool takes_value;
  bool drop;  ///< owned by the coordinator: not passed to runners
};

// Mirrors src/cli/run_flags.cc (which flags take a value); unknown flags are passed through.
const FlagInfo kFlags[] = {
    {"vus", 'u', true, false},
    {"duration", 'd', true, false},
    {"iterations", 'i', true, false},
    {"stage", 's', true, false},
    {"env", 'e', true, false},
    {"tag", 0, true, false},
    {"summary-export", 0, true, true},
    {"out", 'o', true, true},
    {"no-summary", 0, false, true},
    {"summary-mode", 0, true, false},
    {"quiet", 'q', false, true},
    {"no-thresholds", 0, false, true},
    {"summary-trend-stats", 0, true, false},
    {"summary-time-unit", 0, true, false},
    {"paused", 'p', false, true},
    {"address", 'a', true, true},
    {"no-setup", 0, false, true},
    {"linger", 'l', false, true},
    {"no-teardown", 0, false, true},
    {"execution-segment", 0, true, true},
    {"execution-segment-sequence", 0, true, true},
    {"insecure-skip-tls-verify", 0, false, false},
    {"include-system-env-vars", 0, false, false},
    {"user-agent", 0, true, false},
    {"throw", 'w', false, false},
    {"max-redirects", 0, true, false},
    {"discard-response-bodies", 0, false, false},
    {"min-iteration-duration", 0, true, false},
    {"workers", 0, true, false},
    {"parallelism", 0, true, true},
    {"archive-out", 'O', true, true},
    {"execution-requirements", 0, false, true},
    {"result-file", 0, true, true},
    {"log-output", 0, true, false},
    {"log-format", 0, true, false},
    {"config", 'c', true, false},
    {"no-color", 0, false, false},
    {"system-tags", 0, true, false},
    {"rps", 0, true, false},
    {"secret-source", 0, true, false},
    {"batch", 0, true, false},
    {"batch-per-host", 0, true, false},
    {"dns", 0, true, false},
    {"local-ips", 0, true, false},
    {"blacklist-ip", 0, true, false},
    {"block-hostnames", 0, true, false},
    {"no-connection-reuse", 0, false, false},
    {"no-vu-connection-reuse", 0, false, false},
    {"http-debug", 0, false, false},
    {"no-cookies-reset", 0, false, false},
    {"no-usage-report", 0, false, false},
    {"console-output", 0, true, false},
    {"verbose", 'v', false, false},
    {"help", 'h', false, true},
};

const FlagInfo* find_long(const std::string& n) {
  for (const auto& f : kFlags)
    if (n == f.name) return &f;
  return nullptr;
}
const FlagInfo* find_short(char c) {
  for (const auto& f : kFlags)
    if (f.shorthand == c) return &f;
  return nullptr;
}

}  // namespace

std::vector<std::string> runner_passthrough_args(const std::vector<std::string>& run_args) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < run_args.size(); ++i) {
    const std::string& a = run_args[i];
    if (a == "--") break;  // only positionals follow
    if (a.size() > 2 && a[0] == '-' && a[1] == '-') {
      std::string body = a.substr(2);
      auto eq = body.find('=');
      const FlagInfo* f = find_long(body.substr(0, eq));
      bool has_next_value = f && f->takes_value && eq == std::string::npos && i + 1 < run_args.size();
      if (f && f->drop) {
        if (has_next_value) ++i;
        continue;
      }
      out.push_back(a);
      if (has_next_value) out.push_back(run_args[++i]);
      continue;
    }
    if (a.size() > 1 && a[0] == '-') {
      std::string kept = "-";
      bool consumed_next = false;
      std::string value_part;
      for (std::size_t j = 1; j < a.size(); ++j) {
        const FlagInfo* f = find_short(a[j]);
        if (!f) {  // unknown: keep the rest as is
          kept += a.substr(j);
          break;
        }
        if (!f->takes_value) {
          if (j + 1 < a.size() && a[j + 1] == '=') {  // "-q=false"
            if (!f->drop) kept += a.substr(j);
            break;
          }
          if (!f->drop) kept += a[j];
          continue;
        }
        std::string rest = a.substr(j + 1);
        if (rest.empty() && i + 1 < run_args.size()) {
          consumed_next = true;
          value_part = run_args[i + 1];
        }
        if (!f->drop) {
          kept += a[j];
          kept += rest;
        }
        break;
      }
      if (consumed_next) ++i;
      bool last_takes_value = kept.size() > 1 && find_short(kept.back()) && find_short(kept.back())->takes_value;
      if (kept.size() > 1) out.push_back(kept);
      if (consumed_next && kept.size() > 1 && last_takes_value) out.push_back(value_part);
      continue;
    }
    // A positional (the script): dropped.
  }
  return out;
}

std::vector<std::string> local_runner_args(int i, int n, const std::string& script,
                                           const std::vector<std::string>& passthrough) {
  std::vector<std::string> a{"run",
                             "--paused",
                             "--address",
                             "127.0.0.1:0",
                             "--linger",
                             "--no-setup",
                             "--no-teardown",
                             "--no-thresholds",
                             "--execution-segment",
                             segment_of(i, n),
                             "--execution-segment-sequence",
                             segment_sequence(n),
                             "-q",
                             "--no-summary"};
  a.insert(a.end(), passthrough.begin(), passthrough.end());
  a.push_back("--");
  a.push_back(script);
  return a;
}

std::optional<std::string> parse_listening_line(const std::string& line) {
  static const std::string kMark = "control API listening on http://";
  auto p = line.find(kMark);
  if (p == std::string::npos) return std::nullopt;
  std::string rest = line.substr(p + kMark.size());
  while (!rest.empty() && (rest.back() == '\r' || rest.back() == '\n' || rest.back() == ' ' || rest.back() == '/'))
    rest.pop_back();
  auto colon = rest.rfind(':');
  if (rest.empty() || colon == std::string::npos || colon + 1 >= rest.size()) return std::nullopt;
  return rest;
}

std::vector<std::string> parse_runner_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto c = text.find(',', start);
    std::string item = text.substr(start, c == std::string::npos ? std::string::npos : c - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (item.empty()) throw std::invalid_argument("--runners: empty entry in \"" + text + "\"");
    auto colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= item.size())
      throw std::invalid_argument("--runners: \"" + item + "\" is not HOST:PORT");
    for (std::size_t k = colon + 1; k < item.size(); ++k)
      if (item[k] < '0' || item[k] > '9') throw std::invalid_argument("--runners: bad port in \"" + item + "\"");
    out.push_back(item);
    if (c == std::string::npos) break;
    start = c + 1;
  }
  return out;
}

metrics::Snapshot merge_snapshots(const std::vector<const metrics::Snapshot*>& parts) {
  metrics::Snapshot out;
  for (const auto* p : parts)
    if (p) out.merge(*p);
  // vus and vus_max count VUs of the whole test: the runners' values add up
  // (the generic gauge rule, "latest value", would show one runner's).
  for (const char* name : {"vus", "vus_max"}) {
    auto out_id = out.find(name);
    if (!out_id) continue;
    std::map<metrics::TagSet, std::array<double, 3>> sums;  // last, min, max
    for (const auto* p : parts) {
      if (!p) continue;
      auto id = p->find(name);
      if (!id) continue;
      for (const auto& [key, st] : p->series) {
        if (key.metric != *id || st.last_time_us < 0) continue;
        auto& acc = sums[key.tags];
        acc[0] += st.last;
        acc[1] += st.gmin;
        acc[2] += st.gmax;
      }
    }
    for (auto& [key, st] : out.series) {
      if (key.metric != *out_id) continue;
      auto it = sums.find(key.tags);
      if (it == sums.end()) continue;
      st.last = it->second[0];
      st.gmin = it->second[1];
      st.gmax = it->second[2];
    }
  }
  return out;
}

namespace {
double counter_sum(const metrics::Snapshot& s, const char* name) {
  auto id = s.find(name);
  return id ? s.aggregate(*id).sum : 0;
}
}  // namespace

ProgressRates progress_rates(const metrics::Snapshot& prev, const metrics::Snapshot& cur, double dt_s) {
  ProgressRates r;
  if (dt_s > 0) {
    r.iterations_per_s = std::max(0.0, counter_sum(cur, "iterations") - counter_sum(prev, "iterations")) / dt_s;
    r.requests_per_s = std::max(0.0, counter_sum(cur, "http_reqs") - counter_sum(prev, "http_reqs")) / dt_s;
  }
  if (auto id = cur.find("http_req_failed")) {
    auto st = cur.aggregate(*id);
    if (st.total) r.error_rate = static_cast<double>(st.passes) / static_cast<double>(st.total);
  }
  if (auto id = cur.find("http_req_duration")) {
    auto st = cur.aggregate(*id);
    if (st.trend.count()) {
      r.has_requests = true;
      r.p95_ms = st.trend.percentile(95);
    }
  }
  return r;
}

std::string format_progress(const ProgressInput& in, const ProgressRates& r) {
  char buf[256];
  int secs = static_cast<int>(in.elapsed_s);
  std::snprintf(
      buf, sizeof buf, "running (%02dm%02ds) %zu/%zu runners, %lld VUs, %.1f it/s, %.1f req/s, errors %.2f%%, p95 %s",
      secs / 60, secs % 60, in.runners, in.total_runners, static_cast<long long>(in.vus), r.iterations_per_s,
      r.requests_per_s, r.error_rate * 100, r.has_requests ? metrics::format_duration_ms(r.p95_ms).c_str() : "-");
  return buf;
}

int decide_exit_code(const Outcome& o) {
  if (o.runner_lost) return kExitRunnerLost;
  if (o.runner_failure) return *o.runner_failure;
  if (o.script_aborted) return 108;
  if (o.stop_code) return *o.stop_code;
  if (o.thresholds_failed) return 99;
  if (o.marked_failed) return 110;
  return 0;
}

// ---------------------------------------------------------------------------
// A tiny blocking HTTP client (one libcurl easy handle: keeps its connection).

namespace {

std::once_flag g_curl_once;

size_t write_cb(char* p, size_t size, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, size * n);
  return size * n;
}

struct Http {
  CURL* h = nullptr;
  Http() {
    std::call_once(g_curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    h = curl_easy_init();
  }
  ~Http() {
    if (h) curl_easy_cleanup(h);
  }
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;

  struct Resp {
    long status = 0;  ///< 0 = transport failure
    std::string body;
    std::string error;
    bool timed_out = false;  ///< no answer within the call's timeout
  };

  Resp call(const std::string& method, const std::string& url, const std::string* body,
            std::chrono::milliseconds timeout) {
    Resp r;
    if (!h) {
      r.error = "curl_easy_init failed";
      return r;
    }
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<long long>(timeout.count(), 2000)));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
    curl_slist* hdrs = nullptr;
    if (method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body->c_str() : "");
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body ? body->size() : 0));
      hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
      hdrs = curl_slist_append(hdrs, "Expect:");
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    }
    CURLcode rc = curl_easy_perform(h);
    if (hdrs) curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
      r.error = curl_easy_strerror(rc);
      r.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
      return r;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    return r;
  }
};

std::string error_detail(const Http::Resp& r) {
  if (r.status == 0) return r.error;
  try {
    json j = json::parse(r.body);
    return "HTTP " + std::to_string(r.status) + ": " + j.at("errors").at(0).value("detail", r.body);
  } catch (...) {
    return "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 200);
  }
}

/// Runs `task`; an exception becomes "internal error: ..." in `*error`.
void run_guarded(const std::function<void()>& task, std::string* error) noexcept {
  try {
    task();
  } catch (const std::exception& e) {
    *error = std::string("internal error: ") + e.what();
  } catch (...) {
    *error = "internal error";
  }
}

/// One thread per task, always joined: join() or, at the latest (an exception
/// on the way), the destructor joins every thread started, so none is ever
/// destroyed joinable. Tasks never throw out of their thread (run_guarded).
class TaskGroup {
 public:
  explicit TaskGroup(std::size_t tasks) { threads_.reserve(tasks); }
  ~TaskGroup() { join(); }
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  /// Starts `task` on a thread of its own, its exception (if any) going to
  /// `*error`. Returns false, the task not run, if no thread can be started.
  bool start(std::string* error, const std::function<void()>& task) {
    try {
      threads_.emplace_back([task, error] { run_guarded(task, error); });
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }
  /// start(), or runs the task on the calling thread when no thread can be started.
  void run(std::string* error, const std::function<void()>& task) {
    if (!start(error, task)) run_guarded(task, error);
  }
  void join() noexcept {
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

 private:
  std::vector<std::jthread> threads_;
};

constexpr int kPausedBeforeRun = 4;
constexpr int kEnded = 9;

}  // namespace

ControlResponse control_request(const std::string& method, const std::string& url, const std::string* body,
                                std::chrono::milliseconds timeout) {
  thread_local Http http;
  Http::Resp r = http.call(method, url, body, timeout);
  return ControlResponse{r.status, std::move(r.body), std::move(r.error)};
}

// ---------------------------------------------------------------------------

struct Coordinator::Impl {
  struct Runner {
    RunnerEndpoint ep;
    std::string name;
    std::string base;
    Http http;
    // Last known state.
    int status = -1;
    std::optional<int> exit_code;
    std::string abort_reason;
    std::int64_t vus = 0;
    std::int64_t vus_max = 0;
    bool has_snapshot = false;
    metrics::Snapshot snapshot;
    Clock::time_point last_ok;
    std::string last_error;
    bool lost = false;
    bool stop_sent = false;
    // Filled by a poll thread.
    bool poll_ok = false;
  };

  CoordinatorOptions opts;
  std::vector<std::unique_ptr<Runner>> runners;
  CoordinatorReport rep;
  Outcome outcome;
  std::atomic<int> stop_request{-1};
  std::mutex stop_mu;
  std::string stop_reason;  ///< guarded by stop_mu; set with stop_request
  bool stopping = false;
  Clock::time_point stop_time;
  Clock::time_point start_time;
  bool progress_shown = false;
  /// Where the whole test is, for the control API (see ControlState::set_status).
  api::ExecutionStatus phase = api::ExecutionStatus::kCreated;
  std::vector<metrics::ThresholdResult> threshold_results;  ///< the latest evaluation
  std::chrono::milliseconds test_duration{0};
  std::string summary_text;  ///< the text summary without colours ("" when the test never ran)

  void info(const std::string& msg) {
    if (opts.quiet) return;
    clear_progress();
    std::fprintf(stderr, "herd: %s\n", msg.c_str());
  }
  void error(const std::string& msg) {
    rep.errors.push_back(msg);
    clear_progress();
    std::fprintf(stderr, "herd: error: %s\n", msg.c_str());
  }
  void warn(const std::string& msg) {
    clear_progress();
    std::fprintf(stderr, "herd: warning: %s\n", msg.c_str());
  }
  void clear_progress() {
    if (progress_shown) {
      std::fputs("\r\x1b[K", stderr);
      progress_shown = false;
    }
  }

  std::vector<std::size_t> live() const {
    std::vector<std::size_t> v;
    for (std::size_t i = 0; i < runners.size(); ++i)
      if (!runners[i]->lost) v.push_back(i);
    return v;
  }

  bool parse_status(Runner& r, const std::string& body) {
    try {
      json a = json::parse(body).at("data").at("attributes");
      r.status = a.value("status", -1);
      r.vus = a.value("vus", static_cast<std::int64_t>(0));
      r.vus_max = a.value("vus-max", static_cast<std::int64_t>(0));
      if (a.contains("exit-code") && a["exit-code"].is_number_integer()) r.exit_code = a["exit-code"].get<int>();
      if (a.contains("abort-reason") && a["abort-reason"].is_string())
        r.abort_reason = a["abort-reason"].get<std::string>();
      return true;
    } catch (const std::exception& e) {
      r.last_error = std::string("bad status response: ") + e.what();
      return false;
    }
  }

  /// One status (and optionally snapshot) request per runner, all runners in parallel.
  void poll_all(bool with_snapshot) {
    TaskGroup group(runners.size());
    for (auto& rp : runners) {
      if (rp->lost) continue;
      Runner* r = rp.get();
      r->poll_ok = false;
      group.run(&r->last_error, [this, r, with_snapshot] {
        auto st = r->http.call("GET", r->base + "/v1/status", nullptr, opts.request_timeout);
        if (st.status != 200) {
          r->last_error = error_detail(st);
          return;
        }
        if (!parse_status(*r, st.body)) return;
        if (with_snapshot) {
          auto sn = r->http.call("GET", r->base + "/v1/snapshot", nullptr, opts.request_timeout);
          if (sn.status != 200) {
            r->last_error = error_detail(sn);
            return;
          }
          try {
            r->snapshot = metrics::Snapshot::from_json(json::parse(sn.body));
            r->has_snapshot = true;
          } catch (const std::exception& e) {
            r->last_error = std::string("bad snapshot: ") + e.what();
            return;
          }
        }
        r->poll_ok = true;
        r->last_ok = Clock::now();
      });
    }
    group.join();
    publish_status();
  }

  std::string current_stop_reason() {
    std::lock_guard<std::mutex> g(stop_mu);
    return stop_reason;
  }

  void set_phase(api::ExecutionStatus p) {
    phase = p;
    publish_status();
  }

  /// The whole test's status, for the control API.
  void publish_status() {
    if (!opts.control) return;
    api::StatusInfo st;
    st.status = phase;
    if (phase < api::ExecutionStatus::kPausedBeforeRun) {
      // Waiting for the runners: the least advanced one (0 until it answers).
      int lowest = static_cast<int>(api::ExecutionStatus::kInitDone);
      for (auto& r : runners) lowest = std::min(lowest, std::max(r->status, 0));
      st.status = static_cast<api::ExecutionStatus>(lowest);
    }
    st.paused = phase <= api::ExecutionStatus::kPausedBeforeRun;
    st.running = phase == api::ExecutionStatus::kRunning;
    st.stopped = stopping || stop_request.load() >= 0;
    for (auto& r : runners) {
      if (!r->lost) st.vus += r->vus;
      st.vus_max += r->vus_max;
    }
    st.abort_reason = rep.abort_reason;
    opts.control->set_status(st);
  }

  void publish_metrics(const metrics::Snapshot& merged_now) {
    if (!opts.control) return;
    opts.control->set_metrics(merged_now, std::chrono::duration_cast<std::chrono::microseconds>(elapsed()),
                              opts.thresholds, threshold_results);
  }

  std::string failure_text(std::size_t i) {
    std::string s;
    if (opts.describe_failure) s = opts.describe_failure(i);
    return s;
  }

  void mark_lost(std::size_t i, const std::string& why) {
    Runner& r = *runners[i];
    if (r.lost) return;
    r.lost = true;
    rep.lost.push_back(r.name);
    outcome.runner_lost = true;
    std::string extra = failure_text(i);
    error(r.name + " was lost: " + why + (extra.empty() ? "" : "\n" + extra));
  }

  /// Local mode: runner i's process is gone.
  bool process_gone(std::size_t i) { return opts.process_alive && !opts.process_alive(i); }

  /// After a poll: runners that failed to answer become lost when their
  /// process exited or after `lost_after` without an answer.
  void check_lost() {
    auto now = Clock::now();
    for (std::size_t i = 0; i < runners.size(); ++i) {
      Runner& r = *runners[i];
      if (r.lost || r.poll_ok) continue;
      if (process_gone(i)) {
        auto code = opts.process_exit_code ? opts.process_exit_code(i) : std::nullopt;
        mark_lost(i, "its process exited" + (code ? " (status " + std::to_string(*code) + ")" : std::string()) +
                         "; last error: " + r.last_error);
      } else if (now - r.last_ok > opts.lost_after) {
        mark_lost(i, "no answer for " + std::to_string(opts.lost_after.count() / 1000) + " s (" + r.last_error + ")");
      }
    }
  }

  /// PATCH {"stopped":true} to every live runner that has not ended, concurrently.
  void stop_all(const std::string& why) {
    if (!stopping) {
      stopping = true;
      stop_time = Clock::now();
      if (!why.empty()) info("stopping every runner: " + why);
    }
    TaskGroup group(runners.size());
    for (auto& rp : runners) {
      Runner* r = rp.get();
      if (r->lost || r->stop_sent || (r->status == kEnded && r->exit_code)) continue;
      group.run(&r->last_error, [this, r] {
        // Never PATCH stopped to a runner that already ended: that would end its linger.
        auto st = r->http.call("GET", r->base + "/v1/status", nullptr, opts.request_timeout);
        if (st.status == 200) parse_status(*r, st.body);
        if (r->status == kEnded && r->exit_code) return;
        std::string body = R"({"data":{"type":"status","id":"default","attributes":{"stopped":true}}})";
        auto resp = r->http.call("PATCH", r->base + "/v1/status", &body, opts.request_timeout);
        if (resp.status == 200) r->stop_sent = true;
      });
    }
    group.join();
  }

  /// Ends every live runner's linger (they have all ended).
  void release_all() {
    TaskGroup group(runners.size());
    for (auto& rp : runners) {
      Runner* r = rp.get();
      if (r->lost) continue;
      group.run(&r->last_error, [this, r] {
        std::string body = R"({"data":{"type":"status","id":"default","attributes":{"stopped":true}}})";
        // Once if it has ended (ends the linger); a runner still running gets
        // stopped first, then released when it has ended.
        for (int k = 0; k < 3; ++k) {
          auto st = r->http.call("GET", r->base + "/v1/status", nullptr, opts.request_timeout);
          if (st.status != 200) return;
          parse_status(*r, st.body);
          r->http.call("PATCH", r->base + "/v1/status", &body, opts.request_timeout);
          if (r->status == kEnded && r->exit_code) return;
          std::this_thread::sleep_for(200ms);
        }
      });
    }
    group.join();
  }

  bool wait_ready() {
    auto deadline = Clock::now() + opts.ready_timeout;
    std::vector<bool> ready(runners.size(), false);
    for (;;) {
      poll_all(false);
      bool all = true;
      for (std::size_t i = 0; i < runners.size(); ++i) {
        Runner& r = *runners[i];
        if (r.lost || ready[i]) continue;
        if (r.poll_ok) {
          if (r.status == kPausedBeforeRun) {
            ready[i] = true;
            continue;
          }
          if (r.exit_code) {  // ended before the start (init error)
            outcome.runner_failure = *r.exit_code;
            error(r.name + " ended before the test started (exit code " + std::to_string(*r.exit_code) + ")");
            return false;
          }
          if (r.status > kPausedBeforeRun) {
            error(r.name + " is not paused (status " + std::to_string(r.status) +
                  "): start runners with --paused --linger");
            outcome.runner_failure = 1;
            return false;
          }
        } else if (process_gone(i)) {
          auto code = opts.process_exit_code ? opts.process_exit_code(i) : std::nullopt;
          std::string extra = failure_text(i);
          error(r.name + " exited before the test started" +
                (code ? " (exit code " + std::to_string(*code) + ")" : std::string()) +
                (extra.empty() ? "" : "\n" + extra));
          if (code && *code != 0)
            outcome.runner_failure = *code;
          else
            outcome.runner_lost = true;
          rep.lost.push_back(r.name);
          r.lost = true;
          return false;
        }
        all = false;
      }
      if (all) return true;
      if (stop_request.load() >= 0) {
        outcome.stop_code = stop_request.load();
        return false;
      }
      if (Clock::now() >= deadline) {
        std::string names;
        for (std::size_t i = 0; i < runners.size(); ++i)
          if (!ready[i]) {
            names += names.empty() ? "" : ", ";
            names += runners[i]->name;
            if (!runners[i]->last_error.empty()) names += " [" + runners[i]->last_error + "]";
            runners[i]->lost = true;
            rep.lost.push_back(runners[i]->name);
          }
        error("runners never became ready (paused before the start) within " +
              std::to_string(opts.ready_timeout.count() / 1000) + " s: " + names);
        outcome.runner_lost = true;
        return false;
      }
      std::this_thread::sleep_for(100ms);
    }
  }

  /// What setup() returned (null: nothing), for handleSummary's data.setup_data.
  json setup_data;

  /// setup() once on runner 1, its data to the others. False on failure.
  bool run_setup() {
    set_phase(api::ExecutionStatus::kSetup);
    Runner& first = *runners[0];
    auto resp = first.http.call("POST", first.base + "/v1/setup", nullptr, opts.setup_timeout);
    if (resp.status != 200) {
      error("setup() failed on " + first.name + ": " + error_detail(resp));
      auto st = first.http.call("GET", first.base + "/v1/status", nullptr, opts.request_timeout);
      if (st.status == 200) parse_status(first, st.body);
      if (!first.abort_reason.empty()) {
        outcome.script_aborted = true;
        rep.abort_reason = first.abort_reason;
      } else {
        // 504: setup() outlived setupTimeout on the runner (k6's exit code 100);
        // no answer at all within setupTimeout + a margin: a setup() that
        // never yields (a busy loop cannot be interrupted yet), the same code.
        const bool timeout = resp.status == 504 || resp.timed_out;
        if (resp.timed_out) error("setup() did not return within setupTimeout on " + first.name);
        outcome.runner_failure = timeout ? exec::kExitSetupTimeout : resp.status == 0 ? 1 : 107;
      }
      return false;
    }
    json data;
    try {
      data = json::parse(resp.body).at("data").at("attributes").value("data", json());
    } catch (const std::exception& e) {
      error(std::string("setup() on ") + first.name + ": malformed answer: " + e.what());
      outcome.runner_failure = 1;
      return false;
    }
    if (opts.control) opts.control->set_setup_data(data);
    setup_data = data;
    std::string body = data.dump();
    for (std::size_t i = 1; i < runners.size(); ++i) {
      Runner& r = *runners[i];
      auto put = r.http.call("PUT", r.base + "/v1/setup", &body, opts.request_timeout);
      if (put.status != 200) {
        mark_lost(i, "could not hand it the setup data: " + error_detail(put));
        return false;
      }
    }
    return true;
  }

  /// Resumes every runner at the same instant. Returns false if one refused.
  bool resume_all() {
    std::size_t n = runners.size();
    std::vector<Clock::time_point> done(n);
    std::vector<Http::Resp> res(n);
    std::atomic<bool> go{false};
    std::atomic<std::size_t> armed{0};
    std::string body = R"({"data":{"type":"status","id":"default","attributes":{"paused":false}}})";
    {
      TaskGroup group(n);
      // Released on every path (also an exception), else the tasks spin forever and the join hangs.
      struct Release {
        std::atomic<bool>& go;
        ~Release() { go.store(true, std::memory_order_release); }
      } release{go};
      for (std::size_t i = 0; i < n; ++i) {
        std::string* error = &runners[i]->last_error;
        auto task = [&, i] {
          Runner& r = *runners[i];
          // Warm the connection so that the PATCH itself needs no connect.
          r.http.call("GET", r.base + "/v1/status", nullptr, opts.request_timeout);
          armed++;
          while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
          res[i] = r.http.call("PATCH", r.base + "/v1/status", &body, opts.request_timeout);
          done[i] = Clock::now();
        };
        if (!group.start(error, task)) {
          // No thread for this one: start the others now (a larger skew) and resume it here.
          go.store(true, std::memory_order_release);
          run_guarded(task, error);
        }
      }
      auto arm_deadline = Clock::now() + opts.request_timeout + 1s;
      while (armed.load() < n && Clock::now() < arm_deadline) std::this_thread::sleep_for(1ms);
    }  // release, then join
    bool ok = true;
    for (std::size_t i = 0; i < n; ++i)
      if (res[i].status != 200) {
        mark_lost(i, "it refused to start: " + error_detail(res[i]));
        ok = false;
      }
    auto [mn, mx] = std::minmax_element(done.begin(), done.end());
    rep.start_skew_ms = std::chrono::duration<double, std::milli>(*mx - *mn).count();
    start_time = *mn;
    for (auto& r : runners) r->last_ok = Clock::now();
    return ok;
  }

  metrics::Snapshot merged() const {
    std::vector<const metrics::Snapshot*> parts;
    for (auto& r : runners)
      if (r->has_snapshot) parts.push_back(&r->snapshot);
    return merge_snapshots(parts);
  }

  std::chrono::milliseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_time);
  }

  /// The main loop, from the start until every live runner has ended.
  void drive() {
    metrics::Snapshot prev;
    auto prev_t = Clock::now();
    auto next = start_time + opts.poll_interval;
    auto last_poll = Clock::now();
    for (;;) {
      // Until the next full tick (snapshots, thresholds, progress): react to
      // stop requests at once, and check the runners' status every 200 ms
      // (100 ms while stopping) so that an end, an abort or a lost runner is
      // handled at once rather than at the next tick.
      auto ended_count = [this] {
        std::size_t n = 0;
        for (auto& r : runners)
          if (!r->lost && ((r->status == kEnded && r->exit_code) || !r->abort_reason.empty())) n++;
        return n;
      };
      std::size_t ended_before = ended_count();
      while (Clock::now() < next) {
        int sr = stop_request.load();
        if (sr >= 0 && !stopping) {
          outcome.stop_code = sr;
          stop_all(current_stop_reason());
        }
        if (Clock::now() - last_poll >= (stopping ? 100ms : 200ms)) {
          last_poll = Clock::now();
          poll_all(false);
          bool failed = false;
          for (auto& r : runners) failed = failed || (!r->lost && !r->poll_ok);
          if (failed || ended_count() != ended_before) break;
        }
        std::this_thread::sleep_for(20ms);
      }
      if (Clock::now() >= next) next += opts.poll_interval;
      if (next < Clock::now()) next = Clock::now() + opts.poll_interval;
      last_poll = Clock::now();

      poll_all(true);
      bool had_lost = outcome.runner_lost;
      check_lost();
      if (outcome.runner_lost && !had_lost && !opts.keep_going && !stopping) stop_all("a runner was lost");
      if (live().empty()) return;

      metrics::Snapshot cur = merged();
      // Thresholds on the merged data.
      if (!opts.thresholds.empty() && !stopping) {
        try {
          auto res = metrics::evaluate_thresholds(opts.thresholds, cur, elapsed(), false);
          threshold_results = res;
          for (auto& t : res)
            if (!t.ok && t.abort_on_fail) {
              outcome.stop_code = 99;
              rep.abort_reason = "threshold " + t.selector + ": " + t.source + " crossed";
              error("thresholds on metrics have been crossed (abortOnFail): " + t.selector + ": " + t.source);
              stop_all("");
              break;
            }
        } catch (const std::exception&) {
          // Unknown metric so far (not defined on any runner yet): evaluated again at the end.
        }
      }
      // A runner that aborted (exec.test.abort()) stops all.
      for (auto& r : runners) {
        if (r->lost) continue;
        bool aborted = !r->abort_reason.empty() || (r->exit_code && *r->exit_code == 108);
        if (aborted && !outcome.script_aborted) {
          outcome.script_aborted = true;
          rep.abort_reason = r->abort_reason;
          if (!stopping) stop_all(r->name + " aborted the test: " + r->abort_reason);
        }
        if (r->exit_code && *r->exit_code == exec::kExitMarkedAsFailed) outcome.marked_failed = true;
        if (r->exit_code && *r->exit_code != 0 && *r->exit_code != 103 && *r->exit_code != 99 && *r->exit_code != 105 &&
            *r->exit_code != 108 && *r->exit_code != exec::kExitMarkedAsFailed && !outcome.runner_failure) {
          outcome.runner_failure = *r->exit_code;
          error(r->name + " ended with exit code " + std::to_string(*r->exit_code));
        }
      }
      // Progress.
      double dt = std::chrono::duration<double>(Clock::now() - prev_t).count();
      if (opts.progress) {
        ProgressInput in;
        in.elapsed_s = std::chrono::duration<double>(elapsed()).count();
        for (auto& r : runners)
          if (!r->lost) {
            in.vus += r->vus;
            in.runners++;
          }
        in.total_runners = runners.size();
        std::fprintf(stderr, "\r\x1b[K%s", format_progress(in, progress_rates(prev, cur, dt)).c_str());
        std::fflush(stderr);
        progress_shown = true;
      }
      publish_metrics(cur);
      prev = std::move(cur);
      prev_t = Clock::now();

      bool all_ended = true;
      for (auto& r : runners)
        if (!r->lost && !(r->status == kEnded && r->exit_code)) all_ended = false;
      if (all_ended) {
        if (stopping) rep.stop_latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - stop_time).count();
        return;
      }
      if (stopping && Clock::now() - stop_time > opts.stop_timeout) {
        for (std::size_t i = 0; i < runners.size(); ++i)
          if (!runners[i]->lost && !(runners[i]->status == kEnded && runners[i]->exit_code))
            mark_lost(
                i, "it did not end within " + std::to_string(opts.stop_timeout.count() / 1000) + " s of being stopped");
        return;
      }
    }
  }

  void finish(bool ran, bool setup_ok) {
    clear_progress();
    if (ran) set_phase(api::ExecutionStatus::kTeardown);
    if (rep.stop_latency_ms >= 0) {
      char buf[120];
      std::snprintf(buf, sizeof buf, "every runner had stopped %.0f ms after the stop was sent", rep.stop_latency_ms);
      info(buf);
    }
    test_duration = ran ? elapsed() : std::chrono::milliseconds(0);
    auto lv = live();
    // teardown() once, on the first live runner (every runner holds the setup data).
    if (ran && setup_ok && !opts.no_teardown && !lv.empty()) {
      Runner& r = *runners[lv.front()];
      auto resp = r.http.call("POST", r.base + "/v1/teardown", nullptr, opts.teardown_timeout);
      if (resp.status != 200) {
        error("teardown() failed on " + r.name + ": " + error_detail(resp));
        // 504: teardown() outlived teardownTimeout on the runner (k6's exit code 101).
        if (resp.timed_out) error("teardown() did not return within teardownTimeout on " + r.name);
        if (!outcome.runner_failure && (resp.status != 0 || resp.timed_out))
          outcome.runner_failure = resp.status == 504 || resp.timed_out ? exec::kExitTeardownTimeout : 107;
      }
    }
    // Final snapshots (the lost runners' last ones are kept).
    if (ran) {
      poll_all(true);
      for (std::size_t i : lv)
        if (!runners[i]->poll_ok)
          warn(runners[i]->name + ": final snapshot failed (" + runners[i]->last_error + "); using its last one");
    }
    rep.merged = merged();
    rep.partial = outcome.runner_lost;
    std::vector<metrics::ThresholdResult> results;
    if (ran && !rep.merged.metrics.empty()) {
      try {
        results = metrics::evaluate_thresholds(opts.thresholds, rep.merged, test_duration, true);
      } catch (const std::exception& e) {
        error(std::string("thresholds: ") + e.what());
        if (!outcome.runner_failure) outcome.runner_failure = 104;
      }
    }
    for (auto& t : results) outcome.thresholds_failed = outcome.thresholds_failed || !t.ok;
    threshold_results = results;
    if (ran) {
      rep.summary_data =
          metrics::build_summary_data(rep.merged, opts.thresholds, results, test_duration, opts.summary, rep.partial);
      metrics::SummaryOptions plain = opts.summary;
      plain.no_color = true;
      summary_text = metrics::render_text_summary(rep.summary_data, plain);
      publish_metrics(rep.merged);
      if (!opts.summary_export.empty()) {
        FILE* f = std::fopen(opts.summary_export.c_str(), "wb");
        if (!f) {
          error("cannot write --summary-export file " + opts.summary_export);
        } else {
          std::string text = metrics::summary_export(rep.summary_data).dump(4) + "\n";
          std::fwrite(text.data(), 1, text.size(), f);
          std::fclose(f);
        }
      }
      bool custom = false;
      if (opts.handle_summary) {
        try {
          json data = rep.summary_data;
          if (!setup_data.is_null()) data["setup_data"] = setup_data;  // as k6 gives handleSummary
          auto out = opts.handle_summary(data);
          if (out) {
            custom = true;
            exec::Engine::write_summary_outputs(*out);
          }
        } catch (const std::exception& e) {
          error(std::string("handleSummary() failed: ") + e.what());
        }
      }
      if (!custom && !opts.no_summary) {
        std::string text =
            opts.summary.no_color ? summary_text : metrics::render_text_summary(rep.summary_data, opts.summary);
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fflush(stdout);
      }
    }
    if (rep.partial) {
      std::string names;
      for (auto& n : rep.lost) names += (names.empty() ? "" : ", ") + n;
      std::fprintf(stderr,
                   "herd: PARTIAL RESULTS: %zu of %zu runners were lost (%s); the summary covers what they had "
                   "reported (exit code %d)\n",
                   rep.lost.size(), runners.size(), names.c_str(), kExitRunnerLost);
    }
    if (outcome.thresholds_failed && !outcome.stop_code) error("thresholds on metrics have been crossed");
    release_all();
  }

  /// The result's message: the errors printed, else why the test ended early.
  std::string result_message() {
    std::string msg;
    for (const auto& e : rep.errors) msg += (msg.empty() ? "" : "\n") + e;
    if (msg.empty() && outcome.script_aborted)
      msg = "the script aborted the test" + (rep.abort_reason.empty() ? std::string() : ": " + rep.abort_reason);
    if (msg.empty() && outcome.stop_code) msg = current_stop_reason();
    return msg;
  }

  /// The end-of-test result (rep.result), published to the control API.
  void build_and_publish_result(bool ran) {
    ResultInput in;
    in.exit_code = rep.exit_code;
    in.partial = rep.partial;
    in.message = result_message();
    in.thresholds = threshold_results;
    in.merged = ran ? &rep.merged : nullptr;
    in.duration = test_duration;
    in.text = summary_text;
    if (ran && !rep.summary_data.is_null()) in.data = metrics::summary_export(rep.summary_data);
    rep.result = build_result(in);
    if (opts.control) opts.control->set_result(rep.result);
  }
};

Coordinator::Coordinator(std::vector<RunnerEndpoint> runners, CoordinatorOptions opts)
    : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(opts);
  for (std::size_t i = 0; i < runners.size(); ++i) {
    auto r = std::make_unique<Impl::Runner>();
    r->ep = runners[i];
    r->name = runner_name(i, runners[i]);
    r->base = "http://" + runners[i].address;
    r->last_ok = Clock::now();
    impl_->runners.push_back(std::move(r));
  }
}

Coordinator::~Coordinator() = default;

void Coordinator::request_stop(int exit_code, const std::string& reason) {
  std::lock_guard<std::mutex> g(impl_->stop_mu);
  int expected = -1;
  if (impl_->stop_request.compare_exchange_strong(expected, exit_code)) impl_->stop_reason = reason;
}

const CoordinatorReport& Coordinator::report() const {
  return impl_->rep;
}

int Coordinator::run() {
  Impl& m = *impl_;
  if (m.runners.empty()) {
    m.error("no runners");
    m.rep.exit_code = 1;
    m.build_and_publish_result(false);
    return m.rep.exit_code;
  }
  bool ran = false, setup_ok = true;
  m.set_phase(api::ExecutionStatus::kInitVUs);
  bool ready = m.wait_ready();
  if (ready) m.set_phase(api::ExecutionStatus::kPausedBeforeRun);
  if (ready) {
    if (m.stop_request.load() >= 0) {
      m.outcome.stop_code = m.stop_request.load();
    } else if (!m.opts.no_setup && !m.run_setup()) {
      setup_ok = false;
    } else if (m.resume_all()) {
      ran = true;
      m.set_phase(api::ExecutionStatus::kRunning);
      char buf[160];
      std::snprintf(buf, sizeof buf, "%zu runners started together (start skew %.3f ms)", m.runners.size(),
                    m.rep.start_skew_ms);
      m.info(buf);
      m.drive();
    } else {
      ran = true;  // some started: stop them and report
      m.start_time = Clock::now();
      m.set_phase(api::ExecutionStatus::kRunning);
      if (!m.opts.keep_going) m.stop_all("a runner refused to start");
      m.drive();
    }
  }
  if (!ran) {
    // Nothing ran (or setup failed): stop whatever is paused, then end the lingers.
    m.stop_all("");
    auto deadline = Clock::now() + 10s;
    for (;;) {
      m.poll_all(false);
      bool all = true;
      for (auto& r : m.runners)
        if (!r->lost && r->poll_ok && !(r->status == kEnded && r->exit_code)) all = false;
      if (all || Clock::now() > deadline) break;
      std::this_thread::sleep_for(100ms);
    }
  }
  m.finish(ran, setup_ok);
  m.rep.exit_code = decide_exit_code(m.outcome);
  m.build_and_publish_result(ran);
  return m.rep.exit_code;
}

}  // namespace herd::coord
