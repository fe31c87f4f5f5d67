// "k6/timers": the same functions as the global setTimeout, clearTimeout,
// setInterval and clearInterval (installed by install_globals).
#include "k6/webapi.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "js/runtime.h"
#include "k6/natives_util.h"
#include "util/duration.h"

namespace herd::k6 {

namespace {

const char* const kTimerNames[] = {"setTimeout", "clearTimeout", "setInterval", "clearInterval"};

int timers_init(JSContext* ctx, JSModuleDef* m) {
  js::Value g(ctx, JS_GetGlobalObject(ctx));
  js::Value def(ctx, JS_NewObject(ctx));
  for (const char* name : kTimerNames) {
    js::Value fn(ctx, JS_GetPropertyStr(ctx, g.get(), name));
    if (!JS_IsFunction(ctx, fn.get())) {
      JS_ThrowInternalError(ctx, "k6/timers: the global %s is missing", name);
      return -1;
    }
    JS_SetPropertyStr(ctx, def.get(), name, JS_DupValue(ctx, fn.get()));
    JS_SetModuleExport(ctx, m, name, fn.release());
  }
  JS_SetModuleExport(ctx, m, "default", def.release());
  return 0;
}

}  // namespace

JSModuleDef* timers_native_module(JSContext* ctx, const char* name) {
  JSModuleDef* m = JS_NewCModule(ctx, name, timers_init);
  if (!m) return nullptr;
  for (const char* n : kTimerNames) JS_AddModuleExport(ctx, m, n);
  JS_AddModuleExport(ctx, m, "default");
  return m;
}

// ---- setTimeout / setInterval (the globals, installed by install_globals) ----------

namespace {

void arm_timer(VuState* vu, std::int64_t id, std::int64_t delay_us);

// The first uncaught error wins; later ones of the same loop turn are dropped
// (the iteration ends with the first, as k6's event loop does).
void note_uncaught(VuState* vu, std::string msg) {
  if (vu->uncaught.empty()) vu->uncaught = std::move(msg);
}

JSValue on_callback_rejected(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv, int, JSValue*) {
  VuState* vu = vu_of(ctx);
  if (!vu->interrupted)
    note_uncaught(vu, "Uncaught (in promise) " + js::format_exception(ctx, argc > 0 ? argv[0] : JS_UNDEFINED));
  return JS_UNDEFINED;
}

void fire_timer(JSContext* ctx, VuState* vu, std::int64_t id) {
  auto it = vu->async_ops.find(id);
  if (it == vu->async_ops.end()) return;  // cleared meanwhile
  // Hold what the call needs: the callback may clear this very timer.
  std::vector<js::Value> held;
  std::vector<JSValue> vals;
  held.reserve(it->second.values.size());
  vals.reserve(it->second.values.size());
  for (JSValue v : it->second.values) {
    held.push_back(js::Value::dup(ctx, v));
    vals.push_back(v);
  }
  std::int64_t interval = it->second.interval_us;
  if (interval > 0) {
    arm_timer(vu, id, interval);
  } else {
    vu->erase_async(ctx, it);
  }
  js::Value r(ctx, JS_Call(ctx, vals[0], JS_UNDEFINED, static_cast<int>(vals.size() - 1), vals.data() + 1));
  if (r.is_exception()) {
    // k6: an uncaught exception in a timer callback fails the iteration (or
    // setup/teardown) like one thrown by the function itself; Vu::drive ends it.
    if (vu->interrupted)
      js::discard_exception(ctx);
    else
      note_uncaught(vu, js::take_exception(ctx));
  } else if (JS_IsObject(r.get()) && static_cast<int>(JS_PromiseState(ctx, r.get())) >= 0) {
    // An async callback: nothing else can see its promise, so a rejection is
    // an unhandled one, which fails the iteration too.
    js::Value then(ctx, JS_GetPropertyStr(ctx, r.get(), "then"));
    js::Value on_reject(ctx, JS_NewCFunctionData(ctx, on_callback_rejected, 1, 0, 0, nullptr));
    JSValue args[2] = {JS_UNDEFINED, on_reject.get()};
    js::Value chained(ctx, JS_Call(ctx, then.get(), r.get(), 2, args));
    if (chained.is_exception()) js::discard_exception(ctx);
  }
}

void arm_timer(VuState* vu, std::int64_t id, std::int64_t delay_us) {
  auto when = loop::Clock::now() + std::chrono::microseconds(std::max<std::int64_t>(0, delay_us));
  JSContext* ctx = vu->js_ctx;
  vu->async_ops[id].timer =
      vu->loop->add_timer(when, [vu, id, ctx] { vu->post_ready([vu, id, ctx] { fire_timer(ctx, vu, id); }); });
}

}  // namespace

JSValue n_set_timer(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv, int interval) {
  VuState* vu = vu_of(ctx);
  if (argc < 1 || !JS_IsFunction(ctx, argv[0]))
    return JS_ThrowTypeError(ctx, "%s(callback, delay, ...args) needs a function",
                             interval ? "setInterval" : "setTimeout");
  double ms = 0;
  if (argc > 1) JS_ToFloat64(ctx, &ms, argv[1]);
  if (!(ms > 0)) ms = 0;
  ms = std::min(ms, util::kMaxWaitMs);  // setTimeout(f, 1e300): never fires before the test ends
  std::int64_t id = vu->next_async_id++;
  VuState::AsyncOp op;
  op.is_timer = true;
  op.interval_us = interval ? std::max<std::int64_t>(1000, static_cast<std::int64_t>(ms * 1000)) : 0;
  for (int i = 0; i < argc; i++)
    if (i != 1) op.values.push_back(JS_DupValue(ctx, argv[i]));
  vu->async_ops.emplace(id, std::move(op));
  arm_timer(vu, id, static_cast<std::int64_t>(ms * 1000));
  return JS_NewInt64(ctx, id);
}

void warn_dropped_timers(VuState* vu) {
  for (const auto& [id, op] : vu->async_ops)
    if (op.is_timer)
      vu->run->logger->log(Logger::Level::kWarn,
                           std::string(op.interval_us > 0 ? "setInterval " : "setTimeout ") + std::to_string(id) +
                               " dropped: the iteration ended with an error",
                           "console");
}

JSValue n_clear_timer(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  std::int64_t id = 0;
  if (argc < 1 || JS_ToInt64(ctx, &id, argv[0]) < 0) return JS_UNDEFINED;
  auto it = vu->async_ops.find(id);
  if (it == vu->async_ops.end() || !it->second.is_timer) return JS_UNDEFINED;
  vu->loop->cancel_timer(it->second.timer);
  vu->erase_async(ctx, it);
  return JS_UNDEFINED;
}

}  // namespace herd::k6
