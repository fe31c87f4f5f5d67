#include "operator/reconciler.h"

#include <cstdio>

#include "operator/k6io.h"
#include "operator/report.h"
#include "util/duration.h"

namespace herd::op {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* kStopBody = R"({"data":{"type":"status","id":"default","attributes":{"stopped":true}}})";

std::chrono::milliseconds duration_field(const json& spec, const char* key, std::chrono::milliseconds fallback) {
  auto t = spec.value("timeouts", json::object());
  if (!t.contains(key) || !t[key].is_string()) return fallback;
  try {
    return std::chrono::duration_cast<std::chrono::milliseconds>(util::parse_duration(t[key].get<std::string>()));
  } catch (const std::exception&) {
    return fallback;
  }
}

/// When the condition `type` became True, if it is True.
std::optional<Clock::time_point> condition_since(const json& status, const std::string& type) {
  for (const auto& c : status.value("conditions", json::array())) {
    if (c.value("type", std::string()) == type && c.value("status", std::string()) == "True") {
      return parse_time(c.value("lastTransitionTime", std::string()));
    }
  }
  return std::nullopt;
}

std::optional<Clock::time_point> created_at(const json& object) {
  return parse_time(object.value("metadata", json::object()).value("creationTimestamp", std::string()));
}

/// Headline metrics from a k6-shaped GET /v1/metrics answer (live progress).
json live_metrics(const json& metrics) {
  json m = json::object();
  for (const auto& item : metrics.value("data", json::array())) {
    std::string id = item.value("id", std::string());
    const json& sample = item.value("attributes", json::object()).value("sample", json::object());
    auto num = [&](const char* k) {
      return sample.contains(k) && sample[k].is_number() ? sample[k].get<double>() : 0.0;
    };
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

}  // namespace

std::optional<std::string> start_skew_text(const json& start) {
  if (!start.is_object() || !start.contains("skewMs") || !start["skewMs"].is_number()) return std::nullopt;
  double ms = start["skewMs"].get<double>();
  if (!(ms >= 0) || ms > 1e9) return std::nullopt;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3fms", ms);
  return std::string(buf);
}

std::string testruns_path(const std::string& ns, const std::string& name, std::string_view group) {
  return kube::path_for(group, kVersion, "testruns", ns, name);
}

std::string label_of(const json& obj, std::string_view key) {
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

TestRunReconciler::TestRunReconciler(const kube::Client& client, kube::EventRecorder& events,
                                     const ReconcilerOptions& options, std::atomic<std::uint64_t>& stage_changes,
                                     json testrun, TestRunChildren children)
    : client_(client),
      events_(events),
      options_(options),
      stage_changes_(stage_changes),
      tr_(std::move(testrun)),
      spec_(tr_["spec"]),
      kids_(std::move(children)),
      ns_(tr_["metadata"].value("namespace", std::string("default"))),
      name_(tr_["metadata"]["name"].get<std::string>()),
      uid_(tr_["metadata"]["uid"].get<std::string>()),
      original_(tr_.value("status", json::object())),
      status_(original_),
      stage_(status_.value("stage", std::string())),
      now_(options.now()),
      generation_(tr_["metadata"].value("generation", std::int64_t{1})),
      parallelism_(spec_.value("parallelism", 1)),
      ready_timeout_(duration_field(spec_, "ready", 5min)),
      run_timeout_(duration_field(spec_, "run", 0ms)) {
  if (!status_.contains("testRunId")) {
    std::string id = spec_.value("testRunId", std::string());
    status_["testRunId"] = id.empty() ? uid_ : id;
  }
  status_["observedGeneration"] = generation_;
}

std::chrono::milliseconds TestRunReconciler::run() {
  if (stage_ == "finished" || stage_ == "error") return ended();
  try {  // at every stage: a spec edited into something invalid is not run on defaults
    validate_spec(spec_);
  } catch (const SpecError& e) {
    return fail("InvalidSpec", e.what());
  }
  if (auto done = check_children()) return *done;
  if (stage_.empty() || stage_ == "initialization") {
    ms r = initialization();
    if (stage_ != "initialized") return r;
  }
  if (stage_ == "initialized") return initialized();

  // created / started / stopped: the runners exist.
  int ready = 0, finished = 0;
  json pod_names = json::array();
  std::vector<std::string> addresses;
  std::string not_ready;
  for (int i = 1; i <= parallelism_; ++i) {
    auto it = kids_.runners.find(i);
    const json* pod = it == kids_.runners.end() || it->second.empty() ? nullptr : &it->second.back();
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
  status_["runners"] = {{"total", parallelism_}, {"ready", ready}, {"finished", finished}, {"pods", pod_names}};
  if (stage_ == "created") {
    ms r = created(addresses, not_ready, ready);
    if (stage_ != "started") return r;
  }
  return started();
}

std::optional<std::chrono::milliseconds> TestRunReconciler::check_children() {
  // Failures of any child end the run at once, except a lost runner during the
  // test: the coordinator notices it and reports the partial result first.
  if (!kids_.initializer.is_null()) {
    if (auto f = pod_failure(kids_.initializer)) {
      json msg = termination_message(kids_.initializer);
      std::string text = msg.is_object() && msg.contains("error") ? msg["error"].get<std::string>() : *f;
      status_["exitCode"] = msg.is_object() ? msg.value("exitCode", 107) : 107;
      return fail("InitializerFailed", "the script is invalid: " + text);
    }
  }
  if (!kids_.coordinator.is_null()) {
    if (auto f = pod_failure(kids_.coordinator)) {
      json result = termination_message(kids_.coordinator);
      if (result.is_object() && result.contains("exitCode")) return finish(result);
      return fail("CoordinatorFailed", *f);
    }
  }
  if (std::string f = runner_failures(); !f.empty()) {
    if (stage_ != "started" || kids_.coordinator.is_null()) return fail("RunnerFailed", f);
    // Give the coordinator a moment to report the partial result.
    auto since = condition_since(status_, "RunnerLost");
    if (!since) {
      set_condition(status_, "RunnerLost", true, "RunnerFailed", f, now_, generation_);
    } else if (now_ - *since > 30s) {
      return fail("RunnerFailed", f);
    }
    again_ = 1s;
  }
  if (run_timeout_.count() > 0 && status_.contains("startTime")) {
    if (auto start = parse_time(status_["startTime"]); start && now_ - *start > run_timeout_ + 60s) {
      return fail("RunTimeout", "the run did not end within spec.timeouts.run (" +
                                    spec_["timeouts"]["run"].get<std::string>() + ") and a stop");
    }
  }
  return std::nullopt;
}

std::chrono::milliseconds TestRunReconciler::initialization() {
  if (stage_.empty()) {
    set_stage("initialization", "Initializing", "inspecting the script");
    set_condition(status_, "Initialized", false, "Initializing", "the initializer is running", now_, generation_);
  }
  if (!create_job(initializer_job(tr_, options_.jobs))) return 1s;
  const json& pod = kids_.initializer;
  if (pod.is_null() || !pod_succeeded(pod)) {
    auto created = pod.is_null() ? std::nullopt : created_at(pod);
    if (created && !pod_running(pod) && now_ - *created > ready_timeout_) {
      return fail("InitializerTimeout",
                  pod_pending_reason(pod) + " (spec.timeouts.ready " + util::format_duration(ready_timeout_) + ")");
    }
    write_status();
    return options_.poll;
  }
  std::string raw;
  json req = termination_message(pod, &raw);
  if (!req.is_object()) return fail("InitializerFailed", "the initializer reported no result: " + raw);
  if (req.contains("error")) {
    status_["exitCode"] = req.value("exitCode", 107);
    return fail("InitializerFailed", "the script is invalid: " + req["error"].get<std::string>());
  }
  std::int64_t max_vus = req.value("maxVUs", std::int64_t{0});
  if (max_vus > 0 && parallelism_ > max_vus) {
    return fail("InvalidParallelism", "spec.parallelism " + std::to_string(parallelism_) +
                                          " is larger than the script's maximum VUs (" + std::to_string(max_vus) +
                                          "): some runners would have nothing to do");
  }
  set_stage("initialized", "Initialized",
            "the script is valid: max " + std::to_string(max_vus) + " VUs, " + req.value("totalDuration", "?"));
  set_condition(status_, "Initialized", true, "ScriptValid", status_["message"], now_, generation_);
  return 0ms;
}

std::chrono::milliseconds TestRunReconciler::initialized() {
  std::optional<LoadZone> zone;
  if (spec_.contains("privateLoadZone") && spec_["privateLoadZone"].is_string()) {
    std::string zname = spec_["privateLoadZone"];
    try {
      zone = load_zone(client_.get(kube::path_for(group_of(tr_), kVersion, "privateloadzones", ns_, zname)));
    } catch (const kube::ApiError& e) {
      if (!e.is_not_found()) throw;
      return fail("LoadZoneNotFound", "spec.privateLoadZone: PrivateLoadZone " + ns_ + "/" + zname + " does not exist");
    }
    if (zone->max_parallelism > 0 && parallelism_ > zone->max_parallelism) {
      return fail("LoadZoneTooSmall", "spec.parallelism " + std::to_string(parallelism_) +
                                          " is larger than the maxParallelism " +
                                          std::to_string(zone->max_parallelism) + " of PrivateLoadZone " + zname);
    }
  }
  for (int i = 1; i <= parallelism_; ++i) {
    if (!create_job(runner_job(tr_, i, options_.jobs, zone ? &*zone : nullptr))) return 1s;
  }
  set_stage("created", "RunnersCreated", std::to_string(parallelism_) + " runners created");
  status_["runners"] = {{"total", parallelism_}, {"ready", 0}, {"finished", 0}};
  write_status();
  return options_.poll;
}

std::chrono::milliseconds TestRunReconciler::created(const std::vector<std::string>& addresses,
                                                     const std::string& not_ready, int ready) {
  if (ready < parallelism_) {
    std::optional<Clock::time_point> since;
    for (const auto& j : kids_.jobs) {
      if (label_of(j, kLabelComponent) != "runner") continue;
      auto t = created_at(j);
      if (t && (!since || *t < *since)) since = t;
    }
    if (since && now_ - *since > ready_timeout_) {
      return fail("RunnersNotReady", "runners not ready after spec.timeouts.ready (" +
                                         util::format_duration(ready_timeout_) + "): " + not_ready);
    }
    write_status();
    return options_.poll;
  }
  // spec.paused: herd always starts runners paused and releases them together.
  if (!create_job(coordinator_job(tr_, addresses, options_.jobs))) return 1s;
  const json& pod = kids_.coordinator;
  if (pod.is_null() || !pod_running(pod)) {
    auto created = pod.is_null() ? std::nullopt : created_at(pod);
    if (created && now_ - *created > ready_timeout_) return fail("CoordinatorNotReady", pod_pending_reason(pod));
    write_status();
    return options_.poll;
  }
  set_stage("started", "Started", std::to_string(parallelism_) + " runners and the coordinator are running");
  status_["startTime"] = format_time(now_);
  set_condition(status_, "Started", true, "CoordinatorRunning", "the coordinator releases the runners together", now_,
                generation_);
  return 0ms;
}

std::chrono::milliseconds TestRunReconciler::started() {
  const json& pod = kids_.coordinator;
  if (pod.is_null()) return fail("CoordinatorLost", "the coordinator pod disappeared");
  if (!pod_running(pod)) {
    json result = termination_message(pod);
    if (result.is_object() && result.contains("exitCode")) return finish(result);
    if (pod_succeeded(pod)) return fail("CoordinatorFailed", "the coordinator ended without a result");
    write_status();
    return options_.poll;
  }
  // Answers still under way are read by the pass their arrival triggers.
  // The summary's answer is kept (it no longer changes) while the report's is awaited.
  if (auto summary_answer = coordinator_http("GET", "/v1/summary", "", true);
      summary_answer && summary_answer->first == 200) {
    json summary = json::parse(summary_answer->second, nullptr, false);
    if (summary.is_object()) {
      // The HTML report, if the test asked for one (404 if not): read before the coordinator is let go.
      auto report = coordinator_http("GET", "/v1/report", "", true);
      if (!report) {  // its answer brings the TestRun back
        write_status();
        return options_.poll;
      }
      set_stage("stopped", "Stopped", "the runners have ended");
      store_summary(summary, *report);
      ms r = finish(summary);
      coordinator_http("PATCH", "/v1/status", kStopBody);  // ends its linger; nobody waits for the answer
      return r;
    }
  }
  if (auto metrics = coordinator_http("GET", "/v1/metrics"); metrics && metrics->first == 200) {
    json live = json::parse(metrics->second, nullptr, false);
    if (!live.is_discarded()) update_live_metrics(live_metrics(live));
  }
  if (!status_.contains("startSkew")) {  // known once the coordinator has released the runners
    if (auto start = coordinator_http("GET", "/v1/start"); start && start->first == 200) {
      note_start(json::parse(start->second, nullptr, false));
    }
  }
  if (run_timeout_.count() > 0 && status_.contains("startTime")) {
    auto start = parse_time(status_["startTime"]);
    if (start && now_ - *start > run_timeout_ && !condition_since(status_, "StopRequested")) {
      coordinator_http("PATCH", "/v1/status", kStopBody);
      set_condition(status_, "StopRequested", true, "RunTimeout", "spec.timeouts.run reached: stopping the test", now_,
                    generation_);
      status_["message"] = "spec.timeouts.run reached: stopping the test";
    }
  }
  write_status();
  return again_.count() ? again_ : options_.poll;
}

std::chrono::milliseconds TestRunReconciler::ended() {
  // Level-triggered clean-up: whatever is left of a finished run is deleted again.
  if (stage_ == "error" || cleanup_wanted()) delete_children();
  final_runner_counts();
  write_status();
  return 0ms;
}

std::chrono::milliseconds TestRunReconciler::fail(const std::string& reason, const std::string& message) {
  set_stage("error", reason, message);
  if (!status_.contains("result") || status_["result"] == "passed") status_["result"] = "error";
  status_["completionTime"] = format_time(now_);
  set_condition(status_, "Finished", false, reason, message, now_, generation_);
  // Ended before the script was found valid: Initialized says why, not "the initializer is running".
  if (!condition_since(status_, "Initialized")) {
    set_condition(status_, "Initialized", false, reason, message, now_, generation_);
  }
  write_status();
  delete_children();  // nothing is left running
  return 0ms;
}

std::chrono::milliseconds TestRunReconciler::finish(const json& result) {
  int code = result.value("exitCode", -1);
  status_["exitCode"] = code;
  status_["result"] = result.value("result", result_for_exit_code(code));
  if (result.contains("thresholds")) status_["thresholds"] = result["thresholds"];
  if (result.contains("metrics")) status_["metrics"] = status_metrics(result["metrics"]);
  if (!status_.contains("startSkew") && result.contains("start")) note_start(result["start"]);
  if (result.contains("generators")) {
    status_["generators"] = status_generators(result["generators"]);
    if (std::string names = saturated_generators(status_["generators"]); !names.empty())
      events_.record(tr_, kube::kEventWarning, "GeneratorSaturated",
                     names + ": saturated long enough to distort its latencies (docs/generator-health.md)");
  }
  std::string outcome = status_["result"];
  if (outcome == "error") {
    std::string msg = result.value("message", std::string("the test ended with exit code " + std::to_string(code)));
    if (std::string f = runner_failures(); !f.empty()) msg += "; " + f;  // name the runner that failed, if one did
    return fail("TestFailed", msg);
  }
  std::string crossed;  // the thresholds that failed, named briefly
  for (const auto& t : status_.value("thresholds", json::array())) {
    if (t.value("ok", true)) continue;
    crossed += (crossed.empty() ? ": thresholds crossed: " : ", ") + t.value("metric", std::string("?")) + " " +
               t.value("expression", std::string("?"));
  }
  // Anything but passed is a non-zero exit (a Failed coordinator Job): a Warning.
  std::string event = outcome == "passed"    ? "Finished"
                      : outcome == "aborted" ? "Aborted"
                      : crossed.empty()      ? "Failed"
                                             : "ThresholdsFailed";
  set_stage("finished", event, "the test " + outcome + " (exit code " + std::to_string(code) + ")" + crossed,
            outcome != "passed");
  status_["completionTime"] = format_time(now_);
  set_condition(status_, "Finished", true, outcome == "passed" ? "Passed" : "Failed", "result " + outcome, now_,
                generation_);
  write_status();
  if (cleanup_wanted()) delete_children();
  return 0ms;
}

void TestRunReconciler::store_summary(const json& summary, const std::pair<long, std::string>& report) {
  const std::string cm_name = summary_configmap_name(tr_);
  json result = {{"result", summary.value("result", "")},
                 {"exitCode", summary.value("exitCode", -1)},
                 {"partial", summary.value("partial", false)},
                 {"message", summary.value("message", "")}};
  if (auto skew = start_skew_text(summary.value("start", json()))) result["startSkew"] = *skew;
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata",
              {{"name", cm_name},
               {"namespace", ns_},
               {"labels", {{"app", "herd"}, {std::string(kLabelTestRun), name_}}},
               {"ownerReferences", json::array({owner_reference(tr_)})}}},
             {"data",
              {{"summary.txt", summary.value("text", std::string())},
               {"summary.json", summary.value("data", json::object()).dump(2)},
               {"result.json", result.dump()}}}};
  ReportPlan plan = plan_report(tr_, cm, report, owner_reference(tr_));
  auto put = [&](const json& configmap) {  // created, or replaced if it exists
    try {
      client_.create(kube::path_for("", "v1", "configmaps", ns_), configmap);
    } catch (const kube::ApiError& e) {
      if (!e.is_already_exists()) throw;
      client_.replace(kube::path_for("", "v1", "configmaps", ns_, configmap["metadata"]["name"].get<std::string>()),
                      configmap);
    }
  };
  bool stored = false;
  if (!plan.summary_binary.is_null()) {
    try {  // the API server is the judge of what fits: a refused report leaves the summary alone
      json with_report = cm;
      with_report["binaryData"] = plan.summary_binary;
      put(with_report);
      stored = true;
    } catch (const kube::ApiError& e) {
      if (!e.is_invalid()) throw;
      report_refused(plan, cm_name, e.what());
    }
  }
  if (!stored) put(cm);
  status_["summaryConfigMap"] = cm_name;
  if (!plan.own_configmap.is_null()) {
    try {
      put(plan.own_configmap);
    } catch (const kube::ApiError& e) {
      if (!e.is_invalid()) throw;
      report_refused(plan, plan.own_configmap["metadata"]["name"].get<std::string>(), e.what());
    }
  }
  if (!plan.status.is_null()) status_["report"] = plan.status;
  if (!plan.warning.empty()) events_.record(tr_, kube::kEventWarning, plan.warning_reason, plan.warning);
}

void TestRunReconciler::note_start(const json& start) {
  auto skew = start_skew_text(start);
  if (!skew) return;
  status_["startSkew"] = *skew;
  // One line per run (the status keeps it, so a restarted operator does not repeat it).
  std::fprintf(stderr, "herd operator: TestRun %s/%s started: %lld runners released together, start skew %s\n",
               ns_.c_str(), name_.c_str(), static_cast<long long>(start.value("runners", std::int64_t{0})),
               skew->c_str());
}

void TestRunReconciler::set_stage(const std::string& stage, const std::string& reason, const std::string& message,
                                  bool warning) {
  if (status_.value("stage", std::string()) == stage) return;
  stage_ = stage;
  status_["stage"] = stage;
  status_["message"] = message;
  ++stage_changes_;
  events_.record(tr_, stage == "error" || warning ? kube::kEventWarning : kube::kEventNormal, reason, message);
}

void TestRunReconciler::update_live_metrics(json live) {
  // Every status write is a line in `kubectl get tr -w`: live metrics are written
  // when a printed column (iterations, requests) changed, at most every 10 s.
  auto start = parse_time(status_.value("startTime", std::string()));
  if (!start) return;
  double elapsed = static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(now_ - *start).count());
  const json& old = status_.value("metrics", json::object());
  if (old.value("iterations", json()) == live.value("iterations", json()) &&
      old.value("requests", json()) == live.value("requests", json())) {
    return;
  }
  bool resume = options_.first_live_write && options_.first_live_write(uid_);
  if (!resume && old.contains("durationSeconds") && elapsed - old.value("durationSeconds", 0.0) < 10) return;
  live["durationSeconds"] = elapsed;
  status_["metrics"] = std::move(live);
}

void TestRunReconciler::final_runner_counts() {
  if (!status_.contains("runners") || !status_["runners"].is_object()) return;  // no runner was made
  int ready = 0, finished = 0, failed = 0;
  for (const auto& [i, pods] : kids_.runners) {
    if (pods.empty()) continue;
    const json& pod = pods.back();
    if (pod_failure(pod))
      ++failed;
    else if (pod_succeeded(pod))
      ++finished;
    else if (pod_running(pod))
      ++ready;
  }
  // A deleted Pod is no longer counted, but a runner that ended stays ended.
  json& r = status_["runners"];
  r["ready"] = ready;
  r["finished"] = std::max(finished, r.value("finished", 0));
  if (failed > 0 || r.contains("failed")) r["failed"] = std::max(failed, r.value("failed", 0));
}

void TestRunReconciler::write_status() {
  if (status_ == original_) return;
  // The Pod names alone change nothing a user sees: they go with the next write.
  json without_pods = status_;
  if (without_pods.contains("runners") && without_pods["runners"].is_object()) {
    auto& r = without_pods["runners"];
    const json& before = original_.value("runners", json::object());
    if (before.contains("pods")) {
      r["pods"] = before["pods"];
    } else {
      r.erase("pods");
    }
  }
  if (without_pods == original_) return;
  json obj = tr_;
  obj["status"] = status_;
  // A 409 Conflict (someone wrote a newer version since we read it) propagates:
  // this status was computed from the old one, so the caller requeues with
  // backoff and the next pass recomputes it from the fresh object.
  client_.update_status(testruns_path(ns_, name_, group_of(tr_)), obj);
  original_ = status_;
}

bool TestRunReconciler::create_job(const json& job) {
  std::string job_name = job["metadata"]["name"];
  if (kids_.job_names.count(job_name)) return true;
  try {
    client_.create(kube::path_for("batch", "v1", "jobs", ns_), job);
    return true;
  } catch (const kube::ApiError& e) {
    if (!e.is_already_exists()) throw;
    json existing = client_.get(kube::path_for("batch", "v1", "jobs", ns_, job_name));
    // Ours: made by an earlier pass (the cache is behind). Not ours: left by an
    // earlier TestRun of the same name and being garbage-collected: wait.
    if (owned_by(existing, uid_)) return true;
    wait_for_earlier_jobs();
    return false;
  }
}

void TestRunReconciler::wait_for_earlier_jobs() {
  json list = client_.list(kube::path_for("batch", "v1", "jobs", ns_),
                           {.label_selector = std::string(kLabelTestRun) + "=" + name_});
  std::vector<std::string> names;
  bool orphaned = false;
  for (const auto& j : list.value("items", json::array())) {
    if (owned_by(j, uid_) || label_of(j, kLabelTestRun) != name_) continue;
    names.push_back(j["metadata"].value("name", std::string()));
    // No owner and not being deleted: nothing will ever remove it.
    orphaned = orphaned || (j["metadata"].value("ownerReferences", json::array()).empty() &&
                            !j["metadata"].contains("deletionTimestamp"));
  }
  std::string listed, command = "kubectl -n " + ns_ + " delete job";
  for (const auto& n : names) {
    listed += (listed.empty() ? "" : ", ") + n;
    command += " " + n;
  }
  if (names.empty()) listed = "(gone since)";
  std::string msg = orphaned
                        ? "the Jobs " + listed + " of an earlier TestRun named " + name_ +
                              " are orphaned (not owned by any TestRun) and hold the names of this one's Jobs; "
                              "delete them: " +
                              command
                        : "waiting for the Jobs of an earlier TestRun named " + name_ + " to be deleted: " + listed;
  auto since = condition_since(status_, "Initialized");  // the runners' or the coordinator's Job
  if (!since) since = created_at(tr_);                   // the initializer's
  if (since && now_ - *since > ready_timeout_) {
    fail(orphaned ? "OrphanedJobs" : "EarlierJobsNotDeleted", msg + (orphaned ? "" : "; to delete them: " + command) +
                                                                  " (waited spec.timeouts.ready " +
                                                                  util::format_duration(ready_timeout_) + ")");
    return;
  }
  if (orphaned && status_.value("message", std::string()) != msg) {
    events_.record(tr_, kube::kEventWarning, "OrphanedJobs", msg);
  }
  status_["message"] = msg;
  write_status();
}

std::string TestRunReconciler::runner_failures() const {
  std::vector<json> pods;
  std::vector<std::string> gone;
  for (int i = 1; i <= parallelism_; ++i) {
    auto it = kids_.runners.find(i);
    if (it != kids_.runners.end() && !it->second.empty()) {
      pods.insert(pods.end(), it->second.begin(), it->second.end());
    } else if (status_.contains("startTime")) {  // deleted during the run
      gone.push_back("runner " + std::to_string(i) + ": its pod is gone (Job " + ns_ + "/" + runner_name(tr_, i) + ")");
    }
  }
  std::string out;
  for (const auto& c : failure_causes(pods, std::move(gone))) out += (out.empty() ? "" : "; ") + c;
  return out;
}

void TestRunReconciler::delete_children() {
  for (const auto& j : kids_.jobs) {
    try {
      client_.remove(kube::path_for("batch", "v1", "jobs", ns_, j["metadata"]["name"].get<std::string>()),
                     kube::Propagation::Background);
    } catch (const kube::ApiError& e) {
      if (!e.is_not_found()) throw;
    }
  }
  kids_.jobs.clear();  // a second call in the same pass has nothing left to do
}

bool TestRunReconciler::cleanup_wanted() const {
  std::string cleanup = spec_.value("cleanup", std::string());
  return cleanup == "post" || (cleanup == "onSuccess" && status_.value("result", std::string()) == "passed");
}

std::string TestRunReconciler::coordinator_url(const std::string& path) const {
  return "http://" + kids_.coordinator["status"].value("podIP", std::string()) + ":" +
         std::to_string(options_.control_port) + path;
}

std::optional<std::pair<long, std::string>> TestRunReconciler::coordinator_http(const std::string& method,
                                                                                const std::string& path,
                                                                                const std::string& body, bool keep) {
  if (!options_.http) return std::nullopt;
  return options_.http(testrun_key(tr_), method, coordinator_url(path), body, keep);
}

}  // namespace herd::op
