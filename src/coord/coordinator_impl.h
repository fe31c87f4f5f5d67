// Private to the coordinator: its state and the steps of a run. coordinator.cc
// holds the run and the rest; coordinator_start.cc the start (ready, setup, release).
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <functional>
#include <mutex>

#include "api/control_server.h"
#include "coord/control.h"
#include "coord/control_client.h"
#include "coord/coordinator.h"
#include "coord/result.h"
#include "exec/runner.h"
#include "metrics/snapshot_binary.h"

namespace herd::coord {

using Clock = util::Clock;
using json = nlohmann::json;
using namespace std::chrono_literals;

inline constexpr int kPausedBeforeRun = 4;
inline constexpr int kEnded = 9;
/// What a snapshot request accepts: the binary form first, JSON from a runner without it.
inline constexpr std::string_view kSnapshotAccept = "application/vnd.herd.snapshot, application/json;q=0.5";
inline constexpr const char* kStopBody = R"({"data":{"type":"status","id":"default","attributes":{"stopped":true}}})";

// ---------------------------------------------------------------------------

struct Coordinator::Impl {
  struct Runner {
    std::size_t index = 0;  ///< its connection in `client`
    RunnerEndpoint ep;
    std::string name;
    std::string base;
    // Last known state.
    int status = -1;
    std::optional<int> exit_code;
    std::string abort_reason;
    std::int64_t vus = 0;
    std::int64_t vus_max = 0;
    bool has_snapshot = false;
    /// Its last valid snapshot as it came (a few KB in the binary form; the
    /// decoded form, with dense histogram windows, is ~20x that): decoded
    /// again only while it does not answer (a lost runner's last one counts).
    std::string snapshot_wire;
    bool snapshot_binary = false;
    Clock::time_point last_ok;
    std::string last_error;
    bool lost = false;
    /// Not driven any more without being lost: it could not be stopped in
    /// time after a signal (or is stuck in setup()); its last results count.
    bool abandoned = false;
    bool stop_sent = false;
    bool released = false;           ///< ended, and its linger ended by us
    bool poll_ok = false;            ///< the last poll_all() got its answers
    std::int64_t started_at_us = 0;  ///< its "started-at-us" (its own clock), 0 = not reported
    std::int64_t clock_us = 0;       ///< its "clock-us" in the last status answer
    double offset_ms = 0;            ///< its clock minus ours, estimated at the start
    double rtt_ms = 0;               ///< the warm-up request's round trip
    bool gone() const { return lost || abandoned; }
    bool ended() const { return status == kEnded && exit_code.has_value(); }
  };

  CoordinatorOptions opts;
  /// opts.clock, or the real one.
  util::Clock* clock = &util::Clock::real();
  Clock::time_point now() const { return clock->now(); }
  std::vector<std::unique_ptr<Runner>> runners;
  /// The runners' decoded tag sets, shared: equal sets compare by pointer in the merge.
  metrics::TagSetPool tag_pool;
  SnapshotMerger merger;
  metrics::Snapshot round_merged;  ///< merged() (poll_all(true) sets it)
  /// Every request to the runners, from the thread that runs run(); created by the constructor.
  std::unique_ptr<ControlClient> client;
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
      if (!runners[i]->gone()) v.push_back(i);
    return v;
  }

  /// True once a stop was requested (signal, API) and not acted on yet.
  bool stop_pending() const { return stop_request.load() >= 0 && !stopping; }

  Exchange exchange(const Runner& r, const char* method, const char* path, std::chrono::milliseconds timeout,
                    std::string body = "") const {
    Exchange x;
    x.connection = r.index;
    x.method = method;
    x.url = r.base + path;
    x.body = std::move(body);
    x.timeout = timeout;
    return x;
  }
  /// One request, on the calling thread; `cancellable`: abandoned when a stop is requested.
  Exchange call(const Runner& r, const char* method, const char* path, std::chrono::milliseconds timeout,
                std::string body = "", bool cancellable = false) {
    Exchange x = exchange(r, method, path, timeout, std::move(body));
    client->perform({&x}, cancellable ? std::function<bool()>([this] { return stop_pending(); }) : nullptr);
    return x;
  }
  /// The same request to each runner of `which`, concurrently.
  /// `accept`: the Accept header (none when empty).
  std::vector<Exchange> call_each(const std::vector<Runner*>& which, const char* method, const char* path,
                                  std::chrono::milliseconds timeout, const std::string& body = "",
                                  bool cancellable = false, std::string_view accept = {}) {
    std::vector<Exchange> xs;
    xs.reserve(which.size());
    for (Runner* r : which) {
      xs.push_back(exchange(*r, method, path, timeout, body));
      xs.back().accept = accept;
    }
    std::vector<Exchange*> batch;
    batch.reserve(xs.size());
    for (auto& x : xs) batch.push_back(&x);
    client->perform(batch, cancellable ? std::function<bool()>([this] { return stop_pending(); }) : nullptr);
    return xs;
  }
  std::vector<Runner*> driven() const {
    std::vector<Runner*> v;
    for (auto& r : runners)
      if (!r->gone()) v.push_back(r.get());
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
      // Microseconds since the epoch: a value that is not a positive int64 (a hostile or broken runner) is not one.
      auto instant = [&a](const char* key) -> std::int64_t {
        if (!a.contains(key) || !a[key].is_number_integer()) return 0;
        if (a[key].is_number_unsigned() && a[key].get<std::uint64_t>() > INT64_MAX) return 0;
        return std::max<std::int64_t>(a[key].get<std::int64_t>(), 0);
      };
      if (auto v = instant("started-at-us")) r.started_at_us = v;
      if (auto v = instant("clock-us")) r.clock_us = v;
      return true;
    } catch (const std::exception& e) {
      r.last_error = std::string("bad status response: ") + e.what();
      return false;
    }
  }

  /// One status (and optionally snapshot) request per runner, all runners
  /// concurrently; cut short by a stop request.
  void poll_all(bool with_snapshot) {
    std::vector<Runner*> which = driven();
    for (Runner* r : which) r->poll_ok = false;
    auto st = call_each(which, "GET", "/v1/status", opts.request_timeout, "", true);
    std::vector<Runner*> answered;
    for (std::size_t k = 0; k < which.size(); ++k) {
      Runner* r = which[k];
      if (st[k].status != 200) {
        r->last_error = error_detail(st[k]);
      } else if (parse_status(*r, st[k].response)) {
        answered.push_back(r);
      }
    }
    if (with_snapshot) {
      // The binary form when the runner has it (metrics/snapshot_binary.h), JSON from older ones.
      auto sn = call_each(answered, "GET", "/v1/snapshot", opts.request_timeout, "", true, kSnapshotAccept);
      std::vector<Exchange*> answer(runners.size(), nullptr);
      for (std::size_t k = 0; k < answered.size(); ++k) answer[answered[k]->index] = &sn[k];
      // Every runner's snapshot in the runners' order (the merge is the same
      // in any order but for the last bits of sums): a new one decoded once,
      // an old one (no answer this time) decoded again from its bytes.
      std::vector<Runner*> ok;
      for (auto& rp : runners) {
        Runner* r = rp.get();
        Exchange* x = answer[r->index];
        if (x && x->status != 200) {
          r->last_error = error_detail(*x);
          x = nullptr;
        }
        if (x) {
          const bool binary = metrics::is_binary_snapshot_type(x->content_type);
          try {
            merger.add(decode_snapshot(*r, x->response, binary));
            r->snapshot_wire = std::move(x->response);
            r->snapshot_binary = binary;
            r->has_snapshot = true;
            ok.push_back(r);
            continue;
          } catch (const std::exception& e) {
            r->last_error = std::string("bad snapshot: ") + e.what();
          }
        }
        if (!r->has_snapshot) continue;
        try {
          merger.add(decode_snapshot(*r, r->snapshot_wire, r->snapshot_binary));
        } catch (const std::exception&) {
          // It was decoded before: cannot happen.
        }
      }
      round_merged = merger.take();
      answered = std::move(ok);
    }
    for (Runner* r : answered) {
      r->poll_ok = true;
      r->last_ok = now();
    }
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
      if (!r->gone()) st.vus += r->vus;
      st.vus_max += r->vus_max;
    }
    st.abort_reason = rep.abort_reason;
    opts.control->set_status(st);
  }

  /// Returns on_merged's line for the summary ("" = none).
  std::string publish_metrics(const metrics::Snapshot& merged_now, bool final = false) {
    std::string note;
    if (opts.on_merged) note = opts.on_merged(merged_now, final, threshold_results);
    if (!opts.control) return note;
    opts.control->set_metrics(merged_now, std::chrono::duration_cast<std::chrono::microseconds>(elapsed()),
                              opts.thresholds, threshold_results);
    return note;
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
    if (opts.abandon) opts.abandon(i);  // a hung process must not hold the end
  }

  /// Runner i is left as it is (its last results kept); local mode ends its process.
  void abandon(std::size_t i, const std::string& why) {
    Runner& r = *runners[i];
    if (r.gone()) return;
    r.abandoned = true;
    warn(r.name + " " + why + "; its last results are kept");
    if (opts.abandon) opts.abandon(i);
  }

  /// Local mode: runner i's process is gone.
  bool process_gone(std::size_t i) { return opts.process_alive && !opts.process_alive(i); }

  /// After a poll: runners that failed to answer become lost when their
  /// process exited or after `lost_after` without an answer.
  void check_lost() {
    const auto t = now();
    for (std::size_t i = 0; i < runners.size(); ++i) {
      Runner& r = *runners[i];
      if (r.gone() || r.poll_ok) continue;
      if (process_gone(i)) {
        auto code = opts.process_exit_code ? opts.process_exit_code(i) : std::nullopt;
        mark_lost(i, "its process exited" + (code ? " (status " + std::to_string(*code) + ")" : std::string()) +
                         "; last error: " + r.last_error);
      } else if (t - r.last_ok > opts.lost_after) {
        mark_lost(i, "no answer for " + std::to_string(opts.lost_after.count() / 1000) + " s (" + r.last_error + ")");
      }
    }
  }

  /// PATCH {"stopped":true} to every live runner that has not ended, concurrently.
  void stop_all(const std::string& why) {
    if (!stopping) {
      stopping = true;
      stop_time = now();
      if (!why.empty()) info("stopping every runner: " + why);
    }
    std::vector<Runner*> which;
    for (Runner* r : driven())
      if (!r->stop_sent && !r->ended()) which.push_back(r);
    // Never PATCH stopped to a runner that already ended: that would end its linger.
    auto st = call_each(which, "GET", "/v1/status", opts.request_timeout);
    std::vector<Runner*> running;
    for (std::size_t k = 0; k < which.size(); ++k) {
      if (st[k].status == 200) parse_status(*which[k], st[k].response);
      if (!which[k]->ended()) running.push_back(which[k]);
    }
    auto resp = call_each(running, "PATCH", "/v1/status", opts.request_timeout, kStopBody);
    for (std::size_t k = 0; k < running.size(); ++k)
      if (resp[k].status == 200) running[k]->stop_sent = true;
  }

  /// Ends every live runner's linger: once when it has ended; a runner still
  /// running is stopped first, then released once it has ended (3 rounds).
  void release_all() {
    std::vector<Runner*> which = driven();
    for (int round = 0; round < 3 && !which.empty(); ++round) {
      if (round) client->wait_until(now() + 200ms);
      auto st = call_each(which, "GET", "/v1/status", opts.request_timeout);
      std::vector<Runner*> answered;
      for (std::size_t k = 0; k < which.size(); ++k)
        if (st[k].status == 200) {
          parse_status(*which[k], st[k].response);
          answered.push_back(which[k]);
        }
      auto resp = call_each(answered, "PATCH", "/v1/status", opts.request_timeout, kStopBody);
      which.clear();
      for (std::size_t k = 0; k < answered.size(); ++k) {
        if (!answered[k]->ended()) {
          which.push_back(answered[k]);
        } else if (resp[k].status == 200) {
          answered[k]->released = true;
        }
      }
    }
  }

  /// What setup() returned (null: nothing), for handleSummary's data.setup_data.
  json setup_data;

  // The start: coordinator_start.cc.
  bool wait_ready();
  bool run_setup();
  bool resume_all();

  /// Our wall clock (unix µs): the runners' "start at T" instant is on the wall clock.
  static std::int64_t wall_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  /// A runner's snapshot from its wire form, its generator entries named.
  metrics::Snapshot decode_snapshot(const Runner& r, const std::string& wire, bool binary) {
    metrics::Snapshot s =
        binary ? metrics::from_binary(wire, &tag_pool) : metrics::Snapshot::from_json(json::parse(wire));
    auto reqs = s.find("http_reqs");  // the runner's own request count: its rate on the dashboard
    for (auto& g : s.generators) {
      g.name = generator_name(r.index, g.segment);
      g.requests = reqs ? s.aggregate(*reqs, {}).sum : 0.0;
    }
    return s;
  }

  /// Every runner's last snapshot merged, as of the last poll_all(true).
  const metrics::Snapshot& merged() const { return round_merged; }

  std::chrono::milliseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now() - start_time);
  }

  std::chrono::milliseconds status_gap() const { return status_check_gap(runners.size(), stopping); }

  /// The main loop, from the start until every live runner has ended.
  void drive() {
    metrics::Snapshot prev;
    auto prev_t = now();
    auto next = start_time + opts.poll_interval;
    auto last_poll = now();
    for (;;) {
      // Until the next full tick (snapshots, thresholds, progress): react to
      // stop requests at once, and check the runners' status every 200 ms
      // (100 ms while stopping) so that an end, an abort or a lost runner is
      // handled at once rather than at the next tick.
      auto ended_count = [this] {
        std::size_t n = 0;
        for (auto& r : runners)
          if (!r->gone() && (r->ended() || !r->abort_reason.empty())) n++;
        return n;
      };
      std::size_t ended_before = ended_count();
      while (now() < next) {
        if (stop_pending()) {
          outcome.stop_code = stop_request.load();
          stop_all(current_stop_reason());
        }
        auto due = last_poll + status_gap();
        if (now() < due) {
          client->wait_until(std::min(next, due));  // request_stop() wakes it
          continue;
        }
        last_poll = now();
        poll_all(false);
        bool failed = false;
        for (auto& r : runners) failed = failed || (!r->gone() && !r->poll_ok);
        if (failed || ended_count() != ended_before) break;
      }
      if (stop_pending()) {
        outcome.stop_code = stop_request.load();
        stop_all(current_stop_reason());
      }
      if (now() >= next) next += opts.poll_interval;
      if (next < now()) next = now() + opts.poll_interval;
      last_poll = now();

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
        if (r->gone()) continue;
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
      double dt = std::chrono::duration<double>(now() - prev_t).count();
      if (opts.progress) {
        ProgressInput in;
        in.elapsed_s = std::chrono::duration<double>(elapsed()).count();
        for (auto& r : runners)
          if (!r->gone()) {
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
      prev_t = now();

      bool all_ended = true;
      for (auto& r : runners)
        if (!r->gone() && !r->ended()) all_ended = false;
      if (all_ended) {
        if (stopping) rep.stop_latency_ms = std::chrono::duration<double, std::milli>(now() - stop_time).count();
        return;
      }
      // A stop by a signal or the API (105) is the user's: runners that do not
      // end soon are left with their last results, not lost (the exit stays 105).
      const bool user_stop = outcome.stop_code == exec::kExitSignal;
      const auto limit = user_stop ? opts.user_stop_timeout : opts.stop_timeout;
      if (stopping && now() - stop_time > limit) {
        std::string within = "within " + std::to_string(limit.count() / 1000) + " s of being stopped";
        for (std::size_t i = 0; i < runners.size(); ++i) {
          if (runners[i]->gone() || runners[i]->ended()) continue;
          if (user_stop)
            abandon(i, "did not end " + within);
          else
            mark_lost(i, "it did not end " + within);
        }
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
      auto resp = call(r, "POST", "/v1/teardown", opts.teardown_timeout);
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
      // First: the outputs' last push, whose counts the summary shows.
      std::string note = publish_metrics(rep.merged, true);
      if (!note.empty()) opts.summary.notes.push_back(note);
      if (std::string line = start_note(rep.start); !line.empty()) opts.summary.coordinator_notes.push_back(line);
      if (std::string line = clock_note(rep.start); !line.empty()) opts.summary.coordinator_notes.push_back(line);
      rep.summary_data =
          metrics::build_summary_data(rep.merged, opts.thresholds, results, test_duration, opts.summary, rep.partial);
      opts.summary.blocks.push_back(metrics::generator_health_block(rep.merged.generators));
      metrics::SummaryOptions plain = opts.summary;
      plain.no_color = true;
      summary_text = metrics::render_text_summary(rep.summary_data, plain);
      bool text_printed = false;
      for (const std::string& e : write_summary(opts, rep.summary_data, setup_data, summary_text, &text_printed))
        error(e);
      if (!note.empty() && !text_printed) std::fprintf(stderr, "herd: %s\n", note.c_str());
      for (const auto& line : opts.summary.blocks.back().lines) warn("generator health: " + line);
    }
    if (rep.partial) print_partial_results(rep.lost, runners.size());
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
    in.start = rep.start;
    if (ran && !rep.summary_data.is_null()) in.data = metrics::summary_export(rep.summary_data);
    rep.result = build_result(in);
    if (opts.control) opts.control->set_result(rep.result);
  }
};

}  // namespace herd::coord
