#include "export/rw_output.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>

namespace herd::exporter {

namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::size_t collect_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() < 4096) body->append(data, std::min<std::size_t>(size * n, 4096 - body->size()));
  return size * n;
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int cancelled(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* give_up_at = static_cast<const std::atomic<std::int64_t>*>(user);
  return give_up_at && steady_ns() > give_up_at->load() ? 1 : 0;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct RemoteWriteClient::Handles {
  std::unique_ptr<CURL, CurlDeleter> curl;
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  std::string userpwd;
};

RemoteWriteClient::RemoteWriteClient(const RemoteWriteConfig& cfg) : h_(std::make_unique<Handles>()) {
  h_->curl.reset(curl_easy_init());
  if (!h_->curl) throw std::runtime_error("cannot create a libcurl handle");
  std::vector<std::string> lines = {"Content-Encoding: snappy", "Content-Type: application/x-protobuf",
                                    "X-Prometheus-Remote-Write-Version: 0.1.0", "User-Agent: herd", "Expect:"};
  for (const auto& [k, v] : cfg.headers) lines.push_back(k + ": " + v);
  for (const auto& line : lines) {
    curl_slist* next = curl_slist_append(h_->headers.get(), line.c_str());
    if (!next) throw std::runtime_error("out of memory");
    (void)h_->headers.release();
    h_->headers.reset(next);
  }
  CURL* c = h_->curl.get();
  curl_easy_setopt(c, CURLOPT_URL, cfg.url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h_->headers.get());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg.timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, cancelled);
  if (cfg.basic_auth) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(c, CURLOPT_USERNAME, cfg.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, cfg.password.c_str());
  }
  if (cfg.insecure_skip_tls_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

RemoteWriteClient::~RemoteWriteClient() = default;

PushResult RemoteWriteClient::post(const std::string& body, const std::atomic<std::int64_t>* give_up_at_ns) {
  CURL* c = h_->curl.get();
  std::string answer;
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, const_cast<std::atomic<std::int64_t>*>(give_up_at_ns));
  CURLcode rc = curl_easy_perform(c);
  PushResult r;
  if (rc != CURLE_OK) {
    r.cancelled = rc == CURLE_ABORTED_BY_CALLBACK;
    r.error = curl_easy_strerror(rc);
    return r;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  if (r.status < 200 || r.status > 299) {
    while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.pop_back();
    r.error = "HTTP " + std::to_string(r.status) + (answer.empty() ? "" : ": " + answer.substr(0, 300));
  }
  return r;
}

RemoteWriteOutput::RemoteWriteOutput(RemoteWriteConfig cfg, SnapshotSource source, Log log, Verdicts verdicts)
    : cfg_(std::move(cfg)),
      source_(std::move(source)),
      log_(std::move(log)),
      verdicts_(std::move(verdicts)),
      client_(cfg_) {
  previous_push_ms_ = next_time_ms();
  thread_ = std::thread([this] { loop(); });
}

RemoteWriteOutput::~RemoteWriteOutput() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  give_up_at_ns_ = 0;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::int64_t RemoteWriteOutput::next_time_ms() {
  last_time_ms_ = std::max(now_ms(), last_time_ms_ + 1);
  return last_time_ms_;
}

void RemoteWriteOutput::loop() {
  std::unique_lock<std::mutex> lk(mu_);
  while (true) {
    if (wake_.wait_for(lk, cfg_.push_interval, [this] { return stop_; })) return;
    lk.unlock();
    metrics::Snapshot snap = source_();
    std::vector<metrics::ThresholdResult> v;
    if (verdicts_) v = verdicts_(snap, false);
    std::int64_t t = next_time_ms();
    push_with_baselines(to_write_request(snap, cfg_, t, &v), t, &give_up_at_ns_);
    lk.lock();
  }
}

void RemoteWriteOutput::push_with_baselines(herd::rw::WriteRequest req, std::int64_t time_ms,
                                            const std::atomic<std::int64_t>* give_up_at_ns) {
  std::vector<std::string> fresh = baselines_.add(req, previous_push_ms_);
  previous_push_ms_ = time_ms;
  if (push(req, give_up_at_ns)) baselines_.written(fresh);
}

bool RemoteWriteOutput::push(const herd::rw::WriteRequest& req, const std::atomic<std::int64_t>* give_up_at_ns) {
  std::uint64_t n = sample_count(req);
  if (n == 0) return true;
  PushResult r = client_.post(encode(req), give_up_at_ns);
  if (r.cancelled) return false;  // superseded by the final push, which carries the same cumulative state
  ++stats_.pushes;
  if (r.error.empty()) {
    stats_.samples_sent += n;
    return true;
  }
  ++stats_.failed_pushes;
  stats_.samples_dropped += n;
  std::string kind = r.status ? "HTTP " + std::to_string(r.status) : r.error;
  if (logged_.insert(kind).second && log_)
    log_("--out experimental-prometheus-rw: push to " + cfg_.url + " failed: " + r.error +
         " (the samples are dropped; later failures of this kind are only counted)");
  return false;
}

RemoteWriteStats RemoteWriteOutput::finish(const metrics::Snapshot& last,
                                           const std::vector<metrics::ThresholdResult>* final_verdicts) {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  give_up_at_ns_ = steady_ns() + std::chrono::nanoseconds(kFinishGrace).count();
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::vector<metrics::ThresholdResult> v;
  if (final_verdicts) {
    v = *final_verdicts;
  } else if (verdicts_) {
    v = verdicts_(last, true);
  }
  std::int64_t t = next_time_ms();
  herd::rw::WriteRequest req = to_write_request(last, cfg_, t, &v);
  push_with_baselines(req, t, nullptr);
  if (cfg_.stale_markers) push(stale_markers(req, next_time_ms()), nullptr);
  return stats_;
}

std::string RemoteWriteOutput::describe(const RemoteWriteStats& s) {
  std::string line = "--out experimental-prometheus-rw: " + std::to_string(s.samples_sent) + " samples sent in " +
                     std::to_string(s.pushes - s.failed_pushes) + " pushes, " + std::to_string(s.samples_dropped) +
                     " samples dropped";
  if (s.failed_pushes) line += " (" + std::to_string(s.failed_pushes) + " failed pushes)";
  return line;
}

std::unique_ptr<RemoteWriteOutput> open_remote_write(std::vector<std::string>& specs,
                                                     const std::map<std::string, std::string>& environ,
                                                     RemoteWriteOutput::SnapshotSource source,
                                                     RemoteWriteOutput::Log log, RemoteWriteOutput::Verdicts verdicts,
                                                     RunTags run_tags) {
  const std::string prefix = "--out " + std::string(kRemoteWriteOutput) + ": ";
  std::vector<std::string> rest;
  int named = 0;
  for (const auto& spec : specs) {
    if (spec.compare(0, kRemoteWriteOutput.size(), kRemoteWriteOutput) != 0 ||
        (spec.size() > kRemoteWriteOutput.size() && spec[kRemoteWriteOutput.size()] != '=')) {
      rest.push_back(spec);
      continue;
    }
    if (spec.size() > kRemoteWriteOutput.size())
      throw std::invalid_argument(prefix + "takes no argument (\"" + spec +
                                  "\"); set it up with the K6_PROMETHEUS_RW_* environment variables");
    if (++named > 1) throw std::invalid_argument(prefix + "given more than once");
  }
  if (!named) return nullptr;
  RemoteWriteConfig cfg;
  try {
    cfg = remote_write_config(environ);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(prefix + e.what());
  }
  specs = std::move(rest);
  cfg.run_tags = std::move(run_tags);
  return std::make_unique<RemoteWriteOutput>(std::move(cfg), std::move(source), std::move(log), std::move(verdicts));
}

std::shared_ptr<FedRemoteWrite> FedRemoteWrite::open(std::vector<std::string>& specs,
                                                     const std::map<std::string, std::string>& environ,
                                                     RemoteWriteOutput::Log log, RunTags run_tags) {
  auto fed = std::make_shared<FedRemoteWrite>();
  FedRemoteWrite* self = fed.get();  // the output stops (in finish or ~FedRemoteWrite) before *self goes
  fed->out_ = open_remote_write(
      specs, environ,
      [self] {
        std::lock_guard<std::mutex> g(self->mu_);
        return self->latest_;
      },
      std::move(log),
      // The verdicts offered with the latest snapshot (the source and this run
      // one after the other on the pusher thread; an offer in between only
      // makes the verdicts one poll newer than the series).
      [self](const metrics::Snapshot&, bool) {
        std::lock_guard<std::mutex> g(self->mu_);
        return self->verdicts_;
      },
      std::move(run_tags));
  return fed->out_ ? fed : nullptr;
}

void FedRemoteWrite::offer(const metrics::Snapshot& s, std::vector<metrics::ThresholdResult> verdicts) {
  std::lock_guard<std::mutex> g(mu_);
  latest_ = s;
  verdicts_ = std::move(verdicts);
}

RemoteWriteStats FedRemoteWrite::finish(const metrics::Snapshot& last, std::vector<metrics::ThresholdResult> verdicts) {
  return out_->finish(last, &verdicts);
}

std::function<std::string(const metrics::Snapshot&, bool, const std::vector<metrics::ThresholdResult>&)>
remote_write_feed(std::vector<std::string>& specs, const std::map<std::string, std::string>& environ,
                  RemoteWriteOutput::Log log, RunTags run_tags) {
  auto fed = FedRemoteWrite::open(specs, environ, log, std::move(run_tags));
  if (!fed) return nullptr;
  return [fed](const metrics::Snapshot& s, bool final,
               const std::vector<metrics::ThresholdResult>& verdicts) -> std::string {
    if (!final) {
      fed->offer(s, verdicts);
      return "";
    }
    return RemoteWriteOutput::describe(fed->finish(s, verdicts));
  };
}

}  // namespace herd::exporter
