#include "export/prom_names.h"

#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace herd::exporter {

namespace {

std::string k6_name(std::string_view metric, std::string_view suffix) {
  std::string s = "k6_";
  s += metric;
  if (!suffix.empty()) {
    s += '_';
    s += suffix;
  }
  return s;
}

}  // namespace

std::string counter_name(std::string_view metric) {
  return k6_name(metric, "total");
}

std::string gauge_name(std::string_view metric) {
  return k6_name(metric, "");
}

std::string rate_name(std::string_view metric) {
  return k6_name(metric, "rate");
}

std::string native_histogram_name(std::string_view metric, metrics::ValueType contains) {
  switch (contains) {
    case metrics::ValueType::kTime:
      return k6_name(metric, "seconds");
    case metrics::ValueType::kData:
      return k6_name(metric, "bytes");
    case metrics::ValueType::kDefault:
      break;
  }
  return k6_name(metric, "");
}

double unit_scale(metrics::ValueType contains) {
  return contains == metrics::ValueType::kTime ? 1e-3 : 1.0;
}

TrendStat parse_trend_stat(std::string_view text) {
  using K = TrendStat::Kind;
  TrendStat st;
  st.suffix = std::string(text);
  if (text == "avg")
    st.kind = K::kAvg;
  else if (text == "min")
    st.kind = K::kMin;
  else if (text == "max")
    st.kind = K::kMax;
  else if (text == "med")
    st.kind = K::kMed;
  else if (text == "count")
    st.kind = K::kCount;
  else if (text == "sum")
    st.kind = K::kSum;
  else {
    bool ok = text.size() > 3 && text.substr(0, 2) == "p(" && text.back() == ')';
    std::string num = ok ? std::string(text.substr(2, text.size() - 3)) : "";
    char* end = nullptr;
    double p = ok && !num.empty() ? std::strtod(num.c_str(), &end) : 0;
    ok = ok && !num.empty() && end == num.c_str() + num.size() && std::isfinite(p) && p >= 0 && p <= 100 &&
         num.find_first_not_of("0123456789.") == std::string::npos;
    if (!ok)
      throw std::invalid_argument("unknown trend stat \"" + std::string(text) +
                                  "\" (use avg, min, max, med, count, sum or p(N) with N in [0, 100])");
    st.kind = K::kPercentile;
    st.percentile = p;
    st.suffix = "p";
    for (char c : num)
      if (c != '.') st.suffix += c;
  }
  return st;
}

std::string trend_stat_name(std::string_view metric, const TrendStat& stat) {
  return k6_name(metric, stat.suffix);
}

double trend_stat_value(const TrendStat& stat, const metrics::Histogram& h, double scale) {
  using K = TrendStat::Kind;
  switch (stat.kind) {
    case K::kAvg:
      return h.mean() * scale;
    case K::kMin:
      return h.min() * scale;
    case K::kMax:
      return h.max() * scale;
    case K::kMed:
      return h.percentile(50) * scale;
    case K::kCount:
      return static_cast<double>(h.count());
    case K::kSum:
      return h.sum() * scale;
    case K::kPercentile:
      return h.percentile(stat.percentile) * scale;
  }
  return 0;
}

std::string label_name(std::string_view tag) {
  std::string s;
  if (tag.empty() || (tag[0] >= '0' && tag[0] <= '9')) s += '_';
  for (char c : tag) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    s += ok ? c : '_';
  }
  return s;
}

}  // namespace herd::exporter
