#pragma once
// Globals built on first use. A VU's context pays for an accessor pair per
// lazy global instead of the whole object (console's six functions, __herd's
// natives), so scripts that never touch one do not carry it.

#include <quickjs.h>

namespace herd::k6 {

/// Builds the value of a lazy global (a new reference, or JS_EXCEPTION).
using LazyGlobalBuilder = JSValue (*)(JSContext* ctx);

/// Defines global `name` as an accessor whose getter calls `build` once,
/// then replaces itself with a data property of `flags` (JS_PROP_* bits);
/// assigning before the first read also replaces it (when `flags` has
/// JS_PROP_WRITABLE; otherwise the property has no setter, as a read-only
/// data property). Enumerable when `flags` is.
void define_lazy_global(JSContext* ctx, JSValueConst global, const char* name, LazyGlobalBuilder build, int flags);

}  // namespace herd::k6
