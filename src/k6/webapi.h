#pragma once
// The web-platform-style k6 APIs: the global `crypto` (WebCrypto), "k6/timers",
// "k6/experimental/fs", "k6/experimental/csv" and "k6/experimental/streams".

#include <quickjs.h>

#include <map>
#include <string>

namespace herd::k6 {

/// Defines the global `crypto` as a lazy accessor: the WebCrypto objects are
/// built on first use, so VUs that never touch it pay one function object.
void install_webcrypto_global(JSContext* ctx, JSValueConst global);

/// "k6/experimental/webcrypto": the global `crypto` as the export `crypto`.
JSModuleDef* webcrypto_native_module(JSContext* ctx, const char* name);

/// The native "k6/timers" module: the global timer functions as exports.
JSModuleDef* timers_native_module(JSContext* ctx, const char* name);

/// The native "k6/experimental/fs" module (open, File, SeekMode).
JSModuleDef* fs_native_module(JSContext* ctx, const char* name);

/// The native half of "k6/experimental/csv" ("herd:csv": parseShared, Parser).
JSModuleDef* csv_native_module(JSContext* ctx, const char* name);

/// The native "k6/secrets" module (get, source) over RunShared::secrets.
JSModuleDef* secrets_native_module(JSContext* ctx, const char* name);

/// The JS source of "k6/experimental/streams" (k6/streams_module.cc).
std::string streams_module_source();

/// JS sources of the web-API modules written in JS ("k6/experimental/csv",
/// "k6/experimental/streams").
std::map<std::string, std::string> webapi_module_sources();

}  // namespace herd::k6
