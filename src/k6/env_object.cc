// __ENV: an exotic object over the run's shared environment map (RunShared::env)
// with a per-VU overlay for writes and deletes.
#include <utility>
#include <vector>

#include "k6/natives_util.h"

namespace herd::k6 {
namespace {

JSClassID env_class_id = 0;

const std::string* env_lookup(VuState* vu, const std::string& key) {
  auto o = vu->env_overlay.find(key);
  if (o != vu->env_overlay.end()) return o->second ? &*o->second : nullptr;
  auto it = vu->run->env.find(key);
  return it == vu->run->env.end() ? nullptr : &it->second;
}

std::string atom_string(JSContext* ctx, JSAtom a) {
  const char* c = JS_AtomToCString(ctx, a);
  std::string s = c ? c : "";
  JS_FreeCString(ctx, c);
  return s;
}

// The values this VU's scripts read, by name (a loop that reads __ENV.URL every
// iteration makes no C string, map lookup nor JS string for it after the first
// time). JS strings are values, so handing out the same one is not observable.
// Emptied by every write or delete through __ENV (the overlay changed);
// RunShared::env does not change during a run. A few names at most.
struct EnvCache {
  static constexpr std::size_t kMaxEntries = 8;
  std::vector<std::pair<JSAtom, JSValue>> hits;  // both owned
  void clear(JSRuntime* rt) {
    for (auto& [a, v] : hits) {
      JS_FreeAtomRT(rt, a);
      JS_FreeValueRT(rt, v);
    }
    hits.clear();
  }
};

void env_finalizer(JSRuntime* rt, JSValue val) {
  auto* c = static_cast<EnvCache*>(JS_GetOpaque(val, env_class_id));
  if (!c) return;
  c->clear(rt);
  delete c;
}

void env_cache_clear(JSContext* ctx, JSValueConst obj) {
  if (auto* c = static_cast<EnvCache*>(JS_GetOpaque(obj, env_class_id))) c->clear(JS_GetRuntime(ctx));
}

int env_get_own_property(JSContext* ctx, JSPropertyDescriptor* desc, JSValueConst obj, JSAtom prop) {
  auto* cache = static_cast<EnvCache*>(JS_GetOpaque(obj, env_class_id));
  JSValue value = JS_UNDEFINED;
  bool found = false;
  if (cache)
    for (auto& [a, v] : cache->hits)
      if (a == prop) {
        value = JS_DupValue(ctx, v);
        found = true;
        break;
      }
  if (!found) {
    VuState* vu = vu_of(ctx);
    const std::string* v = env_lookup(vu, atom_string(ctx, prop));
    if (!v) return 0;
    value = new_string(ctx, *v);
    if (JS_IsException(value)) return -1;
    if (!vu->in_init) {  // (the engine may still replace RunShared::env after VU 1's init)
      if (!cache) {
        cache = new EnvCache;
        JS_SetOpaque(obj, cache);
      }
      if (cache->hits.size() < EnvCache::kMaxEntries)
        cache->hits.emplace_back(JS_DupAtom(ctx, prop), JS_DupValue(ctx, value));
    }
  }
  if (desc) {
    desc->flags = JS_PROP_ENUMERABLE | JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE;
    desc->value = value;
    desc->getter = JS_UNDEFINED;
    desc->setter = JS_UNDEFINED;
  } else {
    JS_FreeValue(ctx, value);
  }
  return 1;
}

int env_get_own_property_names(JSContext* ctx, JSPropertyEnum** ptab, uint32_t* plen, JSValueConst) {
  VuState* vu = vu_of(ctx);
  std::vector<std::string> keys;
  for (auto& [k, v] : vu->run->env)
    if (!vu->env_overlay.count(k)) keys.push_back(k);
  for (auto& [k, v] : vu->env_overlay)
    if (v) keys.push_back(k);
  auto* tab = static_cast<JSPropertyEnum*>(js_mallocz(ctx, sizeof(JSPropertyEnum) * std::max<size_t>(1, keys.size())));
  if (!tab) return -1;
  for (size_t i = 0; i < keys.size(); i++) {
    tab[i].is_enumerable = 1;
    tab[i].atom = JS_NewAtom(ctx, keys[i].c_str());
  }
  *ptab = tab;
  *plen = static_cast<uint32_t>(keys.size());
  return 0;
}

int env_delete_property(JSContext* ctx, JSValueConst obj, JSAtom prop) {
  vu_of(ctx)->env_overlay[atom_string(ctx, prop)] = std::nullopt;
  env_cache_clear(ctx, obj);
  return 1;
}

int env_define_own_property(JSContext* ctx, JSValueConst obj, JSAtom prop, JSValueConst val, JSValueConst, JSValueConst,
                            int) {
  vu_of(ctx)->env_overlay[atom_string(ctx, prop)] = js::to_string(ctx, val);
  env_cache_clear(ctx, obj);  // after: val's toString may have read __ENV
  return 1;
}

JSClassExoticMethods env_exotic = {env_get_own_property,
                                   env_get_own_property_names,
                                   env_delete_property,
                                   env_define_own_property,
                                   nullptr,
                                   nullptr,
                                   nullptr,
                                   nullptr,
                                   nullptr,
                                   nullptr,
                                   nullptr};

}  // namespace

JSValue new_env_object(JSContext* ctx) {
  static std::once_flag once;
  std::call_once(once, [] { JS_NewClassID(&env_class_id); });
  JSRuntime* rt = JS_GetRuntime(ctx);
  if (!JS_IsRegisteredClass(rt, env_class_id)) {
    JSClassDef def{};
    def.class_name = "Environment";
    def.exotic = &env_exotic;
    def.finalizer = env_finalizer;
    JS_NewClass(rt, env_class_id, &def);
  }
  return JS_NewObjectClass(ctx, static_cast<int>(env_class_id));
}

}  // namespace herd::k6
