#pragma once
// Kubernetes manifests (YAML, possibly several documents) as JSON, with
// Kubernetes' (sigs.k8s.io/yaml, YAML 1.1) scalar resolution: plain scalars
// become null (~, null, empty), booleans (true/false/yes/no/on/off/y/n in
// their usual cases), integers (decimal, 0x hex, 0o and leading-0 octal, 0b,
// '_' separators) or floats (1.5, 1e3, .inf, .nan); quoted and block scalars
// always stay strings, as do scalars tagged !!str. Anchors and aliases are
// expanded; merge keys (<<) are not supported.

#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace herd::kube {

/// Every non-empty document of `text`, in order. Throws kube::Error with the
/// line and column on malformed YAML.
std::vector<nlohmann::json> parse_yaml_documents(std::string_view text);

/// The single document of `text` (null when empty); throws kube::Error when there are several.
nlohmann::json parse_yaml(std::string_view text);

}  // namespace herd::kube
