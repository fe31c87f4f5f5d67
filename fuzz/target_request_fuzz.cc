// libFuzzer target: herd target's request parser (target/request_parser.h)
// must never crash or read outside its input, and a request it returns must
// not depend on the bytes after it. Pipelined requests are parsed in turn; the
// query strings go through the shared form decoder.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "target/form_urlencoded.h"
#include "target/request_parser.h"

namespace {

using herd::target::ParseResult;
using herd::target::Request;
using herd::target::RequestLimits;

constexpr RequestLimits kLimits{2048, 4096};

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Request r;
  std::string chunks;
  for (int requests = 0; requests < 16 && !in.empty(); ++requests) {
    ParseResult p = herd::target::parse_request(in, r, chunks, kLimits);
    if (p.status == ParseResult::kError) {
      if (p.error_status != 400 && p.error_status != 413 && p.error_status != 431) std::abort();
      return 0;
    }
    if (p.status == ParseResult::kNeedMore) return 0;
    if (p.consumed == 0 || p.consumed > in.size()) std::abort();
    if (r.minor < 0 || r.minor > 9 || r.body.size() > kLimits.max_body_bytes) std::abort();
    if (!inside(r.method, in) || !inside(r.target, in) || !inside(r.path, in) || !inside(r.query, in)) std::abort();
    if (!inside(r.body, in) && !inside(r.body, chunks)) std::abort();
    for (const auto& [k, v] : r.headers)
      if (!inside(k, in) || !inside(v, in)) std::abort();
    for (const auto& [k, v] : herd::target::parse_query(r.query))
      if (k.size() + v.size() > r.query.size()) std::abort();

    // The same request, cut right after its end, parses the same.
    std::string body(r.body);
    Request again;
    std::string again_chunks;
    ParseResult q = herd::target::parse_request(in.substr(0, p.consumed), again, again_chunks, kLimits);
    if (q.status != ParseResult::kRequest || q.consumed != p.consumed || again.body != body ||
        again.target != r.target || again.keep_alive != r.keep_alive)
      std::abort();
    in.remove_prefix(p.consumed);
  }
  return 0;
}
