#include "kube/client.h"

#include <sys/stat.h>

#include <curl/curl.h>

#include <cctype>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

namespace herd::kube {
namespace {

using nlohmann::json;

std::once_flag g_curl_once;

std::string reason_for_code(long code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "Unknown";
  }
}

std::string_view patch_content_type(PatchType type) {
  switch (type) {
    case PatchType::Merge:
      return "application/merge-patch+json";
    case PatchType::Strategic:
      return "application/strategic-merge-patch+json";
    case PatchType::Json:
      return "application/json-patch+json";
    case PatchType::Apply:
      return "application/apply-patch+yaml";
  }
  return kJsonContentType;
}

std::string context_of(std::string_view method, std::string_view path) {
  std::string s(method);
  s += ' ';
  s += path;
  return s;
}

size_t append_body(char* p, size_t size, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, size * n);
  return size * n;
}

// A curl_slist that frees itself.
struct HeaderList {
  curl_slist* list = nullptr;
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() { curl_slist_free_all(list); }
  void add(const std::string& line) {
    curl_slist* n = curl_slist_append(list, line.c_str());
    if (!n) throw std::bad_alloc();
    list = n;
  }
};

// The state of one streaming watch, shared with libcurl's write callback.
struct WatchStream {
  CURL* handle;
  const WatchHandler& on_event;
  std::stop_token stop;
  WatchDecoder decoder;
  long status = 0;
  std::string error_body;  ///< body of a non-2xx answer (a Status)
  std::exception_ptr error;

  static size_t write(char* p, size_t size, size_t n, void* ud) {
    auto& w = *static_cast<WatchStream*>(ud);
    n *= size;
    if (w.stop.stop_requested()) return 0;
    if (w.status == 0) curl_easy_getinfo(w.handle, CURLINFO_RESPONSE_CODE, &w.status);
    if (w.status < 200 || w.status >= 300) {
      if (w.error_body.size() < 65536) w.error_body.append(p, n);
      return n;
    }
    try {
      w.decoder.feed({p, n}, w.on_event);
    } catch (...) {
      w.error = std::current_exception();
      return 0;
    }
    return n;
  }
};

}  // namespace

// ---------------------------------------------------------------------------

void WatchDecoder::feed(std::string_view chunk, const WatchHandler& on_event) {
  lines_.feed(chunk, [&](std::string_view line) { dispatch(line, on_event); });
}

void WatchDecoder::finish(const WatchHandler& on_event) {
  if (lines_.pending().empty()) return;
  std::string last(lines_.pending());
  lines_.clear();
  dispatch(last, on_event);
}

void WatchDecoder::dispatch(std::string_view line, const WatchHandler& on_event) {
  json event = json::parse(line, nullptr, false);
  if (!event.is_object() || !event.contains("type") || !event["type"].is_string() || !event.contains("object")) {
    throw Error(context_ + ": malformed watch event: " + std::string(line.substr(0, 200)));
  }
  const std::string type = event["type"].get<std::string>();
  const json& object = event["object"];
  if (type == "ERROR") throw ApiError::from_status(object, context_);
  if (auto it = object.find("metadata"); it != object.end() && it->is_object()) {
    if (auto rv = it->find("resourceVersion"); rv != it->end() && rv->is_string()) resource_version_ = *rv;
  }
  on_event(type, object);
}

nlohmann::json Response::json() const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) throw Error("response is not JSON: " + body.substr(0, 200));
  return j;
}

ApiError::ApiError(long code, std::string reason, std::string message, std::string_view context)
    : Error((context.empty() ? "" : std::string(context) + ": ") + std::to_string(code) + " " + reason +
            (message.empty() ? "" : ": " + message)),
      code_(code),
      reason_(std::move(reason)),
      message_(std::move(message)) {}

ApiError ApiError::from_status(const json& status, std::string_view context) {
  long code = 500;
  std::string reason, message;
  if (status.is_object()) {
    if (auto c = status.find("code"); c != status.end() && c->is_number_integer()) code = c->get<long>();
    if (auto r = status.find("reason"); r != status.end() && r->is_string()) reason = r->get<std::string>();
    if (auto m = status.find("message"); m != status.end() && m->is_string()) message = m->get<std::string>();
  }
  if (reason.empty()) reason = reason_for_code(code);
  return ApiError(code, std::move(reason), std::move(message), context);
}

ApiError ApiError::from_response(const Response& response, std::string_view context) {
  json body = json::parse(response.body, nullptr, false);
  if (body.is_object() && body.value("kind", "") == "Status") {
    if (!body.contains("code")) body["code"] = response.status;
    return from_status(body, context);
  }
  std::string message = response.body.substr(0, 200);
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
  return ApiError(response.status, reason_for_code(response.status), std::move(message), context);
}

// ---------------------------------------------------------------------------

struct Client::Impl {
  ClusterConfig config;
  ClientOptions options;

  std::mutex pool_mu;
  std::vector<CURL*> idle;  ///< handles with their live connections

  std::mutex token_mu;
  std::string token;  ///< from token_file
  struct stat token_stat {};

  Impl(ClusterConfig c, ClientOptions o) : config(std::move(c)), options(std::move(o)) {
    std::call_once(g_curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }
  ~Impl() {
    for (CURL* h : idle) curl_easy_cleanup(h);
  }

  // A pooled handle, returned on destruction.
  class Handle {
   public:
    explicit Handle(Impl& impl) : impl_(impl) {
      {
        std::lock_guard lock(impl.pool_mu);
        if (!impl.idle.empty()) {
          h_ = impl.idle.back();
          impl.idle.pop_back();
        }
      }
      if (h_) {
        curl_easy_reset(h_);
      } else if (!(h_ = curl_easy_init())) {
        throw TransportError("curl_easy_init failed");
      }
    }
    ~Handle() {
      curl_easy_setopt(h_, CURLOPT_ERRORBUFFER, nullptr);  // it pointed into the caller's frame
      std::lock_guard lock(impl_.pool_mu);
      if (impl_.idle.size() < impl_.options.max_idle_handles) {
        impl_.idle.push_back(h_);
      } else {
        curl_easy_cleanup(h_);
      }
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    CURL* get() const { return h_; }

   private:
    Impl& impl_;
    CURL* h_ = nullptr;
  };

  std::string bearer() {
    if (config.token_file.empty()) return config.token;
    std::lock_guard lock(token_mu);
    struct stat st {};
    if (::stat(config.token_file.c_str(), &st) == 0 &&
        (st.st_ino != token_stat.st_ino || st.st_size != token_stat.st_size ||
         st.st_mtim.tv_sec != token_stat.st_mtim.tv_sec || st.st_mtim.tv_nsec != token_stat.st_mtim.tv_nsec)) {
      std::ifstream in(config.token_file, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      std::string t = ss.str();
      while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
      if (in && !t.empty()) {
        token = std::move(t);
        token_stat = st;
      }
    }
    return token.empty() ? config.token : token;
  }

  // Everything but the body and the write callback.
  void setup(CURL* h, std::string_view method, std::string_view path, const std::string* body,
             std::string_view content_type, HeaderList& headers, char* errbuf, long timeout_ms) {
    std::string url = config.server + std::string(path);
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 10L);
    if (config.insecure) {
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    auto set_pem = [h](CURLoption blob_option, CURLoption file_option, const std::string& pem,
                       const std::string& file) {
      if (!pem.empty()) {
        curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
        curl_easy_setopt(h, blob_option, &blob);
      } else if (!file.empty()) {
        curl_easy_setopt(h, file_option, file.c_str());
      }
    };
    set_pem(CURLOPT_CAINFO_BLOB, CURLOPT_CAINFO, config.ca_pem, config.ca_file);
    set_pem(CURLOPT_SSLCERT_BLOB, CURLOPT_SSLCERT, config.client_cert_pem, config.client_cert_file);
    set_pem(CURLOPT_SSLKEY_BLOB, CURLOPT_SSLKEY, config.client_key_pem, config.client_key_file);
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");

    headers.add("Accept: application/json");
    headers.add("Expect:");
    if (std::string t = bearer(); !t.empty()) headers.add("Authorization: Bearer " + t);
    if (method == "GET" && !body) {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, std::string(method).c_str());
      if (method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    }
    if (body) {
      headers.add("Content-Type: " + std::string(content_type));
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->c_str());
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
  }

  [[noreturn]] void transport_failure(std::string_view method, std::string_view path, CURLcode rc,
                                      const char* errbuf) const {
    throw TransportError(context_of(method, path) + ": " + (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
  }
};

Client::Client(ClusterConfig config, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {}

Client::~Client() = default;

const ClusterConfig& Client::config() const {
  return impl_->config;
}

Response Client::request(std::string_view method, std::string_view path, const json* body,
                         std::string_view content_type, std::chrono::milliseconds timeout) const {
  Impl::Handle h(*impl_);
  HeaderList headers;
  char errbuf[CURL_ERROR_SIZE] = {};
  std::string payload = body ? body->dump() : std::string();
  if (timeout.count() <= 0) timeout = impl_->options.timeout;
  impl_->setup(h.get(), method, path, body ? &payload : nullptr, content_type, headers, errbuf,
               static_cast<long>(timeout.count()));
  Response r;
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &r.body);
  CURLcode rc = curl_easy_perform(h.get());
  if (rc != CURLE_OK) impl_->transport_failure(method, path, rc, errbuf);
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

namespace {

json checked(const Response& r, std::string_view method, std::string_view path) {
  if (!r.ok()) throw ApiError::from_response(r, context_of(method, path));
  if (r.body.empty()) return json::object();
  return r.json();
}

}  // namespace

json Client::get(std::string_view path) const {
  return checked(request("GET", path), "GET", path);
}

json Client::list(std::string_view path, const ListOptions& o) const {
  std::string p(path);
  if (!o.label_selector.empty()) p = add_query(std::move(p), "labelSelector", o.label_selector);
  if (!o.field_selector.empty()) p = add_query(std::move(p), "fieldSelector", o.field_selector);
  if (o.limit > 0) p = add_query(std::move(p), "limit", std::to_string(o.limit));
  if (!o.continue_token.empty()) p = add_query(std::move(p), "continue", o.continue_token);
  if (!o.resource_version.empty()) p = add_query(std::move(p), "resourceVersion", o.resource_version);
  return get(p);
}

json Client::list_all(std::string_view path, ListOptions options) const {
  json items = json::array();
  for (;;) {
    json page = list(path, options);
    if (auto it = page.find("items"); it != page.end() && it->is_array()) {
      for (auto& item : *it) items.push_back(std::move(item));
    }
    options.continue_token = page.value(json::json_pointer("/metadata/continue"), std::string());
    if (options.continue_token.empty()) {
      page["items"] = std::move(items);
      if (page.contains("metadata")) page["metadata"].erase("continue");
      return page;
    }
  }
}

json Client::create(std::string_view path, const json& object) const {
  return checked(request("POST", path, &object), "POST", path);
}

json Client::replace(std::string_view path, const json& object) const {
  return checked(request("PUT", path, &object), "PUT", path);
}

json Client::update_status(std::string_view path, const json& object) const {
  return replace(std::string(path) + "/status", object);
}

json Client::patch(std::string_view path, const json& patch, PatchType type, std::string_view field_manager,
                   bool force) const {
  std::string p(path);
  if (!field_manager.empty()) p = add_query(std::move(p), "fieldManager", field_manager);
  if (type == PatchType::Apply && force) p = add_query(std::move(p), "force", "true");
  return checked(request("PATCH", p, &patch, patch_content_type(type)), "PATCH", p);
}

json Client::remove(std::string_view path, Propagation propagation, std::optional<int> grace_seconds) const {
  json options = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  switch (propagation) {
    case Propagation::Default:
      break;
    case Propagation::Foreground:
      options["propagationPolicy"] = "Foreground";
      break;
    case Propagation::Background:
      options["propagationPolicy"] = "Background";
      break;
    case Propagation::Orphan:
      options["propagationPolicy"] = "Orphan";
      break;
  }
  if (grace_seconds) options["gracePeriodSeconds"] = *grace_seconds;
  return checked(request("DELETE", path, &options), "DELETE", path);
}

std::string Client::watch(std::string_view path, const WatchOptions& o, const WatchHandler& on_event,
                          std::stop_token stop) const {
  if (stop.stop_requested()) return o.resource_version;
  std::string p = add_query(std::string(path), "watch", "1");
  p = add_query(std::move(p), "allowWatchBookmarks", "true");
  if (!o.resource_version.empty()) p = add_query(std::move(p), "resourceVersion", o.resource_version);
  if (!o.label_selector.empty()) p = add_query(std::move(p), "labelSelector", o.label_selector);
  if (!o.field_selector.empty()) p = add_query(std::move(p), "fieldSelector", o.field_selector);
  p = add_query(std::move(p), "timeoutSeconds", std::to_string(o.timeout_seconds));

  Impl::Handle h(*impl_);
  HeaderList headers;
  char errbuf[CURL_ERROR_SIZE] = {};
  impl_->setup(h.get(), "GET", p, nullptr, kJsonContentType, headers, errbuf, (o.timeout_seconds + 30L) * 1000L);
  WatchStream w{h.get(), on_event, stop, WatchDecoder(context_of("GET", p))};
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, &WatchStream::write);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &w);

  // The multi interface lets stop() wake the transfer at once (curl_multi_wakeup is thread-safe).
  struct Multi {
    CURLM* m;
    CURL* h;
    ~Multi() {
      curl_multi_remove_handle(m, h);
      curl_multi_cleanup(m);
    }
  } multi{curl_multi_init(), h.get()};
  if (!multi.m || curl_multi_add_handle(multi.m, h.get()) != CURLM_OK) throw TransportError("curl_multi_init failed");
  CURLcode result = CURLE_OK;
  {
    std::stop_callback wake(stop, [m = multi.m] { curl_multi_wakeup(m); });
    for (int running = 1; running && !stop.stop_requested();) {
      if (CURLMcode mc = curl_multi_perform(multi.m, &running); mc != CURLM_OK) {
        throw TransportError(context_of("GET", p) + ": " + curl_multi_strerror(mc));
      }
      if (running) curl_multi_poll(multi.m, nullptr, 0, 1000, nullptr);
    }
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi.m, &queued)) {
      if (msg->msg == CURLMSG_DONE) result = msg->data.result;
    }
  }
  auto last_version = [&] {
    return w.decoder.resource_version().empty() ? o.resource_version : w.decoder.resource_version();
  };
  if (w.error) std::rethrow_exception(w.error);
  if (stop.stop_requested()) return last_version();
  if (result != CURLE_OK) impl_->transport_failure("GET", p, result, errbuf);
  if (w.status == 0) curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &w.status);
  if (w.status < 200 || w.status >= 300) throw ApiError::from_response({w.status, w.error_body}, context_of("GET", p));
  w.decoder.finish(on_event);
  return last_version();
}

// ---------------------------------------------------------------------------

std::string path_for(std::string_view group, std::string_view version, std::string_view resource, std::string_view ns,
                     std::string_view name, std::string_view subresource) {
  std::string p = group.empty() ? "/api/" : "/apis/" + std::string(group) + "/";
  p += version;
  if (!ns.empty()) (p += "/namespaces/") += ns;
  (p += '/') += resource;
  if (!name.empty()) (p += '/') += name;
  if (!subresource.empty()) (p += '/') += subresource;
  return p;
}

std::string query_escape(std::string_view value) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string add_query(std::string path, std::string_view key, std::string_view value) {
  path += path.find('?') == std::string::npos ? '?' : '&';
  path += key;
  path += '=';
  path += query_escape(value);
  return path;
}

}  // namespace herd::kube
