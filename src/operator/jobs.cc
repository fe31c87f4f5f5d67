#include "operator/jobs.h"

#include <cctype>
#include <optional>
#include <utility>

#include "api/http_request.h"
#include "launch/runner_args.h"
#include "operator/k6io.h"
#include "util/duration.h"

namespace herd::op {
namespace {

const json& field(const json& obj, std::string_view key) {
  static const json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(std::string(key));
  return it == obj.end() ? kNull : *it;
}

std::string name_of(const json& testrun) {
  return testrun.at("metadata").at("name").get<std::string>();
}
std::string namespace_of(const json& testrun) {
  return field(testrun["metadata"], "namespace").is_string() ? testrun["metadata"]["namespace"].get<std::string>()
                                                             : "default";
}

/// Appends every element of `extra` (an array or null) to `list`.
void append(json& list, const json& extra) {
  if (!extra.is_array()) return;
  for (const auto& e : extra) list.push_back(e);
}

/// grafana/k6 or loadimpact/k6 (any registry, tag or digest): k6's own image, which
/// cannot run herd's commands.
bool is_k6_image(const std::string& image) {
  std::string repo = image.substr(0, image.find_first_of("@"));
  if (auto colon = repo.rfind(':'); colon != std::string::npos && repo.find('/', colon) == std::string::npos) {
    repo.resize(colon);
  }
  for (const char* k6 : {"grafana/k6", "loadimpact/k6"}) {
    std::string name = k6;
    if (repo == name || (repo.size() > name.size() && repo.ends_with("/" + name))) return true;
  }
  return false;
}

/// The pod settings of a component. The initializer falls back to the runner's;
/// the coordinator to k6-operator's starter (the pod it replaces).
const json& settings_of(const json& spec, std::string_view component) {
  const json& own = field(spec, component);
  if (own.is_object()) return own;
  if (component == "initializer") return field(spec, "runner");
  if (component == "coordinator") return field(spec, "starter");
  return own;
}

/// The component's automountServiceAccountToken as a boolean: k6-operator
/// spells it as a string ("true"/"false", any case). Throws SpecError naming
/// the field for anything else.
std::optional<bool> automount_token(const json& spec, std::string_view component) {
  const json& own = field(spec, component);
  std::string_view owner = component;
  if (!own.is_object()) owner = component == "initializer" ? "runner" : component == "coordinator" ? "starter" : "";
  const json& value = field(settings_of(spec, component), "automountServiceAccountToken");
  if (value.is_null()) return std::nullopt;
  if (value.is_boolean()) return value.get<bool>();
  const std::string path = "spec." + std::string(owner) + ".automountServiceAccountToken";
  if (!value.is_string()) throw SpecError(path + ": " + value.dump() + " is not true or false");
  std::string text = value.get<std::string>();
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "true") return true;
  if (lower == "false") return false;
  throw SpecError(path + ": \"" + text + "\" is not true or false");
}

json labels_for(const json& testrun, std::string_view component) {
  return json{{"app", "herd"},
              {std::string(kLabelTestRun), name_of(testrun)},
              {std::string(kLabelComponent), std::string(component)}};
}

/// `base` (an array or null) followed by `own`, without the entries of `base`
/// whose `key` an entry of `own` has: the component's own setting wins.
json overlay(const json& base, const json& own, std::string_view key) {
  json out = json::array();
  if (base.is_array()) {
    for (const auto& b : base) {
      bool replaced = false;
      if (own.is_array()) {
        for (const auto& o : own) replaced = replaced || (field(b, key).is_string() && field(o, key) == field(b, key));
      }
      if (!replaced) out.push_back(b);
    }
  }
  append(out, own);
  return out;
}

/// The image a pod runs: `settings`' image unless it names k6's (which cannot run herd).
std::string image_of(const json& settings) {
  std::string image = field(settings, "image").is_string() ? settings["image"].get<std::string>() : "";
  return is_k6_image(image) ? "" : image;
}

/// One Job with one pod running `herd <args>`. Every pod loads the script, so
/// each gets what the script reads from spec.runner (docs/operator.md, "What
/// each pod gets"): its image, env, envFrom, volumes and volumeMounts, with the
/// component's own settings on top. `runner_env` is spec.runner.env as this
/// component sees it (the merged outputs' settings are the coordinator's).
json make_job(const json& testrun, const std::string& job_name, std::string_view component,
              std::vector<std::string> args, const JobSettings& s, const json& runner_env,
              const json& extra_labels = json::object(), const LoadZone* zone = nullptr) {
  const json& spec = testrun.at("spec");
  const json& pod = settings_of(spec, component);
  const json& runner = field(spec, "runner");
  // The runner's own settings come from spec.runner alone (also an initializer without its own).
  static const json kNone;
  const bool own_is_runner = &pod == &runner;
  const json& base = own_is_runner ? kNone : runner;
  ScriptMount script = script_mount(spec);

  json labels = labels_for(testrun, component);
  for (auto& [k, v] : extra_labels.items()) labels[k] = v;
  json pod_labels = field(field(pod, "metadata"), "labels").is_object() ? pod["metadata"]["labels"] : json::object();
  for (auto& [k, v] : labels.items()) pod_labels[k] = v;  // ours win: the operator selects on them

  // k6-operator's starter image runs curl, not a script: the coordinator takes only its own.
  std::string image = image_of(component == "coordinator" ? field(spec, "coordinator") : pod);
  if (image.empty()) image = image_of(base);
  if (image.empty() && zone) image = zone->image;
  if (image.empty()) image = s.image;

  json env = json::array({json{{"name", "POD_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}}});
  append(env, overlay(runner_env, own_is_runner ? json() : field(pod, "env"), "name"));
  {  // ours: the TestRun this pod belongs to (runners refuse a coordinator of another one)
    json kept = json::array();
    for (const auto& e : env) {
      if (field(e, "name") != api::kRunIdEnv) kept.push_back(e);
    }
    const json& uid = field(field(testrun, "metadata"), "uid");
    if (uid.is_string()) kept.push_back(json{{"name", std::string(api::kRunIdEnv)}, {"value", uid}});
    env = kept;
  }
  json mounts = script.mounts;
  append(mounts, overlay(field(base, "volumeMounts"), field(pod, "volumeMounts"), "mountPath"));
  json env_from = field(base, "envFrom").is_array() ? base["envFrom"] : json::array();
  append(env_from, field(pod, "envFrom"));  // a later source wins a key both have
  json ports = json::array({json{{"name", "api"}, {"containerPort", kControlPort}, {"protocol", "TCP"}}});
  if (component == "runner") append(ports, field(spec, "ports"));

  json container = {{"name", "herd"},
                    {"image", image},
                    {"command", json::array({"herd"})},
                    {"args", args},
                    {"env", env},
                    {"volumeMounts", mounts},
                    {"terminationMessagePolicy", "FallbackToLogsOnError"}};
  if (component != "initializer") container["ports"] = ports;
  if (!env_from.empty()) container["envFrom"] = env_from;
  for (const char* k : {"imagePullPolicy", "resources", "readinessProbe", "livenessProbe"}) {
    if (!field(pod, k).is_null()) container[k] = pod[k];
  }
  if (!field(pod, "containerSecurityContext").is_null()) container["securityContext"] = pod["containerSecurityContext"];
  if (zone && !container.contains("resources") && !zone->resources.is_null()) container["resources"] = zone->resources;

  json volumes = script.volumes;
  append(volumes, overlay(field(base, "volumes"), field(pod, "volumes"), "name"));
  json podspec = {{"restartPolicy", "Never"}, {"containers", json::array({container})}, {"volumes", volumes}};
  for (const char* k :
       {"initContainers", "nodeSelector", "tolerations", "affinity", "topologySpreadConstraints", "serviceAccountName",
        "securityContext", "priorityClassName", "schedulerName", "imagePullSecrets"}) {
    if (!field(pod, k).is_null()) podspec[k] = pod[k];
  }
  // k6-operator spells it as a string ("false"); a PodSpec wants a boolean.
  if (auto automount = automount_token(spec, component)) podspec["automountServiceAccountToken"] = *automount;
  if (zone) {
    json selector = zone->node_selector;
    if (podspec.contains("nodeSelector")) {
      for (auto& [k, v] : podspec["nodeSelector"].items()) selector[k] = v;  // the TestRun wins a conflict
    }
    if (!selector.empty()) podspec["nodeSelector"] = selector;
    json tolerations = podspec.value("tolerations", json::array());
    append(tolerations, zone->tolerations);
    if (!tolerations.empty()) podspec["tolerations"] = tolerations;
    if (!podspec.contains("serviceAccountName") && !zone->service_account.empty()) {
      podspec["serviceAccountName"] = zone->service_account;
    }
  }

  json pod_meta = {{"labels", pod_labels}};
  if (field(field(pod, "metadata"), "annotations").is_object())
    pod_meta["annotations"] = pod["metadata"]["annotations"];

  return json{{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata",
               {{"name", job_name},
                {"namespace", namespace_of(testrun)},
                {"labels", labels},
                {"ownerReferences", json::array({owner_reference(testrun)})}}},
              {"spec",
               {{"backoffLimit", 0},
                {"completions", 1},
                {"parallelism", 1},
                {"template", {{"metadata", pod_meta}, {"spec", podspec}}}}}};
}

/// Runner environment that belongs to the coordinator's merged outputs
/// (docs/observability.md#kubernetes): the remote-write settings and k6's feature
/// flags; and the web dashboard's, which only the coordinator serves and whose
/// HTML report it writes (docs/operator.md, "HTML report and live dashboard").
bool is_coordinator_env(const std::string& name) {
  return name.starts_with("K6_PROMETHEUS_RW_") || name == "K6_FEATURES" || name.starts_with("K6_WEB_DASHBOARD");
}

/// Outputs of the merged data, the coordinator's alone: launch::is_merged_output's,
/// and the web dashboard (one page, and one report, for the whole test).
bool is_coordinator_output(std::string_view out) {
  return launch::is_merged_output(out) || out.substr(0, out.find('=')) == "web-dashboard";
}

/// K6_OUT's comma-separated outputs, split by is_coordinator_output.
std::pair<std::string, std::string> split_k6_out(const std::string& value) {
  std::string merged, others;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t comma = value.find(',', start);
    if (comma == std::string::npos) comma = value.size();
    std::string part = value.substr(start, comma - start);
    if (!part.empty()) {
      std::string& into = is_coordinator_output(part) ? merged : others;
      into += (into.empty() ? "" : ",") + part;
    }
    start = comma + 1;
  }
  return {merged, others};
}

/// spec.runner.env as the coordinator gets it: everything but K6_OUT's per-sample
/// outputs (K6_OUT keeps its merged outputs, or goes). K6_PROMETHEUS_RW_* and
/// K6_FEATURES go to the coordinator only (runner_env_without_merged_outputs).
json coordinator_env_from_runner(const json& env) {
  json out = json::array();
  if (!env.is_array()) return out;
  for (const auto& e : env) {
    if (field(e, "name") == "K6_OUT" && field(e, "value").is_string()) {
      auto [merged, others] = split_k6_out(e["value"].get<std::string>());
      if (!merged.empty()) out.push_back(json{{"name", "K6_OUT"}, {"value", merged}});
      continue;
    }
    out.push_back(e);
  }
  return out;
}

/// spec.runner.env as the runners (and the initializer) get it: without the
/// merged outputs' settings, which are the coordinator's.
json runner_env_without_merged_outputs(const json& env) {
  json kept = json::array();
  if (!env.is_array()) return kept;
  for (const auto& e : env) {
    std::string name = field(e, "name").is_string() ? e["name"].get<std::string>() : "";
    if (is_coordinator_env(name)) continue;
    if (name == "K6_OUT" && field(e, "value").is_string()) {
      auto [merged, others] = split_k6_out(e["value"].get<std::string>());
      if (others.empty()) continue;
      json copy = e;
      copy["value"] = others;
      kept.push_back(copy);
      continue;
    }
    kept.push_back(e);
  }
  return kept;
}

}  // namespace

ScriptMount script_mount(const json& spec) {
  const json& script = field(spec, "script");
  ScriptMount m;
  auto mount_at = [&](json volume_source, const std::string& file) {
    json volume = {{"name", "herd-script"}};
    volume.update(volume_source);
    m.volumes.push_back(volume);
    m.mounts.push_back(json{{"name", "herd-script"}, {"mountPath", "/test"}, {"readOnly", true}});
    m.path = "/test/" + (file.empty() ? std::string("test.js") : file);
  };
  int sources = 0;
  if (const json& cm = field(script, "configMap"); cm.is_object()) {
    ++sources;
    if (!field(cm, "name").is_string()) throw SpecError("spec.script.configMap.name: required");
    mount_at(json{{"configMap", {{"name", cm["name"]}}}}, cm.value("file", ""));
  }
  if (const json& pvc = field(script, "volumeClaim"); pvc.is_object()) {
    ++sources;
    if (!field(pvc, "name").is_string()) throw SpecError("spec.script.volumeClaim.name: required");
    mount_at(json{{"persistentVolumeClaim", {{"claimName", pvc["name"]}, {"readOnly", pvc.value("readOnly", true)}}}},
             pvc.value("file", ""));
  }
  if (const json& local = field(script, "localFile"); local.is_string()) {
    ++sources;
    m.path = local.get<std::string>();
  }
  if (sources != 1) {
    throw SpecError("spec.script: exactly one of configMap, volumeClaim and localFile must be set");
  }
  return m;
}

std::vector<std::string> user_arguments(const json& spec) {
  std::vector<std::string> out;
  if (const json& a = field(spec, "arguments"); a.is_string()) {
    try {
      out = launch::split_arguments(a.get<std::string>());  // the local TestRun backend splits the same way
    } catch (const std::invalid_argument& e) {
      throw SpecError(std::string("spec.arguments: ") + e.what());
    }
  }
  if (const json& a = field(spec, "args"); a.is_array()) {
    for (const auto& v : a) out.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

void validate_spec(const json& spec) {
  script_mount(spec);
  user_arguments(spec);
  if (const json& t = field(spec, "timeouts"); !t.is_null()) {
    if (!t.is_object()) throw SpecError("spec.timeouts: must be an object (ready, run), got " + t.dump());
    for (const auto& [key, value] : t.items()) {
      const std::string path = "spec.timeouts." + key;
      const std::string shown = value.is_string() ? "\"" + value.get<std::string>() + "\"" : value.dump();
      std::chrono::microseconds d{};
      try {
        if (!value.is_string()) throw util::DurationError(shown);
        d = util::parse_duration(value.get<std::string>());
      } catch (const util::DurationError&) {
        throw SpecError(path + ": " + shown + " is not a duration (e.g. 90s, 5m, 1h30m)");
      }
      if (key != "ready" && key != "run") throw SpecError(path + ": unknown timeout (known: ready, run)");
      if (d.count() <= 0) throw SpecError(path + ": " + shown + " must be longer than 0s");
    }
  }
  for (const char* component : {"runner", "initializer", "coordinator"}) automount_token(spec, component);
}

LoadZone load_zone(const json& plz) {
  const json& spec = field(plz, "spec");
  LoadZone z;
  if (field(spec, "nodeSelector").is_object()) z.node_selector = spec["nodeSelector"];
  if (field(spec, "tolerations").is_array()) z.tolerations = spec["tolerations"];
  if (const json& t = field(spec, "taint"); t.is_object() && field(t, "key").is_string()) {
    json tol = {{"key", t["key"]}, {"effect", t.value("effect", "NoSchedule")}};
    if (field(t, "value").is_string()) {
      tol["operator"] = "Equal";
      tol["value"] = t["value"];
    } else {
      tol["operator"] = "Exists";
    }
    z.tolerations.push_back(tol);
  }
  if (!field(spec, "resources").is_null()) z.resources = spec["resources"];
  if (field(spec, "image").is_string()) z.image = spec["image"].get<std::string>();
  if (field(spec, "serviceAccountName").is_string()) z.service_account = spec["serviceAccountName"].get<std::string>();
  if (field(spec, "maxParallelism").is_number_integer()) z.max_parallelism = spec["maxParallelism"].get<int>();
  return z;
}

std::string initializer_name(const json& testrun) {
  return name_of(testrun) + "-initializer";
}
std::string runner_name(const json& testrun, int index) {
  return name_of(testrun) + "-" + std::to_string(index);
}
std::string coordinator_name(const json& testrun) {
  return name_of(testrun) + "-coordinator";
}
std::string summary_configmap_name(const json& testrun) {
  return name_of(testrun) + "-summary";
}

json owner_reference(const json& testrun) {
  // k6.io TestRuns (--k6-io) own their children under their own group, so the
  // garbage collector finds them.
  return json{{"apiVersion", std::string(group_of(testrun)) + "/" + std::string(kVersion)},
              {"kind", "TestRun"},
              {"name", name_of(testrun)},
              {"uid", testrun.at("metadata").at("uid")},
              {"controller", true},
              {"blockOwnerDeletion", true}};
}

std::string children_selector(const json& testrun) {
  return std::string(kLabelTestRun) + "=" + name_of(testrun);
}

std::string result_hint(const json& testrun, int index) {
  const std::string ns = namespace_of(testrun), name = name_of(testrun), kubectl = "`kubectl -n " + ns + " ";
  // `tr` is herd.dev's short name; another group's TestRun is named in full.
  std::string group = field(testrun, "apiVersion").is_string() ? testrun["apiVersion"].get<std::string>() : "";
  group = group.substr(0, group.find('/'));
  const std::string resource = group.empty() || group == kGroup ? "tr" : "testruns." + group;
  return "runner " + std::to_string(index) + " of " + std::to_string(testrun.at("spec").at("parallelism").get<int>()) +
         " of TestRun " + ns + "/" + name + " ended; the merged result: " + kubectl + "logs job/" +
         coordinator_name(testrun) + "`, " + kubectl + "get cm " + summary_configmap_name(testrun) + " -o yaml`, " +
         kubectl + "describe " + resource + " " + name + "`";
}

json initializer_job(const json& testrun, const JobSettings& s) {
  const json& spec = testrun.at("spec");
  std::vector<std::string> args{"inspect", "--execution-requirements", "--result-file", "/dev/termination-log"};
  for (auto& a : user_arguments(spec)) args.push_back(a);
  args.push_back("--");
  args.push_back(script_mount(spec).path);
  return make_job(testrun, initializer_name(testrun), "initializer", args, s,
                  runner_env_without_merged_outputs(field(field(spec, "runner"), "env")));
}

json runner_job(const json& testrun, int index, const JobSettings& s, const LoadZone* zone) {
  const json& spec = testrun.at("spec");
  int n = spec.at("parallelism").get<int>();
  std::vector<std::string> args = launch::local_runner_args(index - 1, n, script_mount(spec).path,
                                                            launch::runner_passthrough_args(user_arguments(spec)));
  for (auto& a : args) {
    if (a == "127.0.0.1:0") a = "$(POD_IP):" + std::to_string(kControlPort);
  }
  json job = make_job(testrun, runner_name(testrun, index), "runner", args, s,
                      runner_env_without_merged_outputs(field(field(spec, "runner"), "env")),
                      json{{std::string(kLabelRunnerIndex), std::to_string(index)}}, zone);
  json& env = job["spec"]["template"]["spec"]["containers"][0]["env"];
  json kept = json::array();
  for (const auto& e : env) {
    if (field(e, "name") != launch::kResultHintEnv) kept.push_back(e);  // ours: it names this TestRun
  }
  kept.push_back(json{{"name", std::string(launch::kResultHintEnv)}, {"value", result_hint(testrun, index)}});
  env = kept;
  if (field(spec, "separate").is_boolean() && spec["separate"].get<bool>()) {
    json term = {
        {"labelSelector",
         {{"matchLabels", {{std::string(kLabelTestRun), name_of(testrun)}, {std::string(kLabelComponent), "runner"}}}}},
        {"topologyKey", "kubernetes.io/hostname"}};
    json& podspec = job["spec"]["template"]["spec"];
    if (!podspec.contains("affinity")) podspec["affinity"] = json::object();
    json& required = podspec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
    if (!required.is_array()) required = json::array();
    required.push_back(term);
  }
  return job;
}

json coordinator_job(const json& testrun, const std::vector<std::string>& runners, const JobSettings& s) {
  const json& spec = testrun.at("spec");
  std::string list;
  for (const auto& r : runners) list += (list.empty() ? "" : ",") + r;
  std::string ready = "5m";
  if (const json& t = field(field(spec, "timeouts"), "ready"); t.is_string()) ready = t.get<std::string>();
  std::vector<std::string> args{"coordinator",
                                "--runners",
                                list,
                                "--address",
                                "$(POD_IP):" + std::to_string(kControlPort),
                                "--linger",
                                "--linger-timeout",
                                s.linger_timeout,
                                "--result-file",
                                "/dev/termination-log",
                                "--ready-timeout",
                                ready,
                                "-q"};
  const std::vector<std::string> user = user_arguments(spec);
  for (auto& a : launch::runner_passthrough_args(user)) args.push_back(a);
  for (auto& out : launch::output_values(user)) {
    if (!is_coordinator_output(out)) continue;  // per-sample outputs: not the coordinator's
    args.push_back("--out");
    args.push_back(out);
  }
  args.push_back("--script");
  args.push_back(script_mount(spec).path);
  return make_job(testrun, coordinator_name(testrun), "coordinator", args, s,
                  coordinator_env_from_runner(field(field(spec, "runner"), "env")));
}

}  // namespace herd::op
