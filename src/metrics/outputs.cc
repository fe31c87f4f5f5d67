#include "metrics/outputs.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "metrics/influxdb_output.h"
#include "util/duration.h"

namespace herd::metrics {

namespace {

void append_escaped(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void append_double(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, p);
}

// RFC 3339 local time with microseconds, e.g. 2024-05-01T12:00:00.123456+02:00.
void append_time(std::string& out, std::int64_t time_us) {
  thread_local std::int64_t cached_sec = INT64_MIN;
  thread_local char prefix[32];
  thread_local char zone[8];
  std::int64_t sec = time_us >= 0 ? time_us / 1000000 : -((-time_us + 999999) / 1000000);
  std::int64_t frac = time_us - sec * 1000000;
  if (sec != cached_sec) {
    std::time_t t = static_cast<std::time_t>(sec);
    std::tm tm{};
    localtime_r(&t, &tm);
    std::strftime(prefix, sizeof prefix, "%Y-%m-%dT%H:%M:%S", &tm);
    long off = tm.tm_gmtoff;
    if (off == 0) {
      std::snprintf(zone, sizeof zone, "Z");
    } else {
      char sign = off < 0 ? '-' : '+';
      off = off < 0 ? -off : off;
      std::snprintf(zone, sizeof zone, "%c%02ld:%02ld", sign, (off / 3600) % 100, (off % 3600) / 60);
    }
    cached_sec = sec;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s.%06lld%s", prefix, static_cast<long long>(frac), zone);
  out += '"';
  out += buf;
  out += '"';
}

}  // namespace

// ---------------------------------------------------------------- BufferedOutput

BufferedOutput::BufferedOutput(const std::string& dest) : out_(dest), writer_([this] { writer_loop(); }) {}

BufferedOutput::~BufferedOutput() {
  finish();
}

void BufferedOutput::appended_locked(std::unique_lock<std::mutex>& lk, bool push) {
  if (push) {
    ++push_requested_;
    wake_writer_.notify_one();
  } else if (buf_.size() >= kWriteAtBytes && !write_due_) {
    write_due_ = true;
    wake_writer_.notify_one();
  }
  if (buf_.size() >= kMaxPendingBytes) written_.wait(lk, [this] { return buf_.size() < kMaxPendingBytes || stopped_; });
}

void BufferedOutput::writer_loop() {
  std::unique_lock lk(mu_);
  for (;;) {
    wake_writer_.wait(lk, [this] { return stop_ || write_due_ || push_requested_ > push_done_; });
    bool stopping = stop_;
    std::uint64_t push = push_requested_;
    bool failed = !error_.empty();
    std::string text;
    text.swap(spare_);
    text.swap(buf_);
    write_due_ = false;
    lk.unlock();
    written_.notify_all();  // room in buf_ again
    std::string err;
    if (!failed) {
      try {
        out_.write(text);
        if (stopping) {
          out_.close();
        } else if (push > push_done_) {
          out_.flush();
        }
      } catch (const std::exception& e) {
        err = e.what();
      }
    }
    text.clear();
    lk.lock();
    spare_.swap(text);
    if (error_.empty()) error_ = err;
    push_done_ = push;
    if (stopping) stopped_ = true;
    written_.notify_all();
    if (stopping) return;
  }
}

std::string BufferedOutput::flush() {
  std::unique_lock lk(mu_);
  if (stopped_) return error_;
  std::uint64_t gen = ++push_requested_;
  wake_writer_.notify_one();
  written_.wait(lk, [&] { return push_done_ >= gen || stopped_; });
  return error_;
}

std::string BufferedOutput::finish() {
  {
    std::unique_lock lk(mu_);
    finished_ = true;
    stop_ = true;
    wake_writer_.notify_one();
  }
  if (writer_.joinable()) writer_.join();
  std::lock_guard lk(mu_);
  return error_;
}

// ---------------------------------------------------------------- JsonOutput

JsonOutput::JsonOutput(const std::string& dest) : BufferedOutput(dest) {
  buf_.reserve(1 << 16);
}

JsonOutput::~JsonOutput() = default;

void JsonOutput::set_thresholds(const std::vector<MetricThresholds>& ths) {
  std::lock_guard lk(mu_);
  thresholds_ = ths;
}

void JsonOutput::observe(const Registry& reg, const Sample& s) {
  // The Point line up to its metric name, built outside the lock.
  thread_local std::string point;
  point.clear();
  point += R"({"type":"Point","data":{"time":)";
  append_time(point, s.time_us);
  point += R"(,"value":)";
  append_double(point, s.value);
  point += R"(,"tags":{)";
  if (s.tags) {
    bool first = true;
    for (const auto& [k, v] : s.tags->items()) {
      if (!first) point += ',';
      first = false;
      append_escaped(point, k);
      point += ':';
      append_escaped(point, v);
    }
  }
  point += R"(}},"metric":)";
  std::unique_lock lk(mu_);
  if (finished_) return;
  if (s.metric >= names_.size()) {
    names_.resize(s.metric + 1);
    announced_.resize(s.metric + 1, false);
  }
  if (!announced_[s.metric]) {
    MetricDef d = reg.def(s.metric);
    std::string name;
    append_escaped(name, d.name);
    names_[s.metric] = name;
    buf_ += R"({"type":"Metric","data":{"name":)";
    buf_ += name;
    buf_ += R"(,"type":")";
    buf_ += to_string(d.type);
    buf_ += R"(","contains":")";
    buf_ += to_string(d.contains);
    buf_ += R"(","thresholds":[)";
    bool first = true;
    std::string subs;
    for (const auto& mt : thresholds_) {
      if (mt.selector.metric != d.name) continue;
      if (mt.selector.filter.empty()) {
        for (const auto& t : mt.thresholds) {
          if (!first) buf_ += ',';
          first = false;
          append_escaped(buf_, t.expr.source);
        }
      } else {
        if (!subs.empty()) subs += ',';
        subs += R"({"name":)";
        append_escaped(subs, mt.selector.source);
        std::size_t b = mt.selector.source.find('{');
        std::string suffix = b == std::string::npos ? "" : mt.selector.source.substr(b + 1);
        if (!suffix.empty() && suffix.back() == '}') suffix.pop_back();
        subs += R"(,"suffix":)";
        append_escaped(subs, suffix);
        subs += R"(,"tags":{)";
        bool f2 = true;
        for (const auto& [k, v] : mt.selector.filter.items()) {
          if (!f2) subs += ',';
          f2 = false;
          append_escaped(subs, k);
          subs += ':';
          append_escaped(subs, v);
        }
        subs += "}}";
      }
    }
    buf_ += R"(],"submetrics":)";
    buf_ += subs.empty() ? std::string("null") : "[" + subs + "]";
    buf_ += R"(},"metric":)";
    buf_ += name;
    buf_ += "}\n";
    announced_[s.metric] = true;
  }
  buf_ += point;
  buf_ += names_[s.metric];
  buf_ += "}\n";
  appended_locked(lk);
}

// ---------------------------------------------------------------- CsvOutput

namespace {

// RFC 3339 in local time; `frac` adds the fraction without trailing zeros (Go's RFC3339Nano).
std::string rfc3339(std::int64_t time_us, bool frac) {
  std::int64_t sec = time_us >= 0 ? time_us / 1000000 : -((-time_us + 999999) / 1000000);
  std::int64_t us = time_us - sec * 1000000;
  std::time_t t = static_cast<std::time_t>(sec);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (frac && us != 0) {
    char f[16];
    std::snprintf(f, sizeof f, ".%06lld", static_cast<long long>(us));
    std::string fs = f;
    while (fs.back() == '0') fs.pop_back();
    out += fs;
  }
  long off = tm.tm_gmtoff;
  if (off == 0) {
    out += 'Z';
  } else {
    char sign = off < 0 ? '-' : '+';
    off = off < 0 ? -off : off;
    std::snprintf(buf, sizeof buf, "%c%02ld:%02ld", sign, (off / 3600) % 100, (off % 3600) / 60);
    out += buf;
  }
  return out;
}

// One CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
void append_csv_field(std::string& out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(v);
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace

CsvConfig csv_config(const std::map<std::string, std::string>& environ, const std::vector<std::string>& system_tags) {
  CsvConfig c;
  auto get = [&](const char* name) -> const std::string* {
    auto it = environ.find(name);
    return it == environ.end() || it->second.empty() ? nullptr : &it->second;
  };
  if (const std::string* v = get("K6_CSV_TIME_FORMAT")) {
    static const std::pair<const char*, CsvTimeFormat> kFormats[] = {
        {"unix", CsvTimeFormat::kUnix},
        {"unix_milli", CsvTimeFormat::kUnixMilli},
        {"unix_micro", CsvTimeFormat::kUnixMicro},
        {"unix_nano", CsvTimeFormat::kUnixNano},
        {"rfc3339", CsvTimeFormat::kRfc3339},
        {"rfc3339_nano", CsvTimeFormat::kRfc3339Nano},
    };
    auto it = std::find_if(std::begin(kFormats), std::end(kFormats), [&](const auto& f) { return *v == f.first; });
    if (it == std::end(kFormats)) {
      throw std::invalid_argument("K6_CSV_TIME_FORMAT: unknown time format \"" + *v +
                                  "\" (expected unix, unix_milli, unix_micro, unix_nano, rfc3339 or rfc3339_nano)");
    }
    c.time_format = it->second;
  }
  if (const std::string* v = get("K6_CSV_SAVE_INTERVAL")) {
    try {
      c.save_interval_us = util::parse_duration(*v).count();
    } catch (const std::exception& e) {
      throw std::invalid_argument(std::string("K6_CSV_SAVE_INTERVAL: ") + e.what());
    }
    if (c.save_interval_us <= 0) throw std::invalid_argument("K6_CSV_SAVE_INTERVAL: must be greater than 0");
  }
  c.columns = system_tags;
  std::sort(c.columns.begin(), c.columns.end());
  c.columns.erase(std::unique(c.columns.begin(), c.columns.end()), c.columns.end());
  return c;
}

CsvOutput::CsvOutput(const std::string& dest, CsvConfig cfg) : BufferedOutput(dest), cfg_(std::move(cfg)) {
  std::lock_guard lk(mu_);
  buf_ = "metric_name,timestamp,metric_value";
  for (const auto& col : cfg_.columns) {
    buf_ += ',';
    append_csv_field(buf_, col);
  }
  buf_ += ",extra_tags,metadata\n";
}

CsvOutput::~CsvOutput() = default;

void CsvOutput::observe(const Registry& reg, const Sample& s) {
  // The row after its metric name, built outside the lock.
  thread_local std::string row;
  row.clear();
  row += ',';
  std::int64_t t = s.time_us;
  std::int64_t sec = t >= 0 ? t / 1000000 : -((-t + 999999) / 1000000);
  switch (cfg_.time_format) {
    case CsvTimeFormat::kUnix:
      row += std::to_string(sec);
      break;
    case CsvTimeFormat::kUnixMilli:
      row += std::to_string(t / 1000);
      break;
    case CsvTimeFormat::kUnixMicro:
      row += std::to_string(t);
      break;
    case CsvTimeFormat::kUnixNano:
      row += std::to_string(t * 1000);
      break;
    case CsvTimeFormat::kRfc3339:
      row += rfc3339(t, false);
      break;
    case CsvTimeFormat::kRfc3339Nano:
      row += rfc3339(t, true);
      break;
  }
  char val[64];
  std::snprintf(val, sizeof val, ",%f", s.value);
  row += val;
  std::string extra;
  for (const auto& col : cfg_.columns) {
    row += ',';
    if (const std::string* v = s.tags ? s.tags->get(col) : nullptr) append_csv_field(row, *v);
  }
  if (s.tags) {
    for (const auto& [k, v] : s.tags->items()) {
      if (std::binary_search(cfg_.columns.begin(), cfg_.columns.end(), k)) continue;
      if (!extra.empty()) extra += '&';
      extra += k;
      extra += '=';
      extra += v;
    }
  }
  row += ',';
  append_csv_field(row, extra);
  row += ",\n";  // metadata: herd attaches none
  std::unique_lock lk(mu_);
  if (finished_) return;
  if (s.metric >= names_.size()) names_.resize(s.metric + 1);
  if (names_[s.metric].empty()) append_csv_field(names_[s.metric], reg.def(s.metric).name);  // once per metric
  buf_ += names_[s.metric];
  buf_ += row;
  if (last_write_us_ == 0) last_write_us_ = s.time_us;
  bool push = s.time_us - last_write_us_ >= cfg_.save_interval_us;
  if (push) last_write_us_ = s.time_us;
  appended_locked(lk, push);
}

// ---------------------------------------------------------------- OutputSet

void OutputSet::observe(const Registry& reg, const Sample& s) {
  for (auto& [spec, out] : outputs_) out->observe(reg, s);
}

std::vector<std::string> OutputSet::finish() {
  std::vector<std::string> errors;
  for (auto& [spec, out] : outputs_) {
    std::string err = out->finish();
    if (!err.empty()) errors.push_back("--out " + spec + ": " + err);
  }
  return errors;
}

std::vector<std::string> OutputSet::notes() {
  std::vector<std::string> notes;
  for (auto& [spec, out] : outputs_)
    if (std::string n = out->end_note(); !n.empty()) notes.push_back("--out " + spec + ": " + n);
  return notes;
}

std::vector<std::string> OutputSet::flush() {
  std::vector<std::string> errors;
  for (auto& [spec, out] : outputs_) {
    std::string err = out->flush();
    if (!err.empty()) errors.push_back("--out " + spec + ": " + err);
  }
  return errors;
}

std::shared_ptr<OutputSet> open_outputs(const std::vector<std::string>& specs,
                                        const std::map<std::string, std::string>& environ,
                                        const std::vector<std::string>& system_tags,
                                        const std::vector<MetricThresholds>& thresholds, const OutputContext& context) {
  auto set = std::make_shared<OutputSet>();
  for (const auto& spec : specs) {
    std::string kind = spec, dest;
    bool has_dest = false;
    if (auto eq = spec.find('='); eq != std::string::npos) {
      kind = spec.substr(0, eq);
      dest = spec.substr(eq + 1);
      has_dest = true;
    }
    try {
      if (kind == "json") {
        if (dest.empty()) throw OutputError("needs a destination: --out json=results.json (or json=- for stdout)");
        auto out = std::make_shared<JsonOutput>(dest);
        out->set_thresholds(thresholds);
        set->outputs_.emplace_back(spec, out);
      } else if (kind == "csv") {
        CsvConfig cfg;
        try {
          cfg = csv_config(environ, system_tags);
        } catch (const std::invalid_argument& e) {
          throw OutputError(e.what());
        }
        if (!has_dest) {
          auto it = environ.find("K6_CSV_FILENAME");
          dest = it != environ.end() && !it->second.empty() ? it->second : "file.csv";
        }
        if (dest.empty()) throw OutputError("needs a destination: --out csv=results.csv");
        set->outputs_.emplace_back(spec, std::make_shared<CsvOutput>(dest, std::move(cfg)));
      } else if (kind == "influxdb") {
        InfluxConfig cfg;
        try {
          cfg = influx_config(has_dest ? std::optional<std::string>(dest) : std::nullopt, environ);
        } catch (const std::invalid_argument& e) {
          throw OutputError(e.what());
        }
        cfg.instance = context.instance;
        set->outputs_.emplace_back(spec, std::make_shared<InfluxDbOutput>(std::move(cfg), context.warn));
      } else {
        throw OutputError("unknown output type \"" + kind +
                          "\" (herd supports json, csv, influxdb and experimental-prometheus-rw)");
      }
    } catch (const std::runtime_error& e) {
      throw OutputError("--out " + spec + ": " + e.what());
    }
  }
  return set;
}

}  // namespace herd::metrics
