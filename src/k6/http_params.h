#pragma once
// Request params of k6/http beyond the basics parsed in http_request_spec.cc:
// `compression` (the request body encoded with gzip, deflate, br and/or zstd),
// `auth` ("basic", "digest"; "ntlm" is refused), `jar` (a CookieJar for this
// request), and URLs made by the `http.url` tagged template (their `name` tag
// is the template with `${}` for every placeholder, as in k6).

#include <quickjs.h>

#include <memory>
#include <string>
#include <vector>

#include "http/client.h"
#include "http/content_coding.h"
#include "k6/cookie_jar.h"
#include "k6/digest_auth.h"

namespace herd::k6 {

/// What parse_param_extras() read.
struct HttpParamExtras {
  std::vector<http::Coding> compression;  ///< in the order applied; empty = body sent as is
  bool digest_auth = false;               ///< params.auth === "digest"
  std::shared_ptr<CookieJar> jar;         ///< params.jar; null = the VU's jar
  /// digest: the URL's user info (taken out of the URL); null otherwise (a
  /// pointer keeps every request's RequestSpec small).
  std::shared_ptr<const UserInfo> digest_creds;
};

/// Reads params.compression, params.auth and params.jar. False, with a JS
/// exception pending, for a value k6 would refuse or herd does not support.
bool parse_param_extras(JSContext* ctx, JSValueConst params, HttpParamExtras* out);

/// Encodes `*body` with `codings` and sets Content-Encoding unless the script
/// set one (a different one is kept and `*warning` says so, as k6 logs).
/// False with a JS exception pending if the encoder fails.
bool compress_request_body(JSContext* ctx, const std::vector<http::Coding>& codings, std::string* body,
                           http::Headers* headers, std::string* warning);

/// The URL as k6 puts it in the url and name tags: user info masked
/// ("http://****:****@host/", "http://****@host/"); other URLs unchanged.
std::string mask_credentials(const std::string& url);

/// When `v` is an object made by http.url: its URL and its name tag. False otherwise.
bool http_url_parts(JSContext* ctx, JSValueConst v, std::string* url, std::string* name);

/// http.url`...`: the tagged template function.
JSValue http_url_template(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv);

}  // namespace herd::k6
