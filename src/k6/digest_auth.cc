#include "k6/digest_auth.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <cstdio>
#include <memory>
#include <random>

#include "util/ascii.h"
#include "util/auth_params.h"
#include "util/url.h"

namespace herd::k6 {

namespace {

using util::iequals;

std::string hex_digest(const EVP_MD* md, std::string_view s) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(s.data(), s.size(), d, &n, md, nullptr) != 1) return "";
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; i++) {
    out += hex[d[i] >> 4];
    out += hex[d[i] & 15];
  }
  return out;
}

std::string quoted(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

bool split_user_info(const std::string& url, UserInfo* out) {
  util::Url u;
  if (!u.set(url)) return false;
  out->user = u.part(CURLUPART_USER, CURLU_URLDECODE);
  out->password = u.part(CURLUPART_PASSWORD, CURLU_URLDECODE);
  if (out->user.empty() && out->password.empty()) return false;
  curl_url_set(u.get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(u.get(), CURLUPART_PASSWORD, nullptr, 0);
  out->bare_url = u.part(CURLUPART_URL);
  return !out->bare_url.empty();
}

std::string request_target(const std::string& url) {
  util::Url u;
  if (!u.set(url)) return "/";
  std::string path = u.part(CURLUPART_PATH), query = u.part(CURLUPART_QUERY);
  if (path.empty()) path = "/";
  return query.empty() ? path : path + "?" + query;
}

std::string new_cnonce() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

std::string digest_authorization(std::string_view www_authenticate, std::string_view method, std::string_view uri,
                                 const UserInfo& creds, std::string_view cnonce) {
  std::string_view h = util::trim_ows(www_authenticate);
  if (h.size() < 7 || !iequals(h.substr(0, 6), "digest") || (h[6] != ' ' && h[6] != '\t')) return "";
  h.remove_prefix(7);
  std::string realm = util::auth_param(h, "realm"), nonce = util::auth_param(h, "nonce"),
              opaque = util::auth_param(h, "opaque"), algorithm = util::auth_param(h, "algorithm"),
              qops = util::auth_param(h, "qop");
  if (nonce.empty()) return "";
  std::string alg = algorithm.empty() ? "MD5" : algorithm;
  bool sess = alg.size() > 5 && iequals(std::string_view(alg).substr(alg.size() - 5), "-sess");
  std::string_view base = std::string_view(alg).substr(0, alg.size() - (sess ? 5 : 0));
  const EVP_MD* md = iequals(base, "MD5") ? EVP_md5() : iequals(base, "SHA-256") ? EVP_sha256() : nullptr;
  if (!md) return "";
  bool qop_auth = false;
  for (std::string_view rest = qops; !rest.empty();) {
    std::string_view tok = util::trim_ows(rest.substr(0, rest.find(',')));
    rest.remove_prefix(
        std::min(rest.size(), rest.find(',') == std::string_view::npos ? rest.size() : rest.find(',') + 1));
    if (iequals(tok, "auth")) qop_auth = true;
  }
  if (!qops.empty() && !qop_auth) return "";  // only auth-int offered
  const std::string nc = "00000001";
  std::string ha1 = hex_digest(md, creds.user + ":" + realm + ":" + creds.password);
  if (sess) ha1 = hex_digest(md, ha1 + ":" + nonce + ":" + std::string(cnonce));
  std::string ha2 = hex_digest(md, std::string(method) + ":" + std::string(uri));
  std::string response = qop_auth
                             ? hex_digest(md, ha1 + ":" + nonce + ":" + nc + ":" + std::string(cnonce) + ":auth:" + ha2)
                             : hex_digest(md, ha1 + ":" + nonce + ":" + ha2);
  std::string out = "Digest username=" + quoted(creds.user) + ", realm=" + quoted(realm) + ", nonce=" + quoted(nonce) +
                    ", uri=" + quoted(uri);
  if (qop_auth) out += ", cnonce=" + quoted(cnonce) + ", nc=" + nc + ", qop=auth";
  out += ", response=" + quoted(response);
  if (!opaque.empty()) out += ", opaque=" + quoted(opaque);
  if (!algorithm.empty()) out += ", algorithm=" + algorithm;
  return out;
}

}  // namespace herd::k6
