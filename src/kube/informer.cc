#include "kube/informer.h"

#include <condition_variable>

namespace herd::kube {
namespace {

using nlohmann::json;

// Sleeps until `d` passed or stop is requested; false when stopped.
bool sleep_for(std::stop_token stop, std::chrono::milliseconds d) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait_for(lock, stop, d, [] { return false; });
  return !stop.stop_requested();
}

template <class F>
void call_handler(const F& handler, const auto&... args) {
  if (!handler) return;
  try {
    handler(args...);
  } catch (...) {  // documented: handler exceptions are swallowed
  }
}

std::string resource_version_of(const json& object) {
  return object.value(json::json_pointer("/metadata/resourceVersion"), std::string());
}

}  // namespace

std::string object_key(const json& object) {
  std::string ns = object.value(json::json_pointer("/metadata/namespace"), std::string());
  std::string name = object.value(json::json_pointer("/metadata/name"), std::string());
  return ns.empty() ? name : ns + "/" + name;
}

Object Store::get(const std::string& key) const {
  std::shared_lock lock(mu_);
  auto it = items_.find(key);
  return it == items_.end() ? nullptr : it->second;
}

std::vector<Object> Store::list() const {
  std::shared_lock lock(mu_);
  std::vector<Object> out;
  out.reserve(items_.size());
  for (const auto& [key, object] : items_) out.push_back(object);
  return out;
}

std::vector<std::string> Store::keys() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& [key, object] : items_) out.push_back(key);
  return out;
}

std::size_t Store::size() const {
  std::shared_lock lock(mu_);
  return items_.size();
}

Informer::Informer(const Client& client, InformerOptions options, InformerHandlers handlers)
    : client_(client), options_(std::move(options)), handlers_(std::move(handlers)) {}

Informer::~Informer() {
  stop();
}

void Informer::start() {
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
  if (options_.resync.count() > 0) resync_thread_ = std::jthread([this](std::stop_token stop) { resync_loop(stop); });
}

void Informer::stop() {
  thread_.request_stop();
  resync_thread_.request_stop();
  if (thread_.joinable()) thread_.join();
  if (resync_thread_.joinable()) resync_thread_.join();
}

bool Informer::wait_for_sync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return sync_cv_.wait_for(lock, timeout, [this] { return synced_.load(); });
}

std::string Informer::resource_version() const {
  std::lock_guard lock(mu_);
  return resource_version_;
}

void Informer::set_resource_version(const std::string& rv) {
  if (rv.empty()) return;
  std::lock_guard lock(mu_);
  resource_version_ = rv;
}

std::optional<InformerError> Informer::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void Informer::report(InformerError error) {
  {
    std::lock_guard lock(mu_);
    last_error_ = error;
  }
  call_handler(handlers_.on_error, error);
}

void Informer::run(std::stop_token stop) {
  auto backoff = options_.backoff_min;
  bool gone_before = false;
  while (!stop.stop_requested()) {
    const char* verb = "list";
    try {
      relist(stop);
      backoff = options_.backoff_min;
      verb = "watch";
      while (!stop.stop_requested()) {
        auto started = std::chrono::steady_clock::now();
        int events = 0;
        WatchOptions w{resource_version(), options_.label_selector, options_.field_selector,
                       options_.watch_timeout_seconds};
        std::string rv = client_.watch(
            options_.path, w,
            [&](std::string_view type, const json& object) {
              ++events;
              apply_event(type, object);
            },
            stop);
        set_resource_version(rv);
        gone_before = false;
        if (events == 0 && !stop.stop_requested() &&
            std::chrono::steady_clock::now() - started < std::chrono::seconds(1)) {
          throw Error("watch " + options_.path + " ended at once");
        }
      }
    } catch (const ApiError& e) {
      if (e.is_gone() && !gone_before) {  // the version is too old: relist now (once)
        gone_before = true;
        continue;
      }
      if (stop.stop_requested()) break;
      report({verb, e.code(), e.what()});
      if (!sleep_for(stop, backoff)) break;
      backoff = std::min(backoff * 2, options_.backoff_max);
    } catch (const std::exception& e) {
      if (stop.stop_requested()) break;
      report({verb, 0, e.what()});
      if (!sleep_for(stop, backoff)) break;
      backoff = std::min(backoff * 2, options_.backoff_max);
    }
  }
}

void Informer::relist(std::stop_token stop) {
  ListOptions lo{options_.label_selector, options_.field_selector, options_.page_size, "", ""};
  std::unordered_map<std::string, Object> fresh;
  std::string rv;
  do {
    if (stop.stop_requested()) return;
    json page = client_.list(options_.path, lo);
    std::string kind = page.value("kind", "");
    if (kind.size() > 4 && kind.ends_with("List")) kind.resize(kind.size() - 4);
    std::string api_version = page.value("apiVersion", "");
    if (auto it = page.find("items"); it != page.end() && it->is_array()) {
      for (auto& item : *it) {
        if (!item.contains("kind") && !kind.empty()) item["kind"] = kind;
        if (!item.contains("apiVersion") && !api_version.empty()) item["apiVersion"] = api_version;
        std::string key = object_key(item);
        fresh[key] = std::make_shared<const json>(std::move(item));
      }
    }
    rv = page.value(json::json_pointer("/metadata/resourceVersion"), std::string());
    lo.continue_token = page.value(json::json_pointer("/metadata/continue"), std::string());
  } while (!lo.continue_token.empty());

  std::lock_guard dispatch(dispatch_mu_);
  std::unordered_map<std::string, Object> old;
  {
    std::unique_lock lock(store_.mu_);
    old.swap(store_.items_);
    store_.items_ = fresh;
  }
  set_resource_version(rv);
  ++relists_;
  for (const auto& [key, object] : fresh) {
    auto it = old.find(key);
    if (it == old.end()) {
      call_handler(handlers_.on_add, object);
    } else if (resource_version_of(*it->second) != resource_version_of(*object)) {
      call_handler(handlers_.on_update, it->second, object);
    }
  }
  for (const auto& [key, object] : old) {
    if (!fresh.count(key)) call_handler(handlers_.on_delete, object);
  }
  {
    std::lock_guard lock(mu_);
    synced_ = true;
    last_error_.reset();
  }
  sync_cv_.notify_all();
}

void Informer::apply_event(std::string_view type, const json& object) {
  set_resource_version(resource_version_of(object));
  if (type == "BOOKMARK") return;
  auto fresh = std::make_shared<const json>(object);
  std::string key = object_key(*fresh);
  std::lock_guard dispatch(dispatch_mu_);
  Object old;
  {
    std::unique_lock lock(store_.mu_);
    auto it = store_.items_.find(key);
    if (it != store_.items_.end()) old = it->second;
    if (type == "DELETED") {
      if (it != store_.items_.end()) store_.items_.erase(it);
    } else {
      store_.items_[key] = fresh;
    }
  }
  if (type == "DELETED") {
    call_handler(handlers_.on_delete, fresh);
  } else if (old) {
    call_handler(handlers_.on_update, old, fresh);
  } else {
    call_handler(handlers_.on_add, fresh);
  }
}

void Informer::resync_loop(std::stop_token stop) {
  while (sleep_for(stop, options_.resync)) {
    std::lock_guard dispatch(dispatch_mu_);
    for (const Object& object : store_.list()) call_handler(handlers_.on_update, object, object);
  }
}

}  // namespace herd::kube
