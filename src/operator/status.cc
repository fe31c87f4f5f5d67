#include "operator/status.h"

#include <ctime>
#include <set>
#include <string_view>

namespace herd::op {
namespace {

std::string pod_id(const json& pod) {
  const json& m = pod.at("metadata");
  return "pod " + m.value("namespace", std::string("default")) + "/" + m.value("name", std::string("?"));
}

const json& main_status(const json& pod) {
  static const json kEmpty = json::object();
  auto it = pod.find("status");
  if (it == pod.end() || !it->contains("containerStatuses") || (*it)["containerStatuses"].empty()) return kEmpty;
  return (*it)["containerStatuses"][0];
}

}  // namespace

std::optional<std::string> pod_failure(const json& pod) {
  static const std::set<std::string> kFatalWaiting = {
      "CreateContainerConfigError", "CreateContainerError", "InvalidImageName", "CrashLoopBackOff",
      "RunContainerError",          "StartError",           "ErrImageNeverPull"};
  if (!pod.contains("status")) return std::nullopt;
  const json& status = pod["status"];
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    if (!status.contains(list)) continue;
    for (const auto& cs : status[list]) {
      std::string name = cs.value("name", std::string("?"));
      if (cs.value("restartCount", 0) > 0) {
        return pod_id(pod) + ": container " + name + " restarted (" + std::to_string(cs.value("restartCount", 0)) +
               " times)";
      }
      const json& state = cs.value("state", json::object());
      if (state.contains("terminated")) {
        const json& t = state["terminated"];
        int code = t.value("exitCode", 0);
        if (code != 0) {
          std::string reason = t.value("reason", std::string("Error"));
          std::string text = pod_id(pod) + ": container " + name +
                             (reason == "OOMKilled" ? " was OOMKilled" : " failed: " + reason) + " (exit code " +
                             std::to_string(code) + ")";
          std::string msg = t.value("message", std::string());
          if (!msg.empty() && reason != "OOMKilled") text += ": " + tail_excerpt(msg, kPodMessageMaxBytes);
          return text;
        }
      }
      if (state.contains("waiting")) {
        std::string reason = state["waiting"].value("reason", std::string());
        if (kFatalWaiting.count(reason)) {
          return pod_id(pod) + ": container " + name + " cannot start: " + reason + ": " +
                 state["waiting"].value("message", std::string());
        }
      }
    }
  }
  if (status.value("phase", std::string()) == "Failed") {
    std::string reason = status.value("reason", std::string("Failed"));
    return pod_id(pod) + ": " + reason +
           (status.contains("message") ? ": " + status.value("message", std::string()) : "");
  }
  return std::nullopt;
}

std::string tail_excerpt(const std::string& text, std::size_t max_bytes) {
  static const std::string kCut = "…";
  constexpr auto npos = std::string_view::npos;
  std::size_t end = text.find_last_not_of(" \t\r\n");
  if (end == npos) return "";
  std::string_view t(text.data(), end + 1);
  if (t.size() <= max_bytes) return std::string(t);
  std::size_t budget = max_bytes > kCut.size() ? max_bytes - kCut.size() : 0;
  std::size_t nl = t.rfind('\n');
  std::size_t from = nl == npos ? 0 : nl + 1;  // the last line
  if (t.size() - from > budget) {              // alone too long: its end, on a UTF-8 boundary
    from = t.size() - budget;
    while (from < t.size() && (static_cast<unsigned char>(t[from]) & 0xC0) == 0x80) ++from;
    return kCut + std::string(t.substr(from));
  }
  while (from >= 2) {  // earlier lines while they fit
    nl = t.rfind('\n', from - 2);
    std::size_t prev = nl == npos ? 0 : nl + 1;
    if (t.size() - prev > budget) break;
    from = prev;
  }
  return kCut + std::string(t.substr(from));
}

std::optional<int> pod_exit_code(const json& pod) {
  const json& cs = main_status(pod);
  if (!cs.contains("state") || !cs["state"].contains("terminated")) return std::nullopt;
  return cs["state"]["terminated"].value("exitCode", 0);
}

std::vector<std::string> failure_causes(const std::vector<json>& pods, std::vector<std::string> known) {
  std::vector<std::string> causes = std::move(known), consequences;
  for (const auto& pod : pods) {
    auto f = pod_failure(pod);
    if (!f) continue;
    (pod_exit_code(pod) == kExitStoppedByCoordinator ? consequences : causes).push_back(*f);
  }
  return causes.empty() ? consequences : causes;
}

std::string pod_pending_reason(const json& pod) {
  const json& status = pod.value("status", json::object());
  for (const auto& c : status.value("conditions", json::array())) {
    if (c.value("type", std::string()) == "PodScheduled" && c.value("status", std::string()) == "False") {
      return pod_id(pod) + " is not scheduled: " + c.value("reason", std::string("Unschedulable")) + ": " +
             c.value("message", std::string());
    }
  }
  const json& cs = main_status(pod);
  if (cs.contains("state") && cs["state"].contains("waiting")) {
    const json& w = cs["state"]["waiting"];
    return pod_id(pod) + " is waiting: " + w.value("reason", std::string("?")) + ": " +
           w.value("message", std::string());
  }
  return pod_id(pod) + " is " + status.value("phase", std::string("Pending"));
}

bool pod_running(const json& pod) {
  const json& status = pod.value("status", json::object());
  if (status.value("phase", std::string()) != "Running" || status.value("podIP", std::string()).empty()) return false;
  const json& cs = main_status(pod);
  return cs.contains("state") && cs["state"].contains("running");
}

bool pod_succeeded(const json& pod) {
  return pod.value("status", json::object()).value("phase", std::string()) == "Succeeded";
}

json termination_message(const json& pod, std::string* raw) {
  const json& cs = main_status(pod);
  if (!cs.contains("state") || !cs["state"].contains("terminated")) return nullptr;
  std::string msg = cs["state"]["terminated"].value("message", std::string());
  if (raw) *raw = msg;
  json j = json::parse(msg, nullptr, false);
  return j.is_discarded() || !j.is_object() ? json(nullptr) : j;
}

std::string result_for_exit_code(int code) {
  switch (code) {
    case 0:
      return "passed";
    case 99:
      return "failed";
    case 105:
    case 108:
      return "aborted";
    default:
      return "error";
  }
}

std::optional<Clock::time_point> parse_time(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  std::time_t t = timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return Clock::from_time_t(t);
}

std::string format_time(Clock::time_point t) {
  std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void set_condition(json& status, const std::string& type, bool value, const std::string& reason,
                   const std::string& message, Clock::time_point now, std::int64_t generation) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) status["conditions"] = json::array();
  json cond = {{"type", type},       {"status", value ? "True" : "False"},     {"reason", reason},
               {"message", message}, {"lastTransitionTime", format_time(now)}, {"observedGeneration", generation}};
  for (auto& c : status["conditions"]) {
    if (c.value("type", std::string()) != type) continue;
    if (c.value("status", std::string()) == cond["status"]) cond["lastTransitionTime"] = c["lastTransitionTime"];
    c = cond;
    return;
  }
  status["conditions"].push_back(cond);
}

json status_metrics(const json& m) {
  json out = json::object();
  if (!m.is_object()) return out;
  for (const char* k : {"iterations", "requests", "vusMax", "dataSentBytes", "dataReceivedBytes"}) {
    if (m.contains(k) && m[k].is_number()) out[k] = m[k].get<std::int64_t>();
  }
  for (const char* k : {"failureRate", "checksRate", "avgMs", "p95Ms", "p99Ms"}) {
    if (m.contains(k) && m[k].is_number()) out[k] = m[k].get<double>();
  }
  if (m.contains("durationMs") && m["durationMs"].is_number())
    out["durationSeconds"] = m["durationMs"].get<double>() / 1000;
  return out;
}

json status_generators(const json& g) {
  json out = json::array();
  if (!g.is_array()) return out;
  for (const auto& e : g) {
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string()) continue;
    json o = {{"name", e["name"]}, {"saturated", e.value("saturated", false) == true}};
    for (const char* k : {"cpuAvg", "cpuMax", "lagP99Ms", "unhealthySeconds"})
      if (e.contains(k) && e[k].is_number()) o[k] = e[k].get<double>();
    out.push_back(std::move(o));
  }
  return out;
}

std::string saturated_generators(const json& list) {
  std::string names;
  if (!list.is_array()) return names;
  for (const auto& e : list)
    if (e.is_object() && e.value("saturated", false) == true)
      names += (names.empty() ? "" : ", ") + e.value("name", std::string("?"));
  return names;
}

}  // namespace herd::op
