#include "js/json_parse.h"

#include "js/runtime.h"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>

namespace herd::js {
namespace {

/// Objects and arrays nested deeper than this go to JS_ParseJSON, which checks
/// the runtime's stack limit (fiber stacks are small).
constexpr int kMaxDepth = 64;

/// Integers with at most this many digits are exact in an int64_t, and one
/// int64 -> double conversion rounds them correctly.
constexpr std::ptrdiff_t kMaxExactDigits = 18;

enum class Status {
  kOk,
  kFallback,   // not strict JSON, or something left to QuickJS: nothing built is kept
  kException,  // a QuickJS call failed (out of memory): its exception is pending
};

bool is_digit(uint8_t c) {
  return c >= '0' && c <= '9';
}

int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_continuation(uint8_t c) {
  return (c & 0xC0) == 0x80;
}

/// The first byte at or after `p` that ends a run of plain string characters
/// (printable ASCII other than '"' and '\\'), or `end`. Eight bytes at a time.
inline const uint8_t* skip_plain(const uint8_t* p, const uint8_t* end) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  while (end - p >= 8) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    const uint64_t quote = v ^ (kOnes * '"');
    const uint64_t backslash = v ^ (kOnes * '\\');
    // a zero byte in quote/backslash, a byte below 0x20, or a byte >= 0x80
    const uint64_t special =
        ((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash) | ((v - kOnes * 0x20) & ~v) | v;
    if (special & kHigh) break;
    p += 8;
  }
  while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') ++p;
  return p;
}

/// Decoded text of strings with escapes, reused across parses on a thread (a
/// parse calls no JS, so none nests inside another; `busy` guards anyway).
struct Scratch {
  std::string text;
  bool busy = false;
};
thread_local Scratch t_scratch;

/// Scratch buffers above this size are released after a parse.
constexpr std::size_t kScratchKeep = 64 * 1024;

/// The length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms,
/// no surrogates, at most U+10FFFF) starting with the non-ASCII byte at `p`,
/// or 0.
std::size_t utf8_sequence_length(const uint8_t* p, const uint8_t* end) {
  const uint8_t c = p[0];
  const std::ptrdiff_t avail = end - p;
  if (c >= 0xC2 && c <= 0xDF) return avail >= 2 && is_continuation(p[1]) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (avail < 3 || !is_continuation(p[1]) || !is_continuation(p[2])) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;   // overlong
    if (c == 0xED && p[1] >= 0xA0) return 0;  // a surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (avail < 4 || !is_continuation(p[1]) || !is_continuation(p[2]) || !is_continuation(p[3])) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;   // overlong
    if (c == 0xF4 && p[1] >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

/// Writes `cp` as UTF-8 at `w`; returns the end.
char* put_utf8(char* w, uint32_t cp) {
  if (cp < 0x80) {
    *w++ = static_cast<char>(cp);
  } else if (cp < 0x800) {
    *w++ = static_cast<char>(0xC0 | (cp >> 6));
    *w++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *w++ = static_cast<char>(0xE0 | (cp >> 12));
    *w++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *w++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *w++ = static_cast<char>(0xF0 | (cp >> 18));
    *w++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *w++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *w++ = static_cast<char>(0x80 | (cp & 0x3F));
  }
  return w;
}

/// A string's decoded text: either a slice of the input (no escapes) or the
/// parser's scratch buffer, valid until the next string is scanned.
struct StringText {
  const char* data;
  std::size_t size;
  bool ascii;
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
        StringText t{};
        Status s = scan_string(&t);
        if (s != Status::kOk) return s;
        *out = JS_NewStringLen(ctx_, t.data, t.size);
        return JS_IsException(*out) ? Status::kException : Status::kOk;
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
    skip_whitespace();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      *out = obj;
      return Status::kOk;
    }
    Status s = Status::kFallback;
    for (;;) {
      if (p_ == end_ || *p_ != '"') break;
      ++p_;
      JSAtom atom = JS_ATOM_NULL;
      s = key(&atom);
      if (s != Status::kOk) break;
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
      s = Status::kFallback;
      Next n = after_member('}');
      if (n == Next::kMore) continue;
      if (n == Next::kBad) break;
      *out = obj;
      return Status::kOk;
    }
    JS_FreeValue(ctx_, obj);
    return s;
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

  /// A property name (the opening quote consumed) as QuickJS makes it: an
  /// integer atom for a canonical array index, a string atom otherwise.
  Status key(JSAtom* out) {
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
    return *out == JS_ATOM_NULL ? Status::kException : Status::kOk;
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
      const uint8_t* run = p_;
      p_ = skip_plain(p_, end_);
      std::memcpy(w, run, static_cast<std::size_t>(p_ - run));
      w += p_ - run;
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

JSValue parse_json(JSContext* ctx, const char* p, std::size_t n, const char* filename) {
  JSValue v;
  if (parse_json_native(ctx, p, n, &v)) {
    ++t_native_parses;
    return v;
  }
  return JS_ParseJSON(ctx, p, n, filename);
}

std::uint64_t json_parse_native_count() {
  return t_native_parses;
}

namespace {

/// JSON.parse(text, reviver) as installed by install_json_parse: without a
/// callable reviver, text's UTF-8 (JS_ToCStringLen, as QuickJS's own does) goes
/// through parse_json; with one, QuickJS's function (data[0]) does it all.
JSValue native_parse(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv, int, JSValueConst* data) {
  if (argc > 1 && JS_IsFunction(ctx, argv[1])) return JS_Call(ctx, data[0], this_val, argc, argv);
  std::size_t len = 0;
  const char* text = JS_ToCStringLen(ctx, &len, argc > 0 ? argv[0] : JS_UNDEFINED);
  if (!text) return JS_EXCEPTION;
  JSValue v = parse_json(ctx, text, len, "<input>");
  JS_FreeCString(ctx, text);
  return v;
}

}  // namespace

bool install_json_parse(JSContext* ctx) {
  Value json(ctx, JS_GetPropertyStr(ctx, global_object(ctx).get(), "JSON"));
  if (!JS_IsObject(json.get())) {
    discard_exception(ctx);
    return false;
  }
  Value original(ctx, JS_GetPropertyStr(ctx, json.get(), "parse"));
  if (!JS_IsFunction(ctx, original.get())) {
    discard_exception(ctx);
    return false;
  }
  JSValueConst data[] = {original.get()};
  Value fn(ctx, JS_NewCFunctionData(ctx, native_parse, 2, 0, 1, data));
  // JS_NewCFunctionData names its functions "": the name QuickJS's has, in the same place.
  if (fn.is_exception() ||
      JS_DefinePropertyValueStr(ctx, fn.get(), "name", JS_NewString(ctx, "parse"), JS_PROP_CONFIGURABLE) < 0 ||
      JS_DefinePropertyValueStr(ctx, json.get(), "parse", fn.release(), JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE) < 0) {
    discard_exception(ctx);
    return false;
  }
  return true;
}

}  // namespace herd::js
