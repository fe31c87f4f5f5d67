#include "operator/report.h"

#include <zlib.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

#include "operator/jobs.h"
#include "util/base64.h"

namespace herd::op {
namespace {

using json = nlohmann::json;

/// A z_stream set up by deflateInit2 or inflateInit2, ended with it.
class ZStream {
 public:
  explicit ZStream(bool deflating) : deflating_(deflating) {
    int rc = deflating ? deflateInit2(&z_, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY)
                       : inflateInit2(&z_, 15 + 16);
    if (rc != Z_OK) throw std::runtime_error(std::string("zlib: cannot start: ") + (z_.msg ? z_.msg : "no memory"));
  }
  ~ZStream() {
    if (deflating_)
      deflateEnd(&z_);
    else
      inflateEnd(&z_);
  }
  ZStream(const ZStream&) = delete;
  ZStream& operator=(const ZStream&) = delete;
  z_stream* get() { return &z_; }

 private:
  z_stream z_{};
  bool deflating_;
};

std::string size_text(std::size_t bytes) {
  char buf[64];
  if (bytes >= (std::size_t{1} << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  else
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024);
  return buf;
}

/// The detail of a control API error body ({"errors":[{"detail":...}]}), else the body.
std::string error_detail(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty() &&
      j["errors"][0].is_object() && j["errors"][0].contains("detail") && j["errors"][0]["detail"].is_string())
    return j["errors"][0]["detail"].get<std::string>();
  return body.substr(0, 300);
}

}  // namespace

std::string gzip(std::string_view data) {
  ZStream zs(true);
  z_stream* z = zs.get();
  std::string out;
  out.resize(deflateBound(z, static_cast<uLong>(data.size())) + 64);
  z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z->avail_in = static_cast<uInt>(data.size());
  z->next_out = reinterpret_cast<Bytef*>(out.data());
  z->avail_out = static_cast<uInt>(out.size());
  if (deflate(z, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("zlib: gzip did not finish");
  out.resize(z->total_out);
  return out;
}

std::optional<std::string> gunzip(std::string_view gz, std::size_t max_bytes) {
  ZStream zs(false);
  z_stream* z = zs.get();
  z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z->avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[64 * 1024];
  while (true) {
    z->next_out = reinterpret_cast<Bytef*>(buf);
    z->avail_out = sizeof buf;
    int rc = inflate(z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) return std::nullopt;  // corrupt, or truncated (Z_BUF_ERROR)
    out.append(buf, sizeof buf - z->avail_out);
    if (out.size() > max_bytes) return std::nullopt;
    if (rc == Z_STREAM_END) return z->avail_in == 0 ? std::optional(out) : std::nullopt;
  }
}

std::size_t configmap_bytes(const json& cm) {
  std::size_t n = 0;
  if (cm.contains("data") && cm["data"].is_object())
    for (const auto& [k, v] : cm["data"].items())
      if (v.is_string()) n += v.get_ref<const std::string&>().size();
  if (cm.contains("binaryData") && cm["binaryData"].is_object())
    for (const auto& [k, v] : cm["binaryData"].items()) {
      if (!v.is_string()) continue;
      const std::string& b64 = v.get_ref<const std::string&>();
      std::size_t pad = b64.ends_with("==") ? 2 : b64.ends_with("=") ? 1 : 0;
      n += b64.size() / 4 * 3 - pad;
    }
  return n;
}

ReportPlace place_report(std::size_t summary_bytes, std::size_t compressed, std::size_t limit) {
  if (summary_bytes <= limit && compressed <= limit - summary_bytes) return ReportPlace::kSummary;
  if (compressed <= limit) return ReportPlace::kOwn;
  return ReportPlace::kTooLarge;
}

std::string report_configmap_name(const json& testrun) {
  return testrun.at("metadata").at("name").get<std::string>() + "-report";
}

ReportPlan plan_report(const json& testrun, const json& summary_cm, const std::pair<long, std::string>& answer,
                       const json& owner, std::size_t limit) {
  ReportPlan plan;
  const auto& [status, body] = answer;
  if (status == 404) return plan;  // the test asked for no report
  if (status != 200) {
    plan.warning_reason = "ReportNotStored";
    plan.warning = "the coordinator's HTML report could not be read: " +
                   (status == 0 ? body : "HTTP " + std::to_string(status) + ": " + error_detail(body));
    plan.status = {{"message", plan.warning}};
    return plan;
  }
  std::string gz = gzip(body);
  plan.status = {
      {"key", std::string(kReportKey)}, {"compressed", true}, {"bytes", body.size()}, {"compressedBytes", gz.size()}};
  json binary = {{std::string(kReportKey), util::base64_encode(gz)}};
  switch (place_report(configmap_bytes(summary_cm), gz.size(), limit)) {
    case ReportPlace::kSummary:
      plan.summary_binary = std::move(binary);
      plan.status["configMap"] = summary_cm["metadata"]["name"];
      break;
    case ReportPlace::kOwn: {
      const std::string name = report_configmap_name(testrun);
      const std::string testrun_name = testrun["metadata"]["name"].get<std::string>();
      plan.own_configmap = {{"apiVersion", "v1"},
                            {"kind", "ConfigMap"},
                            {"metadata",
                             {{"name", name},
                              {"namespace", summary_cm["metadata"]["namespace"]},
                              {"labels", {{"app", "herd"}, {std::string(kLabelTestRun), testrun_name}}},
                              {"ownerReferences", json::array({owner})}}},
                            {"binaryData", std::move(binary)}};
      plan.status["configMap"] = name;
      break;
    }
    case ReportPlace::kTooLarge:
      plan.status.erase("key");
      plan.warning_reason = "ReportTooLarge";
      plan.warning = "the HTML report is " + size_text(gz.size()) + " gzip-compressed (" + size_text(body.size()) +
                     "), more than a ConfigMap holds (" + size_text(limit) +
                     "): it was not stored; write it to a volume of the coordinator instead "
                     "(K6_WEB_DASHBOARD_EXPORT=/mounted/path/report.html)";
      plan.status["message"] = plan.warning;
      break;
  }
  return plan;
}

void report_refused(ReportPlan& plan, const std::string& configmap, const std::string& why) {
  plan.status.erase("configMap");
  plan.status.erase("key");
  plan.warning_reason = "ReportNotStored";
  plan.warning = "the HTML report could not be stored in the ConfigMap " + configmap + ": " + why;
  plan.status["message"] = plan.warning;
}

}  // namespace herd::op
