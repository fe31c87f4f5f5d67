#pragma once
// --out influxdb: k6's InfluxDB v1 output. One line-protocol point per
// sample, batched and POSTed to /write every push interval from threads of
// its own; a failing server (refused, HTTP errors, slow) costs points, never
// the test. Configured like k6: the --out URL over K6_INFLUXDB_* over defaults.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "metrics/outputs.h"

namespace herd::metrics {

/// The type a tag's value gets when K6_INFLUXDB_TAGS_AS_FIELDS makes it a
/// field ("vu:int"); a value that does not convert is written as a string.
enum class InfluxFieldKind { kString, kInt, kFloat, kBool };

struct InfluxTagField {
  std::string tag;
  InfluxFieldKind kind = InfluxFieldKind::kString;
};

/// Settings of the InfluxDB output, after defaults, environment and URL.
struct InfluxConfig {
  std::string addr = "http://localhost:8086";  ///< scheme://host[:port][/path prefix], no trailing '/'
  std::string db = "k6";                       ///< never empty
  std::optional<std::string> username;         ///< HTTP basic auth when set
  std::string password;
  std::string proxy;      ///< K6_INFLUXDB_PROXY; "" = libcurl's default (the *_proxy variables)
  bool insecure = false;  ///< skip TLS certificate and host checks
  std::chrono::microseconds push_interval{1'000'000};  ///< > 0
  int concurrent_writes = 4;                           ///< writes in flight at most; > 0
  std::string precision = "ns";                        ///< the /write precision: ns, u, ms, s, m or h
  std::string retention;                               ///< the /write rp parameter ("" = the database's default)
  std::string consistency;                             ///< any, one, quorum, all or ""
  std::vector<InfluxTagField> tags_as_fields = {{"vu"}, {"iter"}, {"url"}};
  /// Added as tag `instance` to every point unless the sample has one (a
  /// runner of a distributed test: its execution segment). "" = none.
  std::string instance;
  std::chrono::milliseconds request_timeout{10'000};  ///< one write (or CREATE DATABASE) at most
  std::chrono::milliseconds finish_timeout{10'000};   ///< finish() waits this long for the last writes
};

/// The configuration for `--out influxdb[=url]`: k6's defaults, then the
/// K6_INFLUXDB_* variables of `environ` (empty = unset), then the URL
/// (scheme://[user:pass@]host[:port][/prefix]/db?query, query keys as k6's:
/// insecure, precision, retention, consistency, pushInterval,
/// concurrentWrites, tagsAsFields). Throws std::invalid_argument naming the
/// variable or URL part for a bad or unsupported value (udp://, PAYLOAD_SIZE,
/// the InfluxDB v2 variables of xk6-output-influxdb).
InfluxConfig influx_config(const std::optional<std::string>& url, const std::map<std::string, std::string>& environ);

/// Line protocol escaping (InfluxDB v1): a measurement escapes ',' and ' ';
/// tag keys, tag values and field keys also '='. A newline, which nothing
/// can carry there, becomes a backslash and an 'n'. InfluxDB reads a
/// backslash as escaping the byte after it: a run of backslashes before an
/// escaped byte gets one more when odd (stored with that one more), and
/// trailing backslashes, which InfluxDB rejects, are dropped.
void append_influx_measurement(std::string& out, std::string_view s);
void append_influx_key(std::string& out, std::string_view s);
/// False when append_influx_key() would write nothing (empty, or backslashes only).
bool influx_key_writable(std::string_view s);
/// A string field value: quoted, with '"' and '\' escaped.
void append_influx_string(std::string& out, std::string_view s);

/// --out influxdb. observe() (event-loop threads) formats the point outside
/// the lock and appends it under a short one; a flusher thread hands the
/// buffer to one of `concurrent_writes` sender threads (each with its own
/// libcurl handle) every push interval. Producers never wait: past
/// kMaxPendingBytes unwritten, points are dropped and counted.
class InfluxDbOutput : public Output {
 public:
  /// Starts the threads (the first CREATE DATABASE runs on them, off the
  /// test's path). `warn` receives run-time problems (thread-safe; null: stderr).
  InfluxDbOutput(InfluxConfig cfg, std::function<void(const std::string&)> warn);
  ~InfluxDbOutput() override;
  InfluxDbOutput(const InfluxDbOutput&) = delete;
  InfluxDbOutput& operator=(const InfluxDbOutput&) = delete;

  void observe(const Registry& reg, const Sample& s) override;
  /// Sends what is buffered and waits (at most finish_timeout) until every
  /// write so far has succeeded or failed. Always "": failures are counted.
  std::string flush() override;
  /// Sends the rest, waits at most finish_timeout, then abandons what is
  /// left (counted as dropped). Always "": a failing server never fails a run.
  std::string finish() override;
  /// After finish(): "" when every point was written, else how many were dropped and why.
  std::string end_note() override;

  struct Counts {
    std::uint64_t points = 0;   ///< observed
    std::uint64_t written = 0;  ///< in writes the server accepted
    std::uint64_t dropped = 0;  ///< lost: failed writes, buffer full, not finite, abandoned at the end
    std::uint64_t failed_writes = 0;
  };
  Counts counts() const;

  static constexpr std::size_t kMaxPendingBytes = 64u << 20;
  /// The largest body of one write: a push interval's points go in several
  /// writes of at most this many bytes (influxd refuses bodies over its
  /// max-body-size, 25 MB by default, with HTTP 413), and the flusher wakes
  /// early when this many are waiting.
  static constexpr std::size_t kMaxWriteBytes = 4u << 20;

 private:
  struct Batch {
    std::string text;
    std::uint64_t points = 0;
  };
  void flusher_loop();
  void sender_loop();
  void set_common_options(void* easy);  ///< a CURL*
  void create_database();
  /// POSTs one batch; "" or the error.
  std::string post_write(void* easy, const Batch& b);
  void failed(const std::string& err, std::uint64_t points);

  const InfluxConfig cfg_;
  const std::function<void(const std::string&)> warn_;
  std::string write_url_;
  std::atomic<std::uint64_t> seq_{0};  ///< spreads points of one microsecond over its nanoseconds
  std::atomic<bool> abort_{false};     ///< finish timed out: in-flight writes stop

  mutable std::mutex mu_;
  std::condition_variable flusher_cv_;  ///< stop_ or push_now_
  std::condition_variable sender_cv_;   ///< a batch queued, or producing_done_
  std::condition_variable idle_cv_;     ///< a write ended
  std::vector<std::string> names_;      ///< escaped measurement names by metric id; guarded by mu_
  std::string buf_;                     ///< points not yet batched; guarded by mu_
  std::uint64_t buf_points_ = 0;
  std::deque<Batch> queue_;        ///< batches waiting for a sender
  std::size_t pending_bytes_ = 0;  ///< buf_ + queue_ + in flight
  int in_flight_ = 0;
  std::uint64_t push_requested_ = 0;  ///< flush(): generation asked of the flusher
  std::uint64_t push_done_ = 0;
  bool stop_ = false;
  bool write_due_ = false;       ///< buf_ reached kMaxWriteBytes: the flusher batches it now; guarded by mu_
  bool producing_done_ = false;  ///< the flusher queued its last batch
  bool finished_ = false;
  bool created_ = false;  ///< CREATE DATABASE was tried; senders wait for it
  Counts counts_;
  std::string last_error_;
  std::chrono::steady_clock::time_point last_warn_{};
  std::uint64_t dropped_at_last_warn_ = 0;

  std::vector<std::thread> senders_;
  std::thread flusher_;  ///< last: starts when every other member exists
};

}  // namespace herd::metrics
