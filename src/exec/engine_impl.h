#pragma once
// Engine::Impl and the types it runs on (Vu, Worker, ArrivalShard, ScenarioRun).
// Private to src/exec: the engine_*.cc files and runner.cc define its members by concern
// (engine_vu.cc: workers, VUs and their init; engine_iteration.cc: a VU's iterations;
// engine_scenarios.cc: starting and ending scenarios; engine_control.cc: the control API,
// signals, metrics and progress; runner.cc: the run, setup/teardown and handleSummary).

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "api/control_server.h"
#include "dashboard/live.h"
#include "exec/executor.h"
#include "exec/plan.h"
#include "exec/run_limits.h"
#include "exec/runner.h"
#include "exec/segment.h"
#include "exec/stop_control.h"
#include "export/rw_output.h"
#include "http/client.h"
#include "js/runtime.h"
#include "k6/modules.h"
#include "loop/event_loop.h"
#include "loop/fiber.h"
#include "metrics/outputs.h"
#include "metrics/tag_filter.h"
#include "util/duration.h"
#include "util/fifo.h"
#include "util/signals.h"

namespace herd::exec {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline std::int64_t unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Worker;
struct ScenarioRun;

/// setup() or teardown() outlived setupTimeout/teardownTimeout (k6's message).
class LifecycleTimeout : public std::runtime_error {
 public:
  LifecycleTimeout(const std::string& name, microseconds limit)
      : std::runtime_error(name + "() execution timed out after " + seconds_text(limit) + " (" + name + "Timeout)") {}

 private:
  static std::string seconds_text(microseconds d) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%g seconds", std::chrono::duration<double>(d).count());
    return buf;
  }
};

/// One virtual user: a fiber running its own QuickJS runtime. Confined to its worker's thread.
struct Vu {
  k6::VuState st;
  Worker* worker = nullptr;
  std::unique_ptr<loop::Fiber> fiber;
  std::unique_ptr<js::Runtime> rt;
  js::Value ns;            ///< the main module's namespace; declared after rt: freed before it
  js::Value setup_data;    ///< parsed setup() data passed to iterations (undefined: none)
  std::string setup_json;  ///< the JSON setup_data was parsed from
  util::Fifo<std::function<void()>> tasks;
  bool idle = false;
  bool shutting_down = false;
  bool init_ok = false;
  bool rampdown_interrupt = false;  ///< the current interruption comes from ramping-vus' gracefulRampDown
  bool parked = false;              ///< waiting for its executor's next step (ramping-vus, externally-controlled)
  ScenarioRun* owner = nullptr;     ///< the scenario it runs (controller thread only): hard stops reach only it
  // Arrival-rate executors: the start signal from this worker's ArrivalShard.
  bool arrival_start = false;
  std::int64_t arrival_i = 0;          ///< global iteration number to run
  Clock::time_point arrival_intended;  ///< when it was due
  /// The series of iterations and iteration_duration under the VU's base tags,
  /// found once and reused while they stay the same (metrics::SeriesCache).
  metrics::SeriesCache<2> iteration_series;

  JSContext* ctx() const { return rt->ctx(); }

  /// Runs `fn` on this VU's fiber. Call on the worker thread.
  void post_task(std::function<void()> fn) {
    tasks.push_back(std::move(fn));
    if (idle) st.wake();
  }

  void body(const std::function<void(const std::string&)>& on_init);
  /// With HERD_DEBUG_MEMORY set, prints VU 1's JS heap and resident stack to stderr
  /// (after init and after each task); HERD_DEBUG_MEMORY=2 adds QuickJS's own breakdown.
  void debug_memory(const char* when);

  /// Runs the VU's event loop after a call that returned `r`: promise jobs,
  /// timers and async requests, until `r` (if a promise) has settled and no
  /// async work is pending, as k6 ends an iteration. Returns "" or the error
  /// (a job's exception, a rejected promise, or a promise that can never settle).
  /// False in *interrupted when the VU was interrupted meanwhile.
  std::string drive(JSValue r);

  /// The exported function `name`, or undefined.
  js::Value export_fn(const std::string& name);

  /// Calls an exported function with an optional JSON argument. Returns the
  /// result as JSON text ("" for undefined). Throws js::ScriptError on exceptions.
  std::string call_json(const std::string& name, const std::string* arg_json);

  /// Makes `json` the data passed to iterations (parsed once per VU).
  void set_setup_data(const std::string& json);
};

struct Worker {
  int index = 0;
  loop::EventLoop loop;
  std::unique_ptr<http::Client> http;
  std::shared_ptr<const http::NetConfig> net;  ///< for the client, set before start()
  std::unique_ptr<metrics::Sink> sink;
  std::vector<std::unique_ptr<Vu>> vus;
  std::thread thread;
  std::function<void(std::exception_ptr)> on_fault;  ///< a task threw on this thread (set before start)

  Worker(int i, const metrics::Registry& reg) : index(i), sink(std::make_unique<metrics::Sink>(reg)) {}

  void start();

  /// Creates a VU on this thread and runs its init context; `done` gets "" or an error.
  void create_vu(k6::RunShared* run, std::int64_t id, std::function<void(Vu*, const std::string&)> done);

  /// Ends every VU's fiber and frees the HTTP client; then stops the loop. On the worker thread.
  void shutdown_here();

  void join() {
    if (thread.joinable()) thread.join();
  }
};

/// A scenario while it runs. Shared by the controller and the workers.
struct ScenarioRun;

/// One worker's part of an arrival-rate scenario: global iterations
/// i = index, index + stride, ... are started here, each at its absolute
/// deadline (plan.h arrival_offset). Confined to the worker's thread.
struct ArrivalShard {
  Worker* worker = nullptr;
  ScenarioRun* sc = nullptr;
  std::int64_t index = 0;
  std::int64_t stride = 1;
  std::int64_t next_i = 0;
  std::vector<Vu*> idle;  ///< VUs of this scenario on this worker waiting for a start
  loop::TimerId timer = 0;
  bool armed = false;
  metrics::TagSet dropped_tags;
};

struct ScenarioRun {
  ScenarioConfig cfg;                                 ///< as segmented for this instance
  ScenarioConfig global_cfg;                          ///< unsplit (ramping-vus follows the global ramp)
  std::unique_ptr<ClosedModelExecutor> policy;        ///< closed-model executors (not arrival-rate)
  std::vector<std::unique_ptr<ArrivalShard>> shards;  ///< by worker index (arrival-rate only)
  Clock::time_point start;
  Clock::time_point end;        ///< no new iterations after this
  Clock::time_point hard_stop;  ///< iterations still running are interrupted
  std::atomic<bool> stopping{false};
  std::vector<Vu*> vus;  ///< written under Engine::Impl::scenarios_mu (the control API reads it)
  bool started = false;
  /// vus set through the control API before the scenario started (externally-controlled);
  /// applied when it starts. Guarded by Engine::Impl::scenarios_mu.
  std::optional<std::int64_t> api_vus;

  bool arrival() const { return cfg.executor == "constant-arrival-rate" || cfg.executor == "ramping-arrival-rate"; }

  double progress() const {
    auto total = end - start;
    if (total.count() <= 0) return 1;
    double p = std::chrono::duration<double>(Clock::now() - start) / std::chrono::duration<double>(total);
    if (cfg.executor == "shared-iterations" && cfg.iterations > 0 && policy)
      p = std::max(p, static_cast<double>(policy->handed_out()) / static_cast<double>(cfg.iterations));
    return std::clamp(p, 0.0, 1.0);
  }
};

struct Engine::Impl {
  EngineConfig cfg;
  metrics::Registry registry;
  k6::Logger logger;
  k6::RunShared run;
  Options options;
  /// The run's tags (options.tags / --tag) as the tags of `vus` and `vus_max`
  /// samples, as k6 tags them (a dashboard filters them by testid).
  metrics::TagSet run_tag_set() const { return metrics::TagSet({run.global_tags.begin(), run.global_tags.end()}); }
  std::vector<metrics::MetricThresholds> thresholds;
  std::vector<std::unique_ptr<Worker>> workers;
  Vu* vu0 = nullptr;  ///< setup/teardown/handleSummary VU, on workers[0]
  std::vector<Vu*> pool;
  std::atomic<std::int64_t> vus_max{0};  ///< pool.size(), for other threads (the control API)
  std::vector<std::unique_ptr<ScenarioRun>> scenarios;
  /// Guards, against the control API's threads, `scenarios` (the vector) and each run's
  /// `policy`, `vus` and `api_vus`: the controller writes them under it and reads them without.
  std::mutex scenarios_mu;
  loop::EventLoop ctl;
  std::atomic<int> stop_code{-1};

  // ---- control API (docs/control-api.md) --------------------------------------
  std::atomic<int> exec_status{static_cast<int>(api::ExecutionStatus::kCreated)};
  /// setup() runs for the control API (POST /v1/setup): a stop interrupts it, as in the kSetup phase.
  std::atomic<bool> api_setup_running{false};
  std::mutex pause_mu;
  std::condition_variable pause_cv;
  bool paused = false;  ///< guarded by pause_mu
  /// PATCH {"paused":false,"start-at-us":T}: the run starts at T (unix µs), 0 = at once.
  std::atomic<std::int64_t> start_at_us{0};
  /// When the run started (unix µs), 0 = not yet: /v1/status "started-at-us".
  /// With a prepared start ("start at T") the instant the first VU was
  /// released on its worker (its first iteration begins), not the wake-up of
  /// a thread that then starts the scenarios.
  std::atomic<std::int64_t> started_at_us{0};
  /// Sets started_at_us (once; later calls do nothing) and the Running status. Any thread.
  void mark_started() {
    std::int64_t none = 0;
    if (started_at_us.compare_exchange_strong(none, unix_us())) set_status(api::ExecutionStatus::kRunning);
  }
  /// VUs of scenarios started before their start instant (a prepared start),
  /// waiting on their workers to be released at it. Controller thread only.
  std::size_t held_vus = 0;
  bool setup_provided = false;  ///< setup data came through the API (guarded by setup_mu)
  std::mutex setup_mu;          ///< guards setup_json against API calls
  std::mutex workers_mu;        ///< guards `workers` against the API thread
  std::unique_ptr<api::ControlServer> api_server;
  std::atomic<int> final_exit_code{-1};  ///< set when the test has ended (for lingering)
  bool linger_done = false;              ///< guarded by pause_mu
  std::atomic<bool> signalled{false};    ///< SIGINT/SIGTERM received

  void set_status(api::ExecutionStatus s) { exec_status = static_cast<int>(s); }
  /// VU 0, options and thresholds are set (they do not change after): true from
  /// InitVUs on, which run_all() stores after writing them (the load orders the reads).
  bool initialised() const { return exec_status.load() >= static_cast<int>(api::ExecutionStatus::kInitVUs); }

  /// Engine::control(): every method may be called from any thread, concurrently.
  struct ApiHandler : api::ControlHandler {
    Impl& impl;
    std::mutex patch_mu;  ///< one patch_status() at a time (validate, then apply)
    explicit ApiHandler(Impl& i) : impl(i) {}

    api::StatusInfo status() override;

    std::optional<std::string> patch_status(const api::StatusPatch& p) override;

    metrics::Snapshot snapshot() override { return impl.collect(); }

    std::optional<bool> metric_tainted(const std::string& metric) override;

    nlohmann::json get_setup_data() override;

    nlohmann::json run_setup() override;

    void set_setup_data(nlohmann::json data) override;

    void run_teardown() override;
  };
  std::unique_ptr<ApiHandler> api_handler;
  /// Engine::control() was called: someone in process can resume a paused test.
  std::atomic<bool> control_taken{false};
  std::string abort_reason;
  std::mutex abort_mu;
  std::atomic<Clock::time_point> test_start{Clock::now()};  ///< read by elapsed() on any thread
  std::int64_t pending_vu_tasks = 0;                        ///< controller thread only
  bool progress_shown = false;

  explicit Impl(EngineConfig c);

  std::string log_setup_error;  ///< a --log-output/--log-format/--console-output problem (exit 104)

  ~Impl() {
    remote_write.reset();  // its pusher reads the workers' sinks
    dashboard.reset();     // so does its update thread
    api_server.reset();    // before the handler and the workers it reaches go
    shutdown_workers();
  }

  void shutdown_workers();

  /// Runs `fn` inside VU 0's fiber and waits for it.
  template <typename R>
  R on_vu0(std::function<R(Vu&)> fn) {
    auto p = std::make_shared<std::promise<R>>();
    auto f = p->get_future();
    Vu* v = vu0;
    v->worker->loop.post([v, p, fn] {
      v->post_task([v, p, fn] {
        try {
          p->set_value(fn(*v));
        } catch (...) {
          p->set_exception(std::current_exception());
        }
      });
    });
    return f.get();
  }

  /// Calls the script's setup() or teardown() (`name`) on VU 0, interrupted
  /// after `limit` (k6's setupTimeout/teardownTimeout): LifecycleTimeout then.
  /// A stopped test's teardown still makes its requests. Script errors throw
  /// js::ScriptError. Busy JS is interrupted too (stop_control.h).
  std::string call_lifecycle(const std::string& name, const std::string* arg, microseconds limit);

  // ---- phase 1: init VU 0, options ----------------------------------------

  nlohmann::json init_vu0();

  void apply_options();

  // ---- phase 2: VUs ----------------------------------------------------------

  void init_vus(std::int64_t count);

  // ---- phase 3: scenarios ----------------------------------------------------

  void on_vu_scenario_done(ScenarioRun* sc);

  /// Runs the iterations of scenario `sc` as its VU number `k`. On the VU's fiber.
  void vu_run_scenario(Vu& v, ScenarioRun* sc, std::int64_t k);

  /// One iteration. Returns false if the VU was interrupted.
  bool run_iteration(Vu& v, JSValue fn, ScenarioRun* sc, const Clock::time_point* intended = nullptr);

  /// minIterationDuration: the VU sleeps until `until`, or until it is interrupted.
  void pad_iteration(Vu& v, Clock::time_point until);

  /// VUs in use by a running scenario (controller thread only), by pool index.
  std::vector<bool> vu_busy;

  /// Takes up to `n` free VUs from the pool, in pool order (which spreads them over the workers).
  std::vector<std::size_t> take_vus(std::int64_t n);

  /// Starts `sc` with its schedule anchored at `start` (now, or a later
  /// instant for a prepared start: its VUs then wait on their workers until
  /// `start`, and its arrival schedule begins there).
  void start_scenario(ScenarioRun* sc, Clock::time_point start);

  /// A VU of a prepared start: parks on its worker until `sc->start`. False if
  /// it was interrupted or the scenario ended meanwhile. On the VU's fiber.
  bool hold_until_start(Vu& v, ScenarioRun* sc);

  void end_scenario(ScenarioRun* sc, bool hard);

  /// Scenario starts not yet fired: run at once (they see the stop and start nothing).
  std::vector<std::pair<loop::TimerId, std::function<void()>>> pending_starts;

  void interrupt_all();

  std::string setup_json;
  std::shared_ptr<metrics::OutputSet> outputs;  ///< --out (null until open_outputs)
  /// --out experimental-prometheus-rw (null when not asked for); its pusher
  /// thread calls collect(), so it stops before the workers go.
  std::unique_ptr<exporter::RemoteWriteOutput> remote_write;
  /// --out web-dashboard / K6_WEB_DASHBOARD (null when not asked for); its
  /// update thread calls collect(), so it stops before the workers go.
  std::unique_ptr<dashboard::LiveDashboard> dashboard;
  std::vector<std::string> dropped_tags;  ///< system tags options.systemTags leaves out
  /// This instance's execution segment (unsegmented: everything).
  ExecutionTuple segment;
  /// options.scenarios before segment_scenario (same order).
  std::vector<ScenarioConfig> global_scenarios;
  /// herd's open-model metrics (docs/metrics.md), defined on first arrival-rate scenario.
  metrics::MetricId start_lag_metric = 0;
  metrics::MetricId corrected_metric = 0;

  /// Starts the iterations of `sh` that are due, then arms a timer for the next one.
  void arrival_fire(ArrivalShard* sh);

  /// Checks that --summary-export can be written, opens --out outputs and
  /// works out the system tags to drop. Throws OptionsError for unknown kinds
  /// or unwritable files.
  void open_outputs();

  void connect_sink(metrics::Sink& sink);

  // ---- metrics ---------------------------------------------------------------

  /// Every series of every worker, plus this process's generator health (while and after the test ran).
  metrics::Snapshot collect();

  /// Generator health (metrics/generator_health.h): measured from the test's
  /// start until its scenarios end; one event-loop probe per worker.
  std::shared_ptr<metrics::HealthMonitor> health;  ///< set once by start_health(), guarded by health_mu
  mutable std::mutex health_mu;
  std::shared_ptr<metrics::HealthMonitor> health_monitor() const {
    std::lock_guard<std::mutex> g(health_mu);
    return health;
  }
  /// Creates and starts `health` and a probe on every worker's loop.
  void start_health();

  /// Time since the test started; at least 1 ms, so that rates are defined for very short tests.
  std::chrono::milliseconds elapsed() const;

  void evaluate_periodic();

  void show_progress(bool final);

  void tick();

  // ---- the run ---------------------------------------------------------------

  void stop(int code);

  /// Takes SIGINT/SIGTERM while it lives: the first stops the test gracefully
  /// (exit 105), the second exits at once.
  /// During VU initialisation the first signal also interrupts every init context.
  struct SignalWatcher {
    explicit SignalWatcher(Impl& impl);
    util::SignalWatcher watcher_;
  };

  /// A task threw on a worker thread (worker loop's error handler): the run
  /// stops with exit code 1 and the message; teardown and summary still run.
  void worker_fault(std::exception_ptr e);

  RunResult run_all();
  /// Throws OptionsError when the test would start paused with nothing to resume it.
  void check_paused_resumable(const nlohmann::json& script_opts) const;

  /// Calls the script's handleSummary(data) in VU 0; nullopt when it exports none.
  std::optional<nlohmann::json> handle_summary(const nlohmann::json& data);

  /// Returns false if --summary-export or a handleSummary() file could not be written.
  /// `text_printed`: set to whether the text summary (with so.notes) went to stdout.
  bool write_outputs(RunResult& res, const metrics::SummaryOptions& so, bool* text_printed);
};

}  // namespace herd::exec
