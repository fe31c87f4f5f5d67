#include "operator/controller.h"

#include <curl/curl.h>

#include <cstdio>
#include <set>

#include "operator/status.h"
#include "util/duration.h"

namespace herd::op {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

std::string testruns_path(const std::string& ns, const std::string& name = "") {
  return kube::path_for(kGroup, kVersion, "testruns", ns, name);
}

std::pair<long, std::string> curl_http(const std::string& method, const std::string& url, const std::string& body) {
  CURL* h = curl_easy_init();
  if (!h) return {0, "curl_easy_init failed"};
  std::string out;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_slist* headers = nullptr;
  if (!body.empty()) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* u) {
    static_cast<std::string*>(u)->append(p, s * n);
    return s * n;
  });
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
  long code = 0;
  if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  return {code, out};
}

std::chrono::milliseconds duration_field(const json& spec, const char* key, std::chrono::milliseconds fallback) {
  auto t = spec.value("timeouts", json::object());
  if (!t.contains(key) || !t[key].is_string()) return fallback;
  try {
    return std::chrono::duration_cast<std::chrono::milliseconds>(util::parse_duration(t[key].get<std::string>()));
  } catch (const std::exception&) {
    return fallback;
  }
}

std::string label(const json& obj, std::string_view key) {
  const json& labels = obj.value("metadata", json::object()).value("labels", json::object());
  auto it = labels.find(std::string(key));
  return it != labels.end() && it->is_string() ? it->get<std::string>() : "";
}

bool owned_by(const json& obj, const std::string& uid) {
  for (const auto& ref : obj.value("metadata", json::object()).value("ownerReferences", json::array())) {
    if (ref.value("uid", std::string()) == uid) return true;
  }
  return false;
}

/// Headline metrics from a k6-shaped GET /v1/metrics answer (live progress).
json live_metrics(const json& metrics) {
  json m = json::object();
  for (const auto& item : metrics.value("data", json::array())) {
    std::string id = item.value("id", std::string());
    const json& sample = item.value("attributes", json::object()).value("sample", json::object());
    auto num = [&](const char* k) { return sample.contains(k) && sample[k].is_number() ? sample[k].get<double>() : 0.0; };
    if (id == "iterations") m["iterations"] = static_cast<std::int64_t>(num("count"));
    if (id == "http_reqs") m["requests"] = static_cast<std::int64_t>(num("count"));
    if (id == "http_req_failed") m["failureRate"] = num("rate");
    if (id == "checks") m["checksRate"] = num("rate");
    if (id == "vus_max") m["vusMax"] = static_cast<std::int64_t>(num("value"));
    if (id == "http_req_duration") {
      m["avgMs"] = num("avg");
      m["p95Ms"] = num("p(95)");
    }
  }
  return m;
}

constexpr const char* kStopBody = R"({"data":{"type":"status","id":"default","attributes":{"stopped":true}}})";

/// When the condition `type` became True, if it is True.
std::optional<Clock::time_point> condition_since(const json& status, const std::string& type) {
  for (const auto& c : status.value("conditions", json::array())) {
    if (c.value("type", std::string()) == type && c.value("status", std::string()) == "True") {
      return parse_time(c.value("lastTransitionTime", std::string()));
    }
  }
  return std::nullopt;
}

}  // namespace

struct Controller::Children {
  std::vector<json> jobs;
  json initializer;                       ///< its pod, or null
  std::map<int, std::vector<json>> runners;  ///< index (1-based) -> pods
  json coordinator;                       ///< its pod, or null
  std::set<std::string> job_names;
};

Controller::Controller(const kube::Client& client, ControllerOptions options)
    : client_(client), options_(std::move(options)), events_(client, "herd-operator") {
  if (!options_.http) options_.http = curl_http;
}

Controller::~Controller() { stop(); }

void Controller::start() {
  if (started_.exchange(true)) return;
  std::vector<std::string> namespaces = options_.namespaces;
  if (namespaces.empty()) namespaces.push_back("");
  auto on_testrun = kube::InformerHandlers{
      [this](const kube::Object& o) { queue_.add(kube::object_key(*o)); },
      [this](const kube::Object&, const kube::Object& o) { queue_.add(kube::object_key(*o)); },
      [this](const kube::Object& o) { queue_.add(kube::object_key(*o)); }};
  auto on_child = kube::InformerHandlers{[this](const kube::Object& o) { enqueue_owner(o); },
                                         [this](const kube::Object&, const kube::Object& o) { enqueue_owner(o); },
                                         [this](const kube::Object& o) { enqueue_owner(o); }};
  for (const auto& ns : namespaces) {
    kube::InformerOptions tr{testruns_path(ns)};
    tr.resync = 30s;
    testruns_.push_back(std::make_unique<kube::Informer>(client_, tr, on_testrun));
    kube::InformerOptions jobs{kube::path_for("batch", "v1", "jobs", ns)};
    jobs.label_selector = std::string(kLabelTestRun);
    jobs_.push_back(std::make_unique<kube::Informer>(client_, jobs, on_child));
    kube::InformerOptions pods{kube::path_for("", "v1", "pods", ns)};
    pods.label_selector = std::string(kLabelTestRun);
    pods_.push_back(std::make_unique<kube::Informer>(client_, pods, on_child));
    auto on_zone = [this](const kube::Object& o) { queue_.add("zone:" + kube::object_key(*o)); };
    zones_.push_back(std::make_unique<kube::Informer>(
        client_, kube::InformerOptions{kube::path_for(kGroup, kVersion, "privateloadzones", ns)},
        kube::InformerHandlers{on_zone, [on_zone](const kube::Object&, const kube::Object& o) { on_zone(o); },
                               nullptr}));
  }
  // Nodes only feed PrivateLoadZone status: a missing permission must not stop TestRuns.
  auto on_node = [this](const kube::Object&) { enqueue_zones(); };
  nodes_ = std::make_unique<kube::Informer>(
      client_, kube::InformerOptions{kube::path_for("", "v1", "nodes")},
      kube::InformerHandlers{on_node, [on_node](const kube::Object&, const kube::Object& o) { on_node(o); }, on_node});
  for (auto* group : {&testruns_, &jobs_, &pods_, &zones_}) {
    for (auto& i : *group) i->start();
  }
  nodes_->start();
  for (int i = 0; i < std::max(1, options_.workers); ++i) workers_.emplace_back([this] { worker(); });
}

void Controller::stop() {
  if (!started_ || stopped_.exchange(true)) return;
  queue_.shutdown();
  for (auto& w : workers_) w.join();
  for (auto* group : {&testruns_, &jobs_, &pods_, &zones_}) {
    for (auto& i : *group) i->stop();
  }
  if (nodes_) nodes_->stop();
}

void Controller::enqueue_zones() {
  for (const auto& inf : zones_) {
    for (const auto& key : inf->store().keys()) queue_.add("zone:" + key);
  }
}

std::chrono::milliseconds Controller::reconcile_zone(const std::string& ns, const std::string& name) {
  const std::string path = kube::path_for(kGroup, kVersion, "privateloadzones", ns, name);
  json zone;
  try {
    zone = client_.get(path);
  } catch (const kube::ApiError& e) {
    if (e.is_not_found()) return 0ms;
    throw;
  }
  const json selector = zone["spec"].value("nodeSelector", json::object());
  const json taint = zone["spec"].value("taint", json::object());
  int nodes = 0, ready = 0, tainted = 0;
  for (const auto& n : nodes_->store().list()) {
    const json labels = (*n)["metadata"].value("labels", json::object());
    bool match = !selector.empty();
    for (auto& [k, v] : selector.items()) match = match && labels.contains(k) && labels[k] == v;
    if (!match) continue;
    ++nodes;
    bool is_ready = !(*n)["spec"].value("unschedulable", false);
    bool has_ready = false;
    for (const auto& c : (*n)["status"].value("conditions", json::array())) {
      if (c.value("type", std::string()) == "Ready") has_ready = c.value("status", std::string()) == "True";
    }
    if (is_ready && has_ready) ++ready;
    for (const auto& t : (*n)["spec"].value("taints", json::array())) {
      if (taint.contains("key") && t.value("key", std::string()) == taint["key"]) {
        ++tainted;
        break;
      }
    }
  }
  json status = zone.value("status", json::object());
  const json original = status;
  status["nodes"] = nodes;
  status["readyNodes"] = ready;
  status["taintedNodes"] = tainted;
  std::int64_t generation = zone["metadata"].value("generation", std::int64_t{1});
  status["observedGeneration"] = generation;
  // Keep the transition time when nothing changed, so an unchanged zone writes nothing.
  set_condition(status, "Ready", ready > 0, ready > 0 ? "NodesReady" : "NoReadyNodes",
                std::to_string(ready) + " of " + std::to_string(nodes) + " matching nodes are ready", Clock::now(),
                generation);
  if (status != original) {
    zone["status"] = status;
    client_.update_status(path, zone);
  }
  return 0ms;
}

bool Controller::synced() const {
  for (auto* group : {&testruns_, &jobs_, &pods_}) {
    for (auto& i : *group) {
      if (!i->has_synced()) return false;
    }
  }
  return started_;
}

std::map<std::string, int> Controller::stages() const {
  std::map<std::string, int> out;
  for (const auto& i : testruns_) {
    for (const auto& o : i->store().list()) {
      ++out[o->value("status", json::object()).value("stage", std::string("pending"))];
    }
  }
  return out;
}

void Controller::enqueue_owner(const kube::Object& child) {
  std::string name = label(*child, kLabelTestRun);
  if (name.empty()) return;
  queue_.add(child->at("metadata").value("namespace", std::string("default")) + "/" + name);
}

void Controller::worker() {
  // Reconciling from half-filled caches would misread the children (a missing
  // coordinator pod looks deleted): wait until every informer has listed.
  while (!synced() && !stopped_) std::this_thread::sleep_for(50ms);
  while (auto key = queue_.get()) {
    ++stats_.reconciles;
    try {
      auto again = reconcile(*key);
      queue_.forget(*key);
      if (again.count() > 0) queue_.add_after(*key, again);
    } catch (const std::exception& e) {
      ++stats_.reconcile_errors;
      std::fprintf(stderr, "herd operator: reconcile %s: %s (retrying)\n", key->c_str(), e.what());
      queue_.add_rate_limited(*key);
    }
    queue_.done(*key);
  }
}

Controller::Children Controller::children_of(const json& testrun) const {
  Children c;
  std::string ns = testrun["metadata"].value("namespace", std::string("default"));
  std::string name = testrun["metadata"]["name"];
  std::string uid = testrun["metadata"]["uid"];
  std::set<std::string> job_uids;
  for (const auto& inf : jobs_) {
    for (const auto& j : inf->store().list()) {
      if ((*j)["metadata"].value("namespace", std::string()) != ns || !owned_by(*j, uid)) continue;
      c.jobs.push_back(*j);
      c.job_names.insert((*j)["metadata"]["name"]);
      job_uids.insert((*j)["metadata"]["uid"]);
    }
  }
  for (const auto& inf : pods_) {
    for (const auto& p : inf->store().list()) {
      const json& pod = *p;
      if (pod["metadata"].value("namespace", std::string()) != ns || label(pod, kLabelTestRun) != name) continue;
      bool ours = false;
      for (const auto& ref : pod["metadata"].value("ownerReferences", json::array())) {
        ours = ours || job_uids.count(ref.value("uid", std::string()));
      }
      if (!ours) continue;
      std::string component = label(pod, kLabelComponent);
      if (component == "initializer") c.initializer = pod;
      if (component == "coordinator") c.coordinator = pod;
      if (component == "runner") {
        try {
          c.runners[std::stoi(label(pod, kLabelRunnerIndex))].push_back(pod);
        } catch (const std::exception&) {
        }
      }
    }
  }
  return c;
}

std::chrono::milliseconds Controller::reconcile(const std::string& key) {
  if (key.rfind("zone:", 0) == 0) {
    auto slash = key.find('/');
    return reconcile_zone(key.substr(5, slash - 5), key.substr(slash + 1));
  }
  auto slash = key.find('/');
  std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
  json tr;
  try {
    tr = client_.get(testruns_path(ns, name));
  } catch (const kube::ApiError& e) {
    if (e.is_not_found()) return 0ms;  // deleted: the garbage collector removes its children
    throw;
  }
  if (tr["metadata"].contains("deletionTimestamp")) return 0ms;
  const json& spec = tr["spec"];
  const json original = tr.value("status", json::object());
  json status = original;
  auto now = Clock::now();
  std::int64_t generation = tr["metadata"].value("generation", std::int64_t{1});
  std::string stage = status.value("stage", std::string());
  std::string uid = tr["metadata"]["uid"];
  if (!status.contains("testRunId")) {
    status["testRunId"] = spec.value("testRunId", std::string()).empty() ? uid : spec["testRunId"].get<std::string>();
  }
  status["observedGeneration"] = generation;
  Children kids = children_of(tr);
  auto ready_timeout = duration_field(spec, "ready", 5min);
  auto run_timeout = duration_field(spec, "run", 0ms);
  std::chrono::milliseconds again = 0ms;

  auto write_status = [&] {
    if (status == original) return;
    json obj = tr;
    obj["status"] = status;
    for (int attempt = 0;; ++attempt) {
      try {
        client_.update_status(testruns_path(ns, name), obj);
        return;
      } catch (const kube::ApiError& e) {
        if (!e.is_conflict() || attempt >= 5) throw;
        obj = client_.get(testruns_path(ns, name));  // someone else wrote: keep our status on their version
        obj["status"] = status;
      }
    }
  };
  auto set_stage = [&](const std::string& s, const std::string& reason, const std::string& message) {
    if (status.value("stage", std::string()) == s) return;
    status["stage"] = s;
    status["message"] = message;
    ++stats_.stage_changes;
    events_.record(tr, s == "error" ? kube::kEventWarning : kube::kEventNormal, reason, message);
  };
  auto create_job = [&](const json& job) {
    std::string job_name = job["metadata"]["name"];
    if (kids.job_names.count(job_name)) return true;
    try {
      client_.create(kube::path_for("batch", "v1", "jobs", ns), job);
      return true;
    } catch (const kube::ApiError& e) {
      if (!e.is_already_exists()) throw;
      json existing = client_.get(kube::path_for("batch", "v1", "jobs", ns, job_name));
      if (owned_by(existing, uid)) return true;  // made by an earlier reconcile; the cache is behind
      // Left over from an earlier TestRun of the same name, being garbage-collected: wait for it.
      return false;
    }
  };
  auto delete_children = [&] {
    for (const auto& j : kids.jobs) {
      try {
        client_.remove(kube::path_for("batch", "v1", "jobs", ns, j["metadata"]["name"].get<std::string>()),
                       kube::Propagation::Background);
      } catch (const kube::ApiError& e) {
        if (!e.is_not_found()) throw;
      }
    }
  };
  auto fail = [&](const std::string& reason, const std::string& message) {
    set_stage("error", reason, message);
    if (!status.contains("result") || status["result"] == "passed") status["result"] = "error";
    status["completionTime"] = format_time(now);
    set_condition(status, "Finished", false, reason, message, now, generation);
    write_status();
    delete_children();  // nothing is left running
    return 0ms;
  };
  auto coordinator_url = [&](const std::string& path) {
    return "http://" + kids.coordinator["status"].value("podIP", std::string()) + ":" + std::to_string(kControlPort) +
           path;
  };
  // The summary from the coordinator -> ConfigMap + status. True when stored.
  auto collect_summary = [&](const json& summary) {
    json cm = {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata",
                {{"name", summary_configmap_name(tr)},
                 {"namespace", ns},
                 {"labels", {{"app", "herd"}, {std::string(kLabelTestRun), name}}},
                 {"ownerReferences", json::array({owner_reference(tr)})}}},
               {"data",
                {{"summary.txt", summary.value("text", std::string())},
                 {"summary.json", summary.value("data", json::object()).dump(2)},
                 {"result.json", json{{"result", summary.value("result", "")},
                                      {"exitCode", summary.value("exitCode", -1)},
                                      {"partial", summary.value("partial", false)},
                                      {"message", summary.value("message", "")}}
                                     .dump()}}}};
    try {
      client_.create(kube::path_for("", "v1", "configmaps", ns), cm);
    } catch (const kube::ApiError& e) {
      if (!e.is_already_exists()) throw;
      client_.replace(kube::path_for("", "v1", "configmaps", ns, summary_configmap_name(tr)), cm);
    }
    status["summaryConfigMap"] = summary_configmap_name(tr);
    int code = summary.value("exitCode", -1);
    status["exitCode"] = code;
    status["result"] = summary.value("result", result_for_exit_code(code));
    if (summary.contains("thresholds")) status["thresholds"] = summary["thresholds"];
    status["metrics"] = status_metrics(summary.value("metrics", json::object()));
  };
  auto finish_from = [&](const json& summary, bool have_summary_cm) {
    if (have_summary_cm) collect_summary(summary);
    int code = summary.value("exitCode", -1);
    status["exitCode"] = code;
    status["result"] = summary.value("result", result_for_exit_code(code));
    if (summary.contains("thresholds")) status["thresholds"] = summary["thresholds"];
    if (summary.contains("metrics")) status["metrics"] = status_metrics(summary["metrics"]);
    std::string result = status["result"];
    if (result == "error") {
      std::string msg = summary.value("message", std::string("the test ended with exit code " + std::to_string(code)));
      // Name the runner pod that failed, if one did.
      for (const auto& [i, pods] : kids.runners) {
        for (const auto& p : pods) {
          if (auto f = pod_failure(p)) msg += "; " + *f;
        }
      }
      return fail("TestFailed", msg);
    }
    set_stage("finished", "Finished",
              "the test " + result + " (exit code " + std::to_string(code) + ")");
    status["completionTime"] = format_time(now);
    set_condition(status, "Finished", true, result == "passed" ? "Passed" : "Failed",
                  "result " + result, now, generation);
    write_status();
    std::string cleanup = spec.value("cleanup", std::string());
    if (cleanup == "post" || (cleanup == "onSuccess" && result == "passed")) delete_children();
    return 0ms;
  };

  if (stage == "finished" || stage == "error") {
    // Level-triggered cleanup: whatever is left of a finished run is deleted once more.
    std::string cleanup = spec.value("cleanup", std::string());
    std::string result = status.value("result", std::string());
    if (stage == "error" || cleanup == "post" || (cleanup == "onSuccess" && result == "passed")) delete_children();
    write_status();
    return 0ms;
  }

  // Failures of any child end the run at once, except a lost runner during the
  // test: the coordinator notices it and reports the partial result first.
  for (const json* pod : {&kids.initializer, &kids.coordinator}) {
    if (pod->is_null()) continue;
    if (auto f = pod_failure(*pod)) {
      if (pod == &kids.initializer) {
        std::string raw;
        json msg = termination_message(*pod, &raw);
        std::string text = msg.is_object() && msg.contains("error") ? msg["error"].get<std::string>() : *f;
        status["exitCode"] = msg.is_object() ? msg.value("exitCode", 107) : 107;
        return fail("InitializerFailed", "the script is invalid: " + text);
      }
      std::string raw;
      json result = termination_message(*pod, &raw);
      if (result.is_object() && result.contains("exitCode")) return finish_from(result, false);
      return fail("CoordinatorFailed", *f);
    }
  }
  for (const auto& [i, pods] : kids.runners) {
    for (const auto& p : pods) {
      if (auto f = pod_failure(p)) {
        if (stage == "started" && !kids.coordinator.is_null()) {
          // Give the coordinator a moment to report the partial result.
          auto since = condition_since(status, "RunnerLost");
          if (!since) {
            set_condition(status, "RunnerLost", true, "RunnerFailed", *f, now, generation);
          } else if (now - *since > 30s) {
            return fail("RunnerFailed", *f);
          }
          again = 1s;
        } else {
          return fail("RunnerFailed", *f);
        }
      }
    }
  }
  if (run_timeout.count() > 0 && status.contains("startTime")) {
    if (auto start = parse_time(status["startTime"]); start && now - *start > run_timeout + 60s) {
      return fail("RunTimeout", "the run did not end within spec.timeouts.run (" +
                                    spec["timeouts"]["run"].get<std::string>() + ") and a stop");
    }
  }

  int parallelism = spec.value("parallelism", 1);
  if (stage.empty() || stage == "initialization") {
    try {
      script_mount(spec);
      user_arguments(spec);
    } catch (const SpecError& e) {
      return fail("InvalidSpec", e.what());
    }
    if (stage.empty()) {
      set_stage("initialization", "Initializing", "inspecting the script");
      set_condition(status, "Initialized", false, "Initializing", "the initializer is running", now, generation);
    }
    if (!create_job(initializer_job(tr, options_.jobs))) {
      status["message"] = "waiting for the Jobs of an earlier TestRun named " + name + " to be deleted";
      write_status();
      return 1s;
    }
    if (kids.initializer.is_null()) {
      write_status();
      return options_.poll;
    }
    if (!pod_succeeded(kids.initializer)) {
      auto created = parse_time(kids.initializer["metadata"].value("creationTimestamp", std::string()));
      if (!pod_running(kids.initializer) && created && now - *created > ready_timeout) {
        return fail("InitializerTimeout", pod_pending_reason(kids.initializer) +
                                              " (spec.timeouts.ready " + util::format_duration(ready_timeout) + ")");
      }
      write_status();
      return options_.poll;
    }
    std::string raw;
    json req = termination_message(kids.initializer, &raw);
    if (!req.is_object()) return fail("InitializerFailed", "the initializer reported no result: " + raw);
    if (req.contains("error")) {
      status["exitCode"] = req.value("exitCode", 107);
      return fail("InitializerFailed", "the script is invalid: " + req["error"].get<std::string>());
    }
    std::int64_t max_vus = req.value("maxVUs", std::int64_t{0});
    if (max_vus > 0 && parallelism > max_vus) {
      return fail("InvalidParallelism", "spec.parallelism " + std::to_string(parallelism) +
                                            " is larger than the script's maximum VUs (" + std::to_string(max_vus) +
                                            "): some runners would have nothing to do");
    }
    set_stage("initialized", "Initialized",
              "the script is valid: max " + std::to_string(max_vus) + " VUs, " + req.value("totalDuration", "?"));
    set_condition(status, "Initialized", true, "ScriptValid", status["message"], now, generation);
    stage = "initialized";
  }

  if (stage == "initialized") {
    std::unique_ptr<LoadZone> zone;
    if (spec.contains("privateLoadZone") && spec["privateLoadZone"].is_string()) {
      std::string zname = spec["privateLoadZone"];
      try {
        zone = std::make_unique<LoadZone>(load_zone(client_.get(kube::path_for(kGroup, kVersion, "privateloadzones", ns, zname))));
      } catch (const kube::ApiError& e) {
        if (!e.is_not_found()) throw;
        return fail("LoadZoneNotFound", "spec.privateLoadZone: PrivateLoadZone " + ns + "/" + zname + " does not exist");
      }
      if (zone->max_parallelism > 0 && parallelism > zone->max_parallelism) {
        return fail("LoadZoneTooSmall", "spec.parallelism " + std::to_string(parallelism) + " is larger than the " +
                                            "maxParallelism " + std::to_string(zone->max_parallelism) +
                                            " of PrivateLoadZone " + zname);
      }
    }
    for (int i = 1; i <= parallelism; ++i) {
      if (!create_job(runner_job(tr, i, options_.jobs, zone.get()))) return 1s;
    }
    set_stage("created", "RunnersCreated", std::to_string(parallelism) + " runners created");
    status["runners"] = {{"total", parallelism}, {"ready", 0}, {"finished", 0}};
    write_status();
    return options_.poll;
  }

  // created / started / stopped: runners exist.
  int ready = 0, finished = 0;
  json pod_names = json::array();
  std::vector<std::string> addresses;
  std::string not_ready;
  for (int i = 1; i <= parallelism; ++i) {
    auto it = kids.runners.find(i);
    const json* pod = it == kids.runners.end() || it->second.empty() ? nullptr : &it->second.back();
    if (pod) pod_names.push_back((*pod)["metadata"]["name"]);
    if (pod && pod_running(*pod)) {
      ++ready;
      addresses.push_back((*pod)["status"]["podIP"].get<std::string>() + ":" + std::to_string(kControlPort));
    } else if (pod && pod_succeeded(*pod)) {
      ++finished;
    } else if (not_ready.empty()) {
      not_ready = pod ? pod_pending_reason(*pod) : "runner " + std::to_string(i) + " has no pod yet";
    }
  }
  status["runners"] = {{"total", parallelism}, {"ready", ready}, {"finished", finished}, {"pods", pod_names}};

  if (stage == "created") {
    if (ready < parallelism) {
      std::optional<Clock::time_point> since;
      for (const auto& j : kids.jobs) {
        if (label(j, kLabelComponent) != "runner") continue;
        auto t = parse_time(j["metadata"].value("creationTimestamp", std::string()));
        if (t && (!since || *t < *since)) since = t;
      }
      if (since && now - *since > ready_timeout) {
        return fail("RunnersNotReady", "runners not ready after spec.timeouts.ready (" +
                                           util::format_duration(ready_timeout) + "): " + not_ready);
      }
      write_status();
      return options_.poll;
    }
    // spec.paused: herd always starts runners paused and releases them together.
    if (!create_job(coordinator_job(tr, addresses, options_.jobs))) return 1s;
    if (kids.coordinator.is_null() || !pod_running(kids.coordinator)) {
      auto created = kids.coordinator.is_null()
                         ? std::nullopt
                         : parse_time(kids.coordinator["metadata"].value("creationTimestamp", std::string()));
      if (created && now - *created > ready_timeout) {
        return fail("CoordinatorNotReady", pod_pending_reason(kids.coordinator));
      }
      write_status();
      return options_.poll;
    }
    set_stage("started", "Started", std::to_string(parallelism) + " runners and the coordinator are running");
    status["startTime"] = format_time(now);
    set_condition(status, "Started", true, "CoordinatorRunning", "the coordinator releases the runners together", now,
                  generation);
    stage = "started";
  }

  // started / stopped: follow the coordinator.
  if (kids.coordinator.is_null()) return fail("CoordinatorLost", "the coordinator pod disappeared");
  if (!pod_running(kids.coordinator)) {
    std::string raw;
    json result = termination_message(kids.coordinator, &raw);
    if (result.is_object() && result.contains("exitCode")) return finish_from(result, false);
    if (pod_succeeded(kids.coordinator)) return fail("CoordinatorFailed", "the coordinator ended without a result");
    write_status();
    return options_.poll;
  }
  auto [code, body] = options_.http("GET", coordinator_url("/v1/summary"), "");
  if (code == 200) {
    json summary = json::parse(body, nullptr, false);
    if (summary.is_object()) {
      set_stage("stopped", "Stopped", "the runners have ended");
      auto r = finish_from(summary, true);
      options_.http("PATCH", coordinator_url("/v1/status"), kStopBody);
      return r;
    }
  }
  auto [mcode, mbody] = options_.http("GET", coordinator_url("/v1/metrics"), "");
  if (mcode == 200) {
    json live = json::parse(mbody, nullptr, false);
    if (!live.is_discarded()) status["metrics"] = live_metrics(live);
  }
  if (run_timeout.count() > 0 && status.contains("startTime")) {
    auto start = parse_time(status["startTime"]);
    if (start && now - *start > run_timeout && !condition_since(status, "StopRequested")) {
      options_.http("PATCH", coordinator_url("/v1/status"), kStopBody);
      set_condition(status, "StopRequested", true, "RunTimeout", "spec.timeouts.run reached: stopping the test", now,
                    generation);
      status["message"] = "spec.timeouts.run reached: stopping the test";
    }
  }
  write_status();
  return again.count() ? again : options_.poll;
}

}  // namespace herd::op
