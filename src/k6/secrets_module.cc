// "k6/secrets": get(key) and source(name).get(key) over the run's
// --secret-source sources (k6/secrets.h). Each value handed to the script is
// registered with the logger, which then writes ***SECRET_REDACTED*** in its place.
#include "k6/natives_util.h"
#include "k6/secrets.h"
#include "k6/webapi.h"
#include "k6/webapi_util.h"

namespace herd::k6 {

namespace {

/// The secret `key` from `source` (nullptr = the default source) as a settled promise.
JSValue secret_promise(JSContext* ctx, const std::string* source, JSValueConst key_arg) {
  VuState* vu = vu_of(ctx);
  if (!JS_IsString(key_arg))
    return settle_promise(ctx, JS_ThrowTypeError(ctx, "secrets: get(key) needs the secret's name as a string"));
  std::string key = js::to_string(ctx, key_arg);
  if (!vu || !vu->run || !vu->run->secrets)
    return settle_promise(ctx, JS_ThrowTypeError(ctx, "secrets: no secret source is configured (use --secret-source)"));
  try {
    const std::string& value = source ? vu->run->secrets->get_from(*source, key) : vu->run->secrets->get(key);
    if (vu->run->logger) vu->run->logger->add_secret(value);
    return settle_promise(ctx, new_string(ctx, value));
  } catch (const SecretError& e) {
    return settle_promise(ctx, JS_ThrowTypeError(ctx, "secrets: %s", e.what()));
  }
}

JSValue n_get(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  return secret_promise(ctx, nullptr, argc > 0 ? argv[0] : JS_UNDEFINED);
}

JSValue n_source_get(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv, int, JSValue* data) {
  std::string source = js::to_string(ctx, data[0]);
  return secret_promise(ctx, &source, argc > 0 ? argv[0] : JS_UNDEFINED);
}

JSValue n_source(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  if (argc < 1 || !JS_IsString(argv[0])) return JS_ThrowTypeError(ctx, "secrets: source(name) needs a name");
  std::string name = js::to_string(ctx, argv[0]);
  VuState* vu = vu_of(ctx);
  if (!vu || !vu->run || !vu->run->secrets || !vu->run->secrets->has_source(name))
    return JS_ThrowTypeError(ctx, "secrets: no secret source named \"%s\" (name one with --secret-source ...,name=%s)",
                             name.c_str(), name.c_str());
  JSValue o = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, o, "get", JS_NewCFunctionData(ctx, n_source_get, 1, 0, 1, argv));  // dups argv[0]
  return o;
}

int secrets_init(JSContext* ctx, JSModuleDef* m) {
  JSValue def = JS_NewObject(ctx);
  JSValue get = JS_NewCFunction(ctx, n_get, "get", 1), source = JS_NewCFunction(ctx, n_source, "source", 1);
  JS_SetPropertyStr(ctx, def, "get", JS_DupValue(ctx, get));
  JS_SetPropertyStr(ctx, def, "source", JS_DupValue(ctx, source));
  JS_SetModuleExport(ctx, m, "get", get);
  JS_SetModuleExport(ctx, m, "source", source);
  JS_SetModuleExport(ctx, m, "default", def);
  return 0;
}

}  // namespace

JSModuleDef* secrets_native_module(JSContext* ctx, const char* name) {
  JSModuleDef* m = JS_NewCModule(ctx, name, secrets_init);
  if (!m) return nullptr;
  JS_AddModuleExport(ctx, m, "get");
  JS_AddModuleExport(ctx, m, "source");
  JS_AddModuleExport(ctx, m, "default");
  return m;
}

}  // namespace herd::k6
