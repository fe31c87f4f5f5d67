#include "js/bundle.h"

#include <curl/curl.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "js/runtime.h"

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

bool is_remote(const std::string& s) { return s.rfind("https://", 0) == 0 || s.rfind("http://", 0) == 0; }

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
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char* p, size_t sz, size_t n, void* ud) {
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

Bundle::Bundle(std::string main_path, std::map<std::string, std::string> builtins)
    : main_name_(normalize_path(main_path)), builtins_(std::move(builtins)) {}

void Bundle::add_file(const std::string& path, std::string contents) {
  std::lock_guard<std::mutex> g(mu_);
  files_[normalize_path(path)] = std::move(contents);
}

void Bundle::install(JSRuntime* rt) {
  // Keep line and column information for error messages, drop the source text:
  // every VU would otherwise hold its own copy of every module's source.
  JS_SetStripInfo(rt, JS_STRIP_SOURCE);
  JS_SetModuleLoaderFunc(rt, normalize_cb, bundle_load_module, this);
}

std::string Bundle::resolve(const std::string& base, const std::string& spec) const {
  if (builtins_.count(spec) || natives_.count(spec) || spec.rfind("k6", 0) == 0 || spec.rfind("herd:", 0) == 0) return spec;
  if (is_remote(spec)) return spec;
  if (is_remote(base) && (spec.rfind("./", 0) == 0 || spec.rfind("../", 0) == 0 || spec.rfind("/", 0) == 0)) {
    // Relative import inside a remote module: resolve against its URL.
    CURLU* u = curl_url();
    std::string out = spec;
    if (curl_url_set(u, CURLUPART_URL, base.c_str(), 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, spec.c_str(), 0) == CURLUE_OK) {
      char* r = nullptr;
      if (curl_url_get(u, CURLUPART_URL, &r, 0) == CURLUE_OK) {
        out = r;
        curl_free(r);
      }
    }
    curl_url_cleanup(u);
    return out;
  }
  if (spec.rfind("file://", 0) == 0) return normalize_path(spec.substr(7));
  if (!spec.empty() && spec[0] == '/') return normalize_path(spec);
  std::filesystem::path dir = std::filesystem::path(base).parent_path();
  return normalize_path((dir / spec).generic_string());
}

std::string Bundle::source_of(const std::string& name) {
  auto bi = builtins_.find(name);
  if (bi != builtins_.end()) return bi->second;
  if (name.rfind("k6", 0) == 0 || name.rfind("herd:", 0) == 0)
    throw ScriptError("unknown module \"" + name + "\"");
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

JSModuleDef* Bundle::load_module(JSContext* ctx, const std::string& name) {
  auto native = natives_.find(name);
  if (native != natives_.end()) return native->second(ctx, name.c_str());
  const std::vector<std::uint8_t>* bc = nullptr;
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = bytecode_.find(name);
    // Entries are never changed or erased, so the bytes stay put while the map grows.
    if (it != bytecode_.end()) bc = &it->second;
  }
  if (bc) {
    // ROM_DATA: the runtime points into the shared bytecode instead of copying it.
    JSValue v = JS_ReadObject(ctx, bc->data(), bc->size(), JS_READ_OBJ_BYTECODE | JS_READ_OBJ_ROM_DATA);
    if (JS_IsException(v)) return nullptr;
    auto* m = static_cast<JSModuleDef*>(JS_VALUE_GET_PTR(v));
    JS_FreeValue(ctx, v);
    return m;
  }
  std::string src = source_of(name);
  JSValue fn = JS_Eval(ctx, src.c_str(), src.size(), name.c_str(), JS_EVAL_TYPE_MODULE | JS_EVAL_FLAG_COMPILE_ONLY);
  if (JS_IsException(fn)) {
    // Re-throw as ScriptError carrying file:line:column.
    throw ScriptError(take_exception(ctx));
  }
  size_t size = 0;
  uint8_t* buf = JS_WriteObject(ctx, &size, fn, JS_WRITE_OBJ_BYTECODE);
  if (buf) {
    std::lock_guard<std::mutex> g(mu_);
    bytecode_.emplace(name, std::vector<std::uint8_t>(buf, buf + size));
    js_free(ctx, buf);
  }
  auto* m = static_cast<JSModuleDef*>(JS_VALUE_GET_PTR(fn));
  JS_FreeValue(ctx, fn);
  return m;
}

JSValue Bundle::evaluate_main(JSContext* ctx) {
  JSModuleDef* m = nullptr;
  try {
    m = load_module(ctx, main_name_);
  } catch (const ScriptError&) {
    throw;
  }
  if (!m) throw ScriptError(take_exception(ctx));
  JSValue fn = JS_DupValue(ctx, JS_MKPTR(JS_TAG_MODULE, m));
  if (JS_ResolveModule(ctx, fn) < 0) {
    JS_FreeValue(ctx, fn);
    throw ScriptError(take_exception(ctx));
  }
  JSValue r = JS_EvalFunction(ctx, fn);  // consumes fn
  if (JS_IsException(r)) throw ScriptError(take_exception(ctx));
  // Modules evaluate to a promise (top-level await). Run jobs to settle it.
  for (;;) {
    JSContext* jctx = nullptr;
    int jr = JS_ExecutePendingJob(JS_GetRuntime(ctx), &jctx);
    if (jr <= 0) {
      if (jr < 0) {
        JS_FreeValue(ctx, r);
        throw ScriptError(take_exception(jctx ? jctx : ctx));
      }
      break;
    }
  }
  if (JS_IsObject(r)) {
    JSPromiseStateEnum st = JS_PromiseState(ctx, r);
    if (st == JS_PROMISE_REJECTED) {
      JSValue reason = JS_PromiseResult(ctx, r);
      std::string msg = format_exception(ctx, reason);
      JS_FreeValue(ctx, reason);
      JS_FreeValue(ctx, r);
      throw ScriptError(msg);
    }
  }
  JS_FreeValue(ctx, r);
  return JS_GetModuleNamespace(ctx, m);
}

std::shared_ptr<const std::string> Bundle::read_file(const std::string& base_module, const std::string& path) {
  std::string resolved = resolve(base_module, path);
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
  return files_;
}

}  // namespace herd::js
