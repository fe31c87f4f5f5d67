#include "js/json_stringify.h"

#include "js/runtime.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>

namespace herd::js {

namespace {

// QuickJS 2025-04-26's class ids (the JSClassEnum of quickjs.c, not exported);
// install_json_stringify checks them against live objects before relying on them.
constexpr JSClassID kClassObject = 1;
constexpr JSClassID kClassArray = 2;
constexpr JSClassID kClassCFunction = 12;
constexpr JSClassID kClassBytecodeFunction = 13;

constexpr int kMaxDepth = 32;  // ~300 bytes of native stack per level (release build)
constexpr std::size_t kKeepBuffer = 64 * 1024;

// Predefined atoms: the same value in every runtime, never freed. Set by the
// first install; a later install that gets other values does not install.
std::atomic<JSAtom> g_atom_to_json{0};
std::atomic<JSAtom> g_atom_length{0};

thread_local JsonStringifyCounts t_counts;

enum class Step { kOk, kSkip, kBail, kError };

/// A property descriptor from JS_GetOwnProperty, freed on destruction.
struct OwnProperty {
  JSContext* ctx = nullptr;
  JSPropertyDescriptor d{0, JS_UNDEFINED, JS_UNDEFINED, JS_UNDEFINED};
  bool filled = false;
  ~OwnProperty() {
    if (!filled) return;
    JS_FreeValue(ctx, d.value);
    JS_FreeValue(ctx, d.getter);
    JS_FreeValue(ctx, d.setter);
  }
  /// <0 exception, 0 absent, 1 present (then `d` is owned).
  int get(JSValueConst obj, JSAtom prop) {
    int r = JS_GetOwnProperty(ctx, &d, obj, prop);
    filled = r > 0;
    return r;
  }
};

/// The own enumerable string keys of an object, in QuickJS's own-key order.
struct OwnKeys {
  JSContext* ctx = nullptr;
  JSPropertyEnum* tab = nullptr;
  uint32_t len = 0;
  ~OwnKeys() {
    if (!tab) return;
    for (uint32_t i = 0; i < len; i++) JS_FreeAtom(ctx, tab[i].atom);
    js_free(ctx, tab);
  }
};

/// A C string QuickJS made from a value (UTF-8; lone surrogates as 3-byte sequences).
struct CString {
  JSContext* ctx;
  const char* s = nullptr;
  std::size_t len = 0;
  CString(JSContext* c, JSValueConst v) : ctx(c) { s = JS_ToCStringLen(ctx, &len, v); }
  ~CString() {
    if (s) JS_FreeCString(ctx, s);
  }
  CString(const CString&) = delete;
  CString& operator=(const CString&) = delete;
};

// Bytes that need more than a copy inside a JSON string: control characters,
// '"', '\\', and 0xED (the lead byte of an encoded surrogate).
constexpr std::array<bool, 256> kSpecial = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; c++) t[c] = true;
  t['"'] = t['\\'] = t[0xED] = true;
  return t;
}();

constexpr char kHex[] = "0123456789abcdef";

/// The output text: a growable byte buffer written through raw pointers.
class OutBuf {
 public:
  const char* data() const { return buf_.get(); }
  std::size_t size() const { return len_; }
  void clear() { len_ = 0; }
  void truncate(std::size_t n) { len_ = n; }
  /// Room for `n` more bytes at the returned pointer; commit() what was written.
  char* room(std::size_t n) {
    if (cap_ - len_ < n) grow(n);
    return buf_.get() + len_;
  }
  void commit(char* end) { len_ = static_cast<std::size_t>(end - buf_.get()); }
  void put(char c) { *room(1) = c, len_++; }
  void put(const char* s, std::size_t n) {
    std::memcpy(room(n), s, n);
    len_ += n;
  }
  /// Frees the memory if more than `keep` bytes are held.
  void trim(std::size_t keep) {
    if (cap_ <= keep) return;
    buf_.reset();
    cap_ = len_ = 0;
  }

 private:
  void grow(std::size_t n) {
    std::size_t cap = std::max(cap_ * 2, len_ + n + 256);
    auto buf = std::make_unique_for_overwrite<char[]>(cap);
    if (len_) std::memcpy(buf.get(), buf_.get(), len_);
    buf_ = std::move(buf);
    cap_ = cap;
  }
  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0;
  std::size_t len_ = 0;
};

char* put_unit_escape(char* p, unsigned unit) {
  *p++ = '\\';
  *p++ = 'u';
  *p++ = kHex[(unit >> 12) & 15];
  *p++ = kHex[(unit >> 8) & 15];
  *p++ = kHex[(unit >> 4) & 15];
  *p++ = kHex[unit & 15];
  return p;
}

/// Appends `s` (UTF-8 from JS_ToCStringLen) as a JSON string literal, escaped
/// as QuickJS's JSON.stringify does: \b \t \n \f \r \" \\ by name, other
/// controls and lone surrogates as \u with lowercase hex, all else as is.
void append_quoted(OutBuf& out, const char* s, std::size_t len) {
  char* p = out.room(len + 2);  // the quotes and the text: enough unless escapes
  *p++ = '"';
  std::size_t i = 0;
  for (;;) {
    std::size_t run = i;
    while (run < len && !kSpecial[static_cast<unsigned char>(s[run])]) run++;
    std::memcpy(p, s + i, run - i);
    p += run - i;
    if (run == len) break;
    out.commit(p);
    p = out.room(6 + (len - run) + 1);  // this escape, the rest unescaped, the quote
    auto c = static_cast<unsigned char>(s[run]);
    i = run + 1;
    switch (c) {
      case '"':
        *p++ = '\\', *p++ = '"';
        break;
      case '\\':
        *p++ = '\\', *p++ = '\\';
        break;
      case '\b':
        *p++ = '\\', *p++ = 'b';
        break;
      case '\t':
        *p++ = '\\', *p++ = 't';
        break;
      case '\n':
        *p++ = '\\', *p++ = 'n';
        break;
      case '\f':
        *p++ = '\\', *p++ = 'f';
        break;
      case '\r':
        *p++ = '\\', *p++ = 'r';
        break;
      case 0xED:
        // ED A0..BF xx encodes U+D800..U+DFFF. QuickJS writes a pair as one
        // 4-byte sequence, so a 3-byte surrogate here is a lone one.
        if (i + 1 < len && (static_cast<unsigned char>(s[i]) & 0xE0) == 0xA0) {
          unsigned unit =
              0xD000 | ((static_cast<unsigned char>(s[i]) & 0x3F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F);
          p = put_unit_escape(p, unit);
          i += 2;
        } else {
          *p++ = static_cast<char>(c);
        }
        break;
      default:
        p = put_unit_escape(p, c);
        break;
    }
  }
  *p++ = '"';
  out.commit(p);
}

void append_int(OutBuf& out, int64_t n) {
  char* p = out.room(24);
  out.commit(std::to_chars(p, p + 24, n).ptr);
}

/// One fast-path serialization. Reads only: no script code runs, nothing is
/// created but transient strings, the output text and, in a busy VU, the
/// shape keeper's objects (js/shape_keeper.h).
class FastWriter {
 public:
  FastWriter(JSContext* ctx, OutBuf& out, JSAtom to_json, JSAtom length)
      : ctx_(ctx), out_(out), to_json_(to_json), length_(length), keeper_(shape_keeper(ctx)) {}

  Step value(JSValueConst v, int depth) {
    switch (JS_VALUE_GET_NORM_TAG(v)) {
      case JS_TAG_INT:
        append_int(out_, JS_VALUE_GET_INT(v));
        return Step::kOk;
      case JS_TAG_FLOAT64:
        return number(v);
      case JS_TAG_BOOL:
        JS_VALUE_GET_BOOL(v) ? out_.put("true", 4) : out_.put("false", 5);
        return Step::kOk;
      case JS_TAG_NULL:
        out_.put("null", 4);
        return Step::kOk;
      case JS_TAG_STRING:
      case JS_TAG_STRING_ROPE:
        return string(v);
      case JS_TAG_UNDEFINED:
      case JS_TAG_SYMBOL:
        return Step::kSkip;
      case JS_TAG_OBJECT:
        return object(v, depth);
      default:
        return Step::kBail;  // BigInt (a TypeError unless a toJSON exists), internal tags
    }
  }

 private:
  Step number(JSValueConst v) {
    double d = JS_VALUE_GET_FLOAT64(v);
    if (!std::isfinite(d)) {
      out_.put("null", 4);
    } else if (std::fabs(d) < 9007199254740992.0 && d == std::trunc(d)) {
      // Below 2^53 an integral double prints as its exact digits (-0 as "0").
      append_int(out_, static_cast<int64_t>(d));
    } else {
      CString s(ctx_, v);  // Number.prototype.toString, QuickJS's own
      if (!s.s) return Step::kError;
      out_.put(s.s, s.len);
    }
    return Step::kOk;
  }

  Step string(JSValueConst v) {
    CString s(ctx_, v);
    if (!s.s) return Step::kError;
    append_quoted(out_, s.s, s.len);
    return Step::kOk;
  }

  /// A key's quoted text: copied from where this call already wrote it (the
  /// same atom: every object of the graph is alive, so is every key atom), or
  /// made from the atom's text, which the runtime's string cache keeps for the
  /// next call (a script stringifies the same literal keys in every iteration).
  Step key(JSAtom atom) {
    for (std::size_t i = 0; i < written_keys_; i++) {
      if (written_[i].atom != atom) continue;
      char* dst = out_.room(written_[i].size);
      std::memcpy(dst, out_.data() + written_[i].offset, written_[i].size);
      out_.commit(dst + written_[i].size);
      return Step::kOk;
    }
    const std::size_t start = out_.size();
    if (!strings_) strings_ = string_cache(ctx_);
    if (strings_) {
      const std::string* t = strings_->atom_text(ctx_, atom);
      if (!t) return Step::kError;
      append_quoted(out_, t->data(), t->size());
    } else {
      Value k(ctx_, JS_AtomToValue(ctx_, atom));
      if (k.is_exception()) return Step::kError;
      if (Step s = string(k.get()); s != Step::kOk) return s;
    }
    if (written_keys_ < written_.size()) written_[written_keys_++] = {atom, start, out_.size() - start};
    return Step::kOk;
  }

  /// Object.prototype, Array.prototype and Function.prototype of the context,
  /// checked once per call: no toJSON on any, the latter two inheriting from
  /// the first (whose own prototype is immutably null).
  Step load_prototypes() {
    if (protos_loaded_) return protos_ok_ ? Step::kOk : Step::kBail;
    protos_loaded_ = true;
    object_proto_ = Value(ctx_, JS_GetClassProto(ctx_, kClassObject));
    array_proto_ = Value(ctx_, JS_GetClassProto(ctx_, kClassArray));
    function_proto_ = Value(ctx_, JS_GetClassProto(ctx_, kClassBytecodeFunction));
    for (const Value* p : {&object_proto_, &array_proto_, &function_proto_}) {
      if (!JS_IsObject(p->get())) return Step::kBail;
      int r = JS_GetOwnProperty(ctx_, nullptr, p->get(), to_json_);
      if (r < 0) return Step::kError;
      if (r > 0) return Step::kBail;
    }
    for (const Value* p : {&array_proto_, &function_proto_}) {
      Value up(ctx_, JS_GetPrototype(ctx_, p->get()));  // not a Proxy: class checked at install
      if (JS_VALUE_GET_PTR(up.get()) != JS_VALUE_GET_PTR(object_proto_.get())) return Step::kBail;
    }
    protos_ok_ = true;
    return Step::kOk;
  }

  Step object(JSValueConst v, int depth) {
    JSClassID cid = JS_GetClassID(v);
    if (cid != kClassObject && cid != kClassArray && cid != kClassCFunction && cid != kClassBytecodeFunction)
      return Step::kBail;  // Proxy, Date, boxed primitives, errors, native classes, ...
    if (Step s = load_prototypes(); s != Step::kOk) return s;
    const Value& expected = cid == kClassObject ? object_proto_ : cid == kClassArray ? array_proto_ : function_proto_;
    {
      // Ordinary classes only here, so this reads the shape and runs no trap.
      Value proto(ctx_, JS_GetPrototype(ctx_, v));
      if (JS_VALUE_GET_PTR(proto.get()) != JS_VALUE_GET_PTR(expected.get()) || !JS_IsObject(proto.get()))
        return Step::kBail;
    }
    int r = JS_GetOwnProperty(ctx_, nullptr, v, to_json_);
    if (r < 0) return Step::kError;
    if (r > 0) return Step::kBail;
    if (cid == kClassCFunction || cid == kClassBytecodeFunction) return Step::kSkip;
    // A cycle (QuickJS throws "circular reference") or a deep graph (QuickJS
    // may overflow its stack): QuickJS's path, for its own exception.
    if (depth >= kMaxDepth) return Step::kBail;
    void* self = JS_VALUE_GET_PTR(v);
    for (int i = 0; i < depth; i++)
      if (path_[i] == self) return Step::kBail;
    path_[depth] = self;
    return cid == kClassArray ? array(v, depth) : plain(v, depth);
  }

  Step array(JSValueConst v, int depth) {
    Value len_v(ctx_, JS_GetProperty(ctx_, v, length_));
    if (len_v.is_exception()) return Step::kError;
    int64_t len;
    if (JS_VALUE_GET_TAG(len_v.get()) == JS_TAG_INT)
      len = JS_VALUE_GET_INT(len_v.get());
    else if (JS_TAG_IS_FLOAT64(JS_VALUE_GET_TAG(len_v.get())))
      len = static_cast<int64_t>(JS_VALUE_GET_FLOAT64(len_v.get()));
    else
      return Step::kBail;
    out_.put('[');
    for (int64_t i = 0; i < len; i++) {
      if (i > 0) out_.put(',');
      JSAtom atom = JS_NewAtomUInt32(ctx_, static_cast<uint32_t>(i));
      if (atom == JS_ATOM_NULL) return Step::kError;
      OwnProperty el{ctx_};
      int r = el.get(v, atom);
      JS_FreeAtom(ctx_, atom);
      if (r < 0) return Step::kError;
      if (r == 0 || (el.d.flags & JS_PROP_GETSET))
        return Step::kBail;  // a hole reads the prototypes; a getter runs code
      Step s = value(el.d.value, depth + 1);
      if (s == Step::kSkip)
        out_.put("null", 4);
      else if (s != Step::kOk)
        return s;
    }
    out_.put(']');
    return Step::kOk;
  }

  Step plain(JSValueConst v, int depth) {
    OwnKeys keys{ctx_};
    if (JS_GetOwnPropertyNames(ctx_, &keys.tab, &keys.len, v, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0)
      return Step::kError;
    if (keeper_) keeper_->seen(ctx_, object_proto_.get(), kClassObject, keys.tab, keys.len);
    out_.put('{');
    bool first = true;
    for (uint32_t i = 0; i < keys.len; i++) {
      OwnProperty prop{ctx_};
      int r = prop.get(v, keys.tab[i].atom);
      if (r < 0) return Step::kError;
      if (r == 0 || (prop.d.flags & JS_PROP_GETSET)) return Step::kBail;
      std::size_t mark = out_.size();
      if (!first) out_.put(',');
      if (Step s = key(keys.tab[i].atom); s != Step::kOk) return s;
      out_.put(':');
      Step s = value(prop.d.value, depth + 1);
      if (s == Step::kSkip) {
        out_.truncate(mark);
        // this key and any the value wrote are gone: only text before `mark` is left
        while (written_keys_ > 0 && written_[written_keys_ - 1].offset >= mark) --written_keys_;
        continue;
      }
      if (s != Step::kOk) return s;
      first = false;
    }
    out_.put('}');
    return Step::kOk;
  }

  JSContext* ctx_;
  OutBuf& out_;
  JSAtom to_json_;
  JSAtom length_;
  ShapeKeeper* keeper_;             ///< the runtime's, for the plain objects written (a busy VU's literals)
  StringCache* strings_ = nullptr;  ///< the runtime's, from the first key written
  bool protos_loaded_ = false;
  bool protos_ok_ = false;
  Value object_proto_, array_proto_, function_proto_;
  std::array<void*, kMaxDepth> path_{};  // the objects being written, outermost first
  struct WrittenKey {
    JSAtom atom;
    std::size_t offset;  // of its quoted text in out_
    std::size_t size;
  };
  std::array<WrittenKey, 16> written_{};  // the first keys written, in output order
  std::size_t written_keys_ = 0;
};

OutBuf& output_buffer() {
  thread_local OutBuf buf;
  return buf;
}

FastStringify run_fast(JSContext* ctx, JSValueConst v, OutBuf& out) {
  JSAtom to_json = g_atom_to_json.load(std::memory_order_relaxed);
  JSAtom length = g_atom_length.load(std::memory_order_relaxed);
  if (to_json == 0 || length == 0) return FastStringify::kNotHandled;
  FastWriter w(ctx, out, to_json, length);
  switch (w.value(v, 0)) {
    case Step::kOk:
      return FastStringify::kText;
    case Step::kSkip:
      return FastStringify::kUndefined;
    case Step::kBail:
      return FastStringify::kNotHandled;
    case Step::kError:
      break;
  }
  return FastStringify::kException;
}

JSValue native_stringify(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  // length 3: QuickJS pads argv with undefined up to three arguments.
  JSValueConst value = argc > 0 ? argv[0] : JS_UNDEFINED;
  JSValueConst replacer = argc > 1 ? argv[1] : JS_UNDEFINED;
  JSValueConst space = argc > 2 ? argv[2] : JS_UNDEFINED;
  if ((JS_IsUndefined(replacer) || JS_IsNull(replacer)) && JS_IsUndefined(space)) {
    OutBuf& out = output_buffer();
    out.clear();
    FastStringify r = run_fast(ctx, value, out);
    if (r == FastStringify::kText || r == FastStringify::kUndefined) {
      t_counts.native++;
      JSValue s = r == FastStringify::kText ? JS_NewStringLen(ctx, out.data(), out.size()) : JS_UNDEFINED;
      out.trim(kKeepBuffer);
      return s;
    }
    if (r == FastStringify::kException) return JS_EXCEPTION;
  }
  t_counts.fallback++;
  return JS_JSONStringify(ctx, value, replacer, space);
}

/// Records the process-wide atom or checks that this runtime has the same one.
bool same_atom(std::atomic<JSAtom>& slot, JSAtom atom) {
  JSAtom expected = 0;
  return slot.compare_exchange_strong(expected, atom) || expected == atom;
}

}  // namespace

FastStringify json_stringify_fast(JSContext* ctx, JSValueConst v, std::string& out) {
  OutBuf buf;
  FastStringify r = run_fast(ctx, v, buf);
  if (r == FastStringify::kText) out.append(buf.data(), buf.size());
  return r;
}

JsonStringifyCounts json_stringify_counts() {
  return t_counts;
}

bool install_json_stringify(JSContext* ctx) {
  Value json(ctx, JS_UNDEFINED), original(ctx, JS_UNDEFINED);
  if (!json_builtin(ctx, "stringify", &json, &original)) return false;
  Value object(ctx, JS_NewObject(ctx));
  Value array(ctx, JS_NewArray(ctx));
  if (object.is_exception() || array.is_exception()) {
    discard_exception(ctx);
    return false;
  }
  // The class ids this file assumes, checked on live objects: a plain object,
  // an array, a C function, and Function.prototype as the bytecode functions'
  // class prototype.
  Value function_proto(ctx, JS_GetClassProto(ctx, kClassBytecodeFunction));
  Value original_proto(ctx, JS_GetPrototype(ctx, original.get()));
  if (JS_GetClassID(object.get()) != kClassObject || JS_GetClassID(array.get()) != kClassArray ||
      JS_GetClassID(original.get()) != kClassCFunction || !JS_IsObject(function_proto.get()) ||
      JS_VALUE_GET_PTR(function_proto.get()) != JS_VALUE_GET_PTR(original_proto.get()))
    return false;
  // Predefined atoms: JS_NewAtom hands out the constant, nothing to free.
  if (!same_atom(g_atom_to_json, JS_NewAtom(ctx, "toJSON")) || !same_atom(g_atom_length, JS_NewAtom(ctx, "length")))
    return false;
  JSValue fn = JS_NewCFunction2(ctx, native_stringify, "stringify", 3, JS_CFUNC_generic, 0);
  if (JS_IsException(fn)) {
    discard_exception(ctx);
    return false;
  }
  if (JS_DefinePropertyValueStr(ctx, json.get(), "stringify", fn, JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE) < 0) {
    discard_exception(ctx);
    return false;
  }
  return true;
}

}  // namespace herd::js
