#include "exec/option_support.h"

#include <algorithm>
#include <cstring>

#include "exec/options.h"

namespace herd::exec {

namespace {

struct Refusal {
  const char* name;
  const char* reason;
};

// k6 options herd does not implement yet. When the parser gains a branch for
// one, it never reaches this table again: delete its row then.
const Refusal kRefused[] = {
    {"handleSummaryTimeout", "handleSummary() runs without a time limit"},
    {"tlsAIAFetch", "fetching missing intermediate certificates is not implemented"},
    {"vusMax", "deprecated in k6; use a scenario's maxVUs"},
    {"linger", "use the --linger flag"},
};

// Options k6 only uses for Grafana Cloud runs; a local k6 run ignores them too.
const char* const kCloudOnly[] = {"cloud", "ext"};

// Accepted because herd already behaves as the option asks.
const char* const kAlwaysTrue[] = {"noUsageReport"};  // herd never sends usage reports

}  // namespace

void unhandled_option(const std::string& key, const std::string& path, std::vector<std::string>& warnings) {
  for (const Refusal& r : kRefused) {
    if (key == r.name) throw OptionsError(path + ": not supported by herd (" + r.reason + ")");
  }
  for (const char* n : kCloudOnly) {
    if (key == n) {
      warnings.push_back(path + " is only used by Grafana Cloud runs; herd ignores it, as a local k6 run does");
      return;
    }
  }
  for (const char* n : kAlwaysTrue) {
    if (key == n) return;
  }
  warnings.push_back(path + ": unknown option, ignored");
}

void refuse_unsupported_env(const std::map<std::string, std::string>& environ) {
  static const Refusal kRefusedEnv[] = {
      {"K6_CONFIG", "pass the config file with -c/--config"},
      {"K6_HOSTS", "set options.hosts in the script or a -c/--config file"},
      {"K6_TLS_VERSION", "set options.tlsVersion in the script or a -c/--config file"},
  };
  for (const Refusal& r : kRefusedEnv) {
    auto it = environ.find(r.name);
    if (it != environ.end() && !it->second.empty()) {
      throw OptionsError(std::string(r.name) + ": not supported by herd (" + r.reason + ")");
    }
  }
}

const std::vector<std::string>& k6_option_names() {
  static const std::vector<std::string> names = {
      "batch",
      "batchPerHost",
      "blacklistIPs",
      "blockHostnames",
      "cloud",
      "discardResponseBodies",
      "dns",
      "duration",
      "executionSegment",
      "executionSegmentSequence",
      "ext",
      "handleSummaryTimeout",
      "hosts",
      "httpDebug",
      "insecureSkipTLSVerify",
      "iterations",
      "linger",
      "localIPs",
      "maxRedirects",
      "minIterationDuration",
      "noConnectionReuse",
      "noCookiesReset",
      "noSummary",
      "noThresholds",
      "noUsageReport",
      "noVUConnectionReuse",
      "paused",
      "rps",
      "scenarios",
      "setupTimeout",
      "stages",
      "summaryTimeUnit",
      "summaryTrendStats",
      "systemTags",
      "tags",
      "teardownTimeout",
      "thresholds",
      "throw",
      "tlsAIAFetch",
      "tlsAuth",
      "tlsCipherSuites",
      "tlsVersion",
      "userAgent",
      "vus",
      "vusMax",
  };
  return names;
}

}  // namespace herd::exec
