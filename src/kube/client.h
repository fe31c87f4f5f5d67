#pragma once
// A small Kubernetes API client over libcurl: raw requests, typed JSON helpers
// that throw ApiError on non-2xx answers, and streaming watches.
//
// Thread safety: every member of Client is const and may be called from several
// threads at once. Each call borrows a libcurl easy handle from a small pool, so
// keep-alive connections are reused between calls.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kube/config.h"

namespace herd::kube {

inline constexpr std::string_view kJsonContentType = "application/json";

/// One HTTP answer. `status` is always an HTTP code: transport failures throw.
struct Response {
  long status = 0;
  std::string body;

  bool ok() const { return status >= 200 && status < 300; }
  /// The body as JSON; throws Error when it is not JSON.
  nlohmann::json json() const;
};

/// A non-2xx answer, or an ERROR event in a watch. `reason` is the Status
/// reason (NotFound, AlreadyExists, Conflict, Expired, Gone, Forbidden, Invalid,
/// Unauthorized, ...), derived from the code when the body is not a Status.
class ApiError : public Error {
 public:
  /// `context` prefixes what(), e.g. "GET /api/v1/namespaces/x".
  ApiError(long code, std::string reason, std::string message, std::string_view context = "");
  /// From a non-2xx response whose body is (usually) a metav1.Status.
  static ApiError from_response(const Response& response, std::string_view context = "");
  /// From a metav1.Status object (a watch ERROR event's object).
  static ApiError from_status(const nlohmann::json& status, std::string_view context = "");

  long code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }

  bool is_not_found() const { return code_ == 404; }
  bool is_already_exists() const { return code_ == 409 && reason_ == "AlreadyExists"; }
  bool is_conflict() const { return code_ == 409 && reason_ != "AlreadyExists"; }
  bool is_gone() const { return code_ == 410; }  ///< resourceVersion too old: relist
  bool is_forbidden() const { return code_ == 403; }
  bool is_invalid() const { return code_ == 422; }

 private:
  long code_;
  std::string reason_;
  std::string message_;
};

/// No HTTP answer: connection refused, TLS failure, timeout. what() carries curl's message.
class TransportError : public Error {
 public:
  using Error::Error;
};

enum class PatchType {
  Merge,      ///< application/merge-patch+json (RFC 7386)
  Strategic,  ///< application/strategic-merge-patch+json (built-in types only)
  Json,       ///< application/json-patch+json (RFC 6902; the patch is an array)
  Apply,      ///< server-side apply (application/apply-patch+yaml); needs a field manager
};

enum class Propagation { Default, Foreground, Background, Orphan };

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int limit = 0;                 ///< page size; 0 = everything in one answer
  std::string continue_token;    ///< from a previous page's metadata.continue
  std::string resource_version;  ///< empty = a consistent (quorum) read
};

struct WatchOptions {
  std::string resource_version;  ///< events after this version; empty = synthetic ADDED for what exists, then changes
  std::string label_selector;
  std::string field_selector;
  int timeout_seconds = 300;  ///< the server ends the watch after this; the client gives up 30 s later
};

/// Called for ADDED, MODIFIED, DELETED and BOOKMARK events, on the watching thread.
using WatchHandler = std::function<void(std::string_view type, const nlohmann::json& object)>;

struct ClientOptions {
  std::chrono::milliseconds timeout{30'000};  ///< whole request (watches use their own)
  std::chrono::milliseconds connect_timeout{10'000};
  std::string user_agent = "herd";
  std::size_t max_idle_handles = 8;  ///< pooled libcurl handles (each keeps its connection)
};

class Client {
 public:
  explicit Client(ClusterConfig config, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ClusterConfig& config() const;

  /// Sends one request; returns any HTTP answer (2xx or not). `path` is absolute
  /// ("/api/v1/..."), query included. `timeout` zero = the client's default.
  /// Throws TransportError when there is no answer.
  Response request(std::string_view method, std::string_view path, const nlohmann::json* body = nullptr,
                   std::string_view content_type = kJsonContentType, std::chrono::milliseconds timeout = {}) const;

  // Typed helpers: return the answer's JSON; throw ApiError on non-2xx, TransportError without an answer.
  nlohmann::json get(std::string_view path) const;
  /// One page of a collection (follow metadata.continue for more, or use list_all).
  nlohmann::json list(std::string_view path, const ListOptions& options = {}) const;
  /// Every page concatenated: the last page's List with all items.
  nlohmann::json list_all(std::string_view path, ListOptions options = {}) const;
  nlohmann::json create(std::string_view path, const nlohmann::json& object) const;  ///< POST to the collection
  nlohmann::json replace(std::string_view path,
                         const nlohmann::json& object) const;  ///< PUT (metadata.resourceVersion = optimistic lock)
  nlohmann::json update_status(std::string_view path, const nlohmann::json& object) const;  ///< PUT path + "/status"
  /// PATCH. Apply needs `field_manager`; `force` takes over conflicting fields (apply only).
  nlohmann::json patch(std::string_view path, const nlohmann::json& patch, PatchType type = PatchType::Merge,
                       std::string_view field_manager = "", bool force = false) const;
  /// DELETE with DeleteOptions; returns the deleted object or a Status.
  nlohmann::json remove(std::string_view path, Propagation propagation = Propagation::Default,
                        std::optional<int> grace_seconds = std::nullopt) const;

  /// Streams a watch on a collection path until the server ends it, `stop` is
  /// requested (ends within milliseconds), or an error. Events split across
  /// chunks are reassembled. Returns the last resourceVersion seen (objects and
  /// bookmarks), or options.resource_version when no event came. Throws ApiError
  /// on a non-2xx answer or an ERROR event (is_gone(): the version is too old,
  /// relist), TransportError on a broken connection, and rethrows what
  /// `on_event` throws (the watch is then closed).
  std::string watch(std::string_view path, const WatchOptions& options, const WatchHandler& on_event,
                    std::stop_token stop = {}) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The REST path of a resource: core group "" gives /api/v1/..., others
/// /apis/<group>/<version>/...; `ns` empty = cluster scope (or all namespaces),
/// `name` empty = the collection.
/// path_for("apps", "v1", "deployments", "ns", "web", "scale") = "/apis/apps/v1/namespaces/ns/deployments/web/scale".
std::string path_for(std::string_view group, std::string_view version, std::string_view resource,
                     std::string_view ns = "", std::string_view name = "", std::string_view subresource = "");

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
std::string query_escape(std::string_view value);

/// `path` with "key=escaped(value)" appended after '?' or '&'.
std::string add_query(std::string path, std::string_view key, std::string_view value);

/// Splits a byte stream into lines across arbitrary chunk boundaries (the body
/// of a watch is newline-delimited JSON). Not thread-safe.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line = std::size_t{64} << 20) : max_line_(max_line) {}

  /// Calls `on_line(std::string_view)` for every complete line in the stream so
  /// far, without its "\n" or "\r\n"; blank lines are skipped. Throws
  /// std::length_error when a line grows beyond max_line bytes.
  template <class F>
  void feed(std::string_view chunk, F&& on_line) {
    for (std::size_t nl; (nl = chunk.find('\n')) != std::string_view::npos; chunk.remove_prefix(nl + 1)) {
      std::string_view line = chunk.substr(0, nl);
      if (!pending_.empty()) {
        pending_.append(line);
        line = pending_;
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) on_line(line);
      pending_.clear();
    }
    if (pending_.size() + chunk.size() > max_line_) throw std::length_error("watch event longer than the limit");
    pending_.append(chunk);
  }

  /// Bytes of an unfinished line.
  std::string_view pending() const { return pending_; }
  /// Forgets the unfinished line.
  void clear() { pending_.clear(); }

 private:
  std::size_t max_line_;
  std::string pending_;
};

/// Decodes the body of a watch (newline-delimited JSON events, split across
/// chunks anywhere) into events. Not thread-safe.
class WatchDecoder {
 public:
  /// `context` prefixes error messages (e.g. "GET /api/v1/pods?watch=1").
  explicit WatchDecoder(std::string context = "", std::size_t max_line = std::size_t{64} << 20)
      : context_(std::move(context)), lines_(max_line) {}

  /// Calls `on_event(type, object)` for every complete event in the stream so
  /// far. Throws Error for a line that is not {"type": string, "object": ...},
  /// ApiError for an ERROR event (its Status), std::length_error for an
  /// overlong line, and rethrows what `on_event` throws.
  void feed(std::string_view chunk, const WatchHandler& on_event);
  /// The stream ended: decodes a last event that had no trailing newline.
  void finish(const WatchHandler& on_event);
  /// The last metadata.resourceVersion seen in an event ("" = none yet).
  const std::string& resource_version() const { return resource_version_; }

 private:
  void dispatch(std::string_view line, const WatchHandler& on_event);

  std::string context_;
  std::string resource_version_;
  LineSplitter lines_;
};

}  // namespace herd::kube
