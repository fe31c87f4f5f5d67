#pragma once
// Keeps alive the QuickJS shapes of objects a busy VU builds in every iteration.
//
// QuickJS frees a shape (an object layout: prototype and property names in
// order) with the last object that has it. An object literal such as
// `{ headers: {...}, tags: {...} }` is built one property at a time, so each
// of its intermediate shapes is freed as soon as the next property is added,
// and the whole chain dies with the object at the end of the iteration. The
// next iteration makes the chain again: per property, a shape clone, an insert
// into the runtime's shape table and a free, about 250 instructions. A chain
// whose shapes are alive is walked instead (a hash look-up per property).
//
// The keeper holds one object per key prefix (the "ladder" of a key list), so
// the chain lives as long as the VU. It does so only for key lists that come
// back often (kHotSightings times within kHotWindow): a VU that sleeps between
// requests keeps its memory, and a busy VU pays ~100-200 bytes per kept object.
// Never observable by the script: the keeper objects are reachable from C++ only.

#include <quickjs.h>

#include <chrono>
#include <cstdint>
#include <vector>

namespace herd::js {

class ShapeKeeper {
 public:
  /// A key list is kept once it was seen this many times within kHotWindow.
  static constexpr std::uint32_t kHotSightings = 16;
  static constexpr std::chrono::milliseconds kHotWindow{1000};
  static constexpr std::uint32_t kMaxKeys = 16;   ///< longer key lists are not kept
  static constexpr std::size_t kMaxLists = 32;    ///< distinct key lists tracked
  static constexpr std::size_t kMaxKeepers = 96;  ///< keeper objects in all
  /// QuickJS's class id of ordinary objects (JS_CLASS_OBJECT; json_stringify.cc
  /// checks the same constant against a real object when it installs).
  static constexpr JSClassID kClassObject = 1;

  /// `window`: see kHotWindow (tests pass others).
  explicit ShapeKeeper(std::chrono::steady_clock::duration window = kHotWindow) : window_(window) {}
  ShapeKeeper(const ShapeKeeper&) = delete;
  ShapeKeeper& operator=(const ShapeKeeper&) = delete;
  /// release() must have run (the keepers belong to a context).
  ~ShapeKeeper() = default;

  /// An object of the script (`obj`, whose own enumerable string keys the
  /// caller listed: `props`, `n`) was seen by a native. Ordinary objects
  /// (class Object) only; anything else is ignored.
  void seen(JSContext* ctx, JSValueConst obj, const JSPropertyEnum* props, std::uint32_t n);
  /// The same for an object of class `cls` with prototype `proto` that the
  /// caller has checked, whose keys it listed.
  void seen(JSContext* ctx, JSValueConst proto, JSClassID cls, const JSPropertyEnum* props, std::uint32_t n) {
    if (n == 0 || n > kMaxKeys) return;
    std::uint64_t h = start_hash(proto, cls, n);
    for (std::uint32_t i = 0; i < n; i++) h = mix(h, props[i].atom);
    note(ctx, proto, cls, h, nullptr, props, n);
  }
  /// The same for an object that native code builds with these keys, each
  /// defined with JS_PROP_C_W_E.
  void seen(JSContext* ctx, JSValueConst proto, JSClassID cls, const JSAtom* keys, std::uint32_t n) {
    if (n == 0 || n > kMaxKeys) return;
    std::uint64_t h = start_hash(proto, cls, n);
    for (std::uint32_t i = 0; i < n; i++) h = mix(h, keys[i]);
    note(ctx, proto, cls, h, keys, nullptr, n);
  }

  /// Keeps the shapes of such an object now, whether or not the VU is busy
  /// (once per key list): for an object a VU builds in every request once it
  /// has read it at all.
  void keep_now(JSContext* ctx, JSValueConst proto, JSClassID cls, const JSAtom* keys, std::uint32_t n);

  /// Frees the keeper objects; call before the context is freed.
  void release(JSContext* ctx);

  /// Keeper objects held (for tests and memory accounting).
  std::size_t keepers() const { return keepers_.size(); }

 private:
  struct List {
    std::uint64_t hash = 0;
    std::uint32_t count = 0;  ///< sightings in the current window
    bool kept = false;
    std::chrono::steady_clock::time_point window_start;
  };
  // FNV-1a over 32-bit words: an xor and a multiply per key. The hash is the
  // key list's identity here: a collision only costs a missed keep.
  static std::uint64_t mix(std::uint64_t h, std::uint64_t v) { return (h ^ v) * 0x100000001b3ULL; }
  static std::uint64_t start_hash(JSValueConst proto, JSClassID cls, std::uint32_t n) {
    auto p = reinterpret_cast<std::uintptr_t>(JS_IsObject(proto) ? JS_VALUE_GET_PTR(proto) : nullptr);
    return mix(mix(0xcbf29ce484222325ULL ^ (p >> 4), cls), n);
  }
  /// The common case inline: a kept list, the one after the last seen (lists
  /// come back in the same order each iteration; after the last, the first) or
  /// the last seen again (the items of an array).
  void note(JSContext* ctx, JSValueConst proto, JSClassID cls, std::uint64_t hash, const JSAtom* keys,
            const JSPropertyEnum* props, std::uint32_t n) {
    std::size_t i = next_ < lists_.size() ? next_ : 0;
    if (i < lists_.size() && lists_[i].hash == hash && lists_[i].kept) {
      next_ = i + 1;
      return;
    }
    if (next_ > 0 && next_ <= lists_.size() && lists_[next_ - 1].hash == hash && lists_[next_ - 1].kept) return;
    note_slow(ctx, proto, cls, hash, keys, props, n);
  }
  void note_slow(JSContext* ctx, JSValueConst proto, JSClassID cls, std::uint64_t hash, const JSAtom* keys,
                 const JSPropertyEnum* props, std::uint32_t n);
  void keep(JSContext* ctx, JSValueConst proto, JSClassID cls, const JSAtom* keys, const JSPropertyEnum* props,
            std::uint32_t n);

  std::chrono::steady_clock::duration window_;
  std::vector<List> lists_;
  std::size_t next_ = 0;  ///< the list after the one last seen (where the next sighting usually is)
  std::vector<JSValue> keepers_;
  std::vector<void*> empty_kept_;  ///< prototypes whose empty shape a keeper holds
};

}  // namespace herd::js
