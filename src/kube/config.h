#pragma once
// Where and how to reach a Kubernetes API server: from a kubeconfig file, from
// a pod's service account (in-cluster), or by kubectl's search order.
//
// HERD_FS_ROOT: herd's test node agent runs pods as local processes and
// materialises their volume mounts under a per-pod fake root. When the
// environment variable HERD_FS_ROOT is set, in_cluster_config() reads the
// service account files from $HERD_FS_ROOT/var/run/secrets/... instead of
// /var/run/secrets/...; nothing else changes.

#include <stdexcept>
#include <string>
#include <string_view>

namespace herd::kube {

/// Base of every herd::kube error.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A configuration that cannot be used. The message names the file and the field
/// path, e.g. "kubeconfig /x: users[0].user.client-key-data: not base64".
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// Connection and credentials for one API server. For the CA, the client
/// certificate and the client key, inline PEM data wins over a file path; inline
/// data is handed to libcurl from memory (never written to a temporary file).
struct ClusterConfig {
  std::string server;   ///< base URL, e.g. "https://127.0.0.1:6443" (no trailing slash)
  std::string ca_file;  ///< PEM bundle path; empty with empty ca_pem = the system trust store
  std::string ca_pem;   ///< PEM bundle data
  std::string client_cert_file;
  std::string client_cert_pem;
  std::string client_key_file;
  std::string client_key_pem;
  std::string token;                   ///< bearer token
  std::string token_file;              ///< bearer token file, wins over `token`; re-read whenever it changes
                                       ///< (bound service account tokens are rotated in place)
  bool insecure = false;               ///< skip TLS server verification
  std::string namespace_ = "default";  ///< the context's (or pod's) namespace; never empty
};

/// Reads a kubeconfig file and resolves `context` (empty = current-context):
/// clusters/users/contexts, certificate-authority(-data), client-certificate(-data),
/// client-key(-data), token, tokenFile, insecure-skip-tls-verify, namespace.
/// Relative file paths are resolved against the kubeconfig's folder. Users that
/// only have exec, auth-provider or basic credentials are refused (not supported);
/// proxy-url and tls-server-name are ignored (libcurl honours HTTPS_PROXY/NO_PROXY).
/// Throws ConfigError naming the path and field.
ClusterConfig load_kubeconfig(const std::string& path, const std::string& context = "");

/// The pod's own configuration: KUBERNETES_SERVICE_HOST/PORT (IPv6 hosts are
/// bracketed) and the service account's token (as token_file), ca.crt and
/// namespace under [$HERD_FS_ROOT]/var/run/secrets/kubernetes.io/serviceaccount/.
/// Throws ConfigError when not in a cluster.
ClusterConfig in_cluster_config();

/// kubectl's order: `explicit_path` when non-empty; else the first existing file
/// of $KUBECONFIG (':'-separated); else in-cluster when KUBERNETES_SERVICE_HOST is
/// set; else ~/.kube/config. Throws ConfigError when none applies.
ClusterConfig load_default(const std::string& explicit_path = "", const std::string& context = "");

/// Standard base64 (RFC 4648, padding optional, whitespace ignored); throws
/// std::invalid_argument on any other character.
std::string base64_decode(std::string_view text);

}  // namespace herd::kube
