#include "dashboard/report.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <stdexcept>

#include "dashboard/assets.h"

namespace herd::dashboard {

namespace {

std::string body_of(std::string_view path) {
  const Asset* a = find_asset(path);
  if (!a) throw std::logic_error("dashboard asset missing: " + std::string(path));
  return std::string(a->body);
}

/// A file's text, checked safe to inline in <script> or <style>: nothing in it
/// can end the element or open an HTML comment there.
std::string inline_file(std::string_view path) {
  std::string s = body_of(path);
  std::string lower = s;
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (const char* bad : {"</script", "</style", "<!--"})
    if (lower.find(bad) != std::string::npos)
      throw std::logic_error("dashboard asset " + std::string(path) + " cannot be inlined: it contains " + bad);
  return s;
}

/// JSON (or JS literals of it) safe in <script>: '<' only occurs inside strings
/// there, where \u003c reads the same.
std::string inline_json(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c == '<')
      out += "\\u003c";
    else
      out += c;
  return out;
}

void replace_once(std::string& page, const std::string& what, const std::string& with) {
  std::size_t at = page.find(what);
  if (at == std::string::npos) throw std::logic_error("dashboard page lacks " + what);
  page.replace(at, what.size(), with);
}

/// "2026-12-07T01:51:42.123Z".
std::string iso_utc(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

double r3(double v) {
  return std::isfinite(v) ? std::round(v * 1000) / 1000 : 0;
}

}  // namespace

nlohmann::json report_info_json(const ReportInfo& info) {
  using json = nlohmann::json;
  auto end = info.end == std::chrono::system_clock::time_point{} ? std::chrono::system_clock::now() : info.end;
  auto start = info.start;
  if (start == std::chrono::system_clock::time_point{}) {
    double ms = 0;
    if (info.summary_data.is_object() && info.summary_data.contains("state") &&
        info.summary_data["state"].is_object() &&
        info.summary_data["state"].value("testRunDurationMs", json()).is_number())
      ms = info.summary_data["state"]["testRunDurationMs"].get<double>();
    start = end - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                      std::chrono::duration<double, std::milli>(std::max(0.0, ms)));
  }
  json meta = {{"script", info.script},
               {"options", info.options},
               {"parallelism", info.parallelism},
               {"start", iso_utc(start)},
               {"end", iso_utc(end)},
               {"duration_s", r3(std::chrono::duration<double>(end - start).count())},
               {"exit_code", info.exit_code}};
  json summary = json::array();
  for (const auto& row : metrics::summary_table(info.summary_data, info.summary))
    summary.push_back({{"section", row.section}, {"metric", row.metric}, {"type", row.type}, {"cells", row.cells}});
  json gens = json::array();
  for (const auto& g : info.generators)
    gens.push_back({{"name", g.name.empty() ? "this process" : g.name},
                    {"segment", g.segment},
                    {"cores", g.cores},
                    {"seconds", r3(g.seconds)},
                    {"cpu_avg", r3(g.cpu_avg)},
                    {"cpu_max", r3(g.cpu_max)},
                    {"cpu_saturated_s", r3(g.cpu_saturated_s)},
                    {"lag_p99_ms", r3(g.lag_p99_ms)},
                    {"lag_max_ms", r3(g.lag_max_ms)},
                    {"lag_saturated_s", r3(g.lag_saturated_s)},
                    {"unhealthy_s", r3(g.unhealthy_s)},
                    {"saturated", metrics::generator_saturated(g)}});
  return {{"meta", std::move(meta)},
          {"summary", std::move(summary)},
          {"health", {{"warnings", metrics::generator_health_block(info.generators).lines}, {"generators", gens}}}};
}

std::string render_report(const std::vector<std::string>& updates, const nlohmann::json& info) {
  std::string page = body_of("/");
  std::string data = "window.herdReport = [";
  for (std::size_t i = 0; i < updates.size(); ++i) data += (i ? ",\n" : "\n") + updates[i];
  data += "];\n";
  if (!info.is_null())
    data += "window.herdReportInfo = " + info.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + ";\n";
  replace_once(page, "<link rel=\"stylesheet\" href=\"dygraph.css\">",
               "<style>" + inline_file("/dygraph.css") + "</style>");
  replace_once(page, "<link rel=\"stylesheet\" href=\"dashboard.css\">",
               "<style>" + inline_file("/dashboard.css") + "</style>");
  replace_once(page, "<script src=\"dygraph.min.js\"></script>",
               "<script>" + inline_file("/dygraph.min.js") + "</script>");
  replace_once(page, "<script src=\"dashboard.js\"></script>",
               "<script>" + inline_json(data) + "</script>\n<script>" + inline_file("/dashboard.js") + "</script>");
  replace_once(page, "<title>herd: live dashboard</title>", "<title>herd: test report</title>");
  return page;
}

std::string write_report(const std::string& path, const std::vector<std::string>& updates, const nlohmann::json& info) {
  std::string html;
  try {
    html = render_report(updates, info);
  } catch (const std::exception& e) {
    return e.what();
  }
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return "cannot write " + tmp + ": " + std::strerror(errno);
    f << html;
    f.close();
    if (!f) return "cannot write " + tmp + ": " + std::strerror(errno);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return "cannot write " + path + ": " + why;
  }
  return "";
}

}  // namespace herd::dashboard
