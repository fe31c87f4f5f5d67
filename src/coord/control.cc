#include "coord/control.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace herd::coord {

using json = nlohmann::json;

// ---------------------------------------------------------------------------
// ControlState

void ControlState::set_status(const api::StatusInfo& st) {
  std::lock_guard<std::mutex> g(mu_);
  if (result_) return;  // the end is final
  auto elapsed = status_.elapsed;
  bool tainted = status_.tainted;
  status_ = st;
  status_.elapsed = elapsed;
  status_.tainted = tainted;
  status_.exit_code.reset();
}

void ControlState::set_metrics(metrics::Snapshot merged, std::chrono::microseconds elapsed,
                               const std::vector<metrics::MetricThresholds>& thresholds,
                               const std::vector<metrics::ThresholdResult>& results) {
  auto snap = std::make_shared<const metrics::Snapshot>(std::move(merged));
  std::set<std::string> thresholded, failing;
  for (const auto& t : thresholds) thresholded.insert(t.selector.metric);
  for (const auto& r : results)
    if (!r.ok) failing.insert(r.selector.substr(0, r.selector.find('{')));
  std::lock_guard<std::mutex> g(mu_);
  merged_ = std::move(snap);
  status_.elapsed = elapsed;
  thresholded_ = std::move(thresholded);
  failing_ = std::move(failing);
  status_.tainted = !failing_.empty();
}

void ControlState::set_setup_data(json data) {
  std::lock_guard<std::mutex> g(mu_);
  setup_data_ = std::move(data);
}

void ControlState::set_start(json start) {
  std::lock_guard<std::mutex> g(mu_);
  start_ = std::move(start);
}

void ControlState::set_result(json result) {
  std::lock_guard<std::mutex> g(mu_);
  status_.status = api::ExecutionStatus::kEnded;
  status_.running = false;
  status_.paused = false;
  status_.vus = 0;
  if (result.contains("exitCode") && result["exitCode"].is_number_integer())
    status_.exit_code = result["exitCode"].get<int>();
  result_ = std::move(result);
}

api::StatusInfo ControlState::status() const {
  std::lock_guard<std::mutex> g(mu_);
  api::StatusInfo st = status_;
  st.stopped = st.stopped || stop_requested_;
  return st;
}

std::vector<metrics::GeneratorHealth> ControlState::generators() const {
  std::lock_guard<std::mutex> g(mu_);
  return merged_->generators;
}

metrics::Snapshot ControlState::snapshot() const {
  std::shared_ptr<const metrics::Snapshot> snap;
  {
    std::lock_guard<std::mutex> g(mu_);
    snap = merged_;
  }
  return *snap;  // copied outside the lock
}

std::optional<bool> ControlState::metric_tainted(const std::string& metric) const {
  std::lock_guard<std::mutex> g(mu_);
  if (!thresholded_.count(metric)) return std::nullopt;
  return failing_.count(metric) > 0;
}

json ControlState::setup_data() const {
  std::lock_guard<std::mutex> g(mu_);
  return setup_data_;
}

std::optional<json> ControlState::start() const {
  std::lock_guard<std::mutex> g(mu_);
  return start_;
}

std::optional<json> ControlState::result() const {
  std::lock_guard<std::mutex> g(mu_);
  return result_;
}

void ControlState::set_report_file(std::string path) {
  std::lock_guard<std::mutex> g(mu_);
  report_file_ = std::move(path);
}

std::string ControlState::report_file() const {
  std::lock_guard<std::mutex> g(mu_);
  return report_file_;
}

bool ControlState::ended() const {
  std::lock_guard<std::mutex> g(mu_);
  return result_.has_value();
}

void ControlState::request_stop() {
  std::lock_guard<std::mutex> d(deliver_mu_);
  std::function<void()> stop;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (result_) {
      linger_ended_ = true;
      linger_cv_.notify_all();
      return;
    }
    stop_requested_ = true;
    if (stop_test_ && !stop_delivered_) {
      stop_delivered_ = true;
      stop = stop_test_;
    }
  }
  if (stop) stop();
}

void ControlState::on_stop(std::function<void()> stop_test) {
  std::lock_guard<std::mutex> d(deliver_mu_);  // waits for a stop being delivered
  std::function<void()> stop;
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_test_ = std::move(stop_test);
    if (stop_requested_ && stop_test_ && !stop_delivered_) {
      stop_delivered_ = true;
      stop = stop_test_;
    }
  }
  if (stop) stop();
}

void ControlState::end_linger() {
  std::lock_guard<std::mutex> g(mu_);
  linger_ended_ = true;
  linger_cv_.notify_all();
}

bool ControlState::wait_linger(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  return linger_cv_.wait_for(lk, timeout, [this] { return linger_ended_; });
}

// ---------------------------------------------------------------------------
// CoordinatorControl

api::StatusInfo CoordinatorControl::status() {
  return state_.status();
}

std::optional<std::string> CoordinatorControl::patch_status(const api::StatusPatch& p) {
  api::StatusInfo cur = state_.status();
  // Validate everything first: an invalid patch changes nothing.
  if (p.paused && *p.paused != cur.paused)
    return std::string(*p.paused ? "pausing" : "resuming") +
           " through the coordinator is not supported: it starts the runners itself once they are all ready";
  if (p.vus && *p.vus != cur.vus)
    return "changing vus through the coordinator is not supported (the runners' VUs come from their options)";
  if (p.vus_max && *p.vus_max != cur.vus_max)
    return "changing vus-max through the coordinator is not supported (it is fixed at " + std::to_string(cur.vus_max) +
           ")";
  if (p.stopped && !*p.stopped && cur.stopped) return std::string("a stopped test cannot be restarted");
  if (p.stopped && *p.stopped) state_.request_stop();
  return std::nullopt;
}

metrics::Snapshot CoordinatorControl::snapshot() {
  return state_.snapshot();
}

std::optional<bool> CoordinatorControl::metric_tainted(const std::string& metric) {
  return state_.metric_tainted(metric);
}

json CoordinatorControl::get_setup_data() {
  return state_.setup_data();
}

json CoordinatorControl::run_setup() {
  throw api::HandlerError(501,
                          "the coordinator runs setup() itself, once, on runner 1; it cannot be run through its API");
}

void CoordinatorControl::set_setup_data(json) {
  throw api::HandlerError(
      501, "the coordinator hands setup()'s data to the runners itself; it cannot be set through its API");
}

void CoordinatorControl::run_teardown() {
  throw api::HandlerError(501,
                          "the coordinator runs teardown() itself, once, at the end; it cannot be run through its API");
}

std::optional<json> CoordinatorControl::summary() {
  return state_.result();
}

std::optional<json> CoordinatorControl::start_info() {
  return state_.start();
}

std::optional<std::string> CoordinatorControl::report() {
  std::string path = state_.report_file();
  if (path.empty()) return std::nullopt;
  if (!state_.ended()) throw api::HandlerError(404, "no report yet: the test has not ended");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw api::HandlerError(500, "the report " + path + " cannot be read (" + std::strerror(errno) +
                                     "): the coordinator's log says why it was not written");
  std::ostringstream body;
  body << in.rdbuf();
  return body.str();
}

}  // namespace herd::coord
