#include "target/semantics_routes.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "http/content_coding.h"
#include "target/form_urlencoded.h"
#include "util/ascii.h"
#include "util/auth_params.h"

namespace herd::target {

namespace {

constexpr std::size_t kMaxEncodedBytes = std::size_t{64} << 20;

using util::iequals;

bool parse_codings(std::string_view list, std::vector<http::Coding>* out) {
  while (!list.empty()) {
    std::string_view tok = list.substr(0, list.find(','));
    list.remove_prefix(std::min(list.size(), tok.size() + 1));
    http::Coding c;
    if (!http::parse_coding(tok, &c)) return false;
    out->push_back(c);
  }
  return !out->empty();
}

std::string coding_header(const std::vector<http::Coding>& codings) {
  std::string h;
  for (auto c : codings) h += (h.empty() ? "" : ", ") + std::string(http::coding_name(c));
  return "Content-Encoding: " + h + "\r\n";
}

void text_reply(RouteReply* out, int status, std::string body) {
  out->status = status;
  out->content_type = "text/plain";
  out->body = std::move(body);
}

std::string md5_hex(std::string_view s) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(s.data(), s.size(), d, &n, EVP_md5(), nullptr) != 1) throw std::runtime_error("MD5 failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; i++) {
    out += hex[d[i] >> 4];
    out += hex[d[i] & 15];
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

void digest_auth(const RouteRequest& r, std::string_view user, std::string_view pass, RouteReply* out) {
  static const std::string kRealm = "herd";
  std::string_view auth = r.header("authorization");
  bool ok = false;
  if (auth.size() > 7 && iequals(auth.substr(0, 7), "digest ")) {
    std::string_view p = auth.substr(7);
    std::string nonce = util::auth_param(p, "nonce"), uri = util::auth_param(p, "uri"),
                qop = util::auth_param(p, "qop"), nc = util::auth_param(p, "nc"),
                cnonce = util::auth_param(p, "cnonce");
    std::string ha1 = md5_hex(std::string(user) + ":" + kRealm + ":" + std::string(pass));
    std::string ha2 = md5_hex(std::string(r.method) + ":" + uri);
    std::string expect = md5_hex(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2);
    ok = util::auth_param(p, "username") == user && util::auth_param(p, "realm") == kRealm && qop == "auth" &&
         !nonce.empty() && uri == r.target && util::auth_param(p, "response") == expect;
  }
  nlohmann::json j;
  j["authenticated"] = ok;
  if (ok) {
    j["user"] = std::string(user);
  } else {
    out->status = 401;
    out->extra_headers = "WWW-Authenticate: Digest realm=\"" + kRealm + "\", qop=\"auth\", nonce=\"" + random_hex(16) +
                         "\", opaque=\"" + random_hex(8) + "\", algorithm=MD5\r\n";
  }
  out->body = j.dump();
}

}  // namespace

std::string_view RouteRequest::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

bool serve_semantics_route(const RouteRequest& r, RouteReply* out) {
  std::string_view path = r.path;
  http::Coding single;
  if (path.size() > 1 && http::parse_coding(path.substr(1), &single) && path.substr(1) == http::coding_name(single)) {
    nlohmann::json j;
    j["content_encoding"] = http::coding_name(single);
    j["method"] = std::string(r.method);
    j["items"] = nlohmann::json::array({{{"id", 1}, {"name", "first"}}, {{"id", 2}, {"name", "second"}}});
    out->body = http::encode_content(j.dump(), {single});
    out->extra_headers = coding_header({single});
    return true;
  }
  if (path == "/encoded") {
    std::vector<http::Coding> codings;
    if (!parse_codings(query_param(r.query, "coding"), &codings)) {
      text_reply(out, 400, "coding must be a comma list of gzip, deflate, br, zstd\n");
      return true;
    }
    std::size_t n = 0;
    std::string bytes = query_param(r.query, "bytes");
    auto res = std::from_chars(bytes.data(), bytes.data() + bytes.size(), n);
    if (bytes.empty() || res.ptr != bytes.data() + bytes.size() || n > kMaxEncodedBytes) {
      text_reply(out, 400, "bytes must be 0-67108864\n");
      return true;
    }
    std::string body(n, '\0');
    if (query_param(r.query, "fill") != "zero")
      for (std::size_t i = 0; i < n; i++) body[i] = static_cast<char>('a' + i % 26);
    std::string enc = http::encode_content(body, codings);
    if (query_param(r.query, "corrupt") == "1" && enc.size() > 4)
      for (std::size_t i = enc.size() / 2; i < enc.size(); i++) enc[i] = static_cast<char>(enc[i] ^ 0x5a);
    if (query_param(r.query, "truncate") == "1") enc.resize(enc.size() / 2);
    out->content_type = "application/octet-stream";
    out->body = std::move(enc);
    out->extra_headers = coding_header(codings);
    return true;
  }
  if (path == "/decode") {
    std::string_view ce = r.header("content-encoding");
    std::string body;
    auto d = http::ContentDecoder::create(ce);
    if (d) {
      if (!d->feed(r.body.data(), r.body.size(), &body) || !d->finish()) {
        text_reply(out, 400, d->error() + "\n");
        return true;
      }
    } else {
      body = std::string(r.body);
    }
    nlohmann::json j;
    j["content_encoding"] = std::string(ce);
    j["length"] = body.size();
    j["body"] = body;
    out->body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return true;
  }
  if (path.rfind("/digest-auth/", 0) == 0) {
    std::string_view rest = path.substr(13);
    std::vector<std::string_view> segs;
    while (!rest.empty()) {
      auto slash = rest.find('/');
      segs.push_back(rest.substr(0, slash));
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
    if (segs.size() != 3 || segs[0] != "auth" || segs[1].empty()) {
      text_reply(out, 400, "use /digest-auth/auth/{user}/{pass}\n");
      return true;
    }
    digest_auth(r, segs[1], segs[2], out);
    return true;
  }
  return false;
}

}  // namespace herd::target
