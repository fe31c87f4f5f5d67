// The target's GET /ws echo route over a raw loopback socket.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "target/server.h"
#include "ws/frame.h"
#include "ws/handshake.h"

namespace herd::target {
namespace {

class WsRoute : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(ServerOptions{.host = "127.0.0.1", .port = 0, .threads = 1});
    server_->start();
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(server_->port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
    server_->stop();
  }
  void put(const std::string& s) {
    ASSERT_EQ(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
  }
  /// Reads until `done(buffer)` or EOF/timeout.
  template <typename F>
  std::string get(F done) {
    std::string buf;
    char tmp[65536];
    while (!done(buf)) {
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) break;
      buf.append(tmp, static_cast<std::size_t>(n));
    }
    return buf;
  }
  std::string upgrade(const std::string& extra = "") {
    put("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
        "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        extra + "\r\n");
    return get([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
  }
  static std::string masked(ws::Opcode op, std::string_view p) {
    const std::uint8_t key[4] = {1, 2, 3, 4};
    std::string out;
    ws::append_frame(&out, op, p, true, key);
    return out;
  }

  std::unique_ptr<Server> server_;
  int fd_ = -1;
};

TEST_F(WsRoute, EchoesTextBinaryAnswersPingsAndCloses) {
  std::string head = upgrade("Sec-WebSocket-Protocol: chat, other\r\n");
  ASSERT_EQ(head.rfind("HTTP/1.1 101 ", 0), 0u) << head;
  EXPECT_NE(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Sec-WebSocket-Protocol: chat\r\n"), std::string::npos) << head;
  std::string big(200000, 'z');
  put(masked(ws::Opcode::kText, "hello") + masked(ws::Opcode::kBinary, big) + masked(ws::Opcode::kPing, "p") +
      masked(ws::Opcode::kClose, ws::close_payload(1000, "")));
  std::vector<ws::Event> ev;
  ws::Decoder d;
  std::string rest = head.substr(head.find("\r\n\r\n") + 4);
  ASSERT_TRUE(d.feed(rest, &ev));
  std::string more = get([&](const std::string& b) {
    (void)b;
    return false;  // until the server closes
  });
  ASSERT_TRUE(d.feed(more, &ev)) << d.error();
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].data, "hello");
  EXPECT_EQ(ev[1].kind, ws::Event::Kind::kBinary);
  EXPECT_EQ(ev[1].data.size(), big.size());
  EXPECT_EQ(ev[2].kind, ws::Event::Kind::kPong);
  EXPECT_EQ(ev[3].kind, ws::Event::Kind::kClose);
  EXPECT_EQ(ev[3].close_code, 1000);
}

TEST_F(WsRoute, UnmaskedClientFramesAreAProtocolError) {
  std::string head = upgrade();
  ASSERT_EQ(head.rfind("HTTP/1.1 101 ", 0), 0u) << head;
  std::string frame;
  ws::append_frame(&frame, ws::Opcode::kText, "x", true, nullptr);
  put(frame);
  std::string more = get([](const std::string&) { return false; });
  std::vector<ws::Event> ev;
  ws::Decoder d;
  ASSERT_TRUE(d.feed(head.substr(head.find("\r\n\r\n") + 4) + more, &ev));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].close_code, ws::kCloseProtocolError);
}

TEST_F(WsRoute, APlainGetIs400) {
  put("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r = get([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
  EXPECT_EQ(r.rfind("HTTP/1.1 400 ", 0), 0u) << r;
}

}  // namespace
}  // namespace herd::target
