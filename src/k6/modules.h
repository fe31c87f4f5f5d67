#pragma once
// herd's k6 modules: JavaScript sources (compiled once per run) and the
// native functions behind them.

#include <quickjs.h>

#include <map>
#include <string>

#include "k6/vu_state.h"

namespace herd::k6 {

/// Module name -> JS source for "k6", "k6/http", "k6/metrics", "k6/execution",
/// and "k6/data" (\"k6\" itself is native: native_modules()).
std::map<std::string, std::string> builtin_module_sources();

/// Built-in modules implemented in C ("k6").
std::map<std::string, js::NativeModuleFactory> native_modules();

/// Installs the hidden global `__herd` (the natives), `__ENV`, `__VU`, `__ITER`,
/// `console` and `open`. `vu` becomes the context's
/// opaque and must outlive it. Throws js::ScriptError.
void install_globals(JSContext* ctx, VuState* vu);

/// Sets __VU and __ITER on the global object.
void set_iteration_globals(JSContext* ctx, std::int64_t vu, std::int64_t iter);

/// A JS string from a std::string.
inline JSValue new_string_for(JSContext* ctx, const std::string& s) {
  return JS_NewStringLen(ctx, s.data(), s.size());
}

/// Frees values the VuState holds in `ctx` (response proto, callback). Call before freeing the context.
void release_vu_values(JSContext* ctx, VuState* vu);

}  // namespace herd::k6
