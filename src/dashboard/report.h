#pragma once
// The HTML report (K6_WEB_DASHBOARD_EXPORT): the dashboard's page as one
// self-contained file. The page's scripts and styles (dygraphs included) are
// inlined and every update of the run is embedded, so it opens from file://
// with no network and draws every chart over the whole run.

#include <string>
#include <vector>

namespace herd::dashboard {

/// The report's HTML. `updates`: the run's updates in order (DashboardFeed
/// JSON objects, serialised). Embedded text never closes its <script>/<style>
/// element early ('<' in the data is written \u003c). Throws std::logic_error
/// when an embedded file could not be inlined safely (a build problem).
std::string render_report(const std::vector<std::string>& updates);

/// Writes render_report(updates) to `path` (replaced atomically: written
/// beside it, then renamed). Returns "" or the reason it failed.
std::string write_report(const std::string& path, const std::vector<std::string>& updates);

}  // namespace herd::dashboard
