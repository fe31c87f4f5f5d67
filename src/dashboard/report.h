#pragma once
// The HTML report (K6_WEB_DASHBOARD_EXPORT, `herd run --report FILE`): the
// dashboard's page as one self-contained file. The page's scripts and styles
// (dygraphs included) are inlined and every update of the run is embedded, so
// it opens from file:// with no network and draws every chart over the whole
// run. The run's end (ReportInfo) adds the end-of-test summary table, run
// metadata and generator health.

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics/generator_health.h"
#include "metrics/summary.h"

namespace herd::dashboard {

/// What the report says about the run besides its updates. Written once the
/// exit code is known.
struct ReportInfo {
  std::string script;                                 ///< the script as given
  nlohmann::json options = nlohmann::json::object();  ///< the run's options (exec::Options::to_json)
  int parallelism = 1;                                ///< runners (1: a single process)
  std::chrono::system_clock::time_point start, end;   ///< unset start: end minus the summary's duration
  int exit_code = 0;                                  ///< the exit code herd ends with
  nlohmann::json summary_data;                        ///< metrics::build_summary_data's object (null: none)
  metrics::SummaryOptions summary;                    ///< its trend stats and time unit
  std::vector<metrics::GeneratorHealth> generators;   ///< every generator's health over the run
};

/// The report's data about the run, embedded as window.herdReportInfo:
///   {"meta": {"script", "options", "parallelism", "start", "end" (ISO 8601 UTC),
///             "duration_s", "exit_code"},
///    "summary": [{"section", "metric", "type", "cells": ["avg=1.2ms", ...]}]
///               (metrics::summary_table: the text summary's figures),
///    "health": {"warnings": ["runner 2 (...): saturated for ..."],
///               "generators": [{"name", "segment", "cores", "seconds", "cpu_avg",
///                 "cpu_max", "cpu_saturated_s", "lag_p99_ms", "lag_max_ms",
///                 "lag_saturated_s", "unhealthy_s", "saturated"}]}}
/// `end` unset: now.
nlohmann::json report_info_json(const ReportInfo& info);

/// The report's HTML. `updates`: the run's updates in order (DashboardFeed
/// JSON objects, serialised); `info`: report_info_json's object (null: none,
/// the report then has the charts and tables of the updates only). Embedded
/// text never closes its <script>/<style> element early ('<' in the data is
/// written \u003c). Throws std::logic_error when an embedded file could not be
/// inlined safely (a build problem).
std::string render_report(const std::vector<std::string>& updates, const nlohmann::json& info = nullptr);

/// Writes render_report(updates, info) to `path` (replaced atomically: written
/// beside it, then renamed). Returns "" or the reason it failed.
std::string write_report(const std::string& path, const std::vector<std::string>& updates,
                         const nlohmann::json& info = nullptr);

}  // namespace herd::dashboard
