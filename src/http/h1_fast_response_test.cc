// The built-in client's fast response parser (h1_fast_response.h) against
// llhttp with the client's own callbacks (h1_exchange.h): every response it
// takes must leave the exchange exactly as llhttp leaves it, and every other
// one must leave the exchange untouched (llhttp parses it then).

#include "http/h1_fast_response.h"

#include <llhttp.h>

#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "http/content_coding.h"
#include "http/h1_exchange.h"

using herd::http::Coding;
using herd::http::Headers;
using herd::http::detail::Exchange;
using herd::http::detail::fast_parse_response;
using herd::http::detail::kParserSettings;

namespace {

using Setup = std::function<void(Exchange&)>;

/// What a parse leaves in the exchange.
struct Outcome {
  int status = 0;
  std::string proto, status_text, reason, body;
  Headers headers;
  bool complete = false, keep_alive = false, headers_done = false, decoder = false;
  std::size_t body_bytes = 0;

  static Outcome of(const Exchange& e) {
    return {e.resp.status, e.resp.proto, e.resp.status_text, e.reason,    e.resp.body, e.resp.headers,
            e.complete,    e.keep_alive, e.headers_done,     !!e.decoder, e.body_bytes};
  }
  bool operator==(const Outcome&) const = default;
};

void PrintTo(const Outcome& o, std::ostream* os) {
  *os << o.status << " " << o.proto << " [" << o.status_text << "] reason=[" << o.reason << "] body=[" << o.body
      << "] complete=" << o.complete << " keep_alive=" << o.keep_alive << " headers_done=" << o.headers_done
      << " decoder=" << o.decoder << " body_bytes=" << o.body_bytes << " headers:";
  for (const auto& [k, v] : o.headers) *os << " [" << k << "]=[" << v << "]";
}

/// llhttp over the whole buffer, as H1Client does: the message must end where the bytes end.
Outcome with_llhttp(const std::string& bytes, const Setup& setup, bool* whole) {
  Exchange e;
  if (setup) setup(e);
  llhttp_t p{};
  llhttp_init(&p, HTTP_RESPONSE, &kParserSettings);
  p.data = &e;
  llhttp_errno_t rc = llhttp_execute(&p, bytes.data(), bytes.size());
  *whole = rc == HPE_PAUSED && e.complete && llhttp_get_error_pos(&p) == bytes.data() + bytes.size();
  return Outcome::of(e);
}

/// Expects the fast parser to take `bytes` and agree with llhttp.
void expect_same(const std::string& bytes, const Setup& setup = {}) {
  SCOPED_TRACE(bytes);
  bool whole = false;
  Outcome slow = with_llhttp(bytes, setup, &whole);
  ASSERT_TRUE(whole) << "llhttp did not parse it as one whole message";
  Exchange e;
  if (setup) setup(e);
  ASSERT_TRUE(fast_parse_response(&e, bytes.data(), bytes.size()));
  EXPECT_EQ(Outcome::of(e), slow);
}

/// Expects the fast parser to leave `bytes` to llhttp, the exchange untouched.
void expect_declined(const std::string& bytes, const Setup& setup = {}) {
  SCOPED_TRACE(bytes);
  Exchange e;
  if (setup) setup(e);
  Outcome before = Outcome::of(e);
  EXPECT_FALSE(fast_parse_response(&e, bytes.data(), bytes.size()));
  EXPECT_EQ(Outcome::of(e), before);
}

TEST(FastResponse, AgreesWithLlhttpOnPlainResponses) {
  expect_same("HTTP/1.1 200 OK\r\nServer: herd-target\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok");
  expect_same("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
  expect_same("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
  expect_same("HTTP/1.1 299 Made Up\r\nContent-Length: 1\r\n\r\nx");  // status text from the reason
  expect_same("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n");          // empty reason
  expect_same("HTTP/1.1 201 Created\tTab\r\nContent-Length: 0\r\n\r\n");
  expect_same("HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc");
  expect_same("HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 3\r\nConTent-EncodinG: identity\r\n\r\nabc");
  expect_same("HTTP/1.1 200 OK\r\nContent_Length: 9\r\nConnection_: close\r\nContent-Length: 3\r\n\r\nabc");
  expect_same("HTTP/1.1 200 OK\r\nContent-Length:   007\r\n\r\n1234567");
  expect_same("HTTP/1.1 302 Found\r\nLocation: /next?a=1&b=2\r\nContent-Length: 0\r\n\r\n");
}

TEST(FastResponse, AgreesWithLlhttpOnHeaderValues) {
  expect_same(
      "HTTP/1.1 200 OK\r\nX-Spaced:   a  b \t \r\nX-Empty:\r\nX-Blank:   \r\nX-Tab:\tv\r\nX-Odd: "
      "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\r\n"
      "Content-Length: 0\r\n\r\n");
  expect_same(
      "HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; HttpOnly\r\nset-cookie: c=3\r\n"
      "Content-Length: 2\r\n\r\n{}");
  std::string many = "HTTP/1.1 200 OK\r\n";  // more than the eight reserved, all of them kept in order
  for (int i = 0; i < 31; ++i) many += "X-H" + std::to_string(i) + "!#$%&'*+.^_`|~: " + std::to_string(i * i) + "\r\n";
  expect_same(many + "Content-Length: 4\r\n\r\nbody");
}

TEST(FastResponse, AgreesWithLlhttpOnCodedAndDroppedBodies) {
  std::string gz = herd::http::encode_content("hello, compressed world", {Coding::kGzip});
  expect_same("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " + std::to_string(gz.size()) + "\r\n\r\n" +
              gz);
  expect_same("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\njunk");  // fails at finish()
  expect_same("HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\nContent-Length: 2\r\n\r\nok");
  auto drop = [](Exchange& e) { e.req.keep_body = false; };
  expect_same("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\njunk", drop);
  expect_same("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", drop);
  auto small = [](Exchange& e) { e.req.max_body = 5; };
  expect_same("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", small);
}

TEST(FastResponse, LeavesEverythingElseToLlhttp) {
  const std::string ok_tail = "Content-Length: 2\r\n\r\nok";
  expect_declined("HTTP/1.0 200 OK\r\n" + ok_tail);
  expect_declined("HTTP/2.0 200 OK\r\n" + ok_tail);
  expect_declined("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n" + ok_tail);
  expect_declined("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  expect_declined("HTTP/1.1 204 No Content\r\n" + ok_tail);
  expect_declined("HTTP/1.1 304 Not Modified\r\n" + ok_tail);
  expect_declined("HTTP/1.1 600 Odd\r\n" + ok_tail);
  expect_declined("HTTP/1.1 20 OK\r\n" + ok_tail);
  expect_declined("HTTP/1.1 200OK\r\n" + ok_tail);
  expect_declined("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
  expect_declined("HTTP/1.1 200 OK\r\nConnection: close\r\n" + ok_tail);
  expect_declined("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n" + ok_tail);
  expect_declined("HTTP/1.1 200 OK\r\nProxy-Connection: close\r\n" + ok_tail);
  expect_declined("HTTP/1.1 200 OK\r\nUpgrade: h2c\r\n" + ok_tail);
  expect_declined("HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: identity\r\n" + ok_tail);
  expect_declined("HTTP/1.1 200 OK\r\nContent_Length: 2\r\n\r\nok");  // not a length: close-delimited
  expect_declined("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nclose-delimited");  // no Content-Length
  expect_declined("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok");                      // partial body
  expect_declined("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1");              // bytes after it
  expect_declined("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n");                            // partial head
  expect_declined("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok");
  expect_declined("HTTP/1.1 200 OK\r\nContent-Length: 2 \r\n\r\nok");
  expect_declined("HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok");
  expect_declined("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n");
  expect_declined("HTTP/1.1 200 OK\nContent-Length: 2\n\nok");  // bare LF
  expect_declined("HTTP/1.1 200 OK\r\nX-A: a\nContent-Length: 2\r\n\r\nok");
  expect_declined("HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n" + ok_tail);  // obs-fold
  expect_declined("HTTP/1.1 200 OK\r\nX-A : a\r\n" + ok_tail);
  expect_declined("HTTP/1.1 200 OK\r\n: a\r\n" + ok_tail);
  expect_declined("HTTP/1.1 200 OK\r\nX-A: caf\xc3\xa9\r\n" + ok_tail);  // non-ASCII
  expect_declined("HTTP/1.1 200 OK\r\nX-A: a\x7f\r\n" + ok_tail);
  expect_declined("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n" + ok_tail);
  expect_declined("HTTP/1.1 200 \xe2\x9c\x93\r\n" + ok_tail);
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 32; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  expect_declined(many + ok_tail);
  expect_declined("HTTP/1.1 200 OK\r\n" + ok_tail, [](Exchange& e) { e.is_head = true; });
  expect_declined("HTTP/1.1 200 OK\r\n" + ok_tail, [](Exchange& e) { e.req.max_body = 1; });
}

}  // namespace
