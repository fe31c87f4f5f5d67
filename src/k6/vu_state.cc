// VuState (k6/vu_state.h): tags, the fiber hand-offs and async bookkeeping of one VU.
#include "k6/vu_state.h"

#include <chrono>

#include "k6/natives_util.h"

namespace herd::k6 {

// ---- Logger / VuState ------------------------------------------------------

void VuState::rebuild_tags() {
  std::vector<std::pair<std::string, std::string>> t;
  t.reserve(run->global_tags.size() + scenario_tags.size() + vu_tags.size() + 1);
  for (auto& kv : run->global_tags) t.push_back(kv);
  for (auto& kv : scenario_tags) t.push_back(kv);
  for (auto& kv : vu_tags) t.push_back(kv);
  t.emplace_back("group", group_path);
  base_tags = metrics::intern(metrics::TagSet(std::move(t)));
}

bool VuState::suspend() {
  suspended = true;
  loop::Fiber::suspend();
  suspended = false;
  return !absorb_stop();
}

void VuState::wake() {
  if (!suspended) return;
  if (loop::Fiber::current() != nullptr) {
    // Never switch fibers from inside another fiber: go through the loop.
    VuState* self = this;
    loop->post([self] {
      if (self->suspended) self->fiber->resume();
    });
    return;
  }
  fiber->resume();
}

void VuState::post_ready(std::function<void()> fn) {
  ready.push_back(std::move(fn));
  wake();
}

void VuState::clear_async(JSContext* ctx) {
  for (auto& [id, op] : async_ops) {
    if (op.is_timer) loop->cancel_timer(op.timer);
    if (op.cancel) op.cancel();
    for (JSValue v : op.values) JS_FreeValue(ctx, v);  // AsyncOp::values are owned by hand (vu_state.h)
  }
  async_ops.clear();
  ready.clear();
}

void VuState::erase_async(JSContext* ctx, std::map<std::int64_t, AsyncOp>::iterator it) {
  for (JSValue v : it->second.values) JS_FreeValue(ctx, v);  // AsyncOp::values are owned by hand (vu_state.h)
  async_ops.erase(it);
}

std::int64_t VuState::now_us() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace herd::k6
