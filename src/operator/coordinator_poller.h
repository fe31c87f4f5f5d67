#pragma once
// Non-blocking HTTP calls from the reconcile workers to the coordinators'
// control APIs (GET /v1/summary, /v1/metrics, PATCH /v1/status). One thread
// drives a libcurl multi handle; a worker that asks for an answer not yet
// there gets nullopt at once (the call is started), and when the answer
// arrives `on_answer(key)` puts the TestRun back on the work queue, whose next
// reconcile reads it. No reconcile worker ever waits for a coordinator.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace herd::op {

/// {HTTP status, body}; status 0 = no answer (refused, timed out).
using HttpAnswer = std::pair<long, std::string>;

class CoordinatorPoller {
 public:
  /// `on_answer(key)` runs on the poller's thread for each arrived answer; keep it quick.
  explicit CoordinatorPoller(std::function<void(const std::string& key)> on_answer,
                             std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));
  ~CoordinatorPoller();  ///< stops the thread at once; calls under way are abandoned
  CoordinatorPoller(const CoordinatorPoller&) = delete;
  CoordinatorPoller& operator=(const CoordinatorPoller&) = delete;

  /// The answer to (key, method, url, body) if it has arrived since it was
  /// started (it is then forgotten: the next call starts a new request); else
  /// starts it unless it is already under way, and returns nullopt. Never blocks.
  /// Answers nobody reads (a PATCH sent and forgotten) are dropped after a minute.
  /// `keep`: a 200 answer is not forgotten when read, so later calls get it too
  /// (until that minute is over): for answers that no longer change (the
  /// coordinator's /v1/summary) while another call (/v1/report) is awaited.
  std::optional<HttpAnswer> call(const std::string& key, const std::string& method, const std::string& url,
                                 const std::string& body, bool keep = false);

  std::size_t in_flight() const;  ///< requests started and not answered yet

 private:
  struct Transfer;
  struct Done {
    HttpAnswer answer;
    std::chrono::steady_clock::time_point at;
  };
  void run(std::stop_token stop);

  const std::function<void(const std::string&)> on_answer_;
  const std::chrono::milliseconds timeout_;
  struct Multi;
  std::unique_ptr<Multi> multi_;  ///< the libcurl multi handle (RAII)
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Transfer>> starting_;  ///< made by call(), added to the multi handle by run()
  std::set<std::string> in_flight_;                  ///< request ids under way
  std::map<std::string, Done> done_;                 ///< arrived answers by request id
  std::jthread thread_;
};

}  // namespace herd::op
