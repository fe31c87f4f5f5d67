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
  {
    Value g = global_object(ctx);
    // Drop the placeholders first so that the intrinsics define plain properties.
    for (const char* n : kLazy[group].names) {
      JSAtom a = JS_NewAtom(ctx, n);
      JS_DeleteProperty(ctx, g.get(), a, 0);
      JS_FreeAtom(ctx, a);
    }
  }
  kLazy[group].install(ctx);
}

// Getter of a placeholder: magic = group * 64 + index of the name.
JSValue lazy_get(JSContext* ctx, JSValueConst, int magic) {
  int group = magic / 64, idx = magic % 64;
  install_group(ctx, group);
  return JS_GetPropertyStr(ctx, global_object(ctx).get(), kLazy[group].names[static_cast<size_t>(idx)]);
}

JSValue lazy_set(JSContext* ctx, JSValueConst, JSValueConst val, int magic) {
  int group = magic / 64, idx = magic % 64;
  install_group(ctx, group);
  JS_SetPropertyStr(ctx, global_object(ctx).get(), kLazy[group].names[static_cast<size_t>(idx)], JS_DupValue(ctx, val));
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
      Value g = global_object(ctx_);
      for (int group = 0; group < 3; group++) {
        const auto& names = kLazy[group].names;
        for (size_t i = 0; i < names.size(); i++) {
          int magic = group * 64 + static_cast<int>(i);
          JSCFunctionType get_fn, set_fn;
          get_fn.getter_magic = lazy_get;
          set_fn.setter_magic = lazy_set;
          Value getter(ctx_, JS_NewCFunction2(ctx_, get_fn.generic, names[i], 0, JS_CFUNC_getter_magic, magic));
          Value setter(ctx_, JS_NewCFunction2(ctx_, set_fn.generic, names[i], 1, JS_CFUNC_setter_magic, magic));
          JSAtom a = JS_NewAtom(ctx_, names[i]);
          JS_DefineProperty(ctx_, g.get(), a, JS_UNDEFINED, getter.get(), setter.get(),
                            JS_PROP_CONFIGURABLE | JS_PROP_HAS_GET | JS_PROP_HAS_SET | JS_PROP_HAS_CONFIGURABLE);
          JS_FreeAtom(ctx_, a);
        }
      }
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
    discard_exception(ctx);
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
    Value st(ctx, JS_GetPropertyStr(ctx, exc, "stack"));
    if (JS_IsString(st.get())) stack = to_string(ctx, st.get());
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

void discard_exception(JSContext* ctx) {
  JS_FreeValue(ctx, JS_GetException(ctx));  // the one place exceptions are dropped unread
}

std::string take_exception(JSContext* ctx) {
  Value exc(ctx, JS_GetException(ctx));
  return format_exception(ctx, exc.get());
}

}  // namespace herd::js
