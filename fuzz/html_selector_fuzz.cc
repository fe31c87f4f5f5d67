// libFuzzer target: selector text (first line of the input) and an HTML page
// (the rest) must never crash the parser, the matcher or the serializer, and
// every element a selector finds must match that selector again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "html/document.h"
#include "html/selector.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t nl = in.find('\n');
  std::string_view sel_text = in.substr(0, nl);
  std::string_view page =
      nl == std::string_view::npos ? "<div id=a class='b c'><p>x</p><p>y</p></div>" : in.substr(nl + 1);
  if (page.size() > 8192) return 0;  // gumbo is quadratic on deep nesting; keep runs fast
  auto doc = herd::html::Document::parse(page);
  std::string err;
  auto sel = herd::html::parse_selector(sel_text, &err);
  if (!sel) {
    if (err.empty()) std::abort();
    return 0;
  }
  for (herd::html::Node n : herd::html::select_descendants(*sel, {doc->root()})) {
    if (!herd::html::matches(*sel, n)) std::abort();
    (void)herd::html::outer_html(n);
  }
  (void)herd::html::text_content(doc->root());
  return 0;
}
