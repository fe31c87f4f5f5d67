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

bool read_string_map(JSContext* ctx, JSValueConst obj, std::map<std::string, std::string>* out) {
  if (!JS_IsObject(obj)) return true;
  JSPropertyEnum* props = nullptr;
  uint32_t n = 0;
  if (JS_GetOwnPropertyNames(ctx, &props, &n, obj, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0) return false;
  if (js::ShapeKeeper* k = js::shape_keeper(ctx)) k->seen(ctx, obj, props, n);
  for (uint32_t i = 0; i < n; i++) {
    const char* k = JS_AtomToCString(ctx, props[i].atom);
    js::Value v(ctx, JS_GetProperty(ctx, obj, props[i].atom));
    if (k) (*out)[k] = js::to_string(ctx, v.get());
    JS_FreeCString(ctx, k);
  }
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
