#pragma once
// k6's JSON config file (-c/--config FILE): an options object, read before the
// script's options (which override it).

#include <string>

#include <nlohmann/json.hpp>

namespace herd::exec {

/// Reads and parses `path`. Throws OptionsError naming the file when it cannot
/// be read, is not JSON, or is not a JSON object.
nlohmann::json load_config_file(const std::string& path);

}  // namespace herd::exec
