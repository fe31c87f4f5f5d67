// The helpers declared in k6/natives_util.h.
#include "k6/natives_util.h"

#include <cstring>

#include "js/runtime.h"

namespace herd::k6 {

// ---- helpers ---------------------------------------------------------------

JSValue throw_interrupted(JSContext* ctx) {
  JSValue err = JS_NewError(ctx);
  JS_SetPropertyStr(ctx, err, "message", JS_NewString(ctx, "VU interrupted: the test or scenario is stopping"));
  JS_SetUncatchableError(ctx, err, 1);
  return JS_Throw(ctx, err);
}

bool read_entry(JSContext* ctx, JSValueConst obj, JSAtom atom, std::string* key, std::string* value) {
  js::Value v(ctx, JS_GetProperty(ctx, obj, atom));
  js::StringCache* cache = js::string_cache(ctx);
  if (!cache) {
    const char* k = JS_AtomToCString(ctx, atom);
    if (!k) return false;
    key->assign(k);
    JS_FreeCString(ctx, k);
    *value = js::to_string(ctx, v.get());
    return true;
  }
  const std::string* k = cache->atom_text(ctx, atom);
  if (!k) return false;
  *key = *k;  // before the next call on the cache
  if (const std::string* t = cache->text(ctx, v.get())) {
    *value = *t;
  } else {
    js::discard_exception(ctx);
    value->clear();
  }
  return true;
}

bool read_string_map(JSContext* ctx, JSValueConst obj, std::map<std::string, std::string>* out) {
  if (!JS_IsObject(obj)) return true;
  JSPropertyEnum* props = nullptr;
  uint32_t n = 0;
  if (JS_GetOwnPropertyNames(ctx, &props, &n, obj, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0) return false;
  if (js::ShapeKeeper* k = js::shape_keeper(ctx)) k->seen(ctx, obj, props, n);
  std::string key, value;
  for (uint32_t i = 0; i < n; i++)
    if (read_entry(ctx, obj, props[i].atom, &key, &value)) (*out)[key] = std::move(value);
  for (uint32_t i = 0; i < n; i++) JS_FreeAtom(ctx, props[i].atom);
  js_free(ctx, props);
  return true;
}

bool binary_bytes(JSContext* ctx, JSValueConst v, std::string* out) {
  if (!JS_IsObject(v)) return false;
  size_t size = 0;
  uint8_t* p = JS_GetArrayBuffer(ctx, &size, v);
  if (p) {
    out->assign(reinterpret_cast<char*>(p), size);
    return true;
  }
  js::discard_exception(ctx);
  size_t off = 0, len = 0, bpe = 0;
  js::Value ab(ctx, JS_GetTypedArrayBuffer(ctx, v, &off, &len, &bpe));
  if (ab.is_exception()) {
    js::discard_exception(ctx);
    return false;
  }
  p = JS_GetArrayBuffer(ctx, &size, ab.get());
  if (p && off + len <= size) out->assign(reinterpret_cast<char*>(p) + off, len);
  return p != nullptr;
}

metrics::TagSet tags_with(const VuState& vu, const std::map<std::string, std::string>& extra) {
  if (extra.empty()) return vu.base_tags;
  std::vector<std::pair<std::string, std::string>> t = vu.base_tags.items();
  for (auto& kv : extra) t.push_back(kv);  // TagSet: last value wins
  return metrics::TagSet(std::move(t));
}

}  // namespace herd::k6
