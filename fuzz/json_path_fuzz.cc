// libFuzzer target: the Response.json() selector parser and evaluator
// (k6/json_path.h) must never crash or recurse without bound: any input either
// selects a value, selects nothing, or is refused with JsonPathError. A
// selector that parses must evaluate without any other exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "k6/json_path.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const nlohmann::ordered_json doc = nlohmann::ordered_json::parse(
      R"({"a":{"b":[1,2,{"c":"x"}]},"items":[{"id":1,"n":"x","t":[true]},{"id":2,"n":"y"}],"e":[],"z":null})");
  std::string_view path(reinterpret_cast<const char*>(data), size);
  try {
    auto steps = herd::k6::parse_json_path(path);
    if (steps.empty()) std::abort();
    auto r = herd::k6::select_json_path(doc, path);
    if (r) (void)r->dump();
  } catch (const herd::k6::JsonPathError&) {
  }
  return 0;
}
