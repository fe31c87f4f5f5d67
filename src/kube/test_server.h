#pragma once
// Test-only: a small HTTP/1.1 server on loopback for driving the client
// without a cluster, and FakeObjects, an in-memory object store that answers
// like the API server for plain CRUD (enough for leases and events).

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace herd::kube::testing {

struct HttpRequest {
  std::string method;
  std::string target;                          ///< path and query as sent
  std::string path;                            ///< without the query
  std::map<std::string, std::string> query;    ///< decoded values
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string body;
};

/// Sends one chunk of a streamed body; false once the client left or the server stops.
using ChunkWriter = std::function<bool(std::string_view)>;

struct HttpReply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::function<void(const ChunkWriter&)> stream;  ///< when set, streams the body (chunked) instead of `body`
  int delay_ms = 0;                                ///< wait before answering
};

/// One thread per connection, one request per connection. Thread-safe handler calls.
class TestServer {
 public:
  using Handler = std::function<HttpReply(const HttpRequest&)>;
  explicit TestServer(Handler handler);
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  bool stopping() const { return stopping_; }
  /// Sleeps up to `ms` (in small steps); false when the server is stopping.
  bool pause(int ms) const;
  int requests() const { return requests_; }

 private:
  void accept_loop();
  void serve(int fd);
  void serve_one(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::vector<int> open_fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

/// Answers GET (object or collection list), POST (create; 409 AlreadyExists),
/// PUT (409 Conflict on a stale metadata.resourceVersion), PATCH (merge patch)
/// and DELETE, with Status bodies on errors, like the API server.
class FakeObjects {
 public:
  HttpReply handle(const HttpRequest& request);
  nlohmann::json get(const std::string& path) const;  ///< null when absent
  std::size_t size() const;
  std::size_t count_under(const std::string& collection) const;

 private:
  static HttpReply status(int code, const std::string& reason, const std::string& message);
  mutable std::mutex mu_;
  std::map<std::string, nlohmann::json> objects_;  ///< by object path
  long version_ = 100;
};

/// A TCP port on 127.0.0.1 with nothing listening.
int closed_port();

}  // namespace herd::kube::testing
