#pragma once
// List+watch cache for one resource (client-go's Reflector + Informer in one):
// lists the collection in pages, watches from the list's resourceVersion,
// follows bookmarks, relists after 410 Gone and (with exponential backoff)
// after any other failure, and keeps a thread-safe store keyed "namespace/name".

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/client.h"

namespace herd::kube {

/// Cached objects are shared and never mutated: copy before changing one.
using Object = std::shared_ptr<const nlohmann::json>;

/// "namespace/name", or "name" for cluster-scoped objects (client-go's MetaNamespaceKeyFunc).
std::string object_key(const nlohmann::json& object);

/// Thread-safe map from object_key to the latest object seen.
class Store {
 public:
  Object get(const std::string& key) const;  ///< nullptr when absent
  std::vector<Object> list() const;          ///< a snapshot, in no particular order
  std::vector<std::string> keys() const;
  std::size_t size() const;

 private:
  friend class Informer;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Object> items_;
};

struct InformerOptions {
  std::string path;  ///< collection path, e.g. path_for("", "v1", "configmaps", ns); ns "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  int page_size = 500;                         ///< list limit per page
  int watch_timeout_seconds = 300;             ///< each watch lasts about this long, then a new one starts
  std::chrono::milliseconds resync{0};         ///< every period, on_update(obj, obj) for each cached object; 0 = never
  std::chrono::milliseconds backoff_min{200};  ///< after a failure; doubles up to backoff_max, reset by a good list
  std::chrono::milliseconds backoff_max{30'000};
};

/// A failed list or watch (the informer retries it with backoff).
struct InformerError {
  std::string verb;  ///< "list" or "watch"
  long code = 0;     ///< the HTTP status (403 for a missing RBAC verb); 0 = no HTTP answer
  std::string message;
};

/// Handlers run on the informer's threads, one at a time and in event order,
/// after the store has been updated. They must be quick (push a key to a
/// WorkQueue) and should not throw (exceptions are swallowed). After a relist,
/// objects that changed get on_update and objects that vanished get on_delete.
struct InformerHandlers {
  std::function<void(const Object&)> on_add;
  std::function<void(const Object& old_object, const Object& new_object)> on_update;
  std::function<void(const Object&)> on_delete;  ///< the last state seen
  /// Every failed list or watch, before the backoff (a 410 Gone that is
  /// answered by a relist is not an error).
  std::function<void(const InformerError&)> on_error;
};

class Informer {
 public:
  /// `client` must outlive the informer.
  Informer(const Client& client, InformerOptions options, InformerHandlers handlers = {});
  ~Informer();  ///< stop()
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  void start();  ///< starts the list+watch thread (once)
  void stop();   ///< ends the watch promptly and joins; handlers are not called afterwards (never call from one)

  bool has_synced() const { return synced_; }  ///< true after the first complete list
  /// Waits until has_synced() or the timeout; returns has_synced().
  bool wait_for_sync(std::chrono::milliseconds timeout) const;

  const Store& store() const { return store_; }
  std::string resource_version() const;     ///< the last resourceVersion seen
  int relists() const { return relists_; }  ///< completed lists (the first included)
  /// The latest failure, until a list succeeds; nullopt when none since.
  std::optional<InformerError> last_error() const;
  const InformerOptions& options() const { return options_; }

 private:
  void run(std::stop_token stop);
  void relist(std::stop_token stop);
  void apply_event(std::string_view type, const nlohmann::json& object);
  void resync_loop(std::stop_token stop);
  void set_resource_version(const std::string& rv);
  void report(InformerError error);

  const Client& client_;
  const InformerOptions options_;
  const InformerHandlers handlers_;
  Store store_;
  std::mutex dispatch_mu_;  ///< serialises store updates with handler calls
  mutable std::mutex mu_;
  mutable std::condition_variable sync_cv_;
  std::string resource_version_;
  std::optional<InformerError> last_error_;  ///< guarded by mu_
  std::string kind_, api_version_;           ///< filled into listed items, which lack them
  std::atomic<bool> synced_{false};
  std::atomic<int> relists_{0};
  std::jthread thread_, resync_thread_;
};

}  // namespace herd::kube
