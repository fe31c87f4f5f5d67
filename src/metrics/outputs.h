#pragma once
// Sample outputs (--out): k6's JSON lines and CSV formats, written to a file,
// a gzip file ("*.gz") or stdout ("-"), and the --out argument parser that
// opens them or refuses an output type herd does not have.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
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
  /// Writes everything, closes the destination (gzip trailer included) and
  /// returns "" or the first write error. Later samples are dropped.
  virtual std::string finish() = 0;
  /// After finish(): a note for the end of the run that is no error (an
  /// InfluxDB output's dropped points), or "".
  virtual std::string end_note() { return ""; }
};

/// An output whose bytes reach its OutputStream on a writer thread of its
/// own: observe() (on event-loop threads) appends text to `buf_` under `mu_`
/// and calls appended_locked(); the writer swaps the buffer out and writes it
/// without the lock. Producers wait only when kMaxPendingBytes are unwritten.
class BufferedOutput : public Output {
 public:
  std::string flush() override;
  std::string finish() override;
  ~BufferedOutput() override;  ///< finishes (errors are dropped: call finish() first)

  static constexpr std::size_t kWriteAtBytes = 1 << 16;       ///< the writer wakes at this many
  static constexpr std::size_t kMaxPendingBytes = 64u << 20;  ///< producers wait above this many

 protected:
  explicit BufferedOutput(const std::string& dest);
  /// After appending to `buf_` with `lk` (on `mu_`) held: wakes the writer
  /// when the buffer is big, or to write and push everything if `push`; waits
  /// while the writer is kMaxPendingBytes behind. Never blocks on I/O itself.
  void appended_locked(std::unique_lock<std::mutex>& lk, bool push = false);
  std::mutex mu_;
  std::string buf_;        ///< text not yet handed to the writer; guarded by mu_
  bool finished_ = false;  ///< finish() was called: observe() drops samples; guarded by mu_

 private:
  void writer_loop();
  OutputStream out_;  ///< touched only by the writer thread
  std::condition_variable wake_writer_;
  std::condition_variable written_;
  std::string spare_;                 ///< the writer's empty buffer, swapped with buf_
  bool write_due_ = false;            ///< buf_ reached kWriteAtBytes
  std::uint64_t push_requested_ = 0;  ///< generation of the latest write+flush request
  std::uint64_t push_done_ = 0;       ///< generation the writer has completed
  bool stop_ = false;
  bool stopped_ = false;  ///< the writer closed the stream and ended
  std::string error_;     ///< first write error; nothing is written after it
  std::thread writer_;    ///< last member: starts when every other one exists
};

/// --out json=DEST: one JSON object per line, k6's shape
/// ({"type":"Metric","data":{...},"metric":name} once per metric, then
/// {"type":"Point","data":{"time":RFC3339,"value":v,"tags":{...}},"metric":name}).
/// Thread-safe; serialises outside its lock; written by its writer thread.
class JsonOutput : public BufferedOutput {
 public:
  /// `dest` as OutputStream takes it. Throws std::runtime_error if it cannot open.
  explicit JsonOutput(const std::string& dest);
  ~JsonOutput() override;
  void observe(const Registry& reg, const Sample& s) override;
  /// Optional: lists these thresholds (and their sub-metrics) in the Metric lines.
  void set_thresholds(const std::vector<MetricThresholds>& ths);

 private:
  std::vector<bool> announced_;     ///< guarded by mu_
  std::vector<std::string> names_;  ///< JSON-escaped metric names by id; guarded by mu_
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
  std::vector<std::string> names_;  ///< CSV-quoted metric names by id ("" = not cached yet); guarded by mu_
  std::int64_t last_write_us_ = 0;  ///< sample time of the last push to the stream; guarded by mu_
};

/// Every --out output of a run, as one observer.
class OutputSet : public SampleObserver {
 public:
  void observe(const Registry& reg, const Sample& s) override;
  /// Flushes each output; returns their errors, each prefixed with its --out value.
  std::vector<std::string> flush();
  /// Finishes each output (everything written, files closed, writer threads
  /// joined); returns their errors, each prefixed with "--out VALUE: ".
  std::vector<std::string> finish();
  /// After finish(): each output's end_note(), prefixed with "--out VALUE: ".
  std::vector<std::string> notes();
  bool empty() const { return outputs_.empty(); }

  std::vector<std::pair<std::string, std::shared_ptr<Output>>> outputs_;  ///< (--out value, output)
};

/// An --out value herd cannot honour: unknown type, missing destination,
/// unwritable file. The message names the value.
class OutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What an output may need to know about the run beyond its --out value.
struct OutputContext {
  /// This process runs one part of a distributed test: its execution segment
  /// ("1/3:2/3"); InfluxDB points get it as tag `instance`. "" = a whole test.
  std::string instance;
  /// Warnings during the run (a failing InfluxDB); thread-safe. Null: stderr.
  std::function<void(const std::string&)> warn;
};

/// Opens every --out value ("json=FILE", "json=-", "json=FILE.gz", "csv=FILE",
/// "csv" with K6_CSV_FILENAME, "influxdb=URL", "influxdb" with
/// K6_INFLUXDB_ADDR). Any other type (statsd, cloud, ...) or a bad setting
/// throws OutputError naming it.
std::shared_ptr<OutputSet> open_outputs(const std::vector<std::string>& specs,
                                        const std::map<std::string, std::string>& environ,
                                        const std::vector<std::string>& system_tags,
                                        const std::vector<MetricThresholds>& thresholds,
                                        const OutputContext& context = {});

}  // namespace herd::metrics
