#include "js/runtime.h"

#include "js/json_parse.h"
#include "js/json_stringify.h"
#include "js/slab_allocator.h"

#include <cstring>
#include <iterator>
#include <memory>
#include <new>
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
    // JSON with herd's JSON.stringify: the object materializes only when used.
    {[](JSContext* ctx) {
       JS_AddIntrinsicJSON(ctx);
       install_json_stringify(ctx);
       install_json_parse(ctx);
     },
     {"JSON"}},
};
constexpr int kLazyGroups = static_cast<int>(std::size(kLazy));

/// What a js::Runtime keeps in its QuickJS runtime's opaque: which lazy groups
/// its context has installed (when lazy), and its shape keeper.
struct RuntimeState {
  bool lazy = false;
  bool installed[kLazyGroups] = {};
  ShapeKeeper keeper;
  std::unique_ptr<StringCache> strings;  ///< made on first use: most VUs never read headers or tags
};

RuntimeState* state_of(JSContext* ctx) {
  return static_cast<RuntimeState*>(JS_GetRuntimeOpaque(JS_GetRuntime(ctx)));
}

void install_group(JSContext* ctx, int group) {
  RuntimeState* st = state_of(ctx);
  if (!st || !st->lazy || st->installed[group]) return;
  st->installed[group] = true;
  kLazy[group].install(ctx);  // defines the names on the global object itself
}

/// The lazy group that defines `prop`, or -1.
int group_of(JSContext* ctx, JSAtom prop) {
  const char* name = JS_AtomToCString(ctx, prop);
  if (!name) {
    discard_exception(ctx);
    return -1;
  }
  int found = -1;
  for (int group = 0; group < kLazyGroups && found < 0; group++)
    for (const char* n : kLazy[group].names)
      if (std::strcmp(n, name) == 0) found = group;
  JS_FreeCString(ctx, name);
  return found;
}

// The accessor the prototype reports once a group is installed: reads and writes
// go to the global object's own (now real) property. data[0] is the name.
JSValue forward_get(JSContext* ctx, JSValueConst, int, JSValueConst*, int, JSValue* data) {
  JSAtom a = JS_ValueToAtom(ctx, data[0]);
  JSValue v = JS_GetProperty(ctx, global_object(ctx).get(), a);
  JS_FreeAtom(ctx, a);
  return v;
}

JSValue forward_set(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv, int, JSValue* data) {
  JSAtom a = JS_ValueToAtom(ctx, data[0]);
  int r = JS_DefinePropertyValue(ctx, global_object(ctx).get(), a, JS_DupValue(ctx, argc > 0 ? argv[0] : JS_UNDEFINED),
                                 JS_PROP_C_W_E);
  JS_FreeAtom(ctx, a);
  return r < 0 ? JS_EXCEPTION : JS_UNDEFINED;
}

// The global object's prototype: an exotic object that holds no property of its
// own until a lazy name is looked up through it (a global object without that
// own property yet). Then the name's group is installed on the global object,
// and the lookup is answered by an accessor that forwards to it. One object per
// context instead of a getter and a setter function per name (about 5 KB).
int lazy_proto_get_own(JSContext* ctx, JSPropertyDescriptor* desc, JSValueConst, JSAtom prop) {
  int group = group_of(ctx, prop);
  if (group < 0) return 0;
  install_group(ctx, group);
  if (desc) {
    JSValue name = JS_AtomToString(ctx, prop);
    if (JS_IsException(name)) return -1;
    desc->flags = JS_PROP_CONFIGURABLE | JS_PROP_GETSET;
    desc->value = JS_UNDEFINED;
    desc->getter = JS_NewCFunctionData(ctx, forward_get, 0, 0, 1, &name);
    desc->setter = JS_NewCFunctionData(ctx, forward_set, 1, 0, 1, &name);
    JS_FreeValue(ctx, name);
  }
  return 1;
}

JSClassID lazy_proto_class_id = 0;
const JSClassExoticMethods kLazyProtoExotic = {.get_own_property = lazy_proto_get_own};
const JSClassDef kLazyProtoClass = {.class_name = "Object",
                                    .exotic = const_cast<JSClassExoticMethods*>(&kLazyProtoExotic)};

}  // namespace

void ensure_typed_arrays(JSContext* ctx) {
  install_group(ctx, 0);
}

ShapeKeeper* shape_keeper(JSContext* ctx) {
  RuntimeState* st = state_of(ctx);
  return st ? &st->keeper : nullptr;
}

StringCache* string_cache(JSContext* ctx) {
  RuntimeState* st = state_of(ctx);
  if (!st) return nullptr;
  if (!st->strings) st->strings.reset(new (std::nothrow) StringCache());  // none: callers convert uncached
  return st->strings.get();
}

struct Runtime::State : RuntimeState {};

Runtime::Runtime(std::size_t stack_limit, std::size_t memory_limit, bool lazy_intrinsics) {
  const JSMallocFunctions* mf = lazy_intrinsics ? slab_malloc_functions() : nullptr;
  rt_ = mf ? JS_NewRuntime2(mf, nullptr) : JS_NewRuntime();
  if (!rt_) throw std::runtime_error("QuickJS: cannot create runtime");
  if (stack_limit) JS_SetMaxStackSize(rt_, stack_limit);
  if (memory_limit) JS_SetMemoryLimit(rt_, memory_limit);
  state_ = std::make_unique<State>();
  state_->lazy = lazy_intrinsics;
  JS_SetRuntimeOpaque(rt_, static_cast<RuntimeState*>(state_.get()));
  if (lazy_intrinsics) {
    ctx_ = JS_NewContextRaw(rt_);
    if (ctx_) {
      JS_AddIntrinsicBaseObjects(ctx_);
      JS_AddIntrinsicEval(ctx_);
      JS_AddIntrinsicStringNormalize(ctx_);
      JS_AddIntrinsicRegExp(ctx_);
      JS_AddIntrinsicProxy(ctx_);
      JS_AddIntrinsicPromise(ctx_);
      JS_AddIntrinsicWeakRef(ctx_);
      Value g = global_object(ctx_);
      JS_NewClassID(&lazy_proto_class_id);
      JS_NewClass(rt_, lazy_proto_class_id, &kLazyProtoClass);
      Value object_ctor(ctx_, JS_GetPropertyStr(ctx_, g.get(), "Object"));
      Value object_proto(ctx_, JS_GetPropertyStr(ctx_, object_ctor.get(), "prototype"));
      Value lazy_proto(ctx_, JS_NewObjectProtoClass(ctx_, object_proto.get(), lazy_proto_class_id));
      JS_SetPrototype(ctx_, g.get(), lazy_proto.get());
    }
  } else {
    ctx_ = JS_NewContext(rt_);
    if (ctx_) {  // false keeps QuickJS's own
      install_json_stringify(ctx_);
      install_json_parse(ctx_);
    }
  }
  if (!ctx_) {
    JS_FreeRuntime(rt_);
    throw std::runtime_error("QuickJS: cannot create context");
  }
}

Runtime::~Runtime() {
  if (ctx_) state_->keeper.release(ctx_);
  if (ctx_ && state_->strings) state_->strings->release(ctx_);
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

bool json_builtin(JSContext* ctx, const char* name, Value* json, Value* fn) {
  Value j(ctx, JS_GetPropertyStr(ctx, global_object(ctx).get(), "JSON"));
  if (!JS_IsObject(j.get())) {
    discard_exception(ctx);
    return false;
  }
  Value f(ctx, JS_GetPropertyStr(ctx, j.get(), name));
  if (!JS_IsFunction(ctx, f.get())) {
    discard_exception(ctx);
    return false;
  }
  *json = std::move(j);
  *fn = std::move(f);
  return true;
}

std::string take_exception(JSContext* ctx) {
  Value exc(ctx, JS_GetException(ctx));
  return format_exception(ctx, exc.get());
}

}  // namespace herd::js
