#include "exec/runner.h"

#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <future>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "api/control_server.h"
#include "exec/executor.h"
#include "exec/plan.h"
#include "exec/run_limits.h"
#include "exec/segment.h"
#include "exec/stop_control.h"
#include "http/client.h"
#include "js/runtime.h"
#include "k6/modules.h"
#include "loop/event_loop.h"
#include "loop/fiber.h"
#include "metrics/outputs.h"
#include "metrics/tag_filter.h"
#include "util/duration.h"
#include "util/signals.h"

namespace herd::exec {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kFiberStack = 256 * 1024;
constexpr std::size_t kJsStackLimit = 200 * 1024;

std::int64_t unix_us() {
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
  JSValue ns = JS_UNDEFINED;
  JSValue setup_data = JS_UNDEFINED;
  std::string setup_json;  ///< the JSON setup_data was parsed from
  std::deque<std::function<void()>> tasks;
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

  JSContext* ctx() const { return rt->ctx(); }

  /// Runs `fn` on this VU's fiber. Call on the worker thread.
  void post_task(std::function<void()> fn) {
    tasks.push_back(std::move(fn));
    if (idle) st.wake();
  }

  void body(const std::function<void(const std::string&)>& on_init) {
    try {
      if (st.run->abort_init.load()) throw std::runtime_error(kInitInterrupted);
      rt = std::make_unique<js::Runtime>(kJsStackLimit, 0, /*lazy_intrinsics=*/true);
      st.run->bundle->install(rt->rt());
      k6::install_globals(ctx(), &st);
      ns = st.run->bundle->evaluate_main(ctx());
      st.in_init = false;
      init_ok = true;
      if (st.id_in_instance == 1 && std::getenv("HERD_DEBUG_MEMORY")) {
        // Diagnostics for bench/memory.sh: the JS heap of one VU after its init context.
        JSMemoryUsage mu;
        JS_ComputeMemoryUsage(rt->rt(), &mu);
        std::fprintf(stderr, "VU 1 JS heap after init: %lld bytes in %lld allocations, %lld objects\n",
                     static_cast<long long>(mu.malloc_size), static_cast<long long>(mu.malloc_count),
                     static_cast<long long>(mu.obj_count));
      }
      on_init("");
    } catch (const std::exception& e) {
      on_init(e.what());
    }
    for (;;) {
      while (tasks.empty() && !shutting_down) {
        idle = true;
        st.suspend();
        idle = false;
        st.interrupted = false;
      }
      if (tasks.empty()) break;
      auto t = std::move(tasks.front());
      tasks.pop_front();
      st.stop_requested.store(false, std::memory_order_relaxed);  // a stop meant for the previous task
      t();
    }
    if (rt) {
      JS_FreeValue(ctx(), setup_data);
      JS_FreeValue(ctx(), ns);
      k6::release_vu_values(ctx(), &st);
      rt.reset();
    }
  }

  /// Runs the VU's event loop after a call that returned `r`: promise jobs,
  /// timers and async requests, until `r` (if a promise) has settled and no
  /// async work is pending, as k6 ends an iteration. Returns "" or the error
  /// (a job's exception, a rejected promise, or a promise that can never settle).
  /// False in *interrupted when the VU was interrupted meanwhile.
  std::string drive(JSValue r) {
    bool is_promise = JS_IsObject(r) && static_cast<int>(JS_PromiseState(ctx(), r)) >= 0;
    std::string err;
    for (;;) {
      if (!rt->run_jobs(&err)) return err;
      while (!st.ready.empty() && !st.interrupted) {
        auto fn = std::move(st.ready.front());
        st.ready.pop_front();
        fn();
        if (!rt->run_jobs(&err)) return err;
      }
      if (st.interrupted) return "";
      bool pending = is_promise && JS_PromiseState(ctx(), r) == JS_PROMISE_PENDING;
      if (!pending && st.async_ops.empty() && st.ready.empty()) break;
      if (pending && st.async_ops.empty() && st.ready.empty())
        return "the promise returned by the function never settles: nothing it waits for is pending";
      if (!st.suspend()) return "";
    }
    if (is_promise && JS_PromiseState(ctx(), r) == JS_PROMISE_REJECTED) {
      JSValue reason = JS_PromiseResult(ctx(), r);
      err = js::format_exception(ctx(), reason);
      JS_FreeValue(ctx(), reason);
    }
    return err;
  }

  /// The exported function `name`, or undefined (caller frees).
  JSValue export_fn(const std::string& name) {
    if (!init_ok) return JS_UNDEFINED;
    JSValue f = JS_GetPropertyStr(ctx(), ns, name.c_str());
    if (!JS_IsFunction(ctx(), f)) {
      JS_FreeValue(ctx(), f);
      return JS_UNDEFINED;
    }
    return f;
  }

  /// Calls an exported function with an optional JSON argument. Returns the
  /// result as JSON text ("" for undefined). Throws js::ScriptError on exceptions.
  std::string call_json(const std::string& name, const std::string* arg_json) {
    JSValue f = export_fn(name);
    if (JS_IsUndefined(f)) return "";
    JSValue arg = JS_UNDEFINED;
    if (arg_json && !arg_json->empty()) arg = JS_ParseJSON(ctx(), arg_json->c_str(), arg_json->size(), "<data>");
    JSValue r = JS_Call(ctx(), f, JS_UNDEFINED, arg_json ? 1 : 0, &arg);
    JS_FreeValue(ctx(), f);
    JS_FreeValue(ctx(), arg);
    if (JS_IsException(r)) throw js::ScriptError(js::take_exception(ctx()));
    std::string err = drive(r);
    st.clear_async(ctx());
    if (!err.empty()) {
      JS_FreeValue(ctx(), r);
      throw js::ScriptError(err);
    }
    if (JS_IsObject(r) && static_cast<int>(JS_PromiseState(ctx(), r)) >= 0) {
      JSValue settled = JS_PromiseResult(ctx(), r);
      JS_FreeValue(ctx(), r);
      r = settled;
    }
    std::string out;
    if (!JS_IsUndefined(r)) {
      JSValue s = JS_JSONStringify(ctx(), r, JS_UNDEFINED, JS_UNDEFINED);
      if (JS_IsException(s)) {
        JS_FreeValue(ctx(), r);
        throw js::ScriptError(js::take_exception(ctx()));
      }
      if (!JS_IsUndefined(s)) out = js::to_string(ctx(), s);
      JS_FreeValue(ctx(), s);
    }
    JS_FreeValue(ctx(), r);
    return out;
  }

  /// Makes `json` the data passed to iterations (parsed once per VU).
  void set_setup_data(const std::string& json) {
    if (json == setup_json && !JS_IsUndefined(setup_data)) return;
    JS_FreeValue(ctx(), setup_data);
    setup_json = json;
    setup_data = json.empty() ? JS_UNDEFINED : JS_ParseJSON(ctx(), json.c_str(), json.size(), "<setup data>");
    if (JS_IsException(setup_data)) {
      JS_FreeValue(ctx(), JS_GetException(ctx()));
      setup_data = JS_UNDEFINED;
    }
  }
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

  void start() {
    std::promise<void> ready;
    auto f = ready.get_future();
    thread = std::thread([this, &ready] {
      http = std::make_unique<http::Client>(loop, http::ClientOptions{.net = net});
      loop.set_error_handler(on_fault);
      ready.set_value();
      loop.run();
    });
    f.wait();
  }

  /// Creates a VU on this thread and runs its init context; `done` gets "" or an error.
  void create_vu(k6::RunShared* run, std::int64_t id, std::function<void(Vu*, const std::string&)> done) {
    auto vu = std::make_unique<Vu>();
    Vu* v = vu.get();
    v->worker = this;
    v->st.run = run;
    v->st.loop = &loop;
    v->st.http = http.get();
    v->st.sink = sink.get();
    v->st.id_in_instance = id;
    v->st.id_in_test = id;
    v->fiber = std::make_unique<loop::Fiber>(
        [v, done] { v->body([v, done](const std::string& err) { done(v, err); }); }, kFiberStack);
    v->st.fiber = v->fiber.get();
    vus.push_back(std::move(vu));
    v->fiber->resume();
  }

  /// Ends every VU's fiber and frees the HTTP client; then stops the loop. On the worker thread.
  void shutdown_here() {
    for (auto& v : vus) {
      v->shutting_down = true;
      v->st.interrupted = true;
      if (!v->fiber->finished()) v->st.wake();
    }
    // Fibers parked in a wait that ignores wake (none expected) would keep running; drive the loop briefly.
    for (int i = 0; i < 100; i++) {
      bool all = true;
      for (auto& v : vus) all = all && v->fiber->finished();
      if (all) break;
      loop.run_once(10ms);
    }
    bool all = true;
    for (auto& v : vus) all = all && v->fiber->finished();
    if (all)
      vus.clear();
    else
      for (auto& v : vus) (void)v.release();  // leak rather than destroy a running fiber
    http.reset();
    loop.stop();
  }

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
  std::atomic<std::int64_t> iter_in_test{0};
  std::atomic<bool> stopping{false};
  std::vector<Vu*> vus;
  bool started = false;

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

}  // namespace

struct Engine::Impl {
  EngineConfig cfg;
  metrics::Registry registry;
  k6::Logger logger;
  k6::RunShared run;
  Options options;
  std::vector<metrics::MetricThresholds> thresholds;
  std::vector<std::unique_ptr<Worker>> workers;
  Vu* vu0 = nullptr;  ///< setup/teardown/handleSummary VU, on workers[0]
  std::vector<Vu*> pool;
  std::vector<std::unique_ptr<ScenarioRun>> scenarios;
  loop::EventLoop ctl;
  std::atomic<int> stop_code{-1};

  // ---- control API (docs/control-api.md) --------------------------------------
  std::atomic<int> exec_status{static_cast<int>(api::ExecutionStatus::kCreated)};
  std::mutex pause_mu;
  std::condition_variable pause_cv;
  bool paused = false;          ///< guarded by pause_mu
  bool setup_provided = false;  ///< setup data came through the API (guarded by setup_mu)
  std::mutex setup_mu;          ///< guards setup_json against API calls
  std::mutex workers_mu;        ///< guards `workers` against the API thread
  std::unique_ptr<api::ControlServer> api_server;
  std::atomic<int> final_exit_code{-1};  ///< set when the test has ended (for lingering)
  bool linger_done = false;              ///< guarded by pause_mu
  std::atomic<bool> signalled{false};    ///< SIGINT/SIGTERM received

  void set_status(api::ExecutionStatus s) { exec_status = static_cast<int>(s); }

  struct ApiHandler : api::ControlHandler {
    Impl& impl;
    explicit ApiHandler(Impl& i) : impl(i) {}

    api::StatusInfo status() override {
      api::StatusInfo st;
      st.status = static_cast<api::ExecutionStatus>(impl.exec_status.load());
      {
        std::lock_guard<std::mutex> g(impl.pause_mu);
        st.paused = impl.paused;
      }
      st.vus = impl.run.stats.vus_active.load();
      st.vus_max = static_cast<std::int64_t>(impl.pool.size());
      st.stopped = impl.stop_code.load() >= 0;
      st.running = st.status == api::ExecutionStatus::kRunning;
      st.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(impl.elapsed());
      if (impl.final_exit_code.load() >= 0) st.exit_code = impl.final_exit_code.load();
      {
        std::lock_guard<std::mutex> g(impl.abort_mu);
        st.abort_reason = impl.abort_reason;
      }
      return st;
    }

    std::optional<std::string> patch_status(const api::StatusPatch& p) override {
      ScenarioRun* ext = nullptr;
      for (auto& sc : impl.scenarios)
        if (sc->cfg.executor == "externally-controlled") ext = sc.get();
      std::int64_t vus_max = static_cast<std::int64_t>(impl.pool.size());
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
      if (p.stopped && !*p.stopped && impl.stop_code.load() >= 0)
        return std::string("a stopped test cannot be restarted");
      if (p.stopped && *p.stopped && impl.final_exit_code.load() >= 0) {
        // A lingering runner: this ends the linger.
        std::lock_guard<std::mutex> g(impl.pause_mu);
        impl.linger_done = true;
        impl.pause_cv.notify_all();
        return std::nullopt;
      }
      // Apply.
      if (p.vus && ext && ext->policy) {
        ext->policy->set_active_vus(*p.vus);
        for (Vu* v : ext->vus)
          v->worker->loop.post([v] {
            if (v->parked) v->st.wake();
          });
      }
      if (p.paused && !*p.paused) {
        std::lock_guard<std::mutex> g(impl.pause_mu);
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

    metrics::Snapshot snapshot() override { return impl.collect(); }

    std::optional<bool> metric_tainted(const std::string& metric) override {
      bool has = false;
      for (auto& t : impl.thresholds) has = has || t.selector.metric == metric;
      if (!has) return std::nullopt;
      auto res = metrics::evaluate_thresholds(impl.thresholds, impl.collect(), impl.elapsed(), false);
      for (auto& r : res)
        if (!r.ok && r.selector.rfind(metric, 0) == 0) return true;
      return false;
    }

    nlohmann::json get_setup_data() override {
      std::lock_guard<std::mutex> g(impl.setup_mu);
      return impl.setup_json.empty() ? nlohmann::json() : nlohmann::json::parse(impl.setup_json);
    }

    nlohmann::json run_setup() override {
      if (!impl.vu0) throw std::runtime_error("the script is not initialised yet");
      std::string data;
      try {
        data = impl.call_lifecycle("setup", nullptr, impl.options.setup_timeout);
      } catch (const LifecycleTimeout& e) {
        throw api::HandlerError(504, e.what());  // the coordinator ends the test with exit code 100
      }
      std::lock_guard<std::mutex> g(impl.setup_mu);
      impl.setup_json = data;
      impl.setup_provided = true;
      return data.empty() ? nlohmann::json() : nlohmann::json::parse(data);
    }

    void set_setup_data(nlohmann::json data) override {
      std::lock_guard<std::mutex> g(impl.setup_mu);
      impl.setup_json = data.is_null() ? std::string() : data.dump();
      impl.setup_provided = true;
    }

    void run_teardown() override {
      if (!impl.vu0) throw std::runtime_error("the script is not initialised yet");
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
  };
  std::unique_ptr<ApiHandler> api_handler;
  std::string abort_reason;
  std::mutex abort_mu;
  Clock::time_point test_start;
  std::int64_t pending_vu_tasks = 0;  ///< controller thread only
  bool progress_shown = false;

  explicit Impl(EngineConfig c) : cfg(std::move(c)), logger(cfg.verbose) {
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
  }

  std::string log_setup_error;  ///< a --log-output/--log-format/--console-output problem (exit 104)

  ~Impl() { shutdown_workers(); }

  void shutdown_workers() {
    for (auto& w : workers) {
      Worker* wp = w.get();
      wp->loop.post([wp] { wp->shutdown_here(); });
    }
    for (auto& w : workers) w->join();
    std::lock_guard<std::mutex> g(workers_mu);
    workers.clear();
  }

  template <typename F>
  auto on_worker(Worker& w, F fn) -> decltype(fn()) {
    using R = decltype(fn());
    auto p = std::make_shared<std::promise<R>>();
    auto f = p->get_future();
    w.loop.post([p, fn]() mutable {
      try {
        if constexpr (std::is_void_v<R>) {
          fn();
          p->set_value();
        } else {
          p->set_value(fn());
        }
      } catch (...) {
        p->set_exception(std::current_exception());
      }
    });
    return f.get();
  }

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
  std::string call_lifecycle(const std::string& name, const std::string* arg, microseconds limit) {
    return on_vu0<std::string>([&name, arg, limit](Vu& v) {
      bool timed_out = false;
      std::string out = run_with_limit(v.st, limit, &timed_out, [&] { return v.call_json(name, arg); });
      if (timed_out) throw LifecycleTimeout(name, limit);
      return out;
    });
  }

  // ---- phase 1: init VU 0, options ----------------------------------------

  nlohmann::json init_vu0() {
    auto w = std::make_unique<Worker>(0, registry);
    w->on_fault = [this](std::exception_ptr e) { worker_fault(e); };
    w->start();
    workers.push_back(std::move(w));
    std::promise<std::string> p;
    auto f = p.get_future();
    Worker* w0 = workers[0].get();
    w0->loop.post([this, w0, &p] {
      w0->create_vu(&run, 0, [this, &p](Vu* v, const std::string& err) {
        vu0 = v;
        p.set_value(err);
      });
    });
    std::string err = f.get();
    if (!err.empty()) throw js::ScriptError(err);
    std::string opts = on_vu0<std::string>([](Vu& v) -> std::string {
      JSValue o = JS_GetPropertyStr(v.ctx(), v.ns, "options");
      std::string s;
      if (!JS_IsUndefined(o)) {
        JSValue js = JS_JSONStringify(v.ctx(), o, JS_UNDEFINED, JS_UNDEFINED);
        if (JS_IsException(js)) {
          JS_FreeValue(v.ctx(), o);
          throw js::ScriptError("exported options cannot be serialised: " + js::take_exception(v.ctx()));
        }
        s = js::to_string(v.ctx(), js);
        JS_FreeValue(v.ctx(), js);
      }
      JS_FreeValue(v.ctx(), o);
      return s;
    });
    if (opts.empty()) return nlohmann::json::object();
    return nlohmann::json::parse(opts);
  }

  void apply_options() {
    run.http.user_agent = options.user_agent;
    run.http.max_redirects = options.max_redirects;
    run.http.discard_response_bodies = options.discard_response_bodies;
    run.http.insecure_skip_tls_verify = options.insecure_skip_tls_verify;
    run.http.no_cookies_reset = options.no_cookies_reset;
    run.http.batch = options.batch;
    run.http.batch_per_host = options.batch_per_host;
    run.http.throw_errors = options.throw_errors;
    auto net = std::make_shared<http::NetConfig>(options.net);
    net->no_connection_reuse = options.no_connection_reuse;
    run.http.net = net;
    for (auto& w : workers) w->loop.post([w = w.get(), net] { w->http->set_net(net); });
    run.http.debug = options.http_debug;
    if (options.rps > 0) run.http.rps = std::make_shared<k6::RequestRateLimit>(options.rps);
    run.global_tags = options.tags;
    run.options_json = options.to_json().dump();
    run.env.clear();
    if (options.include_system_env_vars) run.env = cfg.environ;
    for (auto& [k, v] : options.env) run.env[k] = v;
  }

  // ---- phase 2: VUs ----------------------------------------------------------

  void init_vus(std::int64_t count) {
    int nworkers =
        static_cast<int>(options.workers > 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency()));
    nworkers = static_cast<int>(std::min<std::int64_t>(nworkers, std::max<std::int64_t>(1, count)));
    while (static_cast<int>(workers.size()) < nworkers) {
      auto w = std::make_unique<Worker>(static_cast<int>(workers.size()), registry);
      w->net = run.http.net;
      connect_sink(*w->sink);
      w->on_fault = [this](std::exception_ptr e) { worker_fault(e); };
      w->start();
      std::lock_guard<std::mutex> g(workers_mu);
      workers.push_back(std::move(w));
    }
    pool.assign(static_cast<size_t>(count), nullptr);
    std::latch done(count);
    std::mutex err_mu;
    std::string first_err;
    for (int wi = 0; wi < nworkers; wi++) {
      Worker* w = workers[static_cast<size_t>(wi)].get();
      std::vector<std::int64_t> ids;
      for (std::int64_t id = wi + 1; id <= count; id += nworkers) ids.push_back(id);
      w->loop.post([this, w, ids, &done, &err_mu, &first_err] {
        for (auto id : ids) {
          w->create_vu(&run, id, [this, id, &done, &err_mu, &first_err](Vu* v, const std::string& err) {
            pool[static_cast<size_t>(id - 1)] = v;
            // exec.vu.idInTest: unique across instances, from the segment's striping of VU numbers.
            v->st.id_in_test = segment.global_iteration(id - 1) + 1;
            if (!err.empty()) {
              std::lock_guard<std::mutex> g(err_mu);
              if (first_err.empty()) first_err = err;
            } else {
              run.stats.vus_initialized++;
            }
            done.count_down();
          });
        }
      });
    }
    done.wait();
    if (!first_err.empty()) throw js::ScriptError(first_err);
    workers[0]->sink->add(metrics::kVusMax, metrics::TagSet(), static_cast<double>(count), unix_us());
  }

  // ---- phase 3: scenarios ----------------------------------------------------

  void on_vu_scenario_done(ScenarioRun* sc) {
    (void)sc;
    if (--pending_vu_tasks == 0) ctl.stop();
  }

  /// Runs the iterations of scenario `sc` as its VU number `k`. On the VU's fiber.
  void vu_run_scenario(Vu& v, ScenarioRun* sc, std::int64_t k) {
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
    JSValue fn = v.export_fn(sc->cfg.exec);
    if (JS_IsUndefined(fn)) {
      if (k == 0)
        logger.log(k6::Logger::Level::kError,
                   "scenario \"" + sc->cfg.name + "\": the script exports no function \"" + sc->cfg.exec + "\"",
                   "engine");
      return;
    }
    // Scenario env overrides __ENV for this VU while it runs the scenario.
    if (!sc->cfg.env.empty()) {
      JSValue g = JS_GetGlobalObject(v.ctx());
      JSValue env = JS_GetPropertyStr(v.ctx(), g, "__ENV");
      for (auto& [ek, ev] : sc->cfg.env) JS_SetPropertyStr(v.ctx(), env, ek.c_str(), k6::new_string_for(v.ctx(), ev));
      JS_FreeValue(v.ctx(), env);
      JS_FreeValue(v.ctx(), g);
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
        bool ok = run_iteration(v, fn, sc, &v.arrival_intended);
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
      }
      set_active(true);
      local_iters++;
      bool ok = run_iteration(v, fn, sc);
      if (rampdown_armed) {
        v.worker->loop.cancel_timer(rampdown_timer);
        rampdown_armed = false;
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
    JS_FreeValue(v.ctx(), fn);
    st.interrupted = false;
  }

  /// One iteration. Returns false if the VU was interrupted.
  bool run_iteration(Vu& v, JSValue fn, ScenarioRun* sc, const Clock::time_point* intended = nullptr) {
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
    JSValue data = v.setup_data;
    JSValue r = JS_Call(v.ctx(), fn, JS_UNDEFINED, 1, &data);
    bool failed = JS_IsException(r);
    if (failed && !st.interrupted) {
      std::string msg = js::take_exception(v.ctx());
      logger.log(k6::Logger::Level::kError, msg, "console");
    } else if (failed) {
      JS_FreeValue(v.ctx(), JS_GetException(v.ctx()));
    }
    if (!failed) {
      std::string err = v.drive(r);
      if (!err.empty() && !st.interrupted) logger.log(k6::Logger::Level::kError, err, "console");
    }
    JS_FreeValue(v.ctx(), r);
    st.clear_async(v.ctx());  // an interrupted iteration leaves timers and requests behind
    if (st.interrupted) {
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
      b.add(metrics::kIterations, st.base_tags, 1, now);
      b.add(metrics::kIterationDuration, st.base_tags, ms, now);
      if (intended) {
        // Open-model measurements, free of coordinated omission: how late the
        // iteration started, and its duration counted from when it was due.
        b.add(start_lag_metric, st.base_tags, std::chrono::duration<double, std::milli>(t0 - *intended).count(), now);
        b.add(corrected_metric, st.base_tags,
              std::chrono::duration<double, std::milli>(Clock::now() - *intended).count(), now);
      }
    }
    st.iteration++;
    st.iteration_in_scenario++;
    run.stats.iterations_completed++;
    (void)sc;
    if (options.min_iteration_duration.count() > 0) pad_iteration(v, t0 + options.min_iteration_duration);
    return true;
  }

  /// minIterationDuration: the VU sleeps until `until`, or until it is interrupted.
  void pad_iteration(Vu& v, Clock::time_point until) {
    if (until <= Clock::now()) return;
    bool fired = false;
    loop::TimerId id = v.worker->loop.add_timer(until, [&fired, &v] {
      fired = true;
      v.st.wake();
    });
    while (!fired && !v.st.interrupted) v.st.suspend();
    if (!fired) v.worker->loop.cancel_timer(id);
  }

  /// VUs in use by a running scenario (controller thread only), by pool index.
  std::vector<bool> vu_busy;

  /// Takes up to `n` free VUs from the pool, in pool order (which spreads them over the workers).
  std::vector<std::size_t> take_vus(std::int64_t n) {
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

  void start_scenario(ScenarioRun* sc) {
    sc->start = Clock::now();
    if (!sc->arrival()) {
      sc->policy = std::make_unique<ClosedModelExecutor>(sc->cfg, sc->start, sc->global_cfg, segment);
      sc->end = sc->policy->end();
    } else {
      sc->end = sc->start + scenario_duration(sc->cfg);
    }
    sc->hard_stop = sc->end + sc->cfg.graceful_stop;
    sc->started = true;
    std::int64_t n = scenario_max_vus(sc->cfg);
    std::vector<std::size_t> taken = take_vus(n);
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
      sc->vus.push_back(v);
      v->owner = sc;
      pending_vu_tasks++;
      v->worker->loop.post([this, v, sc, k, idx, setup = setup_json] {
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

  void end_scenario(ScenarioRun* sc, bool hard) {
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
      if (hard && v->owner == sc) request_vu_stop(v->st);  // reaches busy JS, whose loop runs no task
      v->worker->loop.post([v, hard] {
        if (hard) v->st.interrupted = !v->idle;
        // Wake VUs parked by ramping-vus (and, on a hard stop, any wait).
        if (!v->idle) v->st.wake();
      });
    }
  }

  /// Scenario starts not yet fired: run at once (they see the stop and start nothing).
  std::vector<std::pair<loop::TimerId, std::function<void()>>> pending_starts;

  void interrupt_all() {
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

  std::string setup_json;
  std::shared_ptr<metrics::OutputSet> outputs;  ///< --out (null until open_outputs)
  std::vector<std::string> dropped_tags;        ///< system tags options.systemTags leaves out
  /// This instance's execution segment (unsegmented: everything).
  ExecutionTuple segment;
  /// options.scenarios before segment_scenario (same order).
  std::vector<ScenarioConfig> global_scenarios;
  /// herd's open-model metrics (docs/metrics.md), defined on first arrival-rate scenario.
  metrics::MetricId start_lag_metric = 0;
  metrics::MetricId corrected_metric = 0;

  /// Starts the iterations of `sh` that are due, then arms a timer for the next one.
  void arrival_fire(ArrivalShard* sh) {
    ScenarioRun* sc = sh->sc;
    sh->armed = false;
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

  /// Opens --out outputs and works out the system tags to drop. Throws
  /// OptionsError for unknown kinds or unwritable files.
  void open_outputs() {
    try {
      outputs = metrics::open_outputs(options.outputs, cfg.environ, options.system_tags, thresholds);
    } catch (const metrics::OutputError& e) {
      throw OptionsError(e.what());
    }
    // Only tags herd emits: with k6's default systemTags nothing is dropped and
    // samples skip the filter (a hash look-up per sample).
    dropped_tags = metrics::dropped_system_tags(emitted_system_tags(), options.system_tags);
    for (auto& w : workers) connect_sink(*w->sink);
  }

  void connect_sink(metrics::Sink& sink) {
    if (outputs && !outputs->empty()) sink.set_observer(outputs);
    sink.set_dropped_tags(dropped_tags);
  }

  // ---- metrics ---------------------------------------------------------------

  metrics::Snapshot collect() {
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
    return snap;
  }

  /// Time since the test started; at least 1 ms, so that rates are defined for very short tests.
  std::chrono::milliseconds elapsed() const {
    return std::max(std::chrono::milliseconds(1),
                    std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - test_start));
  }

  void evaluate_periodic() {
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

  void show_progress(bool final) {
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

  void tick() {
    workers[0]->sink->add(metrics::kVus, metrics::TagSet(), static_cast<double>(run.stats.vus_active.load()),
                          unix_us());
    show_progress(false);
  }

  // ---- the run ---------------------------------------------------------------

  void stop(int code) {
    int expected = -1;
    if (!stop_code.compare_exchange_strong(expected, code)) return;
    if (exec_status.load() == static_cast<int>(api::ExecutionStatus::kSetup) && vu0) request_vu_stop(vu0->st);
    {
      std::lock_guard<std::mutex> g(pause_mu);
      pause_cv.notify_all();  // a test paused before its start stops too
    }
    ctl.post([this] { interrupt_all(); });
  }

  /// Takes SIGINT/SIGTERM while it lives: the first stops the test gracefully
  /// (exit 105), the second exits at once.
  /// During VU initialisation the first signal also interrupts every init context.
  struct SignalWatcher {
    explicit SignalWatcher(Impl& impl)
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
    util::SignalWatcher watcher_;
  };

  /// A task threw on a worker thread (worker loop's error handler): the run
  /// stops with exit code 1 and the message; teardown and summary still run.
  void worker_fault(std::exception_ptr e) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
    logger.log(k6::Logger::Level::kError, "internal error on a worker thread: " + what + "; stopping the test",
               "engine");
    stop(kExitGenericError);
    ctl.post([this] { ctl.stop(); });  // the VU whose task failed never reports its end
  }

  RunResult run_all() {
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
      start_lag_metric = registry.define("iteration_start_lag", metrics::MetricType::kTrend, metrics::ValueType::kTime);
      corrected_metric =
          registry.define("iteration_duration_corrected", metrics::MetricType::kTrend, metrics::ValueType::kTime);
      thresholds = metrics::parse_thresholds(options.thresholds);
      if (!options.no_thresholds) metrics::validate_thresholds(thresholds, registry);
      open_outputs();
      for (const auto& sc : options.scenarios) {
        bool found = on_vu0<bool>([&sc](Vu& v) {
          JSValue f = v.export_fn(sc.exec);
          bool ok = !JS_IsUndefined(f);
          JS_FreeValue(v.ctx(), f);
          return ok;
        });
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
        api_handler = std::make_unique<ApiHandler>(*this);
        api_server = std::make_unique<api::ControlServer>(cfg.address, *api_handler);
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
    if (options.paused) {
      set_status(api::ExecutionStatus::kPausedBeforeRun);
      std::unique_lock<std::mutex> lk(pause_mu);
      pause_cv.wait(lk, [this] { return !paused || stop_code.load() >= 0; });
    }

    // setup()
    bool setup_failed = false;
    bool provided;
    {
      std::lock_guard<std::mutex> g(setup_mu);
      provided = setup_provided;
    }
    set_status(api::ExecutionStatus::kSetup);
    if (!cfg.no_setup && !provided && stop_code.load() < 0) {
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

    test_start = Clock::now();
    run.stats.start = test_start;
    set_status(api::ExecutionStatus::kRunning);
    if (!setup_failed && stop_code.load() < 0) {
      for (std::size_t i = 0; i < options.scenarios.size(); i++) {
        auto sc = std::make_unique<ScenarioRun>();
        sc->cfg = options.scenarios[i];
        sc->global_cfg = global_scenarios[i];
        scenarios.push_back(std::move(sc));
      }
      for (auto& sc : scenarios) {
        ScenarioRun* p = sc.get();
        pending_vu_tasks++;  // the start itself, so that the run cannot end before it
        auto start = std::make_shared<bool>(false);
        auto fire = [this, p, start] {
          if (*start) return;
          *start = true;
          if (stop_code.load() < 0) start_scenario(p);
          on_vu_scenario_done(p);
        };
        loop::TimerId id = ctl.add_timer(test_start + p->cfg.start_time, fire);
        pending_starts.push_back({id, fire});
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
      tick();
      show_progress(true);
    }
    res.duration = elapsed();

    // teardown()
    set_status(api::ExecutionStatus::kTeardown);
    if (!cfg.no_teardown && !setup_failed) {
      try {
        call_lifecycle("teardown", &setup_json, options.teardown_timeout);
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
    if (!options.no_thresholds)
      res.thresholds = metrics::evaluate_thresholds(thresholds, res.snapshot, res.duration, true);
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
    write_outputs(res, so);
    if (outputs) {
      for (const auto& err : outputs->flush()) logger.log(k6::Logger::Level::kError, err, "output");
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

  /// Calls the script's handleSummary(data) in VU 0; nullopt when it exports none.
  std::optional<nlohmann::json> handle_summary(const nlohmann::json& data) {
    std::string in = data.dump();
    auto limit = options.teardown_timeout;
    std::optional<std::string> out = on_vu0<std::optional<std::string>>([&](Vu& v) -> std::optional<std::string> {
      v.st.interrupted = false;
      JSValue f = v.export_fn("handleSummary");
      if (JS_IsUndefined(f)) return std::nullopt;
      JS_FreeValue(v.ctx(), f);
      bool timed_out = false;  // a busy handleSummary is stopped after teardownTimeout
      std::string r = run_with_limit(v.st, limit, &timed_out, [&] { return v.call_json("handleSummary", &in); });
      if (timed_out) throw std::runtime_error(handle_summary_timeout_message(limit));
      return r;
    });
    if (!out) return std::nullopt;
    return out->empty() ? nlohmann::json::object() : nlohmann::json::parse(*out);
  }

  void write_outputs(RunResult& res, const metrics::SummaryOptions& so) {
    if (!options.summary_export.empty()) {
      std::ofstream f(options.summary_export);
      if (!f)
        logger.log(k6::Logger::Level::kError, "cannot write --summary-export file " + options.summary_export, "engine");
      f << metrics::summary_export(res.summary_data).dump(4) << "\n";
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
          custom = true;
          Engine::write_summary_outputs(*result);
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
    }
  }
};

Engine::Engine(EngineConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {
  impl_->run.on_abort = [this](const std::string& reason) {
    {
      std::lock_guard<std::mutex> g(impl_->abort_mu);
      impl_->abort_reason = reason.empty() ? "test aborted by the script" : reason;
    }
    impl_->logger.log(k6::Logger::Level::kError, "test aborted: " + impl_->abort_reason, "engine");
    impl_->stop(kExitScriptAborted);
  };
}

Engine::~Engine() = default;

void Engine::stop(int exit_code) {
  impl_->stop(exit_code);
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
    std::fflush(nullptr);
    std::_Exit(r.exit_code);
  }
#endif
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
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    } else if (k == "stderr") {
      std::fwrite(text.data(), 1, text.size(), stderr);
    } else {
      std::ofstream f(k, std::ios::binary);
      f << text;
      if (!f) {
        std::fprintf(stderr, "herd: error: handleSummary: cannot write %s\n", k.c_str());
        ok = false;
      }
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
