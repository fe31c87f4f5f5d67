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

bool buffer_bytes(JSContext* ctx, JSValueConst v, std::string* out) {
  if (binary_bytes(ctx, v, out)) return true;
  if (!JS_IsObject(v)) return false;
  // A DataView: its window on the underlying buffer.
  JSValue ctor = JS_GetPropertyStr(ctx, v, "constructor");
  JSValue name = get_prop(ctx, ctor, "name");
  bool is_view = JS_IsString(name) && js::to_string(ctx, name) == "DataView";
  JS_FreeValue(ctx, name);
  JS_FreeValue(ctx, ctor);
  if (!is_view) {
    if (JS_HasException(ctx)) JS_FreeValue(ctx, JS_GetException(ctx));
    return false;
  }
  JSValue buf = JS_GetPropertyStr(ctx, v, "buffer");
  JSValue offv = JS_GetPropertyStr(ctx, v, "byteOffset"), lenv = JS_GetPropertyStr(ctx, v, "byteLength");
  int64_t off = 0, len = 0;
  size_t size = 0;
  uint8_t* p = JS_GetArrayBuffer(ctx, &size, buf);
  bool ok = p && JS_ToInt64(ctx, &off, offv) == 0 && JS_ToInt64(ctx, &len, lenv) == 0 && off >= 0 && len >= 0 &&
            static_cast<size_t>(off + len) <= size;
  if (ok) out->assign(reinterpret_cast<char*>(p) + off, static_cast<size_t>(len));
  JS_FreeValue(ctx, buf);
  JS_FreeValue(ctx, offv);
  JS_FreeValue(ctx, lenv);
  if (JS_HasException(ctx)) JS_FreeValue(ctx, JS_GetException(ctx));
  return ok;
}

JSValue get_prop(JSContext* ctx, JSValueConst obj, const char* name) {
  if (!JS_IsObject(obj)) return JS_UNDEFINED;
  return JS_GetPropertyStr(ctx, obj, name);
}

}  // namespace herd::k6
