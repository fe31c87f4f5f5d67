#include "exec/engine_impl.h"

#include <signal.h>

namespace herd::exec {

api::StatusInfo Engine::Impl::ApiHandler::status() {
  api::StatusInfo st;
  st.status = static_cast<api::ExecutionStatus>(impl.exec_status.load());
  {
    std::lock_guard<std::mutex> g(impl.pause_mu);
    st.paused = impl.paused;
  }
  st.vus = impl.run.stats.vus_active.load();
  st.vus_max = impl.vus_max.load();
  st.stopped = impl.stop_code.load() >= 0;
  st.running = st.status == api::ExecutionStatus::kRunning;
  st.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(impl.elapsed());
  if (impl.final_exit_code.load() >= 0) st.exit_code = impl.final_exit_code.load();
  st.started_at_us = impl.started_at_us.load();
  {
    std::lock_guard<std::mutex> g(impl.abort_mu);
    st.abort_reason = impl.abort_reason;
  }
  return st;
}

std::optional<std::string> Engine::Impl::ApiHandler::patch_status(const api::StatusPatch& p) {
  std::lock_guard<std::mutex> serial(patch_mu);
  ScenarioRun* ext = nullptr;  // lives as long as the engine; its cfg never changes
  {
    std::lock_guard<std::mutex> g(impl.scenarios_mu);
    for (auto& sc : impl.scenarios)
      if (sc->cfg.executor == "externally-controlled") ext = sc.get();
  }
  std::int64_t vus_max = impl.vus_max.load();
  // Validate everything first: an invalid patch changes nothing.
  if (p.vus_max && *p.vus_max != vus_max)
    return "changing vus-max is not supported: it is fixed at " + std::to_string(vus_max) + " after initialisation";
  if (p.vus) {
    if (!ext) return std::string("vus can only be changed for an externally-controlled scenario");
    if (*p.vus > ext->cfg.max_vus && ext->cfg.max_vus > 0)
      return "vus (" + std::to_string(*p.vus) + ") cannot exceed maxVUs (" + std::to_string(ext->cfg.max_vus) + ")";
  }
  if (p.paused) {
    std::lock_guard<std::mutex> g(impl.pause_mu);
    if (*p.paused && !impl.paused) return std::string("pausing a running test is not supported");
  }
  // The API answers while POST /v1/setup runs: the test starts after setup() returned.
  if (p.paused && !*p.paused && impl.api_setup_running.load())
    return std::string("setup() is still running (POST /v1/setup): resume after it returned");
  if (p.stopped && !*p.stopped && impl.stop_code.load() >= 0) return std::string("a stopped test cannot be restarted");
  // A start far ahead of this runner's clock is a clock problem, not a plan: refused.
  constexpr std::int64_t kMaxStartAheadUs = 60'000'000;
  if (p.start_at_us && *p.start_at_us - unix_us() > kMaxStartAheadUs)
    return "start-at-us is " + std::to_string((*p.start_at_us - unix_us()) / 1000) +
           " ms ahead of this runner's clock (at most 60 s): are the clocks in sync?";
  if (p.stopped && *p.stopped && impl.final_exit_code.load() >= 0) {
    // A lingering runner: this ends the linger.
    std::lock_guard<std::mutex> g(impl.pause_mu);
    impl.linger_done = true;
    impl.pause_cv.notify_all();
    return std::nullopt;
  }
  // Apply.
  if (p.vus && ext) {
    // Under the lock: run_all() empties `vus` (under it) before the workers go.
    std::lock_guard<std::mutex> g(impl.scenarios_mu);
    if (ext->policy)
      ext->policy->set_active_vus(*p.vus);
    else
      ext->api_vus = *p.vus;  // not started yet (startTime): applied when it starts
    for (Vu* v : ext->vus)
      v->worker->loop.post([v] {
        if (v->parked) v->st.wake();
      });
  }
  if (p.paused && !*p.paused) {
    std::lock_guard<std::mutex> g(impl.pause_mu);
    impl.start_at_us = p.start_at_us.value_or(0);
    impl.paused = false;
    impl.pause_cv.notify_all();
  }
  if (p.stopped && *p.stopped) {
    impl.stop(kExitStoppedByApi);
    std::lock_guard<std::mutex> g(impl.pause_mu);
    impl.pause_cv.notify_all();
  }
  return std::nullopt;
}

std::optional<bool> Engine::Impl::ApiHandler::metric_tainted(const std::string& metric) {
  if (!impl.initialised()) return std::nullopt;  // no thresholds parsed yet
  bool has = false;
  for (auto& t : impl.thresholds) has = has || t.selector.metric == metric;
  if (!has) return std::nullopt;
  auto res = metrics::evaluate_thresholds(impl.thresholds, impl.collect(), impl.elapsed(), false);
  for (auto& r : res)
    if (!r.ok && r.selector.rfind(metric, 0) == 0) return true;
  return false;
}

nlohmann::json Engine::Impl::ApiHandler::get_setup_data() {
  std::lock_guard<std::mutex> g(impl.setup_mu);
  return impl.setup_json.empty() ? nlohmann::json() : nlohmann::json::parse(impl.setup_json);
}

nlohmann::json Engine::Impl::ApiHandler::run_setup() {
  if (!impl.initialised()) throw std::runtime_error("the script is not initialised yet");
  std::string data;
  struct Running {
    std::atomic<bool>& flag;
    explicit Running(std::atomic<bool>& f) : flag(f) { flag = true; }
    ~Running() { flag = false; }
  };
  try {
    Running running(impl.api_setup_running);
    data = impl.call_lifecycle("setup", nullptr, impl.options.setup_timeout);
  } catch (const LifecycleTimeout& e) {
    throw api::HandlerError(504, e.what());  // the coordinator ends the test with exit code 100
  } catch (const std::exception& e) {
    if (impl.stop_code.load() < 0) throw;
    throw api::HandlerError(409, "setup() was interrupted: the test was stopped");
  }
  std::lock_guard<std::mutex> g(impl.setup_mu);
  impl.setup_json = data;
  impl.setup_provided = true;
  return data.empty() ? nlohmann::json() : nlohmann::json::parse(data);
}

void Engine::Impl::ApiHandler::set_setup_data(nlohmann::json data) {
  std::lock_guard<std::mutex> g(impl.setup_mu);
  impl.setup_json = data.is_null() ? std::string() : data.dump();
  impl.setup_provided = true;
}

void Engine::Impl::ApiHandler::run_teardown() {
  if (!impl.initialised()) throw std::runtime_error("the script is not initialised yet");
  std::string data;
  {
    std::lock_guard<std::mutex> g(impl.setup_mu);
    data = impl.setup_json;
  }
  try {
    impl.call_lifecycle("teardown", &data, impl.options.teardown_timeout);
  } catch (const LifecycleTimeout& e) {
    throw api::HandlerError(504, e.what());  // the coordinator ends the test with exit code 101
  }
}

void Engine::Impl::open_outputs() {
  // Written after the test: found unwritable now, not then.
  if (std::string why = options.summary_export.empty() ? "" : metrics::unwritable_reason(options.summary_export);
      !why.empty())
    throw OptionsError("--summary-export " + options.summary_export + ": cannot write: " + why);
  std::vector<std::string> specs = options.outputs;
  try {
    metrics::OutputContext ctx;
    // A part of a distributed test (a runner of --parallelism, the coordinator
    // or the operator): its points are told apart from the other runners'.
    if (!options.execution_segment.empty() && options.execution_segment != "0:1")
      ctx.instance = options.execution_segment;
    ctx.warn = [this](const std::string& msg) { logger.log(k6::Logger::Level::kWarn, msg, "output"); };
    remote_write = exporter::open_remote_write(
        specs, cfg.environ, [this] { return collect(); },
        [this](const std::string& msg) { logger.log(k6::Logger::Level::kWarn, msg, "output"); },
        [this](const metrics::Snapshot& snap, bool final) {
          if (options.no_thresholds) return std::vector<metrics::ThresholdResult>{};
          try {  // the final push: the test's duration, as the end-of-test evaluation
            return metrics::evaluate_thresholds(thresholds, snap, elapsed(), final);
          } catch (const std::exception&) {  // a metric not defined yet: reported at the end
            return std::vector<metrics::ThresholdResult>{};
          }
        },
        exporter::RunTags(options.tags.begin(), options.tags.end()));
    dashboard = dashboard::open_live_dashboard(
        specs, cfg.environ, [this] { return collect(); },
        [this](const metrics::Snapshot& snap) {
          if (options.no_thresholds) return std::vector<metrics::ThresholdResult>{};
          try {
            return metrics::evaluate_thresholds(thresholds, snap, elapsed(), false);
          } catch (const std::exception&) {  // a metric not defined yet: reported at the end
            return std::vector<metrics::ThresholdResult>{};
          }
        },
        [this] { return elapsed(); },
        [this](const std::string& msg) { logger.log(k6::Logger::Level::kInfo, msg, "output"); }, options.report);
    outputs = metrics::open_outputs(specs, cfg.environ, options.system_tags, thresholds, ctx);
  } catch (const metrics::OutputError& e) {
    throw OptionsError(e.what());
  } catch (const std::invalid_argument& e) {
    throw OptionsError(e.what());
  } catch (const std::system_error& e) {  // the web dashboard's port
    throw OptionsError(e.what());
  }
  // Only tags herd emits: with k6's default systemTags nothing is dropped and
  // samples skip the filter (a hash look-up per sample).
  dropped_tags = metrics::dropped_system_tags(emitted_system_tags(), options.system_tags);
  for (auto& w : workers) connect_sink(*w->sink);
}

void Engine::Impl::connect_sink(metrics::Sink& sink) {
  if (outputs && !outputs->empty()) sink.set_observer(outputs);
  sink.set_dropped_tags(dropped_tags);
}

metrics::Snapshot Engine::Impl::collect() {
  std::lock_guard<std::mutex> g(workers_mu);
  metrics::Snapshot snap;
  bool first = true;
  for (auto& w : workers) {
    metrics::Snapshot s = w->sink->snapshot();
    if (first) {
      snap = std::move(s);
      first = false;
    } else {
      snap.merge(s);
    }
  }
  snap.time_us = unix_us();
  if (auto h = health_monitor()) snap.generators.push_back(h->health());
  return snap;
}

std::chrono::milliseconds Engine::Impl::elapsed() const {
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - test_start.load()));
}

void Engine::Impl::evaluate_periodic() {
  if (thresholds.empty() || options.no_thresholds) return;
  metrics::Snapshot snap = collect();
  auto res = metrics::evaluate_thresholds(thresholds, snap, elapsed(), false);
  for (auto& r : res) {
    if (!r.ok && r.abort_on_fail) {
      logger.log(k6::Logger::Level::kError,
                 "thresholds on metrics '" + r.selector +
                     "' were crossed; at least one has abortOnFail enabled, "
                     "stopping test prematurely",
                 "engine");
      {
        std::lock_guard<std::mutex> g(abort_mu);
        abort_reason = "threshold " + r.selector + ": " + r.source + " crossed";
      }
      stop(kExitThresholdsFailed);
      return;
    }
  }
}

void Engine::Impl::show_progress(bool final) {
  if (options.quiet || !cfg.is_stderr_tty) return;
  auto e = elapsed();
  std::int64_t secs = e.count() / 1000;
  char line[256];
  std::snprintf(line, sizeof line,
                "\rrunning (%02lldm%02lld.%01llds), %lld/%lld VUs, %lld complete and %lld interrupted iterations   ",
                static_cast<long long>(secs / 60), static_cast<long long>(secs % 60),
                static_cast<long long>((e.count() % 1000) / 100), static_cast<long long>(run.stats.vus_active.load()),
                static_cast<long long>(pool.size()), static_cast<long long>(run.stats.iterations_completed.load()),
                static_cast<long long>(run.stats.iterations_interrupted.load()));
  std::fputs(line, stderr);
  if (final) std::fputs("\n", stderr);
  std::fflush(stderr);
  progress_shown = true;
}

void Engine::Impl::tick() {
  workers[0]->sink->add(metrics::kVus, run_tag_set(), static_cast<double>(run.stats.vus_active.load()), unix_us());
  show_progress(false);
}

void Engine::Impl::stop(int code) {
  int expected = -1;
  if (!stop_code.compare_exchange_strong(expected, code)) return;
  if ((exec_status.load() == static_cast<int>(api::ExecutionStatus::kSetup) || api_setup_running.load()) && vu0)
    request_vu_stop(vu0->st);
  {
    std::lock_guard<std::mutex> g(pause_mu);
    pause_cv.notify_all();  // a test paused before its start stops too
  }
  ctl.post([this] { interrupt_all(); });
}

Engine::Impl::SignalWatcher::SignalWatcher(Impl& impl)
    : watcher_([&impl](int count, int) {
        if (count >= 2) {
          std::fputs("\nAborting immediately (second signal)\n", stderr);
          std::_Exit(kExitSignal);
        }
        std::fputs("\nStopping the test (signal received); press Ctrl+C again to abort immediately\n", stderr);
        impl.run.abort_init = true;  // only init contexts look at it
        impl.signalled = true;
        impl.stop(kExitSignal);
        std::lock_guard<std::mutex> g(impl.pause_mu);
        impl.pause_cv.notify_all();
      }) {}

void Engine::Impl::worker_fault(std::exception_ptr e) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what = ex.what();
  } catch (...) {
  }
  logger.log(k6::Logger::Level::kError, "internal error on a worker thread: " + what + "; stopping the test", "engine");
  stop(kExitGenericError);
  ctl.post([this] { ctl.stop(); });  // the VU whose task failed never reports its end
}

}  // namespace herd::exec
