#include "exec/engine_impl.h"

namespace herd::exec {

void Engine::Impl::on_vu_scenario_done(ScenarioRun* sc) {
  (void)sc;
  if (--pending_vu_tasks == 0) ctl.stop();
}

std::vector<std::size_t> Engine::Impl::take_vus(std::int64_t n) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < pool.size() && static_cast<std::int64_t>(out.size()) < n; i++)
    if (!vu_busy[i]) {
      vu_busy[i] = true;
      out.push_back(i);
    }
  if (static_cast<std::int64_t>(out.size()) < n)
    logger.log(k6::Logger::Level::kWarn,
               "only " + std::to_string(out.size()) + " of " + std::to_string(n) +
                   " VUs were free when a scenario started (its windows overlap more than planned)",
               "engine");
  return out;
}

void Engine::Impl::start_scenario(ScenarioRun* sc, Clock::time_point start) {
  sc->start = start;
  if (!sc->arrival()) {
    auto policy = std::make_unique<ClosedModelExecutor>(sc->cfg, sc->start, sc->global_cfg, segment);
    std::lock_guard<std::mutex> g(scenarios_mu);  // the control API sets its active VUs
    if (sc->api_vus) policy->set_active_vus(*sc->api_vus);
    sc->policy = std::move(policy);
    sc->end = sc->policy->end();
  } else {
    sc->end = sc->start + scenario_duration(sc->cfg);
  }
  sc->hard_stop = sc->end + sc->cfg.graceful_stop;
  sc->started = true;
  std::int64_t n = scenario_max_vus(sc->cfg);
  std::vector<std::size_t> taken = take_vus(n);
  if (start > Clock::now()) held_vus += taken.size();
  if (sc->arrival()) {
    // One shard per worker that holds VUs of this scenario; shards stripe the schedule.
    std::vector<Worker*> ws;
    for (std::size_t idx : taken) {
      Worker* w = pool[idx]->worker;
      if (std::find(ws.begin(), ws.end(), w) == ws.end()) ws.push_back(w);
    }
    sc->shards.resize(workers.size());
    std::vector<std::pair<std::string, std::string>> tags(run.global_tags.begin(), run.global_tags.end());
    tags.emplace_back("scenario", sc->cfg.name);
    for (size_t j = 0; j < ws.size(); j++) {
      auto sh = std::make_unique<ArrivalShard>();
      sh->worker = ws[j];
      sh->sc = sc;
      sh->index = static_cast<std::int64_t>(j);
      sh->stride = static_cast<std::int64_t>(ws.size());
      sh->next_i = sh->index;
      sh->dropped_tags = metrics::TagSet(tags);
      sc->shards[static_cast<size_t>(ws[j]->index)] = std::move(sh);
    }
  }
  for (std::size_t kk = 0; kk < taken.size(); kk++) {
    auto k = static_cast<std::int64_t>(kk);
    std::size_t idx = taken[kk];
    Vu* v = pool[idx];
    {
      std::lock_guard<std::mutex> g(scenarios_mu);
      sc->vus.push_back(v);
    }
    v->owner = sc;
    pending_vu_tasks++;
    std::string setup;
    {
      std::lock_guard<std::mutex> g(setup_mu);  // PUT /v1/setup may write it meanwhile
      setup = setup_json;
    }
    v->worker->loop.post([this, v, sc, k, idx, setup = std::move(setup)] {
      v->post_task([this, v, sc, k, idx, setup] {
        v->set_setup_data(setup);
        vu_run_scenario(*v, sc, k);
        ctl.post([this, sc, idx] {
          vu_busy[idx] = false;
          pool[idx]->owner = nullptr;
          on_vu_scenario_done(sc);
        });
      });
    });
  }
  // Start the arrival schedule after the VUs' tasks (posted above, FIFO per
  // worker), so that the VUs wait in their shard before the first deadline.
  for (auto& sh : sc->shards) {
    if (!sh) continue;
    ArrivalShard* p = sh.get();
    p->worker->loop.post([this, p] { arrival_fire(p); });
  }
  // Stop taking iterations at the end; interrupt at the hard stop.
  ctl.add_timer(sc->end, [this, sc] { end_scenario(sc, false); });
  ctl.add_timer(sc->hard_stop, [this, sc] { end_scenario(sc, true); });
}

void Engine::Impl::end_scenario(ScenarioRun* sc, bool hard) {
  sc->stopping = true;
  for (auto& sh : sc->shards) {
    if (!sh) continue;
    ArrivalShard* p = sh.get();
    p->worker->loop.post([p] {
      if (p->armed) p->worker->loop.cancel_timer(p->timer);
      p->armed = false;
    });
  }
  for (Vu* v : sc->vus) {
    // A VU this scenario is done with may already run the next scenario: the
    // stop is not for it (owner is read here, on the controller thread).
    if (v->owner != sc) continue;
    if (hard) request_vu_stop(v->st);  // reaches busy JS, whose loop runs no task
    v->worker->loop.post([v, hard] {
      if (hard) v->st.interrupted = !v->idle;
      // Wake VUs parked by ramping-vus (and, on a hard stop, any wait).
      if (!v->idle) v->st.wake();
    });
  }
}

void Engine::Impl::interrupt_all() {
  auto starts = std::move(pending_starts);
  pending_starts.clear();
  for (auto& [id, fire] : starts) {
    ctl.cancel_timer(id);
    fire();
  }
  for (auto& sc : scenarios) {
    sc->stopping = true;
    if (sc->started) end_scenario(sc.get(), true);
  }
}

void Engine::Impl::arrival_fire(ArrivalShard* sh) {
  ScenarioRun* sc = sh->sc;
  sh->armed = false;
  if (!sc->stopping.load() && Clock::now() >= sc->start) mark_started();  // the schedule begins
  for (;;) {
    if (sc->stopping.load() || run.aborted.load()) return;
    // next_i counts this instance's iterations; the segment maps them onto the global schedule.
    std::int64_t global = segment.global_iteration(sh->next_i);
    auto off = arrival_offset(sc->cfg, global);
    if (!off) return;
    Clock::time_point due = sc->start + *off;
    if (due > Clock::now()) {
      sh->timer = sh->worker->loop.add_timer(due, [this, sh] { arrival_fire(sh); });
      sh->armed = true;
      return;
    }
    std::int64_t i = global;
    sh->next_i += sh->stride;
    if (sh->idle.empty()) {
      sh->worker->sink->add(metrics::kDroppedIterations, sh->dropped_tags, 1, unix_us());
      continue;
    }
    Vu* v = sh->idle.back();
    sh->idle.pop_back();
    v->arrival_start = true;
    v->arrival_i = i;
    v->arrival_intended = due;
    v->st.wake();  // runs the VU until it suspends (on the loop's stack, not in a fiber)
  }
}

}  // namespace herd::exec
