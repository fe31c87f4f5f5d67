#include "js/bundle.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "js/commonjs.h"
#include "js/runtime.h"
#include "util/url.h"

namespace herd::js {

namespace {

bool read_disk(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

char* normalize_cb(JSContext* ctx, const char* base, const char* name, void* opaque) {
  auto* b = static_cast<Bundle*>(opaque);
  std::string r = b->resolve(base ? base : "", name);
  char* out = static_cast<char*>(js_malloc(ctx, r.size() + 1));
  if (!out) return nullptr;
  std::memcpy(out, r.c_str(), r.size() + 1);
  return out;
}

}  // namespace

JSModuleDef* bundle_load_module(JSContext* ctx, const char* name, void* opaque) {
  auto* b = static_cast<Bundle*>(opaque);
  try {
    return b->load_module(ctx, name);
  } catch (const std::exception& e) {
    JS_ThrowReferenceError(ctx, "%s", e.what());
    return nullptr;
  }
}

bool is_remote(const std::string& s) {
  return s.rfind("https://", 0) == 0 || s.rfind("http://", 0) == 0;
}

/// Fetches a remote module once (blocking; the init context runs before any
/// load). Throws ScriptError with the URL and the reason.
std::string fetch_remote(const std::string& url) {
  CURL* c = curl_easy_init();
  if (!c) throw ScriptError("cannot fetch module " + url + ": libcurl init failed");
  std::string body;
  char err[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
  // A private CA for remote modules (as OpenSSL's own convention): SSL_CERT_FILE.
  if (const char* ca = std::getenv("SSL_CERT_FILE"); ca && *ca) curl_easy_setopt(c, CURLOPT_CAINFO, ca);
  curl_easy_setopt(
      c, CURLOPT_WRITEFUNCTION, +[](char* p, size_t sz, size_t n, void* ud) {
        static_cast<std::string*>(ud)->append(p, sz * n);
        return sz * n;
      });
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK)
    throw ScriptError("cannot fetch module " + url + ": " + (err[0] ? std::string(err) : curl_easy_strerror(rc)));
  if (status < 200 || status > 299)
    throw ScriptError("cannot fetch module " + url + ": HTTP status " + std::to_string(status));
  return body;
}

std::string normalize_path(const std::string& p) {
  std::string s = std::filesystem::path(p).lexically_normal().generic_string();
  return s;
}

bool is_builtin_specifier(const std::string& spec) {
  return spec == "k6" || spec.rfind("k6/", 0) == 0 || spec.rfind("herd:", 0) == 0;
}

std::string file_module_name(const std::string& path) {
  std::string n = normalize_path(path);
  return is_builtin_specifier(n) ? "./" + n : n;
}

namespace {

bool is_typescript(const std::string& name) {
  for (const char* ext : {".ts", ".mts", ".cts", ".tsx"}) {
    size_t n = std::strlen(ext);
    if (name.size() > n && name.compare(name.size() - n, n, ext) == 0) return true;
  }
  return false;
}

/// True when `src` mentions import or export as a word: a file that compiles
/// neither way then gets the ES module compiler's error.
bool mentions_module_syntax(const std::string& src) {
  for (const char* word : {"import", "export"}) {
    size_t n = std::strlen(word);
    for (size_t at = src.find(word); at != std::string::npos; at = src.find(word, at + 1)) {
      auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; };
      bool before = at > 0 && (ident(src[at - 1]) || src[at - 1] == '.');
      bool after = at + n < src.size() && ident(src[at + n]);
      if (!before && !after) return true;
    }
  }
  return false;
}

/// The bytecode of compiled `fn` into `out`; false with the exception pending in ctx.
bool write_bytecode(JSContext* ctx, const Value& fn, std::vector<std::uint8_t>* out) {
  size_t size = 0;
  uint8_t* buf = JS_WriteObject(ctx, &size, fn.get(), JS_WRITE_OBJ_BYTECODE);
  if (!buf) return false;
  out->assign(buf, buf + size);
  js_free(ctx, buf);
  return true;
}

}  // namespace

Bundle::Bundle(std::string main_path, std::map<std::string, std::string> builtins)
    : main_name_(file_module_name(main_path)), builtins_(std::move(builtins)) {}

void Bundle::add_file(const std::string& path, std::string contents) {
  std::lock_guard<std::mutex> g(mu_);
  files_[file_module_name(path)] = std::move(contents);
}

void Bundle::install(JSRuntime* rt) {
  // Keep line and column information for error messages, drop the source text:
  // every VU would otherwise hold its own copy of every module's source.
  JS_SetStripInfo(rt, JS_STRIP_SOURCE);
  JS_SetModuleLoaderFunc(rt, normalize_cb, bundle_load_module, this);
}

std::string Bundle::resolve(const std::string& base, const std::string& spec) const {
  if (is_builtin(spec)) return spec;
  if (is_builtin_specifier(spec)) {
    note_import_site(base, spec);
    return spec;
  }
  return resolve_file(base, spec);
}

std::string Bundle::resolve_file(const std::string& base, const std::string& spec) const {
  if (is_remote(spec)) return spec;
  if (is_remote(base) && (spec.rfind("./", 0) == 0 || spec.rfind("../", 0) == 0 || spec.rfind("/", 0) == 0)) {
    // Relative import inside a remote module: resolve against its URL.
    return util::resolve_url(base, spec);
  }
  if (spec.rfind("file://", 0) == 0) return file_module_name(spec.substr(7));
  if (!spec.empty() && spec[0] == '/') return file_module_name(spec);
  std::filesystem::path dir = std::filesystem::path(base).parent_path();
  return file_module_name((dir / spec).generic_string());
}

void Bundle::note_import_site(const std::string& base, const std::string& spec) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = files_.find(base);
  std::string site = base;
  if (it != files_.end()) {
    const std::string& src = it->second;
    for (char q : {'\'', '"', '`'}) {
      std::size_t at = src.find(q + spec + q);
      if (at == std::string::npos) continue;
      std::size_t line_start = src.rfind('\n', at);
      line_start = line_start == std::string::npos ? 0 : line_start + 1;
      std::size_t line = 1 + static_cast<std::size_t>(std::count(src.begin(), src.begin() + at, '\n'));
      site += ":" + std::to_string(line) + ":" + std::to_string(at - line_start + 1);
      break;
    }
  }
  import_sites_[spec] = site;
}

std::string unsupported_module_message(const std::string& name) {
  static const std::map<std::string, std::string> kNotYet = {
      {"k6/browser", ""},
      {"k6/experimental/browser", ""},
      {"k6/experimental/redis", ""},
      {"k6/experimental/tracing", ""},
      {"k6/experimental/timers", " (use k6/timers)"},
  };
  if (auto it = kNotYet.find(name); it != kNotYet.end())
    return "module \"" + name + "\" is not supported by herd yet" + it->second;
  return "unknown module \"" + name + "\": herd has no such built-in module";
}

std::string Bundle::source_of(const std::string& name) {
  auto bi = builtins_.find(name);
  if (bi != builtins_.end()) return bi->second;
  if (is_builtin_specifier(name)) {
    std::string site;
    {
      std::lock_guard<std::mutex> g(mu_);
      auto it = import_sites_.find(name);
      if (it != import_sites_.end()) site = it->second + ": ";
    }
    throw ScriptError(site + unsupported_module_message(name));
  }
  if (is_typescript(name))
    throw ScriptError(name +
                      ": TypeScript is not supported yet: compile it to JavaScript first "
                      "(e.g. esbuild " +
                      name + " --outdir=dist, or tsc) and run or import the .js file");
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = files_.find(name);
    if (it != files_.end()) return it->second;
  }
  if (is_remote(name)) {
    // Fetched once per run: every other VU reads the compiled bytecode.
    std::string src = fetch_remote(name);
    std::lock_guard<std::mutex> g(mu_);
    files_[name] = src;
    return src;
  }
  std::string src;
  if (!read_disk(name, &src)) throw ScriptError("cannot read module \"" + name + "\": " + std::strerror(errno));
  std::lock_guard<std::mutex> g(mu_);
  files_[name] = src;
  return src;
}

const Bundle::Compiled* Bundle::compiled(JSContext* ctx, const std::string& name) {
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = compiled_.find(name);
    // Entries are never changed or erased, so they stay put while the map grows.
    if (it != compiled_.end()) return &it->second;
  }
  std::string src = source_of(name);
  Compiled c{Kind::kEsModule, {}};
  // A file that compiles as the body of a function has no ES module syntax
  // (import/export declarations, top-level await): it is CommonJS, as in k6.
  // Built-ins are always ES modules.
  if (!builtins_.count(name)) {
    std::string wrapped = commonjs_wrapper(src);
    Value fn(ctx, JS_Eval(ctx, wrapped.c_str(), wrapped.size(), name.c_str(),
                          JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_COMPILE_ONLY));
    if (!fn.is_exception()) {
      c.kind = Kind::kCommonJs;
      if (!write_bytecode(ctx, fn, &c.bytecode)) return nullptr;
    } else if (!mentions_module_syntax(src)) {
      return nullptr;  // the CommonJS compiler's error (file:line:column) is pending
    } else {
      discard_exception(ctx);
    }
  }
  if (c.kind == Kind::kEsModule) {
    Value fn(ctx, JS_Eval(ctx, src.c_str(), src.size(), name.c_str(), JS_EVAL_TYPE_MODULE | JS_EVAL_FLAG_COMPILE_ONLY));
    if (fn.is_exception() || !write_bytecode(ctx, fn, &c.bytecode)) return nullptr;
  }
  std::lock_guard<std::mutex> g(mu_);
  return &compiled_.emplace(name, std::move(c)).first->second;  // another thread's equal copy may have won
}

JSModuleDef* Bundle::load_module(JSContext* ctx, const std::string& name) {
  auto native = natives_.find(name);
  if (native != natives_.end()) return native->second(ctx, name.c_str());
  const Compiled* c = compiled(ctx, name);
  if (!c) return nullptr;
  if (c->kind == Kind::kCommonJs) {
    Value exports(ctx, commonjs_exports(ctx, name, c->bytecode));
    if (exports.is_exception()) return nullptr;
    return commonjs_module(ctx, name, exports.get());
  }
  // ROM_DATA: the runtime points into the shared bytecode instead of copying it.
  Value v(ctx, JS_ReadObject(ctx, c->bytecode.data(), c->bytecode.size(), JS_READ_OBJ_BYTECODE | JS_READ_OBJ_ROM_DATA));
  if (v.is_exception()) return nullptr;
  return static_cast<JSModuleDef*>(JS_VALUE_GET_PTR(v.get()));
}
namespace {

/// Settles `promise` by running pending jobs; returns its value (or throws its reason in ctx).
JSValue await_promise(JSContext* ctx, Value promise) {
  if (promise.is_exception()) return promise.release();
  for (;;) {
    JSContext* jc = nullptr;
    if (JS_ExecutePendingJob(JS_GetRuntime(ctx), &jc) <= 0) break;
  }
  JSValue p = promise.get();
  if (!JS_IsObject(p) || static_cast<int>(JS_PromiseState(ctx, p)) < 0) return promise.release();
  if (JS_PromiseState(ctx, p) == JS_PROMISE_PENDING)
    return JS_ThrowTypeError(ctx, "require(): the module awaits something that never settles during init");
  JSValue v = JS_PromiseResult(ctx, p);
  if (JS_PromiseState(ctx, p) == JS_PROMISE_REJECTED) return JS_Throw(ctx, v);
  return v;
}

}  // namespace

JSValue Bundle::require(JSContext* ctx, const std::string& base, const std::string& spec) {
  std::string name = resolve(base, spec);
  if (!natives_.count(name)) {
    try {
      const Compiled* c = compiled(ctx, name);
      if (!c) return JS_EXCEPTION;
      if (c->kind == Kind::kCommonJs) return commonjs_exports(ctx, name, c->bytecode);
    } catch (const std::exception& e) {
      return JS_ThrowReferenceError(ctx, "require(\"%s\"): %s", spec.c_str(), e.what());
    }
  }
  Value ns(ctx, await_promise(ctx, Value(ctx, JS_LoadModule(ctx, base.c_str(), spec.c_str()))));
  if (ns.is_exception() || !is_builtin(name)) return ns.release();
  // A built-in: its default export object, the one `import http from 'k6/http'` gives.
  Value def(ctx, JS_GetPropertyStr(ctx, ns.get(), "default"));
  return JS_IsObject(def.get()) ? def.release() : ns.release();
}

JSValue Bundle::evaluate_main(JSContext* ctx) {
  JSModuleDef* m = nullptr;
  try {
    m = load_module(ctx, main_name_);
  } catch (const ScriptError&) {
    throw;
  }
  if (!m) throw ScriptError(take_exception(ctx));
  Value fn = Value::dup(ctx, JS_MKPTR(JS_TAG_MODULE, m));
  if (JS_ResolveModule(ctx, fn.get()) < 0) throw ScriptError(take_exception(ctx));
  Value r(ctx, JS_EvalFunction(ctx, fn.release()));  // consumes fn
  if (r.is_exception()) throw ScriptError(take_exception(ctx));
  // Modules evaluate to a promise (top-level await). Run jobs to settle it.
  for (;;) {
    JSContext* jctx = nullptr;
    int jr = JS_ExecutePendingJob(JS_GetRuntime(ctx), &jctx);
    if (jr <= 0) {
      if (jr < 0) throw ScriptError(take_exception(jctx ? jctx : ctx));
      break;
    }
  }
  if (JS_IsObject(r.get()) && JS_PromiseState(ctx, r.get()) == JS_PROMISE_REJECTED) {
    Value reason(ctx, JS_PromiseResult(ctx, r.get()));
    throw ScriptError(format_exception(ctx, reason.get()));
  }
  return JS_GetModuleNamespace(ctx, m);
}

std::shared_ptr<const std::string> Bundle::read_file(const std::string& base_module, const std::string& path) {
  std::string resolved = resolve_file(base_module, path);
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = opened_.find(resolved);
    if (it != opened_.end()) return it->second;
    auto f = files_.find(resolved);
    if (f != files_.end()) {
      auto p = std::make_shared<const std::string>(f->second);
      opened_[resolved] = p;
      return p;
    }
  }
  std::string data;
  if (!read_disk(resolved, &data))
    throw ScriptError("open(\"" + path + "\"): cannot read " + resolved + ": " + std::strerror(errno));
  std::lock_guard<std::mutex> g(mu_);
  files_[resolved] = data;
  auto p = std::make_shared<const std::string>(std::move(data));
  opened_[resolved] = p;
  return p;
}

std::map<std::string, std::string> Bundle::loaded_files() const {
  std::lock_guard<std::mutex> g(mu_);
  std::map<std::string, std::string> out;
  for (const auto& [name, contents] : files_) out.emplace(is_remote(name) ? name : normalize_path(name), contents);
  return out;
}

}  // namespace herd::js
