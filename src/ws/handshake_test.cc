#include "ws/handshake.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace herd::ws {
namespace {

TEST(WsHandshake, AcceptValueIsTheRfcExample) {
  EXPECT_EQ(accept_for("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  std::string k = make_key();
  EXPECT_EQ(k.size(), 24u);
  EXPECT_NE(k, make_key());
}

TEST(WsHandshake, RequestCarriesProtocolsAndHeadersAndRefusesInjection) {
  UpgradeRequest r;
  r.host_header = "127.0.0.1:8080";
  r.target = "/chat?x=1";
  r.key = "dGhlIHNhbXBsZSBub25jZQ==";
  r.protocols = {"chat", "superchat"};
  r.headers = {{"Cookie", "a=b"}};
  std::string s = build_request(r);
  EXPECT_EQ(s.rfind("GET /chat?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n", 0), 0u);
  EXPECT_NE(s.find("Sec-WebSocket-Protocol: chat, superchat\r\n"), std::string::npos);
  EXPECT_NE(s.find("Cookie: a=b\r\n"), std::string::npos);
  EXPECT_EQ(s.substr(s.size() - 4), "\r\n\r\n");
  r.headers = {{"X", "a\r\nEvil: 1"}};
  EXPECT_THROW(build_request(r), std::invalid_argument);
  r.headers = {{"Sec-WebSocket-Key", "x"}};
  EXPECT_THROW(build_request(r), std::invalid_argument);
  r.headers = {};
  r.protocols = {"a b"};
  EXPECT_THROW(build_request(r), std::invalid_argument);
}

TEST(WsHandshake, ParsesAndChecksTheAnswer) {
  UpgradeRequest r;
  r.key = "dGhlIHNhbXBsZSBub25jZQ==";
  r.protocols = {"chat"};
  std::string ok =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\nframes";
  ResponseHead h;
  EXPECT_EQ(parse_response_head(ok.substr(0, 20), &h), 0u);
  std::size_t used = parse_response_head(ok, &h);
  EXPECT_EQ(used, ok.find("\r\n\r\n") + 4);
  EXPECT_EQ(h.status, 101);
  EXPECT_EQ(h.get("upgrade"), "websocket");
  std::string proto;
  EXPECT_EQ(check_upgrade(h, r, &proto), "");
  EXPECT_EQ(proto, "chat");

  std::string wrong = ok;
  wrong.replace(wrong.find("s3pP"), 4, "AAAA");
  ASSERT_GT(parse_response_head(wrong, &h), 0u);
  EXPECT_NE(check_upgrade(h, r, &proto).find("Sec-WebSocket-Accept"), std::string::npos);

  std::string other = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
  ASSERT_GT(parse_response_head(other, &h), 0u);
  EXPECT_EQ(h.status, 403);
  EXPECT_EQ(check_upgrade(h, r, &proto), "websocket: bad handshake");

  std::string unoffered = ok;
  unoffered.replace(unoffered.find("Protocol: chat"), 14, "Protocol: xxxx");
  ASSERT_GT(parse_response_head(unoffered, &h), 0u);
  EXPECT_NE(check_upgrade(h, r, &proto).find("not offered"), std::string::npos);

  EXPECT_THROW(parse_response_head("FOO/1.1 101 X\r\n\r\n", &h), std::runtime_error);
  EXPECT_THROW(parse_response_head("HTTP/1.1 101 X\r\nbad line\r\n\r\n", &h), std::runtime_error);
  EXPECT_THROW(parse_response_head(std::string(100, 'x'), &h, 50), std::runtime_error);
}

}  // namespace
}  // namespace herd::ws
