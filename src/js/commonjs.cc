#include "js/commonjs.h"

#include <functional>
#include <string_view>

#include "js/runtime.h"

namespace herd::js {

namespace {

/// The context's CommonJS cache, module name -> module object (a hidden global).
Value cache_object(JSContext* ctx) {
  Value g = global_object(ctx);
  Value cache(ctx, JS_GetPropertyStr(ctx, g.get(), "__herd_cjs"));
  if (!JS_IsObject(cache.get())) {
    cache = Value(ctx, JS_NewObject(ctx));
    JS_DefinePropertyValueStr(ctx, g.get(), "__herd_cjs", cache.dup(), JS_PROP_CONFIGURABLE);
  }
  return cache;
}

/// Calls `fn(key)` for each named export of `exports`: own enumerable string keys
/// but "default" and "__esModule". Returns false with an exception pending in ctx.
bool for_each_named_export(JSContext* ctx, JSValueConst exports, const std::function<void(const char*)>& fn) {
  if (!JS_IsObject(exports)) return true;
  JSPropertyEnum* tab = nullptr;
  uint32_t len = 0;
  if (JS_GetOwnPropertyNames(ctx, &tab, &len, exports, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0) return false;
  for (uint32_t i = 0; i < len; i++) {
    const char* key = JS_AtomToCString(ctx, tab[i].atom);
    if (key && std::string_view(key) != "default" && std::string_view(key) != "__esModule") fn(key);
    JS_FreeCString(ctx, key);
  }
  for (uint32_t i = 0; i < len; i++) JS_FreeAtom(ctx, tab[i].atom);
  js_free(ctx, tab);
  return true;
}

/// The default export: exports.default when it is an own property, else exports itself.
JSValue default_export(JSContext* ctx, JSValueConst exports) {
  if (JS_IsObject(exports)) {
    JSAtom a = JS_NewAtom(ctx, "default");
    int own = JS_GetOwnProperty(ctx, nullptr, exports, a);
    JS_FreeAtom(ctx, a);
    if (own < 0) return JS_EXCEPTION;
    if (own) return JS_GetPropertyStr(ctx, exports, "default");
  }
  return JS_DupValue(ctx, exports);
}

int commonjs_module_init(JSContext* ctx, JSModuleDef* m) {
  JSAtom name_atom = JS_GetModuleName(ctx, m);
  const char* name = JS_AtomToCString(ctx, name_atom);
  JS_FreeAtom(ctx, name_atom);
  if (!name) return -1;
  Value module(ctx, JS_GetPropertyStr(ctx, cache_object(ctx).get(), name));
  JS_FreeCString(ctx, name);
  Value exports(ctx, JS_GetPropertyStr(ctx, module.get(), "exports"));
  if (exports.is_exception()) return -1;
  bool ok = for_each_named_export(ctx, exports.get(), [&](const char* key) {
    // Names that appeared after the module was created are not exports: ignored.
    JS_SetModuleExport(ctx, m, key, JS_GetPropertyStr(ctx, exports.get(), key));
  });
  JSValue def = ok ? default_export(ctx, exports.get()) : JS_EXCEPTION;
  if (JS_IsException(def)) return -1;
  JS_SetModuleExport(ctx, m, "default", def);
  return 0;
}

}  // namespace

std::string commonjs_wrapper(const std::string& source) {
  return "(function (module, exports, require) {" + source + "\n})";
}

JSValue commonjs_exports(JSContext* ctx, const std::string& name, const std::vector<std::uint8_t>& bytecode) {
  Value cache = cache_object(ctx);
  Value cached(ctx, JS_GetPropertyStr(ctx, cache.get(), name.c_str()));
  if (JS_IsObject(cached.get())) {
    // Already run (or running: a require cycle sees the partial exports).
    return JS_GetPropertyStr(ctx, cached.get(), "exports");
  }
  JSValue script = JS_ReadObject(ctx, bytecode.data(), bytecode.size(), JS_READ_OBJ_BYTECODE | JS_READ_OBJ_ROM_DATA);
  Value fn(ctx, JS_IsException(script) ? script : JS_EvalFunction(ctx, script));  // consumes script
  if (fn.is_exception()) return fn.release();
  Value module(ctx, JS_NewObject(ctx));
  Value exports(ctx, JS_NewObject(ctx));
  JS_SetPropertyStr(ctx, module.get(), "exports", exports.dup());
  JS_SetPropertyStr(ctx, module.get(), "id", JS_NewStringLen(ctx, name.data(), name.size()));
  JS_SetPropertyStr(ctx, cache.get(), name.c_str(), module.dup());  // before running: cycles
  Value req(ctx, JS_GetPropertyStr(ctx, global_object(ctx).get(), "require"));
  JSValue args[3] = {module.get(), exports.get(), req.get()};
  Value r(ctx, JS_Call(ctx, fn.get(), exports.get(), 3, args));
  if (r.is_exception()) {
    JSAtom a = JS_NewAtom(ctx, name.c_str());
    JSValue pending = JS_GetException(ctx);  // deleting must not run with an exception pending
    JS_DeleteProperty(ctx, cache.get(), a, 0);
    JS_Throw(ctx, pending);
    JS_FreeAtom(ctx, a);
    return r.release();
  }
  return JS_GetPropertyStr(ctx, module.get(), "exports");
}

JSModuleDef* commonjs_module(JSContext* ctx, const std::string& name, JSValueConst exports) {
  JSModuleDef* m = JS_NewCModule(ctx, name.c_str(), commonjs_module_init);
  if (!m) return nullptr;
  bool ok = for_each_named_export(ctx, exports, [&](const char* key) { JS_AddModuleExport(ctx, m, key); });
  if (!ok) return nullptr;
  JS_AddModuleExport(ctx, m, "default");
  return m;
}

}  // namespace herd::js
