#pragma once
// Which k6 options herd implements. The option parser (options.cc) handles
// every option it implements; whatever reaches unhandled_option() is either a
// k6 option herd refuses (a clear OptionsError naming it, never silently
// ignored) or a name k6 itself does not know (a warning, as a typo is likely).

#include <map>
#include <string>
#include <vector>

namespace herd::exec {

/// Called for a script/config option key the parser has no branch for.
/// `path` names it for messages (e.g. "options.rps"). Throws OptionsError for
/// k6 options herd does not implement; appends a warning for k6 options that
/// only matter to Grafana Cloud (cloud, ext: k6 ignores them locally too) and
/// for unknown names.
void unhandled_option(const std::string& key, const std::string& path, std::vector<std::string>& warnings);

/// Throws OptionsError naming the first K6_* variable in `environ` whose
/// option herd refuses (K6_CONFIG); unset or empty ones pass.
void refuse_unsupported_env(const std::map<std::string, std::string>& environ);

/// Every top-level option name k6 documents (for the compatibility audit).
const std::vector<std::string>& k6_option_names();

}  // namespace herd::exec
