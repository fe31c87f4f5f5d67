#pragma once
// k6/http's CookieJar objects: `http.cookieJar()` (the VU's jar, emptied at
// every iteration unless noCookiesReset) and `new http.CookieJar()` (a new,
// independent jar the script keeps), with cookiesForURL(url),
// set(url, name, value, [options]), clear(url) and delete(url, name). A jar is
// used by a request through `params.jar`.

#include <quickjs.h>

#include <memory>

#include "k6/cookie_jar.h"

namespace herd::k6 {

/// Registers the CookieJar class in `ctx`'s runtime, sets its prototype and
/// returns the `http.CookieJar` constructor (owned by the caller).
JSValue install_cookie_jar_class(JSContext* ctx);

/// `http.cookieJar()`: a CookieJar object for the VU's own jar (an error in the
/// init context, as in k6; `new http.CookieJar()` works there).
JSValue http_cookie_jar(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv);

/// The jar behind a CookieJar object; nullptr (no exception) for any other value.
std::shared_ptr<CookieJar> cookie_jar_of(JSContext* ctx, JSValueConst v);

}  // namespace herd::k6
