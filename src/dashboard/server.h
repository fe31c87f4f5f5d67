#pragma once
// The live dashboard's HTTP server: the page and its files (assets.h), and
// GET /events, a server-sent event stream (text/event-stream) of the updates
// given to publish(). A browser that connects late first gets every update so
// far, so its charts cover the whole run.
//
// One thread of its own runs a loop::EventLoop; publish() and the destructor
// may be called from any other thread. Only GET and HEAD are answered; each
// plain request gets its answer and the connection is closed. A stream whose
// unsent data passes kMaxBacklog (a browser that stopped reading) is closed.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace herd::dashboard {

class DashboardServer {
 public:
  static constexpr std::size_t kMaxBacklog = 16 * 1024 * 1024;  ///< bytes per stream
  static constexpr std::size_t kMaxHistory = 20'000;            ///< updates kept for late browsers
  static constexpr std::size_t kMaxConnections = 64;            ///< more are closed at once
  /// How long the destructor lets the streams send what they have (the final update).
  static constexpr std::chrono::milliseconds kDrainTimeout{1000};

  /// Binds `host`:`port` (port 0 = ephemeral) and starts serving. Throws
  /// std::system_error naming the address when it cannot (e.g. in use), and
  /// std::invalid_argument for a host that does not resolve.
  DashboardServer(const std::string& host, int port);
  /// Lets the streams send what they have (at most kDrainTimeout), then closes
  /// every connection and joins the thread.
  ~DashboardServer();
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  /// "http://127.0.0.1:5665" (the bound port).
  const std::string& url() const { return url_; }
  std::uint16_t port() const { return port_; }

  /// Sends `update_json` (one JSON object, no newline) to every stream as an
  /// "update" event, and keeps it for browsers that connect later. Thread-safe.
  void publish(std::string update_json);

 private:
  struct State;
  std::unique_ptr<State> st_;
  std::string url_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace herd::dashboard
