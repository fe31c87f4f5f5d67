#include "exec/engine_impl.h"

#include <cstring>
#include <latch>

#include "js/json_parse.h"

namespace herd::exec {

namespace {

constexpr std::size_t kFiberStack = 256 * 1024;
constexpr std::size_t kJsStackLimit = 200 * 1024;

}  // namespace

void Vu::body(const std::function<void(const std::string&)>& on_init) {
  try {
    if (st.run->abort_init.load()) throw std::runtime_error(kInitInterrupted);
    rt = std::make_unique<js::Runtime>(kJsStackLimit, 0, /*lazy_intrinsics=*/true);
    st.run->bundle->install(rt->rt());
    k6::install_globals(ctx(), &st);
    ns = js::Value(ctx(), st.run->bundle->evaluate_main(ctx()));
    {
      // As in k6, the init context runs its event loop to the end: timers set
      // there fire now, and an uncaught exception in one fails the init.
      std::string err = drive(JS_UNDEFINED);
      st.clear_async(ctx());
      if (st.interrupted && st.run->abort_init.load()) throw std::runtime_error(kInitInterrupted);
      if (!err.empty()) throw js::ScriptError(err);
    }
    st.in_init = false;
    init_ok = true;
    debug_memory("after init");
    // Init (module loading, JSON of options, ...) runs deeper than an iteration
    // usually does: give those stack pages back (a few KB per VU).
    std::size_t freed = fiber->release_unused_stack();
    if (std::getenv("HERD_DEBUG_MEMORY") && st.id_in_instance == 1)
      std::fprintf(stderr, "VU 1 released %zu stack bytes after init\n", freed);
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
    debug_memory("after a task");  // e.g. a scenario's iterations: what the first request added
  }
  if (rt) {
    debug_memory("at the end");
    setup_data = js::Value();
    ns = js::Value();
    k6::release_vu_values(ctx(), &st);
    rt.reset();
  }
}

void Vu::debug_memory(const char* when) {
  // Diagnostics for bench/memory.sh: the JS heap and resident fiber stack of VU 1.
  if (st.id_in_instance != 1 || !std::getenv("HERD_DEBUG_MEMORY")) return;
  JSMemoryUsage mu;
  JS_ComputeMemoryUsage(rt->rt(), &mu);
  std::fprintf(
      stderr,
      "VU 1 %s: JS heap %lld bytes in %lld allocations, %lld objects (%lld bytes), %lld shapes (%lld), "
      "%lld atoms (%lld), %lld strings (%lld), %lld functions (%lld); fiber stack resident %zu bytes\n",
      when, static_cast<long long>(mu.malloc_size), static_cast<long long>(mu.malloc_count),
      static_cast<long long>(mu.obj_count), static_cast<long long>(mu.obj_size), static_cast<long long>(mu.shape_count),
      static_cast<long long>(mu.shape_size), static_cast<long long>(mu.atom_count),
      static_cast<long long>(mu.atom_size), static_cast<long long>(mu.str_count), static_cast<long long>(mu.str_size),
      static_cast<long long>(mu.js_func_count), static_cast<long long>(mu.js_func_size), fiber->resident_stack_bytes());
  if (std::strcmp(std::getenv("HERD_DEBUG_MEMORY"), "2") == 0) JS_DumpMemoryUsage(stderr, &mu, rt->rt());
}

std::string Vu::drive(JSValue r) {
  bool is_promise = JS_IsObject(r) && static_cast<int>(JS_PromiseState(ctx(), r)) >= 0;
  std::string err;
  st.uncaught.clear();
  // A timer callback's uncaught exception ends the function like its own (k6).
  auto take_uncaught = [this, &err] {
    if (st.uncaught.empty()) return false;
    err = std::move(st.uncaught);
    st.uncaught.clear();
    return true;
  };
  for (;;) {
    if (!rt->run_jobs(&err) || take_uncaught()) return err;
    while (!st.ready.empty() && !st.interrupted) {
      auto fn = std::move(st.ready.front());
      st.ready.pop_front();
      fn();
      if (!rt->run_jobs(&err) || take_uncaught()) return err;
    }
    if (st.interrupted) return "";
    bool pending = is_promise && JS_PromiseState(ctx(), r) == JS_PROMISE_PENDING;
    if (!pending && st.async_ops.empty() && st.ready.empty()) break;
    if (pending && st.async_ops.empty() && st.ready.empty())
      return "the promise returned by the function never settles: nothing it waits for is pending";
    if (!st.suspend()) return "";
  }
  if (is_promise && JS_PromiseState(ctx(), r) == JS_PROMISE_REJECTED) {
    js::Value reason(ctx(), JS_PromiseResult(ctx(), r));
    err = js::format_exception(ctx(), reason.get());
  }
  return err;
}

js::Value Vu::export_fn(const std::string& name) {
  if (!init_ok) return js::Value();
  js::Value f(ctx(), JS_GetPropertyStr(ctx(), ns.get(), name.c_str()));
  if (!JS_IsFunction(ctx(), f.get())) return js::Value();
  return f;
}

std::string Vu::call_json(const std::string& name, const std::string* arg_json) {
  js::Value f = export_fn(name);
  if (f.is_undefined()) return "";
  js::Value r;
  {
    js::Value arg;
    if (arg_json && !arg_json->empty())
      arg = js::Value(ctx(), js::parse_json(ctx(), arg_json->c_str(), arg_json->size(), "<data>"));
    JSValue argv = arg.get();
    r = js::Value(ctx(), JS_Call(ctx(), f.get(), JS_UNDEFINED, arg_json ? 1 : 0, &argv));
  }
  f = js::Value();
  if (r.is_exception()) throw js::ScriptError(js::take_exception(ctx()));
  std::string err = drive(r.get());
  st.clear_async(ctx());
  if (!err.empty()) throw js::ScriptError(err);
  if (JS_IsObject(r.get()) && static_cast<int>(JS_PromiseState(ctx(), r.get())) >= 0)
    r = js::Value(ctx(), JS_PromiseResult(ctx(), r.get()));
  std::string out;
  if (!r.is_undefined()) {
    js::Value s(ctx(), JS_JSONStringify(ctx(), r.get(), JS_UNDEFINED, JS_UNDEFINED));
    if (s.is_exception()) throw js::ScriptError(js::take_exception(ctx()));
    if (!s.is_undefined()) out = js::to_string(ctx(), s.get());
  }
  return out;
}

void Vu::set_setup_data(const std::string& json) {
  if (json == setup_json && !setup_data.is_undefined()) return;
  setup_data = js::Value();
  setup_json = json;
  if (json.empty()) return;
  setup_data = js::Value(ctx(), js::parse_json(ctx(), json.c_str(), json.size(), "<setup data>"));
  if (setup_data.is_exception()) {
    js::discard_exception(ctx());
    setup_data = js::Value();
  }
}

void Worker::start() {
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

namespace {

constexpr auto kHealthProbePeriod = 100ms;

/// A timer on `loop` every kHealthProbePeriod that tells `m` how late it fired, until `m` stops. On the loop thread.
void arm_health_probe(loop::EventLoop& loop, const std::shared_ptr<metrics::HealthMonitor>& m, std::size_t i) {
  auto due = Clock::now() + kHealthProbePeriod;
  m->probe_armed(i, due);
  loop.add_timer(due, [&loop, m, i, due] {
    m->probe_fired(i, std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - due));
    if (m->running()) arm_health_probe(loop, m, i);
  });
}

}  // namespace

void Engine::Impl::start_health() {
  std::lock_guard<std::mutex> g(workers_mu);
  int cores = std::min(metrics::affinity_cpus(), std::max(1, static_cast<int>(workers.size())));
  std::string segment = options.execution_segment == "0:1" ? "" : options.execution_segment;
  auto m = std::make_shared<metrics::HealthMonitor>(cores, segment, workers.size());
  m->start();
  for (std::size_t i = 0; i < workers.size(); i++) {
    loop::EventLoop* l = &workers[i]->loop;
    l->post([l, m, i] { arm_health_probe(*l, m, i); });
  }
  std::lock_guard<std::mutex> hg(health_mu);
  health = std::move(m);
}

void Worker::create_vu(k6::RunShared* run, std::int64_t id, std::function<void(Vu*, const std::string&)> done) {
  auto vu = std::make_unique<Vu>();
  Vu* v = vu.get();
  v->worker = this;
  v->st.run = run;
  v->st.loop = &loop;
  v->st.http = http.get();
  v->st.sink = sink.get();
  v->st.id_in_instance = id;
  v->st.id_in_test = id;
  v->fiber = std::make_unique<loop::Fiber>([v, done] { v->body([v, done](const std::string& err) { done(v, err); }); },
                                           kFiberStack);
  v->st.fiber = v->fiber.get();
  vus.push_back(std::move(vu));
  v->fiber->resume();
}

void Worker::shutdown_here() {
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

void Engine::Impl::shutdown_workers() {
  for (auto& w : workers) {
    Worker* wp = w.get();
    wp->loop.post([wp] { wp->shutdown_here(); });
  }
  for (auto& w : workers) w->join();
  std::lock_guard<std::mutex> g(workers_mu);
  workers.clear();
}

nlohmann::json Engine::Impl::init_vu0() {
  auto w = std::make_unique<Worker>(0, registry);
  w->on_fault = [this](std::exception_ptr e) { worker_fault(e); };
  w->start();
  {
    std::lock_guard<std::mutex> g(workers_mu);  // Engine::control().snapshot() may read them already
    workers.push_back(std::move(w));
  }
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
    js::Value o(v.ctx(), JS_GetPropertyStr(v.ctx(), v.ns.get(), "options"));
    std::string s;
    if (!o.is_undefined()) {
      js::Value js(v.ctx(), JS_JSONStringify(v.ctx(), o.get(), JS_UNDEFINED, JS_UNDEFINED));
      if (js.is_exception())
        throw js::ScriptError("exported options cannot be serialised: " + js::take_exception(v.ctx()));
      s = js::to_string(v.ctx(), js.get());
    }
    return s;
  });
  if (opts.empty()) return nlohmann::json::object();
  return nlohmann::json::parse(opts);
}

void Engine::Impl::apply_options() {
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

void Engine::Impl::init_vus(std::int64_t count) {
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
  vus_max = count;
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
  workers[0]->sink->add(metrics::kVusMax, run_tag_set(), static_cast<double>(count), unix_us());
}

}  // namespace herd::exec
