#include "metrics/generator_health.h"

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace herd::metrics {

namespace {

using json = nlohmann::json;

struct Field {
  const char* key;
  double GeneratorHealth::*member;
};
constexpr Field kFields[] = {
    {"seconds", &GeneratorHealth::seconds},
    {"cpuLast", &GeneratorHealth::cpu_last},
    {"cpuAvg", &GeneratorHealth::cpu_avg},
    {"cpuMax", &GeneratorHealth::cpu_max},
    {"cpuSaturatedS", &GeneratorHealth::cpu_saturated_s},
    {"lagLastMs", &GeneratorHealth::lag_last_ms},
    {"lagP99Ms", &GeneratorHealth::lag_p99_ms},
    {"lagMaxMs", &GeneratorHealth::lag_max_ms},
    {"lagSaturatedS", &GeneratorHealth::lag_saturated_s},
    {"unhealthyS", &GeneratorHealth::unhealthy_s},
};

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::int64_t steady_ns(HealthMonitor::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

json GeneratorHealth::to_json() const {
  json j = json::object();
  j["segment"] = segment;
  j["cores"] = cores;
  for (const auto& f : kFields) j[f.key] = this->*(f.member);
  return j;
}

std::optional<GeneratorHealth> GeneratorHealth::from_json(const json& j) {
  if (!j.is_object()) return std::nullopt;
  GeneratorHealth h;
  if (auto s = j.find("segment"); s != j.end()) {
    if (!s->is_string()) return std::nullopt;
    h.segment = s->get<std::string>();
  }
  if (auto c = j.find("cores"); c != j.end()) {
    if (!c->is_number_integer() || c->get<std::int64_t>() < 1 || c->get<std::int64_t>() > 1 << 20) return std::nullopt;
    h.cores = static_cast<int>(c->get<std::int64_t>());
  }
  for (const auto& f : kFields) {
    auto v = j.find(f.key);
    if (v == j.end()) continue;
    if (!v->is_number()) return std::nullopt;
    double d = v->get<double>();
    if (!std::isfinite(d) || d < 0) return std::nullopt;
    h.*(f.member) = d;
  }
  return h;
}

bool generator_saturated(const GeneratorHealth& h) {
  if (h.unhealthy_s < kUnhealthyFloorSeconds) return false;
  return h.unhealthy_s >= kUnhealthyMinSeconds || h.unhealthy_s >= kUnhealthyMinShare * h.seconds;
}

std::string describe_saturation(const GeneratorHealth& h) {
  std::string out = (h.name.empty() ? std::string("this process") : h.name) + ": saturated for " +
                    fmt("%.0f", h.unhealthy_s) + " of " + fmt("%.0f", h.seconds) + " s (";
  out += "CPU >= " + fmt("%.0f", kCpuSaturatedRatio * 100) + " % for " + fmt("%.0f", h.cpu_saturated_s) + " s, max " +
         fmt("%.0f", h.cpu_max * 100) + " % of " + std::to_string(h.cores) + (h.cores == 1 ? " core" : " cores");
  out += "; event-loop lag >= " + fmt("%.0f", kLagSaturatedMs) + " ms for " + fmt("%.0f", h.lag_saturated_s) +
         " s, p99 " + fmt("%.0f", h.lag_p99_ms) + " ms, max " + fmt("%.0f", h.lag_max_ms) + " ms)";
  return out + ": its latencies include its own delay";
}

double process_cpu_seconds() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

int affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

HealthMonitor::HealthMonitor(int cores, std::string segment, std::size_t probes)
    : cores_(std::max(1, cores)), segment_(std::move(segment)), due_ns_(probes) {
  h_.cores = cores_;
  h_.segment = segment_;
}

HealthMonitor::~HealthMonitor() {
  stop();
}

void HealthMonitor::start(std::chrono::milliseconds period) {
  if (running_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> g(stop_mu_);
    stop_ = false;
  }
  thread_ = std::thread([this, period] { sampler(period); });
}

void HealthMonitor::stop() {
  {
    std::lock_guard<std::mutex> g(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  running_ = false;
}

void HealthMonitor::sampler(std::chrono::milliseconds period) {
  double cpu0 = process_cpu_seconds();
  auto t0 = Clock::now();
  std::unique_lock<std::mutex> lk(stop_mu_);
  for (;;) {
    bool stopping = stop_cv_.wait_until(lk, t0 + period, [this] { return stop_; });
    auto now = Clock::now();
    double wall = std::chrono::duration<double>(now - t0).count();
    if (stopping && wall < 0.5 * std::chrono::duration<double>(period).count()) return;
    double cpu = process_cpu_seconds();
    close_second(cpu - cpu0, wall, now);
    cpu0 = cpu;
    t0 = now;
    if (stopping) return;
  }
}

void HealthMonitor::probe_armed(std::size_t probe, Clock::time_point due) {
  if (probe < due_ns_.size()) due_ns_[probe].store(steady_ns(due));
}

void HealthMonitor::probe_fired(std::size_t probe, std::chrono::microseconds lag) {
  if (probe < due_ns_.size()) due_ns_[probe].store(0);
  std::int64_t us = std::max<std::int64_t>(0, lag.count());
  std::int64_t cur = second_lag_us_.load();
  while (us > cur && !second_lag_us_.compare_exchange_weak(cur, us)) {
  }
  std::lock_guard<std::mutex> g(mu_);
  lag_ms_.record(static_cast<double>(us) / 1000.0);
}

void HealthMonitor::close_second(double cpu_s, double wall_s, Clock::time_point now) {
  if (wall_s <= 0) return;
  double lag_ms = static_cast<double>(second_lag_us_.exchange(0)) / 1000.0;
  std::int64_t now_ns = steady_ns(now);
  for (const auto& d : due_ns_) {
    std::int64_t due = d.load();
    if (due > 0 && now_ns > due) lag_ms = std::max(lag_ms, static_cast<double>(now_ns - due) / 1e6);
  }
  double cpu = std::max(0.0, cpu_s) / (wall_s * cores_);
  std::lock_guard<std::mutex> g(mu_);
  cpu_total_s_ += std::max(0.0, cpu_s);
  wall_total_s_ += wall_s;
  h_.seconds += wall_s;
  h_.cpu_last = cpu;
  h_.cpu_avg = cpu_total_s_ / (wall_total_s_ * cores_);
  h_.cpu_max = std::max(h_.cpu_max, cpu);
  h_.lag_last_ms = lag_ms;
  h_.lag_max_ms = std::max(h_.lag_max_ms, lag_ms);
  bool busy = cpu >= kCpuSaturatedRatio;
  bool late = lag_ms >= kLagSaturatedMs;
  if (busy) h_.cpu_saturated_s += wall_s;
  if (late) h_.lag_saturated_s += wall_s;
  if (busy || late) h_.unhealthy_s += wall_s;
}

GeneratorHealth HealthMonitor::health() const {
  std::lock_guard<std::mutex> g(mu_);
  GeneratorHealth h = h_;
  h.lag_p99_ms = lag_ms_.percentile(99);
  h.lag_max_ms = std::max(h.lag_max_ms, lag_ms_.max());
  return h;
}

}  // namespace herd::metrics
