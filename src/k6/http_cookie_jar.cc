#include "k6/http_cookie_jar.h"

#include <cctype>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "js/runtime.h"
#include "k6/natives_util.h"

namespace herd::k6 {

namespace {

JSClassID jar_class_id = 0;

/// What a CookieJar object holds: its jar (for the VU's jar, a non-owning alias).
struct JarData {
  std::shared_ptr<CookieJar> jar;
};

void jar_finalizer(JSRuntime*, JSValue val) {
  delete static_cast<JarData*>(JS_GetOpaque(val, jar_class_id));
}

CookieJar* this_jar(JSContext* ctx, JSValueConst this_val) {
  auto* d = static_cast<JarData*>(JS_GetOpaque(this_val, jar_class_id));
  if (!d) JS_ThrowTypeError(ctx, "CookieJar method called on an object that is not a CookieJar");
  return d ? d->jar.get() : nullptr;
}

std::int64_t now_s(JSContext* ctx) {
  return vu_of(ctx)->now_us() / 1000000;
}

// Values of an options object: false when `key` is absent or undefined.
bool opt(JSContext* ctx, JSValueConst opts, const char* key, js::Value* out) {
  *out = js::Value(ctx, JS_GetPropertyStr(ctx, opts, key));
  return !JS_IsUndefined(out->get()) && !JS_IsNull(out->get());
}

bool valid_url(const std::string& url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

JSValue n_cookies_for_url(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  CookieJar* jar = this_jar(ctx, this_val);
  if (!jar) return JS_EXCEPTION;
  std::string url = argc > 0 ? js::to_string(ctx, argv[0]) : "";
  if (!valid_url(url)) return JS_ThrowTypeError(ctx, "cookiesForURL: invalid URL \"%s\"", url.c_str());
  JSValue o = JS_NewObject(ctx);
  std::map<std::string, std::vector<std::string>> by_name;
  for (auto& c : jar->for_url(url, now_s(ctx))) by_name[c.name].push_back(c.value);
  for (auto& [name, values] : by_name) {
    JSValue arr = JS_NewArray(ctx);
    for (uint32_t i = 0; i < values.size(); i++) JS_SetPropertyUint32(ctx, arr, i, new_string(ctx, values[i]));
    JS_SetPropertyStr(ctx, o, name.c_str(), arr);
  }
  return o;
}

// jar.set(url, name, value, {domain, path, expires, max_age, secure, http_only}), as k6 does it
// through Go's cookie jar: the path defaults to the URL's directory, a domain must be the URL's
// host or a parent of it (else the cookie is dropped), max_age < 0 deletes.
JSValue n_set(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  CookieJar* jar = this_jar(ctx, this_val);
  if (!jar) return JS_EXCEPTION;
  if (argc < 3) return JS_ThrowTypeError(ctx, "CookieJar.set(url, name, value, [options]) needs 3 arguments");
  std::string url = js::to_string(ctx, argv[0]);
  if (!valid_url(url)) return JS_ThrowTypeError(ctx, "CookieJar.set: invalid URL \"%s\"", url.c_str());
  UrlParts u = split_url(url);
  Cookie c;
  c.name = js::to_string(ctx, argv[1]);
  c.value = js::to_string(ctx, argv[2]);
  c.domain = u.host;
  c.path = cookie_default_path(u.path);
  std::int64_t now = now_s(ctx);
  if (argc > 3 && JS_IsObject(argv[3])) {
    js::Value v;
    if (opt(ctx, argv[3], "domain", &v)) {
      std::string d = js::to_string(ctx, v.get());
      if (!d.empty() && d[0] == '.') d.erase(0, 1);
      for (auto& ch : d) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (!d.empty()) {
        if (!cookie_domain_allowed(u.host, d)) return JS_UNDEFINED;  // as Go's jar: silently not stored
        c.domain = d;
        c.host_only = false;
      }
    }
    if (opt(ctx, argv[3], "path", &v)) {
      std::string p = js::to_string(ctx, v.get());
      if (!p.empty() && p[0] == '/') c.path = p;
    }
    if (opt(ctx, argv[3], "secure", &v)) {
      c.secure = JS_ToBool(ctx, v.get()) > 0;
    }
    if (opt(ctx, argv[3], "http_only", &v)) {
      c.http_only = JS_ToBool(ctx, v.get()) > 0;
    }
    if (opt(ctx, argv[3], "expires", &v)) {
      std::string e = js::to_string(ctx, v.get());
      if (!e.empty()) {
        // RFC 1123 as Go parses it: a zone abbreviation it does not know counts as UTC
        std::tm tm{};
        const char* end = strptime(e.c_str(), "%a, %d %b %Y %H:%M:%S ", &tm);
        bool zone = end && *end != '\0';
        for (const char* p = end; zone && *p; p++) zone = std::isalpha(static_cast<unsigned char>(*p)) != 0;
        if (!zone)
          return JS_ThrowTypeError(ctx,
                                   "CookieJar.set: unable to parse \"expires\" date string \"%s\" (RFC 1123, e.g. "
                                   "\"Mon, 02 Jan 2006 15:04:05 GMT\")",
                                   e.c_str());
        std::int64_t t = static_cast<std::int64_t>(timegm(&tm));
        c.expires_unix = t <= 0 ? 1 : t;
      }
    }
    if (opt(ctx, argv[3], "max_age", &v)) {
      int64_t ma = 0;
      if (JS_ToInt64(ctx, &ma, v.get()) < 0) return JS_EXCEPTION;
      if (ma != 0) {
        c.max_age = ma;
        c.expires_unix = ma < 0 ? 1 : now + ma;
      }
    }
  }
  jar->store(c, now);
  return JS_UNDEFINED;
}

JSValue n_clear(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  CookieJar* jar = this_jar(ctx, this_val);
  if (!jar) return JS_EXCEPTION;
  std::string url = argc > 0 ? js::to_string(ctx, argv[0]) : "";
  if (!valid_url(url)) return JS_ThrowTypeError(ctx, "CookieJar.clear: invalid URL \"%s\"", url.c_str());
  jar->clear_url(url);
  return JS_UNDEFINED;
}

JSValue n_delete(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  CookieJar* jar = this_jar(ctx, this_val);
  if (!jar) return JS_EXCEPTION;
  if (argc < 2) return JS_ThrowTypeError(ctx, "CookieJar.delete(url, name) needs 2 arguments");
  std::string url = js::to_string(ctx, argv[0]);
  if (!valid_url(url)) return JS_ThrowTypeError(ctx, "CookieJar.delete: invalid URL \"%s\"", url.c_str());
  jar->remove(url, js::to_string(ctx, argv[1]));
  return JS_UNDEFINED;
}

JSValue new_jar_object(JSContext* ctx, std::shared_ptr<CookieJar> jar) {
  JSValue o = JS_NewObjectClass(ctx, static_cast<int>(jar_class_id));
  if (JS_IsException(o)) return o;
  JS_SetOpaque(o, new JarData{std::move(jar)});
  return o;
}

JSValue n_constructor(JSContext* ctx, JSValueConst new_target, int, JSValueConst*) {
  if (JS_IsUndefined(new_target)) return JS_ThrowTypeError(ctx, "http.CookieJar must be called with new");
  return new_jar_object(ctx, std::make_shared<CookieJar>());
}

}  // namespace

JSValue install_cookie_jar_class(JSContext* ctx) {
  static std::once_flag once;
  std::call_once(once, [] { JS_NewClassID(&jar_class_id); });
  JSRuntime* rt = JS_GetRuntime(ctx);
  if (!JS_IsRegisteredClass(rt, jar_class_id)) {
    JSClassDef def{};
    def.class_name = "CookieJar";
    def.finalizer = jar_finalizer;
    JS_NewClass(rt, jar_class_id, &def);
  }
  JSValue proto = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, proto, "cookiesForURL", JS_NewCFunction(ctx, n_cookies_for_url, "cookiesForURL", 1));
  JS_SetPropertyStr(ctx, proto, "set", JS_NewCFunction(ctx, n_set, "set", 4));
  JS_SetPropertyStr(ctx, proto, "clear", JS_NewCFunction(ctx, n_clear, "clear", 1));
  JS_SetPropertyStr(ctx, proto, "delete", JS_NewCFunction(ctx, n_delete, "delete", 2));
  JSValue ctor = JS_NewCFunction2(ctx, n_constructor, "CookieJar", 0, JS_CFUNC_constructor, 0);
  JS_SetConstructor(ctx, ctor, proto);
  JS_SetClassProto(ctx, jar_class_id, proto);  // takes `proto`
  return ctor;
}

JSValue http_cookie_jar(JSContext* ctx, JSValueConst, int, JSValueConst*) {
  VuState* vu = vu_of(ctx);
  if (vu->in_init) return JS_ThrowTypeError(ctx, "Making cookie jars in the init context is not supported");
  return new_jar_object(ctx, std::shared_ptr<CookieJar>(std::shared_ptr<CookieJar>(), &vu->jar));
}

std::shared_ptr<CookieJar> cookie_jar_of(JSContext*, JSValueConst v) {
  if (jar_class_id == 0 || !JS_IsObject(v)) return nullptr;
  auto* d = static_cast<JarData*>(JS_GetOpaque(v, jar_class_id));
  return d ? d->jar : nullptr;
}

}  // namespace herd::k6
