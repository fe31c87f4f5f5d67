#include "coord/result.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>

#include "metrics/generator_health.h"

namespace herd::coord {

using json = nlohmann::json;

namespace {

std::string dump_line(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// Largest n <= want that does not split a UTF-8 sequence of `s`.
std::size_t utf8_boundary(const std::string& s, std::size_t want) {
  if (want >= s.size()) return s.size();
  while (want > 0 && (static_cast<unsigned char>(s[want]) & 0xC0) == 0x80) --want;
  return want;
}

}  // namespace

std::string result_name(int exit_code) {
  switch (exit_code) {
    case 0:
      return "passed";
    case 99:
    case 110:  // exec.test.fail()
      return "failed";
    case 103:
    case 105:
    case 108:
      return "aborted";
    default:
      return "error";
  }
}

json headline_metrics(const metrics::Snapshot& merged, std::chrono::milliseconds duration) {
  auto agg = [&](const char* name) -> std::optional<metrics::SeriesState> {
    auto id = merged.find(name);
    if (!id) return std::nullopt;
    return merged.aggregate(*id);
  };
  auto count = [&](const char* name) -> std::int64_t {
    auto a = agg(name);
    return a ? static_cast<std::int64_t>(a->sum) : 0;
  };
  auto rate = [&](const char* name) -> double {
    auto a = agg(name);
    return a && a->total ? static_cast<double>(a->passes) / static_cast<double>(a->total) : 0.0;
  };
  json m;
  m["iterations"] = count("iterations");
  m["requests"] = count("http_reqs");
  m["failureRate"] = rate("http_req_failed");
  m["checksRate"] = rate("checks");
  auto d = agg("http_req_duration");
  bool has_d = d && d->trend.count() > 0;
  m["avgMs"] = has_d ? d->trend.mean() : 0.0;
  m["p95Ms"] = has_d ? d->trend.percentile(95) : 0.0;
  m["p99Ms"] = has_d ? d->trend.percentile(99) : 0.0;
  auto vmax = agg("vus_max");
  m["vusMax"] = vmax && vmax->last_time_us >= 0 ? static_cast<std::int64_t>(std::max(vmax->gmax, vmax->last)) : 0;
  m["dataSentBytes"] = count("data_sent");
  m["dataReceivedBytes"] = count("data_received");
  m["durationMs"] = static_cast<std::int64_t>(duration.count());
  return m;
}

json build_result(const ResultInput& in) {
  json r;
  r["exitCode"] = in.exit_code;
  r["result"] = result_name(in.exit_code);
  r["partial"] = in.partial;
  r["message"] = in.message;
  json ths = json::array();
  for (const auto& t : in.thresholds) ths.push_back({{"metric", t.selector}, {"expression", t.source}, {"ok", t.ok}});
  r["thresholds"] = std::move(ths);
  r["metrics"] = headline_metrics(in.merged ? *in.merged : metrics::Snapshot(), in.duration);
  r["start"] = in.start;
  json gens = json::array();  // generator health per runner (docs/generator-health.md)
  if (in.merged)
    for (const auto& g : in.merged->generators)
      gens.push_back({{"name", g.name},
                      {"cpuAvg", std::round(g.cpu_avg * 1000) / 1000},
                      {"cpuMax", std::round(g.cpu_max * 1000) / 1000},
                      {"lagP99Ms", std::round(g.lag_p99_ms * 1000) / 1000},
                      {"unhealthySeconds", g.unhealthy_s},
                      {"saturated", metrics::generator_saturated(g)}});
  r["generators"] = std::move(gens);
  r["text"] = in.text;
  r["data"] = in.data;
  return r;
}

json start_info(std::size_t runners, double skew_ms) {
  return {{"runners", runners}, {"skewMs", std::round(std::max(0.0, skew_ms) * 1000.0) / 1000.0}};
}

std::string start_note(const json& start) {
  if (!start.is_object() || !start.contains("skewMs") || !start["skewMs"].is_number() || !start.contains("runners") ||
      !start["runners"].is_number_unsigned())
    return "";
  auto n = start["runners"].get<std::size_t>();
  return "start skew: " + metrics::format_duration_ms(start["skewMs"].get<double>()) + " across " + std::to_string(n) +
         (n == 1 ? " runner" : " runners");
}

std::string clock_note(const json& start) {
  // "start at T": the skew is on the runners' own clocks; their estimated offset from the coordinator's.
  if (!start.is_object() || start.value("method", "") != "start-at" || !start.contains("clockOffsetMaxMs") ||
      !start["clockOffsetMaxMs"].is_number())
    return "";
  return "started at an agreed instant; runner clock offsets up to " +
         metrics::format_duration_ms(start["clockOffsetMaxMs"].get<double>()) + " (estimated)";
}

std::string shorten(const std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::string suffix = " [... " + std::to_string(text.size()) + " more bytes]";  // an upper bound on its length
  if (suffix.size() >= max_bytes) return text.substr(0, utf8_boundary(text, max_bytes));
  std::size_t keep = utf8_boundary(text, max_bytes - suffix.size());
  return text.substr(0, keep) + " [... " + std::to_string(text.size() - keep) + " more bytes]";
}

std::string compact_result(const json& full, std::size_t max_bytes) {
  json c = full;
  c.erase("text");
  c.erase("data");
  bool truncated = false;
  auto message = [&]() -> std::string {
    return c.contains("message") && c["message"].is_string() ? c["message"].get<std::string>() : std::string();
  };
  if (message().size() > kResultMessageMaxBytes) {
    c["message"] = shorten(message(), kResultMessageMaxBytes);
    truncated = true;
  }
  for (;;) {
    if (truncated) c["truncated"] = true;
    std::string out = dump_line(c);
    if (out.size() <= max_bytes) return out;
    truncated = true;
    if (c.contains("generators")) {  // the first to go: the summary text names a saturated one too
      c.erase("generators");
      continue;
    }
    if (c.contains("thresholds") && c["thresholds"].is_array() && !c["thresholds"].empty()) {
      c["thresholds"].erase(c["thresholds"].size() - 1);
      continue;
    }
    if (std::string m = message(); !m.empty()) {  // escaping made it longer than it looked
      c["message"] = shorten(m, m.size() / 2);
      continue;
    }
    json minimal = {
        {"exitCode", c.value("exitCode", json())}, {"result", c.value("result", json())}, {"truncated", true}};
    return dump_line(minimal);
  }
}

std::string compact_inspect_result(const json& inspect, std::size_t max_bytes) {
  std::string out = dump_line(inspect);
  if (out.size() <= max_bytes || !inspect.is_object()) return out;
  json c = inspect;
  c["truncated"] = true;
  std::vector<std::pair<std::size_t, std::string>> by_size;
  for (const auto& [k, v] : c.items())
    if (k != "maxVUs" && k != "totalDuration" && k != "truncated") by_size.emplace_back(dump_line(v).size(), k);
  std::sort(by_size.rbegin(), by_size.rend());
  for (const auto& [size, key] : by_size) {
    c.erase(key);
    out = dump_line(c);
    if (out.size() <= max_bytes) return out;
  }
  return dump_line(c);
}

std::string error_result(const std::string& message, int exit_code, std::size_t max_bytes) {
  std::string m = shorten(message, std::min(kResultMessageMaxBytes, max_bytes));
  for (;;) {
    std::string out = dump_line(json{{"error", m}, {"exitCode", exit_code}});
    if (out.size() <= max_bytes || m.empty()) return out;
    m = shorten(m, m.size() / 2);
  }
}

std::string write_result_file(const std::string& path, const std::string& content) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return "cannot write the result file " + path + ": " + std::strerror(errno);
  std::string line = content + "\n";
  bool ok = std::fwrite(line.data(), 1, line.size(), f) == line.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok) return "cannot write the result file " + path + ": " + std::strerror(errno);
  return "";
}

}  // namespace herd::coord
