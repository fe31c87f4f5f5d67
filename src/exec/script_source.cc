#include "exec/script_source.h"

#include <cstring>

#include "archive/archive.h"
#include "k6/modules.h"

extern char** environ;

namespace herd::exec {

std::shared_ptr<js::Bundle> make_bundle(const std::string& main) {
  auto b = std::make_shared<js::Bundle>(main, k6::builtin_module_sources());
  b->add_native_modules(k6::native_modules());
  return b;
}

std::shared_ptr<js::Bundle> load_script(const std::string& path, CliOverrides* cli) {
  if (!archive::looks_like_archive(path)) return make_bundle(path);
  archive::Archive a = archive::read_archive(path);
  auto b = make_bundle(a.main);
  for (auto& [p, contents] : a.files) b->add_file(p, contents);
  for (auto& [k, v] : a.env) cli->env.emplace(k, v);
  return b;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> m;
  for (char** e = environ; e && *e; e++) {
    const char* eq = std::strchr(*e, '=');
    if (!eq) continue;
    m.emplace(std::string(*e, static_cast<size_t>(eq - *e)), std::string(eq + 1));
  }
  return m;
}

}  // namespace herd::exec
