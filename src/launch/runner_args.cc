#include "launch/runner_args.h"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string_view>

#include "exec/segment.h"
#include "flags/run_flags.h"

namespace herd::launch {

std::string segment_sequence(int n) {
  std::string s;
  for (int i = 0; i <= n; ++i) {
    if (i) s += ',';
    s += exec::Rational(i, n).to_string();
  }
  return s;
}

std::string segment_of(int i, int n) {
  return exec::Rational(i, n).to_string() + ":" + exec::Rational(i + 1, n).to_string();
}

namespace {

/// The run flags the coordinator (or the operator's runner Jobs) owns: not
/// passed to the runners. Every other flag of the CLI's table
/// (flags::run_flag_shapes) is passed through with its value.
constexpr std::string_view kOwnedFlags[] = {
    "summary-export",
    "report",
    "out",
    "no-summary",
    "quiet",
    "no-thresholds",
    "paused",
    "address",
    "no-setup",
    "linger",
    "no-teardown",
    "execution-segment",
    "execution-segment-sequence",
    "parallelism",
    "archive-out",
    "execution-requirements",
    "result-file",
    "help",
};

struct FlagInfo {
  std::string_view name;
  char shorthand;
  bool takes_value;
  bool drop;  ///< owned by the coordinator: not passed to runners
};

// Derived from the CLI's own flag table, so a flag added there is split correctly here.
const std::vector<FlagInfo>& flag_infos() {
  static const std::vector<FlagInfo> infos = [] {
    std::vector<FlagInfo> v;
    for (const flags::FlagShape& f : flags::run_flag_shapes()) {
      bool owned = std::find(std::begin(kOwnedFlags), std::end(kOwnedFlags), f.name) != std::end(kOwnedFlags);
      v.push_back({f.name, f.shorthand, f.takes_value, owned});
    }
    return v;
  }();
  return infos;
}

const FlagInfo* find_long(const std::string& n) {
  for (const auto& f : flag_infos())
    if (n == f.name) return &f;
  return nullptr;
}
const FlagInfo* find_short(char c) {
  for (const auto& f : flag_infos())
    if (f.shorthand == c) return &f;
  return nullptr;
}

}  // namespace

std::vector<std::string_view> coordinator_owned_flags() {
  return {std::begin(kOwnedFlags), std::end(kOwnedFlags)};
}

std::vector<std::string> runner_passthrough_args(const std::vector<std::string>& run_args) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < run_args.size(); ++i) {
    const std::string& a = run_args[i];
    if (a == "--") break;  // only positionals follow
    if (a.size() > 2 && a[0] == '-' && a[1] == '-') {
      std::string body = a.substr(2);
      auto eq = body.find('=');
      const FlagInfo* f = find_long(body.substr(0, eq));
      bool has_next_value = f && f->takes_value && eq == std::string::npos && i + 1 < run_args.size();
      if (f && f->drop) {
        if (has_next_value) ++i;
        continue;
      }
      out.push_back(a);
      if (has_next_value) out.push_back(run_args[++i]);
      continue;
    }
    if (a.size() > 1 && a[0] == '-') {
      std::string kept = "-";
      bool consumed_next = false;
      std::string value_part;
      for (std::size_t j = 1; j < a.size(); ++j) {
        const FlagInfo* f = find_short(a[j]);
        if (!f) {  // unknown: keep the rest as is
          kept += a.substr(j);
          break;
        }
        if (!f->takes_value) {
          if (j + 1 < a.size() && a[j + 1] == '=') {  // "-q=false"
            if (!f->drop) kept += a.substr(j);
            break;
          }
          if (!f->drop) kept += a[j];
          continue;
        }
        std::string rest = a.substr(j + 1);
        if (rest.empty() && i + 1 < run_args.size()) {
          consumed_next = true;
          value_part = run_args[i + 1];
        }
        if (!f->drop) {
          kept += a[j];
          kept += rest;
        }
        break;
      }
      if (consumed_next) ++i;
      bool last_takes_value = kept.size() > 1 && find_short(kept.back()) && find_short(kept.back())->takes_value;
      if (kept.size() > 1) out.push_back(kept);
      if (consumed_next && kept.size() > 1 && last_takes_value) out.push_back(value_part);
      continue;
    }
    // A positional (the script): dropped.
  }
  return out;
}

std::vector<std::string> output_values(const std::vector<std::string>& run_args) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < run_args.size(); ++i) {
    const std::string& a = run_args[i];
    if (a == "--") break;
    if (a.size() > 2 && a[0] == '-' && a[1] == '-') {
      std::string body = a.substr(2);
      auto eq = body.find('=');
      const FlagInfo* f = find_long(body.substr(0, eq));
      if (!f || !f->takes_value) continue;
      std::string value;
      if (eq != std::string::npos) {
        value = body.substr(eq + 1);
      } else if (i + 1 < run_args.size()) {
        value = run_args[++i];
      } else {
        continue;
      }
      if (f->name == "out") out.push_back(value);
      continue;
    }
    if (a.size() > 1 && a[0] == '-') {
      for (std::size_t j = 1; j < a.size(); ++j) {
        const FlagInfo* f = find_short(a[j]);
        if (!f) break;
        if (!f->takes_value) {
          if (j + 1 < a.size() && a[j + 1] == '=') break;  // "-q=false"
          continue;
        }
        std::string rest = a.substr(j + 1);
        if (!rest.empty() && rest[0] == '=') rest.erase(0, 1);
        if (a.size() == j + 1) {
          if (i + 1 >= run_args.size()) break;
          rest = run_args[++i];
        }
        if (f->name == "out") out.push_back(rest);
        break;
      }
    }
  }
  return out;
}

bool is_merged_output(std::string_view out_value) {
  std::string_view name = out_value.substr(0, out_value.find('='));
  return name == "experimental-prometheus-rw";
}

std::vector<std::string> local_runner_args(int i, int n, const std::string& script,
                                           const std::vector<std::string>& passthrough) {
  std::vector<std::string> a{"run",
                             "--paused",
                             "--address",
                             "127.0.0.1:0",
                             "--linger",
                             "--no-setup",
                             "--no-teardown",
                             "--no-thresholds",
                             "--execution-segment",
                             segment_of(i, n),
                             "--execution-segment-sequence",
                             segment_sequence(n),
                             "-q",
                             "--no-summary"};
  a.insert(a.end(), passthrough.begin(), passthrough.end());
  a.push_back("--");
  a.push_back(script);
  return a;
}

std::vector<std::string> split_arguments(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); i++) {
    char c = text[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < text.size()) {
        cur += text[++i];
      } else {
        cur += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < text.size()) {
      cur += text[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote) throw std::invalid_argument("unterminated quote");
  if (in_word) out.push_back(cur);
  return out;
}

}  // namespace herd::launch
