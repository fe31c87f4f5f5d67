#pragma once
// Sample outputs (--out): k6's JSON lines and CSV formats, written to a file,
// a gzip file ("*.gz") or stdout ("-"), and the --out argument parser that
// opens them or refuses an output type herd does not have.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "metrics/output_stream.h"
#include "metrics/sink.h"
#include "metrics/threshold.h"

namespace herd::metrics {

/// A sample stream that can be flushed at the end of the run.
class Output : public SampleObserver {
 public:
  /// Writes what is buffered. Returns "" or the first write error (an output
  /// that failed once stops writing; the run goes on).
  virtual std::string flush() = 0;
};

/// An output writing text to an OutputStream through a buffer held under a
/// mutex: subclasses append to `buf_` under `mu_` and call write_locked().
class BufferedOutput : public Output {
 public:
  std::string flush() override;

 protected:
  explicit BufferedOutput(const std::string& dest) : out_(dest) {}
  /// Writes `buf_` (unless a write already failed), then the stream's own
  /// buffer too if `flush_stream`, and clears `buf_`. Needs `mu_`.
  void write_locked(bool flush_stream = false);
  std::mutex mu_;
  std::string buf_;

 private:
  OutputStream out_;
  std::string error_;  ///< first write error; nothing is written after it
};

/// --out json=DEST: one JSON object per line, k6's shape
/// ({"type":"Metric","data":{...},"metric":name} once per metric, then
/// {"type":"Point","data":{"time":RFC3339,"value":v,"tags":{...}},"metric":name}).
/// Thread-safe; buffered (64 KiB); flush() at the end.
class JsonOutput : public BufferedOutput {
 public:
  /// `dest` as OutputStream takes it. Throws std::runtime_error if it cannot open.
  explicit JsonOutput(const std::string& dest);
  ~JsonOutput() override;
  void observe(const Registry& reg, const Sample& s) override;
  /// Optional: lists these thresholds (and their sub-metrics) in the Metric lines.
  void set_thresholds(const std::vector<MetricThresholds>& ths);

 private:
  std::vector<bool> announced_;
  std::vector<std::string> names_;  ///< JSON-escaped metric names by id
  std::vector<MetricThresholds> thresholds_;
};

/// How the CSV output prints a sample's time (K6_CSV_TIME_FORMAT).
enum class CsvTimeFormat { kUnix, kUnixMilli, kUnixMicro, kUnixNano, kRfc3339, kRfc3339Nano };

/// Settings of the CSV output.
struct CsvConfig {
  CsvTimeFormat time_format = CsvTimeFormat::kUnix;
  std::int64_t save_interval_us = 1'000'000;  ///< buffered rows are written at least this often
  /// One column per tag, in this order (k6: the enabled system tags, sorted);
  /// other tags go to `extra_tags` as k=v&k=v.
  std::vector<std::string> columns;
};

/// Reads K6_CSV_TIME_FORMAT and K6_CSV_SAVE_INTERVAL from `environ` over the
/// defaults; columns are the sorted `system_tags`. Throws std::invalid_argument
/// naming the variable for a bad value.
CsvConfig csv_config(const std::map<std::string, std::string>& environ, const std::vector<std::string>& system_tags);

/// --out csv=DEST: k6's CSV rows: metric_name,timestamp,metric_value, one
/// column per configured tag, extra_tags, metadata. Thread-safe.
class CsvOutput : public BufferedOutput {
 public:
  CsvOutput(const std::string& dest, CsvConfig cfg);  // throws std::runtime_error if it cannot open
  ~CsvOutput() override;
  void observe(const Registry& reg, const Sample& s) override;

 private:
  CsvConfig cfg_;
  std::int64_t last_write_us_ = 0;  ///< sample time of the last write to the stream
};

/// Every --out output of a run, as one observer.
class OutputSet : public SampleObserver {
 public:
  void observe(const Registry& reg, const Sample& s) override;
  /// Flushes each output; returns their errors, each prefixed with its --out value.
  std::vector<std::string> flush();
  bool empty() const { return outputs_.empty(); }

  std::vector<std::pair<std::string, std::shared_ptr<Output>>> outputs_;  ///< (--out value, output)
};

/// An --out value herd cannot honour: unknown type, missing destination,
/// unwritable file. The message names the value.
class OutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Opens every --out value ("json=FILE", "json=-", "json=FILE.gz", "csv=FILE",
/// "csv" with K6_CSV_FILENAME, ...). Any other type (influxdb, statsd, cloud,
/// experimental-prometheus-rw, ...) throws OutputError naming it.
std::shared_ptr<OutputSet> open_outputs(const std::vector<std::string>& specs,
                                        const std::map<std::string, std::string>& environ,
                                        const std::vector<std::string>& system_tags,
                                        const std::vector<MetricThresholds>& thresholds);

}  // namespace herd::metrics
