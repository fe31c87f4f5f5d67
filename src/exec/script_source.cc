#include "exec/script_source.h"

#include <unistd.h>

#include <cerrno>
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

std::string read_stdin_script() {
  std::string src;
  char buf[65536];
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw js::ScriptError(std::string("cannot read the script from standard input: ") + std::strerror(errno));
    if (n == 0) break;
    src.append(buf, static_cast<size_t>(n));
  }
  return src;
}

std::shared_ptr<js::Bundle> load_script(const std::string& path, CliOverrides* cli) {
  archive::Archive a;
  if (path == kStdinScript) {
    std::string src = read_stdin_script();
    if (!archive::looks_like_archive_bytes(src)) {
      auto b = make_bundle(kStdinScript);
      b->add_file(kStdinScript, std::move(src));
      return b;
    }
    a = archive::read_archive_memory(src);
  } else {
    if (!archive::looks_like_archive(path)) return make_bundle(path);
    a = archive::read_archive(path);
  }
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
