#include "target/request_parser.h"

#include "util/ascii.h"

namespace herd::target {

using util::iequals;

std::string_view Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    auto comma = value.find(',');
    std::string_view part = value.substr(0, comma);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (iequals(part, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

namespace {

ParseResult error(int status, std::string_view body) {
  ParseResult res;
  res.status = ParseResult::kError;
  res.error_status = status;
  res.error_body = body;
  return res;
}

ParseResult need_more_body(bool expect_continue) {
  ParseResult res;
  res.expect_continue = expect_continue;
  return res;
}

}  // namespace

ParseResult parse_request(std::string_view d, Request& r, std::string& chunk_body, const RequestLimits& limits) {
  r.headers.clear();
  // tolerate empty lines between pipelined requests
  std::size_t skip = 0;
  while (skip < d.size() && (d[skip] == '\r' || d[skip] == '\n')) ++skip;
  if (skip == d.size()) return {};
  std::string_view s = d.substr(skip);
  std::size_t hend = s.find("\r\n\r\n");
  if (hend == std::string_view::npos) {
    if (s.size() > limits.max_header_bytes) return error(431, "request header too large\n");
    return {};
  }
  std::string_view head = s.substr(0, hend);
  std::size_t body_start = hend + 4;
  // request line
  std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return error(400, "bad request line\n");
  r.method = line.substr(0, sp1);
  r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view ver = line.substr(sp2 + 1);
  if (ver.size() != 8 || ver.substr(0, 7) != "HTTP/1." || ver[7] < '0' || ver[7] > '9')
    return error(400, "unsupported protocol\n");
  r.minor = ver[7] - '0';
  auto q = r.target.find('?');
  r.path = r.target.substr(0, q);
  r.query = q == std::string_view::npos ? std::string_view() : r.target.substr(q + 1);
  r.head = r.method == "HEAD";
  // headers
  std::size_t content_length = 0;
  bool has_length = false, chunked = false, expect_continue = false;
  r.keep_alive = r.minor >= 1;
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  while (!rest.empty()) {
    std::size_t e = rest.find("\r\n");
    std::string_view h = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
    std::size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return error(400, "bad header line\n");
    std::string_view name = h.substr(0, colon);
    std::string_view value = trim_ows(h.substr(colon + 1));
    r.headers.emplace_back(name, value);
    switch (name.size()) {
      case 14:
        if (iequals(name, "content-length")) {
          if (!parse_int(value, content_length)) return error(400, "bad content-length\n");
          has_length = true;
        }
        break;
      case 17:
        if (iequals(name, "transfer-encoding") && has_token(value, "chunked")) chunked = true;
        break;
      case 10:
        if (iequals(name, "connection")) {
          if (has_token(value, "close"))
            r.keep_alive = false;
          else if (has_token(value, "keep-alive"))
            r.keep_alive = true;
        }
        break;
      case 6:
        if (iequals(name, "expect") && iequals(value, "100-continue")) expect_continue = true;
        break;
      default:
        break;
    }
  }
  ParseResult res;
  res.status = ParseResult::kRequest;
  if (chunked) {
    // Decode into chunk_body; kNeedMore until the terminating chunk + trailers arrive.
    std::string_view b = s.substr(body_start);
    std::size_t pos = 0;
    chunk_body.clear();
    for (;;) {
      std::size_t le = b.find("\r\n", pos);
      if (le == std::string_view::npos) {
        if (b.size() - pos > 1024) return error(400, "bad chunk\n");
        return need_more_body(expect_continue);
      }
      std::string_view szs = b.substr(pos, le - pos);
      auto semi = szs.find(';');
      szs = trim_ows(szs.substr(0, semi));
      std::size_t sz = 0;
      auto [p, ec] = std::from_chars(szs.data(), szs.data() + szs.size(), sz, 16);
      if (ec != std::errc() || p != szs.data() + szs.size()) return error(400, "bad chunk size\n");
      if (sz > limits.max_body_bytes || chunk_body.size() + sz > limits.max_body_bytes)
        return error(413, "request body too large\n");
      pos = le + 2;
      if (sz == 0) {
        // trailers end with an empty line
        for (;;) {
          std::size_t te = b.find("\r\n", pos);
          if (te == std::string_view::npos) return need_more_body(expect_continue);
          bool empty = te == pos;
          pos = te + 2;
          if (empty) break;
        }
        break;
      }
      if (b.size() - pos < sz + 2) return need_more_body(expect_continue);
      if (b.substr(pos + sz, 2) != "\r\n") return error(400, "bad chunk\n");
      chunk_body.append(b.substr(pos, sz));
      pos += sz + 2;
    }
    r.body = chunk_body;
    res.consumed = skip + body_start + pos;
  } else {
    if (!has_length) content_length = 0;
    if (content_length > limits.max_body_bytes) return error(413, "request body too large\n");
    if (s.size() - body_start < content_length) return need_more_body(expect_continue);
    r.body = s.substr(body_start, content_length);
    res.consumed = skip + body_start + content_length;
  }
  return res;
}

}  // namespace herd::target
