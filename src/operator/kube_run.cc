#include "operator/kube_run.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/yaml.h"
#include "metrics/output_stream.h"
#include "operator/jobs.h"
#include "operator/report.h"
#include "util/base64.h"
#include "util/duration.h"
#include "util/signals.h"

namespace herd::op {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kUsage =
    "usage: herd kube run SCRIPT.js|TESTRUN.yaml [flags] [-- runner flags...]\n"
    "  --parallelism N     runners (default 1, or the manifest's)\n"
    "  --namespace NS      default: the kubeconfig context's namespace\n"
    "  --kubeconfig FILE   default: $KUBECONFIG, in-cluster, ~/.kube/config\n"
    "  --name NAME         TestRun name (default: the script's name and a random suffix)\n"
    "  --separate          one runner per node\n"
    "  --timeout DURATION  give up (and clean up) after this long (default 1h)\n"
    "  --keep              keep the TestRun and its children at the end\n"
    "  --no-summary        do not print the merged summary\n"
    "  --report FILE       write the test's HTML report (the web dashboard's export, made by the\n"
    "                      coordinator and kept in the TestRun's ConfigMap) to FILE at the end\n"
    "  -q, --quiet         no progress lines\n"
    "Exit code: the test's, as herd run (0 passed, 99 thresholds failed, 97 runner lost,\n"
    "107 script error, 105 interrupted); 1 for a cluster problem, or a passed test whose --report\n"
    "could not be written; 2 for a usage error.\n";

std::atomic<int> g_interrupted{0};

/// An error that ends `herd kube run` with a given exit code (docs/operator.md).
struct ExitError : std::runtime_error {
  ExitError(int c, const std::string& what) : std::runtime_error(what), code(c) {}
  int code;
};

std::string read_file(const std::string& path, int code = 1) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ExitError(code, "cannot read " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Writes `data` to `path`, replacing it atomically (a file beside it, renamed).
void write_file(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
    out << data;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write " + path + ": " + why);
  }
}

/// A DNS-1123 name from a file name plus a random suffix.
std::string default_name(const std::string& script) {
  std::string stem = fs::path(script).stem().string(), out;
  for (char c : stem) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (std::isalnum(static_cast<unsigned char>(c)))
      out += c;
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.empty()) out = "test";
  out = out.substr(0, 40);
  std::mt19937 rng(std::random_device{}());
  const char* alnum = "abcdefghijklmnopqrstuvwxyz0123456789";
  out += '-';
  for (int i = 0; i < 5; ++i) out += alnum[rng() % 36];
  return out;
}

/// `herd archive script -O out` with this same binary.
void make_archive(const std::string& script, const std::string& out) {
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    execl("/proc/self/exe", "herd", "archive", script.c_str(), "-O", out.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {  // e.g. 107, a script error: passed on
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    throw ExitError(code, "herd archive " + script + " failed (exit " + std::to_string(code) + ")");
  }
}

std::string progress_line(const json& tr) {
  const json& st = tr.value("status", json::object());
  std::ostringstream out;
  out << "herd kube: " << st.value("stage", std::string("pending"));
  if (st.contains("runners")) {
    out << ", runners " << st["runners"].value("ready", 0) << "/" << st["runners"].value("total", 0);
  }
  if (st.contains("metrics")) {
    const json& m = st["metrics"];
    out << ", " << m.value("iterations", 0) << " iterations, " << m.value("requests", 0) << " requests";
    char buf[64];
    std::snprintf(buf, sizeof buf, ", errors %.2f%%, p95 %.1fms", 100 * m.value("failureRate", 0.0),
                  m.value("p95Ms", 0.0));
    out << buf;
  }
  return out.str();
}

int run(const std::vector<std::string>& args) {
  std::string input, ns, kubeconfig, name, timeout_text = "1h", report_path;
  int parallelism = 0;
  bool separate = false, keep = false, no_summary = false, quiet = false;
  std::vector<std::string> extra;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw std::invalid_argument(a + " needs a value");
      return args[++i];
    };
    if (a == "--") {
      extra.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--parallelism") {
      std::string v = value();
      if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos || std::stoi(v) < 1) {
        throw std::invalid_argument("--parallelism: want a whole number from 1, got '" + v + "'");
      }
      parallelism = std::stoi(v);
    } else if (a == "--namespace" || a == "-n") {
      ns = value();
    } else if (a == "--kubeconfig") {
      kubeconfig = value();
    } else if (a == "--name") {
      name = value();
    } else if (a == "--timeout") {
      timeout_text = value();
    } else if (a == "--separate") {
      separate = true;
    } else if (a == "--keep") {
      keep = true;
    } else if (a == "--report") {
      report_path = value();
      if (report_path.empty()) throw std::invalid_argument("--report: want a file name");
    } else if (a == "--no-summary") {
      no_summary = true;
    } else if (a == "-q" || a == "--quiet") {
      quiet = true;
    } else if (!a.empty() && a[0] == '-') {
      extra.push_back(a);  // a runner flag: passed through
      if (i + 1 < args.size() && args[i + 1][0] != '-' && a.find('=') == std::string::npos &&
          !fs::exists(args[i + 1])) {
        extra.push_back(args[++i]);
      }
    } else if (input.empty()) {
      input = a;
    } else {
      throw std::invalid_argument("unexpected argument " + a);
    }
  }
  if (input.empty()) throw std::invalid_argument("herd kube run needs a script or a TestRun manifest");
  std::chrono::microseconds timeout{};
  try {  // before anything is made
    timeout = util::parse_duration(timeout_text);
  } catch (const std::exception& e) {
    throw std::invalid_argument("--timeout: " + std::string(e.what()));
  }
  if (timeout.count() <= 0) throw std::invalid_argument("--timeout: want a positive duration, got " + timeout_text);
  if (!report_path.empty()) {  // as herd run checks K6_WEB_DASHBOARD_EXPORT: before the test
    if (std::string why = metrics::unwritable_reason(report_path); !why.empty())
      throw ExitError(104, "--report " + report_path + ": cannot write: " + why);
  }

  kube::ClusterConfig cfg = kube::load_default(kubeconfig);
  if (ns.empty()) ns = cfg.namespace_;
  kube::Client client(cfg);

  json tr;
  json script_cm;
  bool manifest = input.size() > 5 && (input.ends_with(".yaml") || input.ends_with(".yml"));
  if (manifest) {  // an unreadable or invalid manifest: 104, as `herd run testrun.yaml`
    try {
      tr = testrun_from_manifest(kube::parse_yaml(read_file(input, 104)));
    } catch (const ExitError&) {
      throw;
    } catch (const std::exception& e) {
      throw ExitError(104, input + ": " + e.what());
    }
    if (!name.empty()) tr["metadata"]["name"] = name;
  } else {
    if (name.empty()) name = default_name(input);
    std::string text = read_file(input, 107);  // as `herd run` with an unreadable script
    static const std::regex local_dep(R"((from\s*['"]\.{1,2}/)|(\bopen\s*\()|(require\s*\(\s*['"]\.))");
    bool archive = text.size() > 256 * 1024 || std::regex_search(text, local_dep);
    std::string file = archive ? "archive.tar" : "script.js";
    script_cm = {{"apiVersion", "v1"},
                 {"kind", "ConfigMap"},
                 {"metadata", {{"name", name + "-script"}, {"namespace", ns}, {"labels", {{"app", "herd"}}}}}};
    if (archive) {
      std::string tmp = (fs::temp_directory_path() / ("herd-kube-" + name + ".tar")).string();
      make_archive(input, tmp);
      std::string data = read_file(tmp);
      fs::remove(tmp);
      if (data.size() > 1000 * 1024) {
        throw std::runtime_error("the archive is " + std::to_string(data.size() / 1024) +
                                 " KiB; a ConfigMap holds at most 1 MiB: use a volumeClaim TestRun manifest");
      }
      script_cm["binaryData"] = {{file, util::base64_encode(data)}};
    } else {
      script_cm["data"] = {{file, text}};
    }
    tr = {{"apiVersion", "herd.dev/v1alpha1"},
          {"kind", "TestRun"},
          {"metadata", {{"name", name}}},
          {"spec", {{"parallelism", 1}, {"script", {{"configMap", {{"name", name + "-script"}, {"file", file}}}}}}}};
  }
  tr["metadata"]["namespace"] = ns;
  name = tr["metadata"]["name"];
  if (parallelism > 0) tr["spec"]["parallelism"] = parallelism;
  if (separate) tr["spec"]["separate"] = true;
  if (!extra.empty()) {
    json a = tr["spec"].value("args", json::array());
    for (const auto& e : extra) a.push_back(e);
    tr["spec"]["args"] = a;
  }
  if (!keep && !tr["spec"].contains("cleanup")) tr["spec"]["cleanup"] = "post";
  if (!report_path.empty()) request_report(tr);

  // SIGINT/SIGTERM: delete the TestRun (unless --keep) and stop watching it.
  util::block_stop_signals();
  util::SignalWatcher signals([](int, int) { g_interrupted = 1; });

  const std::string tr_path = kube::path_for(kGroup, kVersion, "testruns", ns, name);
  auto cleanup = [&] {
    if (keep) return;
    try {
      client.remove(tr_path, kube::Propagation::Foreground);
    } catch (const kube::ApiError& e) {
      if (!e.is_not_found()) std::fprintf(stderr, "herd kube: cleanup: %s\n", e.what());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "herd kube: cleanup: %s\n", e.what());
    }
    if (!script_cm.is_null()) {
      try {
        client.remove(kube::path_for("", "v1", "configmaps", ns, name + "-script"));
      } catch (const std::exception&) {
      }
    }
  };

  if (!script_cm.is_null()) {
    try {
      client.create(kube::path_for("", "v1", "configmaps", ns), script_cm);
    } catch (const kube::ApiError& e) {
      if (!e.is_already_exists()) throw;
      client.replace(kube::path_for("", "v1", "configmaps", ns, name + "-script"), script_cm);
    }
  }
  json created;
  try {
    created = client.create(kube::path_for(kGroup, kVersion, "testruns", ns), tr);
  } catch (const std::exception& e) {
    if (!script_cm.is_null()) {
      try {
        client.remove(kube::path_for("", "v1", "configmaps", ns, name + "-script"));
      } catch (const std::exception&) {
      }
    }
    // The API server refused the spec (schema, CEL rule): an invalid spec.
    if (auto* api = dynamic_cast<const kube::ApiError*>(&e); api && api->is_invalid()) throw ExitError(107, e.what());
    throw;
  }
  if (!script_cm.is_null()) {  // the script goes with the TestRun when it is deleted
    client.patch(kube::path_for("", "v1", "configmaps", ns, name + "-script"),
                 json{{"metadata", {{"ownerReferences", json::array({owner_reference(created)})}}}});
  }
  if (!quiet) std::fprintf(stderr, "herd kube: created TestRun %s/%s\n", ns.c_str(), name.c_str());

  auto deadline = std::chrono::steady_clock::now() + timeout;

  std::string last;
  json status;
  while (true) {
    if (g_interrupted) {
      std::fprintf(stderr, "herd kube: interrupted: deleting TestRun %s/%s\n", ns.c_str(), name.c_str());
      keep = false;
      cleanup();
      return 105;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "herd kube: error: no result after --timeout %s\n", timeout_text.c_str());
      cleanup();
      return 1;
    }
    json cur;
    try {
      cur = client.get(tr_path);
    } catch (const kube::ApiError& e) {
      if (e.is_not_found()) {
        std::fprintf(stderr, "herd kube: error: TestRun %s/%s was deleted\n", ns.c_str(), name.c_str());
        return 1;
      }
      throw;
    } catch (const kube::TransportError& e) {
      std::fprintf(stderr, "herd kube: %s (retrying)\n", e.what());
      std::this_thread::sleep_for(1s);
      continue;
    }
    status = cur.value("status", json::object());
    std::string line = progress_line(cur);
    if (!quiet && line != last) std::fprintf(stderr, "%s\n", line.c_str());
    last = line;
    std::string stage = status.value("stage", std::string());
    if (stage == "finished" || stage == "error") break;
    std::this_thread::sleep_for(1s);
  }

  if (status.contains("summaryConfigMap") && !no_summary) {
    try {
      json cm = client.get(kube::path_for("", "v1", "configmaps", ns, status["summaryConfigMap"].get<std::string>()));
      std::string text = cm.value("data", json::object()).value("summary.txt", std::string());
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "herd kube: cannot read the summary: %s\n", e.what());
    }
  }
  int code = exit_code_of(status);
  if (!report_path.empty()) {
    try {
      json cm;
      const json& r = status.value("report", json::object());
      if (r.contains("configMap") && r["configMap"].is_string())
        cm = client.get(kube::path_for("", "v1", "configmaps", ns, r["configMap"].get<std::string>()));
      write_file(report_path, report_from(status, cm));
      if (!quiet) std::fprintf(stderr, "herd kube: report written to %s\n", report_path.c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "herd kube: error: --report %s: %s\n", report_path.c_str(), e.what());
      if (code == 0) code = 1;  // as herd run when its report cannot be written
    }
  }
  std::string message = status.value("message", std::string());
  if (message.find("exit code") == std::string::npos) message += " (exit code " + std::to_string(code) + ")";
  std::fprintf(stderr, "herd kube: TestRun %s/%s %s: %s\n", ns.c_str(), name.c_str(),
               status.value("stage", std::string()).c_str(), message.c_str());
  cleanup();
  return code;
}

}  // namespace

json testrun_from_manifest(const json& manifest) {
  if (!manifest.is_object()) throw std::invalid_argument("the manifest is not a YAML object");
  std::string api = manifest.value("apiVersion", std::string());
  std::string kind = manifest.value("kind", std::string());
  if (api != "herd.dev/v1alpha1" && api != "k6.io/v1alpha1") {
    throw std::invalid_argument("apiVersion: want herd.dev/v1alpha1 (or k6.io/v1alpha1), got '" + api + "'");
  }
  if (kind != "TestRun" && kind != "K6") throw std::invalid_argument("kind: want TestRun, got '" + kind + "'");
  if (!manifest.contains("metadata") || !manifest["metadata"].contains("name")) {
    throw std::invalid_argument("metadata.name: required");
  }
  if (!manifest.contains("spec") || !manifest["spec"].is_object()) throw std::invalid_argument("spec: required");
  json tr = manifest;
  tr["apiVersion"] = "herd.dev/v1alpha1";
  tr["kind"] = "TestRun";
  tr.erase("status");
  return tr;
}

void request_report(json& tr) {
  json& spec = tr["spec"];
  if (!spec.contains("runner") || !spec["runner"].is_object()) spec["runner"] = json::object();
  json& env = spec["runner"]["env"];
  if (!env.is_array()) env = json::array();
  auto find = [&](const char* name) -> json* {
    for (auto& e : env)
      if (e.is_object() && e.value("name", std::string()) == name) return &e;
    return nullptr;
  };
  auto value_of = [](const json* e) {
    return e && e->contains("value") && (*e)["value"].is_string() ? (*e)["value"].get<std::string>() : std::string();
  };
  const std::string on = value_of(find("K6_WEB_DASHBOARD"));
  if (on != "true" && on != "1") {
    if (json* e = find("K6_WEB_DASHBOARD")) {
      *e = json{{"name", "K6_WEB_DASHBOARD"}, {"value", "true"}};
    } else {
      env.push_back(json{{"name", "K6_WEB_DASHBOARD"}, {"value", "true"}});
    }
    if (!find("K6_WEB_DASHBOARD_PORT")) env.push_back(json{{"name", "K6_WEB_DASHBOARD_PORT"}, {"value", "-1"}});
  }
  if (json* e = find("K6_WEB_DASHBOARD_EXPORT"); !e || value_of(e).empty()) {
    json entry = {{"name", "K6_WEB_DASHBOARD_EXPORT"}, {"value", "herd-report.html"}};
    if (e)
      *e = entry;
    else
      env.push_back(entry);
  }
}

std::string report_from(const json& status, const json& configmap) {
  if (!status.contains("report") || !status["report"].is_object()) {
    throw std::runtime_error("the TestRun has no report: the coordinator wrote none (its log says why)");
  }
  const json& r = status["report"];
  if (!r.contains("configMap")) {
    throw std::runtime_error(r.value("message", std::string("the report was not stored")));
  }
  std::string key = r.value("key", std::string(kReportKey));
  const json& binary = configmap.value("binaryData", json::object());
  if (!binary.contains(key) || !binary[key].is_string()) {
    throw std::runtime_error("the ConfigMap " + r["configMap"].get<std::string>() + " has no " + key);
  }
  std::string gz;
  if (!util::base64_decode(binary[key].get<std::string>(), false, &gz)) {
    throw std::runtime_error("the ConfigMap's " + key + " is not base64");
  }
  auto html = gunzip(gz);
  if (!html) throw std::runtime_error("the ConfigMap's " + key + " is not valid gzip");
  return *html;
}

int exit_code_of(const json& status) {
  if (status.contains("exitCode") && status["exitCode"].is_number_integer() && status["exitCode"].get<int>() >= 0) {
    return status["exitCode"].get<int>();
  }
  std::string result = status.value("result", std::string());
  if (result == "passed") return 0;
  if (result == "failed") return 99;
  for (const auto& c : status.value("conditions", json::array())) {
    if (c.value("type", std::string()) != "Finished") continue;
    std::string reason = c.value("reason", std::string());
    // The script or the spec: more runners than the script's VUs can be split into is invalid too.
    if (reason == "InitializerFailed" || reason == "InvalidSpec" || reason == "InvalidParallelism") return 107;
    if (reason == "RunnerFailed" || reason == "RunnersNotReady" || reason == "CoordinatorNotReady") return 97;
  }
  return 1;  // the cluster: InitializerTimeout, LoadZone*, CoordinatorFailed/Lost, RunTimeout
}

int kube_main(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] != "run") {
    std::fprintf(stderr, "herd: error: unknown kube subcommand '%s'\n%s", args[0].c_str(), kUsage);
    return 2;
  }
  try {
    return run(std::vector<std::string>(args.begin() + 1, args.end()));
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "herd: error: %s\n%s", e.what(), kUsage);
    return 2;
  } catch (const ExitError& e) {
    std::fprintf(stderr, "herd: error: %s\n", e.what());
    return e.code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "herd: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace herd::op
