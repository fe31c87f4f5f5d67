// The global JSON.parse that js::Runtime installs (install_json_parse) against
// QuickJS's own, in a context made by QuickJS alone: the same function shape,
// and the same result or exception for every call, reviver or not.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "js/json_parse.h"
#include "js/runtime.h"

namespace herd::js {
namespace {

/// `src`'s completion value as text, or "throws Name: message".
std::string eval_text(JSContext* ctx, const std::string& src) {
  JSValue v = JS_Eval(ctx, src.c_str(), src.size(), "t.js", 0);
  if (JS_IsException(v)) return "throws " + take_exception(ctx);
  std::string s = to_string(ctx, v);
  JS_FreeValue(ctx, v);
  return s;
}

/// What a JSON.parse call gives, described so that values, key order, -0 and
/// errors all show.
std::string describe(const std::string& call) {
  return "(function () { try { var v = " + call +
         "; return typeof v + ' ' + JSON.stringify(v) + ' ' + Object.is(v, -0) + ' ' +"
         " (v && typeof v === 'object' ? Object.keys(v).join('|') + ' ' + Object.getPrototypeOf(v) : '');"
         " } catch (e) { return 'threw ' + e.name + ': ' + e.message; } })()";
}

class JsonParseGlobalTest : public ::testing::TestWithParam<bool> {
 protected:
  JsonParseGlobalTest() : herd_(0, 0, GetParam()) {
    quickjs_rt_ = JS_NewRuntime();
    quickjs_ = JS_NewContext(quickjs_rt_);
  }
  ~JsonParseGlobalTest() override {
    JS_FreeContext(quickjs_);
    JS_FreeRuntime(quickjs_rt_);
  }
  std::string herd(const std::string& src) { return eval_text(herd_.ctx(), src); }
  std::string quickjs(const std::string& src) { return eval_text(quickjs_, src); }

  Runtime herd_;
  JSRuntime* quickjs_rt_;
  JSContext* quickjs_;
};

TEST_P(JsonParseGlobalTest, TheFunctionLooksLikeQuickJSs) {
  // Installed: a reviver-less call of plain JSON goes through herd's parser.
  std::uint64_t before = json_parse_native_count();
  EXPECT_EQ(herd("JSON.parse('{\"a\":[1]}').a[0]"), "1");
  EXPECT_EQ(json_parse_native_count(), before + 1);
  const std::string attrs = "[d.value, d.writable, d.enumerable, d.configurable].join()";
  for (const std::string& probe : std::vector<std::string>{
           "JSON.parse.name + ' ' + JSON.parse.length",
           "Object.getOwnPropertyNames(JSON.parse).join()",
           "Object.getOwnPropertyNames(JSON).join()",
           "var d = Object.getOwnPropertyDescriptor(JSON, 'parse'); " + attrs,
           "var d = Object.getOwnPropertyDescriptor(JSON.parse, 'name'); " + attrs,
           "var d = Object.getOwnPropertyDescriptor(JSON.parse, 'length'); " + attrs,
           "Object.getPrototypeOf(JSON.parse) === Function.prototype",
           "String(JSON.parse)",
           "'prototype' in JSON.parse",
           "try { new JSON.parse('1'); 'constructed' } catch (e) { e.name + ': ' + e.message }",
       })
    EXPECT_EQ(herd(probe), quickjs(probe)) << probe;
}

TEST_P(JsonParseGlobalTest, EveryCallGivesQuickJSsResultOrError) {
  for (const char* call : {
           R"(JSON.parse('{"a":1,"b":[true,null,-0,1e400,"x\\u00e9"],"__proto__":{"c":2},"a":3}'))",
           R"(JSON.parse(' [1, 2.5, -0, {"10":1,"2":2,"x":3}] '))",
           R"(JSON.parse('"\\ud800"'))",
           R"(JSON.parse('"é\u2028"'))",
           "JSON.parse('-0')",
           "JSON.parse(123)",
           "JSON.parse(null)",
           "JSON.parse(true)",
           "JSON.parse()",
           "JSON.parse(undefined)",
           "JSON.parse({ toString() { return '[7]'; } })",
           "JSON.parse({ toString() { throw new RangeError('from toString'); } })",
           "JSON.parse(Symbol('s'))",
           "JSON.parse('{\"a\":1,}')",
           "JSON.parse('x')",
           "JSON.parse('[1')",
           "JSON.parse('1 2')",
           "JSON.parse('\\f1')",
           "JSON.parse('[1]', 5)",
           "JSON.parse.call(null, '[1]')",
           R"(JSON.parse('{"a":[1,{"b":2}],"c":"d"}', (k, v) => typeof v === 'number' ? v * 2 : v))",
           R"(JSON.parse('{"a":1,"b":2}', function (k, v) { return k === 'a' ? undefined : v; }))",
           R"(JSON.parse('{"a":1}', () => { throw new TypeError('from reviver'); }))",
           R"(JSON.parse('[1,2,3]', function (k, v) { return this.length; }))",
       })
    EXPECT_EQ(herd(describe(call)), quickjs(describe(call))) << call;
}

TEST_P(JsonParseGlobalTest, AScriptMayReplaceOrDeleteIt) {
  const char* src =
      "var orig = JSON.parse; JSON.parse = (t) => 'mine:' + t; var a = JSON.parse('1');"
      "JSON.parse = orig; var b = orig('[2]')[0]; delete JSON.parse; a + ' ' + b + ' ' + typeof JSON.parse";
  EXPECT_EQ(herd(src), quickjs(src));
}

INSTANTIATE_TEST_SUITE_P(LazyAndPlainContexts, JsonParseGlobalTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Lazy" : "Plain"; });

}  // namespace
}  // namespace herd::js
