#include "dashboard/options.h"

#include <algorithm>
#include <stdexcept>
#include <string_view>

#include "metrics/output_stream.h"
#include "util/duration.h"

namespace herd::dashboard {

namespace {

constexpr std::string_view kOut = "web-dashboard";

bool parse_bool(const std::string& name, const std::string& v) {
  if (v == "true" || v == "1" || v == "") return v != "";
  if (v == "false" || v == "0") return false;
  throw std::invalid_argument(name + "=\"" + v + "\": expected true or false");
}

/// Applies one setting; `name` is how the user spelled it (for messages).
void apply(DashboardOptions& o, const std::string& key, const std::string& name, const std::string& v) {
  if (key == "host") {
    if (v.empty()) throw std::invalid_argument(name + " is empty: give an address such as 127.0.0.1");
    o.host = v;
  } else if (key == "port") {
    std::size_t used = 0;
    long p = 0;
    try {
      p = std::stol(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != v.size() || v.empty() || p < -1 || p > 65535)
      throw std::invalid_argument(name + "=\"" + v + "\": expected a port 0-65535, or -1 for no server");
    o.port = static_cast<int>(p);
  } else if (key == "period") {
    std::chrono::microseconds d{0};
    try {
      d = util::parse_duration(v);
    } catch (const std::exception& e) {
      throw std::invalid_argument(name + "=\"" + v + "\": " + e.what());
    }
    if (d < std::chrono::milliseconds(100))
      throw std::invalid_argument(name + "=\"" + v + "\": the period must be at least 100ms");
    o.period = std::chrono::duration_cast<std::chrono::milliseconds>(d);
  } else if (key == "open") {
    if (parse_bool(name, v))
      throw std::invalid_argument(name + ": herd does not open a browser; open the address it prints instead");
  } else if (key == "export") {
    if (!v.empty())
      if (std::string why = metrics::unwritable_reason(v); !why.empty())
        throw std::invalid_argument(name + "=" + v + ": cannot write: " + why);
    o.export_path = v;
  } else {
    throw std::invalid_argument(name + ": unknown web dashboard option (host, port, period, open, export)");
  }
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return s;
}

}  // namespace

std::string DashboardOptions::listen_address() const {
  std::string h = host.find(':') != std::string::npos && host.front() != '[' ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port < 0 ? 0 : port);
}

std::optional<DashboardOptions> take_dashboard(std::vector<std::string>& specs,
                                               const std::map<std::string, std::string>& environ,
                                               const std::string& report) {
  std::optional<std::string> out_arg;
  bool named = false;
  for (auto it = specs.begin(); it != specs.end();) {
    std::string_view s = *it;
    if (s == kOut || (s.size() > kOut.size() && s.substr(0, kOut.size()) == kOut && s[kOut.size()] == '=')) {
      if (named) throw std::invalid_argument("--out web-dashboard: given more than once");
      named = true;
      if (s.size() > kOut.size()) out_arg = std::string(s.substr(kOut.size() + 1));
      it = specs.erase(it);
    } else {
      ++it;
    }
  }
  auto env = [&](const char* k) -> const std::string* {
    auto it = environ.find(k);
    return it == environ.end() ? nullptr : &it->second;
  };
  bool on = named;
  if (const std::string* v = env("K6_WEB_DASHBOARD")) on = parse_bool("K6_WEB_DASHBOARD", *v) || on;
  if (!on && report.empty()) return std::nullopt;

  DashboardOptions o;
  if (!on) o.port = -1;  // --report alone: the report, no server
  for (const char* key : {"host", "port", "period", "open", "export"}) {
    std::string var = "K6_WEB_DASHBOARD_" + upper(key);
    if (const std::string* v = env(var.c_str())) apply(o, key, var, *v);
  }
  if (out_arg) {
    std::string_view rest = *out_arg;
    while (!rest.empty()) {
      std::string_view kv = rest.substr(0, rest.find('&'));
      rest = kv.size() < rest.size() ? rest.substr(kv.size() + 1) : std::string_view{};
      if (kv.empty()) continue;
      auto eq = kv.find('=');
      std::string key(kv.substr(0, eq));
      std::string value = eq == std::string_view::npos ? (key == "open" ? "true" : "") : std::string(kv.substr(eq + 1));
      if (key == "export" && !report.empty())
        throw std::invalid_argument("--report " + report + " and --out web-dashboard export=" + value +
                                    ": give the report's file once");
      apply(o, key, "--out web-dashboard " + key, value);
    }
  }
  if (!report.empty()) apply(o, "export", "--report", report);  // wins over K6_WEB_DASHBOARD_EXPORT
  return o;
}

}  // namespace herd::dashboard
