#include "k6/webapi_util.h"

#include "js/runtime.h"
#include "k6/natives_util.h"

namespace herd::k6 {

JSValue settle_promise(JSContext* ctx, JSValue result) {
  VuState* vu = vu_of(ctx);
  if (JS_IsException(result) && vu && vu->interrupted) return result;
  JSValue funcs[2];
  JSValue promise = JS_NewPromiseCapability(ctx, funcs);
  if (JS_IsException(promise)) {
    JS_FreeValue(ctx, result);
    return promise;
  }
  bool ok = !JS_IsException(result);
  JSValue arg = ok ? result : JS_GetException(ctx);
  JSValue r = JS_Call(ctx, funcs[ok ? 0 : 1], JS_UNDEFINED, 1, &arg);
  JS_FreeValue(ctx, r);
  JS_FreeValue(ctx, arg);
  JS_FreeValue(ctx, funcs[0]);
  JS_FreeValue(ctx, funcs[1]);
  return promise;
}

JSValue throw_dom_error(JSContext* ctx, const char* name, const std::string& message) {
  JSValue err = JS_NewError(ctx);
  JS_DefinePropertyValueStr(ctx, err, "name", JS_NewString(ctx, name), JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
  JS_DefinePropertyValueStr(ctx, err, "message", new_string(ctx, message), JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
  return JS_Throw(ctx, err);
}

JSValue new_array_buffer(JSContext* ctx, std::string_view bytes) {
  js::ensure_typed_arrays(ctx);
  return JS_NewArrayBufferCopy(ctx, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

bool buffer_source(JSContext* ctx, JSValueConst v, const char* what, std::string* out) {
  if (binary_bytes(ctx, v, out)) return true;
  JS_ThrowTypeError(ctx, "%s must be an ArrayBuffer, a typed array or a DataView", what);
  return false;
}

JSValue get_prop(JSContext* ctx, JSValueConst obj, const char* name) {
  if (!JS_IsObject(obj)) return JS_UNDEFINED;
  return JS_GetPropertyStr(ctx, obj, name);
}

}  // namespace herd::k6
