#include "operator/coordinator_poller.h"

#include <curl/curl.h>

#include <stdexcept>

namespace herd::op {
namespace {

struct EasyDeleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
struct MultiDeleter {
  void operator()(CURLM* m) const noexcept { curl_multi_cleanup(m); }
};

std::size_t append(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

std::string request_id(const std::string& key, const std::string& method, const std::string& url,
                       const std::string& body) {
  return key + '\n' + method + ' ' + url + '\n' + body;
}

}  // namespace

struct CoordinatorPoller::Multi {
  std::unique_ptr<CURLM, MultiDeleter> handle;
  /// Transfers added to `handle`; each easy handle is removed before its Transfer dies.
  std::vector<std::unique_ptr<Transfer>> running;
  ~Multi();
};

struct CoordinatorPoller::Transfer {
  std::string id, key, body, response;
  std::unique_ptr<CURL, EasyDeleter> easy;
  std::unique_ptr<curl_slist, SlistDeleter> headers;
};

CoordinatorPoller::Multi::~Multi() {
  for (auto& t : running) curl_multi_remove_handle(handle.get(), t->easy.get());
}

CoordinatorPoller::CoordinatorPoller(std::function<void(const std::string&)> on_answer,
                                     std::chrono::milliseconds timeout)
    : on_answer_(std::move(on_answer)), timeout_(timeout), multi_(std::make_unique<Multi>()) {
  multi_->handle.reset(curl_multi_init());
  if (!multi_->handle) throw std::runtime_error("curl_multi_init failed");
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

CoordinatorPoller::~CoordinatorPoller() {
  thread_.request_stop();
  curl_multi_wakeup(multi_->handle.get());
  if (thread_.joinable()) thread_.join();
}

std::size_t CoordinatorPoller::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_.size();
}

std::optional<HttpAnswer> CoordinatorPoller::call(const std::string& key, const std::string& method,
                                                  const std::string& url, const std::string& body, bool keep) {
  const std::string id = request_id(key, method, url, body);
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  for (auto it = done_.begin(); it != done_.end();) {
    it = now - it->second.at > std::chrono::minutes(1) ? done_.erase(it) : std::next(it);
  }
  if (auto it = done_.find(id); it != done_.end()) {
    if (keep && it->second.answer.first == 200) return it->second.answer;
    HttpAnswer answer = std::move(it->second.answer);
    done_.erase(it);
    return answer;
  }
  if (in_flight_.count(id)) return std::nullopt;

  auto t = std::make_unique<Transfer>();
  t->id = id;
  t->key = key;
  t->body = body;
  t->easy.reset(curl_easy_init());
  if (!t->easy) return HttpAnswer{0, "curl_easy_init failed"};
  CURL* h = t->easy.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t->response);
  if (!body.empty()) {
    t->headers.reset(curl_slist_append(nullptr, "Content-Type: application/json"));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers.get());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, t->body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(t->body.size()));
  }
  in_flight_.insert(id);
  starting_.push_back(std::move(t));
  curl_multi_wakeup(multi_->handle.get());
  return std::nullopt;
}

void CoordinatorPoller::run(std::stop_token stop) {
  CURLM* m = multi_->handle.get();
  while (!stop.stop_requested()) {
    {
      std::lock_guard lock(mu_);
      for (auto& t : starting_) {
        if (curl_multi_add_handle(m, t->easy.get()) == CURLM_OK) {
          multi_->running.push_back(std::move(t));
        } else {
          in_flight_.erase(t->id);
          done_[t->id] = Done{{0, "curl_multi_add_handle failed"}, std::chrono::steady_clock::now()};
        }
      }
      starting_.clear();
    }
    int running = 0;
    curl_multi_perform(m, &running);
    std::vector<std::string> answered;
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(m, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      for (auto it = multi_->running.begin(); it != multi_->running.end(); ++it) {
        Transfer& t = **it;
        if (t.easy.get() != msg->easy_handle) continue;
        long status = 0;
        std::string body;
        if (msg->data.result == CURLE_OK) {
          curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &status);
          body = std::move(t.response);
        } else {
          body = curl_easy_strerror(msg->data.result);
        }
        curl_multi_remove_handle(m, t.easy.get());
        {
          std::lock_guard lock(mu_);
          in_flight_.erase(t.id);
          done_[t.id] = Done{{status, std::move(body)}, std::chrono::steady_clock::now()};
        }
        answered.push_back(t.key);
        multi_->running.erase(it);
        break;
      }
    }
    for (const auto& key : answered) {
      try {
        if (on_answer_) on_answer_(key);
      } catch (...) {  // documented: keep it quick; a throwing callback loses only its requeue
      }
    }
    if (!stop.stop_requested()) curl_multi_poll(m, nullptr, 0, 1000, nullptr);
  }
}

}  // namespace herd::op
