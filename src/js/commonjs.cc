#include "js/commonjs.h"

#include <functional>
#include <string_view>

namespace herd::js {

namespace {

/// The context's CommonJS cache, module name -> module object (a hidden global).
JSValue cache_object(JSContext* ctx) {
  JSValue g = JS_GetGlobalObject(ctx);
  JSValue cache = JS_GetPropertyStr(ctx, g, "__herd_cjs");
  if (!JS_IsObject(cache)) {
    JS_FreeValue(ctx, cache);
    cache = JS_NewObject(ctx);
    JS_DefinePropertyValueStr(ctx, g, "__herd_cjs", JS_DupValue(ctx, cache), JS_PROP_CONFIGURABLE);
  }
  JS_FreeValue(ctx, g);
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
  JSValue cache = cache_object(ctx);
  JSValue module = JS_GetPropertyStr(ctx, cache, name);
  JS_FreeCString(ctx, name);
  JS_FreeValue(ctx, cache);
  JSValue exports = JS_GetPropertyStr(ctx, module, "exports");
  JS_FreeValue(ctx, module);
  if (JS_IsException(exports)) return -1;
  bool ok = for_each_named_export(ctx, exports, [&](const char* key) {
    // Names that appeared after the module was created are not exports: ignored.
    JS_SetModuleExport(ctx, m, key, JS_GetPropertyStr(ctx, exports, key));
  });
  JSValue def = ok ? default_export(ctx, exports) : JS_EXCEPTION;
  JS_FreeValue(ctx, exports);
  if (JS_IsException(def)) return -1;
  JS_SetModuleExport(ctx, m, "default", def);
  return 0;
}

}  // namespace

std::string commonjs_wrapper(const std::string& source) {
  return "(function (module, exports, require) {" + source + "\n})";
}

JSValue commonjs_exports(JSContext* ctx, const std::string& name, const std::vector<std::uint8_t>& bytecode) {
  JSValue cache = cache_object(ctx);
  JSValue cached = JS_GetPropertyStr(ctx, cache, name.c_str());
  if (JS_IsObject(cached)) {
    // Already run (or running: a require cycle sees the partial exports).
    JSValue ex = JS_GetPropertyStr(ctx, cached, "exports");
    JS_FreeValue(ctx, cached);
    JS_FreeValue(ctx, cache);
    return ex;
  }
  JS_FreeValue(ctx, cached);
  JSValue script = JS_ReadObject(ctx, bytecode.data(), bytecode.size(), JS_READ_OBJ_BYTECODE | JS_READ_OBJ_ROM_DATA);
  JSValue fn = JS_IsException(script) ? script : JS_EvalFunction(ctx, script);  // consumes script
  if (JS_IsException(fn)) {
    JS_FreeValue(ctx, cache);
    return fn;
  }
  JSValue module = JS_NewObject(ctx);
  JSValue exports = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, module, "exports", JS_DupValue(ctx, exports));
  JS_SetPropertyStr(ctx, module, "id", JS_NewStringLen(ctx, name.data(), name.size()));
  JS_SetPropertyStr(ctx, cache, name.c_str(), JS_DupValue(ctx, module));  // before running: cycles
  JSValue g = JS_GetGlobalObject(ctx);
  JSValue req = JS_GetPropertyStr(ctx, g, "require");
  JS_FreeValue(ctx, g);
  JSValue args[3] = {module, exports, req};
  JSValue r = JS_Call(ctx, fn, exports, 3, args);
  JS_FreeValue(ctx, fn);
  JS_FreeValue(ctx, req);
  JS_FreeValue(ctx, exports);
  if (JS_IsException(r)) {
    JSAtom a = JS_NewAtom(ctx, name.c_str());
    JSValue pending = JS_GetException(ctx);  // deleting must not run with an exception pending
    JS_DeleteProperty(ctx, cache, a, 0);
    JS_Throw(ctx, pending);
    JS_FreeAtom(ctx, a);
    JS_FreeValue(ctx, cache);
    JS_FreeValue(ctx, module);
    return r;
  }
  JS_FreeValue(ctx, r);
  JS_FreeValue(ctx, cache);
  JSValue ex = JS_GetPropertyStr(ctx, module, "exports");
  JS_FreeValue(ctx, module);
  return ex;
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
