#include "js/shape_keeper.h"

#include <algorithm>

namespace herd::js {

namespace {

void drop_exception(JSContext* ctx) {
  JS_FreeValue(ctx, JS_GetException(ctx));
}

}  // namespace

void ShapeKeeper::seen(JSContext* ctx, JSValueConst obj, const JSPropertyEnum* props, std::uint32_t n) {
  if (n == 0 || n > kMaxKeys || !JS_IsObject(obj) || JS_GetClassID(obj) != kClassObject) return;
  JSValue proto = JS_GetPrototype(ctx, obj);  // an ordinary object: no trap runs
  if (JS_IsException(proto)) {
    drop_exception(ctx);
    return;
  }
  seen(ctx, proto, kClassObject, props, n);
  JS_FreeValue(ctx, proto);
}

void ShapeKeeper::keep_now(JSContext* ctx, JSValueConst proto, JSClassID cls, const JSAtom* keys, std::uint32_t n) {
  if (n == 0 || n > kMaxKeys) return;
  std::uint64_t h = start_hash(proto, cls, n);
  for (std::uint32_t i = 0; i < n; i++) h = mix(h, keys[i]);
  for (const auto& e : lists_)
    if (e.hash == h && e.kept) return;
  if (lists_.size() >= kMaxLists) return;
  List& l = lists_.emplace_back();
  l.hash = h;
  l.kept = true;
  keep(ctx, proto, cls, keys, nullptr, n);
}

[[gnu::noinline]] void ShapeKeeper::note_slow(JSContext* ctx, JSValueConst proto, JSClassID cls, std::uint64_t hash,
                                              const JSAtom* keys, const JSPropertyEnum* props, std::uint32_t n) {
  // An iteration shows the same lists in the same order: try the one after the
  // last found first, then all.
  List* l = nullptr;
  if (next_ < lists_.size() && lists_[next_].hash == hash) {
    l = &lists_[next_];
  } else {
    for (auto& e : lists_)
      if (e.hash == hash) {
        l = &e;
        break;
      }
  }
  if (l) next_ = static_cast<std::size_t>(l - lists_.data()) + 1;
  if (l && l->kept) return;
  if (!l) {
    if (lists_.size() >= kMaxLists) return;
    l = &lists_.emplace_back();
    l->hash = hash;
    next_ = lists_.size();
  }
  auto now = std::chrono::steady_clock::now;
  if (l->count++ == 0) {
    l->window_start = now();
    return;
  }
  if (l->count < kHotSightings) return;
  auto t = now();
  if (t - l->window_start > window_) {  // seen often, but not often enough to matter
    l->count = 1;
    l->window_start = t;
    return;
  }
  l->kept = true;  // kept, or never: a full keeper does not retry
  keep(ctx, proto, cls, keys, props, n);
}

[[gnu::noinline]] void ShapeKeeper::keep(JSContext* ctx, JSValueConst proto, JSClassID cls, const JSAtom* keys,
                                         const JSPropertyEnum* props, std::uint32_t n) {
  void* p = JS_IsObject(proto) ? JS_VALUE_GET_PTR(proto) : nullptr;
  bool empty_kept = std::find(empty_kept_.begin(), empty_kept_.end(), p) != empty_kept_.end();
  if (keepers_.size() + n + (empty_kept ? 0 : 1) > kMaxKeepers) return;
  // k = 0 keeps the prototype's empty shape (once per prototype); k = 1..n the
  // shapes with the first k keys.
  for (std::uint32_t k = empty_kept ? 1 : 0; k <= n; k++) {
    JSValue o = JS_NewObjectProtoClass(ctx, proto, cls);
    if (JS_IsException(o)) {
      drop_exception(ctx);
      return;
    }
    for (std::uint32_t i = 0; i < k; i++) {
      JSAtom a = keys ? keys[i] : props[i].atom;
      if (JS_DefinePropertyValue(ctx, o, a, JS_UNDEFINED, JS_PROP_C_W_E) < 0) {
        drop_exception(ctx);
        JS_FreeValue(ctx, o);
        return;
      }
    }
    keepers_.push_back(o);
    if (k == 0) empty_kept_.push_back(p);
  }
}

void ShapeKeeper::release(JSContext* ctx) {
  for (JSValue v : keepers_) JS_FreeValue(ctx, v);
  keepers_.clear();
  empty_kept_.clear();
  lists_.clear();
  next_ = 0;
}

}  // namespace herd::js
