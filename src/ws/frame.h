#pragma once
// RFC 6455 framing: frames to bytes (masked or not) and an incremental decoder
// that turns bytes into whole messages and control frames, checking what the
// RFC asks an endpoint to check (reserved bits, opcodes, control frame rules,
// fragmentation order, close codes, UTF-8 of text and close reasons) and a
// message size limit. RSV1 is allowed on the first frame of a data message
// only when permessage-deflate was negotiated (ws/deflate.h); RSV2/RSV3 never.
// Pure: no I/O, no allocation beyond the message being assembled.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace herd::ws {

enum class Opcode : std::uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

/// Close codes used by the endpoint itself (RFC 6455 7.4.1).
inline constexpr int kCloseNormal = 1000;
inline constexpr int kCloseGoingAway = 1001;
inline constexpr int kCloseProtocolError = 1002;
inline constexpr int kCloseNoStatus = 1005;  ///< received a close frame without a code (never sent)
inline constexpr int kCloseAbnormal = 1006;  ///< the connection dropped without a close frame (never sent)
inline constexpr int kCloseInvalidData = 1007;
inline constexpr int kCloseTooBig = 1009;

/// Appends one frame. `mask_key` (4 bytes) masks the payload, as a client
/// must; null sends it unmasked, as a server does.
/// `rsv1` marks a compressed message (permessage-deflate).
void append_frame(std::string* out, Opcode op, std::string_view payload, bool fin, const std::uint8_t* mask_key,
                  bool rsv1 = false);
/// The payload of a close frame: the code (2 bytes, big-endian) and the reason.
/// `code` 0 gives an empty payload (no status).
std::string close_payload(int code, std::string_view reason);

/// True when `code` may appear in a close frame on the wire (1000-1003,
/// 1007-1014, 3000-4999).
bool valid_close_code(int code);
/// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool valid_utf8(std::string_view s);

/// What the decoder hands out: a whole data message or one control frame.
struct Event {
  enum class Kind { kText, kBinary, kPing, kPong, kClose };
  Kind kind = Kind::kText;
  std::string data;    ///< the message, the ping/pong payload, or the close reason
  int close_code = 0;  ///< kClose: the code, kCloseNoStatus when the frame had none
  /// kText/kBinary: RSV1 was set (permessage-deflate): `data` is still compressed
  /// and, for text, not yet checked for UTF-8.
  bool compressed = false;
};

class Decoder {
 public:
  struct Limits {
    std::size_t max_message = 64u << 20;  ///< whole (reassembled) message, in bytes
    bool expect_masked = false;           ///< a server decodes masked frames; a client refuses them
    bool compression = false;             ///< permessage-deflate negotiated: RSV1 allowed on data messages
  };
  Decoder() = default;
  explicit Decoder(Limits limits) : limits_(limits) {}

  /// Decodes `bytes` (any split), appending what completes to `out`. Returns
  /// false on a protocol violation: error() says what, close_code() is the
  /// code to close with (1002, 1007 or 1009). Once failed it stays failed.
  bool feed(std::string_view bytes, std::vector<Event>* out);
  const std::string& error() const { return error_; }
  int close_code() const { return close_code_; }
  bool failed() const { return close_code_ != 0; }
  /// Allows RSV1 from now on (permessage-deflate was negotiated after the decoder was made).
  void allow_compression() { limits_.compression = true; }
  /// Bytes of a frame or message received but not yet complete.
  std::size_t buffered() const { return buf_.size() - pos_ + message_.size(); }

 private:
  bool fail(int code, std::string msg);
  /// Parses one frame from buf_ at pos_; 1 = consumed one, 0 = needs more, -1 = failed.
  int one(std::vector<Event>* out);

  Limits limits_;
  std::string buf_;
  std::size_t pos_ = 0;
  bool in_message_ = false;  ///< a fragmented data message is being assembled
  bool message_text_ = false;
  bool message_compressed_ = false;
  std::string message_;
  std::string error_;
  int close_code_ = 0;
};

}  // namespace herd::ws
