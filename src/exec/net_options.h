#pragma once
// k6's network options (hosts, dns, blacklistIPs, blockHostnames, localIPs,
// tlsVersion, tlsCipherSuites, tlsAuth, noVUConnectionReuse) parsed into the
// HTTP client's NetConfig; values herd cannot honour (the dns select modes
// libcurl has no equivalent for, ssl3.0, ...) are refused by name. rps and
// httpDebug are plain options (exec/options.cc).

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "http/netopts.h"

namespace herd::exec {

/// Applies the script option `key` (value `v`, not null) to `net` when it is a
/// network option. Returns false when `key` is not one. Throws OptionsError
/// naming `path` (e.g. "options.hosts.example.com: invalid address ...").
bool apply_net_option(http::NetConfig& net, const std::string& key, const nlohmann::json& v, const std::string& path);

/// K6_DNS ("ttl=1m,select=first,policy=onlyIPv4"), K6_BLACKLIST_IPS and
/// K6_BLOCK_HOSTNAMES (comma-separated), K6_LOCAL_IPS,
/// K6_NO_VU_CONNECTION_REUSE. Throws OptionsError naming the variable, or its
/// entry in `labels` (the CLI tier passes its flags' values under these names,
/// labelled "--dns", "--blacklist-ip", ...).
void apply_net_env(http::NetConfig& net, const std::map<std::string, std::string>& environ,
                   const std::map<std::string, std::string>& labels = {});

}  // namespace herd::exec
