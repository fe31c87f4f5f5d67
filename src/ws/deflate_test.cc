#include "ws/deflate.h"

#include <gtest/gtest.h>

#include <string>

#include "ws/frame.h"

namespace herd::ws {
namespace {

TEST(WsDeflate, ParsesTheServersAnswer) {
  DeflateParams p;
  EXPECT_EQ(parse_deflate_answer("permessage-deflate", &p), "");
  EXPECT_FALSE(p.server_no_context_takeover);
  EXPECT_EQ(p.client_max_window_bits, 15);
  EXPECT_EQ(parse_deflate_answer("permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                                 "server_max_window_bits=10; client_max_window_bits=\"12\"",
                                 &p),
            "");
  EXPECT_TRUE(p.server_no_context_takeover);
  EXPECT_TRUE(p.client_no_context_takeover);
  EXPECT_EQ(p.server_max_window_bits, 10);
  EXPECT_EQ(p.client_max_window_bits, 12);
  for (const char* bad : {"x-webkit-deflate-frame", "permessage-deflate; foo", "permessage-deflate, permessage-deflate",
                          "permessage-deflate; client_max_window_bits=16", "permessage-deflate; server_max_window_bits",
                          "permessage-deflate; server_no_context_takeover=1",
                          "permessage-deflate; server_no_context_takeover; server_no_context_takeover"})
    EXPECT_NE(parse_deflate_answer(bad, &p), "") << bad;
}

TEST(WsDeflate, RoundTripsWithAndWithoutContextTakeover) {
  for (bool no_takeover : {false, true}) {
    Deflater d(15, no_takeover);
    Inflater in(no_takeover, 1 << 20);
    std::string msg(100000, 'a');
    std::string first = d.compress(msg), second = d.compress(msg);
    EXPECT_LT(first.size(), 1000u);
    if (!no_takeover) {
      EXPECT_LT(second.size(), first.size());  // the window still holds the first message
    }
    std::string out, err;
    ASSERT_EQ(in.inflate(first, &out, &err), 0) << err;
    EXPECT_EQ(out, msg);
    ASSERT_EQ(in.inflate(second, &out, &err), 0) << err;
    EXPECT_EQ(out, msg);
    ASSERT_EQ(in.inflate(d.compress(""), &out, &err), 0) << err;
    EXPECT_EQ(out, "");
  }
}

TEST(WsDeflate, StopsAtTheLimitAndRefusesGarbage) {
  Deflater d(15, false);
  std::string bomb = d.compress(std::string(1 << 20, '\0'));
  EXPECT_LT(bomb.size(), 2000u);
  Inflater small(false, 64 * 1024);
  std::string out, err;
  EXPECT_EQ(small.inflate(bomb, &out, &err), kCloseTooBig);
  EXPECT_LE(out.size(), 64u * 1024);
  EXPECT_NE(err.find("read limit exceeded"), std::string::npos);
  Inflater bad(false, 1 << 20);
  EXPECT_EQ(bad.inflate("\xff\xff\xff\xff garbage", &out, &err), kCloseInvalidData);
  EXPECT_NE(err.find("invalid compressed message"), std::string::npos);
}

TEST(WsDeflate, DecoderAcceptsRsv1OnlyWhenNegotiatedAndOnDataMessages) {
  std::string wire;
  append_frame(&wire, Opcode::kText, "zz", true, nullptr, true);
  std::vector<Event> ev;
  Decoder plain;
  EXPECT_FALSE(plain.feed(wire, &ev));
  EXPECT_EQ(plain.close_code(), kCloseProtocolError);
  Decoder dec;
  dec.allow_compression();
  ASSERT_TRUE(dec.feed(wire, &ev));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].compressed);
  std::string ping;
  append_frame(&ping, Opcode::kPing, "p", true, nullptr, true);
  EXPECT_FALSE(dec.feed(ping, &ev));
  Decoder cont;
  cont.allow_compression();
  std::string frag;
  append_frame(&frag, Opcode::kText, "a", false, nullptr, true);
  append_frame(&frag, Opcode::kContinuation, "b", true, nullptr, true);
  EXPECT_FALSE(cont.feed(frag, &ev));
}

}  // namespace
}  // namespace herd::ws
