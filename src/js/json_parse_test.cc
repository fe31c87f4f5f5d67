#include "js/json_parse.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "js/runtime.h"

namespace herd::js {
namespace {

// Compares two values the way a script could tell them apart: typeof,
// Object.is (-0, NaN), prototypes, Array.isArray, extensibility, own keys in
// order and every property's attributes and value. "" when indistinguishable.
constexpr const char* kSameSource = R"JS(
globalThis.__same = function same(a, b, path) {
  path = path || '$';
  if (typeof a !== typeof b) return path + ': typeof ' + typeof a + ' vs ' + typeof b;
  if (typeof a !== 'object' || a === null || b === null)
    return Object.is(a, b) ? '' : path + ': ' + String(a) + ' vs ' + String(b);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return path + ': prototype';
  if (Array.isArray(a) !== Array.isArray(b)) return path + ': isArray';
  if (Object.isExtensible(a) !== Object.isExtensible(b)) return path + ': extensible';
  const ka = Reflect.ownKeys(a), kb = Reflect.ownKeys(b);
  if (ka.length !== kb.length) return path + ': ' + ka.length + ' vs ' + kb.length + ' keys';
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i]) return path + ': key ' + i + ' ' + String(ka[i]) + ' vs ' + String(kb[i]);
    const da = Object.getOwnPropertyDescriptor(a, ka[i]), db = Object.getOwnPropertyDescriptor(b, kb[i]);
    if (da.writable !== db.writable || da.enumerable !== db.enumerable || da.configurable !== db.configurable)
      return path + ': attributes of ' + String(ka[i]);
    const r = same(da.value, db.value, path + '[' + JSON.stringify(ka[i]) + ']');
    if (r) return r;
  }
  return '';
};
)JS";

class JsonParseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Value r(ctx(), JS_Eval(ctx(), kSameSource, std::strlen(kSameSource), "<same>", JS_EVAL_TYPE_GLOBAL));
    ASSERT_FALSE(r.is_exception()) << take_exception(ctx());
    Value g = global_object(ctx());
    same_ = Value(ctx(), JS_GetPropertyStr(ctx(), g.get(), "__same"));
    json_ = Value(ctx(), JS_GetPropertyStr(ctx(), g.get(), "JSON"));
    stringify_ = Value(ctx(), JS_GetPropertyStr(ctx(), json_.get(), "stringify"));
  }
  JSContext* ctx() const { return rt_.ctx(); }

  /// The pending exception as "Name: message" plus its stack.
  std::string exception_text() {
    Value e(ctx(), JS_GetException(ctx()));
    return format_exception(ctx(), e.get());
  }

  std::string stringify(JSValueConst v) {
    JSValueConst arg = v;
    Value s(ctx(), JS_Call(ctx(), stringify_.get(), json_.get(), 1, &arg));
    if (s.is_exception()) return "<throws " + exception_text() + ">";
    return to_string(ctx(), s.get());
  }

  /// Parses `text` with parse_json and with JS_ParseJSON and expects the same
  /// outcome. Returns whether the native path took the text.
  bool expect_same(const std::string& text) {
    SCOPED_TRACE("input: " + text);
    JSValue native_only;
    bool native = parse_json_native(ctx(), text.data(), text.size(), &native_only);
    if (native) {
      EXPECT_FALSE(JS_IsException(native_only)) << exception_text();
      JS_FreeValue(ctx(), native_only);
    }
    Value mine(ctx(), parse_json(ctx(), text.c_str(), text.size(), "<t>"));
    std::string mine_error = mine.is_exception() ? exception_text() : "";
    Value theirs(ctx(), JS_ParseJSON(ctx(), text.c_str(), text.size(), "<t>"));
    std::string their_error = theirs.is_exception() ? exception_text() : "";
    EXPECT_EQ(mine.is_exception(), theirs.is_exception()) << mine_error << their_error;
    EXPECT_EQ(mine_error, their_error);
    if (mine.is_exception() || theirs.is_exception()) {
      EXPECT_FALSE(native) << "the native path took invalid JSON";
      return native;
    }
    EXPECT_EQ(stringify(mine.get()), stringify(theirs.get()));
    JSValueConst args[2] = {mine.get(), theirs.get()};
    Value diff(ctx(), JS_Call(ctx(), same_.get(), JS_UNDEFINED, 2, args));
    EXPECT_EQ(to_string(ctx(), diff.get()), "");
    return native;
  }

  void expect_native(const std::string& text) { EXPECT_TRUE(expect_same(text)) << "fell back: " << text; }
  void expect_fallback(const std::string& text) { EXPECT_FALSE(expect_same(text)) << "took: " << text; }

  Runtime rt_;
  Value same_, json_, stringify_;
};

TEST_F(JsonParseTest, Scalars) {
  for (const char* t : {"true",
                        "false",
                        "null",
                        "0",
                        "-0",
                        "1",
                        "-1",
                        "2147483647",
                        "2147483648",
                        "-2147483648",
                        "-2147483649",
                        "123456789012345678",
                        "1234567890123456789012",
                        "9007199254740993",
                        "1.5",
                        "-0.0",
                        "1e3",
                        "1E+3",
                        "1e-3",
                        "0.1",
                        "5e-324",
                        "1.7976931348623157e308",
                        "2.5e-320",
                        "0.30000000000000004",
                        "\"\"",
                        "\"abc\"",
                        " \t\r\n1 \t\r\n"}) {
    expect_native(t);
  }
}

TEST_F(JsonParseTest, NegativeZeroStaysADouble) {
  JSValue v;
  ASSERT_TRUE(parse_json_native(ctx(), "-0", 2, &v));
  ASSERT_EQ(JS_VALUE_GET_TAG(v), JS_TAG_FLOAT64);
  EXPECT_TRUE(std::signbit(JS_VALUE_GET_FLOAT64(v)));
  ASSERT_TRUE(parse_json_native(ctx(), "[-0.0e5]", 8, &v));
  Value arr(ctx(), v);
  Value el(ctx(), JS_GetPropertyUint32(ctx(), arr.get(), 0));
  double d = 0;
  ASSERT_EQ(JS_ToFloat64(ctx(), &d, el.get()), 0);
  EXPECT_TRUE(std::signbit(d));
}

TEST_F(JsonParseTest, NumbersOutOfDoubleRangeGoToQuickJs) {
  for (const char* t : {"1e400", "-1e400", "1e-400", "[1e999]"}) expect_fallback(t);
}

TEST_F(JsonParseTest, Strings) {
  for (const char* t : {R"("\" \\ \/ \b \f \n \r \t")", R"("\u0041\u00e9\u20ac\uD83D\uDE00")", R"("\u0000x")",
                        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "\"\xe2\x80\xa8\xe2\x80\xa9\"",
                        R"("{\"a\":[1,2]}")", "\"\x7f\"", R"("\uDBFF\uDFFF")", R"("\uFFFF")"}) {
    expect_native(t);
  }
}

TEST_F(JsonParseTest, LongStringsWithEscapes) {
  // longer than the per-thread scratch buffer keeps (64 KB), then a short one
  std::string big = "[\"";
  for (int i = 0; i < 3000; ++i) big += "line \\\"" + std::to_string(i) + "\\\" \\u00e9\\uD83D\\uDE00\\n";
  big += "\", \"tail\\t\"]";
  ASSERT_GT(big.size(), 64u * 1024);
  expect_native(big);
  expect_native(R"(["a\nb"])");
}

TEST_F(JsonParseTest, SpecialBytesAtEveryOffsetOfALongString) {
  // the string scanner reads eight bytes at a time: a special byte in any lane
  const std::vector<std::string> specials = {
      "\\n",  "\\u00e9",      "\x1f",         "\x01", " ",  "\x7f", "\xc3\xa9", "\xc3",
      "\xff", "\xe2\x82\xac", "\xed\xa0\x80", "\t",   "\"", "\\",   "~",        "!"};
  for (size_t offset = 0; offset < 20; ++offset) {
    for (const std::string& sp : specials) {
      expect_same("\"" + std::string(offset, 'a') + sp + std::string(19 - offset, 'b') + "\"");
      expect_same("{\"" + std::string(offset, 'k') + sp + "\":1}");
    }
  }
}

TEST_F(JsonParseTest, SpecialBytesAtEveryOffsetAfterAnEscape) {
  // after a string's first escape the decoder copies eight bytes at a time
  const std::vector<std::string> specials = {"\\n",          "\\\"", "\\\\", "\\/",      "\\u00e9", "\\uD83D\\uDE00",
                                             "\\u0000",      "\x1f", "\x7f", "\xc3\xa9", "\xc3",    "\xe2\x82\xac",
                                             "\xed\xa0\x80", "\"",   "\\x",  "\\u12"};
  for (size_t lead = 0; lead < 9; ++lead) {
    for (size_t offset = 0; offset < 17; ++offset) {
      for (const std::string& sp : specials) {
        const std::string body =
            std::string(lead, 'z') + "\\t" + std::string(offset, 'a') + sp + std::string(16 - offset, 'b') + "\\n";
        expect_same("\"" + body + "\"");
        expect_same("[\"" + body + "\",1]");
        expect_same("{\"" + body + "\":1}");
        if (::testing::Test::HasFailure()) return;
      }
    }
  }
}

TEST_F(JsonParseTest, EchoedRequestBody) {
  // what bench/realistic.js parses: a JSON text escaped inside a string
  expect_native(
      R"({"args":{},"body":"{\"customer\":1,\"seq\":0,\"lines\":[{\"sku\":\"A-1\",\"qty\":2},{\"sku\":\"B-7\",)"
      R"(\"qty\":1}]}","headers":{"Content-Type":"application/json","X-Bench-Flow":"checkout"},"method":"POST",)"
      R"("path":"/echo","query":""})");
}

TEST_F(JsonParseTest, LoneSurrogatesAndBadUtf8GoToQuickJs) {
  for (const char* t : {R"("\uD800")", R"("\uDC00")", R"("\uD800x")", R"("\uD800\u0041")", R"("\uDE00\uD83D")",
                        "\"\xed\xa0\x80\"", "\"\xc3\"", "\"\xc0\xaf\"", "\"\xf5\x80\x80\x80\"", "\"\xff\"",
                        "\"\xe0\x80\x80\"", "\"\xf4\x90\x80\x80\"", "\xef\xbb\xbf{}", "{\"\xc3\":1}"}) {
    expect_fallback(t);
  }
}

TEST_F(JsonParseTest, SyntaxErrorsAreQuickJsErrors) {
  for (const char* t : {"",
                        " ",
                        "01",
                        "-01",
                        "+1",
                        ".5",
                        "1.",
                        "1.e5",
                        "1e",
                        "1e+",
                        "-",
                        "--1",
                        "0x10",
                        "Infinity",
                        "NaN",
                        "[1,]",
                        "{\"a\":1,}",
                        "[,1]",
                        "{,}",
                        "{\"a\"}",
                        "{\"a\" 1}",
                        "{a:1}",
                        "{'a':1}",
                        "'a'",
                        "[1 2]",
                        "[1]]",
                        "{}}",
                        "[",
                        "{",
                        "{\"a\":",
                        "\"abc",
                        "\"a\tb\"",
                        "\"a\nb\"",
                        "\"\\x41\"",
                        "\"\\v\"",
                        "\"\\u12\"",
                        "\"\\u{41}\"",
                        "\"\\'\"",
                        "tru",
                        "truex",
                        "nul",
                        "nullx",
                        "True",
                        "[true false]",
                        "1 2",
                        "/*c*/1",
                        "1//c",
                        "\f1",
                        "\v1",
                        "\xc2\xa0\x31",
                        "1_000",
                        "1n",
                        "[01]",
                        "{\"a\":01}",
                        "{\"__proto__\":1,}"}) {
    expect_fallback(t);
  }
  expect_fallback(std::string("[1]\0", 4));
  expect_fallback(std::string("\"a\0b\"", 5));
}

TEST_F(JsonParseTest, ErrorMessagesNameTheFile) {
  Value v(ctx(), parse_json(ctx(), "{\"a\":}", 6, "<response body>"));
  ASSERT_TRUE(v.is_exception());
  std::string e = exception_text();
  EXPECT_NE(e.find("SyntaxError"), std::string::npos) << e;
  EXPECT_NE(e.find("<response body>"), std::string::npos) << e;
}

TEST_F(JsonParseTest, ObjectsKeepQuickJsKeyOrderAndProtoAsOwnProperty) {
  for (const char* t : {R"({"b":1,"a":2,"10":3,"2":4,"01":5,"-1":6,"4294967295":7,"4294967294":8,"1.5":9})",
                        R"({"__proto__":{"x":1},"y":2})", R"({"__proto__":null})", R"({"a":1,"b":2,"a":3})",
                        R"({"0":1,"0":2,"1":[]})", R"({"":1,"constructor":2,"toString":3,"length":4})",
                        "{\"caf\xc3\xa9\":1,\"\xc3\xa9\":2,\"\\u00e9\":3,\"\xf0\x9f\x98\x80\":4}",
                        R"({"a\u0000b":1,"a":2,"\u0031":3,"\/":4})", R"([1,[2,[3,{}]],{"a":[]}])", R"([])", R"({})",
                        R"( { "a" : [ 1 , 2 ] , "b" : { } } )"}) {
    expect_native(t);
  }
  JSValue v;
  ASSERT_TRUE(parse_json_native(ctx(), R"({"__proto__":{"x":1}})", 21, &v));
  Value obj(ctx(), v);
  Value x(ctx(), JS_GetPropertyStr(ctx(), obj.get(), "x"));
  EXPECT_TRUE(JS_IsUndefined(x.get())) << "__proto__ must not become the prototype";
}

TEST_F(JsonParseTest, NonAsciiKeysAreNotConfusedWithLatin1Atoms) {
  // "\u00c3\u00a9" (two Latin-1 characters) has the bytes of UTF-8 "\u00e9"
  // when stored 8-bit: make it an atom first, then parse the UTF-8 key.
  const char* src = "var o = {}; o['\\u00c3\\u00a9'] = 1; Object.keys(o)[0]";
  Value r(ctx(), JS_Eval(ctx(), src, std::strlen(src), "<t>", JS_EVAL_TYPE_GLOBAL));
  ASSERT_FALSE(r.is_exception());
  expect_native("{\"\xc3\xa9\":1,\"\xc3\x83\xc2\xa9\":2}");
}

TEST_F(JsonParseTest, DeepNestingGoesToQuickJs) {
  for (int depth : {63, 64, 65, 200, 5000}) {
    std::string t(depth, '[');
    t += std::string(depth, ']');
    if (depth <= 64) {
      expect_native(t);
    } else {
      expect_fallback(t);
    }
    std::string o;
    for (int i = 0; i < depth; ++i) o += "{\"a\":";
    o += "1" + std::string(depth, '}');
    if (depth <= 64) {
      expect_native(o);
    } else {
      expect_fallback(o);
    }
  }
}

// --- kept shapes -----------------------------------------------------------------

/// Own keys of each element of `arr`, "a,b|c|...".
std::string ladder_keys(JSContext* ctx, JSValueConst arr) {
  const char* src = "(a) => a.map((o) => Object.keys(o).join(',')).join('|')";
  Value fn(ctx, JS_Eval(ctx, src, std::strlen(src), "<keys>", JS_EVAL_TYPE_GLOBAL));
  JSValueConst arg = arr;
  Value r(ctx, JS_Call(ctx, fn.get(), JS_UNDEFINED, 1, &arg));
  return r.is_exception() ? "<throws>" : to_string(ctx, r.get());
}

uint32_t fingerprint_of(JSContext* ctx, const std::string& text) {
  uint32_t fp = 1;
  Value v(ctx, parse_json(ctx, text.c_str(), text.size(), "<t>", &fp));
  return fp;
}

TEST_F(JsonParseTest, ShapeLadderHoldsEveryKeyPrefixInParseOrder) {
  const std::string text = R"({"a":1,"b":{"c":2,"d":[{"e":3},{}]},"0":4})";
  Value ladder(ctx(), json_shape_ladder(ctx(), text.data(), text.size()));
  ASSERT_TRUE(JS_IsArray(ctx(), ladder.get()));
  EXPECT_EQ(ladder_keys(ctx(), ladder.get()), "e|c|c,d|a|a,b|0,a,b");
  std::string wide = "{";
  for (int i = 0; i < 17; ++i) wide += "\"k" + std::to_string(i) + "\":{\"x\":1},";
  wide.back() = '}';
  Value wide_ladder(ctx(), json_shape_ladder(ctx(), wide.data(), wide.size()));
  EXPECT_EQ(ladder_keys(ctx(), wide_ladder.get()), "x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x|x") << "17 keys: no prefixes";
  for (const char* t : {"{\"a\":", "[1e400,{\"a\":1}]", "{\"\\uD800\":1}"}) {
    Value none(ctx(), json_shape_ladder(ctx(), t, std::strlen(t)));
    EXPECT_TRUE(JS_IsUndefined(none.get())) << t;
  }
}

TEST_F(JsonParseTest, KeyFingerprintFollowsKeysNotValues) {
  EXPECT_EQ(fingerprint_of(ctx(), R"({"a":1,"b":[{"c":2}]})"), fingerprint_of(ctx(), R"({"a":"x","b":[{"c":null}]})"));
  EXPECT_NE(fingerprint_of(ctx(), R"({"a":1,"b":2})"), fingerprint_of(ctx(), R"({"b":1,"a":2})"));
  EXPECT_NE(fingerprint_of(ctx(), R"({"a":{"b":1}})"), fingerprint_of(ctx(), R"({"a":{},"b":1})"));
  EXPECT_EQ(fingerprint_of(ctx(), "{\"a\":"), 0u) << "QuickJS's parse";
  EXPECT_EQ(fingerprint_of(ctx(), "[1,2]"), 0u) << "no object";
}

TEST_F(JsonParseTest, KeptShapesLeaveResultsAsQuickJsMakesThem) {
  JSValue keeper = JS_UNDEFINED;
  const std::vector<std::string> docs = {
      R"({"args":{},"body":"x","headers":{"A":"1","B":"2"},"method":"POST"})",
      R"({"args":{},"body":"y","headers":{"A":"3","B":"4"},"method":"GET"})",
      R"({"args":{"q":"1"},"body":"z","headers":{"B":"2","A":"1"},"method":"PUT"})",
      R"({"args":{"q":"1"},"body":"z","headers":{"B":"2","A":"1"},"method":"PUT"})",
      R"({"args":{},"body":"x","headers":{"A":"1","B":"2"},"method":"POST"})",
  };
  for (int round = 0; round < 3; ++round) {
    for (const std::string& d : docs) {
      Value doc(ctx(), parse_json_keeping_shapes(ctx(), d.c_str(), d.size(), "<t>", &keeper, 1024));
      ASSERT_TRUE(JS_IsObject(doc.get()));
      ASSERT_FALSE(JS_HasException(ctx()));
      Value plain(ctx(), parse_json(ctx(), d.c_str(), d.size(), "<t>"));
      JSValueConst args[2] = {doc.get(), plain.get()};
      Value diff(ctx(), JS_Call(ctx(), same_.get(), JS_UNDEFINED, 2, args));
      EXPECT_EQ(to_string(ctx(), diff.get()), "");
      // a script changing its result changes nothing kept
      JS_SetPropertyStr(ctx(), doc.get(), "extra", JS_NewInt32(ctx(), 1));
      Value headers(ctx(), JS_GetPropertyStr(ctx(), doc.get(), "headers"));
      JS_SetPropertyStr(ctx(), headers.get(), "A", JS_UNDEFINED);
      expect_native(d);
    }
  }
  ASSERT_TRUE(JS_IsArray(ctx(), keeper));
  Value holder(ctx(), JS_GetPropertyUint32(ctx(), keeper, 3));
  Value ladder(ctx(), JS_GetPropertyUint32(ctx(), holder.get(), 0));
  EXPECT_EQ(ladder_keys(ctx(), ladder.get()), "q|B|B,A|args|args,body|args,body,headers|args,body,headers,method");
  JS_FreeValue(ctx(), keeper);
}

TEST_F(JsonParseTest, PredictedKeyAtomsMatchTheirBytes) {
  // after two parses of `a` its keys' atoms are predicted: each other document
  // has a key of the same length with other bytes (or an index) at each place
  JSValue keeper = JS_UNDEFINED;
  const std::string a = "{\"0\":1,\"ab\":{\"k\":2},\"\xc3\xa9\":3,\"__proto__\":{\"x\":1},\"10\":4,\"z\":5}";
  const std::vector<std::string> docs = {
      a, a, "{\"1\":1,\"ac\":{\"k\":2},\"\xc3\xa8\":3,\"__proto__\":{\"y\":1},\"01\":4,\"z\":5}", a,
      "{\"0\":1,\"ab\":{\"K\":2},\"e\":3,\"__proto_\":{\"x\":1},\"10\":4,\"y\":5}", a, "{\"ab\":{\"k\":2},\"0\":1}", a,
      "{\"0\":1,\"abc\":{\"k\":2},\"\xc3\xa9\":3,\"__proto__\":{\"x\":1},\"10\":4,\"zz\":5}",  // longer keys
      a,
      // the same keys spelled with escapes (other bytes, the same names), then cut short
      "{\"\\u0030\":1,\"a\\u0062\":{\"\\\"k\":2},\"\\u00e9\":3,\"__proto__\":{\"x\":1},\"10\":4,\"z\":5}", a,
      "{\"0\":1,\"ab\":{\"k\":2},\"\xc3\xa9\":3,\"__proto__\":{\"x\":1},\"10\":4,\"z", a};
  for (const std::string& d : docs) {
    SCOPED_TRACE(d);
    const std::uint64_t native_before = json_parse_native_count();
    Value mine(ctx(), parse_json_keeping_shapes(ctx(), d.c_str(), d.size(), "<t>", &keeper, 1024));
    const bool failed = mine.is_exception();
    EXPECT_EQ(json_parse_native_count(), native_before + (failed ? 0 : 1));  // no valid one left to QuickJS
    discard_exception(ctx());
    Value theirs(ctx(), JS_ParseJSON(ctx(), d.c_str(), d.size(), "<t>"));
    EXPECT_EQ(failed, theirs.is_exception());
    discard_exception(ctx());
    if (failed) continue;  // the document cut short
    ASSERT_TRUE(JS_IsObject(mine.get()));
    JSValueConst args[2] = {mine.get(), theirs.get()};
    Value diff(ctx(), JS_Call(ctx(), same_.get(), JS_UNDEFINED, 2, args));
    EXPECT_EQ(to_string(ctx(), diff.get()), "");
    EXPECT_EQ(stringify(mine.get()), stringify(theirs.get()));
  }
  JS_FreeValue(ctx(), keeper);
}

TEST_F(JsonParseTest, PredictedStringValuesAreSharedOnlyWhenTheirBytesMatch) {
  // same keys throughout; the string values change in length, bytes, escapes,
  // type (a number where a string was), and one is longer than kept strings
  JSValue keeper = JS_UNDEFINED;
  const std::string longer(300, 'L');
  const std::string a =
      R"({"m":"POST","p":"/echo","e":"","h":{"A":"*/*","B":"x\"y"},"l":")" + longer + R"(","t":"tail"})";
  const std::vector<std::string> docs = {
      a, a,
      a, R"({"m":"POSTX","p":"/echp","e":"e","h":{"A":"*/*","B":"x\u0022y"},"l":"short","t":"tail"})",
      a, R"({"m":1,"p":"/echo","e":"","h":{"A":"é/*","B":"x\"y"},"l":")" + longer + R"(!","t":"tai"})",
      a};
  std::vector<Value> kept;
  for (const std::string& d : docs) {
    SCOPED_TRACE(d);
    const std::uint64_t native_before = json_parse_native_count();
    Value mine(ctx(), parse_json_keeping_shapes(ctx(), d.c_str(), d.size(), "<t>", &keeper, 1024));
    EXPECT_EQ(json_parse_native_count(), native_before + 1);  // none left to QuickJS
    Value theirs(ctx(), JS_ParseJSON(ctx(), d.c_str(), d.size(), "<t>"));
    ASSERT_TRUE(JS_IsObject(mine.get()));
    JSValueConst args[2] = {mine.get(), theirs.get()};
    Value diff(ctx(), JS_Call(ctx(), same_.get(), JS_UNDEFINED, 2, args));
    EXPECT_EQ(to_string(ctx(), diff.get()), "");
    EXPECT_EQ(stringify(mine.get()), stringify(theirs.get()));
    kept.push_back(std::move(mine));
  }
  auto str_ptr = [&](std::size_t doc, const char* key) {
    Value v(ctx(), JS_GetPropertyStr(ctx(), kept[doc].get(), key));
    return JS_VALUE_GET_TAG(v.get()) == JS_TAG_STRING ? JS_VALUE_GET_PTR(v.get()) : nullptr;
  };
  // the ladder (and its recorded values) exists from the second parse of `a` on
  EXPECT_NE(str_ptr(2, "m"), nullptr);
  EXPECT_EQ(str_ptr(2, "m"), str_ptr(4, "m"));  // predicted: one string
  EXPECT_EQ(str_ptr(2, "t"), str_ptr(6, "t"));
  EXPECT_NE(str_ptr(2, "l"), str_ptr(4, "l"));  // too long to be kept
  EXPECT_NE(str_ptr(2, "m"), str_ptr(3, "m"));  // other bytes, another string
  JS_FreeValue(ctx(), keeper);
}

TEST_F(JsonParseTest, KeptShapesOfTheEchoBodyCostAFewKilobytes) {
  const std::string echo =
      R"({"args":{},"body":"{\"customer\":1,\"seq\":0}","headers":{"Content-Type":"application/json",)"
      R"("X-Bench-Flow":"checkout","User-Agent":"herd","Host":"127.0.0.1","Content-Length":"30",)"
      R"("Connection":"keep-alive"},"method":"POST","path":"/echo","query":""})";
  auto used = [&] {
    JS_RunGC(rt_.rt());
    JSMemoryUsage u{};
    JS_ComputeMemoryUsage(rt_.rt(), &u);
    return u.memory_used_size;
  };
  JSValue keeper = JS_UNDEFINED;
  JS_FreeValue(ctx(), parse_json(ctx(), echo.c_str(), echo.size(), "<t>"));  // atoms and a first shape chain
  const int64_t before = used();
  {
    Value doc(ctx(), parse_json(ctx(), echo.c_str(), echo.size(), "<t>"));
    std::printf("one parsed echo body: %lld bytes\n", static_cast<long long>(used() - before));
  }
  for (int i = 0; i < 3; ++i)
    JS_FreeValue(ctx(), parse_json_keeping_shapes(ctx(), echo.c_str(), echo.size(), "<t>", &keeper, 1024));
  const int64_t after = used();
  std::printf("kept for the echo body: %lld bytes\n", static_cast<long long>(after - before));
  EXPECT_LT(after - before, 8 * 1024);
  JS_FreeValue(ctx(), keeper);
}

// --- differential: random documents and near misses ---------------------------

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  std::string document() {
    std::string out;
    ws(&out);
    value(&out, 0);
    ws(&out);
    return out;
  }

  /// `text` with one random edit: most are syntax errors, some stay valid.
  std::string near_miss(const std::string& text) {
    static const std::vector<std::string> kInserts = {",",       "}",    "]",
                                                      "{",       "[",    "\"",
                                                      "\\",      "0",    "-",
                                                      "+",       ".",    "e",
                                                      " ",       "\x01", "\f",
                                                      "\v",      "/",    "x",
                                                      "\xff",    "\xc3", "\xed\xa0\x80",
                                                      ":",       "'",    "\\u",
                                                      "\\uD800", "00",   std::string(1, '\0'),
                                                      "1e999",   "true"};
    std::string t = text;
    size_t pos = pick(t.size() + 1);
    switch (pick(4)) {
      case 0:
        if (!t.empty()) t.erase(std::min(pos, t.size() - 1), 1);
        break;
      case 1:
        t.insert(pos, kInserts[pick(kInserts.size())]);
        break;
      case 2:
        if (pos < t.size()) t[pos] = kInserts[pick(kInserts.size())][0];
        break;
      default:
        t.resize(pos);
    }
    return t;
  }

 private:
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  void ws(std::string* out) {
    static const char kWs[] = {' ', '\t', '\n', '\r'};
    while (pick(4) == 0) out->push_back(kWs[pick(4)]);
  }

  void value(std::string* out, int depth) {
    size_t kind = pick(depth > 4 ? 6 : 8);
    switch (kind) {
      case 0:
        *out += pick(2) ? "true" : "false";
        break;
      case 1:
        *out += "null";
        break;
      case 2:
      case 3:
        number(out);
        break;
      case 4:
      case 5:
        string(out, false);
        break;
      case 6: {
        out->push_back('[');
        ws(out);
        size_t n = pick(5);
        for (size_t i = 0; i < n; ++i) {
          if (i) *out += ",";
          ws(out);
          value(out, depth + 1);
          ws(out);
        }
        out->push_back(']');
        break;
      }
      default: {
        out->push_back('{');
        ws(out);
        size_t n = pick(6);
        for (size_t i = 0; i < n; ++i) {
          if (i) *out += ",";
          ws(out);
          string(out, true);
          ws(out);
          *out += ":";
          ws(out);
          value(out, depth + 1);
          ws(out);
        }
        out->push_back('}');
      }
    }
  }

  void digits(std::string* out, size_t n, bool leading_nonzero) {
    for (size_t i = 0; i < n; ++i)
      out->push_back(static_cast<char>('0' + ((i == 0 && leading_nonzero) ? 1 + pick(9) : pick(10))));
  }

  void number(std::string* out) {
    static const std::vector<std::string> kSpecial = {"0",
                                                      "-0",
                                                      "2147483647",
                                                      "2147483648",
                                                      "-2147483648",
                                                      "-2147483649",
                                                      "4294967295",
                                                      "9007199254740992",
                                                      "9007199254740993",
                                                      "18446744073709551615",
                                                      "1e308",
                                                      "1.7976931348623157e308",
                                                      "1.7976931348623158e308",
                                                      "4.9e-324",
                                                      "2.4703282292062327e-324",
                                                      "2.2250738585072011e-308",
                                                      "0.1",
                                                      "1e-7",
                                                      "123456789e-5",
                                                      "0.000001",
                                                      "1e21",
                                                      "999999999999999999",
                                                      "1000000000000000000",
                                                      "-999999999999999999"};
    if (pick(4) == 0) {
      *out += kSpecial[pick(kSpecial.size())];
      return;
    }
    if (pick(2)) out->push_back('-');
    if (pick(5) == 0) {
      out->push_back('0');
    } else {
      digits(out, 1 + pick(pick(3) ? 6 : 30), true);
    }
    if (pick(2)) {
      out->push_back('.');
      digits(out, 1 + pick(pick(3) ? 4 : 25), false);
    }
    if (pick(3) == 0) {
      out->push_back(pick(2) ? 'e' : 'E');
      if (pick(2)) out->push_back(pick(2) ? '+' : '-');
      digits(out, 1 + pick(3), false);
    }
  }

  void string(std::string* out, bool key) {
    static const std::vector<std::string> kKeys = {
        "a",           "b",        "method",     "headers",          "__proto__", "0",           "1",   "10",
        "01",          "-1",       "4294967294", "4294967295",       "length",    "constructor", "",    "\\u0030",
        "caf\xc3\xa9", "\xc3\xa9", "\\u00e9",    "\xf0\x9f\x98\x80", "a\\u0000b", "\\\"q\\\"",   "x y", "toString",
        "1.0"};
    static const std::vector<std::string> kPieces = {"a",
                                                     "Z",
                                                     " ",
                                                     "0",
                                                     "\\\"",
                                                     "\\\\",
                                                     "\\/",
                                                     "\\b",
                                                     "\\f",
                                                     "\\n",
                                                     "\\r",
                                                     "\\t",
                                                     "\\u0041",
                                                     "\\u00e9",
                                                     "\\u20ac",
                                                     "\\uD83D\\uDE00",
                                                     "\\u0000",
                                                     "\\u001f",
                                                     "\\uFFFE",
                                                     "\xc3\xa9",
                                                     "\xe2\x82\xac",
                                                     "\xf0\x9f\x98\x80",
                                                     "\xe2\x80\xa8",
                                                     "\x7f",
                                                     "{\\\"k\\\":[1,2]}",
                                                     "\xef\xbf\xbf",
                                                     "\xc2\x80",
                                                     "~"};
    out->push_back('"');
    if (key && pick(4)) {
      *out += kKeys[pick(kKeys.size())];
    } else {
      size_t n = pick(8);
      for (size_t i = 0; i < n; ++i) *out += kPieces[pick(kPieces.size())];
    }
    out->push_back('"');
  }

  std::mt19937 rng_;
};

TEST_F(JsonParseTest, RandomDocumentsMatchQuickJs) {
  Generator gen(17);
  int native = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string doc = gen.document();
    if (expect_same(doc)) ++native;
    if (::testing::Test::HasFailure()) return;
  }
  // everything generated is strict JSON, but a number may leave double range
  EXPECT_GT(native, 2900);
}

TEST_F(JsonParseTest, RandomNearMissesMatchQuickJs) {
  Generator gen(1117);
  for (int i = 0; i < 6000; ++i) {
    expect_same(gen.near_miss(gen.document()));
    if (::testing::Test::HasFailure()) return;
  }
}

TEST_F(JsonParseTest, RandomDoublesRoundLikeQuickJs) {
  std::mt19937_64 rng(42);
  int native = 0;
  for (int i = 0; i < 20000; ++i) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d)) continue;
    char buf[64];
    // 17 significant digits round-trip; fewer digits exercise rounding of the input
    std::snprintf(buf, sizeof buf, "%.*e", static_cast<int>(1 + rng() % 20), d);
    if (expect_same(std::string("[") + buf + "]")) ++native;  // not when it rounds to 0 or beyond DBL_MAX
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_GT(native, 18000);
}

}  // namespace
}  // namespace herd::js
