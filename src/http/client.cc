#include "http/client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "http/curl_net.h"
#include "http/h1.h"
#include "util/ascii.h"
#include "util/http_status.h"

namespace herd::http {

namespace {

using loop::Clock;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

using util::iequals;

struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistFree>;

struct Transfer {
  CURL* easy = nullptr;
  Request req;
  Client::Callback done;
  Response resp;
  curl_slist* headers = nullptr;
  char errbuf[CURL_ERROR_SIZE];
  Clock::time_point started;
  Clock::time_point sent_at{};        // last time curl switched to waiting for input
  Clock::time_point first_byte_at{};  // first response header line
  Clock::time_point prereq_at{};      // connection ready, request about to be sent (CURLOPT_PREREQFUNCTION)
  bool in_headers = false;
  bool cancel_mark = false;  // Client::cancel() fails it
  bool body_read = false;    // read_cb handed out the body (non-replayable requests)
  std::size_t upload_off = 0;
  int overflow = 0;  // a limit the response ran into: 1 headers, 2 body (our callbacks); 3, 4 libcurl's (client.h)
  std::size_t header_bytes = 0;
  std::size_t body_bytes = 0;               // kept body bytes, before decoding
  std::string status_line;                  // the last "HTTP/1.1 200 OK"
  std::unique_ptr<ContentDecoder> decoder;  // the last header block has a Content-Encoding to undo
  SlistPtr connect_to;                      // a `hosts` override (CURLOPT_CONNECT_TO keeps the pointer)
  struct Share* share = nullptr;            // the group's connection cache, or null
  CurlNetState net;                         // the network options and what they did to this transfer
};

// One connection cache per group (the VU). A retired share (close_idle) takes
// no new transfers and is freed, closing its connections, when its last one ends.
struct Share {
  CURLSH* handle = curl_share_init();
  int users = 0;
  Share() {
    if (handle) curl_share_setopt(handle, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  }
  ~Share() {
    if (handle) curl_share_cleanup(handle);
  }
  Share(const Share&) = delete;
  Share& operator=(const Share&) = delete;
};

}  // namespace

struct Client::Impl {
  /// Client::start through libcurl (Transfer, easy handle, multi).
  void start_curl(Request&& req, Client::Callback&& done, Clock::time_point started, SlistPtr connect_to);
  /// Starts `req` on the built-in client when it can take it (moving `req`
  /// and `done` then): the URL is parsed once while it repeats.
  bool start_builtin(Request& req, Client::Callback& done, Clock::time_point started) {
    if (!h1) return false;
    if (!last_fast || req.url != last_url) {
      auto parsed = std::make_shared<detail::FastUrl>();
      last_url_fast = detail::fast_url(req.url, parsed.get());
      last_fast = std::move(parsed);
      last_url = req.url;
    }
    // dns.policy onlyIPv6/preferIPv6: localhost is [::1] first, which libcurl does.
    bool v6_first =
        net && last_fast->localhost &&
        (net->dns.policy == DnsConfig::Policy::kOnlyIPv6 || net->dns.policy == DnsConfig::Policy::kPreferIPv6);
    if (!last_url_fast || v6_first || !detail::fast_request(req)) return false;
    h1->start(std::move(req), last_fast, started, std::move(done));
    return true;
  }

  loop::EventLoop& loop;
  std::unique_ptr<detail::H1Client> h1;  // null: everything through libcurl
  std::string last_url;                  // the last URL offered to h1, and what fast_url() said of it
  bool last_url_fast = false;
  std::shared_ptr<const detail::FastUrl> last_fast;  // (shared by the exchanges that use it)
  CURLM* multi = nullptr;
  std::vector<CURL*> pool;
  // One connection cache per group (the VU), as the built-in client pools per
  // group: curl share handles holding CURL_LOCK_DATA_CONNECT.
  std::unordered_map<std::uint64_t, std::unique_ptr<Share>> shares;
  std::unordered_map<Share*, std::unique_ptr<Share>> retired;  // closed by close_idle, still in use
  std::shared_ptr<const NetConfig> net;
  // Trusted CAs as Go (and so k6) takes them on Linux: SSL_CERT_FILE, SSL_CERT_DIR.
  std::string ca_file, ca_dir;
  std::unordered_set<Transfer*> transfers;
  std::vector<std::uint8_t> watched;  // by fd
  loop::TimerId timer = 0;
  bool timer_armed = false;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  bool closing = false;

  explicit Impl(loop::EventLoop& l) : loop(l) {}

  // -------------------------------------------------- curl callbacks

  static int socket_cb(CURL* easy, curl_socket_t s, int what, void* userp, void*) {
    auto* self = static_cast<Impl*>(userp);
    if (self->closing) {
      if (what == CURL_POLL_REMOVE) self->unwatch(s);
      return 0;
    }
    if (what == CURL_POLL_REMOVE) {
      self->unwatch(s);
      return 0;
    }
    std::uint32_t ev = 0;
    if (what & CURL_POLL_IN) ev |= EPOLLIN;
    if (what & CURL_POLL_OUT) ev |= EPOLLOUT;
    if (what == CURL_POLL_IN && easy) {
      Transfer* t = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      if (t && t->first_byte_at == Clock::time_point{}) t->sent_at = Clock::now();
    }
    if (s >= 0 && static_cast<std::size_t>(s) < self->watched.size() && self->watched[s]) {
      self->loop.modify(s, ev);
    } else {
      if (static_cast<std::size_t>(s) >= self->watched.size()) self->watched.resize(s + 1, 0);
      self->watched[s] = 1;
      self->loop.watch(s, ev, [self, s](std::uint32_t events) { self->on_socket(s, events); });
    }
    return 0;
  }

  void unwatch(curl_socket_t s) {
    if (s >= 0 && static_cast<std::size_t>(s) < watched.size() && watched[s]) {
      watched[s] = 0;
      loop.unwatch(s);
    }
  }

  static int timer_cb(CURLM*, long timeout_ms, void* userp) {
    auto* self = static_cast<Impl*>(userp);
    if (self->timer_armed) {
      self->loop.cancel_timer(self->timer);
      self->timer_armed = false;
    }
    if (timeout_ms < 0 || self->closing) return 0;
    self->timer_armed = true;
    self->timer = self->loop.add_timer(Clock::now() + std::chrono::milliseconds(timeout_ms), [self] {
      self->timer_armed = false;
      int running = 0;
      curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
      self->check_done();
    });
    return 0;
  }

  void on_socket(curl_socket_t s, std::uint32_t events) {
    int flags = 0;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) flags |= CURL_CSELECT_IN;
    if (events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
    if (events & EPOLLERR) flags |= CURL_CSELECT_ERR;
    int running = 0;
    curl_multi_socket_action(multi, s, flags, &running);
    check_done();
  }

  static int prereq_cb(void* ud, char*, char*, int, int) {
    static_cast<Transfer*>(ud)->prereq_at = Clock::now();
    return CURL_PREREQFUNC_OK;
  }

  static std::size_t read_cb(char* p, std::size_t size, std::size_t n, void* ud) {
    auto* t = static_cast<Transfer*>(ud);
    t->body_read = true;
    std::size_t len = std::min(size * n, t->req.body.size() - t->upload_off);
    std::memcpy(p, t->req.body.data() + t->upload_off, len);
    t->upload_off += len;
    return len;
  }

  static int seek_cb(void* ud, curl_off_t offset, int origin) {
    auto* t = static_cast<Transfer*>(ud);
    if (t->body_read || offset != 0 || origin != SEEK_SET) return CURL_SEEKFUNC_CANTSEEK;
    t->upload_off = 0;
    return CURL_SEEKFUNC_OK;
  }

  static std::size_t write_cb(char* p, std::size_t size, std::size_t n, void* ud) {
    auto* t = static_cast<Transfer*>(ud);
    if (!t->req.keep_body) return size * n;  // dropped as it arrives
    t->body_bytes += size * n;
    if (t->body_bytes > t->req.max_body) {
      t->overflow = 2;
      return 0;  // curl fails the transfer (CURLE_WRITE_ERROR)
    }
    if (t->decoder)
      t->decoder->feed(p, size * n, &t->resp.body);  // an error is reported in finish()
    else
      t->resp.body.append(p, size * n);
    return size * n;
  }

  static std::size_t header_cb(char* p, std::size_t size, std::size_t n, void* ud) {
    auto* t = static_cast<Transfer*>(ud);
    std::size_t len = size * n;
    t->header_bytes += len;
    if (t->header_bytes > kMaxResponseHeaderBytes) {
      t->overflow = 1;
      return 0;
    }
    std::string_view line(p, len);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") {
      // a new header block (e.g. after "100 Continue"): keep only the last one
      t->resp.headers.clear();
      t->status_line = line;
      t->in_headers = true;
      if (t->resp.tls_version.empty()) read_tls_info(t->easy, &t->resp);
      if (t->first_byte_at == Clock::time_point{}) t->first_byte_at = Clock::now();
      return len;
    }
    if (line.empty()) {
      t->in_headers = false;
      t->decoder.reset();
      if (t->req.keep_body && t->req.method != "HEAD")
        for (const auto& [k, v] : t->resp.headers)
          if (iequals(k, "content-encoding")) t->decoder = ContentDecoder::create(v, t->req.max_decoded_body);
      return len;
    }
    if ((line.front() == ' ' || line.front() == '\t') && !t->resp.headers.empty()) {
      // obsolete line folding: continue the previous value
      auto& v = t->resp.headers.back().second;
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
      v.push_back(' ');
      v.append(line);
      return len;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return len;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    t->resp.headers.emplace_back(std::string(name), std::string(value));
    return len;
  }

  // ---------------------------------------------------------- requests

  CURL* take_easy() {
    if (!pool.empty()) {
      CURL* e = pool.back();
      pool.pop_back();
      curl_easy_reset(e);
      return e;
    }
    return curl_easy_init();
  }

  Share* share_for(std::uint64_t group) {
    auto& sh = shares[group];
    if (!sh) sh = std::make_unique<Share>();
    return sh.get();
  }

  void close_idle(std::uint64_t group) {
    auto it = shares.find(group);
    if (it == shares.end()) return;
    std::unique_ptr<Share> sh = std::move(it->second);
    shares.erase(it);
    if (sh->users > 0) retired.emplace(sh.get(), std::move(sh));  // else freed here, closing its connections
  }

  void configure(Transfer* t) {
    CURL* e = t->easy;
    const Request& r = t->req;
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    if (r.conn_group != 0) {
      t->share = share_for(r.conn_group);
      t->share->users++;
      curl_easy_setopt(e, CURLOPT_SHARE, t->share->handle);
    }
    if (!r.local_ip.empty()) curl_easy_setopt(e, CURLOPT_INTERFACE, ("host!" + r.local_ip).c_str());
    if (r.fresh_connection) {
      curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
      curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    }
    if (t->connect_to) curl_easy_setopt(e, CURLOPT_CONNECT_TO, t->connect_to.get());
    t->net.net = net;
    apply_net_options(e, r.url, &t->net);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    // Small receive buffer: one per easy handle, and a burst of VUs makes many handles.
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4L * 1024L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    // Waiting for multiplexing only makes sense where HTTP/2 can be negotiated; for
    // plain HTTP/1.1 it would serialise concurrent requests on one connection.
    if (r.url.rfind("https://", 0) == 0) curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Impl::header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    // The moment the request goes out, on our clock: curl's own PRETRANSFER
    // timestamp can come after the exchange on a reused connection.
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, &Impl::prereq_cb);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, t);
    long timeout = static_cast<long>(r.timeout.count());
    if (timeout > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    if (!ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, ca_file.c_str());
    if (!ca_dir.empty()) curl_easy_setopt(e, CURLOPT_CAPATH, ca_dir.c_str());
    if (r.insecure_skip_tls_verify) {
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!r.basic_user.empty()) {
      curl_easy_setopt(e, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
      curl_easy_setopt(e, CURLOPT_USERNAME, r.basic_user.c_str());
      curl_easy_setopt(e, CURLOPT_PASSWORD, r.basic_password.c_str());
    }

    bool has_content_type = false, has_expect = false;
    for (const auto& [k, v] : r.headers) {
      if (iequals(k, "content-type")) has_content_type = true;
      if (iequals(k, "expect")) has_expect = true;
      std::string line = k;
      if (v.empty()) {
        line += ";";  // curl's syntax for a header with an empty value
      } else {
        line += ": ";
        line += v;
      }
      t->headers = curl_slist_append(t->headers, line.c_str());
    }
    if (!has_expect) t->headers = curl_slist_append(t->headers, "Expect:");

    const std::string& m = r.method;
    if (m == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
      bool send_body = !r.body.empty() || m == "POST" || m == "PUT" || m == "PATCH";
      if (send_body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
        if (replayable(r)) {
          // POSTFIELDS does not copy: the Transfer keeps req.body alive.
          curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
        } else {
          // Read through callbacks whose seek refuses a rewind once the body was
          // handed out: libcurl then fails instead of resending it after a reused
          // connection died (its own retry knows no method).
          curl_easy_setopt(e, CURLOPT_POST, 1L);
          curl_easy_setopt(e, CURLOPT_READFUNCTION, &Impl::read_cb);
          curl_easy_setopt(e, CURLOPT_READDATA, t);
          curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, &Impl::seek_cb);
          curl_easy_setopt(e, CURLOPT_SEEKDATA, t);
        }
        // curl would add "application/x-www-form-urlencoded"; k6 sends none for raw bodies
        if (!has_content_type) t->headers = curl_slist_append(t->headers, "Content-Type:");
        if (m != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m.c_str());
      } else if (m != "GET") {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m.c_str());
      }
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  }

  void finish(Transfer* t, CURLcode code) {
    CURL* e = t->easy;
    Response& resp = t->resp;
    resp.url = t->req.url;
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (code == CURLE_OK) {
      resp.status = static_cast<int>(status);
      long ver = 0;
      curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &ver);
      switch (ver) {
        case CURL_HTTP_VERSION_1_0:
          resp.proto = "HTTP/1.0";
          break;
        case CURL_HTTP_VERSION_1_1:
          resp.proto = "HTTP/1.1";
          break;
        case CURL_HTTP_VERSION_2_0:
          resp.proto = "HTTP/2.0";
          break;
#ifdef CURL_HTTP_VERSION_3
        case CURL_HTTP_VERSION_3:
          resp.proto = "HTTP/3.0";
          break;
#endif
        default:
          resp.proto = "HTTP/1.1";
          break;
      }
      if (resp.status >= 400) resp.error_code = 1000 + resp.status;  // as k6 does (error stays "")
      // "HTTP/1.1 200 OK" -> the phrase after the code ("" for HTTP/2's "HTTP/2 200")
      std::string_view sl = t->status_line;
      std::string_view phrase;
      if (auto sp = sl.find(' '); sp != std::string_view::npos) {
        std::string_view rest = sl.substr(sp + 1);
        if (auto sp2 = rest.find(' '); sp2 != std::string_view::npos) phrase = rest.substr(sp2 + 1);
      }
      resp.status_text = util::http_status_text(resp.status, phrase);
      if (t->decoder && !t->decoder->finish()) {
        resp.error_code = kDecompressionErrorCode;
        resp.error = t->decoder->error();
        resp.body.clear();
      }
    } else {
      resp.status = 0;
      resp.proto.clear();
      resp.status_text.clear();
      resp.headers.clear();
      resp.body.clear();
      std::string detail = t->errbuf[0] ? t->errbuf : curl_easy_strerror(code);
      long os_errno = 0;
      curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
      if (os_errno != 0) {
        detail += ": ";
        detail += std::strerror(static_cast<int>(os_errno));
      }
      auto [ec, msg] = k6_error_from_curl(code, detail);
      resp.error_code = ec;
      resp.error = msg;
      if (t->overflow == 0 && t->in_headers) {  // libcurl's own header limits (client.h)
        if (code == CURLE_OUT_OF_MEMORY)
          t->overflow = 3;
        else if (detail.find("Too large response headers") != std::string::npos)
          t->overflow = 4;
      }
      if (t->overflow != 0) {
        resp.error_code = kLimitErrorCode;
        resp.error = t->overflow == 2   ? body_limit_message(t->req.max_body)
                     : t->overflow == 3 ? header_limit_message(kCurlMaxHeaderLine)
                     : t->overflow == 4 ? header_limit_message(kCurlMaxHeaderBytes)
                                        : header_limit_message();
      }
      if (!t->net.blocked.empty()) {
        resp.error_code = kBlacklistedIpErrorCode;
        resp.error = t->net.blocked;
      }
    }
    char* ip = nullptr;
    if (curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip) resp.remote_ip = ip;
    long port = 0;
    curl_easy_getinfo(e, CURLINFO_PRIMARY_PORT, &port);
    resp.remote_port = static_cast<int>(port);

    long req_size = 0, header_size = 0;
    curl_off_t up = 0, down = 0;
    curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &req_size);
    curl_easy_getinfo(e, CURLINFO_HEADER_SIZE, &header_size);
    curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_easy_getinfo(e, CURLINFO_SIZE_DOWNLOAD_T, &down);
    // REQUEST_SIZE already includes a body that curl sent together with the headers.
    std::uint64_t sent = static_cast<std::uint64_t>(std::max(0L, req_size));
    // A body read through read_cb (not replayable) is never part of it.
    if (static_cast<std::uint64_t>(std::max<curl_off_t>(0, up)) > 0 && (t->body_read || sent < t->req.body.size()))
      sent += static_cast<std::uint64_t>(up);
    resp.bytes_sent = sent;
    resp.bytes_received = static_cast<std::uint64_t>(std::max(0L, header_size)) +
                          static_cast<std::uint64_t>(std::max<curl_off_t>(0, down));

    curl_off_t nt = 0, ct = 0, at = 0, pt = 0, st = 0, tt = 0;
    curl_easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &nt);
    curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &ct);
    curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &at);
    curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pt);
    curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &st);
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &tt);
    long connects = 0;
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    auto now = Clock::now();
    auto us = [](curl_off_t v) { return static_cast<double>(std::max<curl_off_t>(0, v)) / 1000.0; };
    Timings& tm = resp.timings;
    // Time between start() and curl's own clock start (queueing), then DNS.
    double wall_ms = std::chrono::duration<double, std::milli>(now - t->started).count();
    double queue_ms = std::max(0.0, wall_ms - us(tt));
    tm.blocked = queue_ms + us(nt);
    if (connects > 0) {
      tm.connecting = ct > nt ? us(ct - nt) : 0.0;
      tm.tls_handshaking = at > ct ? us(at - ct) : 0.0;
    }
    if (code == CURLE_OK || t->first_byte_at != Clock::time_point{}) {
      // Phases on our own clock: curl's clock started at (now - total); the request was on
      // the wire when curl last switched to waiting for input; the response began with the
      // first header line. (curl 7.x has no "request sent" timestamp, and its STARTTRANSFER
      // marks the start of an upload rather than the first response byte.)
      auto curl_start = now - std::chrono::microseconds(std::max<curl_off_t>(0, tt));
      auto pre_at = t->prereq_at != Clock::time_point{}
                        ? t->prereq_at
                        : curl_start + std::chrono::microseconds(std::max<curl_off_t>(0, pt));
      auto first_at =
          t->first_byte_at != Clock::time_point{} ? t->first_byte_at : curl_start + std::chrono::microseconds(st);
      first_at = std::clamp(first_at, pre_at, now);
      auto sent_at = t->sent_at != Clock::time_point{} ? std::clamp(t->sent_at, pre_at, first_at) : pre_at;
      auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
      tm.sending = ms(sent_at - pre_at);
      tm.waiting = ms(first_at - sent_at);
      tm.receiving = ms(now - first_at);
    } else {
      tm.sending = tm.waiting = tm.receiving = 0;
    }
    tm.duration = tm.sending + tm.waiting + tm.receiving;
  }

  void release(Transfer* t) {
    curl_multi_remove_handle(multi, t->easy);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, nullptr);
    curl_slist_free_all(t->headers);
    t->headers = nullptr;
    curl_easy_setopt(t->easy, CURLOPT_CONNECT_TO, nullptr);
    t->connect_to.reset();
    if (t->share) {
      curl_easy_setopt(t->easy, CURLOPT_SHARE, nullptr);
      if (--t->share->users == 0) retired.erase(t->share);  // a retired one is freed now
      t->share = nullptr;
    }
    if (pool.size() < 256 && !closing)
      pool.push_back(t->easy);
    else
      curl_easy_cleanup(t->easy);
    t->easy = nullptr;
    transfers.erase(t);
  }

  void check_done() {
    std::shared_ptr<bool> guard = alive;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      CURLcode code = msg->data.result;
      if (!t) continue;
      if (code == CURLE_COULDNT_RESOLVE_HOST && t->net.fallback_resolve >= 0 && retry_family(t)) continue;
      finish(t, code);
      std::unique_ptr<Transfer> owned(t);
      release(t);
      Client::Callback cb = std::move(t->done);
      cb(std::move(t->resp));
      if (!*guard) return;  // the callback destroyed the Client
    }
  }

  // dns.policy preferIPv4/preferIPv6: no address of the preferred family, so
  // the same request once more with the other one.
  bool retry_family(Transfer* t) {
    long family = t->net.fallback_resolve;
    t->net.fallback_resolve = -1;
    curl_multi_remove_handle(multi, t->easy);
    curl_easy_setopt(t->easy, CURLOPT_IPRESOLVE, family);
    t->resp = Response{};
    t->overflow = 0;
    t->header_bytes = t->body_bytes = 0;
    t->status_line.clear();
    t->errbuf[0] = '\0';
    t->sent_at = t->first_byte_at = t->prereq_at = Clock::time_point{};
    return curl_multi_add_handle(multi, t->easy) == CURLM_OK;
  }

  // As H1Client's: mark, then fail one at a time (a callback may start or end others).
  // Removing an unfinished easy handle makes libcurl close its connection.
  std::size_t cancel(std::uint64_t group) {
    auto guard = alive;
    for (Transfer* t : transfers)
      if (t->easy && t->req.conn_group == group) t->cancel_mark = true;
    std::size_t n = 0;
    for (;;) {
      auto it = std::find_if(transfers.begin(), transfers.end(), [](Transfer* t) { return t->cancel_mark; });
      if (it == transfers.end()) break;
      Transfer* t = *it;
      finish(t, CURLE_ABORTED_BY_CALLBACK);
      t->resp.error_code = kCanceledErrorCode;
      t->resp.error = kCanceledMessage;
      std::unique_ptr<Transfer> owned(t);
      release(t);
      Client::Callback cb = std::move(t->done);
      cb(std::move(t->resp));
      ++n;
      if (!*guard) break;
    }
    return n;
  }

  void fail_async(std::unique_ptr<Transfer> t, int code, std::string msg) {
    Transfer* raw = t.release();
    raw->resp.url = raw->req.url;
    raw->resp.error_code = code;
    raw->resp.error = std::move(msg);
    transfers.insert(raw);
    loop.add_timer(Clock::now(), [this, raw, guard = std::weak_ptr<bool>(alive)] {
      auto g = guard.lock();
      if (!g || !*g) return;  // (the destructor frees it)
      std::unique_ptr<Transfer> owned(raw);
      transfers.erase(raw);
      Client::Callback cb = std::move(raw->done);
      cb(std::move(raw->resp));
    });
  }
};

Client::Client(loop::EventLoop& loop, ClientOptions options) : impl_(std::make_unique<Impl>(loop)) {
  global_init();
  auto& d = *impl_;
  if (detail::builtin_allowed(options)) d.h1 = std::make_unique<detail::H1Client>(loop);
  d.net = std::move(options.net);
  if (const char* f = std::getenv("SSL_CERT_FILE")) d.ca_file = f;
  if (const char* dir = std::getenv("SSL_CERT_DIR")) d.ca_dir = dir;
  d.multi = curl_multi_init();
  if (!d.multi) throw std::runtime_error("curl_multi_init failed");
  curl_multi_setopt(d.multi, CURLMOPT_SOCKETFUNCTION, &Impl::socket_cb);
  curl_multi_setopt(d.multi, CURLMOPT_SOCKETDATA, &d);
  curl_multi_setopt(d.multi, CURLMOPT_TIMERFUNCTION, &Impl::timer_cb);
  curl_multi_setopt(d.multi, CURLMOPT_TIMERDATA, &d);
  curl_multi_setopt(d.multi, CURLMOPT_MAXCONNECTS, 10000L);
  curl_multi_setopt(d.multi, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
}

Client::~Client() {
  auto& d = *impl_;
  d.h1.reset();
  *d.alive = false;
  d.closing = true;
  if (d.timer_armed) {
    d.loop.cancel_timer(d.timer);
    d.timer_armed = false;
  }
  for (Transfer* t : std::vector<Transfer*>(d.transfers.begin(), d.transfers.end())) {
    if (t->easy) {
      curl_multi_remove_handle(d.multi, t->easy);
      curl_easy_cleanup(t->easy);
    }
    curl_slist_free_all(t->headers);
    delete t;
  }
  d.transfers.clear();
  for (CURL* e : d.pool) curl_easy_cleanup(e);
  d.pool.clear();
  curl_multi_cleanup(d.multi);
  d.shares.clear();  // after every easy handle that used them
  d.retired.clear();
  for (std::size_t fd = 0; fd < d.watched.size(); ++fd)
    if (d.watched[fd]) d.loop.unwatch(static_cast<int>(fd));
}

// Client::start's slow paths (start_routed, Impl::start_curl) stay out of line: a VU's
// request starts on its fiber, whose stack pages count per VU, so the common path must not
// carry their locals in its frame.
void Client::start(Request&& req, Callback done) {
  auto& d = *impl_;
  auto started = Clock::now();
  if (const NetConfig* net = d.net.get()) {
    if (net->no_connection_reuse) req.fresh_connection = true;
    if (net->checks_hosts()) {
      start_routed(std::move(req), std::move(done), started);
      return;
    }
  }
  if (d.start_builtin(req, done, started)) return;
  req.own();
  d.start_curl(std::move(req), std::move(done), started, nullptr);
}

void Client::start_routed(Request&& req, Callback&& done, Clock::time_point started) {
  auto& d = *impl_;
  req.own();  // (a rare path: the built-in client gets an owning request too)
  NetRoute route = route_request(*d.net, req.url);
  if (route.error_code != 0) {
    auto t = std::make_unique<Transfer>();
    t->req = std::move(req);
    t->done = std::move(done);
    t->started = started;
    d.fail_async(std::move(t), route.error_code, std::move(route.error));
    return;
  }
  SlistPtr connect_to;
  if (route.mapped) {
    auto fast = std::make_shared<detail::FastUrl>();
    if (d.h1 && route.builtin_url.size() && detail::fast_url(route.builtin_url, fast.get()) &&
        detail::fast_request(req)) {
      fast->host_header = route.host_header;
      d.h1->start(std::move(req), std::move(fast), started, std::move(done));
      return;
    }
    connect_to.reset(curl_slist_append(nullptr, route.connect_to.c_str()));
  } else if (d.start_builtin(req, done, started)) {
    return;
  }
  d.start_curl(std::move(req), std::move(done), started, std::move(connect_to));
}

[[gnu::noinline]] void Client::Impl::start_curl(Request&& req, Client::Callback&& done, Clock::time_point started,
                                                SlistPtr connect_to) {
  auto& d = *this;
  auto t = std::make_unique<Transfer>();
  t->connect_to = std::move(connect_to);
  t->errbuf[0] = '\0';
  t->req = std::move(req);
  t->done = std::move(done);
  t->started = started;
  const std::string& url = t->req.url;
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    auto scheme_end = url.find("://");
    std::string msg = scheme_end == std::string::npos
                          ? "invalid URL \"" + url + "\""
                          : "unsupported protocol scheme \"" + url.substr(0, scheme_end) + "\"";
    d.fail_async(std::move(t), 1020, std::move(msg));
    return;
  }
  t->easy = d.take_easy();
  if (!t->easy) {
    d.fail_async(std::move(t), 1000, "curl_easy_init failed");
    return;
  }
  d.configure(t.get());
  Transfer* raw = t.get();
  CURLMcode mc = curl_multi_add_handle(d.multi, raw->easy);
  if (mc != CURLM_OK) {
    curl_slist_free_all(raw->headers);
    raw->headers = nullptr;
    curl_easy_cleanup(raw->easy);
    raw->easy = nullptr;
    d.fail_async(std::move(t), 1000, curl_multi_strerror(mc));
    return;
  }
  d.transfers.insert(t.release());
}

std::size_t Client::in_flight() const {
  return impl_->transfers.size() + (impl_->h1 ? impl_->h1->in_flight() : 0);
}

std::size_t Client::builtin_connections() const {
  return impl_->h1 ? impl_->h1->open_connections() : 0;
}

void Client::set_net(std::shared_ptr<const NetConfig> net) {
  impl_->net = std::move(net);
}

std::size_t Client::cancel(std::uint64_t conn_group) {
  auto guard = impl_->alive;
  std::size_t n = impl_->h1 ? impl_->h1->cancel(conn_group) : 0;
  if (!*guard) return n;  // a callback destroyed the Client
  return n + impl_->cancel(conn_group);
}

void Client::close_idle(std::uint64_t conn_group) {
  if (impl_->h1) impl_->h1->close_idle(conn_group);
  impl_->close_idle(conn_group);
}

}  // namespace herd::http
