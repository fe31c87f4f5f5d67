// libFuzzer target: kube::WatchDecoder (the watch stream -> JSON events
// splitter). It must never crash and only throw kube::Error (ApiError for
// ERROR events) or std::length_error; feeding the stream in two chunks at any
// cut must give the same events and the same outcome as feeding it whole.
// The first byte picks the cut; the rest is the stream.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "kube/client.h"

namespace {

struct Outcome {
  std::vector<std::string> events;  ///< "type object"
  std::string error;                ///< "" when the stream decoded to the end
  std::string resource_version;
};

Outcome decode(std::string_view stream, std::size_t cut) {
  Outcome out;
  herd::kube::WatchDecoder d("fuzz", 4096);
  auto on_event = [&](std::string_view type, const nlohmann::json& object) {
    out.events.push_back(std::string(type) + " " +
                         object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  };
  try {
    d.feed(stream.substr(0, cut), on_event);
    d.feed(stream.substr(cut), on_event);
    d.finish(on_event);
  } catch (const herd::kube::Error& e) {
    out.error = e.what();
  } catch (const std::length_error& e) {
    out.error = e.what();
  }
  out.resource_version = d.resource_version();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::size_t cut = stream.empty() ? 0 : data[0] % (stream.size() + 1);
  Outcome whole = decode(stream, stream.size());
  Outcome split = decode(stream, cut);
  // A line over the limit may be noticed in a different place when split;
  // everything else must agree exactly.
  bool overlong = whole.error.find("longer than the limit") != std::string::npos ||
                  split.error.find("longer than the limit") != std::string::npos;
  if (!overlong && (whole.events != split.events || whole.error != split.error ||
                    whole.resource_version != split.resource_version)) {
    std::abort();
  }
  return 0;
}
