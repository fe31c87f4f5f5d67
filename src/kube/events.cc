#include "kube/events.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "kube/leader.h"

namespace herd::kube {
namespace {

using nlohmann::json;

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

constexpr std::size_t kMaxMessage = 1024;
constexpr std::size_t kMaxSeen = 4096;

}  // namespace

EventRecorder::EventRecorder(const Client& client, std::string component, std::string instance)
    : client_(client),
      component_(std::move(component)),
      instance_(instance.empty() ? host_name() : std::move(instance)) {}

bool EventRecorder::record(const json& object, std::string_view type, std::string_view reason,
                           std::string_view message) {
  auto meta = [&](const char* key) {
    return object.value(json::json_pointer(std::string("/metadata/") + key), std::string());
  };
  const std::string name = meta("name"), uid = meta("uid"), object_ns = meta("namespace");
  const std::string kind = object.value("kind", ""), api_version = object.value("apiVersion", "");
  const std::string ns = object_ns.empty() ? "default" : object_ns;
  std::string text(message.substr(0, kMaxMessage));
  const std::string key =
      uid + '\n' + kind + '\n' + ns + '\n' + name + '\n' + std::string(type) + '\n' + std::string(reason) + '\n' + text;
  const auto now_point = std::chrono::system_clock::now();
  // firstTimestamp/lastTimestamp are metav1.Time: whole seconds.
  const std::string now = micro_time(std::chrono::floor<std::chrono::seconds>(now_point)).substr(0, 19) + "Z";

  std::lock_guard lock(mu_);  // one writer at a time keeps the counts exact
  if (auto it = seen_.find(key); it != seen_.end()) {
    json patch = {{"count", it->second.count + 1}, {"lastTimestamp", now}};
    try {
      client_.patch(path_for("", "v1", "events", it->second.ns, it->second.name), patch);
      ++it->second.count;
      return true;
    } catch (const ApiError& e) {
      if (!e.is_not_found()) return false;
      seen_.erase(it);  // expired (events live about an hour): write a new one
    } catch (const Error&) {
      return false;
    }
  }
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now_point.time_since_epoch()).count();
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx", static_cast<unsigned long long>(nanos));
  json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", name + suffix}, {"namespace", ns}}},
      {"involvedObject", {{"apiVersion", api_version}, {"kind", kind}, {"name", name}}},
      {"type", type},
      {"reason", reason},
      {"message", text},
      {"source", {{"component", component_}, {"host", instance_}}},
      {"reportingComponent", component_},
      {"reportingInstance", instance_},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1},
  };
  if (!object_ns.empty()) event["involvedObject"]["namespace"] = object_ns;
  if (!uid.empty()) event["involvedObject"]["uid"] = uid;
  if (std::string rv = meta("resourceVersion"); !rv.empty()) event["involvedObject"]["resourceVersion"] = rv;
  try {
    client_.create(path_for("", "v1", "events", ns), event);
  } catch (const Error&) {
    return false;
  }
  if (seen_.size() >= kMaxSeen) seen_.clear();
  seen_[key] = Seen{ns, name + suffix, 1};
  return true;
}

}  // namespace herd::kube
