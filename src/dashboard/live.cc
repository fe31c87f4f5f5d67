#include "dashboard/live.h"

namespace herd::dashboard {

LiveDashboard::LiveDashboard(DashboardOptions opts, Source source, Verdicts verdicts, Elapsed elapsed, Vus vus)
    : opts_(std::move(opts)),
      source_(std::move(source)),
      verdicts_(std::move(verdicts)),
      elapsed_(std::move(elapsed)),
      vus_(std::move(vus)) {
  if (opts_.port >= 0) server_ = std::make_unique<DashboardServer>(opts_.host, opts_.port);
  thread_ = std::thread([this] { run(); });
}

LiveDashboard::~LiveDashboard() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::chrono::milliseconds LiveDashboard::now_elapsed() {
  if (elapsed_) return elapsed_();
  std::lock_guard<std::mutex> g(mu_);
  auto now = std::chrono::steady_clock::now();
  if (!t0_) t0_ = now;
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - *t0_);
}

void LiveDashboard::offer(const metrics::Snapshot& snap, std::vector<metrics::ThresholdResult> verdicts) {
  std::lock_guard<std::mutex> g(mu_);
  if (!t0_) t0_ = std::chrono::steady_clock::now();
  latest_ = snap;
  latest_verdicts_ = std::move(verdicts);
}

void LiveDashboard::publish(const metrics::Snapshot& snap, const std::vector<metrics::ThresholdResult>& verdicts,
                            bool final) {
  auto elapsed = now_elapsed();
  std::optional<double> vus = vus_ ? vus_() : std::nullopt;
  std::lock_guard<std::mutex> g(feed_mu_);
  nlohmann::json u = feed_.update(snap, verdicts, elapsed, final, vus);
  if (server_) server_->publish(u.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void LiveDashboard::run() {
  std::unique_lock<std::mutex> lk(mu_);
  auto next = std::chrono::steady_clock::now() + opts_.period;
  while (!stop_) {
    if (wake_.wait_until(lk, next, [this] { return stop_; })) break;
    next += opts_.period;
    std::optional<metrics::Snapshot> snap;
    std::vector<metrics::ThresholdResult> verdicts;
    if (source_) {
      lk.unlock();
      snap = source_();
      if (verdicts_) verdicts = verdicts_(*snap);
      lk.lock();
      if (stop_) break;
    } else if (latest_) {
      snap = latest_;
      verdicts = latest_verdicts_;
    }
    if (!snap) continue;
    lk.unlock();
    publish(*snap, verdicts, false);
    lk.lock();
  }
}

void LiveDashboard::finish(const metrics::Snapshot& last, const std::vector<metrics::ThresholdResult>& verdicts) {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  publish(last, verdicts, true);
}

std::unique_ptr<LiveDashboard> open_live_dashboard(std::vector<std::string>& specs,
                                                   const std::map<std::string, std::string>& environ,
                                                   LiveDashboard::Source source, LiveDashboard::Verdicts verdicts,
                                                   LiveDashboard::Elapsed elapsed,
                                                   const std::function<void(const std::string&)>& log,
                                                   LiveDashboard::Vus vus) {
  auto opts = take_dashboard(specs, environ);
  if (!opts) return nullptr;
  auto d = std::make_unique<LiveDashboard>(*opts, std::move(source), std::move(verdicts), std::move(elapsed),
                                           std::move(vus));
  if (log && !d->url().empty()) log("web dashboard: " + d->url());
  return d;
}

MergedFeed merged_dashboard_feed(std::vector<std::string>& specs, const std::map<std::string, std::string>& environ,
                                 MergedFeed next, const std::function<void(const std::string&)>& log,
                                 LiveDashboard::Vus vus) {
  std::shared_ptr<LiveDashboard> d =
      open_live_dashboard(specs, environ, nullptr, nullptr, nullptr, log, std::move(vus));
  if (!d) return next;
  return [d, next = std::move(next)](const metrics::Snapshot& snap, bool final,
                                     const std::vector<metrics::ThresholdResult>& verdicts) {
    std::string note = next ? next(snap, final, verdicts) : "";
    if (final)
      d->finish(snap, verdicts);
    else
      d->offer(snap, verdicts);
    return note;
  };
}

}  // namespace herd::dashboard
