#include "ws/frame.h"

namespace herd::ws {

void append_frame(std::string* out, Opcode op, std::string_view payload, bool fin, const std::uint8_t* mask_key,
                  bool rsv1) {
  const std::size_t n = payload.size();
  out->push_back(static_cast<char>((fin ? 0x80 : 0x00) | (rsv1 ? 0x40 : 0x00) | static_cast<std::uint8_t>(op)));
  const std::uint8_t mask_bit = mask_key ? 0x80 : 0x00;
  if (n < 126) {
    out->push_back(static_cast<char>(mask_bit | n));
  } else if (n <= 0xFFFF) {
    out->push_back(static_cast<char>(mask_bit | 126));
    out->push_back(static_cast<char>(n >> 8));
    out->push_back(static_cast<char>(n & 0xFF));
  } else {
    out->push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xFF));
  }
  if (!mask_key) {
    out->append(payload);
    return;
  }
  out->append(reinterpret_cast<const char*>(mask_key), 4);
  const std::size_t at = out->size();
  out->append(payload);
  char* p = out->data() + at;
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<char>(p[i] ^ mask_key[i & 3]);
}

std::string close_payload(int code, std::string_view reason) {
  std::string p;
  if (code == 0) return p;
  p.push_back(static_cast<char>((code >> 8) & 0xFF));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason.substr(0, 123));  // a control frame carries at most 125 bytes
  return p;
}

bool valid_close_code(int code) {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;  // overlong
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

bool Decoder::fail(int code, std::string msg) {
  close_code_ = code;
  error_ = std::move(msg);
  buf_.clear();
  pos_ = 0;
  message_.clear();
  return false;
}

int Decoder::one(std::vector<Event>* out) {
  const std::size_t avail = buf_.size() - pos_;
  if (avail < 2) return 0;
  const auto* h = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
  const bool fin = (h[0] & 0x80) != 0;
  const unsigned rsv = h[0] & 0x70;
  const unsigned op = h[0] & 0x0F;
  const bool masked = (h[1] & 0x80) != 0;
  std::uint64_t len = h[1] & 0x7F;
  std::size_t head = 2;
  const bool control = (op & 0x8) != 0;
  if (rsv != 0 && !(limits_.compression && rsv == 0x40 && !control && op != 0x0))
    return fail(kCloseProtocolError, limits_.compression
                                         ? "websocket: reserved bits set (RSV1 only on a data message's "
                                           "first frame with permessage-deflate)"
                                         : "websocket: reserved bits set (no extension was negotiated)"),
           -1;
  if (op != 0x0 && op != 0x1 && op != 0x2 && op != 0x8 && op != 0x9 && op != 0xA)
    return fail(kCloseProtocolError, "websocket: unknown opcode " + std::to_string(op)), -1;
  if (control && !fin) return fail(kCloseProtocolError, "websocket: fragmented control frame"), -1;
  if (control && len > 125) return fail(kCloseProtocolError, "websocket: control frame longer than 125 bytes"), -1;
  if (masked != limits_.expect_masked)
    return fail(kCloseProtocolError,
                masked ? "websocket: the server sent a masked frame" : "websocket: the client sent an unmasked frame"),
           -1;
  if (len == 126) {
    if (avail < 4) return 0;
    len = (std::uint64_t{h[2]} << 8) | h[3];
    head = 4;
  } else if (len == 127) {
    if (avail < 10) return 0;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | h[2 + i];
    if (len >> 63) return fail(kCloseProtocolError, "websocket: frame length has its most significant bit set"), -1;
    head = 10;
  }
  if (!control) {
    if (op == 0x0 && !in_message_)
      return fail(kCloseProtocolError, "websocket: continuation frame without a message"), -1;
    if (op != 0x0 && in_message_)
      return fail(kCloseProtocolError, "websocket: new data frame before the fragmented message ended"), -1;
    const std::uint64_t so_far = in_message_ ? message_.size() : 0;
    if (len > limits_.max_message || so_far + len > limits_.max_message)
      return fail(kCloseTooBig,
                  "websocket: read limit exceeded (message over " + std::to_string(limits_.max_message) + " bytes)"),
             -1;
  }
  const std::size_t mask_len = masked ? 4 : 0;
  if (avail < head + mask_len || avail - head - mask_len < len) return 0;
  const unsigned char* key = h + head;
  const char* payload = buf_.data() + pos_ + head + mask_len;
  const auto n = static_cast<std::size_t>(len);
  auto take = [&](std::string* dst) {
    const std::size_t at = dst->size();
    dst->append(payload, n);
    if (masked)
      for (std::size_t i = 0; i < n; ++i) (*dst)[at + i] = static_cast<char>((*dst)[at + i] ^ key[i & 3]);
  };
  if (control) {
    Event e;
    take(&e.data);
    if (op == 0x9) {
      e.kind = Event::Kind::kPing;
    } else if (op == 0xA) {
      e.kind = Event::Kind::kPong;
    } else {
      e.kind = Event::Kind::kClose;
      if (e.data.size() == 1) return fail(kCloseProtocolError, "websocket: close frame with a 1-byte payload"), -1;
      if (e.data.empty()) {
        e.close_code = kCloseNoStatus;
      } else {
        e.close_code = (static_cast<unsigned char>(e.data[0]) << 8) | static_cast<unsigned char>(e.data[1]);
        e.data.erase(0, 2);
        if (!valid_close_code(e.close_code))
          return fail(kCloseProtocolError, "websocket: invalid close code " + std::to_string(e.close_code)), -1;
        if (!valid_utf8(e.data)) return fail(kCloseInvalidData, "websocket: close reason is not valid UTF-8"), -1;
      }
    }
    pos_ += head + mask_len + n;
    out->push_back(std::move(e));
    return 1;
  }
  if (op != 0x0) {
    in_message_ = true;
    message_text_ = op == 0x1;
    message_compressed_ = rsv != 0;
    message_.clear();
  }
  take(&message_);
  pos_ += head + mask_len + n;
  if (!fin) return 1;
  in_message_ = false;
  if (message_text_ && !message_compressed_ && !valid_utf8(message_))
    return fail(kCloseInvalidData, "websocket: text message is not valid UTF-8"), -1;
  Event e;
  e.kind = message_text_ ? Event::Kind::kText : Event::Kind::kBinary;
  e.data = std::move(message_);
  e.compressed = message_compressed_;
  message_ = std::string();
  out->push_back(std::move(e));
  return 1;
}

bool Decoder::feed(std::string_view bytes, std::vector<Event>* out) {
  if (failed()) return false;
  buf_.append(bytes);
  for (;;) {
    int r = one(out);
    if (r < 0) return false;
    if (r == 0) break;
  }
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 0 && pos_ * 2 >= buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return true;
}

}  // namespace herd::ws
