#include "operator/controller.h"

#include <cstdio>
#include <set>

#include "kube/leader.h"
#include "operator/k6io.h"
#include "operator/status.h"

namespace herd::op {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

/// "jobs" from ".../namespaces/perf/jobs"; `ns` gets "perf" ("" for every namespace).
std::string resource_of(const std::string& path, std::string* ns = nullptr) {
  std::string resource = path.substr(path.rfind('/') + 1);
  if (ns) {
    auto p = path.find("/namespaces/");
    *ns = p == std::string::npos ? "" : path.substr(p + 12, path.find('/', p + 12) - (p + 12));
  }
  return resource;
}

std::string describe(const std::string& path) {
  std::string ns, resource = resource_of(path, &ns);
  return ns.empty() ? resource : resource + " in namespace " + ns;
}

std::string prometheus_escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return out;
}

}  // namespace

Controller::Controller(const kube::Client& client, ControllerOptions options)
    : client_(client), options_(std::move(options)), events_(client, "herd-operator") {
  if (!options_.reconcile.first_live_write) {
    options_.reconcile.first_live_write = [this](const std::string& uid) {
      std::lock_guard<std::mutex> g(live_mu_);
      return live_written_.insert(uid).second;
    };
  }
  if (!options_.reconcile.http) {
    poller_ = std::make_unique<CoordinatorPoller>([this](const std::string& key) { queue_.add(key); });
    options_.reconcile.http = [this](const std::string& key, const std::string& method, const std::string& url,
                                     const std::string& body,
                                     bool keep) { return poller_->call(key, method, url, body, keep); };
  }
}

Controller::~Controller() {
  stop();
}

void Controller::start() {
  if (started_.exchange(true)) return;
  std::vector<std::string> namespaces = options_.namespaces;
  if (namespaces.empty()) namespaces.push_back("");
  // The key of a TestRun carries its group (k6.io TestRuns with --k6-io): testrun_key.
  auto on_testrun =
      kube::InformerHandlers{[this](const kube::Object& o) { queue_.add(testrun_key(*o)); },
                             [this](const kube::Object&, const kube::Object& o) { queue_.add(testrun_key(*o)); },
                             [this](const kube::Object& o) { queue_.add(testrun_key(*o)); }};
  std::vector<std::string_view> groups{kGroup};
  if (options_.k6io) groups.push_back(kK6Group);
  // Each informer reports its failed lists and watches (a missing RBAC verb is a 403 here).
  auto with_errors = [this](kube::InformerHandlers h, const std::string& path) {
    h.on_error = [this, path](const kube::InformerError& e) { note_informer_error(path, e); };
    return h;
  };
  auto on_child = kube::InformerHandlers{[this](const kube::Object& o) { enqueue_owner(o); },
                                         [this](const kube::Object&, const kube::Object& o) { enqueue_owner(o); },
                                         [this](const kube::Object& o) { enqueue_owner(o); }};
  for (const auto& ns : namespaces) {
    for (auto group : groups) {
      kube::InformerOptions tr{testruns_path(ns, "", group)};
      tr.resync = 30s;
      testruns_.push_back(std::make_unique<kube::Informer>(client_, tr, with_errors(on_testrun, tr.path)));
    }
    kube::InformerOptions jobs{kube::path_for("batch", "v1", "jobs", ns)};
    jobs.label_selector = std::string(kLabelTestRun);
    jobs_.push_back(std::make_unique<kube::Informer>(client_, jobs, with_errors(on_child, jobs.path)));
    kube::InformerOptions pods{kube::path_for("", "v1", "pods", ns)};
    pods.label_selector = std::string(kLabelTestRun);
    pods_.push_back(std::make_unique<kube::Informer>(client_, pods, with_errors(on_child, pods.path)));
    auto on_zone = [this](const kube::Object& o) { queue_.add("zone:" + testrun_key(*o)); };
    for (auto group : groups) {
      const std::string zones = kube::path_for(group, kVersion, "privateloadzones", ns);
      zones_.push_back(std::make_unique<kube::Informer>(
          client_, kube::InformerOptions{zones},
          with_errors(
              kube::InformerHandlers{on_zone, [on_zone](const kube::Object&, const kube::Object& o) { on_zone(o); },
                                     nullptr},
              zones)));
    }
  }
  // Nodes only feed PrivateLoadZone status: a missing permission must not stop TestRuns.
  auto on_node = [this](const kube::Object&) { enqueue_zones(); };
  const std::string nodes = kube::path_for("", "v1", "nodes");
  nodes_ = std::make_unique<kube::Informer>(
      client_, kube::InformerOptions{nodes},
      with_errors(kube::InformerHandlers{on_node, [on_node](const kube::Object&, const kube::Object& o) { on_node(o); },
                                         on_node},
                  nodes));
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
  poller_.reset();  // after the workers: nobody calls it any more
}

void Controller::enqueue_zones() {
  for (const auto& inf : zones_) {
    for (const auto& zone : inf->store().list()) queue_.add("zone:" + testrun_key(*zone));
  }
}

std::chrono::milliseconds Controller::reconcile_zone(std::string_view group, const std::string& ns,
                                                     const std::string& name) {
  const std::string path = kube::path_for(group, kVersion, "privateloadzones", ns, name);
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

void Controller::note_informer_error(const std::string& path, const kube::InformerError& e) {
  const std::string resource = resource_of(path);
  std::string hint;
  if (e.code == 403) hint = " (the operator's RBAC role needs list and watch on " + resource + ")";
  // Logged before it is counted: whoever sees the count finds the line in the log.
  std::fprintf(stderr, "herd operator: %s %s failed, HTTP %s, retrying: %s%s\n", e.verb.c_str(), describe(path).c_str(),
               e.code ? std::to_string(e.code).c_str() : "none (no answer)", e.message.c_str(), hint.c_str());
  std::lock_guard lock(errors_mu_);
  ++informer_errors_[{resource, e.code}];
}

std::map<std::pair<std::string, long>, std::uint64_t> Controller::informer_errors() const {
  std::lock_guard lock(errors_mu_);
  return informer_errors_;
}

Readiness Controller::readiness() const {
  if (!started_) return {false, "the controller has not started"};
  std::string reason;
  for (auto* group : {&testruns_, &jobs_, &pods_}) {
    for (auto& i : *group) {
      if (i->has_synced()) continue;
      if (!reason.empty()) reason += "\n";
      reason += describe(i->options().path) + ": not synced";
      if (auto e = i->last_error()) {
        reason +=
            ": " + e->verb + " failed with HTTP " + (e->code ? std::to_string(e->code) : "none") + ": " + e->message;
      } else {
        reason += " yet";
      }
    }
  }
  return {reason.empty(), reason};
}

std::string Controller::metrics_text(bool leading) const {
  auto counter = [](const char* name, const char* help, std::uint64_t value) {
    return std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " +
           std::to_string(value) + "\n";
  };
  std::string out = counter("herd_operator_reconciles_total", "Reconciles of TestRuns.", stats_.reconciles.load());
  out += counter("herd_operator_reconcile_errors_total", "Reconciles that failed and were retried.",
                 stats_.reconcile_errors.load());
  out += counter("herd_operator_reconcile_conflicts_total",
                 "Reconciles that met a 409 Conflict and were requeued to recompute from the fresh object.",
                 stats_.conflicts.load());
  out += counter("herd_operator_stage_changes_total", "TestRun stage transitions.", stats_.stage_changes.load());
  out +=
      "# HELP herd_operator_informer_errors_total Failed lists and watches by resource and HTTP status (0 = no "
      "answer).\n"
      "# TYPE herd_operator_informer_errors_total counter\n";
  for (const auto& [key, n] : informer_errors()) {
    out += "herd_operator_informer_errors_total{resource=\"" + prometheus_escape(key.first) + "\",code=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
  }
  out += std::string(
             "# HELP herd_operator_leader 1 when this replica is the leader.\n"
             "# TYPE herd_operator_leader gauge\n"
             "herd_operator_leader ") +
         (leading ? "1" : "0") +
         "\n"
         "# HELP herd_operator_workqueue_depth Keys waiting in the work queue.\n"
         "# TYPE herd_operator_workqueue_depth gauge\n"
         "herd_operator_workqueue_depth " +
         std::to_string(queue_depth()) +
         "\n"
         "# HELP herd_operator_testruns TestRuns by stage.\n"
         "# TYPE herd_operator_testruns gauge\n";
  for (const auto& [stage, n] : stages()) {
    out += "herd_operator_testruns{stage=\"" + prometheus_escape(stage) + "\"} " + std::to_string(n) + "\n";
  }
  return out;
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
  std::string name = label_of(*child, kLabelTestRun);
  if (name.empty()) return;
  const json& meta = child->at("metadata");
  const std::string ns = meta.value("namespace", std::string("default"));
  // A Job's owner reference names its TestRun's group (herd.dev or k6.io); a Pod's
  // owner is its Job, so its TestRun is looked up by name in the caches.
  bool found = false;
  for (const auto& ref : meta.value("ownerReferences", json::array())) {
    if (ref.value("kind", std::string()) != "TestRun") continue;
    queue_.add(testrun_key(group_of_api_version(ref.value("apiVersion", std::string())), ns, name));
    found = true;
  }
  if (!found) {
    for (const auto& inf : testruns_) {
      if (auto tr = inf->store().get(ns + "/" + name)) {
        queue_.add(testrun_key(*tr));
        found = true;
      }
    }
  }
  if (!found) queue_.add(testrun_key(kGroup, ns, name));
}

void Controller::worker() {
  // Reconciling from half-filled caches would misread the children (a missing
  // coordinator pod looks deleted): wait until every informer has listed.
  while (!synced() && !stopped_) std::this_thread::sleep_for(50ms);
  if (!stopped_ && !synced_logged_.exchange(true)) {  // with the time: the log has no timestamps of its own
    std::fprintf(stderr, "herd operator: caches synced (%s)\n",
                 kube::micro_time(std::chrono::system_clock::now()).c_str());
  }
  while (auto key = queue_.get()) {
    ++stats_.reconciles;
    try {
      auto again = reconcile(*key);
      queue_.forget(*key);
      if (again.count() > 0) queue_.add_after(*key, again);
    } catch (const kube::ApiError& e) {
      ++stats_.reconcile_errors;
      if (e.is_conflict()) {
        ++stats_.conflicts;  // the TestRun changed under us: recompute from the fresh object after a backoff
        std::fprintf(stderr, "herd operator: reconcile %s: conflict, the object changed (requeued)\n", key->c_str());
      } else {
        std::fprintf(stderr, "herd operator: reconcile %s: %s (retrying)\n", key->c_str(), e.what());
      }
      queue_.add_rate_limited(*key);
    } catch (const std::exception& e) {
      ++stats_.reconcile_errors;
      std::fprintf(stderr, "herd operator: reconcile %s: %s (retrying)\n", key->c_str(), e.what());
      queue_.add_rate_limited(*key);
    }
    queue_.done(*key);
  }
}

TestRunChildren Controller::children_of(const json& testrun) const {
  TestRunChildren c;
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
      if (pod["metadata"].value("namespace", std::string()) != ns || label_of(pod, kLabelTestRun) != name) continue;
      bool ours = false;
      for (const auto& ref : pod["metadata"].value("ownerReferences", json::array())) {
        ours = ours || job_uids.count(ref.value("uid", std::string()));
      }
      if (!ours) continue;
      std::string component = label_of(pod, kLabelComponent);
      if (component == "initializer") c.initializer = pod;
      if (component == "coordinator") c.coordinator = pod;
      if (component == "runner") {
        try {
          c.runners[std::stoi(label_of(pod, kLabelRunnerIndex))].push_back(pod);
        } catch (const std::exception&) {
        }
      }
    }
  }
  return c;
}

std::chrono::milliseconds Controller::reconcile(const std::string& key) {
  const bool zone = key.rfind("zone:", 0) == 0;
  auto [group, ns_name] = split_testrun_key(zone ? key.substr(5) : key);
  auto slash = ns_name.find('/');
  std::string ns = ns_name.substr(0, slash), name = ns_name.substr(slash + 1);
  if (zone) return reconcile_zone(group, ns, name);
  json tr;
  try {
    tr = client_.get(testruns_path(ns, name, group));
  } catch (const kube::ApiError& e) {
    if (e.is_not_found()) return 0ms;  // deleted: the garbage collector removes its children
    throw;
  }
  if (tr["metadata"].contains("deletionTimestamp")) return 0ms;
  TestRunChildren kids = children_of(tr);
  return TestRunReconciler(client_, events_, options_.reconcile, stats_.stage_changes, std::move(tr), std::move(kids))
      .run();
}

}  // namespace herd::op
