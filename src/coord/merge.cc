// Merging the runners' snapshots, the progress line, the exit code (pure,
// unit-tested in coordinator_test.cc) and writing the merged summary.
#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <utility>

#include "coord/coordinator.h"
#include "exec/runner.h"

namespace herd::coord {

std::string generator_name(std::size_t i, const std::string& segment) {
  std::string n = "runner " + std::to_string(i + 1);
  return segment.empty() ? n : n + " (segment " + segment + ")";
}

void SnapshotMerger::add(const metrics::Snapshot& p) {
  out_.merge(p);
  // vus and vus_max count VUs of the whole test: the runners' values add up
  // (the generic gauge rule, "latest value", would show one runner's).
  for (const char* name : {"vus", "vus_max"}) {
    auto id = p.find(name);
    if (!id) continue;
    auto& sums = sums_[name];
    for (auto it = p.series.lower_bound(metrics::SeriesKey{*id, metrics::TagSet()});
         it != p.series.end() && it->first.metric == *id; ++it) {
      const auto& [key, st] = *it;
      if (st.last_time_us < 0) continue;
      auto& acc = sums[key.tags];
      acc[0] += st.last;
      acc[1] += st.gmin;
      acc[2] += st.gmax;
    }
  }
}

metrics::Snapshot SnapshotMerger::take() {
  for (auto& [name, sums] : sums_) {
    auto out_id = out_.find(name);
    if (!out_id) continue;
    for (auto it = out_.series.lower_bound(metrics::SeriesKey{*out_id, metrics::TagSet()});
         it != out_.series.end() && it->first.metric == *out_id; ++it) {
      auto s = sums.find(it->first.tags);
      if (s == sums.end()) continue;
      it->second.last = s->second[0];
      it->second.gmin = s->second[1];
      it->second.gmax = s->second[2];
    }
  }
  sums_.clear();
  return std::exchange(out_, metrics::Snapshot());
}

metrics::Snapshot merge_snapshots(const std::vector<const metrics::Snapshot*>& parts) {
  SnapshotMerger m;
  for (const auto* p : parts)
    if (p) m.add(*p);
  return m.take();
}

std::chrono::milliseconds status_check_gap(std::size_t runners, bool stopping) {
  const std::chrono::milliseconds floor(stopping ? 100 : 200);
  return std::max(floor,
                  std::chrono::milliseconds(static_cast<std::int64_t>(std::min<std::size_t>(runners, 1u << 20))));
}

namespace {
double counter_sum(const metrics::Snapshot& s, const char* name) {
  auto id = s.find(name);
  return id ? s.aggregate(*id).sum : 0;
}
}  // namespace

ProgressRates progress_rates(const metrics::Snapshot& prev, const metrics::Snapshot& cur, double dt_s) {
  ProgressRates r;
  if (dt_s > 0) {
    r.iterations_per_s = std::max(0.0, counter_sum(cur, "iterations") - counter_sum(prev, "iterations")) / dt_s;
    r.requests_per_s = std::max(0.0, counter_sum(cur, "http_reqs") - counter_sum(prev, "http_reqs")) / dt_s;
  }
  if (auto id = cur.find("http_req_failed")) {
    auto st = cur.aggregate(*id);
    if (st.total) r.error_rate = static_cast<double>(st.passes) / static_cast<double>(st.total);
  }
  if (auto id = cur.find("http_req_duration")) {
    auto st = cur.aggregate(*id);
    if (st.trend.count()) {
      r.has_requests = true;
      r.p95_ms = st.trend.percentile(95);
    }
  }
  return r;
}

std::string format_progress(const ProgressInput& in, const ProgressRates& r) {
  char buf[256];
  int secs = static_cast<int>(in.elapsed_s);
  std::snprintf(
      buf, sizeof buf, "running (%02dm%02ds) %zu/%zu runners, %lld VUs, %.1f it/s, %.1f req/s, errors %.2f%%, p95 %s",
      secs / 60, secs % 60, in.runners, in.total_runners, static_cast<long long>(in.vus), r.iterations_per_s,
      r.requests_per_s, r.error_rate * 100, r.has_requests ? metrics::format_duration_ms(r.p95_ms).c_str() : "-");
  return buf;
}

int decide_exit_code(const Outcome& o) {
  if (o.runner_lost) return kExitRunnerLost;
  if (o.runner_failure) return *o.runner_failure;
  if (o.script_aborted) return 108;
  if (o.stop_code) return *o.stop_code;
  if (o.thresholds_failed) return 99;
  if (o.marked_failed) return 110;
  return 0;
}

std::vector<std::string> write_summary(const CoordinatorOptions& opts, const nlohmann::json& summary_data,
                                       const nlohmann::json& setup_data, const std::string& plain_text,
                                       bool* text_printed) {
  std::vector<std::string> errors;
  *text_printed = false;
  if (!opts.summary_export.empty()) {
    FILE* f = std::fopen(opts.summary_export.c_str(), "wb");
    if (!f) {
      errors.push_back("cannot write --summary-export file " + opts.summary_export);
    } else {
      std::string text = metrics::summary_export(summary_data).dump(4) + "\n";
      std::fwrite(text.data(), 1, text.size(), f);
      std::fclose(f);
    }
  }
  bool custom = false;
  if (opts.handle_summary) {
    try {
      nlohmann::json data = summary_data;
      if (!setup_data.is_null()) data["setup_data"] = setup_data;  // as k6 gives handleSummary
      auto out = opts.handle_summary(data);
      if (out) {
        custom = true;
        if (!exec::Engine::write_summary_outputs(*out))
          errors.push_back("handleSummary(): some outputs could not be written");
      }
    } catch (const std::exception& e) {
      errors.push_back(std::string("handleSummary() failed: ") + e.what());
    }
  }
  if (!custom && !opts.no_summary) {
    std::string text = opts.summary.no_color ? plain_text : metrics::render_text_summary(summary_data, opts.summary);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    *text_printed = true;
  }
  return errors;
}

void print_partial_results(const std::vector<std::string>& lost, std::size_t total) {
  std::string names;
  for (const auto& n : lost) names += (names.empty() ? "" : ", ") + n;
  std::fprintf(stderr,
               "herd: PARTIAL RESULTS: %zu of %zu runners were lost (%s); the summary covers what they had "
               "reported (exit code %d)\n",
               lost.size(), total, names.c_str(), kExitRunnerLost);
}

}  // namespace herd::coord
