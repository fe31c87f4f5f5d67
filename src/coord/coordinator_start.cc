#include <algorithm>
#include <cmath>

#include "coord/coordinator.h"
#include "coord/coordinator_impl.h"

namespace herd::coord {

bool Coordinator::Impl::wait_ready() {
  auto deadline = now() + opts.ready_timeout;
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
    if (now() >= deadline) {
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
    client->wait_until(std::min(deadline, now() + 100ms));
  }
}

/// setup() once on runner 1, its data to the others. False on failure.
bool Coordinator::Impl::run_setup() {
  set_phase(api::ExecutionStatus::kSetup);
  Runner& first = *runners[0];
  auto resp = call(first, "POST", "/v1/setup", opts.setup_timeout, "", true);
  if (stop_pending()) {
    // A signal or API stop while setup() runs: the runner's API still
    // answers, and its stop interrupts setup(); run() then waits for the
    // runners to end and releases them. A runner that takes no stop is
    // left (and, locally, ended).
    outcome.stop_code = stop_request.load();
    stop_all(current_stop_reason());
    if (!first.stop_sent && !first.ended()) abandon(0, "was still in setup() when the test was stopped");
    return false;
  }
  if (resp.status != 200) {
    error("setup() failed on " + first.name + ": " + error_detail(resp));
    auto st = call(first, "GET", "/v1/status", opts.request_timeout);
    if (st.status == 200) parse_status(first, st.response);
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
    data = json::parse(resp.response).at("data").at("attributes").value("data", json());
  } catch (const std::exception& e) {
    error(std::string("setup() on ") + first.name + ": malformed answer: " + e.what());
    outcome.runner_failure = 1;
    return false;
  }
  if (opts.control) opts.control->set_setup_data(data);
  setup_data = data;
  std::vector<Runner*> others;
  for (std::size_t i = 1; i < runners.size(); ++i) others.push_back(runners[i].get());
  auto put = call_each(others, "PUT", "/v1/setup", opts.request_timeout, data.dump());
  for (std::size_t k = 0; k < others.size(); ++k)
    if (put[k].status != 200) {
      mark_lost(others[k]->index, "could not hand it the setup data: " + error_detail(put[k]));
      return false;
    }
  return true;
}

/// Resumes every runner at one agreed instant ("start at T"): a warm-up
/// GET on every keep-alive connection measures each runner's round trip and
/// clock offset; then one batch of PATCHes {"paused":false,"start-at-us":T}
/// with T = now + a margin sized to how long the warm-up batch took, and
/// each runner sleeps until T on its own clock. The skew is the spread of
/// the start instants the runners report ("started-at-us"); runners that do
/// not report one (older ones start at the PATCH) fall back to the spread of
/// the PATCHes' completions. Returns false if one refused.
bool Coordinator::Impl::resume_all() {
  std::vector<Runner*> all = driven();
  const auto warm_t0 = now();
  const std::int64_t warm_wall0 = wall_us();
  auto warm = call_each(all, "GET", "/v1/status", opts.request_timeout);  // the PATCHes need no connect
  Clock::duration warm_took{0};
  for (std::size_t k = 0; k < all.size(); ++k) {
    Runner& r = *all[k];
    r.clock_us = 0;
    if (warm[k].status == 200) parse_status(r, warm[k].response);
    r.rtt_ms = std::chrono::duration<double, std::milli>(warm[k].done - warm_t0).count();
    warm_took = std::max(warm_took, warm[k].done - warm_t0);
    // Its clock at the answer, against the middle of our send and receive.
    if (r.clock_us > 0) r.offset_ms = static_cast<double>(r.clock_us - warm_wall0) / 1000.0 - r.rtt_ms / 2;
  }
  // Room for the batch to reach every runner and for each runner to prepare
  // its start (VUs take their scenario and setup data) before T: the PATCHes
  // cost the runners more than the warm-up GETs (with 64 local runners on 2
  // cores the last one was prepared ~27 ms after the first PATCH at load 9),
  // so three times the warm-up batch's time + 30 ms, within [50 ms, 2 s].
  auto margin = std::clamp<Clock::duration>(3 * warm_took + 30ms, 50ms, 2s);
  const std::int64_t start_at = wall_us() + std::chrono::duration_cast<std::chrono::microseconds>(margin).count();
  const auto start_steady = now() + margin;
  std::string body = R"({"data":{"type":"status","id":"default","attributes":{"paused":false,"start-at-us":)" +
                     std::to_string(start_at) + "}}}";
  auto res = call_each(all, "PATCH", "/v1/status", opts.request_timeout, body);
  bool ok = true;
  std::vector<Clock::time_point> done;
  for (std::size_t k = 0; k < all.size(); ++k) {
    done.push_back(res[k].done);
    if (res[k].status != 200) {
      mark_lost(all[k]->index, "it refused to start: " + error_detail(res[k]));
      ok = false;
    }
  }
  auto [mn, mx] = std::minmax_element(done.begin(), done.end());
  double patch_spread_ms = std::chrono::duration<double, std::milli>(*mx - *mn).count();
  bool late = *mx > start_steady;  // some PATCH arrived after T: the margin was too short
  start_time = late ? *mn : start_steady;
  // The runners' own start instants, once they are past T (bounded: 1 s).
  std::vector<std::int64_t> started;
  if (ok) {
    // Not at T: 64 local runners waking at T on 2 cores would queue behind
    // the status requests' work (their skew grew by several ms).
    client->wait_until(start_steady + 25ms);
    for (int round = 0; round < 10 && !stop_pending(); ++round) {
      auto st = call_each(all, "GET", "/v1/status", opts.request_timeout, "", true);
      started.clear();
      for (std::size_t k = 0; k < all.size(); ++k)
        if (st[k].status == 200 && parse_status(*all[k], st[k].response) && all[k]->started_at_us > 0)
          started.push_back(all[k]->started_at_us);
      if (started.size() == all.size() || started.empty()) break;
      client->wait_until(now() + 100ms);
    }
  }
  double offset_max = 0, rtt_max = 0;
  for (Runner* r : all) {
    offset_max = std::max(offset_max, std::fabs(r->offset_ms));
    rtt_max = std::max(rtt_max, r->rtt_ms);
  }
  const bool at_t = !started.empty() && started.size() == all.size();
  if (at_t) {
    auto [smn, smx] = std::minmax_element(started.begin(), started.end());
    rep.start_skew_ms = static_cast<double>(*smx - *smn) / 1000.0;
  } else {
    rep.start_skew_ms = patch_spread_ms;
  }
  rep.start = start_info(all.size(), rep.start_skew_ms);
  rep.start["method"] = at_t ? "start-at" : "patch";
  rep.start["marginMs"] = std::chrono::duration<double, std::milli>(margin).count();
  rep.start["patchSpreadMs"] = patch_spread_ms;
  rep.start["clockOffsetMaxMs"] = std::round(offset_max * 1000) / 1000;
  rep.start["rttMaxMs"] = std::round(rtt_max * 1000) / 1000;
  if (late)
    warn("some runners got the start after the agreed instant (margin " + std::to_string(margin / 1ms) +
         " ms too short)");
  if (opts.control) opts.control->set_start(rep.start);
  for (auto& r : runners) r->last_ok = now();
  return ok;
}

}  // namespace herd::coord
