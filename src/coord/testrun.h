#pragma once
// TestRun manifests on the local backend (`herd run testrun.yaml`): the parts
// of a herd.dev/v1alpha1 (or k6-operator k6.io/v1alpha1) TestRun that one
// machine can honour, and the list of those only a cluster can.

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace herd::coord {

/// A manifest that cannot be run; the message names the field path
/// (e.g. "spec.parallelism: must be an integer >= 1"). Exit 104.
class ManifestError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LocalTestRun {
  std::string name;               ///< metadata.name
  int parallelism = 1;            ///< spec.parallelism
  std::string script;             ///< a local path: spec.script.localFile, or the file of configMap/volumeClaim
                                  ///< resolved against the manifest's folder
  std::vector<std::string> args;  ///< spec.arguments (split like a shell) then spec.args
  std::vector<std::pair<std::string, std::string>> env;  ///< spec.runner.env (name/value pairs)
  bool quiet = false;                                    ///< spec.quiet
  /// Fields that were set but only a cluster can honour, as field paths.
  std::vector<std::string> cluster_only;
};

/// Parses a TestRun manifest (YAML). `manifest_dir` resolves relative script paths.
LocalTestRun parse_testrun(const std::string& yaml_text, const std::string& manifest_dir);

/// True when `path` names a YAML manifest (by extension).
bool is_manifest_path(const std::string& path);

}  // namespace herd::coord
