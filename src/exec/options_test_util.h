#pragma once
// Shared helpers of the option-resolution tests (options_test.cc,
// options_scenarios_test.cc).

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>

#include "exec/options.h"

namespace herd::exec::testing {

using json = nlohmann::json;
using namespace std::chrono_literals;
using Env = std::map<std::string, std::string>;

inline Options resolve(const json& script, const Env& env = {}, const CliOverrides& cli = {}) {
  return resolve_options(script, env, cli);
}

// The OptionsError message of `fn`, or "<no error>".
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const OptionsError& e) {
    return e.what();
  }
  return "<no error>";
}

inline std::string script_error(const json& script, const Env& env = {}, const CliOverrides& cli = {}) {
  return error_of([&] { resolve(script, env, cli); });
}

#define EXPECT_CONTAINS(haystack, needle)                          \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "expected \"" << (needle) << "\" in: " << (haystack)

}  // namespace herd::exec::testing
