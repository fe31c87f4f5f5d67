#include "http/h1_fast_response.h"

#include <array>
#include <cstdint>
#include <string_view>

#include "util/http_status.h"

namespace herd::http::detail {

namespace {

constexpr std::size_t kMaxHeaders = 32;  // more: llhttp

// RFC 9110 token characters (header names).
constexpr auto kToken = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (unsigned char c : std::string_view("!#$%&'*+-.^_`|~")) t[c] = true;
  return t;
}();

// Printable ASCII and horizontal tab: header values and the reason phrase.
constexpr auto kText = [] {
  std::array<bool, 256> t{};
  t['\t'] = true;
  for (int c = 0x20; c <= 0x7e; ++c) t[c] = true;
  return t;
}();

bool text_char(char c) {
  return kText[static_cast<unsigned char>(c)];
}

// `name` (token characters only) equals `lower` (lowercase letters and '-') ignoring case: setting
// bit 0x20 lowercases a letter and keeps '-'; no other token character becomes one of those.
bool name_is(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if ((name[i] | 0x20) != lower[i]) return false;
  return true;
}

// Header names llhttp interprets beyond Content-Length.
bool special_name(std::string_view n) {
  return name_is(n, "upgrade") || name_is(n, "connection") || name_is(n, "proxy-connection") ||
         name_is(n, "transfer-encoding");
}

bool ows(char c) {
  return c == ' ' || c == '\t';
}

struct Field {
  std::string_view name, value;
};

}  // namespace

bool fast_parse_response(Exchange* ex, const char* data, std::size_t len) {
  if (ex->is_head) return false;  // (no body whatever Content-Length says)
  std::string_view in(data, len);
  if (in.size() < 17 || in.substr(0, 9) != "HTTP/1.1 ") return false;
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (in[i] < '0' || in[i] > '9') return false;
    status = status * 10 + (in[i] - '0');
  }
  if (in[12] != ' ' || status < 200 || status > 599 || status == 204 || status == 304) return false;
  std::size_t pos = 13;
  while (pos < in.size() && text_char(in[pos])) ++pos;
  if (pos + 1 >= in.size() || in[pos] != '\r' || in[pos + 1] != '\n') return false;
  std::string_view reason = in.substr(13, pos - 13);
  pos += 2;

  std::array<Field, kMaxHeaders> fields;
  std::size_t n = 0;
  std::uint64_t content_length = 0;
  bool have_length = false;
  for (;;) {
    if (pos + 1 >= in.size()) return false;
    if (in[pos] == '\r') {
      if (in[pos + 1] != '\n') return false;
      pos += 2;
      break;
    }
    std::size_t name_start = pos;
    while (pos < in.size() && kToken[static_cast<unsigned char>(in[pos])]) ++pos;
    if (pos == name_start || pos >= in.size() || in[pos] != ':') return false;
    std::string_view name = in.substr(name_start, pos - name_start);
    ++pos;
    while (pos < in.size() && ows(in[pos])) ++pos;
    std::size_t value_start = pos;
    while (pos < in.size() && text_char(in[pos])) ++pos;
    if (pos + 1 >= in.size() || in[pos] != '\r' || in[pos + 1] != '\n') return false;
    std::size_t value_end = pos;
    while (value_end > value_start && ows(in[value_end - 1])) --value_end;
    std::string_view value = in.substr(value_start, value_end - value_start);
    if (name_is(name, "content-length")) {
      // digits only, nothing around them but the leading OWS skipped above; once
      if (have_length || value.empty() || value.size() > 12 || value_end != pos) return false;
      for (char c : value) {
        if (c < '0' || c > '9') return false;
        content_length = content_length * 10 + static_cast<std::uint64_t>(c - '0');
      }
      have_length = true;
    } else if (special_name(name)) {
      return false;
    }
    if (n == kMaxHeaders) return false;
    fields[n++] = {name, value};
    pos += 2;
  }
  if (!have_length || in.size() - pos != content_length) return false;  // exactly one whole message
  if (ex->req.keep_body && content_length > ex->req.max_body) return false;

  // As the llhttp callbacks would leave it (h1_exchange.cc).
  ex->header_bytes += pos;
  ex->reason.assign(reason);
  Headers& headers = ex->resp.headers;
  headers.reserve(n > 8 ? n : 8);
  for (std::size_t i = 0; i < n; ++i) headers.emplace_back(fields[i].name, fields[i].value);
  ex->headers_done = true;
  if (ex->req.keep_body) {
    for (const auto& [k, v] : headers)
      if (name_is(k, "content-encoding")) ex->decoder = ContentDecoder::create(v, ex->req.max_decoded_body);
    if (content_length > 0) {
      ex->body_bytes += content_length;
      if (ex->decoder)
        ex->decoder->feed(data + pos, content_length, &ex->resp.body);
      else
        ex->resp.body.append(data + pos, content_length);
    }
  }
  ex->complete = true;
  ex->keep_alive = true;
  ex->resp.status = status;
  ex->resp.proto = "HTTP/1.1";
  ex->resp.status_text = util::http_status_text(status, reason);
  return true;
}

}  // namespace herd::http::detail
