#include "coord/coordinator.h"

#include "coord/coordinator_impl.h"

namespace herd::coord {

Coordinator::Coordinator(std::vector<RunnerEndpoint> runners, CoordinatorOptions opts)
    : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(opts);
  if (impl_->opts.clock) impl_->clock = impl_->opts.clock.get();
  impl_->client = std::make_unique<ControlClient>(runners.size(), *impl_->clock);
  impl_->client->set_run_id(impl_->opts.run_id);
  for (std::size_t i = 0; i < runners.size(); ++i) {
    auto r = std::make_unique<Impl::Runner>();
    r->index = i;
    r->ep = runners[i];
    r->name = runner_name(i, runners[i]);
    r->base = "http://" + runners[i].address;
    r->last_ok = impl_->now();
    impl_->runners.push_back(std::move(r));
  }
}

Coordinator::~Coordinator() = default;

void Coordinator::request_stop(int exit_code, const std::string& reason) {
  std::lock_guard<std::mutex> g(impl_->stop_mu);
  int expected = -1;
  if (impl_->stop_request.compare_exchange_strong(expected, exit_code)) impl_->stop_reason = reason;
  impl_->client->wake();
}

const CoordinatorReport& Coordinator::report() const {
  return impl_->rep;
}

int Coordinator::run() {
  Impl& m = *impl_;
  if (m.runners.empty()) {
    m.error("no runners");
    m.rep.exit_code = 1;
    m.build_and_publish_result(false);
    return m.rep.exit_code;
  }
  bool ran = false, setup_ok = true;
  m.set_phase(api::ExecutionStatus::kInitVUs);
  bool ready = m.wait_ready();
  if (ready) m.set_phase(api::ExecutionStatus::kPausedBeforeRun);
  if (ready) {
    if (m.stop_request.load() >= 0) {
      m.outcome.stop_code = m.stop_request.load();
    } else if (!m.opts.no_setup && !m.run_setup()) {
      setup_ok = false;
    } else if (m.resume_all()) {
      ran = true;
      m.set_phase(api::ExecutionStatus::kRunning);
      char buf[160];
      std::snprintf(buf, sizeof buf, "%zu runners started together (start skew %.3f ms)", m.runners.size(),
                    m.rep.start_skew_ms);
      m.info(buf);
      m.drive();
    } else {
      ran = true;  // some started: stop them and report
      m.start_time = m.now();
      m.set_phase(api::ExecutionStatus::kRunning);
      if (!m.opts.keep_going) m.stop_all("a runner refused to start");
      m.drive();
    }
  }
  if (!ran) {
    // Nothing ran (or setup failed): stop whatever is paused, then end the lingers.
    m.stop_all("");
    auto deadline = m.now() + std::min<std::chrono::milliseconds>(10s, m.opts.user_stop_timeout);
    for (;;) {
      m.poll_all(false);
      bool all = true;
      for (auto& r : m.runners)
        if (!r->gone() && r->poll_ok && !r->ended()) all = false;
      if (all || m.now() > deadline) break;
      m.client->wait_until(m.now() + 100ms);
    }
  }
  m.finish(ran, setup_ok);
  // Local mode: a runner that was not released (lost, abandoned, never ready)
  // is ended now rather than waited for.
  if (m.opts.abandon)
    for (std::size_t i = 0; i < m.runners.size(); ++i)
      if (!m.runners[i]->released) m.opts.abandon(i);
  m.rep.exit_code = decide_exit_code(m.outcome);
  if (m.opts.on_end) m.opts.on_end(m.rep, m.runners.size());
  m.build_and_publish_result(ran);
  return m.rep.exit_code;
}

}  // namespace herd::coord
