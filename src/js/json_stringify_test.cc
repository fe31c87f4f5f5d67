// The JSON.stringify fast path against QuickJS's own JS_JSONStringify, in real
// QuickJS contexts: random value graphs compared byte for byte, and every
// fallback condition compared result for result (exceptions and side effects included).
#include "js/json_stringify.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "js/runtime.h"

namespace herd::js {
namespace {

// QuickJS's own JSON.stringify, for scripts: original(value, replacer, space).
JSValue original_stringify(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  return JS_JSONStringify(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, argc > 1 ? argv[1] : JS_UNDEFINED,
                          argc > 2 ? argv[2] : JS_UNDEFINED);
}

// A seeded generator of awkward JSON-able values, and a comparer that runs
// both JSON.stringify functions on the same value.
constexpr const char* kPrelude = R"JS(
var seed = 1;
function rnd(n) {  // xorshift32, deterministic
  seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
  return seed % n;
}
var units = [];
for (var c = 0; c < 0x20; c++) units.push(c);
units.push(0x22, 0x5c, 0x2f, 0x27, 0x41, 0x7a, 0x7f, 0x80, 0xa0, 0xe9, 0xff, 0x100, 0x7ff, 0x800, 0xfeff,
           0xfffe, 0xffff, 0x2028, 0x2029, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xed, 0x3000);
function str() {
  var n = rnd(4) === 0 ? 0 : rnd(12), s = '';
  for (var i = 0; i < n; i++) {
    var k = rnd(10);
    if (k < 4) s += String.fromCharCode(0x61 + rnd(26));
    else if (k === 4) s += '\ud83d\ude00';        // a pair
    else if (k === 5) s += '\udbff\udfff';        // U+10FFFF
    else s += String.fromCharCode(units[rnd(units.length)]);
  }
  if (rnd(5) === 0) s = s + str();  // a rope sometimes
  return s;
}
var numbers = [0, -0, 1, -1, NaN, Infinity, -Infinity, 1e21, 1e-7, 1e-6, 0.1 + 0.2, 2 ** 53, 2 ** 53 + 2,
               -(2 ** 53), 2 ** 53 - 1, 2 ** 31, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 2 ** 64, 1.5, -123.456,
               5e-324, 1.7976931348623157e308, 1e20, 123456789012345680000, Number.EPSILON, 1 / 3, 100, 1e300,
               -1e-300, 4294967295, 0.000001234, 123e-20, 9.999999999999999e20];
function num() {
  var k = rnd(4);
  if (k === 0) return numbers[rnd(numbers.length)];
  if (k === 1) return rnd(2000000) - 1000000;
  if (k === 2) return (rnd(1 << 30) / (1 + rnd(1 << 20))) * 10 ** (rnd(60) - 30) * (rnd(2) ? 1 : -1);
  return (rnd(1 << 30) * 2 ** 22 + rnd(1 << 22)) * 2 ** (rnd(2000) - 1000);
}
var tricky_keys = ['0', '10', '01', '-1', '4294967295', '4294967294', '2147483648', '1.5', '', ' ', 'a"b',
                   'toString', 'length', '__proto__', '\u2028', '\ud800', 'é', '\u0000'];
function key() { return rnd(3) === 0 ? tricky_keys[rnd(tricky_keys.length)] : rnd(2) ? str() : 'k' + rnd(8); }
function skipped() { var k = rnd(4); return k === 0 ? undefined : k === 1 ? function () {} : k === 2 ? Symbol('s') : (() => 1); }
function gen(depth) {
  var k = rnd(depth > 4 ? 6 : 9);
  switch (k) {
    case 0: return str();
    case 1: return num();
    case 2: return rnd(2) === 0;
    case 3: return null;
    case 4: return rnd(3) === 0 ? skipped() : str();
    case 5: return rnd(1000);
    case 6: case 7: {
      var o = {}, n = rnd(7);
      for (var i = 0; i < n; i++) {
        var kk = key();
        Object.defineProperty(o, kk, {value: gen(depth + 1), enumerable: rnd(8) !== 0, writable: true, configurable: true});
      }
      if (n > 2 && rnd(3) === 0) {  // delete and re-add: the key moves to the end
        var ks = Object.keys(o);
        if (ks.length) { delete o[ks[0]]; Object.defineProperty(o, ks[0], {value: gen(depth + 1), enumerable: true}); }
      }
      if (rnd(5) === 0) o[Symbol('x')] = 1;
      return o;
    }
    default: {
      var a = [], m = rnd(6);
      for (var j = 0; j < m; j++) a.push(rnd(6) === 0 ? skipped() : gen(depth + 1));
      return a;
    }
  }
}
// Both stringify functions on one value: '' when they agree, else both results.
function same(v, replacer, space) {
  var a, b;
  try { a = 'ok ' + JSON.stringify(v, replacer, space); } catch (e) { a = 'throw ' + e.name + ': ' + e.message; }
  try { b = 'ok ' + original(v, replacer, space); } catch (e) { b = 'throw ' + e.name + ': ' + e.message; }
  return a === b ? '' : 'fast path: ' + a + '\noriginal:  ' + b;
}
)JS";

class JsonStringifyTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    rt_ = std::make_unique<Runtime>(0, 0, GetParam());
    JSContext* ctx = rt_->ctx();
    JS_SetPropertyStr(ctx, global_object(ctx).get(), "original",
                      JS_NewCFunction(ctx, original_stringify, "original", 3));
    ASSERT_EQ(eval(std::string(kPrelude) + "'ready'"), "ready");
  }
  JSContext* ctx() { return rt_->ctx(); }

  /// Evaluates `code` and returns String(result), or "exception: ..." text.
  std::string eval(const std::string& code) {
    Value v(ctx(), JS_Eval(ctx(), code.c_str(), code.size(), "<test>", JS_EVAL_TYPE_GLOBAL));
    if (v.is_exception()) return "exception: " + take_exception(ctx());
    return to_string(ctx(), v.get());
  }

  std::uint64_t native() const { return json_stringify_counts().native; }
  std::uint64_t fallback() const { return json_stringify_counts().fallback; }

  /// `setup` then same(`value`): both functions agree; `path` says which one
  /// the installed JSON.stringify took ("native" or "fallback").
  void expect_same(const std::string& setup, const std::string& value, const char* path) {
    std::uint64_t n0 = native(), f0 = fallback();
    EXPECT_EQ(eval("(function () { " + setup + "; return same(" + value + "); })()"), "") << value;
    if (std::strcmp(path, "native") == 0) {
      EXPECT_EQ(native() - n0, 1u) << value;
      EXPECT_EQ(fallback() - f0, 0u) << value;
    } else {
      EXPECT_EQ(fallback() - f0, 1u) << value;
      EXPECT_EQ(native() - n0, 0u) << value;
    }
  }

  std::unique_ptr<Runtime> rt_;
};

INSTANTIATE_TEST_SUITE_P(LazyAndPlainContexts, JsonStringifyTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "lazy" : "plain"; });

TEST_P(JsonStringifyTest, FunctionLooksLikeQuickJSs) {
  EXPECT_EQ(eval("JSON.stringify.name === 'stringify' && JSON.stringify.length === 3"), "true");
  EXPECT_EQ(eval("var d = Object.getOwnPropertyDescriptor(JSON, 'stringify');"
                 "[d.writable, d.enumerable, d.configurable, typeof d.value].join()"),
            "true,false,true,function");
  // Same own keys, in the same order, as JSON.parse (a function QuickJS made the same way).
  EXPECT_EQ(eval("Object.getOwnPropertyNames(JSON.stringify).join() === Object.getOwnPropertyNames(JSON.parse).join()"),
            "true");
  EXPECT_EQ(eval("Object.getOwnPropertyNames(JSON).join()"), "parse,stringify");
  EXPECT_EQ(eval("Object.getPrototypeOf(JSON.stringify) === Function.prototype"), "true");
  EXPECT_EQ(eval("String(JSON.stringify)"), "function stringify() {\n    [native code]\n}");
}

TEST_P(JsonStringifyTest, RandomValuesMatchQuickJSByteForByte) {
  std::uint64_t n0 = native();
  constexpr int kValues = 4000;
  EXPECT_EQ(eval("(function () { var bad = [];"
                 "  for (var i = 1; i <= " +
                 std::to_string(kValues) +
                 "; i++) { seed = i * 2654435761 >>> 0 || 1; var d = same(gen(0)); if (d) bad.push(i + ': ' + d); }"
                 "  return bad.slice(0, 5).join('\\n'); })()"),
            "");
  // Every random value is plain data: all of them took the fast path.
  EXPECT_EQ(native() - n0, static_cast<std::uint64_t>(kValues));
}

TEST_P(JsonStringifyTest, EveryCodeUnitEscapesAsQuickJSDoes) {
  std::uint64_t n0 = native();
  // 256 values of 256 code units each: alone, inside text, as a key, and next
  // to a surrogate (lone or completing a pair).
  EXPECT_EQ(eval("(function () { for (var base = 0; base < 0x10000; base += 256) { var v = [];"
                 "  for (var c = base; c < base + 256; c++) { var s = String.fromCharCode(c);"
                 "    v.push(s, 'a' + s + 'b', {[s]: s}, s + '\\udc00', '\\ud800' + s); }"
                 "  var d = same(v); if (d) return base + ': ' + d; } return ''; })()"),
            "");
  EXPECT_EQ(native() - n0, 256u);
  // Long strings (ropes in QuickJS) with a lone surrogate and escapes at the seams.
  expect_same("var r = 'a'.repeat(5000); var s = r + '\\ud800' + r + '\"\\n' + r + '\\udfff'", "{[s]: [s, s + s]}",
              "native");
}

TEST_P(JsonStringifyTest, NumbersMatchNumberToString) {
  EXPECT_EQ(
      eval("(function () { for (var i = 0; i < numbers.length; i++) { var d = same(numbers[i]) || same([numbers[i]]);"
           "  if (d) return d; }"
           "  for (var i = 0; i < 20000; i++) { var x = num(), d = same(x); if (d) return d; } return ''; })()"),
      "");
  EXPECT_EQ(eval("JSON.stringify([-0, 0.1 + 0.2, 1e21, 1e-7, 2 ** 53, NaN, -Infinity])"),
            "[0,0.30000000000000004,1e+21,1e-7,9007199254740992,null,null]");
}

TEST_P(JsonStringifyTest, KeysInQuickJSsOwnKeyOrder) {
  expect_same("var o = {b: 1, a: 2, 10: 3, 2: 4, '01': 5, '-1': 6, 4294967295: 7, 4294967294: 8}", "o", "native");
  EXPECT_EQ(eval("JSON.stringify({b: 1, a: 2, 10: 3, 2: 4, '01': 5, 4294967295: 7, 4294967294: 8})"),
            R"({"2":4,"10":3,"4294967294":8,"b":1,"a":2,"01":5,"4294967295":7})");
  expect_same("var o = {['__proto__']: {x: 1}, y: 2}", "o", "native");
  EXPECT_EQ(eval("JSON.stringify({['__proto__']: 1})"), R"({"__proto__":1})");
  expect_same("var o = {a: 1, b: 2, c: 3}; delete o.a; o.a = 4; Object.defineProperty(o, 'h', {value: 1})", "o",
              "native");
  expect_same("var s = Symbol('k'); var o = {[s]: 1, a: undefined, b: function () {}, c: s, d: 1}", "o", "native");
  expect_same("", "[undefined, function () {}, Symbol(), null, 1]", "native");
}

TEST_P(JsonStringifyTest, TopLevelPrimitivesAndSkippedValues) {
  for (const char* v : {"'x'", "1", "1.5", "true", "null", "undefined", "Symbol()", "function () {}", "() => 1", "''",
                        "[]", "{}", "[[]]", "[{}]"})
    expect_same("", v, "native");
  EXPECT_EQ(eval("JSON.stringify() === undefined && JSON.stringify(function () {}) === undefined"), "true");
}

TEST_P(JsonStringifyTest, RealisticPayload) {
  EXPECT_EQ(eval("JSON.stringify({ customer: 3, seq: 17, lines: [{ sku: 'A-1', qty: 2 }, { sku: 'B-7', qty: 1 }] })"),
            R"({"customer":3,"seq":17,"lines":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}]})");
  expect_same("var o = JSON.parse('{\"a\":[1,2,{\"b\":\"\\\\u00e9\\\\n\"}],\"c\":null}')", "o", "native");
  // A DAG is not a cycle.
  expect_same("var leaf = {x: 1}; var o = {a: leaf, b: [leaf, leaf]}", "o", "native");
}

TEST_P(JsonStringifyTest, RepeatedKeysAroundSkippedValues) {
  // a key written before is copied from the output: not once its member was dropped
  expect_same(
      "var o = {a: 1, b: undefined, c: {b: 2, a: undefined, d: {a: 3, b: 4}}, e: [{a: 1, b: undefined}, {b: 5, a: 6}]}",
      "o", "native");
  expect_same("var o = {x: {a: 1, b: 2}, s: Symbol(), y: {b: undefined, a: {x: () => 1, b: 3}}, b: 7}", "o", "native");
  expect_same(
      "var o = {}; for (var i = 0; i < 40; i++) o['k' + (i % 20)] = {['k' + ((i + 1) % 20)]: i % 3 ? i : undefined}",
      "[o, o]", "native");
  expect_same("var o = {'\\u00e9\\n\"': 1, x: {'\\u00e9\\n\"': 2}, '0': {'0': 3}}", "o", "native");
}

TEST_P(JsonStringifyTest, ToJSONFallsBackEverywhere) {
  expect_same("var o = {a: 1, toJSON() { return 5; }}", "o", "fallback");
  expect_same("var o = {a: {b: 1}}; Object.defineProperty(o.a, 'toJSON', {value: function (k) { return 'key ' + k; }})",
              "o", "fallback");
  expect_same("var o = [1, 2]; o.toJSON = function () { return 'arr'; }", "[o]", "fallback");
  expect_same("var o = {f: function () {}}; o.f.toJSON = function () { return 'fn'; }", "o", "fallback");
  // Added to a prototype after the first (fast) call, then removed again.
  expect_same("", "{a: [1]}", "native");
  expect_same("Object.prototype.toJSON = function () { return 'op'; }", "{a: [1]}", "fallback");
  expect_same("delete Object.prototype.toJSON", "{a: [1]}", "native");
  expect_same("Array.prototype.toJSON = function () { return 'ap'; }", "{a: [1]}", "fallback");
  expect_same("delete Array.prototype.toJSON", "{a: [1]}", "native");
  expect_same("Function.prototype.toJSON = function () { return 'fp'; }", "{a: function () {}}", "fallback");
  expect_same("delete Function.prototype.toJSON", "{a: function () {}}", "native");
  // A toJSON getter on a prototype runs once.
  EXPECT_EQ(eval("var n = 0; Object.defineProperty(Object.prototype, 'toJSON', {get() { n++; return undefined; },"
                 "configurable: true});"
                 "var r = JSON.stringify({a: 1}); delete Object.prototype.toJSON; r + ' ' + n"),
            R"({"a":1} 1)");  // QuickJS's one lookup (on {a: 1}), none by the fast path
  // A prototype chain changed under Array.prototype.
  expect_same("Object.setPrototypeOf(Array.prototype, {toJSON() { return 'x'; }})", "[[1]]", "fallback");
}

TEST_P(JsonStringifyTest, GettersRunOnceThroughQuickJS) {
  EXPECT_EQ(eval("var n = 0; var o = {a: 1, get b() { n++; return n; }, c: 3};"
                 "JSON.stringify(o) + ' ' + n"),
            R"({"a":1,"b":1,"c":3} 1)");
  EXPECT_EQ(
      eval("var n = 0; var a = [1, 2]; Object.defineProperty(a, 1, {get() { n++; return 'g'; }, enumerable: true});"
           "JSON.stringify({x: a}) + ' ' + n"),
      R"({"x":[1,"g"]} 1)");
  // A non-enumerable getter is never read: the fast path may take the object.
  expect_same("var o = {a: 1}; Object.defineProperty(o, 'g', {get() { return 2; }})", "o", "native");
  EXPECT_EQ(eval("var n = 0; var o = {a: 1}; Object.defineProperty(o, 'g', {get() { n++; return 2; }});"
                 "JSON.stringify(o) + ' ' + n"),
            R"({"a":1} 0)");
  expect_same("var o = {set s(v) {}}", "o", "fallback");
}

TEST_P(JsonStringifyTest, ProxyTrapsRunAsInQuickJS) {
  const char* make =
      "var log = [];"
      "function mk() { return {v: new Proxy({a: 1, b: [2]}, {"
      "  get(t, k, r) { log.push('get ' + String(k)); return Reflect.get(t, k, r); },"
      "  ownKeys(t) { log.push('ownKeys'); return Reflect.ownKeys(t); },"
      "  getOwnPropertyDescriptor(t, k) { log.push('gopd ' + String(k)); return Reflect.getOwnPropertyDescriptor(t, "
      "k); },"
      "  getPrototypeOf(t) { log.push('proto'); return Reflect.getPrototypeOf(t); }})}; }";
  EXPECT_EQ(
      eval(std::string(make) +
           "; var a = JSON.stringify(mk()), la = log.join(); log = [];"
           "var b = original(mk()), lb = log.join(); a === b && la === lb ? 'same ' + a + ' ' + la : a + la + b + lb"),
      "same {\"v\":{\"a\":1,\"b\":[2]}} get toJSON,ownKeys,gopd a,gopd b,get a,get b");
  // (the log above is QuickJS's own sequence: the fast path gave up without a trap)
  expect_same("var p = new Proxy([1, 2], {})", "p", "fallback");
  expect_same("var p = new Proxy(function () {}, {})", "{f: p}", "fallback");
}

TEST_P(JsonStringifyTest, CyclesAndDepthThrowQuickJSsErrors) {
  expect_same("var a = {x: 1}; a.self = a", "a", "fallback");
  expect_same("var a = [1]; a.push({in: a})", "a", "fallback");
  EXPECT_EQ(eval("var a = {}; a.b = {c: a}; try { JSON.stringify(a); 'no' } catch (e) { e.name + ': ' + e.message }"),
            "TypeError: circular reference");
  expect_same("var d = 1; for (var i = 0; i < 32; i++) d = [d]", "d", "native");
  expect_same("var d = 1; for (var i = 0; i < 33; i++) d = [d]", "d", "fallback");
  expect_same("var d = {}; for (var i = 0; i < 300; i++) d = {d: d}", "d", "fallback");
}

TEST_P(JsonStringifyTest, BigIntThrowsQuickJSsTypeError) {
  expect_same("", "{a: 1n}", "fallback");
  expect_same("", "[2n ** 100n]", "fallback");
  EXPECT_EQ(eval("try { JSON.stringify({a: 1n}); 'no' } catch (e) { e.name + ': ' + e.message }"),
            "TypeError: Do not know how to serialize a BigInt");
  expect_same("BigInt.prototype.toJSON = function () { return String(this); }", "{a: 1n}", "fallback");
  eval("delete BigInt.prototype.toJSON");
}

TEST_P(JsonStringifyTest, ReplacerAndSpaceGoToQuickJS) {
  expect_same("", "{a: 1, b: [2]}, function (k, v) { return typeof v === 'number' ? v * 2 : v; }", "fallback");
  expect_same("", "{a: 1, b: 2, c: {a: 3}}, ['a', 'c']", "fallback");
  expect_same("", "{a: 1, b: [2]}, null, 2", "fallback");
  expect_same("", "{a: 1, b: [2]}, null, '--'", "fallback");
  expect_same("", "{a: 1, b: [2]}, undefined, new Number(3)", "fallback");
  expect_same("", "{a: 1}, null", "native");
  expect_same("", "{a: 1}, undefined, undefined", "native");
}

TEST_P(JsonStringifyTest, OtherObjectsGoToQuickJS) {
  for (const char* v : {"new Date(0)",
                        "{d: new Date(86400000)}",
                        "new String('s')",
                        "[new Number(1.5)]",
                        "{b: new Boolean(false)}",
                        "Object(Symbol())",
                        "[1, , 3]",
                        "new Array(3)",
                        "Object.create(null)",
                        "{o: Object.create({inherited: 1})}",
                        "/re/g",
                        "new Error('e')",
                        "new Map([[1, 2]])",
                        "(function () { return arguments; })(1, 2)",
                        "new Uint8Array([1, 2])",
                        "Object.create(Object.prototype, {x: {get() { return 1; }, enumerable: true}})",
                        "Object.prototype",
                        "Array.prototype",
                        "(async function () {})",
                        "{g: function* () {}}",
                        "{b: (function () {}).bind(null)}"})
    expect_same("", v, "fallback");
  expect_same("class A { constructor() { this.x = 1; } }", "new A()", "fallback");
  expect_same("class B extends Array {}", "B.from([1, 2])", "fallback");
  expect_same("var o = Object.create(null); o.a = 1", "{o: o}", "fallback");
  // A hole reads the prototype chain: QuickJS's path sees Array.prototype[1].
  EXPECT_EQ(eval("Array.prototype[1] = 'p'; var r = JSON.stringify([0, , 2]); delete Array.prototype[1]; r"),
            R"([0,"p",2])");
  // Extra non-index properties of an array are not serialized (native).
  expect_same("var a = [1, 2]; a.extra = 3", "a", "native");
  expect_same("var a = [1, 2]; Object.freeze(a)", "a", "native");
}

TEST_P(JsonStringifyTest, GlobalObjectAgrees) {
  EXPECT_EQ(eval("same(globalThis) + same({g: globalThis})"), "");
}

TEST(JsonStringifyFast, ReportsWhatItDid) {
  Runtime rt;
  JSContext* ctx = rt.ctx();
  std::string out;
  Value obj(ctx, JS_NewObject(ctx));
  JS_SetPropertyStr(ctx, obj.get(), "k", JS_NewString(ctx, "v\n"));
  EXPECT_EQ(json_stringify_fast(ctx, obj.get(), out), FastStringify::kText);
  EXPECT_EQ(out, "{\"k\":\"v\\n\"}");
  out.clear();
  EXPECT_EQ(json_stringify_fast(ctx, JS_UNDEFINED, out), FastStringify::kUndefined);
  Value big(ctx, JS_NewBigInt64(ctx, 1));
  EXPECT_EQ(json_stringify_fast(ctx, big.get(), out), FastStringify::kNotHandled);
  EXPECT_FALSE(JS_HasException(ctx));
}

TEST(JsonStringifyFast, LazyRuntimeInstallsJSONOnFirstUse) {
  Runtime rt(0, 0, /*lazy_intrinsics=*/true);
  auto eval = [&](const char* src) {
    Value v(rt.ctx(), JS_Eval(rt.ctx(), src, std::strlen(src), "lazy.js", 0));
    EXPECT_FALSE(v.is_exception()) << take_exception(rt.ctx());
    return to_string(rt.ctx(), v.get());
  };
  // Scripts that never use JSON do not pay for the object.
  EXPECT_EQ(eval("Object.getOwnPropertyNames(globalThis).includes('JSON')"), "false");
  std::uint64_t n0 = json_stringify_counts().native;
  EXPECT_EQ(
      eval("typeof JSON.parse + JSON.stringify({a: [1]}) + Object.getOwnPropertyNames(globalThis).includes('JSON')"),
      "function{\"a\":[1]}true");
  EXPECT_EQ(json_stringify_counts().native - n0, 1u);
}

TEST(JsonStringifyFast, InstallIsIdempotentAndCostsNoObject) {
  Runtime rt;
  JSContext* ctx = rt.ctx();
  JSMemoryUsage before;
  JS_ComputeMemoryUsage(rt.rt(), &before);
  EXPECT_TRUE(install_json_stringify(ctx));  // a second time: the same function replaced again
  JSMemoryUsage after;
  JS_ComputeMemoryUsage(rt.rt(), &after);
  EXPECT_EQ(after.obj_count, before.obj_count);
}

}  // namespace
}  // namespace herd::js
