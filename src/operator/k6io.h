#pragma once
// k6-operator compatibility (`herd operator --k6-io`, docs/operator.md "Migrating from
// k6-operator"): the operator also reconciles k6.io/v1alpha1 TestRuns and
// PrivateLoadZones, exactly like herd.dev ones, when herd's own k6.io CRDs are
// installed (the chart's k6io.enabled, or deploy/components/k6-io). A TestRun's
// group decides where its status is written, its work-queue key and the
// apiVersion of its children's owner references.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kube/client.h"

namespace herd::op {

inline constexpr std::string_view kK6Group = "k6.io";
/// The label on herd's k6.io CRDs; a k6.io CRD without it belongs to another controller.
inline constexpr std::string_view kK6CrdLabel = "herd.dev/k6-io";

/// "k6.io" for an object whose apiVersion is k6.io/..., else "herd.dev".
std::string_view group_of(const nlohmann::json& object);
/// The group of an apiVersion ("k6.io/v1alpha1" -> "k6.io"); herd.dev for anything else.
std::string_view group_of_api_version(std::string_view api_version);
/// The work-queue key of a TestRun: "ns/name" (herd.dev) or "k6.io:ns/name".
std::string testrun_key(std::string_view group, const std::string& ns, const std::string& name);
std::string testrun_key(const nlohmann::json& testrun);
/// Splits a key made by testrun_key: its group, and "ns/name".
std::pair<std::string_view, std::string> split_testrun_key(const std::string& key);

/// Checks that testruns.k6.io and privateloadzones.k6.io are herd's (labelled
/// kK6CrdLabel=true). Returns "" when they are, else why the operator must not
/// start (missing, not readable, or owned by another controller such as k6-operator).
std::string check_k6io_crds(const kube::Client& client);

}  // namespace herd::op
