#include "operator/controller.h"

#include <cstdio>
#include <set>

#include "coord/coordinator.h"
#include "operator/status.h"

namespace herd::op {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

std::pair<long, std::string> coordinator_http(const std::string& method, const std::string& url,
                                              const std::string& body) {
  auto r = coord::control_request(method, url, body.empty() ? nullptr : &body);
  return {r.status, std::move(r.body)};
}

}  // namespace

Controller::Controller(const kube::Client& client, ControllerOptions options)
    : client_(client), options_(std::move(options)), events_(client, "herd-operator") {
  if (!options_.reconcile.http) options_.reconcile.http = coordinator_http;
}

Controller::~Controller() {
  stop();
}

void Controller::start() {
  if (started_.exchange(true)) return;
  std::vector<std::string> namespaces = options_.namespaces;
  if (namespaces.empty()) namespaces.push_back("");
  auto on_testrun =
      kube::InformerHandlers{[this](const kube::Object& o) { queue_.add(kube::object_key(*o)); },
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
  std::string name = label_of(*child, kLabelTestRun);
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
  auto slash = key.find('/');
  if (key.rfind("zone:", 0) == 0) return reconcile_zone(key.substr(5, slash - 5), key.substr(slash + 1));
  std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
  json tr;
  try {
    tr = client_.get(testruns_path(ns, name));
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
