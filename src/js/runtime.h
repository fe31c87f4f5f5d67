#pragma once
// RAII wrappers over QuickJS: one Runtime (JSRuntime + JSContext) per virtual
// user, plus helpers to turn exceptions into "file:line:column: message" text.

#include <quickjs.h>

#include "js/shape_keeper.h"
#include "js/string_cache.h"

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

namespace herd::js {

/// Owns a JSRuntime and its single JSContext. Thread-confined: create it and
/// use it on the same thread (and, for fibers, on the same stack).
class Runtime {
 public:
  /// `stack_limit`: bytes of native stack JS may use from the current stack
  /// pointer down (0 = QuickJS default). `memory_limit`: 0 = none.
  /// `lazy_intrinsics`: Date, Map/Set/WeakMap/WeakSet, the typed arrays
  /// (ArrayBuffer, DataView, Uint8Array, ...) and JSON are installed on first
  /// use of their global names instead of up front: about 20 KB less per
  /// runtime for scripts that never touch them. Both modes get herd's
  /// JSON.stringify and JSON.parse (js/json_stringify.h, js/json_parse.h). Native code that creates such objects
  /// calls ensure_typed_arrays() first.
  explicit Runtime(std::size_t stack_limit = 0, std::size_t memory_limit = 0, bool lazy_intrinsics = false);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  JSRuntime* rt() const { return rt_; }
  JSContext* ctx() const { return ctx_; }

  /// Runs queued promise jobs until none is left. Returns false if a job threw
  /// (the exception is left pending in `error_out`).
  bool run_jobs(std::string* error_out);

 private:
  struct State;
  JSRuntime* rt_ = nullptr;
  JSContext* ctx_ = nullptr;
  std::unique_ptr<State> state_;
};

/// A JSValue owned by a context; frees on destruction. Move-only: moving
/// costs no refcount traffic, so pass it by reference or move it on hot paths.
class Value {
 public:
  Value() : ctx_(nullptr), v_(JS_UNDEFINED) {}
  /// Takes ownership of `v` (a value a QuickJS call returned, JS_EXCEPTION included).
  Value(JSContext* ctx, JSValue v) : ctx_(ctx), v_(v) {}
  /// A new owned reference to a borrowed value (JS_DupValue).
  static Value dup(JSContext* ctx, JSValueConst v) { return Value(ctx, JS_DupValue(ctx, v)); }
  ~Value() {
    if (ctx_) JS_FreeValue(ctx_, v_);
  }
  Value(Value&& o) noexcept : ctx_(o.ctx_), v_(o.v_) {
    o.ctx_ = nullptr;
    o.v_ = JS_UNDEFINED;
  }
  Value& operator=(Value&& o) noexcept {
    if (this != &o) {
      if (ctx_) JS_FreeValue(ctx_, v_);
      ctx_ = o.ctx_;
      v_ = o.v_;
      o.ctx_ = nullptr;
      o.v_ = JS_UNDEFINED;
    }
    return *this;
  }
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;

  JSValue get() const { return v_; }
  /// A new reference for a QuickJS call that consumes its argument.
  JSValue dup() const { return JS_DupValue(ctx_, v_); }
  /// Gives up ownership.
  JSValue release() {
    ctx_ = nullptr;
    return v_;
  }
  bool is_exception() const { return JS_IsException(v_); }
  bool is_undefined() const { return JS_IsUndefined(v_); }

 private:
  JSContext* ctx_;
  JSValue v_;
};

/// The context's global object, owned.
inline Value global_object(JSContext* ctx) {
  return Value(ctx, JS_GetGlobalObject(ctx));
}

/// Drops the pending exception of `ctx`, if any, when its message is not wanted.
void discard_exception(JSContext* ctx);

/// The global JSON object and its function `name` (QuickJS's, before herd
/// replaces it), owned in *json and *fn; false (nothing pending) when either is
/// missing.
bool json_builtin(JSContext* ctx, const char* name, Value* json, Value* fn);

/// Installs the typed-array intrinsics in `ctx` if a lazy Runtime has not yet.
void ensure_typed_arrays(JSContext* ctx);

/// The shape keeper (js/shape_keeper.h) of the js::Runtime that owns `ctx`, or
/// nullptr for a context that no js::Runtime made.
ShapeKeeper* shape_keeper(JSContext* ctx);

/// The string cache (js/string_cache.h) of the js::Runtime that owns `ctx`
/// (made on the first call), or nullptr for a context that no js::Runtime made
/// (or when it cannot be allocated).
StringCache* string_cache(JSContext* ctx);

/// Converts a JS value to a std::string (String(v)); "" on failure.
std::string to_string(JSContext* ctx, JSValueConst v);

/// Takes the pending exception and formats it as
/// "file:line:column: Name: message" followed by the stack, if any.
std::string take_exception(JSContext* ctx);

/// Formats an exception value (does not free it).
std::string format_exception(JSContext* ctx, JSValueConst exc);

}  // namespace herd::js
