#pragma once
// The live web dashboard's switches, as k6 spells them (docs/dashboard.md):
// K6_WEB_DASHBOARD=true or `--out web-dashboard[=key=value&...]`, with
// K6_WEB_DASHBOARD_HOST, _PORT, _PERIOD, _OPEN and _EXPORT (the same keys,
// lower case, in the --out argument, which wins over the variables).

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace herd::dashboard {

struct DashboardOptions {
  /// Where the server listens; 127.0.0.1 unless K6_WEB_DASHBOARD_HOST says otherwise.
  std::string host = "127.0.0.1";
  /// 5665 as in k6; 0 = an ephemeral port; -1 = no server (nothing is served).
  int port = 5665;
  /// How often an update is sent to the browsers (k6's default 10 s); > 0.
  std::chrono::milliseconds period{10'000};
  /// Where the HTML report is written at the end ("" = none); checked writable up front.
  std::string export_path;

  /// "127.0.0.1:5665", "[::1]:5665" (the ControlServer-style address to bind).
  std::string listen_address() const;
};

/// Takes "web-dashboard" (with or without an argument) out of `specs` (the
/// --out values) and reads the K6_WEB_DASHBOARD* variables of `environ`.
/// Returns nullopt when the dashboard is not asked for. Throws
/// std::invalid_argument, naming the variable or key, for a bad value, an
/// unknown key, a second --out web-dashboard, an export path that cannot be
/// written, and for what herd cannot honour (K6_WEB_DASHBOARD_OPEN=true: herd
/// opens no browser). `report` (herd's `--report FILE`, "" = not given) asks
/// for the HTML report there: it wins over K6_WEB_DASHBOARD_EXPORT, conflicts
/// with an `export` key of --out web-dashboard, and on its own (no
/// K6_WEB_DASHBOARD, no --out web-dashboard) turns on the report only (port -1).
std::optional<DashboardOptions> take_dashboard(std::vector<std::string>& specs,
                                               const std::map<std::string, std::string>& environ,
                                               const std::string& report = "");

}  // namespace herd::dashboard
