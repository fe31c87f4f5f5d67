// libFuzzer target: parse_yaml_documents must never crash and only throw
// kube::Error; what it returns must serialise as JSON.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/config.h"
#include "kube/yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    for (const auto& doc : herd::kube::parse_yaml_documents(text)) {
      (void)doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  } catch (const herd::kube::Error&) {
  }
  return 0;
}
