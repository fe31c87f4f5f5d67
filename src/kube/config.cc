#include "kube/config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <yaml-cpp/yaml.h>

#include "util/base64.h"

namespace herd::kube {
namespace {

namespace fs = std::filesystem;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(s.find_last_not_of(ws) + 1);
  s.erase(0, s.find_first_not_of(ws));
  return s;
}

// Reads one kubeconfig and reports errors as "kubeconfig PATH: FIELD: problem".
class KubeconfigReader {
 public:
  explicit KubeconfigReader(std::string path) : path_(std::move(path)), dir_(fs::path(path_).parent_path()) {}

  ClusterConfig read(const std::string& wanted_context) {
    std::string text;
    if (!read_file(path_, text)) fail("", "cannot read the file");
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      fail("", "not YAML: line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    if (!root.IsMap()) fail("", "not a kubeconfig (expected a mapping)");

    std::string context_name = wanted_context;
    if (context_name.empty()) context_name = scalar(root["current-context"], "current-context");
    if (context_name.empty()) fail("current-context", "not set (and no context was given)");
    auto [context, context_field] = named(root, "contexts", context_name, "context");

    ClusterConfig c;
    std::string cluster_name = scalar(context["cluster"], context_field + ".cluster");
    if (cluster_name.empty()) fail(context_field + ".cluster", "missing");
    auto [cluster, cf] = named(root, "clusters", cluster_name, "cluster");
    c.server = scalar(cluster["server"], cf + ".server");
    if (c.server.empty()) fail(cf + ".server", "missing");
    while (c.server.size() > 1 && c.server.back() == '/') c.server.pop_back();
    c.ca_file = file(cluster["certificate-authority"], cf + ".certificate-authority");
    c.ca_pem = data(cluster["certificate-authority-data"], cf + ".certificate-authority-data");
    c.insecure = boolean(cluster["insecure-skip-tls-verify"], cf + ".insecure-skip-tls-verify");

    std::string user_name = scalar(context["user"], context_field + ".user");
    if (!user_name.empty()) {
      auto [user, uf] = named(root, "users", user_name, "user");
      c.client_cert_file = file(user["client-certificate"], uf + ".client-certificate");
      c.client_cert_pem = data(user["client-certificate-data"], uf + ".client-certificate-data");
      c.client_key_file = file(user["client-key"], uf + ".client-key");
      c.client_key_pem = data(user["client-key-data"], uf + ".client-key-data");
      c.token = scalar(user["token"], uf + ".token");
      c.token_file = file(user["tokenFile"], uf + ".tokenFile");
      bool has_cert = !c.client_cert_file.empty() || !c.client_cert_pem.empty();
      bool has_key = !c.client_key_file.empty() || !c.client_key_pem.empty();
      if (has_cert != has_key)
        fail(uf, has_cert ? "client-certificate without client-key" : "client-key without client-certificate");
      bool has_any = has_cert || !c.token.empty() || !c.token_file.empty();
      for (const char* plugin : {"exec", "auth-provider"}) {
        if (user[plugin] && !has_any) fail(uf + "." + plugin, "credential plugins are not supported");
      }
      if (user["username"] && !has_any) fail(uf + ".username", "basic authentication is not supported");
    }
    std::string ns = scalar(context["namespace"], context_field + ".namespace");
    if (!ns.empty()) c.namespace_ = ns;
    return c;
  }

 private:
  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw ConfigError("kubeconfig " + path_ + ": " + (field.empty() ? "" : field + ": ") + problem);
  }

  std::string scalar(const YAML::Node& n, const std::string& field) const {
    if (!n || n.IsNull()) return "";
    if (!n.IsScalar()) fail(field, "expected a string");
    return n.Scalar();
  }

  bool boolean(const YAML::Node& n, const std::string& field) const {
    std::string s = scalar(n, field);
    if (s.empty() || s == "false" || s == "False") return false;
    if (s == "true" || s == "True") return true;
    fail(field, "expected true or false");
  }

  std::string data(const YAML::Node& n, const std::string& field) const {
    try {
      return base64_decode(scalar(n, field));
    } catch (const std::invalid_argument&) {
      fail(field, "not base64");
    }
  }

  // A path, resolved against the kubeconfig's folder, that must exist.
  std::string file(const YAML::Node& n, const std::string& field) const {
    std::string s = scalar(n, field);
    if (s.empty()) return s;
    fs::path p(s);
    if (p.is_relative()) p = dir_ / p;
    std::error_code ec;
    if (!fs::exists(p, ec)) fail(field, "no such file: " + p.string());
    return p.string();
  }

  // The `inner` mapping of the entry named `name` in the list `list`, with its field path.
  std::pair<YAML::Node, std::string> named(const YAML::Node& root, const std::string& list, const std::string& name,
                                           const std::string& inner) const {
    YAML::Node seq = root[list];
    if (seq && !seq.IsNull() && !seq.IsSequence()) fail(list, "expected a list");
    for (std::size_t i = 0; seq && i < seq.size(); ++i) {
      std::string field = list + "[" + std::to_string(i) + "]";
      if (!seq[i].IsMap()) fail(field, "expected a mapping");
      if (scalar(seq[i]["name"], field + ".name") != name) continue;
      YAML::Node v = seq[i][inner];
      if (v && !v.IsNull() && !v.IsMap()) fail(field + "." + inner, "expected a mapping");
      return {v ? v : YAML::Node(YAML::NodeType::Map), field + "." + inner};
    }
    fail(list, "no entry named \"" + name + "\"");
  }

  std::string path_;
  fs::path dir_;
};

}  // namespace

std::string base64_decode(std::string_view text) {
  // Kubernetes' *-data fields: whitespace ignored, padding optional but only at the end.
  std::string compact;
  for (char c : text) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') compact += c;
  }
  std::size_t symbols = compact.find_last_not_of('=') + 1;  // 0 when all '=' (npos + 1)
  std::size_t padding = compact.size() - symbols;
  std::string out;
  if (compact.find('=') < symbols || padding > 2 || (padding > 0 && compact.size() % 4 != 0) ||
      !util::base64_decode(compact, false, &out)) {
    throw std::invalid_argument("not base64");
  }
  return out;
}

ClusterConfig load_kubeconfig(const std::string& path, const std::string& context) {
  return KubeconfigReader(path).read(context);
}

ClusterConfig in_cluster_config() {
  std::string host = env("KUBERNETES_SERVICE_HOST"), port = env("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    throw ConfigError("in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  std::string dir = env("HERD_FS_ROOT") + "/var/run/secrets/kubernetes.io/serviceaccount/";
  ClusterConfig c;
  c.server = "https://" + host + ":" + port;
  c.token_file = dir + "token";
  c.ca_file = dir + "ca.crt";
  std::string content;
  if (!read_file(c.token_file, content)) throw ConfigError("in-cluster config: cannot read " + c.token_file);
  if (!fs::exists(c.ca_file)) throw ConfigError("in-cluster config: cannot read " + c.ca_file);
  if (read_file(dir + "namespace", content) && !trim(content).empty()) c.namespace_ = trim(content);
  return c;
}

ClusterConfig load_default(const std::string& explicit_path, const std::string& context) {
  if (!explicit_path.empty()) return load_kubeconfig(explicit_path, context);
  std::string list = env("KUBECONFIG");
  if (!list.empty()) {
    std::stringstream ss(list);
    for (std::string item; std::getline(ss, item, ':');) {
      std::error_code ec;
      if (!item.empty() && fs::exists(item, ec)) return load_kubeconfig(item, context);
    }
    throw ConfigError("KUBECONFIG=" + list + ": no such file");
  }
  if (!env("KUBERNETES_SERVICE_HOST").empty()) return in_cluster_config();
  std::string home = env("HOME");
  std::error_code ec;
  if (!home.empty() && fs::exists(home + "/.kube/config", ec)) return load_kubeconfig(home + "/.kube/config", context);
  throw ConfigError(
      "no Kubernetes configuration: pass a kubeconfig, set KUBECONFIG, run in a cluster or create ~/.kube/config");
}

}  // namespace herd::kube
