#include "exec/stop_control.h"

#include <cstdio>

namespace herd::exec {

void request_vu_stop(k6::VuState& st) {
  st.stop_requested.store(true, std::memory_order_release);
  k6::VuState* p = &st;
  if (st.loop) st.loop->post([p] { p->wake(); });
}

Deadline::Deadline(std::chrono::steady_clock::time_point when, std::function<void()> fn) {
  thread_ = std::thread([this, when, fn = std::move(fn)] {
    std::unique_lock<std::mutex> lk(mu_);
    if (cv_.wait_until(lk, when, [this] { return cancelled_; })) return;
    fired_ = true;
    lk.unlock();
    fn();
  });
}

Deadline::~Deadline() {
  {
    std::lock_guard<std::mutex> g(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool Deadline::fired() const {
  std::lock_guard<std::mutex> g(mu_);
  return fired_;
}

bool Deadline::cancel() {
  std::lock_guard<std::mutex> g(mu_);
  if (!fired_) cancelled_ = true;
  cv_.notify_all();
  return fired_;
}

std::string handle_summary_timeout_message(std::chrono::microseconds limit) {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "handleSummary() did not return within %g seconds (teardownTimeout); it was interrupted and the "
                "default summary is printed instead",
                std::chrono::duration<double>(limit).count());
  return buf;
}

}  // namespace herd::exec
