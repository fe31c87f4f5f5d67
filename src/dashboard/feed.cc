#include "dashboard/feed.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "metrics/generator_health.h"

namespace herd::dashboard {

using json = nlohmann::json;
using metrics::Histogram;
using metrics::Snapshot;

namespace {

/// Rows per breakdown table (scenario, group, name) in one update.
constexpr std::size_t kMaxBreakdownRows = 100;

constexpr const char* kTimings[] = {"http_req_duration",        "http_req_blocked", "http_req_connecting",
                                    "http_req_tls_handshaking", "http_req_sending", "http_req_waiting",
                                    "http_req_receiving"};

/// Rounded to 3 decimals, so that the stream stays small and readable.
double r3(double v) {
  return std::isfinite(v) ? std::round(v * 1000) / 1000 : 0;
}

metrics::SeriesState aggregate(const Snapshot& s, const char* name, const metrics::TagSet& filter = {}) {
  auto id = s.find(name);
  return id ? s.aggregate(*id, filter) : metrics::SeriesState{};
}

/// Requests, failure share and p95 per value of tag `key`, the busiest
/// kMaxBreakdownRows values first, the rest in one "(N other values)" row. One
/// pass over each metric's series: a run with thousands of request names stays
/// linear in its series.
json breakdown(const Snapshot& s, const std::string& key) {
  struct Row {
    metrics::SeriesState reqs, failed, dur;
  };
  auto reqs = s.find("http_reqs");
  if (!reqs) return json::array();
  std::map<std::string, Row> by;
  auto collect = [&](const char* name, metrics::SeriesState Row::*field) {
    auto id = s.find(name);
    if (!id) return;
    metrics::MetricType t = s.metrics[*id].type;
    for (auto it = s.series.lower_bound(metrics::SeriesKey{*id, metrics::TagSet()});
         it != s.series.end() && it->first.metric == *id; ++it)
      if (const std::string* v = it->first.tags.get(key); v && !v->empty()) {
        if (*id != *reqs && by.find(*v) == by.end()) continue;  // only values that have requests
        (by[*v].*field).merge(t, it->second);
      }
  };
  collect("http_reqs", &Row::reqs);
  collect("http_req_failed", &Row::failed);
  collect("http_req_duration", &Row::dur);
  std::vector<std::pair<const std::string*, const Row*>> rows;
  for (const auto& [v, row] : by) rows.emplace_back(&v, &row);
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.second->reqs.sum > b.second->reqs.sum; });
  auto to_json = [](const std::string& value, const Row& r) {
    return json{{"value", value},
                {"requests", r3(r.reqs.sum)},
                {"failed", r.failed.total ? r3(static_cast<double>(r.failed.passes) / r.failed.total) : 0.0},
                {"p95", r3(r.dur.trend.percentile(95))}};
  };
  json out = json::array();
  Row rest;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i < kMaxBreakdownRows) {
      out.push_back(to_json(*rows[i].first, *rows[i].second));
      continue;
    }
    rest.reqs.merge(metrics::MetricType::kCounter, rows[i].second->reqs);
    rest.failed.merge(metrics::MetricType::kRate, rows[i].second->failed);
    rest.dur.merge(metrics::MetricType::kTrend, rows[i].second->dur);
  }
  if (rows.size() > kMaxBreakdownRows)
    out.push_back(to_json("(" + std::to_string(rows.size() - kMaxBreakdownRows) + " other values)", rest));
  return out;
}

json checks(const Snapshot& s) {
  json out = json::array();
  auto id = s.find("checks");
  if (!id) return out;
  std::map<std::pair<std::string, std::string>, std::pair<std::uint64_t, std::uint64_t>> by;
  for (const auto& [k, st] : s.series) {
    if (k.metric != *id) continue;
    const std::string* name = k.tags.get("check");
    const std::string* group = k.tags.get("group");
    auto& pf = by[{group ? *group : "", name ? *name : ""}];
    pf.first += st.passes;
    pf.second += st.total - st.passes;
  }
  for (const auto& [gn, pf] : by)
    out.push_back({{"group", gn.first}, {"name", gn.second}, {"passes", pf.first}, {"fails", pf.second}});
  return out;
}

/// The Runners view: each generator's request rate over the last period
/// (from its own http_reqs count; a single process: the run's) and its last
/// second of CPU use and event-loop lag (metrics::GeneratorHealth); null when
/// the snapshot carries none. `prev`: each runner's count at the previous
/// update (updated), `dt` the seconds since then.
json runners(const metrics::Snapshot& snap, double total_requests, std::map<std::string, double>& prev, double dt) {
  if (snap.generators.empty()) return nullptr;
  json out = json::array();
  std::map<std::string, double> now;
  for (const auto& g : snap.generators) {
    std::string name = g.name.empty() ? "this process" : g.name;
    double reqs = g.requests ? *g.requests : total_requests;
    now[name] = reqs;
    auto it = prev.find(name);
    double before = it == prev.end() ? 0.0 : it->second;
    out.push_back({{"name", name},
                   {"segment", g.segment},
                   {"requests", r3(reqs)},
                   {"req_rate", dt > 0 ? r3(std::max(0.0, reqs - before) / dt) : 0.0},
                   {"cpu", r3(g.cpu_last)},
                   {"loop_lag_ms", r3(g.lag_last_ms)},
                   {"saturated", metrics::generator_saturated(g)}});
  }
  prev = std::move(now);
  return out;
}

}  // namespace

Histogram histogram_delta(const Histogram& cur, const Histogram& prev) {
  std::map<std::pair<double, double>, std::uint64_t> before;
  for (const auto& b : prev.buckets()) before[{b.lower, b.upper}] = b.count;
  Histogram out;
  for (const auto& b : cur.buckets()) {
    auto it = before.find({b.lower, b.upper});
    std::uint64_t was = it == before.end() ? 0 : it->second;
    if (b.count > was) out.record(b.mid, b.count - was);
  }
  if (cur.zero_count() > prev.zero_count()) out.record(0, cur.zero_count() - prev.zero_count());
  return out;
}

json DashboardFeed::update(const Snapshot& snap, const std::vector<metrics::ThresholdResult>& verdicts,
                           std::chrono::milliseconds elapsed, bool final) {
  Totals now;
  now.requests = aggregate(snap, "http_reqs").sum;
  auto failed = aggregate(snap, "http_req_failed");
  now.failed_passes = failed.passes;
  now.failed_total = failed.total;
  for (const char* t : kTimings) now.trends[t] = aggregate(snap, t).trend;

  double dt = std::chrono::duration<double>(elapsed - prev_elapsed_).count();
  std::uint64_t dtotal = now.failed_total - std::min(now.failed_total, prev_.failed_total);
  std::uint64_t dpass = now.failed_passes - std::min(now.failed_passes, prev_.failed_passes);
  Histogram dur = histogram_delta(now.trends["http_req_duration"], prev_.trends["http_req_duration"]);

  json overview = {
      {"vus", r3(aggregate(snap, "vus").last)},
      {"req_rate", dt > 0 ? r3(std::max(0.0, now.requests - prev_.requests) / dt) : 0.0},
      {"failed", dtotal ? r3(static_cast<double>(dpass) / static_cast<double>(dtotal)) : 0.0},
      {"p50", r3(dur.percentile(50))},
      {"p90", r3(dur.percentile(90))},
      {"p95", r3(dur.percentile(95))},
      {"p99", r3(dur.percentile(99))},
      {"requests", r3(now.requests)},
      {"iterations", r3(aggregate(snap, "iterations").sum)},
  };
  json timings = json::object();
  for (const char* t : kTimings) {
    Histogram d = histogram_delta(now.trends[t], prev_.trends[t]);
    timings[t] = {{"avg", r3(d.mean())}, {"p95", r3(d.percentile(95))}};
  }
  json ths = json::array();
  for (const auto& v : verdicts)
    ths.push_back({{"metric", v.selector},
                   {"source", v.source},
                   {"ok", v.ok},
                   {"value", v.observed ? json(r3(*v.observed)) : json(nullptr)}});
  json out = {{"t", r3(std::chrono::duration<double>(elapsed).count())},
              {"final", final},
              {"overview", std::move(overview)},
              {"timings", std::move(timings)},
              {"thresholds", std::move(ths)},
              {"checks", checks(snap)},
              {"breakdown",
               {{"scenario", breakdown(snap, "scenario")},
                {"group", breakdown(snap, "group")},
                {"name", breakdown(snap, "name")}}},
              {"runners", runners(snap, now.requests, prev_runner_requests_, dt)}};
  prev_ = std::move(now);
  prev_elapsed_ = elapsed;
  return out;
}

}  // namespace herd::dashboard
