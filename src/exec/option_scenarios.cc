#include "exec/options_internal.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace herd::exec::optparse {
namespace {

constexpr microseconds kMinDuration{1'000'000};  // k6's minimum executor duration (1s)

const char* const kExecutors[] = {
    "shared-iterations",     "per-vu-iterations",    "constant-vus",          "ramping-vus",
    "constant-arrival-rate", "ramping-arrival-rate", "externally-controlled",
};

}  // namespace

// ---- scenarios ---------------------------------------------------------------

bool valid_scenario_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
  });
}

struct Presence {
  bool iterations = false;
  bool duration = false;
  bool stages = false;
  bool rate = false;
  bool pre_allocated_vus = false;
  bool max_vus = false;
};

std::vector<std::string> allowed_fields(const std::string& executor) {
  std::vector<std::string> f = {"executor", "startTime", "gracefulStop", "exec", "env", "tags", "options"};
  auto add = [&](std::initializer_list<const char*> more) { f.insert(f.end(), more.begin(), more.end()); };
  if (executor == "shared-iterations" || executor == "per-vu-iterations") {
    add({"vus", "iterations", "maxDuration"});
  } else if (executor == "constant-vus") {
    add({"vus", "duration"});
  } else if (executor == "ramping-vus") {
    add({"startVUs", "stages", "gracefulRampDown"});
  } else if (executor == "constant-arrival-rate") {
    add({"rate", "timeUnit", "duration", "preAllocatedVUs", "maxVUs"});
  } else if (executor == "ramping-arrival-rate") {
    add({"startRate", "timeUnit", "stages", "preAllocatedVUs", "maxVUs"});
  } else if (executor == "externally-controlled") {
    add({"vus", "maxVUs", "duration"});
  }
  return f;
}

void validate_scenario(ScenarioConfig& s, const Presence& has, const std::string& path) {
  const std::string& ex = s.executor;
  auto field = [&](const char* f) { return path + "." + f; };
  if (!valid_scenario_name(s.name)) {
    fail(path,
         "invalid scenario name " + quote(s.name) + " (only letters, digits, underscores and dashes are allowed)");
  }
  if (s.exec.empty()) fail(field("exec"), "must not be empty");
  check_non_negative(s.start_time, field("startTime"));
  check_non_negative(s.graceful_stop, field("gracefulStop"));

  auto positive = [&](std::int64_t v, const char* f) {
    if (v <= 0) fail(field(f), "must be greater than 0 (got " + std::to_string(v) + ")");
  };
  auto min_duration = [&](microseconds d, const char* f) {
    if (d < kMinDuration) {
      fail(field(f), "must be at least " + format_duration(kMinDuration) + " (got " + format_duration(d) + ")");
    }
  };
  auto stages_required = [&]() {
    if (!has.stages) fail(field("stages"), "is required for executor " + quote(ex));
    if (s.stages.empty()) fail(field("stages"), "must contain at least one stage");
    validate_stages(s.stages, field("stages"));
  };
  auto max_vus_check = [&]() {
    if (!has.pre_allocated_vus) fail(field("preAllocatedVUs"), "is required for executor " + quote(ex));
    check_non_negative(s.pre_allocated_vus, field("preAllocatedVUs"));
    if (!has.max_vus) {
      s.max_vus = s.pre_allocated_vus;
    } else if (s.max_vus < s.pre_allocated_vus) {
      fail(field("maxVUs"), "must be >= preAllocatedVUs (" + std::to_string(s.pre_allocated_vus) + "), got " +
                                std::to_string(s.max_vus));
    }
    if (s.max_vus <= 0) fail(field("maxVUs"), "must be greater than 0 (got " + std::to_string(s.max_vus) + ")");
    if (s.time_unit.count() <= 0) {
      fail(field("timeUnit"), "must be greater than 0 (got " + format_duration(s.time_unit) + ")");
    }
  };

  if (ex == "shared-iterations" || ex == "per-vu-iterations") {
    positive(s.vus, "vus");
    positive(s.iterations, "iterations");
    if (ex == "shared-iterations" && s.iterations < s.vus) {
      fail(field("iterations"), "must be >= vus (" + std::to_string(s.vus) + "), got " + std::to_string(s.iterations));
    }
    min_duration(s.max_duration, "maxDuration");
  } else if (ex == "constant-vus") {
    positive(s.vus, "vus");
    if (!has.duration) fail(field("duration"), "is required for executor " + quote(ex));
    min_duration(s.duration, "duration");
  } else if (ex == "ramping-vus") {
    check_non_negative(s.start_vus, field("startVUs"));
    stages_required();
    check_non_negative(s.graceful_ramp_down, field("gracefulRampDown"));
    bool any =
        s.start_vus > 0 || std::any_of(s.stages.begin(), s.stages.end(), [](const Stage& st) { return st.target > 0; });
    if (!any) fail(field("stages"), "either startVUs or one of the stage targets must be greater than 0");
  } else if (ex == "constant-arrival-rate") {
    if (!has.rate) fail(field("rate"), "is required for executor " + quote(ex));
    positive(s.rate, "rate");
    if (!has.duration) fail(field("duration"), "is required for executor " + quote(ex));
    min_duration(s.duration, "duration");
    max_vus_check();
  } else if (ex == "ramping-arrival-rate") {
    check_non_negative(s.start_rate, field("startRate"));
    stages_required();
    max_vus_check();
  } else if (ex == "externally-controlled") {
    check_non_negative(s.vus, field("vus"));
    if (!has.max_vus) {
      s.max_vus = s.vus;
    } else if (s.max_vus < s.vus) {
      fail(field("maxVUs"), "must be >= vus (" + std::to_string(s.vus) + "), got " + std::to_string(s.max_vus));
    }
    if (s.max_vus <= 0) fail(field("maxVUs"), "must be greater than 0 (got " + std::to_string(s.max_vus) + ")");
    check_non_negative(s.duration, field("duration"));
  }
}

ScenarioConfig parse_scenario(const std::string& name, const json& v, const std::string& path) {
  if (!v.is_object()) fail(path, "must be an object");
  ScenarioConfig s;
  s.name = name;
  auto exit = v.find("executor");
  if (exit == v.end() || exit->is_null()) fail(path + ".executor", "is required");
  s.executor = json_string(*exit, path + ".executor");
  bool known =
      std::any_of(std::begin(kExecutors), std::end(kExecutors), [&](const char* e) { return s.executor == e; });
  if (!known) {
    fail(path + ".executor", "unknown executor " + quote(s.executor) +
                                 " (expected shared-iterations, per-vu-iterations, constant-vus, ramping-vus, "
                                 "constant-arrival-rate, ramping-arrival-rate or externally-controlled)");
  }
  if (s.executor == "externally-controlled") s.duration = microseconds(0);
  const auto allowed = allowed_fields(s.executor);
  Presence has;
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string& k = it.key();
    const json& val = it.value();
    const std::string p = path + "." + k;
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      fail(p, "unknown field for executor " + quote(s.executor));
    }
    if (val.is_null() || k == "executor" || k == "options") continue;
    if (k == "startTime") {
      s.start_time = json_duration(val, p);
    } else if (k == "gracefulStop") {
      s.graceful_stop = json_duration(val, p);
    } else if (k == "exec") {
      s.exec = json_string(val, p);
    } else if (k == "env") {
      s.env = json_string_map(val, p);
    } else if (k == "tags") {
      s.tags = json_string_map(val, p);
    } else if (k == "vus") {
      s.vus = json_int(val, p);
    } else if (k == "iterations") {
      s.iterations = json_int(val, p);
      has.iterations = true;
    } else if (k == "maxDuration") {
      s.max_duration = json_duration(val, p);
    } else if (k == "duration") {
      s.duration = json_duration(val, p);
      has.duration = true;
    } else if (k == "startVUs") {
      s.start_vus = json_int(val, p);
    } else if (k == "stages") {
      s.stages = json_stages(val, p);
      has.stages = true;
    } else if (k == "gracefulRampDown") {
      s.graceful_ramp_down = json_duration(val, p);
    } else if (k == "rate") {
      s.rate = json_int(val, p);
      has.rate = true;
    } else if (k == "timeUnit") {
      s.time_unit = json_duration(val, p);
    } else if (k == "preAllocatedVUs") {
      s.pre_allocated_vus = json_int(val, p);
      has.pre_allocated_vus = true;
    } else if (k == "maxVUs") {
      s.max_vus = json_int(val, p);
      has.max_vus = true;
    } else if (k == "startRate") {
      s.start_rate = json_int(val, p);
    }
  }
  validate_scenario(s, has, path);
  return s;
}

// ---- execution shortcuts, per tier ---------------------------------------------

// k6's Options.Apply: a higher tier that sets any of duration/iterations/stages/
// scenarios discards all of them from the lower tiers; vus is independent.
void apply_tier(Shortcuts& base, const Shortcuts& higher) {
  if (higher.sets_execution()) {
    base.duration.reset();
    base.iterations.reset();
    base.stages.reset();
    base.scenarios = nullptr;
  }
  if (higher.duration) {
    base.duration = higher.duration;
    base.duration_src = higher.duration_src;
  }
  if (higher.iterations) {
    base.iterations = higher.iterations;
    base.iterations_src = higher.iterations_src;
  }
  if (higher.stages) {
    base.stages = higher.stages;
    base.stages_src = higher.stages_src;
  }
  if (higher.scenarios) base.scenarios = higher.scenarios;
  if (higher.vus) {
    base.vus = higher.vus;
    base.vus_src = higher.vus_src;
  }
}

void conflict(const std::string& a, const std::string& b) {
  fail(a, "cannot be combined with " + b +
              " (using several execution shortcuts, or a shortcut together with scenarios, is not allowed)");
}

std::vector<ScenarioConfig> derive_scenarios(const Shortcuts& sc, std::vector<std::string>& warnings) {
  const std::string kScenariosPath = "options.scenarios";
  bool has_stages = sc.stages && !sc.stages->empty();
  if (sc.vus) check_non_negative(*sc.vus, sc.vus_src);
  auto need_positive_vus = [&]() {
    if (sc.vus && *sc.vus <= 0) fail(sc.vus_src, "must be greater than 0 (got " + std::to_string(*sc.vus) + ")");
  };
  ScenarioConfig d;
  d.name = "default";
  if (sc.iterations) {
    if (has_stages) conflict(sc.iterations_src, sc.stages_src);
    if (sc.scenarios) conflict(sc.iterations_src, kScenariosPath);
    need_positive_vus();
    d.executor = "shared-iterations";
    d.vus = sc.vus.value_or(1);
    d.iterations = *sc.iterations;
    if (d.iterations <= 0) {
      fail(sc.iterations_src, "must be greater than 0 (got " + std::to_string(d.iterations) + ")");
    }
    if (d.iterations < d.vus) {
      fail(sc.iterations_src, "must be >= vus (" + std::to_string(d.vus) + "), got " + std::to_string(d.iterations));
    }
    if (sc.duration) {
      d.max_duration = *sc.duration;
      if (d.max_duration < kMinDuration) {
        fail(sc.duration_src,
             "must be at least " + format_duration(kMinDuration) + " (got " + format_duration(d.max_duration) + ")");
      }
    }
    return {d};
  }
  if (sc.duration) {
    if (has_stages) conflict(sc.duration_src, sc.stages_src);
    if (sc.scenarios) conflict(sc.duration_src, kScenariosPath);
    if (sc.duration->count() <= 0) {
      fail(sc.duration_src, "must be greater than 0 (got " + format_duration(*sc.duration) +
                                "); for an unbounded run use the externally-controlled executor");
    }
    if (*sc.duration < kMinDuration) {
      fail(sc.duration_src,
           "must be at least " + format_duration(kMinDuration) + " (got " + format_duration(*sc.duration) + ")");
    }
    need_positive_vus();
    d.executor = "constant-vus";
    d.vus = sc.vus.value_or(1);
    d.duration = *sc.duration;
    return {d};
  }
  if (has_stages) {
    if (sc.scenarios) conflict(sc.stages_src, kScenariosPath);
    validate_stages(*sc.stages, sc.stages_src);
    d.executor = "ramping-vus";
    d.start_vus = sc.vus.value_or(1);
    d.stages = *sc.stages;
    bool any =
        d.start_vus > 0 || std::any_of(d.stages.begin(), d.stages.end(), [](const Stage& st) { return st.target > 0; });
    if (!any) fail(sc.stages_src, "either vus or one of the stage targets must be greater than 0");
    return {d};
  }
  if (sc.scenarios && !(sc.scenarios->is_object() && sc.scenarios->empty())) {
    const json& all = *sc.scenarios;
    if (!all.is_object()) fail(kScenariosPath, "must be an object of scenarios");
    std::vector<ScenarioConfig> out;
    for (auto it = all.begin(); it != all.end(); ++it) {
      out.push_back(parse_scenario(it.key(), it.value(), kScenariosPath + "." + it.key()));
    }
    // k6 orders scenarios by startTime, then name.
    std::stable_sort(out.begin(), out.end(), [](const ScenarioConfig& a, const ScenarioConfig& b) {
      if (a.start_time != b.start_time) return a.start_time < b.start_time;
      return a.name < b.name;
    });
    return out;
  }
  // Nothing execution-related: k6 runs one iteration on one VU (a lone `vus` is ignored).
  if (sc.vus && *sc.vus != 1) {
    warnings.push_back(sc.vus_src + "=" + std::to_string(*sc.vus) +
                       " is ignored: it only works together with iterations, duration or stages");
  }
  if (sc.stages) warnings.push_back(sc.stages_src + " is empty: running 1 iteration on 1 VU");
  if (sc.scenarios) warnings.push_back("options.scenarios is empty: running 1 iteration on 1 VU");
  d.executor = "per-vu-iterations";
  d.vus = 1;
  d.iterations = 1;
  return {d};
}

json stages_json(const std::vector<Stage>& stages) {
  json arr = json::array();
  for (const Stage& s : stages) arr.push_back({{"duration", format_duration(s.duration)}, {"target", s.target}});
  return arr;
}

json scenario_json(const ScenarioConfig& s) {
  json j = json::object();
  j["executor"] = s.executor;
  j["startTime"] = format_duration(s.start_time);
  j["exec"] = s.exec;
  if (!s.env.empty()) j["env"] = s.env;
  if (!s.tags.empty()) j["tags"] = s.tags;
  const std::string& ex = s.executor;
  if (ex != "externally-controlled") j["gracefulStop"] = format_duration(s.graceful_stop);
  if (ex == "shared-iterations" || ex == "per-vu-iterations") {
    j["vus"] = s.vus;
    j["iterations"] = s.iterations;
    j["maxDuration"] = format_duration(s.max_duration);
  } else if (ex == "constant-vus") {
    j["vus"] = s.vus;
    j["duration"] = format_duration(s.duration);
  } else if (ex == "ramping-vus") {
    j["startVUs"] = s.start_vus;
    j["stages"] = stages_json(s.stages);
    j["gracefulRampDown"] = format_duration(s.graceful_ramp_down);
  } else if (ex == "constant-arrival-rate") {
    j["rate"] = s.rate;
    j["timeUnit"] = format_duration(s.time_unit);
    j["duration"] = format_duration(s.duration);
    j["preAllocatedVUs"] = s.pre_allocated_vus;
    j["maxVUs"] = s.max_vus;
  } else if (ex == "ramping-arrival-rate") {
    j["startRate"] = s.start_rate;
    j["timeUnit"] = format_duration(s.time_unit);
    j["stages"] = stages_json(s.stages);
    j["preAllocatedVUs"] = s.pre_allocated_vus;
    j["maxVUs"] = s.max_vus;
  } else if (ex == "externally-controlled") {
    j["vus"] = s.vus;
    j["maxVUs"] = s.max_vus;
    j["duration"] = format_duration(s.duration);
  }
  return j;
}

}  // namespace herd::exec::optparse
