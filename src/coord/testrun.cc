#include "coord/testrun.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <stdexcept>

#include "launch/runner_args.h"

namespace herd::coord {

namespace {

std::string scalar(const YAML::Node& n, const std::string& path) {
  if (!n.IsScalar()) throw ManifestError(path + ": must be a string");
  return n.as<std::string>();
}

bool truthy(const YAML::Node& n, const std::string& path) {
  if (!n.IsScalar()) throw ManifestError(path + ": must be true or false");
  std::string v = n.as<std::string>();
  if (v == "true" || v == "True" || v == "1") return true;
  if (v == "false" || v == "False" || v == "0" || v.empty()) return false;
  throw ManifestError(path + ": must be true or false, got \"" + v + "\"");
}

std::string resolve(const std::string& dir, const std::string& file) {
  std::filesystem::path p(file);
  if (p.is_absolute() || dir.empty()) return p.lexically_normal().string();
  return (std::filesystem::path(dir) / p).lexically_normal().string();
}

}  // namespace

bool is_manifest_path(const std::string& path) {
  auto ext = std::filesystem::path(path).extension().string();
  return ext == ".yaml" || ext == ".yml";
}

LocalTestRun parse_testrun(const std::string& yaml_text, const std::string& manifest_dir) {
  YAML::Node doc;
  try {
    doc = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ManifestError(std::string("not valid YAML: ") + e.what());
  }
  if (!doc.IsMap()) throw ManifestError("the manifest must be a YAML mapping (a TestRun object)");
  std::string api = doc["apiVersion"] ? scalar(doc["apiVersion"], "apiVersion") : "";
  if (api != "herd.dev/v1alpha1" && api != "k6.io/v1alpha1")
    throw ManifestError("apiVersion: must be herd.dev/v1alpha1 (or k6.io/v1alpha1), got \"" + api + "\"");
  std::string kind = doc["kind"] ? scalar(doc["kind"], "kind") : "";
  if (kind != "TestRun" && kind != "K6") throw ManifestError("kind: must be TestRun, got \"" + kind + "\"");
  LocalTestRun tr;
  if (doc["metadata"] && doc["metadata"]["name"]) tr.name = scalar(doc["metadata"]["name"], "metadata.name");
  YAML::Node spec = doc["spec"];
  if (!spec || !spec.IsMap()) throw ManifestError("spec: missing (a TestRun needs spec.script and spec.parallelism)");

  if (spec["parallelism"]) {
    try {
      tr.parallelism = spec["parallelism"].as<int>();
    } catch (const YAML::Exception&) {
      throw ManifestError("spec.parallelism: must be an integer >= 1");
    }
    if (tr.parallelism < 1)
      throw ManifestError("spec.parallelism: must be an integer >= 1, got " + std::to_string(tr.parallelism));
  }

  YAML::Node script = spec["script"];
  if (!script || !script.IsMap()) throw ManifestError("spec.script: missing (configMap, volumeClaim or localFile)");
  int sources = 0;
  if (script["localFile"]) {
    sources++;
    tr.script = resolve(manifest_dir, scalar(script["localFile"], "spec.script.localFile"));
  }
  for (const char* src : {"configMap", "volumeClaim"}) {
    if (!script[src]) continue;
    sources++;
    std::string path = std::string("spec.script.") + src;
    YAML::Node n = script[src];
    if (!n.IsMap() || !n["file"])
      throw ManifestError(path + ".file: missing (locally, the file is read from the manifest's folder)");
    tr.script = resolve(manifest_dir, scalar(n["file"], path + ".file"));
  }
  if (sources != 1)
    throw ManifestError("spec.script: exactly one of configMap, volumeClaim or localFile is needed, got " +
                        std::to_string(sources));

  if (spec["arguments"]) {
    try {  // split like the operator splits it for a runner Job
      tr.args = launch::split_arguments(scalar(spec["arguments"], "spec.arguments"));
    } catch (const std::invalid_argument& e) {
      throw ManifestError(std::string("spec.arguments: ") + e.what());
    }
  }
  if (spec["args"]) {
    if (!spec["args"].IsSequence()) throw ManifestError("spec.args: must be a list of strings");
    for (size_t i = 0; i < spec["args"].size(); i++)
      tr.args.push_back(scalar(spec["args"][i], "spec.args[" + std::to_string(i) + "]"));
  }
  if (spec["quiet"]) tr.quiet = truthy(spec["quiet"], "spec.quiet");
  if (spec["paused"] && truthy(spec["paused"], "spec.paused")) tr.cluster_only.push_back("spec.paused");

  if (YAML::Node runner = spec["runner"]) {
    if (!runner.IsMap()) throw ManifestError("spec.runner: must be a mapping");
    for (auto it = runner.begin(); it != runner.end(); ++it) {
      std::string key = it->first.as<std::string>();
      if (key == "env") {
        YAML::Node env = it->second;
        if (!env.IsSequence()) throw ManifestError("spec.runner.env: must be a list of {name, value}");
        for (size_t i = 0; i < env.size(); i++) {
          std::string p = "spec.runner.env[" + std::to_string(i) + "]";
          if (!env[i].IsMap() || !env[i]["name"]) throw ManifestError(p + ".name: missing");
          if (env[i]["valueFrom"]) {
            tr.cluster_only.push_back(p + ".valueFrom");
            continue;
          }
          tr.env.emplace_back(scalar(env[i]["name"], p + ".name"),
                              env[i]["value"] ? scalar(env[i]["value"], p + ".value") : "");
        }
      } else {
        tr.cluster_only.push_back("spec.runner." + key);
      }
    }
  }
  for (const char* key :
       {"separate", "starter", "initializer", "cleanup", "coordinator", "timeouts", "token", "testRunId"}) {
    if (spec[key]) tr.cluster_only.push_back(std::string("spec.") + key);
  }
  return tr;
}

}  // namespace herd::coord
