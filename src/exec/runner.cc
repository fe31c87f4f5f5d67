#include "exec/engine_impl.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

#include "api/http_request.h"

namespace herd::exec {

Engine::Impl::Impl(EngineConfig c) : cfg(std::move(c)), logger(cfg.verbose) {
  run.bundle = cfg.bundle;
  // The init context (also the first one, which reads `options`) already
  // sees the process environment and -e values.
  if (cfg.cli.include_system_env_vars.value_or(true)) run.env = cfg.environ;
  for (auto& [k, v] : cfg.cli.env) run.env[k] = v;
  run.registry = &registry;
  run.logger = &logger;
  if (!cfg.console_output.empty()) log_setup_error = logger.set_console_file(cfg.console_output);
  if (log_setup_error.empty()) log_setup_error = logger.set_output(cfg.log_output);
  k6::Logger::Format format;
  if (!k6::parse_log_format(cfg.log_format, &format)) {
    log_setup_error = "--log-format " + cfg.log_format + ": expected text, json or raw";
  } else {
    logger.set_format(format);
  }
  try {
    run.secrets = std::make_shared<const k6::SecretSources>(k6::SecretSources::from_flags(cfg.cli.secret_sources));
  } catch (const k6::SecretError& e) {
    if (log_setup_error.empty()) log_setup_error = e.what();
  }
  api_handler = std::make_unique<ApiHandler>(*this);
}

std::string Engine::Impl::call_lifecycle(const std::string& name, const std::string* arg, microseconds limit) {
  return on_vu0<std::string>([this, &name, arg, limit](Vu& v) {
    bool timed_out = false;
    std::string out = run_with_limit(v.st, limit, &timed_out, [&] {
      // A stop that came before run_with_limit cleared the VU's stop state.
      if (name == "setup" && stop_code.load() >= 0)
        throw std::runtime_error("setup() was not run: the test was stopped");
      return v.call_json(name, arg);
    });
    if (timed_out) throw LifecycleTimeout(name, limit);
    return out;
  });
}

void Engine::Impl::check_paused_resumable(const nlohmann::json& script_opts) const {
  // Without the control API (or an in-process caller of Engine::control())
  // nothing could ever resume the test: fail now instead of waiting forever.
  if (!options.paused || !cfg.address.empty() || control_taken.load()) return;
  std::string source;
  if (cfg.cli.paused)
    source = "--paused";
  else if (cfg.environ.count("K6_PAUSED"))
    source = "K6_PAUSED=" + cfg.environ.at("K6_PAUSED");
  else if (script_opts.is_object() && script_opts.contains("paused"))
    source = "the script's options.paused";
  else
    source =
        "options.paused in " + (cfg.cli.config_file.empty() ? std::string("the config file") : cfg.cli.config_file);
  throw OptionsError(source +
                     " needs --address HOST:PORT (the control API that resumes the test, e.g. --address "
                     "127.0.0.1:6565)");
}

RunResult Engine::Impl::run_all() {
  RunResult res;
  // Signals: a watcher thread takes SIGINT/SIGTERM (blocked in every thread
  // by the CLI) for the whole run, init, setup and teardown included.
  SignalWatcher signals(*this);
  test_start = Clock::now();
  if (!log_setup_error.empty()) {
    res.exit_code = kExitInvalidConfig;
    res.error = log_setup_error;
    return res;
  }
  nlohmann::json script_opts;
  try {
    script_opts = init_vu0();
  } catch (const js::ScriptError& e) {
    res.exit_code = run.abort_init.load() ? kExitSignal : kExitScriptException;
    res.error = run.abort_init.load() ? kInitInterrupted : e.what();
    return res;
  } catch (const std::exception& e) {
    res.exit_code = run.abort_init.load() ? kExitSignal : kExitScriptException;
    res.error = run.abort_init.load() ? kInitInterrupted : e.what();
    return res;
  }
  try {
    options = resolve_options(script_opts, cfg.environ, cfg.cli);
    for (const auto& w : options.warnings) logger.log(k6::Logger::Level::kWarn, w, "options");
    segment = make_execution_tuple(options.execution_segment, options.execution_segment_sequence);
    global_scenarios = options.scenarios;
    for (auto& sc : options.scenarios) sc = segment_scenario(sc, segment);
    check_vu_counts(options, available_memory_bytes());  // before anything is allocated for them
    check_durations(options);
    check_paused_resumable(script_opts);
    start_lag_metric = registry.define("iteration_start_lag", metrics::MetricType::kTrend, metrics::ValueType::kTime);
    corrected_metric =
        registry.define("iteration_duration_corrected", metrics::MetricType::kTrend, metrics::ValueType::kTime);
    thresholds = metrics::parse_thresholds(options.thresholds);
    if (!options.no_thresholds) metrics::validate_thresholds(thresholds, registry);
    open_outputs();
    for (const auto& sc : options.scenarios) {
      bool found = on_vu0<bool>([&sc](Vu& v) { return !v.export_fn(sc.exec).is_undefined(); });
      if (!found)
        throw OptionsError("scenario \"" + sc.name + "\": function '" + sc.exec +
                           "' not found in the script's exports (options.scenarios." + sc.name + ".exec)");
    }
  } catch (const std::exception& e) {
    res.exit_code = kExitInvalidConfig;
    res.error = e.what();
    return res;
  }
  apply_options();
  // __ENV reads RunShared::env, so VU 0 sees the resolved environment too.

  {
    // A --paused test reports paused from the first status on, during VU
    // initialisation too; a resume that arrives meanwhile is kept.
    std::lock_guard<std::mutex> g(pause_mu);
    paused = options.paused;
  }
  if (!cfg.address.empty()) {
    try {
      api::ControlServerOptions server_opts;
      if (auto it = cfg.environ.find(std::string(api::kRunIdEnv)); it != cfg.environ.end())
        server_opts.run_id = it->second;
      api_server = std::make_unique<api::ControlServer>(cfg.address, *api_handler, server_opts);
      std::fprintf(stderr, "control API listening on http://%s\n", api_server->address().c_str());
    } catch (const std::exception& e) {
      res.exit_code = kExitGenericError;
      res.error = "--address " + cfg.address + ": " + e.what();
      return res;
    }
  }
  set_status(api::ExecutionStatus::kInitVUs);
  // k6's planning: the peak of VUs needed at once; scenarios whose windows do
  // not overlap reuse the same VUs.
  std::int64_t total_vus = execution_requirements(options.scenarios).max_vus;
  for (auto& s : options.scenarios) total_vus = std::max(total_vus, scenario_max_vus(s));
  vu_busy.assign(static_cast<size_t>(total_vus), false);
  try {
    init_vus(total_vus);
  } catch (const std::exception& e) {
    res.exit_code = run.abort_init.load() ? kExitSignal : kExitScriptException;
    res.error = run.abort_init.load() ? kInitInterrupted : e.what();
    return res;
  }

  set_status(api::ExecutionStatus::kInitDone);
  // "start at T" (the coordinator's start barrier): T on the steady clock,
  // mapped once from this runner's own wall clock.
  std::optional<Clock::time_point> start_at;
  if (options.paused) {
    set_status(api::ExecutionStatus::kPausedBeforeRun);
    std::unique_lock<std::mutex> lk(pause_mu);
    pause_cv.wait(lk, [this] { return !paused || stop_code.load() >= 0; });
    if (std::int64_t at = start_at_us.load(); at > 0 && stop_code.load() < 0)
      start_at = Clock::now() + microseconds(at - unix_us());
  }
  bool provided;
  {
    std::lock_guard<std::mutex> g(setup_mu);
    provided = setup_provided;
  }
  // A prepared start: the scenarios starting at T take their VUs, and the VUs
  // their setup data and scenario state, before T; at T each worker's timer
  // releases its VUs. Not when setup() still has to run (after the resume, as
  // in k6): then the run sleeps until T, runs setup() and starts.
  bool prepared = false;
  if (start_at && stop_code.load() < 0) {
    const bool setup_at_start =
        !cfg.no_setup && !provided && !on_vu0<bool>([](Vu& v) { return v.export_fn("setup").is_undefined(); });
    prepared = !setup_at_start && *start_at > Clock::now();
    if (!prepared) {
      std::unique_lock<std::mutex> lk(pause_mu);
      pause_cv.wait_until(lk, *start_at, [this] { return stop_code.load() >= 0; });
    }
  }

  // setup()
  bool setup_failed = false;
  if (!prepared) set_status(api::ExecutionStatus::kSetup);
  if (!prepared && !cfg.no_setup && !provided && stop_code.load() < 0) {
    try {
      std::string data = call_lifecycle("setup", nullptr, options.setup_timeout);
      std::lock_guard<std::mutex> g(setup_mu);
      setup_json = data;
    } catch (const LifecycleTimeout& e) {
      setup_failed = true;
      res.exit_code = kExitSetupTimeout;
      res.error = e.what();
    } catch (const std::exception& e) {
      setup_failed = true;
      if (run.aborted.load()) {
        res.exit_code = kExitScriptAborted;
      } else if (stop_code.load() >= 0) {
        res.exit_code = stop_code.load();  // a signal or the control API stopped setup()
        res.error = "setup() was interrupted: the test was stopped";
      } else {
        res.exit_code = kExitScriptException;
        res.error = std::string("setup() failed: ") + e.what();
      }
    }
  }

  test_start = prepared ? *start_at : Clock::now();
  run.stats.start = test_start.load();
  start_health();
  if (!prepared) mark_started();
  if (!setup_failed && stop_code.load() < 0) {
    for (std::size_t i = 0; i < options.scenarios.size(); i++) {
      auto sc = std::make_unique<ScenarioRun>();
      sc->cfg = options.scenarios[i];
      sc->global_cfg = global_scenarios[i];
      std::lock_guard<std::mutex> g(scenarios_mu);
      scenarios.push_back(std::move(sc));
    }
    std::vector<std::function<void()>> at_start_fires;
    for (auto& sc : scenarios) {
      ScenarioRun* p = sc.get();
      pending_vu_tasks++;  // the start itself, so that the run cannot end before it
      auto start = std::make_shared<bool>(false);
      const Clock::time_point at = test_start.load() + p->cfg.start_time;
      auto fire = [this, p, start, at] {
        if (*start) return;
        *start = true;
        if (stop_code.load() < 0) start_scenario(p, std::max(Clock::now(), at));
        on_vu_scenario_done(p);
      };
      // Prepared: the scenarios starting at T start now (below), their VUs held until T.
      if (prepared && at == test_start.load()) {
        at_start_fires.push_back(fire);
        continue;
      }
      pending_starts.push_back({ctl.add_timer(at, fire), fire});
    }
    if (prepared) {
      pending_vu_tasks++;  // the run lasts until T at least
      ctl.add_timer(Clock::now(), [this, fires = std::move(at_start_fires)] {
        for (const auto& f : fires) f();
        if (held_vus > 0 || stop_code.load() >= 0) return on_vu_scenario_done(nullptr);
        // No VU to release at T (none in this segment, or every scenario
        // starts later): the run's start is this thread's wake-up at T. A
        // stop before T fires it at once (interrupt_all).
        auto done = std::make_shared<bool>(false);
        auto at_start = [this, done] {
          if (*done) return;
          *done = true;
          if (stop_code.load() < 0) mark_started();
          on_vu_scenario_done(nullptr);
        };
        pending_starts.push_back({ctl.add_timer(test_start.load(), at_start), at_start});
      });
    }
    // Once a second: vus gauge, progress; every 2 s: thresholds.
    std::function<void()> every_second;
    int ticks = 0;
    every_second = [&] {
      tick();
      if (++ticks % 2 == 0) evaluate_periodic();
      ctl.add_timer(Clock::now() + 1s, every_second);
    };
    ctl.add_timer(Clock::now() + 1s, every_second);
    ctl.run();
    if (auto h = health_monitor()) h->stop();  // the scenarios' time only
    {
      // Every VU task has ended: a later vus patch must not post to the VUs (freed after run()).
      std::lock_guard<std::mutex> g(scenarios_mu);
      for (auto& sc : scenarios) sc->vus.clear();
    }
    tick();
    show_progress(true);
  }
  res.duration = elapsed();

  // teardown()
  set_status(api::ExecutionStatus::kTeardown);
  if (!cfg.no_teardown && !setup_failed) {
    try {
      std::string data;
      {
        std::lock_guard<std::mutex> g(setup_mu);  // PUT /v1/setup may write it meanwhile
        data = setup_json;
      }
      call_lifecycle("teardown", &data, options.teardown_timeout);
    } catch (const LifecycleTimeout& e) {
      logger.log(k6::Logger::Level::kError, e.what(), "engine");
      if (res.exit_code == kExitOk) res.exit_code = kExitTeardownTimeout;
    } catch (const std::exception& e) {
      logger.log(k6::Logger::Level::kError, std::string("teardown() failed: ") + e.what(), "engine");
      if (res.exit_code == kExitOk) res.exit_code = kExitScriptException;
    }
  }

  // Results.
  res.snapshot = collect();
  res.ran = true;
  std::optional<exporter::RemoteWriteStats> rw_stats;
  if (!options.no_thresholds)
    res.thresholds = metrics::evaluate_thresholds(thresholds, res.snapshot, res.duration, true);
  // Bounded by its push timeout; the final verdicts are the summary's.
  if (remote_write) rw_stats = remote_write->finish(res.snapshot, &res.thresholds);
  if (dashboard) dashboard->finish(res.snapshot, res.thresholds);  // its report is written once the exit code is known
  metrics::SummaryOptions so;
  so.trend_stats = options.summary_trend_stats;
  so.time_unit = options.summary_time_unit;
  so.mode = options.summary_mode;
  so.no_color = cfg.no_color;  // as given (handleSummary's data.options.noColor); colours also need a terminal
  so.is_stdout_tty = cfg.is_stdout_tty;
  so.is_stderr_tty = cfg.is_stderr_tty;
  res.summary_data = metrics::build_summary_data(
      res.snapshot, options.no_thresholds ? decltype(thresholds){} : thresholds, res.thresholds, res.duration, so);
  bool thresholds_failed = false;
  for (auto& t : res.thresholds) thresholds_failed = thresholds_failed || !t.ok;
  // A failing endpoint is reported (in the summary, else logged), never a failed test.
  if (rw_stats) so.notes.push_back(exporter::RemoteWriteOutput::describe(*rw_stats));
  so.blocks.push_back(metrics::generator_health_block(res.snapshot.generators));
  bool text_printed = false;
  bool outputs_ok = write_outputs(res, so, &text_printed);
  for (const auto& line : so.blocks.back().lines) logger.log(k6::Logger::Level::kWarn, line, "generator");
  if (rw_stats && !text_printed)
    logger.log(rw_stats->samples_dropped ? k6::Logger::Level::kWarn : k6::Logger::Level::kInfo, so.notes.back(),
               "output");
  if (outputs) {
    for (const auto& err : outputs->finish()) {
      logger.log(k6::Logger::Level::kError, err, "output");
      outputs_ok = false;
    }
    for (const auto& note : outputs->notes()) logger.log(k6::Logger::Level::kWarn, note, "output");
  }
  set_status(api::ExecutionStatus::kEnded);

  int sc = stop_code.load();
  if (res.exit_code == kExitOk) {
    if (run.aborted.load())
      res.exit_code = kExitScriptAborted;
    else if (sc >= 0)
      res.exit_code = sc;
    else if (thresholds_failed)
      res.exit_code = kExitThresholdsFailed;
    else if (run.marked_failed.load())
      res.exit_code = kExitMarkedAsFailed;
    else if (!outputs_ok)
      res.exit_code = kExitOutputFailed;  // results lost after the test: never exit 0
  }
  if (dashboard && dashboard->wants_report()) {
    // The HTML report states the exit code herd ends with; one that cannot be
    // written is lost output (the code then becomes kExitOutputFailed, and no file says otherwise).
    dashboard::ReportInfo info;
    info.script = cfg.bundle ? cfg.bundle->main_name() : "";
    info.options = options.to_json();
    info.exit_code = res.exit_code;
    info.summary_data = res.summary_data;
    info.summary = so;
    info.generators = res.snapshot.generators;
    if (std::string err = dashboard->write_report(info); !err.empty()) {
      logger.log(k6::Logger::Level::kError, err, "output");
      if (res.exit_code == kExitOk) res.exit_code = kExitOutputFailed;
    }
  }
  res.aborted = run.aborted.load() || sc >= 0;
  {
    std::lock_guard<std::mutex> g(abort_mu);
    res.abort_reason = abort_reason;
  }
  if (res.exit_code == kExitThresholdsFailed)
    logger.log(k6::Logger::Level::kError, "thresholds on metrics have been crossed", "engine");
  if (api_server && cfg.linger) {
    final_exit_code = res.exit_code;
    std::fprintf(stderr, "herd: test ended (exit code %d); the control API lingers until stopped\n", res.exit_code);
    SignalWatcher lingering(*this);  // SIGINT/SIGTERM end the linger too
    std::unique_lock<std::mutex> lk(pause_mu);
    pause_cv.wait(lk, [this] { return linger_done || signalled.load(); });
  }
  api_server.reset();
  return res;
}

std::optional<nlohmann::json> Engine::Impl::handle_summary(const nlohmann::json& data) {
  std::string in = data.dump();
  auto limit = options.teardown_timeout;
  std::optional<std::string> out = on_vu0<std::optional<std::string>>([&](Vu& v) -> std::optional<std::string> {
    v.st.interrupted = false;
    if (v.export_fn("handleSummary").is_undefined()) return std::nullopt;
    bool timed_out = false;  // a busy handleSummary is stopped after teardownTimeout
    std::string r = run_with_limit(v.st, limit, &timed_out, [&] { return v.call_json("handleSummary", &in); });
    if (timed_out) throw std::runtime_error(handle_summary_timeout_message(limit));
    return r;
  });
  if (!out) return std::nullopt;
  return out->empty() ? nlohmann::json::object() : nlohmann::json::parse(*out);
}

namespace {

/// What a handleSummary() result that is not an object is, for the warning.
std::string json_kind(const nlohmann::json& j) {
  if (j.is_null()) return "null";
  if (j.is_array()) return "an array";
  if (j.is_string()) return "a string";
  if (j.is_boolean()) return "a boolean";
  if (j.is_number()) return "a number";
  return "a " + std::string(j.type_name());
}

/// Writes `text` to `path` (truncating it); "" or the reason it failed.
std::string write_text_file(const std::string& path, const std::string& text) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) return std::strerror(errno);
  if (std::fwrite(text.data(), 1, text.size(), f.get()) != text.size() || std::fflush(f.get()) != 0)
    return std::strerror(errno);
  if (std::fclose(f.release()) != 0) return std::strerror(errno);
  return "";
}

}  // namespace

bool Engine::Impl::write_outputs(RunResult& res, const metrics::SummaryOptions& so, bool* text_printed) {
  bool ok = true;
  *text_printed = false;
  if (!options.summary_export.empty()) {
    std::string err = write_text_file(options.summary_export, metrics::summary_export(res.summary_data).dump(4) + "\n");
    if (!err.empty()) {
      logger.log(k6::Logger::Level::kError, "--summary-export " + options.summary_export + ": cannot write: " + err,
                 "engine");
      ok = false;
    }
  }
  bool custom = false;
  if (vu0 && vu0->init_ok && !options.no_summary) {
    try {
      nlohmann::json data = res.summary_data;
      {
        // k6 hands handleSummary what setup() returned as data.setup_data.
        std::lock_guard<std::mutex> g(setup_mu);
        if (!setup_json.empty()) data["setup_data"] = nlohmann::json::parse(setup_json);
      }
      if (auto result = handle_summary(data)) {
        if (result->is_object()) {
          custom = true;
          ok = Engine::write_summary_outputs(*result) && ok;
        } else {
          logger.log(k6::Logger::Level::kWarn,
                     "handleSummary() returned " + json_kind(*result) +
                         ", not an object of {path: content}; printing the default summary",
                     "engine");
        }
      }
    } catch (const std::exception& e) {
      logger.log(k6::Logger::Level::kError, std::string("handleSummary() failed: ") + e.what(), "engine");
      custom = false;
    }
  }
  if (!custom && !options.no_summary) {
    metrics::SummaryOptions text_opts = so;
    text_opts.no_color = so.no_color || !cfg.is_stdout_tty;
    std::string text = metrics::render_text_summary(res.summary_data, text_opts);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    *text_printed = true;
  }
  return ok;
}

Engine::Engine(EngineConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {
  impl_->run.on_abort = [this](const std::string& reason) {
    std::string message = reason.empty() ? "test aborted by the script" : reason;
    {
      std::lock_guard<std::mutex> g(impl_->abort_mu);
      impl_->abort_reason = message;
    }
    impl_->logger.log(k6::Logger::Level::kError, "test aborted: " + message, "engine");
    impl_->stop(kExitScriptAborted);
  };
}

Engine::~Engine() = default;

void Engine::stop(int exit_code) {
  impl_->stop(exit_code);
}

api::ControlHandler& Engine::control() {
  impl_->control_taken = true;  // a caller that holds the interface can resume a paused test
  return *impl_->api_handler;
}

RunResult Engine::run() {
  RunResult r;
  try {
    r = impl_->run_all();
  } catch (const std::exception& e) {
    r.exit_code = kExitGenericError;
    r.error = e.what();
  }
#if !defined(__SANITIZE_ADDRESS__)
  if (impl_->cfg.exit_process_when_done) {
    if (!r.error.empty()) std::fprintf(stderr, "herd: error: %s\n", r.error.c_str());
    if (r.ran && !impl_->cfg.end_line.empty()) std::fprintf(stderr, "herd: %s\n", impl_->cfg.end_line.c_str());
    std::fflush(nullptr);
    std::_Exit(r.exit_code);
  }
#endif
  impl_->api_server.reset();  // run_all() returned early: no API call may reach the VUs below
  impl_->shutdown_workers();
  return r;
}

std::optional<nlohmann::json> Engine::handle_summary(const nlohmann::json& data) {
  if (!impl_->vu0) impl_->init_vu0();
  return impl_->handle_summary(data);
}

bool Engine::write_summary_outputs(const nlohmann::json& result) {
  bool ok = true;
  if (!result.is_object()) return true;
  for (auto& [k, val] : result.items()) {
    std::string text = val.is_string() ? val.get<std::string>() : val.dump();
    if (k == "stdout") {
      // A full disk or a closed pipe behind stdout is an output error too (exit 1).
      std::clearerr(stdout);
      if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0 ||
          std::ferror(stdout)) {
        std::fprintf(stderr, "herd: error: handleSummary(): cannot write \"stdout\": %s\n", std::strerror(errno));
        ok = false;
      }
    } else if (k == "stderr") {
      std::fwrite(text.data(), 1, text.size(), stderr);
    } else if (std::string err = write_text_file(k, text); !err.empty()) {
      std::fprintf(stderr, "herd: error: handleSummary(): cannot write \"%s\": %s\n", k.c_str(), err.c_str());
      ok = false;
    }
  }
  return ok;
}

Options Engine::inspect() {
  nlohmann::json script_opts = impl_->init_vu0();
  Options o = resolve_options(script_opts, impl_->cfg.environ, impl_->cfg.cli);
  impl_->shutdown_workers();
  return o;
}

}  // namespace herd::exec
