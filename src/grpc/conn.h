#pragma once
// Calls over gRPC without generated code: a channel per k6 Client and
// grpc::GenericStub calls on raw message bytes. Completions arrive on gRPC's
// threads (the callback API, and one process-wide completion-queue thread that
// watches connection states); every callback here runs there, so callers post
// the result to their own event loop and never block a thread while waiting.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace grpc {
class Channel;
}  // namespace grpc

namespace herd::rpc {

using Metadata = std::vector<std::pair<std::string, std::string>>;

/// Why gRPC would refuse `md`, or "" when it is valid: a key must be non-empty
/// and made of 0-9 a-z - _ . only; a value must be printable ASCII (0x20-0x7E)
/// unless its key ends in "-bin". gRPC aborts the process on such metadata
/// ("API misuse"), so callers check it first.
std::string metadata_error(const Metadata& md);
/// The same for one entry.
std::string metadata_error(const std::string& key, const std::string& value);

struct TlsOptions {
  std::string cert, key, cacerts;  ///< PEM text; cert+key for client auth
};

struct ConnectOptions {
  bool plaintext = false;
  std::chrono::milliseconds timeout{60000};
  int max_receive = -1;  ///< bytes; -1 = gRPC's default (4 MiB)
  int max_send = -1;
  std::optional<TlsOptions> tls;
  std::string authority;  ///< :authority override; "" = the address
};

/// How a call ended. `code` is a gRPC status code (0 = OK).
struct CallResult {
  int code = 0;
  std::string status_message;
  std::string body;  ///< unary: the response message's wire bytes
  Metadata headers, trailers;
};

/// Something in flight that can be cancelled (a call or a stream).
class Pending {
 public:
  virtual ~Pending() = default;
  virtual void cancel() = 0;
};

class StreamCall;

/// One channel. Thread-safe.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Opened = std::function<void(std::shared_ptr<Connection>, std::string error)>;
  /// Starts connecting to `addr` (host:port); `done` runs once, on a gRPC
  /// thread, with the ready connection or an error text.
  static void open(const std::string& addr, const ConnectOptions& opts, Opened done);
  ~Connection();

  const std::string& address() const { return addr_; }

  /// A unary call on wire bytes; `done` runs on a gRPC thread. `timeout` 0 = none.
  std::shared_ptr<Pending> unary(const std::string& path, std::string body, const Metadata& md,
                                 std::chrono::milliseconds timeout, std::function<void(CallResult)> done);

  struct StreamHandlers {
    std::function<void(std::string)> on_message;  ///< each message received (gRPC thread, in order)
    std::function<void(CallResult)> on_done;      ///< the end, once (gRPC thread)
  };
  /// Any streaming call (client, server, bidirectional: the same on the wire).
  std::shared_ptr<StreamCall> stream(const std::string& path, const Metadata& md, std::chrono::milliseconds timeout,
                                     StreamHandlers handlers);

  /// Cancels every call in flight and waits (bounded) until their callbacks ran.
  void cancel_all_and_wait();

  // Internal: calls register while in flight.
  void add_live(const std::shared_ptr<Pending>& p);
  void remove_live(Pending* p);

 private:
  Connection() = default;
  std::string addr_;
  std::shared_ptr<grpc::Channel> channel_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Pending*, std::weak_ptr<Pending>> live_;
};

/// A streaming call. write/writes_done/cancel are thread-safe.
class StreamCall : public Pending {
 public:
  virtual void write(std::string bytes) = 0;
  virtual void writes_done() = 0;
};

}  // namespace herd::rpc
