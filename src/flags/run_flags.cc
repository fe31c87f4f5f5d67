#include "flags/run_flags.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <limits>
#include <optional>
#include <string_view>

#include "exec/config_file.h"
#include "k6/secrets.h"
#include "util/duration.h"

namespace herd::flags {
namespace {

enum class Kind { kBool, kValue };

struct Flag {
  const char* name;  // long name without dashes
  char shorthand;    // 0 = none
  Kind kind;
  const char* arg;  // value placeholder for usage
  const char* help;
  // Applies the value; throws std::invalid_argument-ish (via FlagError reasons) on a bad value.
  std::function<void(RunFlags&, const std::string&)> apply;
};

std::string display(const Flag& f) {
  std::string s;
  if (f.shorthand) {
    s += '-';
    s += f.shorthand;
    s += ", ";
  }
  s += "--";
  s += f.name;
  return s;
}

// The reason a value is malformed; turned into FlagError by the caller.
struct BadValue {
  std::string reason;
};

std::int64_t to_int(const std::string& v) {
  std::size_t i = (!v.empty() && (v[0] == '-' || v[0] == '+')) ? 1 : 0;
  if (i >= v.size()) throw BadValue{"not an integer"};
  for (std::size_t j = i; j < v.size(); ++j) {
    if (v[j] < '0' || v[j] > '9') throw BadValue{"not an integer"};
  }
  errno = 0;
  long long r = std::strtoll(v.c_str(), nullptr, 10);
  if (errno == ERANGE) throw BadValue{"value out of range"};
  return r;
}

int to_small_int(const std::string& v) {
  std::int64_t r = to_int(v);
  if (r < std::numeric_limits<int>::min() || r > std::numeric_limits<int>::max()) {
    throw BadValue{"value out of range"};
  }
  return static_cast<int>(r);
}

// Go's strconv.ParseBool, as pflag uses for "--flag=value".
bool to_bool(const std::string& v) {
  if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False") return false;
  throw BadValue{"not a boolean"};
}

std::pair<std::string, std::string> key_value(const std::string& v, bool require_eq) {
  auto eq = v.find('=');
  if (eq == std::string::npos && require_eq) throw BadValue{"expected KEY=VALUE"};
  std::string key = v.substr(0, eq);
  if (key.empty()) throw BadValue{"empty key"};
  return {key, eq == std::string::npos ? std::string() : v.substr(eq + 1)};
}

bool valid_env_name(const std::string& k) {
  if (k.empty() || (k[0] >= '0' && k[0] <= '9')) return false;
  for (char c : k) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// A repeatable list flag: each use adds its comma-separated items to the list.
void append_list(std::string& list, const std::string& v) {
  if (v.empty()) return;
  if (!list.empty()) list += ',';
  list += v;
}

std::vector<std::string> split_commas(const std::string& v) {
  std::vector<std::string> out;
  if (v.empty()) return out;
  std::size_t start = 0;
  while (true) {
    auto c = v.find(',', start);
    out.push_back(v.substr(start, c == std::string::npos ? std::string::npos : c - start));
    if (c == std::string::npos) break;
    start = c + 1;
  }
  return out;
}

using RF = RunFlags;
using S = const std::string&;

const std::vector<Flag>& table() {
  static const std::vector<Flag> table = {
      {"vus", 'u', Kind::kValue, "int", "number of virtual users (default 1)",
       [](RF& f, S v) { f.overrides.vus = to_int(v); }},
      {"duration", 'd', Kind::kValue, "duration", "test duration limit, e.g. 30s, 1m30s",
       [](RF& f, S v) {
         try {
           f.overrides.duration = util::parse_duration(v);
         } catch (const util::DurationError& e) {
           throw BadValue{e.what()};
         }
       }},
      {"iterations", 'i', Kind::kValue, "int", "script total iteration limit (among all VUs)",
       [](RF& f, S v) { f.overrides.iterations = to_int(v); }},
      {"stage", 's', Kind::kValue, "stage", "add a stage, as DURATION:TARGET (e.g. 30s:10); repeatable",
       [](RF& f, S v) {
         std::vector<exec::Stage> st;
         try {
           st = exec::parse_stages_flag(v);
         } catch (const exec::OptionsError& e) {
           throw BadValue{e.what()};
         }
         if (!f.overrides.stages) f.overrides.stages.emplace();
         f.overrides.stages->insert(f.overrides.stages->end(), st.begin(), st.end());
       }},
      {"env", 'e', Kind::kValue, "VAR=value", "add/override an environment variable (__ENV); repeatable",
       [](RF& f, S v) {
         auto [k, val] = key_value(v, false);
         if (!valid_env_name(k)) throw BadValue{"invalid environment variable name \"" + k + "\""};
         f.overrides.env[k] = val;
       }},
      {"tag", 0, Kind::kValue, "NAME=VALUE", "add a tag to be applied to all samples; repeatable",
       [](RF& f, S v) {
         auto [k, val] = key_value(v, true);
         f.overrides.tags[k] = val;
       }},
      {"summary-export", 0, Kind::kValue, "file", "output the end-of-test summary report to a JSON file",
       [](RF& f, S v) { f.overrides.summary_export = v; }},
      {"report", 0, Kind::kValue, "file",
       "write the HTML report (charts, summary, thresholds, checks, run data) to a file at the end",
       [](RF& f, S v) {
         if (v.empty()) throw BadValue{"needs a file name"};
         f.overrides.report = v;
       }},
      {"out", 'o', Kind::kValue, "uri",
       "stream samples: json=FILE (FILE.gz gzipped), json=- (stdout) or csv=FILE; repeatable",
       [](RF& f, S v) { f.overrides.outputs.push_back(v); }},
      {"no-summary", 0, Kind::kBool, "", "don't show the summary at the end of the test",
       [](RF& f, S v) { f.overrides.no_summary = to_bool(v); }},
      {"summary-mode", 0, Kind::kValue, "mode", "end-of-test summary mode: compact, full, legacy or disabled",
       [](RF& f, S v) { f.overrides.summary_mode = v; }},
      {"quiet", 'q', Kind::kBool, "", "disable the progress updates",
       [](RF& f, S v) { f.overrides.quiet = to_bool(v); }},
      {"no-thresholds", 0, Kind::kBool, "", "don't run thresholds",
       [](RF& f, S v) { f.overrides.no_thresholds = to_bool(v); }},
      {"summary-trend-stats", 0, Kind::kValue, "stats",
       "comma-separated trend stats for the summary (default avg,min,med,max,p(90),p(95))",
       [](RF& f, S v) { f.overrides.summary_trend_stats = split_commas(v); }},
      {"summary-time-unit", 0, Kind::kValue, "unit", "time unit for the summary: s, ms or us",
       [](RF& f, S v) { f.overrides.summary_time_unit = v; }},
      {"paused", 'p', Kind::kBool, "", "start the test in a paused state",
       [](RF& f, S v) { f.overrides.paused = to_bool(v); }},
      {"address", 'a', Kind::kValue, "host:port", "address for the REST API server", [](RF& f, S v) { f.address = v; }},
      {"http-debug", 0, Kind::kBool, "", "log HTTP requests and responses; --http-debug=full adds the bodies",
       [](RF& f, S v) {
         if (v == "true" || v == "headers") {
           f.overrides.http_debug = "headers";
         } else if (v == "full") {
           f.overrides.http_debug = "full";
         } else if (v == "false") {
           f.overrides.http_debug = "";
         } else {
           throw BadValue{"expected --http-debug or --http-debug=full"};
         }
       }},
      {"rps", 0, Kind::kValue, "int", "cap on requests started per second by this instance (0 = none)",
       [](RF& f, S v) { f.overrides.rps = to_int(v); }},
      {"batch", 0, Kind::kValue, "int", "max parallel requests in one http.batch() call (default 20)",
       [](RF& f, S v) { f.overrides.batch = to_int(v); }},
      {"batch-per-host", 0, Kind::kValue, "int", "max parallel requests to one host in http.batch() (default 6)",
       [](RF& f, S v) { f.overrides.batch_per_host = to_int(v); }},
      {"dns", 0, Kind::kValue, "spec", "DNS settings, e.g. ttl=1m,select=first,policy=preferIPv4",
       [](RF& f, S v) { f.overrides.net_flags["K6_DNS"] = v; }},
      {"local-ips", 0, Kind::kValue, "list", "source IPs, ranges or CIDRs for the VUs' connections",
       [](RF& f, S v) { f.overrides.net_flags["K6_LOCAL_IPS"] = v; }},
      {"blacklist-ip", 0, Kind::kValue, "CIDRs", "refuse requests to these IP ranges (repeatable, comma-separated)",
       [](RF& f, S v) { append_list(f.overrides.net_flags["K6_BLACKLIST_IPS"], v); }},
      {"block-hostnames", 0, Kind::kValue, "patterns",
       "refuse requests to these host names, e.g. *.example.com (repeatable, comma-separated)",
       [](RF& f, S v) { append_list(f.overrides.net_flags["K6_BLOCK_HOSTNAMES"], v); }},
      {"no-connection-reuse", 0, Kind::kBool, "", "open a new connection for every request",
       [](RF& f, S v) { f.overrides.no_connection_reuse = to_bool(v); }},
      {"no-vu-connection-reuse", 0, Kind::kBool, "", "don't keep a VU's connections from one iteration to the next",
       [](RF& f, S v) { f.overrides.net_flags["K6_NO_VU_CONNECTION_REUSE"] = to_bool(v) ? "true" : "false"; }},
      {"no-cookies-reset", 0, Kind::kBool, "", "keep the cookie jar of a VU across its iterations",
       [](RF& f, S v) { f.overrides.no_cookies_reset = to_bool(v); }},
      {"no-usage-report", 0, Kind::kBool, "", "accepted for k6 compatibility: herd never sends usage reports",
       [](RF&, S v) { (void)to_bool(v); }},
      {"no-setup", 0, Kind::kBool, "", "don't run setup()", [](RF& f, S v) { f.no_setup = to_bool(v); }},
      {"linger", 'l', Kind::kBool, "", "keep the API server alive past the test end (until stopped through it)",
       [](RF& f, S v) { f.linger = to_bool(v); }},
      {"no-teardown", 0, Kind::kBool, "", "don't run teardown()", [](RF& f, S v) { f.no_teardown = to_bool(v); }},
      {"execution-segment", 0, Kind::kValue, "segment", "limit execution to a segment, e.g. 1/4:1/2",
       [](RF& f, S v) { f.overrides.execution_segment = v; }},
      {"execution-segment-sequence", 0, Kind::kValue, "sequence", "the execution segment sequence, e.g. 0,1/4,1/2,1",
       [](RF& f, S v) { f.overrides.execution_segment_sequence = v; }},
      {"insecure-skip-tls-verify", 0, Kind::kBool, "", "skip verification of TLS certificates",
       [](RF& f, S v) { f.overrides.insecure_skip_tls_verify = to_bool(v); }},
      {"include-system-env-vars", 0, Kind::kBool, "", "pass the real system environment variables to the runtime",
       [](RF& f, S v) { f.overrides.include_system_env_vars = to_bool(v); }},
      {"user-agent", 0, Kind::kValue, "string", "user agent for HTTP requests",
       [](RF& f, S v) { f.overrides.user_agent = v; }},
      {"throw", 'w', Kind::kBool, "", "throw warnings (like failed HTTP requests) as errors",
       [](RF& f, S v) { f.overrides.throw_errors = to_bool(v); }},
      {"max-redirects", 0, Kind::kValue, "int", "follow at most n redirects (default 10)",
       [](RF& f, S v) { f.overrides.max_redirects = to_int(v); }},
      {"min-iteration-duration", 0, Kind::kValue, "duration", "pad shorter iterations with a sleep, e.g. 1s",
       [](RF& f, S v) {
         try {
           f.overrides.min_iteration_duration = util::parse_duration(v);
         } catch (const util::DurationError& e) {
           throw BadValue{e.what()};
         }
       }},
      {"discard-response-bodies", 0, Kind::kBool, "", "read but don't process or save HTTP response bodies",
       [](RF& f, S v) { f.overrides.discard_response_bodies = to_bool(v); }},
      {"workers", 0, Kind::kValue, "int", "worker threads (default 0 = one per core)",
       [](RF& f, S v) { f.overrides.workers = to_int(v); }},
      {"parallelism", 0, Kind::kValue, "int", "number of local distributed runners",
       [](RF& f, S v) {
         int n = to_small_int(v);
         if (n < 0) throw BadValue{"must not be negative"};
         f.parallelism = n;
       }},
      {"archive-out", 'O', Kind::kValue, "file", "archive output filename (archive)",
       [](RF& f, S v) { f.archive_out = v; }},
      {"execution-requirements", 0, Kind::kBool, "", "print the execution requirements (inspect)",
       [](RF& f, S v) { f.execution_requirements = to_bool(v); }},
      {"result-file", 0, Kind::kValue, "file",
       "also write the outcome as one line of JSON (<= 4096 bytes, for a termination message) (inspect, "
       "coordinator, run --parallelism)",
       [](RF& f, S v) {
         if (v.empty()) throw BadValue{"empty path"};
         f.result_file = v;
       }},
      {"config", 'c', Kind::kValue, "file", "JSON config file of options (the script's options override it)",
       [](RF& f, S v) {
         try {
           f.overrides.config_options = exec::load_config_file(v);
         } catch (const exec::OptionsError& e) {
           throw BadValue{e.what()};
         }
         f.overrides.config_file = v;
       }},
      {"log-output", 0, Kind::kValue, "dest", "where logs go: stderr, stdout, none, file=PATH",
       [](RF& f, S v) { f.log_output = v; }},
      {"log-format", 0, Kind::kValue, "format", "log line format: text (default), json or raw",
       [](RF& f, S v) {
         if (v != "text" && v != "json" && v != "raw") throw BadValue{"expected text, json or raw"};
         f.log_format = v;
       }},
      {"no-color", 0, Kind::kBool, "", "disable colored output", [](RF& f, S v) { f.no_color = to_bool(v); }},
      {"system-tags", 0, Kind::kValue, "tags", "comma-separated system tags samples carry, e.g. status,method,url",
       [](RF& f, S v) { f.overrides.system_tags = split_commas(v); }},
      {"console-output", 0, Kind::kValue, "file", "redirect console logging to the provided output file",
       [](RF& f, S v) { f.console_output = v; }},
      {"secret-source", 0, Kind::kValue, "source",
       "a k6/secrets source, repeatable: file=PATH, file=name=NAME,filename=PATH[,default], "
       "mock=KEY=VALUE[,name=NAME][,default]",
       [](RF& f, S v) {
         std::vector<std::string> all = f.overrides.secret_sources;
         all.push_back(v);
         try {
           k6::SecretSources::from_flags(all);
         } catch (const k6::SecretError& e) {
           throw BadValue{e.what()};
         }
         f.overrides.secret_sources = std::move(all);
       }},
      {"verbose", 'v', Kind::kBool, "", "enable verbose logging", [](RF& f, S v) { f.verbose = to_bool(v); }},
      {"help", 'h', Kind::kBool, "", "help for run", [](RF& f, S v) { f.help = to_bool(v); }},
  };
  return table;
}

// k6 flags herd does not implement: refused with the reason instead of "unknown flag".
// A flag that gains a row in table() is found there first; delete its row here then.
struct RefusedFlag {
  const char* name;
  const char* reason;
};
const RefusedFlag kRefusedFlags[] = {
    {"compatibility-mode", "herd runs ES modules and CommonJS through QuickJS; there is no mode to choose"},
    {"traces-output", "tracing output is not implemented"},
    {"profiling-enabled", "the profiling endpoints are not implemented"},
    {"exit-on-running", "not implemented"},
    {"local-execution", "cloud runs are not supported"},
    {"type", "herd detects archives (.tar) and scripts by their contents"},
    {"max", "deprecated in k6; use a scenario's maxVUs"},
    {"setup-timeout", "not implemented as a flag yet; use options.setupTimeout"},
    {"teardown-timeout", "not implemented as a flag yet; use options.teardownTimeout"},
};

const Flag* find_long(std::string_view name) {
  for (const Flag& f : table()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

const Flag* find_short(char c) {
  for (const Flag& f : table()) {
    if (f.shorthand == c) return &f;
  }
  return nullptr;
}

void apply(RunFlags& out, const Flag& f, const std::string& value) {
  try {
    f.apply(out, value);
  } catch (const BadValue& b) {
    throw FlagError("invalid argument \"" + value + "\" for \"" + display(f) + "\" flag: " + b.reason);
  }
}

}  // namespace

RunFlags parse_run_flags(const std::vector<std::string>& args) {
  RunFlags out;
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      positional.insert(positional.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (a.size() > 2 && a[0] == '-' && a[1] == '-') {
      std::string body = a.substr(2);
      auto eq = body.find('=');
      std::string name = body.substr(0, eq);
      const Flag* f = find_long(name);
      if (!f) {
        for (const RefusedFlag& r : kRefusedFlags) {
          if (name == r.name) throw FlagError("flag --" + name + " is not supported by herd (" + r.reason + ")");
        }
        throw FlagError("unknown flag: --" + name);
      }
      if (eq != std::string::npos) {
        apply(out, *f, body.substr(eq + 1));
      } else if (f->kind == Kind::kBool) {
        apply(out, *f, "true");
      } else {
        if (i + 1 >= args.size()) throw FlagError("flag needs an argument: --" + name);
        apply(out, *f, args[++i]);
      }
      continue;
    }
    if (a.size() > 1 && a[0] == '-' && a != "--") {
      // Shorthands: "-q", "-qv", "-u10", "-u=10", "-u 10".
      for (std::size_t j = 1; j < a.size(); ++j) {
        const Flag* f = find_short(a[j]);
        if (!f) {
          throw FlagError(std::string("unknown shorthand flag: '") + a[j] + "' in " + a);
        }
        std::string rest = a.substr(j + 1);
        if (f->kind == Kind::kBool) {
          if (!rest.empty() && rest[0] == '=') {
            apply(out, *f, rest.substr(1));
            break;
          }
          apply(out, *f, "true");
          continue;
        }
        if (!rest.empty()) {
          apply(out, *f, rest[0] == '=' ? rest.substr(1) : rest);
        } else if (i + 1 < args.size()) {
          apply(out, *f, args[++i]);
        } else {
          throw FlagError(std::string("flag needs an argument: '") + a[j] + "' in -" + a[j]);
        }
        break;
      }
      continue;
    }
    positional.push_back(a);  // includes "-" (stdin)
  }
  if (positional.size() > 1) {
    throw FlagError("accepts 1 arg(s), received " + std::to_string(positional.size()));
  }
  if (!positional.empty()) out.script = positional[0];
  return out;
}

std::string find_result_file(const std::vector<std::string>& args) {
  std::string found;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--result-file" && i + 1 < args.size())
      found = args[++i];
    else if (args[i].rfind("--result-file=", 0) == 0)
      found = args[i].substr(14);
  }
  return found;
}

std::vector<FlagShape> run_flag_shapes() {
  std::vector<FlagShape> out;
  for (const Flag& f : table()) out.push_back({f.name, f.shorthand, f.kind == Kind::kValue});
  return out;
}

std::string run_usage() {
  std::string s =
      "Start a test.\n"
      "\n"
      "Usage:\n"
      "  herd run [flags] <script.js | archive.tar | ->\n"
      "\n"
      "Flags:\n";
  std::vector<std::pair<std::string, std::string>> rows;
  std::size_t width = 0;
  for (const Flag& f : table()) {
    std::string left =
        f.shorthand ? std::string("  -") + f.shorthand + ", --" + f.name : std::string("      --") + f.name;
    if (f.kind == Kind::kValue) {
      left += ' ';
      left += f.arg;
    }
    width = std::max(width, left.size());
    rows.emplace_back(left, f.help);
  }
  for (const auto& [left, help] : rows) {
    s += left;
    s += std::string(width - left.size() + 3, ' ');
    s += help;
    s += '\n';
  }
  s += "\n"
       "Examples:\n"
       "  herd run script.js\n"
       "  herd run -u 10 -d 30s script.js\n"
       "  herd run -s 30s:10 -s 1m:20 -s 10s:0 script.js\n"
       "  herd run -e HOST=example.com --tag env=staging -o json=out.json script.js\n"
       "  cat script.js | herd run -          (the script, or an archive, on standard input)\n";
  return s;
}

}  // namespace herd::flags
