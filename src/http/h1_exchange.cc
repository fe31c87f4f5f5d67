#include "http/h1_exchange.h"

#include "util/ascii.h"
#include "util/http_status.h"

namespace herd::http::detail {

using util::iequals;

namespace {

// Counts header bytes; true (and the exchange marked) past kMaxResponseHeaderBytes.
bool header_overflow(Exchange* ex, std::size_t len) {
  ex->header_bytes += len;
  if (ex->header_bytes <= kMaxResponseHeaderBytes) return false;
  ex->overflow = Overflow::kHeaders;
  return true;
}

int on_status(llhttp_t* p, const char* at, std::size_t len) {
  auto* ex = static_cast<Exchange*>(p->data);
  if (header_overflow(ex, len)) return -1;
  ex->reason.append(at, len);
  return 0;
}

int on_header_field(llhttp_t* p, const char* at, std::size_t len) {
  auto* ex = static_cast<Exchange*>(p->data);
  if (header_overflow(ex, len)) return -1;
  ex->field.append(at, len);
  return 0;
}

int on_header_value(llhttp_t* p, const char* at, std::size_t len) {
  auto* ex = static_cast<Exchange*>(p->data);
  if (header_overflow(ex, len)) return -1;
  ex->value.append(at, len);
  return 0;
}

int on_header_value_complete(llhttp_t* p) {
  auto* ex = static_cast<Exchange*>(p->data);
  if (header_overflow(ex, 4)) return -1;  // ": " and CRLF
  std::string& v = ex->value;
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
  if (ex->resp.headers.empty()) ex->resp.headers.reserve(8);  // one allocation for a typical response's headers
  ex->resp.headers.emplace_back(std::move(ex->field), std::move(v));
  ex->field.clear();
  ex->value.clear();
  return 0;
}

int on_headers_complete(llhttp_t* p) {
  auto* ex = static_cast<Exchange*>(p->data);
  if (p->status_code >= 100 && p->status_code < 200) return 0;  // interim: the body-less final answer follows
  ex->headers_done = true;
  if (ex->is_head) return 1;  // 1: this response has no body
  if (ex->req.keep_body)
    for (const auto& [k, v] : ex->resp.headers)
      if (iequals(k, "content-encoding")) ex->decoder = ContentDecoder::create(v, ex->req.max_decoded_body);
  return 0;
}

int on_body(llhttp_t* p, const char* at, std::size_t len) {
  auto* ex = static_cast<Exchange*>(p->data);
  if (!ex->req.keep_body) return 0;  // dropped as it arrives
  ex->body_bytes += len;
  if (ex->body_bytes > ex->req.max_body) {
    ex->overflow = Overflow::kBody;
    return -1;
  }
  if (ex->decoder)
    ex->decoder->feed(at, len, &ex->resp.body);  // an error is reported when the message is complete
  else
    ex->resp.body.append(at, len);
  return 0;
}

int on_message_complete(llhttp_t* p) {
  auto* ex = static_cast<Exchange*>(p->data);
  if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101) {
    // "100 Continue" and friends: keep only the final header block, as libcurl does
    ex->resp.headers.clear();
    ex->reason.clear();
    return 0;
  }
  ex->complete = true;
  ex->keep_alive = llhttp_should_keep_alive(p) != 0 && p->status_code != 101;
  ex->resp.status = p->status_code;
  ex->resp.proto = p->http_major == 1 && p->http_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
  ex->resp.status_text = util::http_status_text(p->status_code, ex->reason);
  return HPE_PAUSED;  // stop at the end of this message
}

}  // namespace

const llhttp_settings_t kParserSettings = [] {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_status = on_status;
  s.on_header_field = on_header_field;
  s.on_header_value = on_header_value;
  s.on_header_value_complete = on_header_value_complete;
  s.on_headers_complete = on_headers_complete;
  s.on_body = on_body;
  s.on_message_complete = on_message_complete;
  return s;
}();

}  // namespace herd::http::detail
