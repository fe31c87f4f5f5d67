#include "export/remote_write.h"

#include <snappy-c.h>

#include <bit>
#include <stdexcept>

#include "export/generator_series.h"
#include "export/native_histogram.h"
#include "util/duration.h"

namespace herd::exporter {

namespace {

constexpr std::string_view kPrefix = "K6_PROMETHEUS_RW_";

[[noreturn]] void bad(const std::string& var, const std::string& why) {
  throw std::invalid_argument(var + ": " + why);
}

bool parse_bool(const std::string& var, const std::string& v) {
  // Go's strconv.ParseBool, as k6 reads these variables.
  if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False") return false;
  bad(var, "\"" + v + "\" is not a boolean (use true or false)");
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    std::size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

bool valid_header_name(const std::string& n) {
  if (n.empty()) return false;
  for (char c : n)
    if (c <= ' ' || c == ':' || c == 127) return false;
  return true;
}

void add_labels(herd::rw::TimeSeries& ts, const std::string& name, const metrics::TagSet& tags) {
  std::map<std::string, std::string> labels;
  for (const auto& [k, v] : tags.items())
    if (!v.empty()) labels[label_name(k)] = v;
  labels["__name__"] = name;
  for (const auto& [k, v] : labels) {
    auto* l = ts.add_labels();
    l->set_name(k);
    l->set_value(v);
  }
}

void add_sample(herd::rw::WriteRequest& req, const std::string& name, const metrics::TagSet& tags, double value,
                std::int64_t time_ms) {
  auto* ts = req.add_timeseries();
  add_labels(*ts, name, tags);
  auto* s = ts->add_samples();
  s->set_value(value);
  s->set_timestamp(time_ms);
}

void set_histogram(herd::rw::Histogram& out, const NativeHistogram& n, std::int64_t time_ms) {
  out.set_count_int(n.count);
  out.set_sum(n.sum);
  out.set_schema(n.schema);
  out.set_zero_threshold(n.zero_threshold);
  out.set_zero_count_int(n.zero_count);
  for (const auto& s : n.positive_spans) {
    auto* sp = out.add_positive_spans();
    sp->set_offset(s.offset);
    sp->set_length(s.length);
  }
  for (auto d : n.positive_deltas) out.add_positive_deltas(d);
  for (const auto& s : n.negative_spans) {
    auto* sp = out.add_negative_spans();
    sp->set_offset(s.offset);
    sp->set_length(s.length);
  }
  for (auto d : n.negative_deltas) out.add_negative_deltas(d);
  out.set_timestamp(time_ms);
}

}  // namespace

RemoteWriteConfig remote_write_config(const std::map<std::string, std::string>& environ) {
  RemoteWriteConfig c;
  c.trend_stats.push_back(parse_trend_stat("p(99)"));
  bool has_password = false;
  std::string cert, key;
  for (const auto& [var, v] : environ) {
    if (var.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    std::string opt = var.substr(kPrefix.size());
    if (opt == "SERVER_URL") {
      if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0)
        bad(var, "\"" + v + "\" is not an http:// or https:// URL");
      c.url = v;
    } else if (opt == "PUSH_INTERVAL") {
      std::chrono::microseconds d{0};
      try {
        d = util::parse_duration(v);
      } catch (const std::invalid_argument& e) {
        bad(var, e.what());
      }
      if (d < std::chrono::milliseconds(1) || d > std::chrono::hours(24))
        bad(var, "\"" + v + "\" must be between 1ms and 24h");
      c.push_interval = std::chrono::duration_cast<std::chrono::milliseconds>(d);
    } else if (opt == "TREND_STATS") {
      c.trend_stats.clear();
      for (const auto& s : split(v, ',')) {
        try {
          c.trend_stats.push_back(parse_trend_stat(s));
        } catch (const std::invalid_argument& e) {
          bad(var, e.what());
        }
      }
    } else if (opt == "TREND_AS_NATIVE_HISTOGRAM") {
      c.native_histograms = c.native_histograms || parse_bool(var, v);
    } else if (opt == "USERNAME") {
      c.basic_auth = true;
      c.username = v;
    } else if (opt == "PASSWORD") {
      has_password = true;
      c.password = v;
    } else if (opt == "INSECURE_SKIP_TLS_VERIFY") {
      c.insecure_skip_tls_verify = parse_bool(var, v);
    } else if (opt == "STALE_MARKERS") {
      c.stale_markers = parse_bool(var, v);
    } else if (opt.rfind("HEADERS_", 0) == 0) {
      std::string name = opt.substr(8);
      if (!valid_header_name(name)) bad(var, "needs a header name after K6_PROMETHEUS_RW_HEADERS_");
      c.headers.emplace_back(name, v);
    } else if (opt == "HTTP_HEADERS") {
      for (const auto& kv : split(v, ',')) {
        auto colon = kv.find(':');
        std::string name = kv.substr(0, colon);
        if (colon == std::string::npos || !valid_header_name(name))
          bad(var, "\"" + kv + "\" is not name:value (use name1:value1,name2:value2)");
        c.headers.emplace_back(name, kv.substr(colon + 1));
      }
    } else {
      bad(var, "herd does not support this variable of --out experimental-prometheus-rw");
    }
  }
  if (has_password && !c.basic_auth) bad("K6_PROMETHEUS_RW_PASSWORD", "needs K6_PROMETHEUS_RW_USERNAME");
  if (auto it = environ.find("K6_FEATURES"); it != environ.end())
    for (const auto& f : split(it->second, ','))
      if (f == "native-histograms") c.native_histograms = true;
  return c;
}

herd::rw::WriteRequest to_write_request(const metrics::Snapshot& snap, const RemoteWriteConfig& cfg,
                                        std::int64_t time_ms, const std::vector<metrics::ThresholdResult>* verdicts) {
  herd::rw::WriteRequest req;
  if (verdicts) {
    for (const auto& v : *verdicts) {
      auto tags = cfg.run_tags;
      tags.emplace_back("metric", v.selector);
      tags.emplace_back("threshold", v.source);
      add_sample(req, std::string(kThresholdSeries), metrics::TagSet(std::move(tags)), v.ok ? 1.0 : 0.0, time_ms);
    }
  }
  for (const auto& g : generator_samples(snap.generators)) {
    auto tags = cfg.run_tags;
    tags.insert(tags.end(), g.labels.begin(), g.labels.end());
    add_sample(req, g.name, metrics::TagSet(std::move(tags)), g.value, time_ms);
  }
  for (const auto& [key, st] : snap.series) {
    if (key.metric >= snap.metrics.size()) continue;
    const metrics::MetricDef& def = snap.metrics[key.metric];
    switch (def.type) {
      case metrics::MetricType::kCounter:
        add_sample(req, counter_name(def.name), key.tags, st.sum, time_ms);
        break;
      case metrics::MetricType::kGauge:
        if (st.last_time_us >= 0) add_sample(req, gauge_name(def.name), key.tags, st.last, time_ms);
        break;
      case metrics::MetricType::kRate:
        add_sample(req, rate_name(def.name), key.tags,
                   st.total ? static_cast<double>(st.passes) / static_cast<double>(st.total) : 0.0, time_ms);
        break;
      case metrics::MetricType::kTrend: {
        double scale = unit_scale(def.contains);
        if (cfg.native_histograms) {
          auto* ts = req.add_timeseries();
          add_labels(*ts, native_histogram_name(def.name, def.contains), key.tags);
          set_histogram(*ts->add_histograms(), to_native(st.trend, scale), time_ms);
        } else {
          for (const auto& stat : cfg.trend_stats)
            add_sample(req, trend_stat_name(def.name, stat), key.tags, trend_stat_value(stat, st.trend, scale),
                       time_ms);
        }
        break;
      }
    }
  }
  return req;
}

herd::rw::WriteRequest stale_markers(const herd::rw::WriteRequest& req, std::int64_t time_ms) {
  herd::rw::WriteRequest out;
  const double stale = std::bit_cast<double>(kStaleNaNBits);
  for (const auto& ts : req.timeseries()) {
    auto* o = out.add_timeseries();
    *o->mutable_labels() = ts.labels();
    if (ts.histograms_size() > 0) {
      // A histogram series goes stale with a histogram whose sum is the marker.
      auto* h = o->add_histograms();
      h->set_count_int(0);
      h->set_zero_count_int(0);
      h->set_schema(kNativeSchema);
      h->set_sum(stale);
      h->set_timestamp(time_ms);
    } else {
      auto* s = o->add_samples();
      s->set_value(stale);
      s->set_timestamp(time_ms);
    }
  }
  return out;
}

namespace {

std::string series_key(const herd::rw::TimeSeries& ts) {
  std::string key;
  for (const auto& l : ts.labels()) {
    key += l.name();
    key += '\0';
    key += l.value();
    key += '\0';
  }
  return key;
}

bool is_counter(const herd::rw::TimeSeries& ts) {
  for (const auto& l : ts.labels())
    if (l.name() == "__name__") return l.value().ends_with("_total");
  return false;
}

}  // namespace

std::vector<std::string> ZeroBaselines::add(herd::rw::WriteRequest& req, std::int64_t previous_ms) {
  std::vector<std::string> fresh;
  for (auto& ts : *req.mutable_timeseries()) {
    bool histogram = ts.histograms_size() == 1 && ts.samples_size() == 0;
    bool counter = ts.samples_size() == 1 && ts.histograms_size() == 0 && is_counter(ts);
    if (!histogram && !counter) continue;
    std::string key = series_key(ts);
    if (written_.contains(key)) continue;
    std::int64_t at = zero_at_.emplace(key, previous_ms).first->second;
    if (histogram) {
      if (ts.histograms(0).timestamp() <= at) continue;
      herd::rw::Histogram zero;
      zero.set_count_int(0);
      zero.set_zero_count_int(0);
      zero.set_sum(0);
      zero.set_schema(ts.histograms(0).schema());
      zero.set_zero_threshold(ts.histograms(0).zero_threshold());
      zero.set_timestamp(at);
      *ts.add_histograms() = std::move(zero);
      ts.mutable_histograms()->SwapElements(0, 1);
    } else {
      if (ts.samples(0).timestamp() <= at) continue;
      auto* s = ts.add_samples();
      s->set_value(0);
      s->set_timestamp(at);
      ts.mutable_samples()->SwapElements(0, 1);
    }
    fresh.push_back(std::move(key));
  }
  return fresh;
}

void ZeroBaselines::written(const std::vector<std::string>& series) {
  for (const auto& key : series) {
    zero_at_.erase(key);
    written_.insert(key);
  }
}

std::uint64_t sample_count(const herd::rw::WriteRequest& req) {
  std::uint64_t n = 0;
  for (const auto& ts : req.timeseries())
    n += static_cast<std::uint64_t>(ts.samples_size()) + static_cast<std::uint64_t>(ts.histograms_size());
  return n;
}

std::string encode(const herd::rw::WriteRequest& req) {
  std::string raw = req.SerializeAsString();
  std::string out(snappy_max_compressed_length(raw.size()), '\0');
  std::size_t len = out.size();
  if (snappy_compress(raw.data(), raw.size(), out.data(), &len) != SNAPPY_OK)
    throw std::runtime_error("snappy compression failed");
  out.resize(len);
  return out;
}

herd::rw::WriteRequest decode(std::string_view body) {
  std::size_t len = 0;
  if (snappy_uncompressed_length(body.data(), body.size(), &len) != SNAPPY_OK || len > (256u << 20))
    throw std::invalid_argument("not a snappy block");
  std::string raw(len, '\0');
  if (snappy_uncompress(body.data(), body.size(), raw.data(), &len) != SNAPPY_OK)
    throw std::invalid_argument("not a snappy block");
  raw.resize(len);
  herd::rw::WriteRequest req;
  if (!req.ParseFromString(raw)) throw std::invalid_argument("not a WriteRequest");
  return req;
}

}  // namespace herd::exporter
