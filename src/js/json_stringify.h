#pragma once
// JSON.stringify with a native fast path (issue #17). Plain data (objects and
// arrays of strings, numbers, booleans and null) is serialized in C++; anything
// else goes to QuickJS's own JS_JSONStringify, so every result, exception and
// message is QuickJS's. The fast path reads the value graph through the public
// QuickJS API only and gives up before running any script code (getters,
// toJSON, Proxy traps), so falling back never repeats a side effect.

#include <quickjs.h>

#include <cstdint>
#include <string>

namespace herd::js {

/// Replaces JSON.stringify in `ctx` (JS_AddIntrinsicJSON must have run) with a
/// native function of the same name ("stringify"), length (3) and attributes
/// (writable, configurable, not enumerable). Holds no per-context state: the
/// replaced function object takes the original's place. Returns false, leaving
/// JSON.stringify as it was, if this QuickJS build does not have the class ids
/// and atoms the fast path was written for (QuickJS 2025-04-26).
bool install_json_stringify(JSContext* ctx);

/// What json_stringify_fast did.
enum class FastStringify {
  kText,        ///< `out` holds the JSON text (UTF-8) QuickJS would return.
  kUndefined,   ///< QuickJS returns undefined (undefined, a function, a symbol).
  kNotHandled,  ///< Needs QuickJS's path; nothing script-visible happened, `out` is unspecified.
  kException,   ///< A QuickJS call failed (out of memory); the exception is pending in `ctx`.
};

/// The fast path alone: JSON.stringify(v) without replacer or space, for a
/// value graph of plain objects (Object.prototype, ordinary, data properties
/// only), dense plain arrays (Array.prototype), strings, numbers, booleans,
/// null, and undefined/functions/symbols where they are skipped, with no
/// toJSON anywhere (own or inherited), no cycle and at most 32 levels deep.
/// Appends to `out`.
FastStringify json_stringify_fast(JSContext* ctx, JSValueConst v, std::string& out);

/// Calls of the installed JSON.stringify on this thread: answered natively, and
/// passed to QuickJS (replacer, space, or a value outside the fast path).
struct JsonStringifyCounts {
  std::uint64_t native = 0;
  std::uint64_t fallback = 0;
};
JsonStringifyCounts json_stringify_counts();

}  // namespace herd::js
