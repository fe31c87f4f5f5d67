#include "js/string_cache.h"

namespace herd::js {

template <typename Entry>
std::size_t StringCache::victim(std::vector<Entry>& v, std::size_t* hand) {
  if (v.size() < kSlots) {
    v.emplace_back();
    return v.size() - 1;
  }
  for (;;) {  // at most two turns: the first clears every bit it passes
    const std::size_t i = *hand;
    *hand = (i + 1) % kSlots;
    if (!v[i].used) return i;
    v[i].used = false;
  }
}

const std::string* StringCache::text(JSContext* ctx, JSValueConst v) {
  const bool flat = JS_VALUE_GET_TAG(v) == JS_TAG_STRING;
  if (flat) {
    void* const p = JS_VALUE_GET_PTR(v);
    for (ValueEntry& e : values_)
      if (JS_VALUE_GET_PTR(e.held) == p) {
        e.used = true;
        ++hits_;
        return &e.text;
      }
  }
  std::size_t len = 0;
  const char* s = JS_ToCStringLen(ctx, &len, v);
  if (!s) return nullptr;
  std::string* out = &scratch_;
  if (flat && len <= kMaxBytes) {
    const bool fresh = values_.size() < kSlots;
    ValueEntry& e = values_[victim(values_, &value_hand_)];
    if (!fresh) JS_FreeValue(ctx, e.held);
    e.held = JS_DupValue(ctx, v);
    e.used = false;  // a string seen once goes first; a second sighting marks it
    out = &e.text;
  }
  out->assign(s, len);
  JS_FreeCString(ctx, s);
  return out;
}

const std::string* StringCache::atom_text(JSContext* ctx, JSAtom a) {
  for (AtomEntry& e : atoms_)
    if (e.atom == a) {
      e.used = true;
      ++hits_;
      return &e.text;
    }
  JSValue name = JS_AtomToString(ctx, a);
  if (JS_IsException(name)) return nullptr;
  std::size_t len = 0;
  const char* s = JS_ToCStringLen(ctx, &len, name);  // with its length: a name may hold NULs
  JS_FreeValue(ctx, name);
  if (!s) return nullptr;
  std::string* out = &scratch_;
  if (len <= kMaxBytes) {
    const bool fresh = atoms_.size() < kSlots;
    AtomEntry& e = atoms_[victim(atoms_, &atom_hand_)];
    if (!fresh) JS_FreeAtom(ctx, e.atom);
    e.atom = JS_DupAtom(ctx, a);
    e.used = false;
    out = &e.text;
  }
  out->assign(s, len);
  JS_FreeCString(ctx, s);
  return out;
}

void StringCache::release(JSContext* ctx) {
  for (ValueEntry& e : values_) JS_FreeValue(ctx, e.held);
  for (AtomEntry& e : atoms_) JS_FreeAtom(ctx, e.atom);
  values_.clear();
  atoms_.clear();
  values_.shrink_to_fit();
  atoms_.shrink_to_fit();
  value_hand_ = atom_hand_ = hits_ = 0;
}

}  // namespace herd::js
