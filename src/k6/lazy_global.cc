#include "k6/lazy_global.h"

#include <mutex>
#include <string>
#include <vector>

#include "js/runtime.h"

namespace herd::k6 {

namespace {

// The lazy globals of this process: (name, builder, flags), indexed by the
// accessor functions' magic. Filled at start-up by install_globals, read after.
struct Entry {
  std::string name;
  LazyGlobalBuilder build;
  int flags;
};

std::mutex g_mu;
std::vector<Entry>& entries() {
  static auto* e = new std::vector<Entry>();  // never destroyed: read until exit
  return *e;
}

int entry_for(const char* name, LazyGlobalBuilder build, int flags) {
  std::lock_guard lk(g_mu);
  auto& e = entries();
  for (std::size_t i = 0; i < e.size(); ++i)
    if (e[i].build == build && e[i].flags == flags && e[i].name == name) return static_cast<int>(i);
  e.push_back(Entry{name, build, flags});
  return static_cast<int>(e.size() - 1);
}

Entry entry_at(int magic) {
  std::lock_guard lk(g_mu);
  return entries().at(static_cast<std::size_t>(magic));
}

// Replaces the accessor with a plain data property holding `value`.
int settle(JSContext* ctx, const Entry& e, JSValueConst value) {
  js::Value g(ctx, JS_GetGlobalObject(ctx));
  return JS_DefinePropertyValueStr(ctx, g.get(), e.name.c_str(), JS_DupValue(ctx, value), e.flags);
}

JSValue lazy_get(JSContext* ctx, JSValueConst, int magic) {
  Entry e = entry_at(magic);
  js::Value v(ctx, e.build(ctx));
  if (v.is_exception()) return v.release();
  if (settle(ctx, e, v.get()) < 0) return JS_EXCEPTION;
  return v.release();
}

JSValue lazy_set(JSContext* ctx, JSValueConst, JSValueConst value, int magic) {
  if (settle(ctx, entry_at(magic), value) < 0) return JS_EXCEPTION;
  return JS_UNDEFINED;
}

}  // namespace

void define_lazy_global(JSContext* ctx, JSValueConst global, const char* name, LazyGlobalBuilder build, int flags) {
  int magic = entry_for(name, build, flags);
  JSCFunctionType get_fn, set_fn;
  get_fn.getter_magic = lazy_get;
  set_fn.setter_magic = lazy_set;
  js::Value getter(ctx, JS_NewCFunction2(ctx, get_fn.generic, name, 0, JS_CFUNC_getter_magic, magic));
  js::Value setter(ctx, (flags & JS_PROP_WRITABLE)
                            ? JS_NewCFunction2(ctx, set_fn.generic, name, 1, JS_CFUNC_setter_magic, magic)
                            : JS_UNDEFINED);
  JSAtom a = JS_NewAtom(ctx, name);
  JS_DefineProperty(ctx, global, a, JS_UNDEFINED, getter.get(), setter.get(),
                    JS_PROP_CONFIGURABLE | JS_PROP_HAS_GET | JS_PROP_HAS_SET | JS_PROP_HAS_CONFIGURABLE |
                        JS_PROP_HAS_ENUMERABLE | (flags & JS_PROP_ENUMERABLE));
  JS_FreeAtom(ctx, a);
}

}  // namespace herd::k6
