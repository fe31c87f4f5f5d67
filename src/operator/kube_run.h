#pragma once
// `herd kube run script.js|testrun.yaml`: one command for CI pipelines
// (docs/operator.md). Uploads the script as a ConfigMap (an archive made by
// `herd archive` when it imports local modules or opens files), creates a
// TestRun, shows the merged progress, prints the merged summary and exits with
// the test's exit code. The TestRun and everything it made are deleted at the
// end, and on Ctrl-C (unless --keep).

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace herd::op {

/// `herd kube <subcommand> ...` (only `run` today).
int kube_main(const std::vector<std::string>& args);

/// The TestRun of a manifest: k6.io/v1alpha1 (TestRun or K6) becomes herd.dev/v1alpha1
/// TestRun; every other field is kept. Throws std::invalid_argument naming the problem.
nlohmann::json testrun_from_manifest(const nlohmann::json& manifest);

/// `--report`: makes the TestRun's coordinator write the HTML report, through
/// spec.runner.env as a k6-operator user would (the coordinator gets it, the
/// runners do not): K6_WEB_DASHBOARD=true (with K6_WEB_DASHBOARD_PORT=-1, no
/// server, unless the manifest turned the dashboard on itself) and
/// K6_WEB_DASHBOARD_EXPORT=herd-report.html unless it names a file already.
void request_report(nlohmann::json& testrun);

/// The report a finished TestRun stored (status.report), decompressed, from
/// `configmap` (the ConfigMap status.report.configMap names). Throws
/// std::runtime_error saying why there is none.
std::string report_from(const nlohmann::json& status, const nlohmann::json& configmap);

/// Exit code for a finished/error TestRun status: status.exitCode when set, else from
/// the Finished condition's reason: 107 for a script error or an invalid spec
/// (InvalidParallelism included), 97 for a lost runner or runners never ready, 1 otherwise.
int exit_code_of(const nlohmann::json& status);

}  // namespace herd::op
