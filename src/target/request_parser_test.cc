#include "target/request_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "target/form_urlencoded.h"

namespace herd::target {
namespace {

struct Parsed {
  ParseResult res;
  Request req;
  std::string chunks;
};

Parsed parse(std::string_view in, RequestLimits limits = {}) {
  Parsed p;
  p.res = parse_request(in, p.req, p.chunks, limits);
  return p;
}

TEST(TargetRequestParser, SimpleGetWithQueryAndHeaders) {
  std::string in = "\r\nGET /a/b?x=1&y HTTP/1.1\r\nHost: h\r\nX-Y:  v \r\n\r\nGET / HTTP/1.1\r\n\r\n";
  auto p = parse(in);
  ASSERT_EQ(p.res.status, ParseResult::kRequest);
  EXPECT_EQ(p.res.consumed, in.find("GET /", 3));
  EXPECT_EQ(p.req.method, "GET");
  EXPECT_EQ(p.req.path, "/a/b");
  EXPECT_EQ(p.req.query, "x=1&y");
  EXPECT_EQ(p.req.minor, 1);
  EXPECT_TRUE(p.req.keep_alive);
  EXPECT_EQ(p.req.header("x-y"), "v");
  EXPECT_EQ(p.req.header("absent"), "");
}

TEST(TargetRequestParser, IncompleteHeadAndBodyNeedMore) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\n").res.status, ParseResult::kNeedMore);
  auto p = parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nab");
  EXPECT_EQ(p.res.status, ParseResult::kNeedMore);
  EXPECT_TRUE(p.res.expect_continue);
  p = parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcdeX");
  ASSERT_EQ(p.res.status, ParseResult::kRequest);
  EXPECT_EQ(p.req.body, "abcde");
}

TEST(TargetRequestParser, ChunkedBodyIsDecoded) {
  auto p = parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n");
  ASSERT_EQ(p.res.status, ParseResult::kRequest);
  EXPECT_EQ(p.req.body, "abcde");
}

// A chunk's data must be followed by CRLF; the parser used to skip any two bytes.
TEST(TargetRequestParser, ChunkWithoutCrlfAfterDataIsRejected) {
  auto p = parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n");
  ASSERT_EQ(p.res.status, ParseResult::kError);
  EXPECT_EQ(p.res.error_status, 400);
}

// "HTTP/1.x" used to be taken as HTTP/1.72.
TEST(TargetRequestParser, NonDigitMinorVersionIsRejected) {
  auto p = parse("GET / HTTP/1.x\r\n\r\n");
  ASSERT_EQ(p.res.status, ParseResult::kError);
  EXPECT_EQ(p.res.error_status, 400);
  p = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(p.res.status, ParseResult::kRequest);
  EXPECT_EQ(p.req.minor, 0);
  EXPECT_FALSE(p.req.keep_alive);
}

TEST(TargetRequestParser, Errors) {
  EXPECT_EQ(parse("GARBAGE\r\n\r\n").res.error_status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nno colon\r\n\r\n").res.error_status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n").res.error_status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", {64, 10}).res.error_status, 413);
  EXPECT_EQ(parse(std::string(100, 'a'), {64, 10}).res.error_status, 431);
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").res.error_status, 400);
}

TEST(FormUrlencoded, DecodesAndSplits) {
  EXPECT_EQ(url_decode("a+b%20c%2x%"), "a b c%2x%");
  auto q = parse_query("a=1&&b&c=%41%42&a=2");
  ASSERT_EQ(q.size(), 4u);
  EXPECT_EQ(q[1].first, "b");
  EXPECT_EQ(q[2].second, "AB");
  EXPECT_EQ(query_param("a=1&a=2", "a"), "1");
  EXPECT_EQ(query_param("x%41=1", "xA"), "1");
  EXPECT_EQ(query_param("a=1", "b"), "");
  // from_chars took a sign: "%-1" decoded to byte 0xff in the old semantics_routes copy.
  EXPECT_EQ(query_param("a=%-1", "a"), "%-1");
}

}  // namespace
}  // namespace herd::target
