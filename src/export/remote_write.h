#pragma once
// --out experimental-prometheus-rw: its settings (k6's K6_PROMETHEUS_RW_*
// variables), the conversion of a metrics::Snapshot into remote-write time
// series (names: export/prom_names.h; trends: stats or native histograms,
// export/native_histogram.h) and the request body (protobuf, snappy block
// compression). The pushing thread is export/rw_output.h.

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "export/prom_names.h"
#include "metrics/sink.h"
#include "metrics/threshold.h"
#include "remote_write.pb.h"

namespace herd::exporter {

/// The output's name in --out.
inline constexpr std::string_view kRemoteWriteOutput = "experimental-prometheus-rw";

struct RemoteWriteConfig {
  std::string url = "http://127.0.0.1:9090/api/v1/write";  ///< K6_PROMETHEUS_RW_SERVER_URL (loopback by default)
  std::chrono::milliseconds push_interval{5000};           ///< K6_PROMETHEUS_RW_PUSH_INTERVAL, > 0
  std::chrono::milliseconds timeout{5000};                 ///< one push (k6's fixed 5 s)
  std::vector<TrendStat> trend_stats;  ///< K6_PROMETHEUS_RW_TREND_STATS (default p(99)); unused with native histograms
  bool native_histograms = false;      ///< _TREND_AS_NATIVE_HISTOGRAM or K6_FEATURES=native-histograms
  bool basic_auth = false;             ///< _USERNAME was set
  std::string username, password;      ///< _USERNAME, _PASSWORD
  std::vector<std::pair<std::string, std::string>> headers;  ///< _HEADERS_<NAME>=value, _HTTP_HEADERS=k:v,k:v
  bool insecure_skip_tls_verify = false;                     ///< _INSECURE_SKIP_TLS_VERIFY
  bool stale_markers = false;                                ///< _STALE_MARKERS: at the end, mark every series stale
  /// Labels of the threshold verdict series besides `metric` and `threshold`:
  /// the run's tags (options.tags / --tag, e.g. testid), set by whoever opens the output.
  std::vector<std::pair<std::string, std::string>> run_tags;
};

/// The series of a threshold verdict: 1 while it passes, 0 once crossed
/// (labels `metric`: the selector as written, `threshold`: the expression, and
/// the run's tags). herd's own name: k6's outputs export no verdicts.
inline constexpr std::string_view kThresholdSeries = "herd_threshold_passed";

/// Reads every K6_PROMETHEUS_RW_* variable of `environ` (and K6_FEATURES)
/// over the defaults. Throws std::invalid_argument naming the variable for a
/// bad value or for a K6_PROMETHEUS_RW_* variable herd does not implement.
RemoteWriteConfig remote_write_config(const std::map<std::string, std::string>& environ);

/// Every series of `snap` as remote-write time series at `time_ms` (unix
/// milliseconds), labels sorted by name with "__name__" among them.
/// Counters, rates (passes / total) and gauges give one sample each; trends
/// give one gauge per trend stat, or one native histogram.
/// With `verdicts`, one kThresholdSeries sample per threshold as well; the
/// snapshot's generators as herd_generator_* gauges (export/generator_series.h,
/// with the run's tags).
herd::rw::WriteRequest to_write_request(const metrics::Snapshot& snap, const RemoteWriteConfig& cfg,
                                        std::int64_t time_ms,
                                        const std::vector<metrics::ThresholdResult>* verdicts = nullptr);

/// The same series as `req` with one staleness marker each at `time_ms`.
herd::rw::WriteRequest stale_markers(const herd::rw::WriteRequest& req, std::int64_t time_ms);

/// Zero samples before the first sample of each counter (`*_total`) and
/// native-histogram series, so that rate()/increase() over a whole run count
/// the first push interval too (without one, a series' first sample is only
/// its baseline and everything observed before it is lost to those functions;
/// measured: a dashboard's whole-run p95 22 % off). The zero goes at the time
/// of the push before the one that first carried the series (the output's
/// start for the first push): the series was zero then. A series keeps
/// getting its zero until a push carrying it is accepted.
class ZeroBaselines {
 public:
  /// Adds the zeros to `req` (each before the series' sample); `previous_ms`:
  /// the time of the push before this one. Returns the series that got one.
  std::vector<std::string> add(herd::rw::WriteRequest& req, std::int64_t previous_ms);
  /// A push carrying `series` (from add) was accepted.
  void written(const std::vector<std::string>& series);

 private:
  std::set<std::string> written_;
  std::map<std::string, std::int64_t> zero_at_;  ///< seen, not yet written: when it was zero
};

/// Samples and histograms in `req` (what a failed push drops).
std::uint64_t sample_count(const herd::rw::WriteRequest& req);

/// The HTTP body: `req` serialised, snappy block compressed.
std::string encode(const herd::rw::WriteRequest& req);
/// Inverse of encode (for tests); throws std::invalid_argument on bad input.
herd::rw::WriteRequest decode(std::string_view body);

/// Prometheus's staleness marker: a NaN with this bit pattern.
inline constexpr std::uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;

}  // namespace herd::exporter
