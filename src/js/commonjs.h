#pragma once
// CommonJS files (module.exports / exports.x, webpack, esbuild and UMD
// bundles) in a runtime of ES modules, as k6 runs them. A file runs once per
// context, on its first require() or import, with `this` = module.exports;
// require() and import then share that one evaluation. An import sees a
// synthetic ES module: its default export is module.exports (or
// module.exports.default when that is an own property, as bundlers emit for
// ES sources), its named exports module.exports' own enumerable keys at the
// time the file finished running.

#include <quickjs.h>

#include <cstdint>
#include <string>
#include <vector>

namespace herd::js {

/// Wraps CommonJS `source` in `(function (module, exports, require) {...})`,
/// opening on the file's first line so reported lines stay right.
std::string commonjs_wrapper(const std::string& source);

/// module.exports of the CommonJS file `name` in `ctx` (a new reference), running
/// `bytecode` (commonjs_wrapper compiled as a script) on the first call. A file
/// that throws is not cached (as in Node). Returns JS_EXCEPTION with the error
/// pending in `ctx`. Uses the context's global `require` for nested requires.
JSValue commonjs_exports(JSContext* ctx, const std::string& name, const std::vector<std::uint8_t>& bytecode);

/// A synthetic ES module named `name` over `exports` (commonjs_exports(ctx, name) ran first).
JSModuleDef* commonjs_module(JSContext* ctx, const std::string& name, JSValueConst exports);

}  // namespace herd::js
