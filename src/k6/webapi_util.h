#pragma once
// Helpers shared by the web-API modules: promises settled from native results,
// DOMException-like errors, and byte buffers in and out of JS.

#include <quickjs.h>

#include <string>
#include <string_view>

namespace herd::k6 {

/// Turns a native result into a settled promise. `result` is consumed: a value
/// fulfils the promise; JS_EXCEPTION rejects it with the pending exception.
/// An uncatchable pending exception (VU interrupted) is returned as is.
JSValue settle_promise(JSContext* ctx, JSValue result);

/// Throws an Error whose `name` is `name` (a DOMException name such as
/// "NotSupportedError", "OperationError", "InvalidAccessError", "SyntaxError",
/// "DataError", "QuotaExceededError", "TypeMismatchError"). Returns JS_EXCEPTION.
JSValue throw_dom_error(JSContext* ctx, const char* name, const std::string& message);

/// A new ArrayBuffer holding a copy of `bytes`.
JSValue new_array_buffer(JSContext* ctx, std::string_view bytes);

/// The bytes of a BufferSource (ArrayBuffer, typed array or DataView). False,
/// with no exception pending, for anything else.
bool buffer_bytes(JSContext* ctx, JSValueConst v, std::string* out);

/// Reads own property `name` of `obj` (undefined if `obj` is not an object). Caller frees.
JSValue get_prop(JSContext* ctx, JSValueConst obj, const char* name);

}  // namespace herd::k6
