#include "k6/http_debug.h"

#include <gtest/gtest.h>

namespace herd::k6 {
namespace {

TEST(HttpDebugTest, DumpsRequestAndResponse) {
  http::Request req;
  req.method = "POST";
  req.url = "http://user:pw@127.0.0.1:8080/p/a?q=1#frag";
  req.headers = {{"X-A", "1"}};
  req.body = "hello";
  EXPECT_EQ(dump_request(req, false),
            "POST /p/a?q=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-A: 1\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(dump_request(req, true).substr(dump_request(req, false).size()), "hello");
  req.url = "http://127.0.0.1";
  req.body.clear();
  EXPECT_EQ(dump_request(req, true), "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: 1\r\n\r\n");
  http::Response res;
  res.status = 404;
  res.proto = "HTTP/1.1";
  res.status_text = "404 Not Found";
  res.headers = {{"Content-Type", "text/plain"}};
  res.body = "nope";
  EXPECT_EQ(dump_response(res, false), "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\n");
  EXPECT_EQ(dump_response(res, true), "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope");
  http::Response failed;
  failed.error = "connection refused";
  EXPECT_EQ(dump_response(failed, true), "(no response: connection refused)");
}

}  // namespace
}  // namespace herd::k6
