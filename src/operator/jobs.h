#pragma once
// The children of a TestRun (docs/operator.md): pure functions from the
// TestRun object to the Job manifests the operator creates. No I/O here.
//
//   <name>-initializer   herd inspect --execution-requirements (result in the termination message)
//   <name>-1 .. -N       herd run --paused, one execution segment each, control API on $(POD_IP):6565
//   <name>-coordinator   herd coordinator --runners ip:6565,... (merged result served on $(POD_IP):6565)
//
// Every child carries the labels below and an owner reference to the TestRun,
// so deleting the TestRun deletes everything it made.

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace herd::op {

using nlohmann::json;

inline constexpr std::string_view kGroup = "herd.dev";
inline constexpr std::string_view kVersion = "v1alpha1";
inline constexpr std::string_view kLabelTestRun = "herd.dev/testrun";
inline constexpr std::string_view kLabelComponent = "herd.dev/component";  ///< initializer | runner | coordinator
inline constexpr std::string_view kLabelRunnerIndex = "herd.dev/runner-index";
inline constexpr int kControlPort = 6565;

/// Operator-wide settings that shape the children.
struct JobSettings {
  std::string image = "ghcr.io/herd-dev/herd:latest";  ///< when the TestRun names none
  std::string linger_timeout = "10m";                  ///< how long a finished coordinator waits to be read
};

/// A bad spec: what() names the field path, e.g. "spec.arguments: unterminated quote".
class SpecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where the script is inside the pods: volumes + mounts + the path to pass to herd.
struct ScriptMount {
  json volumes = json::array();
  json mounts = json::array();
  std::string path;
};
ScriptMount script_mount(const json& spec);

/// spec.arguments split like a shell would (quotes and backslashes), then spec.args.
std::vector<std::string> user_arguments(const json& spec);

/// Checks every field the Jobs are made from before any is created: the script
/// source, spec.arguments, spec.timeouts (durations, known keys) and each
/// component's automountServiceAccountToken. Throws SpecError naming the field path.
void validate_spec(const json& spec);

/// Resolved settings of a PrivateLoadZone (spec.privateLoadZone), merged into runner pods.
struct LoadZone {
  json node_selector = json::object();
  json tolerations = json::array();
  json resources;  ///< null: none
  std::string image;
  std::string service_account;
  int max_parallelism = 0;  ///< 0: no limit
};
LoadZone load_zone(const json& plz);

std::string initializer_name(const json& testrun);
std::string runner_name(const json& testrun, int index);  ///< index 1-based
std::string coordinator_name(const json& testrun);
std::string summary_configmap_name(const json& testrun);

json initializer_job(const json& testrun, const JobSettings& settings);
/// The line runner `index` prints at its end (launch::kResultHintEnv): where the
/// merged result is (the coordinator's log, the summary ConfigMap, the TestRun).
std::string result_hint(const json& testrun, int index);
/// Runner `index` (1-based) of spec.parallelism. Without the merged outputs
/// (launch::is_merged_output, and the web dashboard) and their environment:
/// --out is never passed to runners, and K6_PROMETHEUS_RW_*, K6_FEATURES,
/// K6_WEB_DASHBOARD* and K6_OUT's merged outputs are left out of
/// spec.runner.env (docs/observability.md#kubernetes).
json runner_job(const json& testrun, int index, const JobSettings& settings, const LoadZone* zone = nullptr);
/// `runners`: "ip:port" of every runner in segment order. Gets the merged
/// outputs of the user's arguments (`--out experimental-prometheus-rw`,
/// `--out web-dashboard`) and their environment from spec.runner.env (its own
/// env wins a name clash).
///
/// Every pod loads the script, so the initializer and the coordinator also get
/// spec.runner's image, env, envFrom, volumes and volumeMounts, their own
/// settings on top (docs/operator.md, "What each pod gets"); runners also get
/// launch::kResultHintEnv = result_hint().
json coordinator_job(const json& testrun, const std::vector<std::string>& runners, const JobSettings& settings);

/// The owner reference every child carries (apiVersion: the TestRun's group, herd.dev or k6.io).
json owner_reference(const json& testrun);
/// Labels selecting every child of a TestRun ("herd.dev/testrun=<name>").
std::string children_selector(const json& testrun);

}  // namespace herd::op
