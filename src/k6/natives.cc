// Native functions behind the k6 modules, installed as the hidden `__herd` object.
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>

#include "js/json_parse.h"
#include "js/runtime.h"
#include "k6/grpc_module.h"
#include "k6/lazy_global.h"
#include "k6/modules.h"
#include "k6/natives_util.h"
#include "k6/request_path.h"
#include "k6/seeded_random.h"
#include "k6/webapi.h"
#include "k6/ws_module.h"
#include "util/duration.h"

namespace herd::k6 {

namespace {

double arg_number(JSContext* ctx, JSValueConst v, double dflt = 0) {
  double d = dflt;
  if (JS_IsUndefined(v)) return dflt;
  JS_ToFloat64(ctx, &d, v);
  return d;
}

// ---- natives ---------------------------------------------------------------

JSValue n_log(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  int level = static_cast<int>(arg_number(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, 1));
  std::string msg = argc > 1 ? js::to_string(ctx, argv[1]) : "";
  vu->run->logger->log(static_cast<Logger::Level>(std::clamp(level, 0, 3)), msg);
  return JS_UNDEFINED;
}

JSValue n_console(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv, int level) {
  VuState* vu = vu_of(ctx);
  std::string msg;
  for (int i = 0; i < argc; i++) {
    if (i) msg += ' ';
    JSValueConst v = argv[i];
    if (JS_IsObject(v) && !JS_IsError(ctx, v) && !JS_IsFunction(ctx, v)) {
      js::Value s(ctx, JS_JSONStringify(ctx, v, JS_UNDEFINED, JS_UNDEFINED));
      if (s.is_exception()) {
        js::discard_exception(ctx);
        msg += js::to_string(ctx, v);
      } else {
        msg += js::to_string(ctx, s.get());
      }
    } else {
      msg += js::to_string(ctx, v);
    }
  }
  vu->run->logger->log(static_cast<Logger::Level>(std::clamp(level, 0, 3)), msg);
  return JS_UNDEFINED;
}

JSValue n_open(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (!vu->in_init)
    return JS_ThrowTypeError(ctx, "open() can only be called from the init context (top level of the script)");
  std::string path = argc > 0 ? js::to_string(ctx, argv[0]) : "";
  std::string mode = argc > 1 ? js::to_string(ctx, argv[1]) : "";
  return guarded(ctx, [&]() -> JSValue {
    std::string base = vu->run->bundle->main_name();
    JSAtom caller = JS_GetScriptOrModuleName(ctx, 1);
    if (caller != JS_ATOM_NULL) {
      const char* c = JS_AtomToCString(ctx, caller);
      if (c && *c && std::strncmp(c, "herd:", 5) != 0) base = c;
      JS_FreeCString(ctx, c);
      JS_FreeAtom(ctx, caller);
    }
    auto data = vu->run->bundle->read_file(base, path);
    if (mode == "b") {
      js::ensure_typed_arrays(ctx);
      return JS_NewArrayBufferCopy(ctx, reinterpret_cast<const uint8_t*>(data->data()), data->size());
    }
    return new_string(ctx, *data);
  });
}

JSValue n_sleep(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  double s = arg_number(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, 0);
  if (!(s > 0)) return JS_UNDEFINED;
  if (vu->interrupted) return throw_interrupted(ctx);
  if (!vu->fiber) {  // not on a fiber (should not happen): block
    usleep(static_cast<useconds_t>(std::min(s, 1.0) * 1e6));
    return JS_UNDEFINED;
  }
  auto when = loop::Clock::now() + util::clamp_wait_seconds(s);  // sleep(Infinity): until the test ends
  bool fired = false;
  loop::TimerId id = vu->loop->add_timer(when, [vu, &fired] {
    fired = true;
    vu->wake();
  });
  while (!fired) {
    if (!vu->suspend()) {
      vu->loop->cancel_timer(id);
      return throw_interrupted(ctx);
    }
  }
  return JS_UNDEFINED;
}

// The tags of one check's sample: base + check=name. Without extra tags the set
// is kept per worker thread and name, and reused while the base tags are the
// same (interned: compared by pointer): the check's series is then found by
// pointer, with no set built, sorted and hashed per check. The set depends on
// (base, name) only, so any VU of the thread may reuse it. At most 256 names.
metrics::TagSet check_tag_set(bool cacheable, const metrics::TagSet& base, const char* name) {
  if (!cacheable) return base.with("check", name);
  struct Entry {
    metrics::TagSet base, set;
  };
  static thread_local std::unordered_map<std::string, Entry> cache;
  auto it = cache.find(name);
  if (it != cache.end() && it->second.base == base) return it->second.set;
  metrics::TagSet set = base.with("check", name);
  if (it != cache.end())
    it->second = {base, set};
  else if (cache.size() < 256)
    cache.emplace(name, Entry{base, set});
  return set;
}

// Adds one check sample. Without extra tags the VU keeps, per check key (by
// atom), the tag set and the series it found (VuState::check_series): a check
// seen before costs no name conversion, no tag set and no series look-up.
void add_check_sample(JSContext* ctx, VuState* vu, JSAtom key, bool cacheable, const metrics::TagSet& base, bool pass,
                      std::int64_t now) {
  VuState::CheckSeries* e = nullptr;
  if (cacheable) {
    for (auto& c : vu->check_series)
      if (c.atom == key) {
        e = &c;
        break;
      }
    if (!e && vu->check_series.size() < VuState::kMaxCheckSeries)
      e = &vu->check_series.emplace_back(VuState::CheckSeries{JS_DupAtom(ctx, key)});
  }
  if (!e || e->set.empty() || !(e->base == base)) {
    const char* name = JS_AtomToCString(ctx, key);
    metrics::TagSet set = check_tag_set(cacheable, base, name ? name : "");
    JS_FreeCString(ctx, name);
    if (!e) {
      vu->sink->add(metrics::kChecks, set, pass ? 1 : 0, now);
      return;
    }
    e->set = std::move(set);
    e->base = base;
  }
  metrics::Sink::Batch b(*vu->sink);
  if (!b.direct()) {  // a tag filter or outputs see every sample
    b.add(metrics::kChecks, e->set, pass ? 1 : 0, now);
    return;
  }
  if (!b.reuse(e->series, e->set)) e->series.series[0] = b.series(metrics::kChecks, e->set);
  b.add_direct(e->series.series[0], metrics::kChecks, pass ? 1 : 0, now);
}

JSValue n_check(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  JSValueConst val = argc > 0 ? argv[0] : JS_UNDEFINED;
  JSValueConst sets = argc > 1 ? argv[1] : JS_UNDEFINED;
  std::map<std::string, std::string> extra;
  if (argc > 2) read_string_map(ctx, argv[2], &extra);
  if (!JS_IsObject(sets)) return JS_TRUE;
  JSPropertyEnum* props = nullptr;
  uint32_t n = 0;
  if (JS_GetOwnPropertyNames(ctx, &props, &n, sets, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0) return JS_EXCEPTION;
  if (js::ShapeKeeper* k = js::shape_keeper(ctx)) k->seen(ctx, sets, props, n);
  bool all = true;
  std::int64_t now = vu->now_us();
  metrics::TagSet base = tags_with(*vu, extra);
  for (uint32_t i = 0; i < n && !vu->interrupted; i++) {
    js::Value f(ctx, JS_GetProperty(ctx, sets, props[i].atom));
    bool pass = false;
    if (JS_IsFunction(ctx, f.get())) {
      js::Value r(ctx, JS_Call(ctx, f.get(), JS_UNDEFINED, 1, &val));
      if (r.is_exception()) {
        js::Value exc(ctx, JS_GetException(ctx));
        if (vu->interrupted) {  // interrupted or aborted: propagate
          for (uint32_t j = 0; j < n; j++) JS_FreeAtom(ctx, props[j].atom);
          js_free(ctx, props);
          return JS_Throw(ctx, exc.release());
        }
        const char* name = JS_AtomToCString(ctx, props[i].atom);
        vu->run->logger->log(Logger::Level::kWarn, std::string("check \"") + (name ? name : "") +
                                                       "\" threw: " + js::format_exception(ctx, exc.get()));
        JS_FreeCString(ctx, name);
      } else {
        pass = JS_ToBool(ctx, r.get()) > 0;
      }
    } else {
      pass = JS_ToBool(ctx, f.get()) > 0;
    }
    add_check_sample(ctx, vu, props[i].atom, extra.empty(), base, pass, now);
    all = all && pass;
  }
  for (uint32_t i = 0; i < n; i++) JS_FreeAtom(ctx, props[i].atom);
  js_free(ctx, props);
  if (vu->interrupted) return throw_interrupted(ctx);
  return JS_NewBool(ctx, all);
}

JSValue n_group_enter(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  std::string name = argc > 0 ? js::to_string(ctx, argv[0]) : "";
  if (name.find("::") != std::string::npos) return JS_ThrowTypeError(ctx, "group and check names may not contain '::'");
  vu->group_path += "::" + name;
  vu->rebuild_tags();
  return JS_NewFloat64(
      ctx, static_cast<double>(
               std::chrono::duration_cast<std::chrono::microseconds>(loop::Clock::now().time_since_epoch()).count()));
}

JSValue n_group_exit(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  double start_us = arg_number(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, 0);
  double now_us = static_cast<double>(
      std::chrono::duration_cast<std::chrono::microseconds>(loop::Clock::now().time_since_epoch()).count());
  if (!vu->interrupted)
    vu->sink->add(metrics::kGroupDuration, vu->base_tags, (now_us - start_us) / 1000.0, vu->now_us());
  size_t pos = vu->group_path.rfind("::");
  if (pos != std::string::npos) vu->group_path.resize(pos);
  vu->rebuild_tags();
  return JS_UNDEFINED;
}

JSValue n_random_seed(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  std::int64_t seed = 0;
  if (argc < 1 || JS_ToInt64(ctx, &seed, argv[0]) < 0)
    return JS_ThrowTypeError(ctx, "randomSeed() needs an integer seed");
  if (!install_seeded_random(ctx, seed)) return JS_EXCEPTION;
  return JS_UNDEFINED;
}

JSValue n_set_response_proto(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (argc > 0 && JS_IsObject(argv[0])) {
    JS_FreeValue(ctx, vu->response_proto);  // a VuState field: plain JSValue (vu_state.h)
    vu->response_proto = JS_DupValue(ctx, argv[0]);
  }
  return JS_UNDEFINED;
}

JSValue n_set_response_callback(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  JS_FreeValue(ctx, vu->response_callback);  // a VuState field: plain JSValue (vu_state.h)
  vu->response_callback = argc > 0 ? JS_DupValue(ctx, argv[0]) : JS_NULL;
  if (JS_IsUndefined(vu->response_callback)) vu->response_callback = JS_NULL;
  return JS_UNDEFINED;
}

JSValue n_define_metric(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (!vu->in_init)
    return JS_ThrowTypeError(ctx, "metrics must be declared in the init context (top level of the script)");
  std::string name = argc > 0 ? js::to_string(ctx, argv[0]) : "";
  int type = static_cast<int>(arg_number(ctx, argc > 1 ? argv[1] : JS_UNDEFINED, 0));
  bool is_time = argc > 2 && JS_ToBool(ctx, argv[2]) > 0;
  return guarded(ctx, [&]() -> JSValue {
    auto mt = static_cast<metrics::MetricType>(std::clamp(type, 0, 3));
    auto vt = is_time ? metrics::ValueType::kTime : metrics::ValueType::kDefault;
    metrics::MetricId id = vu->run->registry->define(name, mt, vt);
    return JS_NewInt64(ctx, id);
  });
}

JSValue n_add_metric(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (vu->in_init) return JS_ThrowTypeError(ctx, "metrics cannot be added to in the init context");
  auto id = static_cast<metrics::MetricId>(arg_number(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, 0));
  // This metric's entry if the VU has one (its type and series): an index, as the
  // conversions below may run script code that adds to metrics (and grows the list).
  std::size_t ei = 0;
  while (ei < vu->metric_series.size() && vu->metric_series[ei].metric != id) ei++;
  metrics::MetricType type = ei < vu->metric_series.size() ? vu->metric_series[ei].type : vu->run->registry->type(id);
  JSValueConst v = argc > 1 ? argv[1] : JS_UNDEFINED;
  double value = 0;
  if (type == metrics::MetricType::kRate) {
    value = JS_ToBool(ctx, v) > 0 ? 1 : 0;
  } else {
    if (JS_IsBool(v)) {
      value = JS_ToBool(ctx, v) > 0 ? 1 : 0;
    } else if (JS_ToFloat64(ctx, &value, v) < 0 || std::isnan(value)) {
      return JS_ThrowTypeError(ctx, "%s.add(): the value must be a number, got %s",
                               vu->run->registry->def(id).name.c_str(), js::to_string(ctx, v).c_str());
    }
  }
  std::map<std::string, std::string> extra;
  if (argc > 2) read_string_map(ctx, argv[2], &extra);
  if (!extra.empty()) {
    vu->sink->add(id, tags_with(*vu, extra), value, vu->now_us());
    return JS_TRUE;
  }
  // No tags of its own: the series of (id, base tags), found once (VuState::metric_series).
  std::int64_t now = vu->now_us();
  metrics::Sink::Batch b(*vu->sink);
  if (!b.direct()) {  // a tag filter or outputs see every sample
    b.add(id, vu->base_tags, value, now);
    return JS_TRUE;
  }
  while (ei < vu->metric_series.size() && vu->metric_series[ei].metric != id) ei++;  // added meanwhile?
  if (ei == vu->metric_series.size()) {
    if (ei >= VuState::kMaxMetricSeries) {
      b.add(id, vu->base_tags, value, now);
      return JS_TRUE;
    }
    vu->metric_series.push_back(VuState::MetricSeries{id, type});
  }
  VuState::MetricSeries* e = &vu->metric_series[ei];
  if (!b.reuse(e->series, vu->base_tags)) e->series.series[0] = b.series(id, vu->base_tags);
  b.add_direct(e->series.series[0], id, value, now);
  return JS_TRUE;
}

JSValue n_exec_info(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  int what = static_cast<int>(arg_number(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, 0));
  auto& st = vu->run->stats;
  auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };
  switch (what) {
    case 0:
      return JS_NewInt64(ctx, vu->id_in_instance);
    case 1:
      return JS_NewInt64(ctx, vu->id_in_test);
    case 2:
      return JS_NewInt64(ctx, vu->iteration);
    case 3:
      return JS_NewInt64(ctx, vu->iteration_in_scenario);
    case 10:
      return new_string(ctx, vu->scenario);
    case 11:
      return new_string(ctx, vu->executor);
    case 12: {
      auto sys_now = std::chrono::system_clock::now();
      auto start = sys_now - (std::chrono::steady_clock::now() - vu->scenario_start);
      return JS_NewFloat64(
          ctx,
          static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(start.time_since_epoch()).count()));
    }
    case 13:
      return JS_NewFloat64(ctx, vu->scenario_progress ? vu->scenario_progress() : 0);
    case 14:
      return JS_NewInt64(ctx, vu->iteration_in_scenario);
    case 15:
      return JS_NewInt64(ctx, vu->iteration_in_test);
    case 20:
      return JS_NewInt64(ctx, st.iterations_completed.load());
    case 21:
      return JS_NewInt64(ctx, st.iterations_interrupted.load());
    case 22:
      return JS_NewInt64(ctx, st.vus_active.load());
    case 23:
      return JS_NewInt64(ctx, st.vus_initialized.load());
    case 24:
      return JS_NewFloat64(ctx, ms_since(st.start));
    case 30:
      return new_string(ctx, vu->run->options_json);
    default:
      return JS_UNDEFINED;
  }
}

JSValue n_vu_tag(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  std::string k = argc > 0 ? js::to_string(ctx, argv[0]) : "";
  auto it = vu->vu_tags.find(k);
  if (it != vu->vu_tags.end()) return new_string(ctx, it->second);
  auto st = vu->scenario_tags.find(k);
  if (st != vu->scenario_tags.end()) return new_string(ctx, st->second);
  if (k == "group") return new_string(ctx, vu->group_path);
  return JS_UNDEFINED;
}

JSValue n_set_vu_tag(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (argc < 2) return JS_UNDEFINED;
  JSValueConst v = argv[1];
  if (JS_IsObject(v)) return JS_ThrowTypeError(ctx, "exec.vu.tags: only string, number and boolean values are allowed");
  vu->vu_tags[js::to_string(ctx, argv[0])] = js::to_string(ctx, v);
  vu->rebuild_tags();
  return JS_UNDEFINED;
}

JSValue n_delete_vu_tag(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (argc > 0) vu->vu_tags.erase(js::to_string(ctx, argv[0]));
  vu->rebuild_tags();
  return JS_UNDEFINED;
}

JSValue n_vu_tag_keys(JSContext* ctx, JSValueConst, int, JSValueConst*) {
  VuState* vu = vu_of(ctx);
  JSValue arr = JS_NewArray(ctx);
  uint32_t i = 0;
  for (auto& kv : vu->scenario_tags) JS_SetPropertyUint32(ctx, arr, i++, new_string(ctx, kv.first));
  for (auto& kv : vu->vu_tags)
    if (!vu->scenario_tags.count(kv.first)) JS_SetPropertyUint32(ctx, arr, i++, new_string(ctx, kv.first));
  return arr;
}

JSValue n_abort(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  std::string reason = argc > 0 ? js::to_string(ctx, argv[0]) : "";
  if (!vu->run->aborted.exchange(true) && vu->run->on_abort) vu->run->on_abort(reason);
  // Unwind the script: the abort error cannot be caught.
  JSValue err = JS_NewError(ctx);
  std::string msg = "test aborted" + (reason.empty() ? std::string() : ": " + reason);
  JS_SetPropertyStr(ctx, err, "message", new_string(ctx, msg));
  JS_SetUncatchableError(ctx, err, 1);
  vu->interrupted = true;
  return JS_Throw(ctx, err);
}

// exec.test.fail(reason): the test is marked failed (exit code 110) and goes on.
JSValue n_mark_failed(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  std::string reason = argc > 0 ? js::to_string(ctx, argv[0]) : "";
  vu->run->marked_failed = true;
  if (vu->run->logger)
    vu->run->logger->log(Logger::Level::kError, "test marked as failed" + (reason.empty() ? "" : ": " + reason),
                         "engine");
  return JS_UNDEFINED;
}

JSValue n_shared_array(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (argc < 2) return JS_ThrowTypeError(ctx, "SharedArray(name, fn)");
  if (!vu->in_init) return JS_ThrowTypeError(ctx, "new SharedArray() can only be called in the init context");
  std::string name = js::to_string(ctx, argv[0]);
  auto& store = vu->run->shared_arrays;
  {
    std::lock_guard<std::mutex> g(store.mu);
    auto it = store.arrays.find(name);
    if (it != store.arrays.end()) return JS_NewInt64(ctx, static_cast<int64_t>(it->second->size()));
  }
  js::Value arr(ctx, JS_Call(ctx, argv[1], JS_UNDEFINED, 0, nullptr));
  if (arr.is_exception()) return arr.release();
  if (!JS_IsArray(ctx, arr.get()))
    return JS_ThrowTypeError(ctx, "SharedArray \"%s\": the function must return an array", name.c_str());
  int64_t len = 0;
  JS_ToInt64(ctx, &len, js::Value(ctx, JS_GetPropertyStr(ctx, arr.get(), "length")).get());
  auto items = std::make_shared<std::vector<std::string>>();
  items->reserve(static_cast<size_t>(len));
  for (int64_t i = 0; i < len; i++) {
    js::Value el(ctx, JS_GetPropertyUint32(ctx, arr.get(), static_cast<uint32_t>(i)));
    js::Value s(ctx, JS_JSONStringify(ctx, el.get(), JS_UNDEFINED, JS_UNDEFINED));
    if (s.is_exception()) return s.release();
    items->push_back(s.is_undefined() ? "null" : js::to_string(ctx, s.get()));
  }
  arr = js::Value();
  std::lock_guard<std::mutex> g(store.mu);
  auto [it, inserted] = store.arrays.emplace(name, std::move(items));
  return JS_NewInt64(ctx, static_cast<int64_t>(it->second->size()));
}

JSValue n_shared_get(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (argc < 2) return JS_UNDEFINED;
  std::string name = js::to_string(ctx, argv[0]);
  int64_t i = 0;
  JS_ToInt64(ctx, &i, argv[1]);
  std::shared_ptr<const std::vector<std::string>> arr;
  {
    std::lock_guard<std::mutex> g(vu->run->shared_arrays.mu);
    auto it = vu->run->shared_arrays.arrays.find(name);
    if (it == vu->run->shared_arrays.arrays.end()) return JS_UNDEFINED;
    arr = it->second;
  }
  if (i < 0 || static_cast<size_t>(i) >= arr->size()) return JS_UNDEFINED;
  const std::string& s = (*arr)[static_cast<size_t>(i)];
  return js::parse_json(ctx, s.c_str(), s.size(), "<SharedArray>");
}

// ---- require(): js::Bundle::require ------------------------------------------

JSValue n_require(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (argc < 1) return JS_ThrowTypeError(ctx, "require(path)");
  std::string spec = js::to_string(ctx, argv[0]);
  std::string base = vu->run->bundle->main_name();
  JSAtom caller = JS_GetScriptOrModuleName(ctx, 1);
  if (caller != JS_ATOM_NULL) {
    const char* c = JS_AtomToCString(ctx, caller);
    if (c && *c) base = c;
    JS_FreeCString(ctx, c);
    JS_FreeAtom(ctx, caller);
  }
  return vu->run->bundle->require(ctx, base, spec);
}

int interrupt_handler(JSRuntime*, void* opaque) {
  auto* vu = static_cast<VuState*>(opaque);
  if (!vu->interrupted && vu->busy_deadline && std::chrono::steady_clock::now() >= *vu->busy_deadline) {
    vu->interrupted = true;
    vu->busy_deadline_hit = true;
  }
  return vu->absorb_stop() ? 1 : 0;
}

void set_fn(JSContext* ctx, JSValue obj, const char* name, JSCFunction* fn, int len) {
  JS_SetPropertyStr(ctx, obj, name, JS_NewCFunction(ctx, fn, name, len));
}

// ---- the "k6" module, native ------------------------------------------------

JSValue n_group(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  if (argc < 2 || !JS_IsFunction(ctx, argv[1]))
    return JS_ThrowTypeError(ctx, "group() needs a function as its second argument");
  js::Value start(ctx, n_group_enter(ctx, this_val, 1, argv));
  if (start.is_exception()) return start.release();
  JSValue r = JS_Call(ctx, argv[1], JS_UNDEFINED, 0, nullptr);
  JSValue start_v = start.get();
  n_group_exit(ctx, this_val, 1, &start_v);  // always, like a finally block
  return r;
}

JSValue n_fail(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  JSValue err = JS_NewError(ctx);
  std::string msg = argc > 0 && !JS_IsUndefined(argv[0]) ? js::to_string(ctx, argv[0]) : "";
  JS_SetPropertyStr(ctx, err, "message", new_string(ctx, msg));
  return JS_Throw(ctx, err);
}

struct ModuleFn {
  const char* name;
  JSCFunction* fn;
  int length;
};
const ModuleFn kK6Fns[] = {{"sleep", n_sleep, 1},
                           {"check", n_check, 3},
                           {"group", n_group, 2},
                           {"fail", n_fail, 1},
                           {"randomSeed", n_random_seed, 1}};

int k6_module_init(JSContext* ctx, JSModuleDef* m) {
  JSValue def = JS_NewObject(ctx);
  for (const auto& f : kK6Fns) {
    JSValue fn = JS_NewCFunction(ctx, f.fn, f.name, f.length);
    JS_SetPropertyStr(ctx, def, f.name, JS_DupValue(ctx, fn));
    JS_SetModuleExport(ctx, m, f.name, fn);
  }
  JS_SetModuleExport(ctx, m, "default", def);
  return 0;
}

JSModuleDef* k6_module(JSContext* ctx, const char* name) {
  JSModuleDef* m = JS_NewCModule(ctx, name, k6_module_init);
  if (!m) return nullptr;
  for (const auto& f : kK6Fns) JS_AddModuleExport(ctx, m, f.name);
  JS_AddModuleExport(ctx, m, "default");
  return m;
}

}  // namespace

std::map<std::string, js::NativeModuleFactory> native_modules() {
  return {{"k6", k6_module},
          {"k6/http", http_native_module},
          {"k6/encoding", encoding_native_module},
          {"k6/crypto", crypto_native_module},
          {"k6/html", html_native_module},
          {"k6/timers", timers_native_module},
          {"k6/experimental/fs", fs_native_module},
          {"k6/experimental/webcrypto", webcrypto_native_module},
          {"k6/secrets", secrets_native_module},
          {"herd:csv", csv_native_module},
          {"herd:ws", ws_native_module},
          {"herd:grpc", grpc_native_module}};
}

void set_iteration_globals(JSContext* ctx, std::int64_t vu, std::int64_t iter) {
  js::Value g = js::global_object(ctx);
  VuState* st = vu_of(ctx);
  if (st && !st->in_init) {  // every iteration: the VU's cached atoms, not a name hashed twice
    JS_SetProperty(ctx, g.get(), prop_atom(ctx, st, PropAtom::kVuGlobal), JS_NewInt64(ctx, vu));
    JS_SetProperty(ctx, g.get(), prop_atom(ctx, st, PropAtom::kIterGlobal), JS_NewInt64(ctx, iter));
    return;
  }
  JS_SetPropertyStr(ctx, g.get(), "__VU", JS_NewInt64(ctx, vu));
  JS_SetPropertyStr(ctx, g.get(), "__ITER", JS_NewInt64(ctx, iter));
}

namespace {

// The hidden natives object the JavaScript halves of k6/metrics, k6/execution
// and k6/data use; built on first use (lazy_global.h).
JSValue build_natives(JSContext* ctx) {
  JSValue h = JS_NewObject(ctx);
  set_fn(ctx, h, "log", n_log, 2);
  set_fn(ctx, h, "open", n_open, 2);
  set_fn(ctx, h, "sleep", n_sleep, 1);
  set_fn(ctx, h, "check", n_check, 3);
  set_fn(ctx, h, "groupEnter", n_group_enter, 1);
  set_fn(ctx, h, "groupExit", n_group_exit, 1);
  set_fn(ctx, h, "randomSeed", n_random_seed, 1);
  set_fn(ctx, h, "setResponseProto", n_set_response_proto, 1);
  set_fn(ctx, h, "setResponseCallback", n_set_response_callback, 1);
  set_fn(ctx, h, "request", http_request, 4);
  set_fn(ctx, h, "batch", http_batch, 1);
  set_fn(ctx, h, "defineMetric", n_define_metric, 3);
  set_fn(ctx, h, "addMetric", n_add_metric, 3);
  set_fn(ctx, h, "execInfo", n_exec_info, 1);
  set_fn(ctx, h, "vuTag", n_vu_tag, 1);
  set_fn(ctx, h, "setVuTag", n_set_vu_tag, 2);
  set_fn(ctx, h, "deleteVuTag", n_delete_vu_tag, 1);
  set_fn(ctx, h, "vuTagKeys", n_vu_tag_keys, 0);
  set_fn(ctx, h, "abort", n_abort, 1);
  set_fn(ctx, h, "markFailed", n_mark_failed, 1);
  set_fn(ctx, h, "sharedArray", n_shared_array, 2);
  set_fn(ctx, h, "sharedGet", n_shared_get, 2);
  return h;
}

// console.* are native: nothing per VU but the function objects, built on first use.
JSValue build_console(JSContext* ctx) {
  JSValue console = JS_NewObject(ctx);
  static const struct {
    const char* name;
    int level;
  } kConsole[] = {{"log", 1}, {"info", 1}, {"warn", 2}, {"error", 3}, {"debug", 0}, {"trace", 0}};
  for (const auto& c : kConsole)
    JS_SetPropertyStr(ctx, console, c.name,
                      JS_NewCFunctionMagic(ctx, n_console, c.name, 0, JS_CFUNC_generic_magic, c.level));
  return console;
}

}  // namespace

void install_globals(JSContext* ctx, VuState* vu) {
  JS_SetContextOpaque(ctx, vu);
  vu->js_ctx = ctx;
  JS_SetInterruptHandler(JS_GetRuntime(ctx), interrupt_handler, vu);
  js::Value gv = js::global_object(ctx);
  JSValue g = gv.get();
  define_lazy_global(ctx, g, "__herd", build_natives, JS_PROP_CONFIGURABLE);  // not enumerable, read-only
  JS_SetPropertyStr(ctx, g, "__ENV", new_env_object(ctx));
  set_iteration_globals(ctx, vu->id_in_instance, 0);
  vu->rebuild_tags();

  define_lazy_global(ctx, g, "console", build_console, JS_PROP_C_W_E);
  JS_SetPropertyStr(ctx, g, "open", JS_NewCFunction(ctx, n_open, "open", 2));
  JS_SetPropertyStr(ctx, g, "require", JS_NewCFunction(ctx, n_require, "require", 1));
  // `global` as in k6 (Node-style bundles read it when `self` and `window` are absent).
  JS_SetPropertyStr(ctx, g, "global", JS_DupValue(ctx, g));
  JS_SetPropertyStr(ctx, g, "setTimeout",
                    JS_NewCFunctionMagic(ctx, n_set_timer, "setTimeout", 2, JS_CFUNC_generic_magic, 0));
  JS_SetPropertyStr(ctx, g, "setInterval",
                    JS_NewCFunctionMagic(ctx, n_set_timer, "setInterval", 2, JS_CFUNC_generic_magic, 1));
  JS_SetPropertyStr(ctx, g, "clearTimeout", JS_NewCFunction(ctx, n_clear_timer, "clearTimeout", 1));
  JS_SetPropertyStr(ctx, g, "clearInterval", JS_NewCFunction(ctx, n_clear_timer, "clearInterval", 1));
  install_webcrypto_global(ctx, g);
}

void release_vu_values(JSContext* ctx, VuState* vu) {
  vu->clear_async(ctx);
  release_ws_state(vu);
  for (JSAtom a : vu->atoms) JS_FreeAtom(ctx, a);
  vu->atoms.clear();
  for (auto& c : vu->check_series) JS_FreeAtom(ctx, c.atom);
  vu->check_series.clear();
  vu->metric_series.clear();
  // VuState's long-lived values are plain JSValues (vu_state.h): their one release.
  JS_FreeValue(ctx, vu->response_proto);
  vu->response_proto = JS_UNDEFINED;
  JS_FreeValue(ctx, vu->response_callback);
  vu->response_callback = JS_UNDEFINED;
  JS_FreeValue(ctx, vu->json_shape_keeper);
  vu->json_shape_keeper = JS_UNDEFINED;
}

}  // namespace herd::k6
