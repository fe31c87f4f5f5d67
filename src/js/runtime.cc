#include "js/runtime.h"

#include "js/slab_allocator.h"

#include <memory>
#include <regex>
#include <stdexcept>
#include <vector>

namespace herd::js {

namespace {

struct LazyGroup {
  void (*install)(JSContext*);
  std::vector<const char*> names;
};

const LazyGroup kLazy[] = {
    {JS_AddIntrinsicTypedArrays,
     {"ArrayBuffer", "SharedArrayBuffer", "Uint8ClampedArray", "Int8Array", "Uint8Array", "Int16Array", "Uint16Array",
      "Int32Array", "Uint32Array", "BigInt64Array", "BigUint64Array", "Float32Array", "Float64Array", "DataView",
      "Atomics"}},
    {JS_AddIntrinsicMapSet, {"Map", "Set", "WeakMap", "WeakSet"}},
    {JS_AddIntrinsicDate, {"Date"}},
};

/// Which lazy groups a context has installed; kept in the runtime's opaque.
struct LazyState {
  bool installed[3] = {false, false, false};
};

void install_group(JSContext* ctx, int group) {
  auto* st = static_cast<LazyState*>(JS_GetRuntimeOpaque(JS_GetRuntime(ctx)));
  if (!st || st->installed[group]) return;
  st->installed[group] = true;
  JSValue g = JS_GetGlobalObject(ctx);
  // Drop the placeholders first so that the intrinsics define plain properties.
  for (const char* n : kLazy[group].names) {
    JSAtom a = JS_NewAtom(ctx, n);
    JS_DeleteProperty(ctx, g, a, 0);
    JS_FreeAtom(ctx, a);
  }
  JS_FreeValue(ctx, g);
  kLazy[group].install(ctx);
}

// Getter of a placeholder: magic = group * 64 + index of the name.
JSValue lazy_get(JSContext* ctx, JSValueConst, int magic) {
  int group = magic / 64, idx = magic % 64;
  install_group(ctx, group);
  JSValue g = JS_GetGlobalObject(ctx);
  JSValue v = JS_GetPropertyStr(ctx, g, kLazy[group].names[static_cast<size_t>(idx)]);
  JS_FreeValue(ctx, g);
  return v;
}

JSValue lazy_set(JSContext* ctx, JSValueConst, JSValueConst val, int magic) {
  int group = magic / 64, idx = magic % 64;
  install_group(ctx, group);
  JSValue g = JS_GetGlobalObject(ctx);
  JS_SetPropertyStr(ctx, g, kLazy[group].names[static_cast<size_t>(idx)], JS_DupValue(ctx, val));
  JS_FreeValue(ctx, g);
  return JS_UNDEFINED;
}

}  // namespace

void ensure_typed_arrays(JSContext* ctx) {
  install_group(ctx, 0);
}

struct Runtime::LazyStateHolder {
  LazyState s;
  void* state() { return &s; }
};

Runtime::Runtime(std::size_t stack_limit, std::size_t memory_limit, bool lazy_intrinsics) {
  const JSMallocFunctions* mf = lazy_intrinsics ? slab_malloc_functions() : nullptr;
  rt_ = mf ? JS_NewRuntime2(mf, nullptr) : JS_NewRuntime();
  if (!rt_) throw std::runtime_error("QuickJS: cannot create runtime");
  if (stack_limit) JS_SetMaxStackSize(rt_, stack_limit);
  if (memory_limit) JS_SetMemoryLimit(rt_, memory_limit);
  if (lazy_intrinsics) {
    lazy_ = std::make_unique<LazyStateHolder>();
    JS_SetRuntimeOpaque(rt_, lazy_->state());
    ctx_ = JS_NewContextRaw(rt_);
    if (ctx_) {
      JS_AddIntrinsicBaseObjects(ctx_);
      JS_AddIntrinsicEval(ctx_);
      JS_AddIntrinsicStringNormalize(ctx_);
      JS_AddIntrinsicRegExp(ctx_);
      JS_AddIntrinsicJSON(ctx_);
      JS_AddIntrinsicProxy(ctx_);
      JS_AddIntrinsicPromise(ctx_);
      JS_AddIntrinsicWeakRef(ctx_);
      JSValue g = JS_GetGlobalObject(ctx_);
      for (int group = 0; group < 3; group++) {
        const auto& names = kLazy[group].names;
        for (size_t i = 0; i < names.size(); i++) {
          int magic = group * 64 + static_cast<int>(i);
          JSCFunctionType get_fn, set_fn;
          get_fn.getter_magic = lazy_get;
          set_fn.setter_magic = lazy_set;
          JSValue getter = JS_NewCFunction2(ctx_, get_fn.generic, names[i], 0, JS_CFUNC_getter_magic, magic);
          JSValue setter = JS_NewCFunction2(ctx_, set_fn.generic, names[i], 1, JS_CFUNC_setter_magic, magic);
          JSAtom a = JS_NewAtom(ctx_, names[i]);
          JS_DefineProperty(ctx_, g, a, JS_UNDEFINED, getter, setter,
                            JS_PROP_CONFIGURABLE | JS_PROP_HAS_GET | JS_PROP_HAS_SET | JS_PROP_HAS_CONFIGURABLE);
          JS_FreeAtom(ctx_, a);
          JS_FreeValue(ctx_, getter);
          JS_FreeValue(ctx_, setter);
        }
      }
      JS_FreeValue(ctx_, g);
    }
  } else {
    ctx_ = JS_NewContext(rt_);
  }
  if (!ctx_) {
    JS_FreeRuntime(rt_);
    throw std::runtime_error("QuickJS: cannot create context");
  }
}

Runtime::~Runtime() {
  if (ctx_) JS_FreeContext(ctx_);
  if (rt_) JS_FreeRuntime(rt_);
}

bool Runtime::run_jobs(std::string* error_out) {
  for (;;) {
    JSContext* jctx = nullptr;
    int r = JS_ExecutePendingJob(rt_, &jctx);
    if (r == 0) return true;
    if (r < 0) {
      std::string msg = take_exception(jctx ? jctx : ctx_);
      if (error_out) *error_out = msg;
      return false;
    }
  }
}

std::string to_string(JSContext* ctx, JSValueConst v) {
  size_t len = 0;
  const char* s = JS_ToCStringLen(ctx, &len, v);
  if (!s) {
    JS_FreeValue(ctx, JS_GetException(ctx));
    return {};
  }
  std::string out(s, len);
  JS_FreeCString(ctx, s);
  return out;
}

std::string format_exception(JSContext* ctx, JSValueConst exc) {
  std::string message = to_string(ctx, exc);
  std::string stack;
  if (JS_IsObject(exc)) {
    JSValue st = JS_GetPropertyStr(ctx, exc, "stack");
    if (JS_IsString(st)) stack = to_string(ctx, st);
    JS_FreeValue(ctx, st);
  }
  // The first stack line names the innermost location: "    at fn (file:line:col)"
  // or "    at file:line:col". Put it first, as "file:line:col: message".
  std::string location;
  static const std::regex kLoc(R"(at (?:[^\n(]*\()?([^\n()]+:\d+:\d+)\)?)");
  std::smatch m;
  if (std::regex_search(stack, m, kLoc)) location = m[1].str();
  std::string out = location.empty() ? message : location + ": " + message;
  // Keep the stack only when it has more than the one frame already shown.
  if (!stack.empty() && stack.find('\n') != stack.rfind('\n')) {
    while (!stack.empty() && (stack.back() == '\n' || stack.back() == ' ')) stack.pop_back();
    out += "\n" + stack;
  }
  return out;
}

std::string take_exception(JSContext* ctx) {
  JSValue exc = JS_GetException(ctx);
  std::string s = format_exception(ctx, exc);
  JS_FreeValue(ctx, exc);
  return s;
}

}  // namespace herd::js
