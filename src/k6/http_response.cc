// k6/http's Response object: status, error_code and body set when it is made,
// the other fields (headers, timings, cookies, request, ...) built from the
// flight when first read, by getters on Response.prototype.
#include <cctype>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "js/runtime.h"
#include "k6/http_flight.h"
#include "k6/natives_util.h"
#include "k6/request_path.h"

namespace herd::k6 {

namespace {

std::string canonical_header(const std::string& k) {
  std::string out = k;
  bool up = true;
  for (auto& c : out) {
    c = up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
           : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    up = c == '-';
  }
  return out;
}

enum Atom : std::size_t {
  kAStatus,
  kAStatusText,
  kAProto,
  kAUrl,
  kARemoteIp,
  kARemotePort,
  kAError,
  kAErrorCode,
  kATlsVersion,
  kABody,
  kAHeaders,
  kABlocked,
  kAConnecting,
  kATlsHandshaking,
  kASending,
  kAWaiting,
  kAReceiving,
  kADuration,
  kATimings,
  kACookies,
  kARequest,
  kAMethod,
  kATlsCipherSuite,
  kAOcsp,
  kACount
};
const char* const kAtomNames[kACount] = {
    "status",     "status_text",     "proto",       "url",     "remote_ip",        "remote_port",
    "error",      "error_code",      "tls_version", "body",    "headers",          "blocked",
    "connecting", "tls_handshaking", "sending",     "waiting", "receiving",        "duration",
    "timings",    "cookies",         "request",     "method",  "tls_cipher_suite", "ocsp"};

JSAtom atom_at(JSContext* ctx, VuState* vu, std::size_t i);

void put(JSContext* ctx, VuState* vu, JSValue obj, Atom a, JSValue v) {
  JS_DefinePropertyValue(ctx, obj, atom_at(ctx, vu, a), v, JS_PROP_C_W_E);
}

// Repeated names are joined with ", " in first-seen order; linear in the header count.
JSValue build_headers(JSContext* ctx, const http::Headers& headers) {
  JSValue h = JS_NewObject(ctx);
  std::vector<std::pair<std::string, std::string>> hv;
  hv.reserve(headers.size());
  std::unordered_map<std::string, std::size_t> index;  // canonical name -> position in hv
  index.reserve(headers.size());
  for (auto& [k, v] : headers) {
    std::string ck = canonical_header(k);
    auto [it, fresh] = index.try_emplace(ck, hv.size());
    if (fresh) {
      hv.emplace_back(std::move(ck), v);
    } else {
      std::string& joined = hv[it->second].second;
      joined.append(", ").append(v);
    }
  }
  for (auto& [k, v] : hv) JS_SetPropertyStr(ctx, h, k.c_str(), new_string(ctx, v));
  return h;
}

// k6's res.ocsp: the stapled OCSP response's fields (unix seconds).
JSValue build_ocsp(JSContext* ctx, const http::Response& r) {
  static const http::OcspInfo kNone;  // no TLS: status ""
  const http::OcspInfo& o = r.ocsp ? *r.ocsp : kNone;
  JSValue v = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, v, "produced_at", JS_NewInt64(ctx, o.produced_at));
  JS_SetPropertyStr(ctx, v, "this_update", JS_NewInt64(ctx, o.this_update));
  JS_SetPropertyStr(ctx, v, "next_update", JS_NewInt64(ctx, o.next_update));
  JS_SetPropertyStr(ctx, v, "revoked_at", JS_NewInt64(ctx, o.revoked_at));
  JS_SetPropertyStr(ctx, v, "revocation_reason", new_string(ctx, o.revocation_reason));
  JS_SetPropertyStr(ctx, v, "status", new_string(ctx, o.status));
  return v;
}

// The timings object's shapes are kept (js/shape_keeper.h) once a VU first reads
// res.timings (a VU that never does pays nothing); the Response's own only in a
// busy VU (make_response): ~0.7 KB per VU.
JSValue build_timings(JSContext* ctx, VuState* vu, const http::Timings& t) {
  if (!vu->timings_shapes_kept) {
    vu->timings_shapes_kept = true;
    if (js::ShapeKeeper* k = js::shape_keeper(ctx)) {
      const JSAtom keys[] = {atom_at(ctx, vu, kABlocked),        atom_at(ctx, vu, kAConnecting),
                             atom_at(ctx, vu, kATlsHandshaking), atom_at(ctx, vu, kASending),
                             atom_at(ctx, vu, kAWaiting),        atom_at(ctx, vu, kAReceiving),
                             atom_at(ctx, vu, kADuration)};
      js::Value object_proto(ctx, JS_GetClassProto(ctx, js::ShapeKeeper::kClassObject));
      k->keep_now(ctx, object_proto.get(), js::ShapeKeeper::kClassObject, keys, 7);
    }
  }
  JSValue tm = JS_NewObject(ctx);
  put(ctx, vu, tm, kABlocked, JS_NewFloat64(ctx, t.blocked));
  put(ctx, vu, tm, kAConnecting, JS_NewFloat64(ctx, t.connecting));
  put(ctx, vu, tm, kATlsHandshaking, JS_NewFloat64(ctx, t.tls_handshaking));
  put(ctx, vu, tm, kASending, JS_NewFloat64(ctx, t.sending));
  put(ctx, vu, tm, kAWaiting, JS_NewFloat64(ctx, t.waiting));
  put(ctx, vu, tm, kAReceiving, JS_NewFloat64(ctx, t.receiving));
  put(ctx, vu, tm, kADuration, JS_NewFloat64(ctx, t.duration));
  return tm;
}

JSValue build_cookies(JSContext* ctx, const Flight& f) {
  JSValue cookies = JS_NewObject(ctx);
  std::map<std::string, std::vector<const Cookie*>> by_name;
  for (auto& c : f.set_cookies) by_name[c.name].push_back(&c);
  for (auto& [name, list] : by_name) {
    JSValue arr = JS_NewArray(ctx);
    for (uint32_t i = 0; i < list.size(); i++) {
      const Cookie& c = *list[i];
      JSValue co = JS_NewObject(ctx);
      JS_SetPropertyStr(ctx, co, "name", new_string(ctx, c.name));
      JS_SetPropertyStr(ctx, co, "value", new_string(ctx, c.value));
      JS_SetPropertyStr(ctx, co, "domain", new_string(ctx, c.domain));
      JS_SetPropertyStr(ctx, co, "path", new_string(ctx, c.path));
      JS_SetPropertyStr(ctx, co, "http_only", JS_NewBool(ctx, c.http_only));
      JS_SetPropertyStr(ctx, co, "secure", JS_NewBool(ctx, c.secure));
      JS_SetPropertyStr(ctx, co, "max_age", JS_NewInt64(ctx, c.max_age));
      JS_SetPropertyStr(ctx, co, "expires", JS_NewInt64(ctx, c.expires_unix * 1000));
      JS_SetPropertyUint32(ctx, arr, i, co);
    }
    JS_SetPropertyStr(ctx, cookies, name.c_str(), arr);
  }
  return cookies;
}

JSValue build_request(JSContext* ctx, VuState* vu, const Flight& f) {
  JSValue rq = JS_NewObject(ctx);
  put(ctx, vu, rq, kAMethod, new_string(ctx, f.current_method));
  put(ctx, vu, rq, kAUrl, new_string(ctx, f.current_url));
  put(ctx, vu, rq, kABody, new_string(ctx, f.spec.has_body ? f.spec.body : ""));
  JSValue rh = JS_NewObject(ctx);
  for (auto& [k, v] : f.spec.headers) {
    JSValue arr = JS_NewArray(ctx);
    JS_SetPropertyUint32(ctx, arr, 0, new_string(ctx, v));
    JS_SetPropertyStr(ctx, rh, canonical_header(k).c_str(), arr);
  }
  if (!f.sent_cookie_header.empty()) {
    JSValue arr = JS_NewArray(ctx);
    JS_SetPropertyUint32(ctx, arr, 0, new_string(ctx, f.sent_cookie_header));
    JS_SetPropertyStr(ctx, rh, "Cookie", arr);
  }
  put(ctx, vu, rq, kAHeaders, rh);
  return rq;
}

/// Lazily built Response fields; kLazyAtoms names each one's property.
enum LazyField {
  kLHeaders,
  kLTimings,
  kLCookies,
  kLRequest,
  kLRemoteIp,
  kLRemotePort,
  kLStatusText,
  kLProto,
  kLUrl,
  kLError,
  kLTlsVersion,
  kLTlsCipherSuite,
  kLOcsp
};
const Atom kLazyAtoms[] = {kAHeaders, kATimings, kACookies, kARequest,    kARemoteIp,       kARemotePort, kAStatusText,
                           kAProto,   kAUrl,     kAError,   kATlsVersion, kATlsCipherSuite, kAOcsp};

JSClassID response_class_id = 0;

/// What a Response object holds on the C++ side: the exchange it describes.
struct ResponseData {
  std::shared_ptr<Flight> flight;
  JSValue body = JS_UNDEFINED;  ///< the text body string res.body was set to (a reference held)
};

void response_finalizer(JSRuntime* rt, JSValue val) {
  auto* d = static_cast<ResponseData*>(JS_GetOpaque(val, response_class_id));
  if (d) JS_FreeValueRT(rt, d->body);
  delete d;
}

bool is_ascii(std::string_view s) {
  std::size_t i = 0;
  std::uint64_t any = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    any |= w;
  }
  for (; i < s.size(); i++) any |= static_cast<unsigned char>(s[i]);
  return (any & 0x8080808080808080ULL) == 0;
}

// JS_NewStringLen checks its input for UTF-8 a byte at a time (~4 instructions
// a byte: ~1.9k for bench/realistic.js's echoed body). An ASCII text is a
// Latin-1 string of the same characters, which JS_ReadObject makes with one
// copy: the text after the serialised form's header for a string of its length.
// That header is learnt once from JS_WriteObject("ab") ([version, 0 atoms, tag,
// LEB128 length * 2 (not wide)], then the bytes); where it does not have that
// layout (another QuickJS), or the text is not ASCII, JS_NewStringLen is used.
struct StringHeader {
  bool ok = false;
  std::uint8_t version = 0, tag = 0;
};

StringHeader learn_string_header(JSContext* ctx) {
  StringHeader h;
  JSValue ab = JS_NewStringLen(ctx, "ab", 2);
  std::size_t len = 0;
  std::uint8_t* buf = JS_WriteObject(ctx, &len, ab, 0);
  JS_FreeValue(ctx, ab);
  if (!buf) {
    js::discard_exception(ctx);
    return h;
  }
  if (len == 6 && buf[1] == 0 && buf[3] == 4 && buf[4] == 'a' && buf[5] == 'b') {
    // and it reads back as that string
    JSValue back = JS_ReadObject(ctx, buf, len, 0);
    const char* c = JS_IsString(back) ? JS_ToCString(ctx, back) : nullptr;
    if (c && std::strcmp(c, "ab") == 0) h = {true, buf[0], buf[2]};
    JS_FreeCString(ctx, c);
    JS_FreeValue(ctx, back);
    js::discard_exception(ctx);
  }
  js_free(ctx, buf);
  return h;
}

JSValue new_body_string(JSContext* ctx, const std::string& text) {
  static const StringHeader header = learn_string_header(ctx);
  constexpr std::size_t kMinBytes = 64;              // below: the header costs more than it saves
  constexpr std::size_t kMaxBytes = (1u << 30) - 1;  // QuickJS's longest string
  if (!header.ok || text.size() < kMinBytes || text.size() > kMaxBytes || !is_ascii(text)) return new_string(ctx, text);
  char head[3 + 5] = {static_cast<char>(header.version), 0, static_cast<char>(header.tag)};
  std::size_t n = 3;
  for (std::uint32_t len = static_cast<std::uint32_t>(text.size()) << 1;; len >>= 7) {  // LEB128; low bit 0: 8-bit
    if (len < 0x80) {
      head[n++] = static_cast<char>(len);
      break;
    }
    head[n++] = static_cast<char>((len & 0x7f) | 0x80);
  }
  thread_local std::string kept;  // the serialised form, its buffer reused up to 64 KiB
  std::string big;
  std::string& buf = text.size() <= 65536 ? kept : big;
  buf.assign(head, n).append(text);
  JSValue v = JS_ReadObject(ctx, reinterpret_cast<const std::uint8_t*>(buf.data()), buf.size(), 0);
  if (JS_IsString(v)) return v;
  JS_FreeValue(ctx, v);
  js::discard_exception(ctx);
  return new_string(ctx, text);
}

JSValue build_lazy(JSContext* ctx, VuState* vu, Flight& f, int field) {
  http::Response& r = f.final;
  switch (field) {
    case kLHeaders:
      return build_headers(ctx, r.headers);
    case kLTimings:
      return build_timings(ctx, vu, r.timings);
    case kLCookies:
      return build_cookies(ctx, f);
    case kLRequest:
      return build_request(ctx, vu, f);
    case kLRemoteIp:
      return new_string(ctx, r.remote_ip);
    case kLRemotePort:
      return JS_NewInt32(ctx, r.remote_port);
    case kLStatusText:
      return new_string(ctx, r.status_text);
    case kLProto:
      return new_string(ctx, r.proto);
    case kLUrl:
      return new_string(ctx, r.url);
    case kLError:
      return new_string(ctx, r.error);
    case kLTlsVersion:
      return new_string(ctx, r.tls_version);
    case kLTlsCipherSuite:
      return new_string(ctx, r.tls_cipher_suite);
    case kLOcsp:
      return build_ocsp(ctx, r);
    default:
      return new_string(ctx, "");
  }
}

// vu->atoms: the Response atoms (Atom), then the request path's (PropAtom).
const char* const kPropAtomNames[] = {
    "headers",          "tags",        "cookies", "timeout", "redirects", "responseType",
    "responseCallback", "compression", "auth",    "jar",     "__herdUrl", "body",
    "__json",           "__VU",        "__ITER"};
static_assert(std::size(kPropAtomNames) == static_cast<std::size_t>(PropAtom::kCount));

// Each atom is made when first used (JS_ATOM_NULL until then; freeing that is a
// no-op): a VU whose requests never pass params nor read res.timings, res.proto,
// ... does not intern those names (issue #17: ~20 atoms, and a plain
// `http.get(); sleep(1)` VU then stays below the runtime's next atom-array growth).
JSAtom atom_at(JSContext* ctx, VuState* vu, std::size_t i) {
  if (vu->atoms.empty()) vu->atoms.assign(kACount + std::size(kPropAtomNames), JS_ATOM_NULL);
  JSAtom& a = vu->atoms[i];
  if (a == JS_ATOM_NULL) [[unlikely]]
    a = JS_NewAtom(ctx, i < kACount ? kAtomNames[i] : kPropAtomNames[i - kACount]);
  return a;
}

/// Getter on Response.prototype: builds the field once and caches it on the instance.
JSValue response_lazy_get(JSContext* ctx, JSValueConst this_val, int magic) {
  auto* d = static_cast<ResponseData*>(JS_GetOpaque(this_val, response_class_id));
  if (!d) return JS_UNDEFINED;
  VuState* vu = vu_of(ctx);
  JSValue v = build_lazy(ctx, vu, *d->flight, magic);
  JS_DefinePropertyValue(ctx, this_val, atom_at(ctx, vu, kLazyAtoms[magic]), JS_DupValue(ctx, v), JS_PROP_C_W_E);
  return v;
}

}  // namespace

JSAtom prop_atom(JSContext* ctx, VuState* vu, PropAtom p) {
  return atom_at(ctx, vu, kACount + static_cast<std::size_t>(p));
}

JSValue make_response(JSContext* ctx, VuState* vu, std::shared_ptr<Flight> fp) {
  Flight& f = *fp;
  http::Response& r = f.final;
  bool lazy = JS_IsObject(vu->response_proto) && response_class_id != 0 &&
              JS_IsRegisteredClass(JS_GetRuntime(ctx), response_class_id);
  if (js::ShapeKeeper* k = lazy ? js::shape_keeper(ctx) : nullptr) {  // a busy VU keeps the Response's shapes
    const JSAtom keys[] = {atom_at(ctx, vu, kAStatus), atom_at(ctx, vu, kAErrorCode), atom_at(ctx, vu, kABody)};
    k->seen(ctx, vu->response_proto, response_class_id, keys, 3);
  }
  JSValue o = lazy ? JS_NewObjectProtoClass(ctx, vu->response_proto, response_class_id) : JS_NewObject(ctx);
  // status, error_code and body are set now; the rest are built when read (Response.prototype getters)
  put(ctx, vu, o, kAStatus, JS_NewInt32(ctx, r.status));
  put(ctx, vu, o, kAErrorCode, JS_NewInt32(ctx, r.error_code));
  JSValue body = JS_UNDEFINED;  // a text body's string, for response_ascii_body
  if (f.spec.response_type == std::string_view("none")) {
    put(ctx, vu, o, kABody, JS_NULL);
  } else if (f.spec.response_type == std::string_view("binary")) {
    js::ensure_typed_arrays(ctx);
    put(ctx, vu, o, kABody, JS_NewArrayBufferCopy(ctx, reinterpret_cast<const uint8_t*>(r.body.data()), r.body.size()));
  } else {
    body = new_body_string(ctx, r.body);
    put(ctx, vu, o, kABody, JS_DupValue(ctx, body));
  }
  if (lazy) {
    JS_SetOpaque(o, new ResponseData{std::move(fp), body});
  } else {
    JS_FreeValue(ctx, body);
    for (int field = kLHeaders; field <= kLOcsp; field++)
      put(ctx, vu, o, kLazyAtoms[field], build_lazy(ctx, vu, f, field));
  }
  return o;
}

bool response_ascii_body(JSValueConst res, JSValueConst body, std::string_view* out) {
  if (response_class_id == 0 || !JS_IsString(body)) return false;
  auto* d = static_cast<ResponseData*>(JS_GetOpaque(res, response_class_id));
  if (!d || !JS_IsString(d->body) || JS_VALUE_GET_PTR(d->body) != JS_VALUE_GET_PTR(body)) return false;
  const std::string& bytes = d->flight->final.body;
  if (!is_ascii(bytes)) return false;
  *out = bytes;
  return true;
}

void install_response_class(JSContext* ctx, JSValue proto) {
  static std::once_flag once;
  std::call_once(once, [] { JS_NewClassID(&response_class_id); });
  JSRuntime* rt = JS_GetRuntime(ctx);
  if (!JS_IsRegisteredClass(rt, response_class_id)) {
    JSClassDef def{};
    def.class_name = "Response";
    def.finalizer = response_finalizer;
    JS_NewClass(rt, response_class_id, &def);
  }
  for (int field = kLHeaders; field <= kLOcsp; field++) {
    JSCFunctionType fn;
    fn.getter_magic = response_lazy_get;
    const char* name = kAtomNames[kLazyAtoms[field]];
    js::Value getter(ctx, JS_NewCFunction2(ctx, fn.generic, name, 0, JS_CFUNC_getter_magic, field));
    JSAtom a = JS_NewAtom(ctx, name);
    JS_DefineProperty(ctx, proto, a, JS_UNDEFINED, getter.get(), JS_UNDEFINED,
                      JS_PROP_CONFIGURABLE | JS_PROP_HAS_GET | JS_PROP_HAS_CONFIGURABLE);
    JS_FreeAtom(ctx, a);
  }
}

}  // namespace herd::k6
