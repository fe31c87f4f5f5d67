#include "exec/engine_impl.h"
#include "k6/natives_util.h"

namespace herd::exec {

void Engine::Impl::vu_run_scenario(Vu& v, ScenarioRun* sc, std::int64_t k) {
  k6::VuState& st = v.st;
  st.scenario = sc->cfg.name;
  st.executor = sc->cfg.executor;
  st.scenario_start = sc->start;
  st.scenario_progress = [sc] { return sc->progress(); };
  st.scenario_tags.clear();
  st.scenario_tags["scenario"] = sc->cfg.name;
  for (auto& [tk, tv] : sc->cfg.tags) st.scenario_tags[tk] = tv;
  st.group_path.clear();
  st.rebuild_tags();
  st.iteration = 0;
  st.iteration_in_scenario = 0;
  js::Value fn = v.export_fn(sc->cfg.exec);
  if (fn.is_undefined()) {
    if (k == 0)
      logger.log(k6::Logger::Level::kError,
                 "scenario \"" + sc->cfg.name + "\": the script exports no function \"" + sc->cfg.exec + "\"",
                 "engine");
    return;
  }
  // Scenario env overrides __ENV for this VU while it runs the scenario.
  if (!sc->cfg.env.empty()) {
    js::Value env(v.ctx(), JS_GetPropertyStr(v.ctx(), js::global_object(v.ctx()).get(), "__ENV"));
    for (auto& [ek, ev] : sc->cfg.env)
      JS_SetPropertyStr(v.ctx(), env.get(), ek.c_str(), k6::new_string_for(v.ctx(), ev));
  }
  // Closed-model VUs of a prepared start wait here for the start instant;
  // arrival-rate VUs wait for their shard's first deadline instead.
  if (!sc->arrival()) {
    if (!hold_until_start(v, sc)) return;
    mark_started();
  }
  std::int64_t local_iters = 0;
  loop::TimerId rampdown_timer = 0;
  bool rampdown_armed = false;
  bool active = false;
  auto set_active = [&](bool a) {
    if (a == active) return;
    active = a;
    run.stats.vus_active += a ? 1 : -1;
  };
  if (sc->arrival()) {
    ArrivalShard* shard = sc->shards[static_cast<size_t>(v.worker->index)].get();
    for (;;) {
      if (st.interrupted || sc->stopping.load() || run.aborted.load()) break;
      shard->idle.push_back(&v);
      while (!v.arrival_start && !st.interrupted && !sc->stopping.load() && !run.aborted.load()) st.suspend();
      if (!v.arrival_start) {
        shard->idle.erase(std::remove(shard->idle.begin(), shard->idle.end(), &v), shard->idle.end());
        break;
      }
      v.arrival_start = false;
      st.iteration_in_test = v.arrival_i;
      set_active(true);
      bool ok = run_iteration(v, fn.get(), sc, &v.arrival_intended);
      set_active(false);
      if (!ok) break;
    }
  }
  for (;;) {
    if (sc->arrival()) break;
    if (st.interrupted || sc->stopping.load() || run.aborted.load()) break;
    NextStep step = sc->policy->next(k, local_iters, Clock::now());
    if (step.kind == NextStep::kStop) break;
    if (step.kind == NextStep::kWait) {
      // Parked until the executor's time comes, or woken (vus changed, scenario ending).
      set_active(false);
      bool fired = false;
      loop::TimerId id = v.worker->loop.add_timer(std::min(step.wake_at, sc->end), [&fired, &st] {
        fired = true;
        st.wake();
      });
      v.parked = true;
      st.suspend();
      v.parked = false;
      if (!fired) v.worker->loop.cancel_timer(id);
      continue;
    }
    st.iteration_in_test =
        sc->cfg.executor == "shared-iterations" ? segment.global_iteration(step.iteration) : step.iteration;
    if (step.interrupt_at) {
      // gracefulRampDown: the ramp drops this VU during the iteration.
      std::int64_t iter = st.iteration;
      Vu* vp = &v;
      rampdown_timer = v.worker->loop.add_timer(*step.interrupt_at, [vp, iter] {
        if (vp->st.iteration == iter && !vp->idle) {
          vp->rampdown_interrupt = true;
          vp->st.interrupted = true;
          vp->st.wake();
        }
      });
      rampdown_armed = true;
      st.busy_deadline = *step.interrupt_at;  // the timer above cannot run while the JS is busy
    }
    set_active(true);
    local_iters++;
    bool ok = run_iteration(v, fn.get(), sc);
    if (rampdown_armed) {
      v.worker->loop.cancel_timer(rampdown_timer);
      rampdown_armed = false;
      st.busy_deadline.reset();
      if (st.busy_deadline_hit) v.rampdown_interrupt = true;
      st.busy_deadline_hit = false;
    }
    if (!ok) {
      if (!v.rampdown_interrupt) break;
      // Interrupted by the ramp-down, not by the scenario's end: park and go on.
      v.rampdown_interrupt = false;
      st.interrupted = false;
      st.iteration++;
    }
  }
  set_active(false);
  st.interrupted = false;
}

bool Engine::Impl::run_iteration(Vu& v, JSValue fn, ScenarioRun* sc, const Clock::time_point* intended) {
  k6::VuState& st = v.st;
  if (!st.group_path.empty()) {
    st.group_path.clear();
    st.rebuild_tags();
  }
  if (!run.http.no_cookies_reset) st.jar.clear();
  if (run.http.net && run.http.net->no_vu_connection_reuse) {
    st.http->close_idle(static_cast<std::uint64_t>(st.id_in_test));
  }
  k6::set_iteration_globals(v.ctx(), st.id_in_instance, st.iteration);
  auto t0 = Clock::now();
  {
    JSValue data = v.setup_data.get();
    js::Value r(v.ctx(), JS_Call(v.ctx(), fn, JS_UNDEFINED, 1, &data));
    bool failed = r.is_exception();
    if (failed && !st.interrupted) {
      std::string msg = js::take_exception(v.ctx());
      logger.log(k6::Logger::Level::kError, msg, "console");
    } else if (failed) {
      js::discard_exception(v.ctx());
    }
    if (!failed) {
      std::string err = v.drive(r.get());
      if (!err.empty() && !st.interrupted) logger.log(k6::Logger::Level::kError, err, "console");
      failed = !err.empty();
    }
    if (failed && !st.interrupted) k6::warn_dropped_timers(&st);  // as k6, for the timers dropped below
  }
  st.clear_async(v.ctx());  // an interrupted iteration leaves timers and requests behind
  if (st.interrupted) {
    // Its requests still in flight (abandoned by now) release their sockets at
    // once instead of at their timeout. On this VU's loop thread, as cancel() needs.
    if (st.http) st.http->cancel(static_cast<std::uint64_t>(st.id_in_test));
    run.stats.iterations_interrupted++;
    return false;
  }
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!st.group_path.empty()) {
    st.group_path.clear();
    st.rebuild_tags();
  }
  std::int64_t now = unix_us();
  {
    metrics::Sink::Batch b(*st.sink);
    if (b.direct()) {  // no tag filter nor output: straight to the cached series
      auto& c = v.iteration_series;
      if (!b.reuse(c, st.base_tags)) {
        c.series[0] = b.series(metrics::kIterations, st.base_tags);
        c.series[1] = b.series(metrics::kIterationDuration, st.base_tags);
      }
      b.add_direct(c.series[0], metrics::kIterations, 1, now);
      b.add_direct(c.series[1], metrics::kIterationDuration, ms, now);
    } else {
      b.add(metrics::kIterations, st.base_tags, 1, now);
      b.add(metrics::kIterationDuration, st.base_tags, ms, now);
    }
    if (intended) {
      // Open-model measurements, free of coordinated omission: how late the
      // iteration started, and its duration counted from when it was due.
      b.add(start_lag_metric, st.base_tags, std::chrono::duration<double, std::milli>(t0 - *intended).count(), now);
      b.add(corrected_metric, st.base_tags, std::chrono::duration<double, std::milli>(Clock::now() - *intended).count(),
            now);
    }
  }
  st.iteration++;
  st.iteration_in_scenario++;
  run.stats.iterations_completed++;
  (void)sc;
  if (options.min_iteration_duration.count() > 0) pad_iteration(v, t0 + options.min_iteration_duration);
  return true;
}

bool Engine::Impl::hold_until_start(Vu& v, ScenarioRun* sc) {
  auto stopped = [&] { return v.st.interrupted || sc->stopping.load() || run.aborted.load(); };
  if (Clock::now() >= sc->start) return !stopped();
  bool fired = false;
  loop::TimerId id = v.worker->loop.add_timer(sc->start, [&fired, &v] {
    fired = true;
    v.st.wake();
  });
  v.parked = true;  // an externally-controlled vus change wakes it: it goes on waiting
  while (!fired && !stopped()) v.st.suspend();
  v.parked = false;
  if (!fired) v.worker->loop.cancel_timer(id);
  return !stopped();
}

void Engine::Impl::pad_iteration(Vu& v, Clock::time_point until) {
  if (until <= Clock::now()) return;
  bool fired = false;
  loop::TimerId id = v.worker->loop.add_timer(until, [&fired, &v] {
    fired = true;
    v.st.wake();
  });
  while (!fired && !v.st.interrupted) v.st.suspend();
  if (!fired) v.worker->loop.cancel_timer(id);
}

}  // namespace herd::exec
