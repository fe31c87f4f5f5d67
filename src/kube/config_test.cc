#include "kube/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

namespace herd::kube {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/herd-kube-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { old_ ? ::setenv(name_, old_->c_str(), 1) : ::unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

const char* kConfig = R"(apiVersion: v1
kind: Config
current-context: admin
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: Q0EgUEVN
- name: other
  cluster:
    server: https://[fd00::1]:443
    certificate-authority: certs/ca.crt
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
- name: bot
  user:
    token: abc.def
    tokenFile: token
contexts:
- name: admin
  context: {cluster: local, user: admin}
- name: bot
  context:
    cluster: other
    user: bot
    namespace: load
)";

TEST(Kubeconfig, CurrentContextWithInlineData) {
  TempDir dir;
  ClusterConfig c = load_kubeconfig(dir.write("config", kConfig));
  EXPECT_EQ(c.server, "https://127.0.0.1:6443");
  EXPECT_EQ(c.ca_pem, "CA PEM");
  EXPECT_EQ(c.client_cert_pem, "CERT");
  EXPECT_EQ(c.client_key_pem, "KEY");
  EXPECT_EQ(c.namespace_, "default");
  EXPECT_FALSE(c.insecure);
  EXPECT_TRUE(c.token.empty());
}

TEST(Kubeconfig, NamedContextResolvesRelativeFiles) {
  TempDir dir;
  dir.write("certs/ca.crt", "x");
  dir.write("token", "t");
  ClusterConfig c = load_kubeconfig(dir.write("config", kConfig), "bot");
  EXPECT_EQ(c.server, "https://[fd00::1]:443");
  EXPECT_EQ(c.ca_file, dir.path() + "/certs/ca.crt");
  EXPECT_TRUE(c.insecure);
  EXPECT_EQ(c.token, "abc.def");
  EXPECT_EQ(c.token_file, dir.path() + "/token");
  EXPECT_EQ(c.namespace_, "load");
}

std::string error_of(const std::string& path, const std::string& context = "") {
  try {
    load_kubeconfig(path, context);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Kubeconfig, ErrorsNameTheFieldPath) {
  TempDir dir;
  std::string bad = kConfig;
  bad.replace(bad.find("S0VZ"), 4, "S0V*");
  std::string path = dir.write("config", bad);
  EXPECT_EQ(error_of(path), "kubeconfig " + path + ": users[0].user.client-key-data: not base64");
  EXPECT_EQ(error_of(path, "nope"), "kubeconfig " + path + ": contexts: no entry named \"nope\"");
  EXPECT_EQ(error_of(path, "bot"), "kubeconfig " + path +
                                       ": clusters[1].cluster.certificate-authority: no such file: " + dir.path() +
                                       "/certs/ca.crt");
  EXPECT_EQ(error_of(dir.path() + "/missing"), "kubeconfig " + dir.path() + "/missing: cannot read the file");
  EXPECT_NE(error_of(dir.write("notyaml", "a: [b")).find("not YAML: line"), std::string::npos);
  EXPECT_EQ(error_of(dir.write("nocur", "clusters: []\n")),
            "kubeconfig " + dir.path() + "/nocur: current-context: not set (and no context was given)");
}

TEST(Kubeconfig, RefusesCredentialPluginsAlone) {
  TempDir dir;
  std::string path = dir.write("config", R"(current-context: c
clusters: [{name: k, cluster: {server: "https://h"}}]
users: [{name: u, user: {exec: {command: gke-gcloud-auth-plugin}}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  EXPECT_EQ(error_of(path), "kubeconfig " + path + ": users[0].user.exec: credential plugins are not supported");
}

TEST(Kubeconfig, CertificateNeedsKey) {
  TempDir dir;
  std::string path = dir.write("config", R"(current-context: c
clusters: [{name: k, cluster: {server: "https://h"}}]
users: [{name: u, user: {client-certificate-data: Q0VSVA==}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  EXPECT_EQ(error_of(path), "kubeconfig " + path + ": users[0].user: client-certificate without client-key");
}

TEST(InCluster, ReadsServiceAccountUnderFsRoot) {
  TempDir root;
  root.write("var/run/secrets/kubernetes.io/serviceaccount/token", "tok\n");
  root.write("var/run/secrets/kubernetes.io/serviceaccount/ca.crt", "ca");
  root.write("var/run/secrets/kubernetes.io/serviceaccount/namespace", "loadtests\n");
  ScopedEnv fs_root("HERD_FS_ROOT", root.path().c_str());
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "fd00::10");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
  ClusterConfig c = in_cluster_config();
  EXPECT_EQ(c.server, "https://[fd00::10]:443");
  EXPECT_EQ(c.token_file, root.path() + "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_EQ(c.ca_file, root.path() + "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
  EXPECT_EQ(c.namespace_, "loadtests");
}

TEST(InCluster, FailsOutsideACluster) {
  ScopedEnv host("KUBERNETES_SERVICE_HOST", nullptr);
  EXPECT_THROW(in_cluster_config(), ConfigError);
  TempDir root;
  ScopedEnv fs_root("HERD_FS_ROOT", root.path().c_str());
  ScopedEnv host2("KUBERNETES_SERVICE_HOST", "10.0.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
  EXPECT_THROW(in_cluster_config(), ConfigError);  // no token file
}

TEST(LoadDefault, FollowsKubectlOrder) {
  TempDir dir;
  std::string a = dir.write("a", kConfig);
  std::string b = dir.write("b", std::string(kConfig).replace(std::string(kConfig).find("6443"), 4, "7443"));
  ScopedEnv host("KUBERNETES_SERVICE_HOST", nullptr);
  ScopedEnv home("HOME", dir.path().c_str());
  {
    ScopedEnv kc("KUBECONFIG", (dir.path() + "/missing:" + b + ":" + a).c_str());
    EXPECT_EQ(load_default(a).server, "https://127.0.0.1:6443");  // explicit wins
    EXPECT_EQ(load_default().server, "https://127.0.0.1:7443");   // first existing file of KUBECONFIG
  }
  {
    ScopedEnv kc("KUBECONFIG", nullptr);
    EXPECT_THROW(load_default(), ConfigError);  // no ~/.kube/config yet
    dir.write(".kube/config", kConfig);
    EXPECT_EQ(load_default().server, "https://127.0.0.1:6443");
    ScopedEnv in_cluster("KUBERNETES_SERVICE_HOST", "10.0.0.1");
    ScopedEnv fs_root("HERD_FS_ROOT", dir.path().c_str());
    EXPECT_THROW(load_default(), ConfigError);  // in-cluster is chosen before ~/.kube/config, and has no token here
  }
}

TEST(Base64, DecodesStandardAlphabet) {
  EXPECT_EQ(base64_decode(""), "");
  EXPECT_EQ(base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(base64_decode("aGVsbG8"), "hello");
  EXPECT_EQ(base64_decode("aGVs\nbG8h"), "hello!");
  EXPECT_EQ(base64_decode("+/+/"), "\xfb\xff\xbf");
  EXPECT_THROW(base64_decode("aGVsbG8*"), std::invalid_argument);
  EXPECT_THROW(base64_decode("a"), std::invalid_argument);
  EXPECT_THROW(base64_decode("aG=Vs"), std::invalid_argument);
  EXPECT_THROW(base64_decode("aGVsbG8=="), std::invalid_argument);
}

}  // namespace
}  // namespace herd::kube
