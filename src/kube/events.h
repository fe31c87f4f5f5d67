#pragma once
// Records core/v1 Events about objects (what `kubectl describe` shows), like
// client-go's EventRecorder: a repeat of an event (same object, type, reason and
// message) updates the first one's count and lastTimestamp instead of creating
// another. Thread-safe.

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "kube/client.h"

namespace herd::kube {

inline constexpr std::string_view kEventNormal = "Normal";
inline constexpr std::string_view kEventWarning = "Warning";

class EventRecorder {
 public:
  /// `component` fills source.component and reportingComponent (e.g. "herd-operator");
  /// `instance` fills source.host and reportingInstance (default: the host name).
  /// `client` must outlive the recorder.
  EventRecorder(const Client& client, std::string component, std::string instance = "");

  /// Records `type` (kEventNormal or kEventWarning), `reason` (UpperCamelCase) and
  /// `message` (truncated to 1 KiB) about `object` (any object with apiVersion,
  /// kind and metadata; cluster-scoped objects get their events in "default").
  /// Best effort: returns false when the API call failed.
  bool record(const nlohmann::json& object, std::string_view type, std::string_view reason, std::string_view message);

 private:
  struct Seen {
    std::string ns, name;
    std::int64_t count = 0;
  };
  const Client& client_;
  const std::string component_, instance_;
  std::mutex mu_;
  std::unordered_map<std::string, Seen> seen_;  ///< aggregation key -> the event written
};

}  // namespace herd::kube
