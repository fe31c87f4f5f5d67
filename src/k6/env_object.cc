// __ENV: an exotic object over the run's shared environment map (RunShared::env)
// with a per-VU overlay for writes and deletes.
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

int env_get_own_property(JSContext* ctx, JSPropertyDescriptor* desc, JSValueConst, JSAtom prop) {
  VuState* vu = vu_of(ctx);
  const std::string* v = env_lookup(vu, atom_string(ctx, prop));
  if (!v) return 0;
  if (desc) {
    desc->flags = JS_PROP_ENUMERABLE | JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE;
    desc->value = new_string(ctx, *v);
    desc->getter = JS_UNDEFINED;
    desc->setter = JS_UNDEFINED;
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

int env_delete_property(JSContext* ctx, JSValueConst, JSAtom prop) {
  vu_of(ctx)->env_overlay[atom_string(ctx, prop)] = std::nullopt;
  return 1;
}

int env_define_own_property(JSContext* ctx, JSValueConst, JSAtom prop, JSValueConst val, JSValueConst, JSValueConst,
                            int) {
  vu_of(ctx)->env_overlay[atom_string(ctx, prop)] = js::to_string(ctx, val);
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
    JS_NewClass(rt, env_class_id, &def);
  }
  return JS_NewObjectClass(ctx, static_cast<int>(env_class_id));
}

}  // namespace herd::k6
