#include "api/http_request.h"

#include <gtest/gtest.h>

#include <string>

namespace herd::api {
namespace {

HeadRead read_all(std::string_view in, HttpRequest& req, HeadLimits limits = {}) {
  std::size_t scan = 0;
  return read_request_head(in, scan, limits, req);
}

TEST(ApiHttpRequest, ReadsHeadAfterEmptyLines) {
  HttpRequest req;
  std::string in = "\r\n\r\nPATCH /v1/status HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
  HeadRead h = read_all(in, req);
  ASSERT_EQ(h.status, HeadRead::kHead);
  EXPECT_EQ(h.skip, 4u);
  EXPECT_EQ(in.substr(h.skip + h.head_len), "{}");
  EXPECT_EQ(req.method, "PATCH");
  EXPECT_EQ(req.target, "/v1/status");
  EXPECT_EQ(req.content_length, 2u);
  EXPECT_FALSE(req.keep_alive);
}

TEST(ApiHttpRequest, BareLfHeadAndHttp10KeepAlive) {
  HttpRequest req;
  HeadRead h = read_all("GET / HTTP/1.0\nConnection: keep-alive\n\n", req);
  ASSERT_EQ(h.status, HeadRead::kHead);
  EXPECT_EQ(req.minor, 0);
  EXPECT_TRUE(req.keep_alive);
}

TEST(ApiHttpRequest, AcceptHeadersAreJoined) {
  HttpRequest req;
  ASSERT_EQ(read_all("GET /v1/snapshot HTTP/1.1\r\nAccept: a/b\r\nX: y\r\naccept:  c/d;q=0.1 \r\n\r\n", req).status,
            HeadRead::kHead);
  EXPECT_EQ(req.accept, "a/b, c/d;q=0.1");
  ASSERT_EQ(read_all("GET / HTTP/1.1\r\n\r\n", req).status, HeadRead::kHead);
  EXPECT_EQ(req.accept, "");  // a new request starts without the last one's
}

// Feeding the head a byte at a time (resuming from `scan`) finds the same end.
TEST(ApiHttpRequest, IncrementalScanMatchesWholeInput) {
  std::string in = "GET /v1/metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  HttpRequest req;
  std::size_t scan = 0;
  for (std::size_t n = 1; n < in.size(); ++n)
    ASSERT_EQ(read_request_head(std::string_view(in).substr(0, n), scan, {}, req).status, HeadRead::kNeedMore) << n;
  HeadRead h = read_request_head(in, scan, {}, req);
  ASSERT_EQ(h.status, HeadRead::kHead);
  EXPECT_EQ(h.head_len, in.size());
}

TEST(ApiHttpRequest, Errors) {
  HttpRequest req;
  auto status = [&](std::string_view in, HeadLimits l = {}) {
    HeadRead h = read_all(in, req, l);
    return h.status == HeadRead::kError ? h.error.status : 0;
  };
  EXPECT_EQ(status("GET  / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/2.0\r\n\r\n"), 505);
  EXPECT_EQ(status("GET x HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\n folded\r\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 501);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", {1024, 10}), 413);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n", {64, 10}), 431);
  EXPECT_EQ(status(std::string(100, 'a'), {64, 10}), 431);
  EXPECT_EQ(status(std::string("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26)), 400);
}

TEST(ApiHttpRequest, PctDecodeAndJsonDepth) {
  EXPECT_EQ(pct_decode("a%2Fb%41"), "a/bA");
  EXPECT_FALSE(pct_decode("a%4"));
  EXPECT_FALSE(pct_decode("%zz"));
  EXPECT_EQ(json_depth(R"({"a":[1,{"b":"[[["}]})", 100), 3u);
  EXPECT_EQ(json_depth("[[[[[[", 3), 4u);
}

}  // namespace
}  // namespace herd::api
