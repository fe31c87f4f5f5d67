#include "dashboard/live.h"

#include "dashboard/report.h"

namespace herd::dashboard {

LiveDashboard::LiveDashboard(DashboardOptions opts, Source source, Verdicts verdicts, Elapsed elapsed)
    : opts_(std::move(opts)), source_(std::move(source)), verdicts_(std::move(verdicts)), elapsed_(std::move(elapsed)) {
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
  latest_at_ = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - *t0_);
}

void LiveDashboard::publish(const metrics::Snapshot& snap, const std::vector<metrics::ThresholdResult>& verdicts,
                            bool final, std::optional<std::chrono::milliseconds> at) {
  auto elapsed = at ? *at : now_elapsed();
  std::lock_guard<std::mutex> g(feed_mu_);
  nlohmann::json u = feed_.update(snap, verdicts, elapsed, final);
  std::string line = u.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (!opts_.export_path.empty()) {
    // The report shows the tables of its last (final) update only: earlier
    // ones keep their charts' figures, not the breakdown tables (which grow
    // with the number of request names).
    if (final) {
      updates_.push_back(line);
    } else {
      u.erase("breakdown");
      updates_.push_back(u.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  }
  if (server_) server_->publish(std::move(line));
}

void LiveDashboard::run() {
  std::unique_lock<std::mutex> lk(mu_);
  auto next = std::chrono::steady_clock::now() + opts_.period;
  while (!stop_) {
    if (wake_.wait_until(lk, next, [this] { return stop_; })) break;
    next += opts_.period;
    std::optional<metrics::Snapshot> snap;
    std::vector<metrics::ThresholdResult> verdicts;
    std::optional<std::chrono::milliseconds> at;
    if (source_) {
      lk.unlock();
      snap = source_();
      if (verdicts_) verdicts = verdicts_(*snap);
      lk.lock();
      if (stop_) break;
    } else if (latest_) {
      snap = latest_;
      verdicts = latest_verdicts_;
      if (!elapsed_) at = latest_at_;           // rates over the time the data covers, not since it arrived
      if (at && published_at_ == at) continue;  // nothing new since the last update
      published_at_ = at;
    }
    if (!snap) continue;
    lk.unlock();
    publish(*snap, verdicts, false, at);
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
  std::lock_guard<std::mutex> g(feed_mu_);
  finished_ = true;
}

std::string LiveDashboard::write_report(const std::optional<ReportInfo>& info) {
  if (opts_.export_path.empty()) return "";
  std::lock_guard<std::mutex> g(feed_mu_);
  if (!finished_) return "";
  std::string err =
      dashboard::write_report(opts_.export_path, updates_, info ? report_info_json(*info) : nlohmann::json());
  return err.empty() ? "" : "web dashboard report: " + err;
}

std::unique_ptr<LiveDashboard> open_live_dashboard(std::vector<std::string>& specs,
                                                   const std::map<std::string, std::string>& environ,
                                                   LiveDashboard::Source source, LiveDashboard::Verdicts verdicts,
                                                   LiveDashboard::Elapsed elapsed,
                                                   const std::function<void(const std::string&)>& log,
                                                   const std::string& report) {
  auto opts = take_dashboard(specs, environ, report);
  if (!opts) return nullptr;
  auto d = std::make_unique<LiveDashboard>(*opts, std::move(source), std::move(verdicts), std::move(elapsed));
  if (log && !d->url().empty()) log("web dashboard: " + d->url());
  return d;
}

MergedFeed merged_dashboard_feed(std::vector<std::string>& specs, const std::map<std::string, std::string>& environ,
                                 MergedFeed next, const std::function<void(const std::string&)>& log,
                                 const std::string& report, ReportWriter* report_writer) {
  std::shared_ptr<LiveDashboard> d = open_live_dashboard(specs, environ, nullptr, nullptr, nullptr, log, report);
  if (!d) return next;
  bool write_at_final = d->wants_report() && !report_writer;  // no later hook: the charts and tables only
  if (report_writer && d->wants_report())
    *report_writer = [d](const ReportInfo& info) { return d->write_report(info); };
  return [d, log, write_at_final, next = std::move(next)](const metrics::Snapshot& snap, bool final,
                                                          const std::vector<metrics::ThresholdResult>& verdicts) {
    std::string note = next ? next(snap, final, verdicts) : "";
    if (final) {
      d->finish(snap, verdicts);
      if (write_at_final)
        if (std::string err = d->write_report(std::nullopt); !err.empty() && log) log("error: " + err);
    } else {
      d->offer(snap, verdicts);
    }
    return note;
  };
}

}  // namespace herd::dashboard
