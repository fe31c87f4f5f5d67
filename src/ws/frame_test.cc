#include "ws/frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace herd::ws {
namespace {

const std::uint8_t kKey[4] = {0x37, 0xfa, 0x21, 0x3d};

std::string frame(Opcode op, std::string_view p, bool fin = true, bool masked = false) {
  std::string out;
  append_frame(&out, op, p, fin, masked ? kKey : nullptr);
  return out;
}

TEST(WsFrame, SerializesTheRfcExamples) {
  // RFC 6455 5.7: a single-frame unmasked text message "Hello" and its masked twin.
  EXPECT_EQ(frame(Opcode::kText, "Hello"), std::string("\x81\x05Hello", 7));
  EXPECT_EQ(frame(Opcode::kText, "Hello", true, true), std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11));
  EXPECT_EQ(frame(Opcode::kPing, "Hello"), std::string("\x89\x05Hello", 7));
  std::string big(256, 'x');
  EXPECT_EQ(frame(Opcode::kBinary, big).substr(0, 4), std::string("\x82\x7e\x01\x00", 4));
  std::string huge(65536, 'x');
  EXPECT_EQ(frame(Opcode::kBinary, huge).substr(0, 10), std::string("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10));
}

TEST(WsFrame, DecodesWholeAndBytePieceFeedsAlike) {
  std::string wire = frame(Opcode::kText, "Hel", false) + frame(Opcode::kPing, "p") +
                     frame(Opcode::kContinuation, "lo", true) + frame(Opcode::kBinary, std::string(70000, 'b')) +
                     frame(Opcode::kClose, close_payload(1001, "bye"));
  std::vector<Event> whole, pieces;
  Decoder a, b;
  ASSERT_TRUE(a.feed(wire, &whole)) << a.error();
  for (char c : wire) ASSERT_TRUE(b.feed(std::string_view(&c, 1), &pieces)) << b.error();
  ASSERT_EQ(whole.size(), 4u);
  ASSERT_EQ(pieces.size(), 4u);
  EXPECT_EQ(whole[0].kind, Event::Kind::kPing);  // control frames may come between fragments
  EXPECT_EQ(whole[1].kind, Event::Kind::kText);
  EXPECT_EQ(whole[1].data, "Hello");
  EXPECT_EQ(whole[2].kind, Event::Kind::kBinary);
  EXPECT_EQ(whole[2].data.size(), 70000u);
  EXPECT_EQ(whole[3].kind, Event::Kind::kClose);
  EXPECT_EQ(whole[3].close_code, 1001);
  EXPECT_EQ(whole[3].data, "bye");
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(whole[i].data, pieces[i].data);
  EXPECT_EQ(a.buffered(), 0u);
}

TEST(WsFrame, ServerSideUnmasks) {
  Decoder d(Decoder::Limits{1024, true});
  std::vector<Event> ev;
  ASSERT_TRUE(d.feed(frame(Opcode::kText, "Hello", true, true), &ev)) << d.error();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "Hello");
  Decoder c(Decoder::Limits{1024, true});
  EXPECT_FALSE(c.feed(frame(Opcode::kText, "Hello"), &ev));
  EXPECT_EQ(c.close_code(), kCloseProtocolError);
}

struct Bad {
  std::string wire;
  int code;
  const char* what;
};

TEST(WsFrame, ProtocolViolationsFailWithTheirCloseCode) {
  const Bad cases[] = {
      {std::string("\xc1\x00", 2), kCloseProtocolError, "reserved bits"},
      {std::string("\x83\x00", 2), kCloseProtocolError, "unknown opcode 3"},
      {std::string("\x8b\x00", 2), kCloseProtocolError, "unknown opcode 11"},
      {std::string("\x09\x00", 2), kCloseProtocolError, "fragmented control frame"},
      {std::string("\x89\x7e\x00\x7e", 4), kCloseProtocolError, "longer than 125"},
      {std::string("\x81\x80\0\0\0\0", 6), kCloseProtocolError, "masked frame"},
      {std::string("\x80\x00", 2), kCloseProtocolError, "continuation frame without"},
      {frame(Opcode::kText, "a", false) + frame(Opcode::kText, "b"), kCloseProtocolError, "before the fragmented"},
      {std::string("\x82\x7f\x80\0\0\0\0\0\0\0", 10), kCloseProtocolError, "most significant bit"},
      {std::string("\x88\x01\x03", 3), kCloseProtocolError, "1-byte payload"},
      {frame(Opcode::kClose, close_payload(1005, "")), kCloseProtocolError, "invalid close code 1005"},
      {frame(Opcode::kClose, close_payload(999, "")), kCloseProtocolError, "invalid close code 999"},
      {frame(Opcode::kClose, close_payload(2000, "")), kCloseProtocolError, "invalid close code 2000"},
      {frame(Opcode::kClose, close_payload(1000, "\xff")), kCloseInvalidData, "close reason"},
      {frame(Opcode::kText, "\xc3\x28"), kCloseInvalidData, "not valid UTF-8"},
      {frame(Opcode::kText, "\xed\xa0\x80"), kCloseInvalidData, "not valid UTF-8"},  // a surrogate
      {frame(Opcode::kText, "\xc0\xaf"), kCloseInvalidData, "not valid UTF-8"},      // overlong '/'
  };
  for (const auto& c : cases) {
    Decoder d;
    std::vector<Event> ev;
    EXPECT_FALSE(d.feed(c.wire, &ev)) << c.what;
    EXPECT_EQ(d.close_code(), c.code) << c.what;
    EXPECT_NE(d.error().find(c.what), std::string::npos) << d.error();
    EXPECT_FALSE(d.feed(frame(Opcode::kText, "ok"), &ev)) << "stays failed";
  }
}

TEST(WsFrame, MessageSizeLimitCountsFragmentsAndFailsBeforeThePayloadArrives) {
  Decoder d(Decoder::Limits{10, false});
  std::vector<Event> ev;
  ASSERT_TRUE(d.feed(frame(Opcode::kBinary, "0123456789"), &ev));
  ASSERT_TRUE(d.feed(frame(Opcode::kBinary, "012345", false), &ev));
  EXPECT_FALSE(d.feed(frame(Opcode::kContinuation, "6789X"), &ev));
  EXPECT_EQ(d.close_code(), kCloseTooBig);
  EXPECT_NE(d.error().find("read limit exceeded"), std::string::npos);
  Decoder e(Decoder::Limits{1000, false});
  EXPECT_FALSE(e.feed(std::string("\x82\x7f\0\0\0\x01\0\0\0\0", 10), &ev));  // 4 GiB announced, no payload
  EXPECT_EQ(e.close_code(), kCloseTooBig);
}

TEST(WsFrame, CloseWithoutCodeIsNoStatus) {
  Decoder d;
  std::vector<Event> ev;
  ASSERT_TRUE(d.feed(std::string("\x88\x00", 2), &ev));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].close_code, kCloseNoStatus);
}

TEST(WsFrame, Utf8Validation) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(valid_utf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(valid_utf8("\x80"));
  EXPECT_FALSE(valid_utf8("\xe0\x80\xaf"));  // overlong
  EXPECT_TRUE(valid_close_code(1000));
  EXPECT_TRUE(valid_close_code(4999));
  EXPECT_FALSE(valid_close_code(1006));
  EXPECT_FALSE(valid_close_code(1015));
  EXPECT_FALSE(valid_close_code(5000));
}

}  // namespace
}  // namespace herd::ws
