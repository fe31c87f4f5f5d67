#include "operator/k6io.h"

#include "operator/jobs.h"

namespace herd::op {

using json = nlohmann::json;

std::string_view group_of_api_version(std::string_view api_version) {
  return api_version.substr(0, api_version.find('/')) == kK6Group ? kK6Group : kGroup;
}

std::string_view group_of(const json& object) {
  auto it = object.find("apiVersion");
  return it != object.end() && it->is_string() ? group_of_api_version(it->get_ref<const std::string&>()) : kGroup;
}

std::string testrun_key(std::string_view group, const std::string& ns, const std::string& name) {
  std::string key = ns + "/" + name;
  return group == kK6Group ? std::string(kK6Group) + ":" + key : key;
}

std::string testrun_key(const json& testrun) {
  const json& meta = testrun.at("metadata");
  return testrun_key(group_of(testrun), meta.value("namespace", std::string("default")),
                     meta.value("name", std::string()));
}

std::pair<std::string_view, std::string> split_testrun_key(const std::string& key) {
  const std::string prefix = std::string(kK6Group) + ":";
  if (key.rfind(prefix, 0) == 0) return {kK6Group, key.substr(prefix.size())};
  return {kGroup, key};
}

std::string check_k6io_crds(const kube::Client& client) {
  for (const char* resource : {"testruns", "privateloadzones"}) {
    const std::string name = std::string(resource) + "." + std::string(kK6Group);
    json crd;
    try {
      crd = client.get(kube::path_for("apiextensions.k8s.io", "v1", "customresourcedefinitions", "", name));
    } catch (const kube::ApiError& e) {
      if (e.is_not_found()) {
        return "the CRD " + name +
               " is not installed: install herd's k6.io CRDs (Helm: --set k6io.enabled=true; kustomize: the "
               "component deploy/components/k6-io), or run without --k6-io";
      }
      if (e.is_forbidden()) {
        return "cannot read the CRD " + name +
               " (HTTP 403): the operator's RBAC needs get on customresourcedefinitions " + name + ": " + e.what();
      }
      return "cannot read the CRD " + name + ": " + e.what();
    }
    const json labels = crd["metadata"].value("labels", json::object());
    auto it = labels.find(std::string(kK6CrdLabel));
    if (it != labels.end() && it->is_string() && *it == "true") continue;
    std::string owner;
    for (const char* key : {"app.kubernetes.io/managed-by", "app.kubernetes.io/name", "app.kubernetes.io/part-of"}) {
      if (labels.contains(key) && labels[key].is_string()) {
        owner += std::string(owner.empty() ? "" : ", ") + key + "=" + labels[key].get<std::string>();
      }
    }
    return "the CRD " + name + " exists but is not herd's (no label " + std::string(kK6CrdLabel) + "=true" +
           (owner.empty() ? "" : "; it has " + owner) +
           "): another controller, e.g. k6-operator, owns the k6.io group. Uninstall it and install herd's k6.io "
           "CRDs, or run without --k6-io and use apiVersion herd.dev/v1alpha1";
  }
  return "";
}

}  // namespace herd::op
