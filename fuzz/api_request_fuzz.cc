// libFuzzer target: the control API's request-head reader (api/http_request.h)
// must never crash, must accept only well-formed heads, and must give the same
// answer whether the bytes arrive at once or in pieces (its `scan` resumption).
// Pipelined requests are read one after another, bodies skipped by Content-Length.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/http_request.h"

namespace {

using herd::api::HeadLimits;
using herd::api::HeadRead;
using herd::api::HttpRequest;

constexpr HeadLimits kLimits{2048, 4096};

void check_head(const HeadRead& h, const HttpRequest& req) {
  if (h.status != HeadRead::kHead) return;
  if (h.head_len == 0 || h.head_len > kLimits.max_header_bytes) std::abort();
  if (req.method.empty() || req.method.size() > 32) std::abort();
  if (req.target.empty() || req.target[0] != '/') std::abort();
  if (req.minor < 0 || req.minor > 9) std::abort();
  if (req.content_length > kLimits.max_body_bytes || req.has_transfer_encoding) std::abort();
  // the router's path decoding and JSON depth scan run on what the head carries
  (void)herd::api::pct_decode(req.target);
  (void)herd::api::json_depth(req.target, 8);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t piece = 1 + data[0] % 16;  // incremental feeding granularity
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  for (int requests = 0; requests < 16 && !in.empty(); ++requests) {
    HttpRequest whole_req;
    std::size_t scan = 0;
    HeadRead whole = herd::api::read_request_head(in, scan, kLimits, whole_req);
    if (whole.skip > in.size() || whole.skip + whole.head_len > in.size()) std::abort();
    check_head(whole, whole_req);

    // The same bytes in pieces of `piece` bytes, as a connection would read them.
    std::string buf;
    std::size_t fed = 0, skipped = 0;
    scan = 0;
    HttpRequest part_req;
    HeadRead part;
    while (fed < in.size()) {
      std::size_t n = std::min(piece, in.size() - fed);
      buf.append(in.substr(fed, n));
      fed += n;
      part = herd::api::read_request_head(buf, scan, kLimits, part_req);
      if (part.skip > buf.size()) std::abort();
      buf.erase(0, part.skip);
      skipped += part.skip;
      if (part.status != HeadRead::kNeedMore) break;
    }
    if (part.status != whole.status) std::abort();
    if (whole.status == HeadRead::kError && part.error.status != whole.error.status) std::abort();
    if (whole.status != HeadRead::kHead) return 0;
    if (skipped != whole.skip || part.head_len != whole.head_len || part_req.method != whole_req.method ||
        part_req.target != whole_req.target || part_req.content_length != whole_req.content_length ||
        part_req.keep_alive != whole_req.keep_alive)
      std::abort();
    std::size_t used = whole.skip + whole.head_len;
    used += static_cast<std::size_t>(std::min<std::uint64_t>(whole_req.content_length, in.size() - used));
    in.remove_prefix(used);
  }
  return 0;
}
