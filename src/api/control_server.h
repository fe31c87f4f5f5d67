#pragma once
// The runner's control API: a small HTTP/1.1 server speaking k6's REST API
// (JSON:API envelopes) on one explicitly given address. See docs/control-api.md.
//
//   GET   /v1/status            status of the run
//   PATCH /v1/status            pause/resume, scale vus/vus-max, stop
//   GET   /v1/metrics           every observed metric with its aggregate sample
//   GET   /v1/metrics/{name}    one metric
//   GET   /v1/groups            the group tree (from the `checks` series)
//   GET   /v1/groups/{id}       one group
//   GET   /v1/setup             current setup data
//   POST  /v1/setup             run setup(), return its data
//   PUT   /v1/setup             replace the setup data (body: raw JSON)
//   POST  /v1/teardown          run teardown()
//   GET   /v1/snapshot          herd extension: Snapshot::to_json() (wire format v1), or the binary
//                                 form (metrics/snapshot_binary.h) when Accept asks for it
//   GET   /v1/summary           herd extension: the end-of-test result (404 until there is one)
//   GET   /v1/start             herd extension: how the runners were released (404 until they were)
//   GET   /v1/report            herd extension: the HTML report (K6_WEB_DASHBOARD_EXPORT) once written
//   GET   /metrics              herd extension: the snapshot in Prometheus's text format
//                                 (exporter::prom_text), for a scraper
//
// The server owns one thread running its own loop::EventLoop. All handler
// calls are made from that thread, one at a time (never concurrently with each
// other), but concurrently with whatever threads the engine runs.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "metrics/sink.h"

namespace herd::loop {
class EventLoop;
}

namespace herd::api {

/// k6's lib.ExecutionStatus values (the number is what /v1/status reports).
enum class ExecutionStatus : int {
  kCreated = 0,
  kInitVUs = 1,
  kInitExecutors = 2,
  kInitDone = 3,
  kPausedBeforeRun = 4,
  kStarted = 5,
  kSetup = 6,
  kRunning = 7,
  kTeardown = 8,
  kEnded = 9,
  kInterrupted = 10,
};
/// "Created", "InitVUs", ..., "Interrupted"; "Unknown" for other values.
std::string_view to_string(ExecutionStatus s);

struct StatusInfo {
  ExecutionStatus status = ExecutionStatus::kCreated;
  bool paused = false;
  std::int64_t vus = 0;
  std::int64_t vus_max = 0;
  bool stopped = false;
  bool running = false;
  bool tainted = false;  ///< some threshold has failed
  /// Time the test has been running; used for counters' "rate" in /v1/metrics
  /// (not reported by /v1/status).
  std::chrono::microseconds elapsed{0};
  /// herd extension ("exit-code", "abort-reason"): set once the test has ended,
  /// so that a coordinator learns how a lingering runner finished.
  std::optional<int> exit_code;
  std::string abort_reason;
  /// herd extension ("started-at-us"): when the test started running, unix
  /// microseconds on this runner's clock; 0 = not yet.
  std::int64_t started_at_us = 0;
};

/// PATCH /v1/status: only the fields present in the request are set.
struct StatusPatch {
  std::optional<bool> paused;
  std::optional<std::int64_t> vus;      ///< >= 0 (checked by the server)
  std::optional<std::int64_t> vus_max;  ///< >= 0 (checked by the server)
  std::optional<bool> stopped;
  /// herd extension ("start-at-us", only with paused: false): start at this
  /// instant, unix microseconds on the runner's clock, rather than at once.
  std::optional<std::int64_t> start_at_us;
};

/// Thrown by a handler method to answer with `status` (4xx/5xx; anything else
/// becomes 500) and what() as the detail, e.g. 501 for an endpoint it does not
/// implement.
class HandlerError : public std::runtime_error {
 public:
  HandlerError(int status, const std::string& detail) : std::runtime_error(detail), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

/// Implemented by the engine. Calls come from the server thread only and are
/// serialized; implementations must be safe against their own engine threads.
/// The engine's (exec::Engine::control()) may be called from any thread.
/// Any method may throw: HandlerError -> its status, any other std::exception
/// -> 500, with what() as the detail.
class ControlHandler {
 public:
  virtual ~ControlHandler() = default;

  virtual StatusInfo status() = 0;
  /// Applies a status change. Returns an error message (-> 400) when the
  /// request is invalid, e.g. resuming a test that is not paused, setting vus
  /// when the executor is not externally-controlled, vus > vus-max.
  /// Should apply nothing when it returns an error.
  virtual std::optional<std::string> patch_status(const StatusPatch& patch) = 0;

  /// Current metric state (for /v1/metrics, /v1/groups and /v1/snapshot).
  virtual metrics::Snapshot snapshot() = 0;
  /// true/false when the metric has thresholds (false = all passing), nullopt
  /// (reported as null) when it has none. Default: nullopt for every metric.
  virtual std::optional<bool> metric_tainted(const std::string& /*metric*/) { return std::nullopt; }

  virtual nlohmann::json get_setup_data() = 0;
  /// Runs setup() and returns its data (which becomes the current setup data).
  virtual nlohmann::json run_setup() = 0;
  virtual void set_setup_data(nlohmann::json data) = 0;
  virtual void run_teardown() = 0;

  /// GET /v1/summary: the end-of-test result, served as is (no JSON:API
  /// envelope). nullopt -> 404 "no summary yet". Default: nullopt (a runner
  /// has none; the coordinator's is described in docs/control-api.md).
  virtual std::optional<nlohmann::json> summary() { return std::nullopt; }
  /// GET /v1/start: how the runners were released (the coordinator's start
  /// skew), served as is. nullopt -> 404 "not started yet". Default: nullopt.
  virtual std::optional<nlohmann::json> start_info() { return std::nullopt; }
  /// GET /v1/report: the HTML report the test asked for (K6_WEB_DASHBOARD_EXPORT),
  /// served as text/html. nullopt -> 404 "no report". Default: nullopt.
  virtual std::optional<std::string> report() { return std::nullopt; }
};

struct ControlServerOptions {
  std::size_t max_header_bytes = 64 * 1024;       ///< request line + headers; more -> 431
  std::size_t max_body_bytes = 16 * 1024 * 1024;  ///< Content-Length above -> 413
  std::size_t max_json_depth = 128;               ///< deeper request bodies -> 400
  std::size_t max_connections = 256;              ///< more are accepted and closed at once
  /// A connection with no complete request for this long is closed.
  std::chrono::milliseconds idle_timeout{60'000};
  /// The test run this process belongs to ("" = any). A request whose
  /// X-Herd-Run header names another run is refused with 409 (a coordinator
  /// of an earlier TestRun must not stop or read the runners of a new one that
  /// got its old pods' addresses); a request without the header is served
  /// (curl, k6-style tools).
  std::string run_id;
};

class ControlServer {
 public:
  /// Binds and listens on `address` ("127.0.0.1:6565", "[::1]:0", "localhost:0";
  /// port 0 = ephemeral) and starts the server thread. Only that address is
  /// bound: "0.0.0.0:P" / "[::]:P" must be spelled out; an empty host is an error.
  /// Throws std::invalid_argument for a malformed address and std::system_error
  /// (e.g. EADDRINUSE) with the address in the message when binding fails.
  ControlServer(const std::string& address, ControlHandler& handler, ControlServerOptions opts = {});
  /// Stops and joins the thread. Must not run on the server thread.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  /// The bound port (the real one when 0 was asked for).
  std::uint16_t port() const { return port_; }
  /// The bound address, "127.0.0.1:41234" or "[::1]:41234".
  const std::string& address() const { return bound_; }

  /// Stops serving: closes the listener and every open connection (responses
  /// being written are abandoned) and joins the thread. Idempotent; thread-safe.
  /// Called from a handler (the server thread) it only asks the loop to stop;
  /// the join then happens in a later stop() or the destructor.
  void stop();

 private:
  struct State;
  std::unique_ptr<State> st_;
  std::uint16_t port_ = 0;
  std::string bound_;
  std::thread thread_;
  std::mutex stop_mu_;
};

/// Builds k6's "sample" object for one metric aggregate: counter
/// {count, rate}, gauge {value, min, max}, rate {rate}, trend {avg, min, med,
/// max, p(90), p(95)}. `elapsed_s` is the test duration for counters' rate.
nlohmann::json metric_sample(metrics::MetricType type, const metrics::SeriesState& agg, double elapsed_s);

}  // namespace herd::api
