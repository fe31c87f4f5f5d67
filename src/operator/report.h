#pragma once
// The test's HTML report on the cluster (docs/operator.md, "HTML report and live
// dashboard"). The coordinator writes it (K6_WEB_DASHBOARD_EXPORT) and serves it
// as GET /v1/report; the operator stores it gzip-compressed (binaryData
// "report.html.gz") in the <name>-summary ConfigMap when it fits beside the
// summary, else in its own ConfigMap <name>-report, else nowhere (a Warning
// event and status.report.message say why; the test's result is unchanged).
// Pure functions: the reconciler does the API calls.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace herd::op {

/// What the API server allows in one ConfigMap: the values of data and
/// binaryData (decoded) together, in bytes.
inline constexpr std::size_t kConfigMapMaxBytes = std::size_t{1} << 20;
/// The report's key (in binaryData) in either ConfigMap.
inline constexpr std::string_view kReportKey = "report.html.gz";

/// gzip (RFC 1952) of `data` at the best compression. Throws std::runtime_error
/// when zlib fails (out of memory).
std::string gzip(std::string_view data);
/// The data of a gzip stream; nullopt when it is corrupt, truncated, or
/// decompresses past `max_bytes`.
std::optional<std::string> gunzip(std::string_view gz, std::size_t max_bytes = std::size_t{256} << 20);

/// A ConfigMap's size as the API server counts it against kConfigMapMaxBytes:
/// every data value plus every binaryData value decoded (base64 in the JSON).
std::size_t configmap_bytes(const nlohmann::json& configmap);

enum class ReportPlace {
  kSummary,   ///< beside the summary, in <name>-summary
  kOwn,       ///< in its own ConfigMap <name>-report
  kTooLarge,  ///< in no ConfigMap
};
/// Where a report of `compressed` bytes goes when the summary ConfigMap already
/// holds `summary_bytes` (configmap_bytes): beside them if the sum fits `limit`,
/// else alone if it fits, else nowhere.
ReportPlace place_report(std::size_t summary_bytes, std::size_t compressed, std::size_t limit = kConfigMapMaxBytes);

/// "<name>-report".
std::string report_configmap_name(const nlohmann::json& testrun);

/// What to do with the coordinator's answer to GET /v1/report.
struct ReportPlan {
  nlohmann::json summary_binary;  ///< binaryData entries to add to the summary ConfigMap (null: none)
  nlohmann::json own_configmap;   ///< the <name>-report ConfigMap to write (null: none)
  nlohmann::json status;          ///< status.report (null: no report was asked for)
  std::string warning_reason;     ///< a Warning event: ReportTooLarge or ReportNotStored ("" = none)
  std::string warning;            ///< its message
};
/// `answer`: {HTTP status, body} of GET /v1/report (404: the test asked for no
/// report). `summary_cm`: the summary ConfigMap about to be written (its data
/// counts against the limit). `owner`: the owner reference both ConfigMaps carry.
ReportPlan plan_report(const nlohmann::json& testrun, const nlohmann::json& summary_cm,
                       const std::pair<long, std::string>& answer, const nlohmann::json& owner,
                       std::size_t limit = kConfigMapMaxBytes);

/// plan.status after the API server refused to store the report in
/// `configmap` (`why`: its error): not stored, with the reason. The warning is set too.
void report_refused(ReportPlan& plan, const std::string& configmap, const std::string& why);

}  // namespace herd::op
