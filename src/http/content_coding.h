#pragma once
// HTTP content codings (RFC 9110 §8.4): gzip, deflate, br and zstd, as k6
// uses them. Responses: k6 sends no Accept-Encoding of its own but decodes a
// body whose Content-Encoding it knows (codings listed in the order applied,
// so decoded last to first; identity and unknown codings are skipped, and the
// Content-Encoding header is left as received). Requests: the `compression`
// param encodes the body with one or more codings.
//
// Decoding is streaming (fed as the body arrives, no copy of the whole encoded
// body) and bounded: a body that decodes past the limit, a corrupt stream or a
// truncated one fails with k6's error 1701 "error decompressing response body (...)".

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace herd::http {

/// k6's error code for a response body that cannot be decompressed.
inline constexpr int kDecompressionErrorCode = 1701;

/// Decoded bodies larger than this fail (decompression bombs): 256 MiB.
inline constexpr std::size_t kDefaultMaxDecodedBody = std::size_t{256} << 20;

/// A coding herd can apply or remove.
enum class Coding { kGzip, kDeflate, kBr, kZstd };

/// "gzip" -> kGzip, ...; false for anything else (including "identity").
bool parse_coding(std::string_view name, Coding* out);
/// The Content-Encoding token: "gzip", "deflate", "br", "zstd".
const char* coding_name(Coding c);

/// Streaming decoder for one response body. Not copyable; one per exchange.
class ContentDecoder {
 public:
  /// A decoder for the Content-Encoding header value `content_encoding`
  /// ("gzip", "gzip, br", ...); nullptr when it names no coding to undo
  /// (absent, identity, unknown codings), so the body is kept as received.
  static std::unique_ptr<ContentDecoder> create(std::string_view content_encoding,
                                                std::size_t max_output = kDefaultMaxDecodedBody);
  ~ContentDecoder();
  ContentDecoder(const ContentDecoder&) = delete;
  ContentDecoder& operator=(const ContentDecoder&) = delete;

  /// Decodes the next `len` encoded bytes, appending the output to `*out`.
  /// False on a corrupt stream or when the output passes the limit; error()
  /// then says why and later calls do nothing.
  bool feed(const char* data, std::size_t len, std::string* out);
  /// The body ended: false (with error()) when a stream is incomplete.
  bool finish();
  /// k6's message: "error decompressing response body (gzip: ...)"; "" while fine.
  const std::string& error() const { return error_; }

  struct Stage;  ///< one coding's decompressor (content_coding.cc)

 private:
  ContentDecoder() = default;
  bool fail(const std::string& what);
  std::vector<std::unique_ptr<Stage>> stages_;  ///< in decoding order (last coding applied first)
  std::vector<std::string> scratch_;            ///< output of every stage but the last
  std::string error_;
};

/// Encodes `body` with `codings` in order (k6's `compression: "gzip, br"`).
/// Throws std::runtime_error if a library call fails.
std::string encode_content(const std::string& body, const std::vector<Coding>& codings);

}  // namespace herd::http
