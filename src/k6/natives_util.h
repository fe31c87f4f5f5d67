#pragma once
// Small helpers shared by the native halves of the k6 modules.

#include <quickjs.h>

#include <map>
#include <string>

#include "js/runtime.h"
#include "k6/vu_state.h"

namespace herd::k6 {

/// Throws a JS error that script code cannot catch (VU interrupted).
JSValue throw_interrupted(JSContext* ctx);

/// One own property of `obj` as text: its name and String(value) ("" when the
/// conversion throws; the exception is discarded). False, with the exception
/// pending, when the name cannot be had. Through the runtime's string cache
/// (js/string_cache.h): request headers and tags are mostly literals.
bool read_entry(JSContext* ctx, JSValueConst obj, JSAtom atom, std::string* key, std::string* value);

/// Reads a plain object of string values into a map (values via String()).
bool read_string_map(JSContext* ctx, JSValueConst obj, std::map<std::string, std::string>* out);

/// The bytes of an ArrayBuffer or typed array (view) value. False, with no
/// exception left pending, when `v` is neither.
bool binary_bytes(JSContext* ctx, JSValueConst v, std::string* out);

/// Builds a TagSet from the VU's base tags plus `extra` (extra wins).
metrics::TagSet tags_with(const VuState& vu, const std::map<std::string, std::string>& extra);

inline JSValue new_string(JSContext* ctx, const std::string& s) {
  return JS_NewStringLen(ctx, s.data(), s.size());
}

/// Runs `fn`, turning C++ exceptions into JS exceptions.
template <typename F>
JSValue guarded(JSContext* ctx, F&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return JS_ThrowInternalError(ctx, "%s", e.what());
  }
}

/// The global setTimeout/setInterval (`magic` 1: interval) and clearTimeout/clearInterval
/// natives (k6/timers_module.cc).
JSValue n_set_timer(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv, int interval);
JSValue n_clear_timer(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv);
/// Logs a warning for each timer still pending when an iteration ends with an
/// error, as k6 does for the timers it stops then (k6/timers_module.cc).
void warn_dropped_timers(VuState* vu);

/// A new `__ENV` object: reads RunShared::env, writes and deletes go to the VU's overlay (k6/env_object.cc).
JSValue new_env_object(JSContext* ctx);

/// http.request / http.batch natives (k6/http_natives.cc).
JSValue http_request(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv);
JSValue http_batch(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv);
JSValue http_async_request(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv);

/// Registers the Response class in `ctx`'s runtime and puts the lazy field
/// getters (headers, timings, cookies, request, ...) on `proto`.
void install_response_class(JSContext* ctx, JSValue proto);

/// The native "k6/encoding" and "k6/crypto" modules (k6/crypto_module.cc).
JSModuleDef* encoding_native_module(JSContext* ctx, const char* name);
JSModuleDef* crypto_native_module(JSContext* ctx, const char* name);

/// The native "k6/html" module (k6/html_module.cc).
JSModuleDef* html_native_module(JSContext* ctx, const char* name);

/// Response.prototype.html(selector), submitForm(opts) and clickLink(opts) (k6/html_forms.cc).
JSValue response_html(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv);
JSValue response_submit_form(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv);
JSValue response_click_link(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv);

/// The native "k6/http" module (k6/http_module.cc).
JSModuleDef* http_native_module(JSContext* ctx, const char* name);

}  // namespace herd::k6
