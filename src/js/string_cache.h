#pragma once
// The UTF-8 text of the short strings and property names that natives read in
// every request (issue #17): params.headers' names and values, params.tags'.
//
// A script's request headers and tags are mostly string literals, and QuickJS
// hands out the very same string (one JSString of the function's constants)
// each time the literal is evaluated, and the same atom for a literal key. The
// cache keeps, per runtime, the text of the last such strings and atoms it
// converted, keyed by identity, and holds a reference to each so that the
// identity cannot be reused by another string: a JSString is immutable, so its
// text is the cached one for as long as the reference is held.
//
// A hit costs a short scan instead of JS_ToCStringLen's allocation, copy and
// free. Strings longer than kMaxBytes (and ropes, numbers, objects) are
// converted every time and not kept. Replacement is CLOCK: an entry read since
// the hand last passed it survives, so strings that change every request (a
// generated id) take the same cold slots again instead of evicting the hot ones.
// Nothing is allocated until a native asks: VUs that never pass headers or tags
// keep nothing.

#include <quickjs.h>

#include <cstddef>
#include <string>
#include <vector>

namespace herd::js {

class StringCache {
 public:
  static constexpr std::size_t kSlots = 16;      ///< strings and atoms each
  static constexpr std::size_t kMaxBytes = 256;  ///< longer texts are not kept

  StringCache() = default;
  StringCache(const StringCache&) = delete;
  StringCache& operator=(const StringCache&) = delete;
  /// release() must have run (the held strings belong to a context).
  ~StringCache() = default;

  /// String(v), as JS_ToCStringLen converts it; nullptr when the conversion
  /// throws (the exception is left pending). Valid until the next call.
  const std::string* text(JSContext* ctx, JSValueConst v);
  /// The text of atom `a` (a string atom: a property name), NULs included;
  /// nullptr on failure (exception pending). Valid until the next call.
  const std::string* atom_text(JSContext* ctx, JSAtom a);

  /// Drops every held string and atom; call before the context is freed.
  void release(JSContext* ctx);

  /// Strings and atoms held, and lookups answered from them (for tests).
  std::size_t held() const { return values_.size() + atoms_.size(); }
  std::size_t hits() const { return hits_; }

 private:
  struct ValueEntry {
    JSValue held = JS_UNDEFINED;  ///< a reference to the string (its pointer is the key)
    std::string text;
    bool used = false;
  };
  struct AtomEntry {
    JSAtom atom = JS_ATOM_NULL;  ///< duplicated
    std::string text;
    bool used = false;
  };
  /// The slot a new entry takes: a free one while there are, else the first
  /// not read since the hand passed it.
  template <typename Entry>
  static std::size_t victim(std::vector<Entry>& v, std::size_t* hand);

  std::vector<ValueEntry> values_;
  std::vector<AtomEntry> atoms_;
  std::size_t value_hand_ = 0;
  std::size_t atom_hand_ = 0;
  std::size_t hits_ = 0;
  std::string scratch_;  ///< the text of an uncached string
};

}  // namespace herd::js
