#pragma once
// A test script and everything it loads: local ES modules, CommonJS files
// (src/js/commonjs.h), built-in modules (k6, k6/http, ...) and open()ed files.
// Each module is compiled once to QuickJS bytecode and every VU's runtime
// reads that bytecode (cheap) instead of parsing the source again.
// Thread-safe: VUs on all workers share one Bundle.
//
// Names: only import specifiers "k6", "k6/..." and "herd:..." are built-ins.
// A local file's module name is its normalised path, written "./k6/x.js" when
// the path would otherwise read as a built-in ("k6/x.js"), so a script kept in
// a k6/ folder is always a file. "-" names the script read from standard input.

#include <quickjs.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace herd::js {

/// A script that cannot be loaded: missing file, syntax error, unknown module.
/// The message names file:line:column where known. Exit 107.
class ScriptError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Creates a built-in module implemented in C in `ctx` (JS_NewCModule) and returns it.
using NativeModuleFactory = JSModuleDef* (*)(JSContext* ctx, const char* name);

class Bundle {
 public:
  /// `main_path` as the user gave it (relative to the working directory or
  /// absolute). `builtins` maps module names ("k6/http") to their JS source.
  Bundle(std::string main_path, std::map<std::string, std::string> builtins);

  /// Registers built-in modules implemented natively (no JS source, nothing to compile).
  void add_native_modules(std::map<std::string, NativeModuleFactory> natives) { natives_ = std::move(natives); }

  /// Files provided in memory (an archive) take precedence over the disk.
  void add_file(const std::string& path, std::string contents);

  const std::string& main_name() const { return main_name_; }

  /// Installs the module loader on `rt` (its opaque must stay free for us).
  void install(JSRuntime* rt);

  /// Loads and evaluates the main module in `ctx` (the init context). Returns
  /// the module namespace object (caller frees). Throws ScriptError with
  /// file:line:column on syntax errors and exceptions at top level.
  JSValue evaluate_main(JSContext* ctx);

  /// Reads a file for open(): `path` is resolved against the directory of
  /// `base_module`. Cached; the same bytes for every VU. Throws ScriptError.
  std::shared_ptr<const std::string> read_file(const std::string& base_module, const std::string& path);

  /// Every local file loaded so far (modules and open()ed files), by resolved path.
  std::map<std::string, std::string> loaded_files() const;

  /// Resolves the import specifier `spec` written in module `base` to a module
  /// name: built-in specifiers stay as they are, URLs are joined with a remote
  /// base, other paths are joined with base's directory (file_module_name).
  std::string resolve(const std::string& base, const std::string& spec) const;

  /// Resolves a file path (open(), never a built-in) against `base`'s directory.
  std::string resolve_file(const std::string& base, const std::string& path) const;

  /// require(spec) called from module `base` in `ctx`: a built-in gives its
  /// default export object (the one `import x from` gives, so changes made
  /// to it are seen by every importer), a CommonJS file its module.exports
  /// (evaluated once per context, shared with import), an ES module its
  /// namespace. Returns JS_EXCEPTION with the error thrown in `ctx`.
  JSValue require(JSContext* ctx, const std::string& base, const std::string& spec);

 private:
  /// How a loaded file is evaluated: as an ES module, or as CommonJS (no ES
  /// module syntax) wrapped in a function(module, exports, require).
  enum class Kind { kEsModule, kCommonJs };
  /// A module compiled once: its kind and its bytecode (never changed once stored).
  struct Compiled {
    Kind kind;
    std::vector<std::uint8_t> bytecode;
  };

  friend JSModuleDef* bundle_load_module(JSContext*, const char*, void*);
  JSModuleDef* load_module(JSContext* ctx, const std::string& name);
  std::string source_of(const std::string& name);
  /// Remembers where `base` imports the unknown built-in `spec` ("file:line:column",
  /// found by searching base's source for the quoted specifier) for source_of's error.
  void note_import_site(const std::string& base, const std::string& spec) const;
  /// The compiled form of file or built-in `name`, compiling it in `ctx` on first
  /// use. nullptr with the compiler's error (a SyntaxError naming file:line:column)
  /// pending in `ctx`; throws ScriptError when the source cannot be had.
  const Compiled* compiled(JSContext* ctx, const std::string& name);
  bool is_builtin(const std::string& name) const { return builtins_.count(name) || natives_.count(name); }

  std::string main_name_;
  std::map<std::string, std::string> builtins_;
  std::map<std::string, NativeModuleFactory> natives_;
  mutable std::mutex mu_;
  std::map<std::string, Compiled> compiled_;
  std::map<std::string, std::string> files_;  ///< local files read or provided, by path
  std::map<std::string, std::shared_ptr<const std::string>> opened_;
  mutable std::map<std::string, std::string> import_sites_;  ///< unknown built-in -> where it was last imported
};

/// Why built-in specifier `name` (not one herd has) cannot be loaded: k6
/// modules herd lacks say so; other names are "unknown module".
std::string unsupported_module_message(const std::string& name);

/// Lexically normalises a path ("a/./b/../c.js" -> "a/c.js").
std::string normalize_path(const std::string& p);

/// True for import specifiers naming a built-in module: "k6", "k6/...", "herd:...".
bool is_builtin_specifier(const std::string& spec);

/// The module name of a local file: normalize_path, then "./" in front when the
/// result would read as a built-in specifier ("k6/a.js" -> "./k6/a.js").
std::string file_module_name(const std::string& path);

}  // namespace herd::js
