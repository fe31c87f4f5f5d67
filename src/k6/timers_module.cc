// "k6/timers": the same functions as the global setTimeout, clearTimeout,
// setInterval and clearInterval (installed by install_globals).
#include "k6/webapi.h"

namespace herd::k6 {

namespace {

const char* const kTimerNames[] = {"setTimeout", "clearTimeout", "setInterval", "clearInterval"};

int timers_init(JSContext* ctx, JSModuleDef* m) {
  JSValue g = JS_GetGlobalObject(ctx);
  JSValue def = JS_NewObject(ctx);
  for (const char* name : kTimerNames) {
    JSValue fn = JS_GetPropertyStr(ctx, g, name);
    if (!JS_IsFunction(ctx, fn)) {
      JS_FreeValue(ctx, fn);
      JS_FreeValue(ctx, def);
      JS_FreeValue(ctx, g);
      JS_ThrowInternalError(ctx, "k6/timers: the global %s is missing", name);
      return -1;
    }
    JS_SetPropertyStr(ctx, def, name, JS_DupValue(ctx, fn));
    JS_SetModuleExport(ctx, m, name, fn);
  }
  JS_FreeValue(ctx, g);
  JS_SetModuleExport(ctx, m, "default", def);
  return 0;
}

}  // namespace

JSModuleDef* timers_native_module(JSContext* ctx, const char* name) {
  JSModuleDef* m = JS_NewCModule(ctx, name, timers_init);
  if (!m) return nullptr;
  for (const char* n : kTimerNames) JS_AddModuleExport(ctx, m, n);
  JS_AddModuleExport(ctx, m, "default");
  return m;
}

}  // namespace herd::k6
