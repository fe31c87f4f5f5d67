// libFuzzer target: arbitrary bytes, parsed as JSON, become a script's
// `options`. resolve_options may reject them (OptionsError) but must never
// crash, hang or throw anything else. An optional "__env" object of strings in
// the input is used as the K6_* environment, to reach the environment parsers.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "exec/options.h"
#include "exec/plan.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const nlohmann::json script = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (script.is_discarded()) return 0;

  std::map<std::string, std::string> environ;
  if (script.is_object()) {
    auto it = script.find("__env");
    if (it != script.end() && it->is_object()) {
      for (auto e = it->begin(); e != it->end(); ++e) {
        if (e.value().is_string()) environ[e.key()] = e.value().get<std::string>();
      }
    }
  }

  try {
    herd::exec::Options o = herd::exec::resolve_options(script, environ, herd::exec::CliOverrides{});
    if (o.scenarios.empty()) __builtin_trap();  // contract: never empty
    (void)o.to_json().dump();
    (void)herd::exec::execution_requirements(o.scenarios);
    for (const auto& s : o.scenarios) {
      (void)herd::exec::ramping_vus_at(s, s.start_time);
      (void)herd::exec::ramping_rate_at(s, s.duration);
    }
  } catch (const herd::exec::OptionsError&) {
  }
  return 0;
}
