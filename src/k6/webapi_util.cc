#include "k6/webapi_util.h"

#include <utility>

#include "js/runtime.h"
#include "k6/natives_util.h"

namespace herd::k6 {

JSValue settle_promise(JSContext* ctx, JSValue result) {
  VuState* vu = vu_of(ctx);
  if (JS_IsException(result) && vu && vu->interrupted) return result;
  js::Value owned(ctx, result);
  JSValue funcs[2];
  JSValue promise = JS_NewPromiseCapability(ctx, funcs);
  if (JS_IsException(promise)) return promise;
  js::Value resolve(ctx, funcs[0]), reject(ctx, funcs[1]);
  bool ok = !owned.is_exception();
  js::Value arg = ok ? std::move(owned) : js::Value(ctx, JS_GetException(ctx));
  JSValue argv = arg.get();
  js::Value called(ctx, JS_Call(ctx, ok ? resolve.get() : reject.get(), JS_UNDEFINED, 1, &argv));
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
  bool is_view = false;
  {
    js::Value ctor(ctx, JS_GetPropertyStr(ctx, v, "constructor"));
    js::Value name(ctx, get_prop(ctx, ctor.get(), "name"));
    is_view = JS_IsString(name.get()) && js::to_string(ctx, name.get()) == "DataView";
  }
  if (!is_view) {
    if (JS_HasException(ctx)) js::discard_exception(ctx);
    return false;
  }
  bool ok = false;
  {
    js::Value buf(ctx, JS_GetPropertyStr(ctx, v, "buffer"));
    js::Value offv(ctx, JS_GetPropertyStr(ctx, v, "byteOffset"));
    js::Value lenv(ctx, JS_GetPropertyStr(ctx, v, "byteLength"));
    int64_t off = 0, len = 0;
    size_t size = 0;
    uint8_t* p = JS_GetArrayBuffer(ctx, &size, buf.get());
    ok = p && JS_ToInt64(ctx, &off, offv.get()) == 0 && JS_ToInt64(ctx, &len, lenv.get()) == 0 && off >= 0 &&
         len >= 0 && static_cast<size_t>(off + len) <= size;
    if (ok) out->assign(reinterpret_cast<char*>(p) + off, static_cast<size_t>(len));
  }
  if (JS_HasException(ctx)) js::discard_exception(ctx);
  return ok;
}

JSValue get_prop(JSContext* ctx, JSValueConst obj, const char* name) {
  if (!JS_IsObject(obj)) return JS_UNDEFINED;
  return JS_GetPropertyStr(ctx, obj, name);
}

}  // namespace herd::k6
