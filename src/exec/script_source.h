#pragma once
// Where a run's script comes from: a file on disk, or a `herd archive` tar.
// Shared by `herd run`, `herd inspect`, `herd archive` and the coordinator.

#include <map>
#include <memory>
#include <string>

#include "exec/options.h"
#include "js/bundle.h"

namespace herd::exec {

/// A bundle for the script at `main` with every built-in k6 module.
std::shared_ptr<js::Bundle> make_bundle(const std::string& main);

/// The script path that means "read the script from standard input".
inline constexpr const char* kStdinScript = "-";

/// All of standard input (the script of `herd run -`). Throws js::ScriptError.
std::string read_stdin_script();

/// A bundle for `path`: a script, "-" (a script or archive on standard input;
/// a script is named "-" in errors and its relative imports resolve against
/// the working directory), or an archive (recognised by content), whose files then come
/// from the archive and whose env joins `cli->env` (values already there
/// win). Throws archive::ArchiveError for a damaged archive.
std::shared_ptr<js::Bundle> load_script(const std::string& path, CliOverrides* cli);

/// The process environment as a map.
std::map<std::string, std::string> process_environment();

}  // namespace herd::exec
