#include "api/http_request.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "util/ascii.h"

namespace herd::api {

namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

using util::iequals;
using util::is_tchar;

std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

}  // namespace

std::optional<HttpError> parse_request_head(std::string_view head, HttpRequest& req) {
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    std::size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    head.remove_prefix(nl + 1);
  }
  if (lines.empty()) return HttpError{400, "empty request"};
  for (auto l : lines)
    for (char c : l)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
        return HttpError{400, "control character in request head"};

  // Request line: METHOD SP target SP HTTP/x.y
  std::string_view rl = lines[0];
  std::size_t sp1 = rl.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : rl.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || rl.find(' ', sp2 + 1) != std::string_view::npos)
    return HttpError{400, "malformed request line"};
  std::string_view method = rl.substr(0, sp1), target = rl.substr(sp1 + 1, sp2 - sp1 - 1), version = rl.substr(sp2 + 1);
  if (method.empty() || method.size() > 32 || !std::all_of(method.begin(), method.end(), is_tchar))
    return HttpError{400, "malformed method"};
  if (target.empty() || target[0] != '/' || target.find('\t') != std::string_view::npos)
    return HttpError{400, "request target must be an absolute path"};
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9')
    return HttpError{400, "malformed HTTP version"};
  if (version[5] != '1') return HttpError{505, "only HTTP/1.0 and HTTP/1.1 are supported"};
  req.method = std::string(method);
  req.target = std::string(target);
  req.minor = version[7] - '0';
  bool conn_close = false, conn_keep_alive = false;

  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (l.empty()) return HttpError{400, "empty header line"};
    if (l[0] == ' ' || l[0] == '\t') return HttpError{400, "obsolete header line folding"};
    std::size_t colon = l.find(':');
    if (colon == std::string_view::npos || colon == 0) return HttpError{400, "malformed header line"};
    std::string_view name = l.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_tchar)) return HttpError{400, "malformed header name"};
    std::string_view value = trim_ows(l.substr(colon + 1));
    if (iequals(name, "content-length")) {
      if (value.empty() || value.size() > 18 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return HttpError{400, "invalid Content-Length"};
      std::uint64_t n = 0;
      for (char c : value) n = n * 10 + static_cast<std::uint64_t>(c - '0');
      if (req.has_content_length && n != req.content_length)
        return HttpError{400, "conflicting Content-Length headers"};
      req.has_content_length = true;
      req.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      req.has_transfer_encoding = true;
    } else if (iequals(name, "connection")) {
      std::string_view v = value;
      while (!v.empty()) {
        std::size_t comma = v.find(',');
        std::string_view tok = trim_ows(v.substr(0, comma));
        if (iequals(tok, "close")) conn_close = true;
        if (iequals(tok, "keep-alive")) conn_keep_alive = true;
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
      }
    } else if (iequals(name, "expect")) {
      if (iequals(value, "100-continue")) req.expect_continue = true;
    } else if (iequals(name, "x-herd-run")) {
      req.run = value;
    } else if (iequals(name, "accept")) {
      if (!req.accept.empty()) req.accept += ", ";
      req.accept += value;
    }
  }
  req.keep_alive = req.minor >= 1 ? !conn_close : (conn_keep_alive && !conn_close);
  return std::nullopt;
}

HeadRead read_request_head(std::string_view in, std::size_t& scan, const HeadLimits& limits, HttpRequest& req) {
  HeadRead res;
  // Tolerate empty lines before the request line (RFC 9112 2.2).
  while (res.skip < in.size() && (in[res.skip] == '\r' || in[res.skip] == '\n')) ++res.skip;
  if (res.skip) {
    in.remove_prefix(res.skip);
    scan = 0;
  }
  auto fail = [&](int status, std::string detail) {
    res.status = HeadRead::kError;
    res.error = HttpError{status, std::move(detail)};
    return res;
  };
  auto too_large = [&] {
    return fail(431, "request head larger than " + std::to_string(limits.max_header_bytes) + " bytes");
  };
  // The head ends at an empty line: "\n\n" or "\n\r\n".
  std::size_t end = std::string_view::npos;
  std::size_t i = scan;
  for (; i < in.size(); ++i) {
    if (in[i] != '\n') continue;
    if (i + 1 >= in.size()) break;
    if (in[i + 1] == '\n') {
      end = i + 2;
      break;
    }
    if (in[i + 1] == '\r') {
      if (i + 2 >= in.size()) break;
      if (in[i + 2] == '\n') {
        end = i + 3;
        break;
      }
    }
  }
  if (end == std::string_view::npos) {
    scan = i;
    if (in.size() > limits.max_header_bytes) return too_large();
    return res;
  }
  if (end > limits.max_header_bytes) return too_large();
  req = HttpRequest{};
  std::string_view head = in.substr(0, end);
  while (!head.empty() && (head.back() == '\r' || head.back() == '\n')) head.remove_suffix(1);
  if (auto err = parse_request_head(head, req)) return fail(err->status, std::move(err->detail));
  if (req.has_transfer_encoding) return fail(501, "Transfer-Encoding is not supported; send a Content-Length body");
  if (req.content_length > limits.max_body_bytes)
    return fail(413, "request body larger than " + std::to_string(limits.max_body_bytes) + " bytes");
  res.status = HeadRead::kHead;
  res.head_len = end;
  return res;
}

std::optional<std::string> pct_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::size_t json_depth(std::string_view s, std::size_t limit) {
  std::size_t depth = 0, max_depth = 0;
  bool in_str = false, esc = false;
  for (char c : s) {
    if (in_str) {
      if (esc)
        esc = false;
      else if (c == '\\')
        esc = true;
      else if (c == '"')
        in_str = false;
      continue;
    }
    if (c == '"')
      in_str = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth) max_depth = depth;
      if (max_depth > limit) return max_depth;
    } else if ((c == ']' || c == '}') && depth > 0)
      --depth;
  }
  return max_depth;
}

}  // namespace herd::api
