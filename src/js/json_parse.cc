#include "js/json_parse.h"

#include "js/json_text.h"
#include "js/runtime.h"

#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

namespace herd::js {
namespace {

using json_text::copy_plain;
using json_text::hex_value;
using json_text::is_digit;
using json_text::put_utf8;
using json_text::skip_plain;
using json_text::utf8_sequence_length;

/// Objects and arrays nested deeper than this go to JS_ParseJSON, which checks
/// the runtime's stack limit (fiber stacks are small).
constexpr int kMaxDepth = 64;

/// Integers with at most this many digits are exact in an int64_t, and one
/// int64 -> double conversion rounds them correctly.
constexpr std::ptrdiff_t kMaxExactDigits = 18;

/// json_shape_ladder's bounds: objects with more keys get no prefix objects,
/// and a ladder holds at most this many.
constexpr std::size_t kLadderMaxKeys = 16;
constexpr std::size_t kLadderMaxObjects = 48;

enum class Status {
  kOk,
  kFallback,   // not strict JSON, or something left to QuickJS: nothing built is kept
  kException,  // a QuickJS call failed (out of memory): its exception is pending
};

/// Decoded text of strings with escapes, reused across parses on a thread (a
/// parse calls no JS, so none nests inside another; `busy` guards anyway).
struct Scratch {
  std::string text;
  bool busy = false;
};
thread_local Scratch t_scratch;

/// Scratch buffers above this size are released after a parse.
constexpr std::size_t kScratchKeep = 64 * 1024;

/// A string's decoded text: either a slice of the input (no escapes) or the
/// parser's scratch buffer, valid until the next string is scanned.
struct StringText {
  const char* data;
  std::size_t size;
  bool ascii;
};

/// The keys of a document in parse order with their atoms, for the next parse
/// of a document with the same keys: a key whose bytes (its raw string body in
/// the input, closing quote included, in `text`) match the next entry takes
/// its atom without a scan or a lookup. Only atoms some object keeps alive (a
/// ladder's prefix objects) are recorded; others are JS_ATOM_NULL.
/// Its string values too, in parse order, each held (up to kPredictMaxString
/// bytes; longer ones are recorded as undefined): the next document's string
/// value at the same place takes the same string when the bytes match (same
/// bytes, same string: strings are immutable, their identity unobservable).
struct KeyPrediction {
  struct Entry {
    uint32_t offset;  // in text
    uint32_t size;
    JSAtom atom;
  };
  struct ValueEntry {
    uint32_t offset;  // in text
    uint32_t size;
    JSValue str;  // held, or undefined
  };
  static constexpr std::size_t kPredictMaxString = 256;

  explicit KeyPrediction(JSRuntime* runtime) : rt(runtime) {}
  KeyPrediction(const KeyPrediction&) = delete;
  KeyPrediction& operator=(const KeyPrediction&) = delete;
  ~KeyPrediction() {
    for (ValueEntry& v : values) JS_FreeValueRT(rt, v.str);
  }

  JSRuntime* rt;
  std::string text;
  std::vector<Entry> entries;
  std::vector<ValueEntry> values;
};

/// One parse: a recursive descent over strict JSON that creates the values
/// the way QuickJS's JSON parser does (JS_NewObject + JS_DefinePropertyValue
/// with C_W_E, JS_NewArray + JS_DefinePropertyValueUint32). Every value it
/// returns with kOk is owned by the caller; on any other status it has freed
/// what it built.
class Parser {
 public:
  Parser(JSContext* ctx, const char* p, std::size_t n)
      : ctx_(ctx), p_(reinterpret_cast<const uint8_t*>(p)), end_(p_ + n) {
    if (!t_scratch.busy) {
      t_scratch.busy = true;
      scratch_ = &t_scratch.text;
    }
  }
  ~Parser() {
    if (scratch_ == &t_scratch.text) {
      if (scratch_->size() > kScratchKeep) std::string().swap(*scratch_);
      t_scratch.busy = false;
    }
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  /// The keys of the objects parsed so far, in order and nesting (a hash of
  /// their atoms).
  uint32_t fingerprint() const { return fingerprint_; }
  /// Makes object() append to `*ladder` one new object per non-empty prefix of
  /// the keys of each object it parses (values undefined).
  /// With `prediction` set, records the keys of the objects that get prefix
  /// objects into it.
  void record_ladder(std::vector<JSValue>* ladder, KeyPrediction* prediction) {
    ladder_ = ladder;
    record_ = prediction;
  }
  /// Takes key atoms from `prediction` where the bytes match.
  void predict_keys(const KeyPrediction* prediction) { predict_ = prediction; }

  Status document(JSValue* out) {
    skip_whitespace();
    Status s = value(out, 0);
    if (s != Status::kOk) return s;
    skip_whitespace();
    if (p_ != end_) {
      JS_FreeValue(ctx_, *out);
      return Status::kFallback;
    }
    return Status::kOk;
  }

 private:
  void skip_whitespace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool consume_word(const char* word, std::size_t len) {
    if (static_cast<std::size_t>(end_ - p_) < len) return false;
    for (std::size_t i = 0; i < len; ++i) {
      if (p_[i] != static_cast<uint8_t>(word[i])) return false;
    }
    p_ += len;
    return true;
  }

  Status value(JSValue* out, int depth) {
    if (p_ == end_) return Status::kFallback;
    switch (*p_) {
      case '{':
        return object(out, depth + 1);
      case '[':
        return array(out, depth + 1);
      case '"': {
        ++p_;
        return string_value(out);
      }
      case 't':
        if (!consume_word("true", 4)) return Status::kFallback;
        *out = JS_TRUE;
        return Status::kOk;
      case 'f':
        if (!consume_word("false", 5)) return Status::kFallback;
        *out = JS_FALSE;
        return Status::kOk;
      case 'n':
        if (!consume_word("null", 4)) return Status::kFallback;
        *out = JS_NULL;
        return Status::kOk;
      default:
        return number(out);
    }
  }

  Status object(JSValue* out, int depth) {
    if (depth > kMaxDepth) return Status::kFallback;
    ++p_;  // '{'
    JSValue obj = JS_NewObject(ctx_);
    if (JS_IsException(obj)) return Status::kException;
    mix('{');
    skip_whitespace();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      mix('}');
      *out = obj;
      return Status::kOk;
    }
    Status s = Status::kFallback;
    std::vector<JSAtom> keys;        // with ladder_ only: not owned, obj holds them
    std::vector<std::size_t> marks;  // with record_ only: their entries in record_
    for (;;) {
      if (p_ == end_ || *p_ != '"') break;
      ++p_;
      JSAtom atom = JS_ATOM_NULL;
      s = key(&atom);
      if (s != Status::kOk) break;
      if (record_) marks.push_back(record_->entries.size() - 1);  // before the value's own keys
      skip_whitespace();
      if (p_ == end_ || *p_ != ':') {
        JS_FreeAtom(ctx_, atom);
        s = Status::kFallback;
        break;
      }
      ++p_;
      skip_whitespace();
      JSValue v;
      s = value(&v, depth);
      if (s != Status::kOk) {
        JS_FreeAtom(ctx_, atom);
        break;
      }
      int r = JS_DefinePropertyValue(ctx_, obj, atom, v, JS_PROP_C_W_E);
      JS_FreeAtom(ctx_, atom);
      if (r < 0) {
        s = Status::kException;
        break;
      }
      mix(atom);
      if (ladder_) keys.push_back(atom);
      s = Status::kFallback;
      Next n = after_member('}');
      if (n == Next::kMore) continue;
      if (n == Next::kBad) break;
      mix('}');
      if (ladder_ && !add_prefixes(keys, marks)) {
        s = Status::kException;
        break;
      }
      *out = obj;
      return Status::kOk;
    }
    JS_FreeValue(ctx_, obj);
    return s;
  }

  void mix(uint32_t x) { fingerprint_ = (fingerprint_ ^ x) * 0x9E3779B1U; }

  /// One object per non-empty prefix of `keys`, built as object() builds its
  /// objects (same atoms, order and flags, so the same shapes), into ladder_.
  bool add_prefixes(const std::vector<JSAtom>& keys, const std::vector<std::size_t>& marks) {
    if (keys.size() > kLadderMaxKeys || ladder_->size() + keys.size() > kLadderMaxObjects) {
      for (std::size_t m : marks) record_->entries[m].atom = JS_ATOM_NULL;  // nothing keeps these
      return true;
    }
    for (std::size_t k = 1; k <= keys.size(); ++k) {
      JSValue o = JS_NewObject(ctx_);
      if (JS_IsException(o)) return false;
      ladder_->push_back(o);
      for (std::size_t i = 0; i < k; ++i) {
        if (JS_DefinePropertyValue(ctx_, o, keys[i], JS_UNDEFINED, JS_PROP_C_W_E) < 0) return false;
      }
    }
    return true;
  }

  enum class Next { kMore, kClosed, kBad };
  /// After a member of an object or array: a ',' (and the whitespace after it)
  /// means another member, `close` the end of the container (both consumed).
  Next after_member(unsigned char close) {
    skip_whitespace();
    if (p_ == end_) return Next::kBad;
    if (*p_ == ',') {
      ++p_;
      skip_whitespace();
      return Next::kMore;
    }
    if (*p_ != close) return Next::kBad;
    ++p_;
    return Next::kClosed;
  }

  Status array(JSValue* out, int depth) {
    if (depth > kMaxDepth) return Status::kFallback;
    ++p_;  // '['
    JSValue arr = JS_NewArray(ctx_);
    if (JS_IsException(arr)) return Status::kException;
    skip_whitespace();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      *out = arr;
      return Status::kOk;
    }
    Status s = Status::kFallback;
    for (uint32_t index = 0;; ++index) {
      JSValue v;
      s = value(&v, depth);
      if (s != Status::kOk) break;
      if (JS_DefinePropertyValueUint32(ctx_, arr, index, v, JS_PROP_C_W_E) < 0) {
        s = Status::kException;
        break;
      }
      s = Status::kFallback;
      Next n = after_member(']');
      if (n == Next::kMore) continue;
      if (n == Next::kBad) break;
      *out = arr;
      return Status::kOk;
    }
    JS_FreeValue(ctx_, arr);
    return s;
  }

  /// A string value (the opening quote consumed): the predicted one when the
  /// input's bytes are the recorded ones, else a new string (recorded when
  /// recording).
  Status string_value(JSValue* out) {
    const uint8_t* const raw = p_;
    if (predict_ && next_value_ < predict_->values.size()) {
      const KeyPrediction::ValueEntry& e = predict_->values[next_value_++];
      if (JS_VALUE_GET_TAG(e.str) == JS_TAG_STRING && take_raw(e.offset, e.size)) {
        *out = JS_DupValue(ctx_, e.str);
        return Status::kOk;
      }
    }
    StringText t{};
    Status s = scan_string(&t);
    if (s != Status::kOk) return s;
    *out = JS_NewStringLen(ctx_, t.data, t.size);
    if (JS_IsException(*out)) return Status::kException;
    if (record_) {
      if (t.size <= KeyPrediction::kPredictMaxString)
        record_raw(&record_->values, raw, JS_DupValue(ctx_, *out));
      else  // keeps the values in step
        record_->values.push_back({0, 0, JS_UNDEFINED});
    }
    return Status::kOk;
  }

  /// A property name (the opening quote consumed) as QuickJS makes it: an
  /// integer atom for a canonical array index, a string atom otherwise.
  Status key(JSAtom* out) {
    const uint8_t* const raw = p_;
    if (predict_ && next_key_ < predict_->entries.size()) {
      const KeyPrediction::Entry& e = predict_->entries[next_key_++];
      if (e.atom != JS_ATOM_NULL && take_raw(e.offset, e.size)) {
        *out = JS_DupAtom(ctx_, e.atom);
        return Status::kOk;
      }
    }
    StringText t{};
    Status s = scan_string(&t);
    if (s != Status::kOk) return s;
    if (t.ascii) {
      // JS_NewAtomLen looks ASCII text up as 8-bit characters: exact for ASCII only
      *out = JS_NewAtomLen(ctx_, t.data, t.size);
    } else {
      JSValue str = JS_NewStringLen(ctx_, t.data, t.size);
      if (JS_IsException(str)) return Status::kException;
      *out = JS_ValueToAtom(ctx_, str);
      JS_FreeValue(ctx_, str);
    }
    if (*out == JS_ATOM_NULL) return Status::kException;
    if (record_) record_raw(&record_->entries, raw, t.ascii ? *out : JS_ATOM_NULL);
    return Status::kOk;
  }

  /// When the input at p_ (just past an opening quote) starts with the
  /// recorded string body at `offset`/`size` of predict_->text, its closing
  /// quote included: consumes it and says so. The same bytes from the same
  /// place lex to the same string, so nothing is scanned or decoded.
  bool take_raw(uint32_t offset, uint32_t size) {
    if (size == 0 || static_cast<std::size_t>(end_ - p_) < size ||
        std::memcmp(predict_->text.data() + offset, p_, size) != 0)
      return false;
    p_ += size;
    return true;
  }

  /// Records the string body from `raw` to p_ (past its closing quote) with
  /// `held` (an atom or a string value) into `*to`.
  template <typename Entry, typename Held>
  void record_raw(std::vector<Entry>* to, const uint8_t* raw, Held held) {
    const auto size = static_cast<std::size_t>(p_ - raw);
    to->push_back({static_cast<uint32_t>(record_->text.size()), static_cast<uint32_t>(size), held});
    record_->text.append(reinterpret_cast<const char*>(raw), size);
  }

  /// Scans a string body (the opening quote consumed) up to and past its
  /// closing quote, decoding escapes into UTF-8.
  Status scan_string(StringText* out) {
    const uint8_t* start = p_;
    bool ascii = true;
    for (;;) {
      p_ = skip_plain(p_, end_);
      if (p_ == end_) return Status::kFallback;
      const uint8_t c = *p_;
      if (c == '"') {
        *out = {reinterpret_cast<const char*>(start), static_cast<std::size_t>(p_ - start), ascii};
        ++p_;
        return Status::kOk;
      }
      if (c == '\\') break;
      if (c < 0x20) return Status::kFallback;
      std::size_t k = utf8_sequence_length(p_, end_);
      if (k == 0) return Status::kFallback;
      ascii = false;
      p_ += k;
    }
    // decoded text is never longer than its source: size the buffer once, write through a pointer
    std::string& scratch = *scratch_;
    const auto bound = static_cast<std::size_t>(end_ - start);
    if (scratch.size() < bound) scratch.resize(bound);
    char* const base = scratch.data();
    char* w = base;
    std::memcpy(w, start, static_cast<std::size_t>(p_ - start));
    w += p_ - start;
    for (;;) {
      // w - base <= p_ - start: the buffer has room for all of the rest of the input
      p_ = copy_plain(p_, end_, &w);
      if (p_ == end_) return Status::kFallback;
      const uint8_t c = *p_;
      if (c == '"') {
        ++p_;
        *out = {base, static_cast<std::size_t>(w - base), ascii};
        return Status::kOk;
      }
      if (c < 0x20) return Status::kFallback;
      if (c >= 0x80) {
        std::size_t k = utf8_sequence_length(p_, end_);
        if (k == 0) return Status::kFallback;
        std::memcpy(w, p_, k);
        w += k;
        ascii = false;
        p_ += k;
        continue;
      }
      // a backslash
      if (end_ - p_ < 2) return Status::kFallback;
      const uint8_t e = p_[1];
      p_ += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          *w++ = static_cast<char>(e);
          break;
        case 'b':
          *w++ = '\b';
          break;
        case 'f':
          *w++ = '\f';
          break;
        case 'n':
          *w++ = '\n';
          break;
        case 'r':
          *w++ = '\r';
          break;
        case 't':
          *w++ = '\t';
          break;
        case 'u': {
          int32_t cp = hex4();
          if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) return Status::kFallback;
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // must be followed by a low surrogate
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return Status::kFallback;
            p_ += 2;
            int32_t low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) return Status::kFallback;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          if (cp >= 0x80) ascii = false;
          w = put_utf8(w, static_cast<uint32_t>(cp));
          break;
        }
        default:
          return Status::kFallback;
      }
    }
  }

  /// Four hex digits at p_ (consumed), or -1.
  int32_t hex4() {
    if (end_ - p_ < 4) return -1;
    int32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hex_value(p_[i]);
      if (h < 0) return -1;
      v = (v << 4) | h;
    }
    p_ += 4;
    return v;
  }

  /// RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  Status number(JSValue* out) {
    const uint8_t* start = p_;
    bool negative = false;
    if (*p_ == '-') {
      negative = true;
      ++p_;
    }
    const uint8_t* digits = p_;
    if (p_ == end_ || !is_digit(*p_)) return Status::kFallback;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ < end_ && is_digit(*p_)) ++p_;
    }
    const uint8_t* int_end = p_;
    bool integral = true;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ == end_ || !is_digit(*p_)) return Status::kFallback;
      while (p_ < end_ && is_digit(*p_)) ++p_;
      integral = false;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !is_digit(*p_)) return Status::kFallback;
      while (p_ < end_ && is_digit(*p_)) ++p_;
      integral = false;
    }
    if (integral && int_end - digits <= kMaxExactDigits) {
      int64_t v = 0;
      for (const uint8_t* d = digits; d < int_end; ++d) v = v * 10 + (*d - '0');
      if (negative && v == 0) {
        *out = JS_NewFloat64(ctx_, -0.0);
      } else {
        *out = JS_NewInt64(ctx_, negative ? -v : v);
      }
      return Status::kOk;
    }
    double d = 0;
    auto [end, ec] = std::from_chars(reinterpret_cast<const char*>(start), reinterpret_cast<const char*>(p_), d);
    if (ec != std::errc() || end != reinterpret_cast<const char*>(p_)) return Status::kFallback;
    *out = JS_NewFloat64(ctx_, d);
    return Status::kOk;
  }

  JSContext* ctx_;
  const uint8_t* p_;
  const uint8_t* end_;
  uint32_t fingerprint_ = 0;
  std::vector<JSValue>* ladder_ = nullptr;  // set: prefix objects of every object parsed
  KeyPrediction* record_ = nullptr;
  const KeyPrediction* predict_ = nullptr;
  std::size_t next_key_ = 0;              // in predict_->entries
  std::size_t next_value_ = 0;            // in predict_->values
  std::string own_scratch_;               // used only if t_scratch is busy
  std::string* scratch_ = &own_scratch_;  // decoded text of the last string with escapes
};

}  // namespace

bool parse_json_native(JSContext* ctx, const char* p, std::size_t n, JSValue* out) {
  Parser parser(ctx, p, n);
  switch (parser.document(out)) {
    case Status::kOk:
      return true;
    case Status::kException:
      *out = JS_EXCEPTION;
      return true;
    case Status::kFallback:
      break;
  }
  return false;
}

namespace {
thread_local std::uint64_t t_native_parses = 0;
}  // namespace

namespace {

JSValue parse_impl(JSContext* ctx, const char* p, std::size_t n, const char* filename, uint32_t* key_fingerprint,
                   const KeyPrediction* prediction) {
  {
    Parser parser(ctx, p, n);
    parser.predict_keys(prediction);
    JSValue v;
    switch (parser.document(&v)) {
      case Status::kOk:
        ++t_native_parses;
        if (key_fingerprint) *key_fingerprint = parser.fingerprint();
        return v;
      case Status::kException:
        ++t_native_parses;
        return JS_EXCEPTION;
      case Status::kFallback:
        break;
    }
  }
  if (key_fingerprint) *key_fingerprint = 0;
  return JS_ParseJSON(ctx, p, n, filename);
}

}  // namespace

JSValue parse_json(JSContext* ctx, const char* p, std::size_t n, const char* filename, uint32_t* key_fingerprint) {
  return parse_impl(ctx, p, n, filename, key_fingerprint, nullptr);
}

namespace {

JSValue build_ladder(JSContext* ctx, const char* p, std::size_t n, KeyPrediction* prediction) {
  std::vector<JSValue> ladder;
  Status s;
  {
    Parser parser(ctx, p, n);
    parser.record_ladder(&ladder, prediction);
    JSValue doc;
    s = parser.document(&doc);
    if (s == Status::kOk) JS_FreeValue(ctx, doc);
  }
  JSValue arr = JS_UNDEFINED;
  bool failed = s == Status::kException;
  if (s == Status::kOk) {
    arr = JS_NewArray(ctx);
    failed = JS_IsException(arr);
  }
  uint32_t i = 0;
  for (JSValue o : ladder) {
    if (failed || s != Status::kOk) {
      JS_FreeValue(ctx, o);
    } else if (JS_DefinePropertyValueUint32(ctx, arr, i++, o, JS_PROP_C_W_E) < 0) {  // frees o
      failed = true;
    }
  }
  if (failed) {
    JS_FreeValue(ctx, arr);
    return JS_EXCEPTION;
  }
  return arr;
}

/// The class of the objects that own a KeyPrediction (registered per runtime
/// on first use).
JSClassID prediction_class() {
  static JSClassID id = 0;
  static std::once_flag once;
  std::call_once(once, [] { JS_NewClassID(&id); });
  return id;
}

void finalize_prediction(JSRuntime*, JSValue v) {
  delete static_cast<KeyPrediction*>(JS_GetOpaque(v, prediction_class()));
}

/// A new object of prediction_class owning `*prediction`, or undefined.
JSValue wrap_prediction(JSContext* ctx, std::unique_ptr<KeyPrediction> prediction) {
  JSRuntime* rt = JS_GetRuntime(ctx);
  const JSClassID id = prediction_class();
  if (!JS_IsRegisteredClass(rt, id)) {
    static const JSClassDef kDef = {"JsonKeyPrediction", finalize_prediction, nullptr, nullptr, nullptr};
    if (JS_NewClass(rt, id, &kDef) < 0) return JS_UNDEFINED;
  }
  JSValue o = JS_NewObjectClass(ctx, static_cast<int>(id));
  if (JS_IsException(o)) {
    discard_exception(ctx);
    return JS_UNDEFINED;
  }
  JS_SetOpaque(o, prediction.release());
  return o;
}

}  // namespace

JSValue json_shape_ladder(JSContext* ctx, const char* p, std::size_t n) {
  return build_ladder(ctx, p, n, nullptr);
}

std::uint64_t json_parse_native_count() {
  return t_native_parses;
}

namespace {

uint32_t keeper_u32(JSContext* ctx, JSValueConst keeper, uint32_t index) {
  JSValue v = JS_GetPropertyUint32(ctx, keeper, index);
  if (JS_VALUE_GET_TAG(v) == JS_TAG_INT) return static_cast<uint32_t>(JS_VALUE_GET_INT(v));
  JS_FreeValue(ctx, v);
  return 0;
}

void keeper_set(JSContext* ctx, JSValueConst keeper, uint32_t index, JSValue v) {
  if (JS_SetPropertyUint32(ctx, keeper, index, v) < 0) discard_exception(ctx);
}

/// Keeps the shapes of `doc` (parsed from `p`/`n`, with key fingerprint
/// `fingerprint`) alive in `*keeper`: [0] the last document not the ladder's, [1] its
/// fingerprint, [2] the ladder's, [3] an object of prediction_class owning the
/// KeyPrediction of the ladder, which it holds at index 0.
void keep_json_shapes(JSContext* ctx, JSValue* keeper, JSValueConst doc, uint32_t fingerprint, const char* p,
                      std::size_t n) {
  if (!JS_IsObject(*keeper)) {
    JSValue arr = JS_NewArray(ctx);
    for (uint32_t i = 0; i < 4 && !JS_IsException(arr); ++i) {  // in order: a fast array
      if (JS_DefinePropertyValueUint32(ctx, arr, i, i == 1 || i == 2 ? JS_NewInt32(ctx, 0) : JS_UNDEFINED,
                                       JS_PROP_C_W_E) < 0) {
        JS_FreeValue(ctx, arr);
        arr = JS_EXCEPTION;
      }
    }
    if (JS_IsException(arr)) {
      discard_exception(ctx);
      return;
    }
    JS_FreeValue(ctx, *keeper);
    *keeper = arr;
  }
  const uint32_t last = keeper_u32(ctx, *keeper, 1);
  if (last != fingerprint) keeper_set(ctx, *keeper, 1, JS_NewInt32(ctx, static_cast<int32_t>(fingerprint)));
  if (fingerprint != 0 && fingerprint == keeper_u32(ctx, *keeper, 2)) return;
  keeper_set(ctx, *keeper, 0, JS_DupValue(ctx, doc));
  if (fingerprint == 0 || fingerprint != last) return;
  // the same keys twice in a row, and not the ladder's: this document's ladder replaces it
  auto prediction = std::make_unique<KeyPrediction>(JS_GetRuntime(ctx));
  JSValue ladder = build_ladder(ctx, p, n, prediction.get());
  if (!JS_IsObject(ladder)) {
    if (JS_IsException(ladder)) discard_exception(ctx);
    return;
  }
  JSValue holder = wrap_prediction(ctx, std::move(prediction));
  if (!JS_IsObject(holder)) {
    JS_FreeValue(ctx, ladder);
    return;
  }
  if (JS_DefinePropertyValueUint32(ctx, holder, 0, ladder, JS_PROP_C_W_E) < 0) {
    discard_exception(ctx);
    JS_FreeValue(ctx, holder);
    return;
  }
  keeper_set(ctx, *keeper, 3, holder);
  keeper_set(ctx, *keeper, 2, JS_NewInt32(ctx, static_cast<int32_t>(fingerprint)));
  keeper_set(ctx, *keeper, 0, JS_UNDEFINED);  // the ladder keeps all the document kept
}

}  // namespace

JSValue parse_json_keeping_shapes(JSContext* ctx, const char* p, std::size_t n, const char* filename, JSValue* keeper,
                                  std::size_t max_bytes) {
  JSValue held = JS_IsObject(*keeper) ? JS_GetPropertyUint32(ctx, *keeper, 3) : JS_UNDEFINED;
  const auto* prediction = static_cast<const KeyPrediction*>(JS_GetOpaque(held, prediction_class()));
  uint32_t fingerprint = 0;
  JSValue v = parse_impl(ctx, p, n, filename, &fingerprint, prediction);
  JS_FreeValue(ctx, held);
  if (JS_IsObject(v) && n <= max_bytes) keep_json_shapes(ctx, keeper, v, fingerprint, p, n);
  return v;
}

}  // namespace herd::js
