#pragma once
// A JSON parser that builds QuickJS values directly (issue #17): the common
// case of res.json() and friends without QuickJS's tokenizer.

#include <quickjs.h>

#include <cstddef>
#include <cstdint>

namespace herd::js {

/// Parses `n` bytes of JSON text at `p` into a new value of `ctx`, exactly as
/// JS_ParseJSON(ctx, p, n, filename) does (JSON.parse without a reviver): the
/// same values, property order, prototypes and attributes; numbers as in JS
/// (-0 stays -0, correctly rounded). Strict RFC 8259 JSON in valid UTF-8 nested
/// at most 64 deep is parsed natively; anything else (a syntax error, an escape
/// that makes a lone surrogate, invalid UTF-8, deeper nesting, a number out of
/// double range) is handed to JS_ParseJSON itself, so errors (SyntaxError and
/// its message) and every extension stay QuickJS's.
///
/// `p[n]` must be readable and '\0' (JS_ParseJSON's requirement; std::string
/// and JS_ToCStringLen buffers are). Returns JS_EXCEPTION with the exception
/// pending on error. Calls no JS code; thread-confined to `ctx`'s runtime.
///
/// `key_fingerprint`, if given, receives a hash of the keys of the objects
/// built (atoms, order, nesting) when the native parser took the text, else 0.
JSValue parse_json(JSContext* ctx, const char* p, std::size_t n, const char* filename,
                   std::uint32_t* key_fingerprint = nullptr);

/// QuickJS frees a shape with its last object, so objects built key by key
/// per parse get their shapes cloned, grown and rehashed each time. For a text
/// the native parser takes, this returns an array holding one object per
/// non-empty prefix of the keys of each object of the document (values
/// undefined), built the way parse_json builds objects: while it lives, parsing
/// a document with the same keys finds every next shape in the runtime's shape
/// table. Undefined for a text the native parser leaves to QuickJS; JS_EXCEPTION
/// (pending) if QuickJS runs out of memory.
JSValue json_shape_ladder(JSContext* ctx, const char* p, std::size_t n);

/// parse_json for callers that parse same-keyed documents again and again
/// (res.json()): `*keeper` (owned by the caller, undefined at first, then a
/// small array) keeps, for an object parsed from at most `max_bytes`, the last
/// document (its final shapes and key atoms) and, once two documents in a row
/// have the same keys, their json_shape_ladder plus their keys' atoms, which
/// later parses take without a lookup where the key bytes match. Results are
/// parse_json's; a failure to keep (out of memory) only keeps less.
JSValue parse_json_keeping_shapes(JSContext* ctx, const char* p, std::size_t n, const char* filename, JSValue* keeper,
                                  std::size_t max_bytes);

/// The native part of parse_json alone (tests use it to see which inputs it
/// takes): true with `*out` set (JS_EXCEPTION, with the exception pending, if a
/// QuickJS allocation failed) when it parsed the text; false, with nothing
/// built, when the text is for JS_ParseJSON to decide. `p[n]` need not exist.
bool parse_json_native(JSContext* ctx, const char* p, std::size_t n, JSValue* out);

/// How many parse_json calls on this thread the native parser answered.
std::uint64_t json_parse_native_count();

/// Replaces JSON.parse in `ctx` (JS_AddIntrinsicJSON must have run) with a
/// native function of the same name ("parse"), length (2) and attributes
/// (writable, configurable, not enumerable) that parses through parse_json and
/// hands a call with a reviver to QuickJS's own function, which it holds.
/// Returns false, leaving JSON.parse as it was, if it cannot.
bool install_json_parse(JSContext* ctx);

}  // namespace herd::js
