#pragma once
// permessage-deflate (RFC 7692) with zlib: the offer, the check of the
// server's answer, and per-message compression and decompression. The
// inflater stops at a size limit, so a small hostile message cannot make the
// client allocate more than that (no zip bomb).

#include <zlib.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace herd::ws {

/// What the client offers: the extension with client_max_window_bits (the
/// server may then lower our window).
inline constexpr std::string_view kDeflateOffer = "permessage-deflate; client_max_window_bits";

/// The parameters the server answered with.
struct DeflateParams {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 15;
  int client_max_window_bits = 15;
};

/// Parses the server's Sec-WebSocket-Extensions answer to kDeflateOffer.
/// Returns "" (with `out` set) or why the answer is not acceptable.
std::string parse_deflate_answer(std::string_view header, DeflateParams* out);

/// Compresses whole messages (one deflate stream, Z_SYNC_FLUSH per message,
/// the 00 00 FF FF tail removed).
class Deflater {
 public:
  /// Throws std::runtime_error when zlib cannot start.
  Deflater(int window_bits, bool no_context_takeover);
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  std::string compress(std::string_view message);

 private:
  z_stream z_{};
  bool reset_each_ = false;
};

/// Decompresses whole messages, at most `max_size` bytes each.
class Inflater {
 public:
  Inflater(bool no_context_takeover, std::size_t max_size);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  /// Inflates `payload` (a compressed message) into `out`. Returns 0, or the
  /// close code when it fails (1009: over the limit, 1007: not valid deflate
  /// data) with `error` set. After a failure the inflater is unusable.
  int inflate(std::string_view payload, std::string* out, std::string* error);

 private:
  z_stream z_{};
  bool reset_each_ = false;
  std::size_t max_ = 0;
};

}  // namespace herd::ws
