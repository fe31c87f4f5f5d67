// The global JSON.parse replaced by a native function over js::parse_json.
#include "js/json_parse.h"
#include "js/runtime.h"

#include <cstddef>

namespace herd::js {

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
  Value json(ctx, JS_UNDEFINED), original(ctx, JS_UNDEFINED);
  if (!json_builtin(ctx, "parse", &json, &original)) return false;
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
