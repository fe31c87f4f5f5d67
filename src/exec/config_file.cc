#include "exec/config_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "exec/options.h"

namespace herd::exec {

nlohmann::json load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw OptionsError("config file \"" + path + "\": cannot read: " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw OptionsError("config file \"" + path + "\": invalid JSON: " + e.what());
  }
  if (!j.is_object()) throw OptionsError("config file \"" + path + "\": must be a JSON object of options");
  return j;
}

}  // namespace herd::exec
