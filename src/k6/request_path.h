#pragma once
// Fast paths of the per-request natives (issue #17): property names read on
// every request as atoms kept per VU, and http.get/post/... calling the request
// with the method already known.

#include <quickjs.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "k6/vu_state.h"

namespace herd::k6 {

/// Property names the request path reads on every request (and the two globals
/// an iteration sets).
enum class PropAtom : std::size_t {
  kHeaders,
  kTags,
  kCookies,
  kTimeout,
  kRedirects,
  kResponseType,
  kResponseCallback,
  kCompression,
  kAuth,
  kJar,
  kUrlMarker,
  kBody,
  kJson,
  kVuGlobal,    ///< "__VU" (set_iteration_globals, once per iteration)
  kIterGlobal,  ///< "__ITER"
  kCount
};

/// The VU's atom for `p`: created with the Response atoms on first use, kept in
/// VuState::atoms and freed with them (release_vu_values). JS_GetPropertyStr
/// would hash the name into an atom on every call.
JSAtom prop_atom(JSContext* ctx, VuState* vu, PropAtom p);

/// JS_GetPropertyStr with the cached atom of `p`.
inline JSValue get_prop(JSContext* ctx, VuState* vu, JSValueConst obj, PropAtom p) {
  return JS_GetProperty(ctx, obj, prop_atom(ctx, vu, p));
}

/// http.request with the method already known (http.get/post/...: no JS string
/// made for the method and read back).
JSValue http_request_method(JSContext* ctx, const std::string& method, JSValueConst url, JSValueConst body,
                            JSValueConst params);

/// When `body` is the very string a Response was made with (the script did not
/// replace res.body) and the response's bytes are ASCII: those bytes, which are
/// then exactly what the string holds (k6/http_response.cc). False otherwise.
bool response_ascii_body(JSValueConst res, JSValueConst body, std::string_view* out);

}  // namespace herd::k6
