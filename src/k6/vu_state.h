#pragma once
// What the k6 modules need from the engine: the per-run shared state and the
// per-VU state that native functions reach through the JSContext's opaque.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/client.h"
#include "js/bundle.h"
#include "k6/cookie_jar.h"
#include "k6/logger.h"
#include "k6/rate_limit.h"
#include "k6/secrets.h"
#include "loop/event_loop.h"
#include "loop/fiber.h"
#include "metrics/registry.h"
#include "metrics/sink.h"
#include "util/fifo.h"

namespace herd::k6 {

/// HTTP defaults from the options.
struct HttpDefaults {
  std::string user_agent = "herd/0.1 (k6-compatible)";
  std::int64_t max_redirects = 10;
  bool discard_response_bodies = false;
  bool insecure_skip_tls_verify = false;
  bool no_cookies_reset = false;
  std::int64_t batch = 20;
  std::int64_t batch_per_host = 6;
  bool throw_errors = false;
  std::string debug;                      ///< httpDebug: "" (off), "headers" or "full" (k6/http_debug.h)
  std::shared_ptr<RequestRateLimit> rps;  ///< options.rps; null = no cap
  std::chrono::milliseconds timeout{60000};
  /// Network options (hosts, dns, TLS, localIPs, ...); the workers' clients hold it too.
  std::shared_ptr<const http::NetConfig> net;
};

/// Counters k6/execution exposes about this instance. Thread-safe.
struct InstanceStats {
  std::atomic<std::int64_t> iterations_completed{0};
  std::atomic<std::int64_t> iterations_interrupted{0};
  std::atomic<std::int64_t> vus_active{0};
  std::atomic<std::int64_t> vus_initialized{0};
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

/// SharedArray storage: each element kept as JSON text, shared by all VUs.
struct SharedArrayStore {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<const std::vector<std::string>>> arrays;
};

/// Per-run state shared by every VU (all members thread-safe or immutable
/// after the run starts).
struct RunShared {
  std::shared_ptr<js::Bundle> bundle;
  metrics::Registry* registry = nullptr;
  HttpDefaults http;
  std::map<std::string, std::string> env;          ///< __ENV
  std::map<std::string, std::string> global_tags;  ///< options.tags
  std::string options_json = "{}";                 ///< for exec.test.options
  Logger* logger = nullptr;
  std::shared_ptr<const SecretSources> secrets;  ///< --secret-source sources (k6/secrets); never null in a run
  InstanceStats stats;
  SharedArrayStore shared_arrays;
  /// Called (from any thread) by test.abort(); the engine stops the run.
  std::function<void(const std::string& reason)> on_abort;
  std::atomic<bool> aborted{false};
  /// Set by test.fail(): the test goes on and ends with exit code 110.
  std::atomic<bool> marked_failed{false};
  /// Set from any thread (the signal watcher) to stop every VU's init context,
  /// busy JavaScript included (checked by the QuickJS interrupt handler).
  std::atomic<bool> abort_init{false};
};

/// Per-VU state, confined to the VU's worker thread.
struct VuState {
  RunShared* run = nullptr;
  loop::EventLoop* loop = nullptr;
  http::Client* http = nullptr;
  metrics::Sink* sink = nullptr;
  loop::Fiber* fiber = nullptr;
  JSContext* js_ctx = nullptr;  ///< this VU's context (set by install_globals)

  std::int64_t id_in_instance = 0;  ///< __VU (0 for setup/teardown)
  std::int64_t id_in_test = 0;
  bool in_init = true;         ///< init context: open() allowed, metrics may be defined
  std::int64_t iteration = 0;  ///< __ITER: iterations of this VU in the current scenario

  // Scenario currently running on this VU.
  std::string scenario;
  std::string executor;
  std::int64_t iteration_in_scenario = 0;  ///< exec.scenario.iterationInInstance
  std::int64_t iteration_in_test = 0;      ///< exec.scenario.iterationInTest
  std::chrono::steady_clock::time_point scenario_start;
  std::function<double()> scenario_progress;  ///< 0..1

  std::string group_path;                            ///< "" or "::a::b"
  std::map<std::string, std::string> scenario_tags;  ///< scenario name + scenario tags
  std::map<std::string, std::string> vu_tags;        ///< exec.vu.tags / metrics.tags
  metrics::TagSet base_tags;                         ///< global + scenario + vu + group tags; rebuilt on change
  void rebuild_tags();

  CookieJar jar;

  /// Writes and deletes made to __ENV by this VU (nullopt = deleted); reads fall
  /// through to RunShared::env, which every VU shares.
  std::map<std::string, std::optional<std::string>> env_overlay;

  /// Cache of the last HTTP sample tag set: loops that hit the same URL with the
  /// same outcome reuse one TagSet (and so one series lookup path). Compared
  /// field by field, so a hit allocates nothing.
  struct LastHttpTags {
    bool valid = false;
    std::string method, url, proto, tls_version;
    int status = 0;
    int error_code = 0;
    char expected = '-';  ///< 'T', 'F', or '-' without expected statuses
    std::size_t base_hash = 0;
    std::map<std::string, std::string> tags;  ///< the request's own tags
    metrics::TagSet set;
    /// The series of `set` (http_reqs ... http_req_failed) and of the base
    /// tags (data_sent, data_received), keyed by the base tags and reset when
    /// `set` changes (metrics::SeriesCache).
    metrics::SeriesCache<11> series;
  } last_http;

  /// check()'s samples without extra tags (n_check in k6/natives.cc), per check
  /// name: the atom of its key in the checks object (a reference held, freed in
  /// release_vu_values), the sample's tag set built for the base tags `base`, and
  /// its series (metrics::SeriesCache), reused while both stay the same.
  struct CheckSeries {
    JSAtom atom = JS_ATOM_NULL;
    metrics::TagSet base, set;
    metrics::SeriesCache<1> series;
  };
  std::vector<CheckSeries> check_series;  ///< at most kMaxCheckSeries entries
  static constexpr std::size_t kMaxCheckSeries = 64;
  /// The series a custom metric's add() without tags goes to (n_add_metric),
  /// found once per metric, base tags and sink; and the metric's type.
  struct MetricSeries {
    metrics::MetricId metric = 0;
    metrics::MetricType type = metrics::MetricType::kCounter;
    metrics::SeriesCache<1> series;
  };
  std::vector<MetricSeries> metric_series;  ///< at most kMaxMetricSeries entries
  /// Metrics beyond this many (a script with very many custom metrics) are
  /// added through the sink's look-up each time, as with outputs.
  static constexpr std::size_t kMaxMetricSeries = 64;

  /// Atoms for Response properties, created once per VU (see k6/http_response.cc).
  std::vector<JSAtom> atoms;
  // Plain JSValues, not js::Value: VuState outlives its context, so these are
  // freed by hand in release_vu_values (k6/natives.cc) before the runtime goes.
  JSValue response_proto = JS_UNDEFINED;     ///< http Response.prototype (owned by the context)
  JSValue response_callback = JS_UNDEFINED;  ///< http.setResponseCallback value (owned)
  bool timings_shapes_kept = false;          ///< res.timings' shapes handed to js::ShapeKeeper (build_timings)
  /// js::parse_json_keeping_shapes's keeper for res.json() bodies of at most
  /// kJsonShapeKeepBytes (owned, freed as response_proto): a small array with the
  /// last result and, once two bodies in a row have the same keys, their shape
  /// ladder and key atoms, so the next same-keyed body reuses them instead of
  /// rebuilding them (QuickJS frees a shape with its last object).
  JSValue json_shape_keeper = JS_UNDEFINED;
  static constexpr std::size_t kJsonShapeKeepBytes = 1024;

  // ---- the VU's own event loop (timers, async requests, promises) ----------
  /// Work that loop callbacks hand to the VU: run on the VU's fiber, in order.
  util::Fifo<std::function<void()>> ready;
  /// An uncaught exception of a callback the loop ran (a timer callback, or the
  /// rejection of the promise an async one returned): as in k6, it ends the
  /// current iteration (or setup/teardown) with this error. Taken by Vu::drive.
  std::string uncaught;
  /// Pending asynchronous operations by id (timers, async requests). The
  /// iteration does not end while any is pending (k6's event-loop rule).
  struct AsyncOp {
    loop::TimerId timer = 0;  ///< timers: the loop timer
    bool is_timer = false;
    std::int64_t interval_us = 0;  ///< setInterval period; 0 for setTimeout and requests
    /// JS values owned by the op (callback and args, or resolve/reject); plain
    /// JSValues freed by clear_async/erase_async, as for response_proto.
    std::vector<JSValue> values;
    std::function<void()> cancel;  ///< abandons a request in flight
  };
  std::map<std::int64_t, AsyncOp> async_ops;
  std::int64_t next_async_id = 1;
  /// Queues `fn` to run on the fiber and wakes the VU (call on the loop thread).
  void post_ready(std::function<void()> fn);
  /// Frees every pending async op (end of iteration, interruption, shutdown).
  void clear_async(JSContext* ctx);
  /// Frees the values of op `it` and forgets it (its timer or request is not touched).
  void erase_async(JSContext* ctx, std::map<std::int64_t, AsyncOp>::iterator it);

  /// Set to interrupt the VU (hard stop): waits return early and JS is
  /// interrupted at the next check. VU thread only; see stop_requested.
  bool interrupted = false;

  /// A hard stop asked from any thread (a deadline, the signal watcher, the
  /// control API): the VU's thread turns it into `interrupted` at its next
  /// check, busy JavaScript included (the QuickJS interrupt handler polls it).
  /// Cleared by the engine before the VU's next task.
  std::atomic<bool> stop_requested{false};

  /// A time by which the VU's current iteration must end (ramping-vus'
  /// gracefulRampDown), checked by the QuickJS interrupt handler so that it
  /// reaches JavaScript that never yields (a loop timer covers the waits).
  /// Sets `interrupted` and `busy_deadline_hit`. VU thread only.
  std::optional<std::chrono::steady_clock::time_point> busy_deadline;
  bool busy_deadline_hit = false;

  /// On the VU's thread: takes a pending stop request (or an init abort) into
  /// `interrupted`; returns `interrupted`.
  bool absorb_stop() {
    if (!interrupted && (stop_requested.load(std::memory_order_acquire) ||
                         (in_init && run && run->abort_init.load(std::memory_order_acquire))))
      interrupted = true;
    return interrupted;
  }

  /// Suspends the VU's fiber until `wake` is called (from the loop thread).
  /// Returns false if the VU was interrupted instead.
  bool suspend();
  void wake();
  bool suspended = false;

  std::int64_t now_us() const;
};

/// The VuState of a context.
inline VuState* vu_of(JSContext* ctx) {
  return static_cast<VuState*>(JS_GetContextOpaque(ctx));
}

}  // namespace herd::k6
