#include "metrics/influxdb_output.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "util/duration.h"
#include "util/url.h"

namespace herd::metrics {

namespace {

using namespace std::chrono_literals;

struct CurlEasyDeleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

void ensure_curl_global() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// --------------------------------------------------------------- configuration

const std::string* env_get(const std::map<std::string, std::string>& environ, const char* name) {
  auto it = environ.find(name);
  return it == environ.end() || it->second.empty() ? nullptr : &it->second;
}

// Go's strconv.ParseBool, which k6's environment parsing uses.
bool parse_go_bool(const std::string& v, const std::string& what) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"})
    if (v == t) return true;
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"})
    if (v == f) return false;
  throw std::invalid_argument(what + ": \"" + v + "\" is not a boolean (true or false)");
}

std::chrono::microseconds parse_interval(const std::string& v, const std::string& what) {
  std::chrono::microseconds d;
  try {
    d = util::parse_duration(v);
  } catch (const std::exception& e) {
    throw std::invalid_argument(what + ": " + e.what());
  }
  if (d.count() <= 0) throw std::invalid_argument(what + ": must be greater than 0");
  return d;
}

int parse_writes(const std::string& v, const std::string& what) {
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size())
    throw std::invalid_argument(what + ": \"" + v + "\" is not an integer");
  if (n <= 0) throw std::invalid_argument(what + ": must be a positive number (influxdb's concurrent writes)");
  if (n > 64) throw std::invalid_argument(what + ": at most 64 concurrent writes");
  return n;
}

// The precisions k6 accepts (Go duration units) as InfluxDB's /write names them.
std::string parse_precision(const std::string& v, const std::string& what) {
  if (v == "ns" || v == "n") return "ns";
  if (v == "us" || v == "u" || v == "\xc2\xb5s" || v == "\xce\xbcs") return "u";
  if (v == "ms" || v == "s" || v == "m" || v == "h") return v;
  throw std::invalid_argument(what + ": unknown precision \"" + v + "\" (expected ns, us, ms, s, m or h)");
}

std::string parse_consistency(const std::string& v, const std::string& what) {
  if (v == "any" || v == "one" || v == "quorum" || v == "all") return v;
  throw std::invalid_argument(what + ": unknown consistency \"" + v + "\" (expected any, one, quorum or all)");
}

std::vector<InfluxTagField> parse_tags_as_fields(const std::vector<std::string>& items, const std::string& what) {
  std::vector<InfluxTagField> out;
  for (const auto& item : items) {
    InfluxTagField f;
    auto colon = item.find(':');
    f.tag = item.substr(0, colon);
    std::string type = colon == std::string::npos ? "string" : item.substr(colon + 1);
    if (type.empty() || type == "string")
      f.kind = InfluxFieldKind::kString;
    else if (type == "int")
      f.kind = InfluxFieldKind::kInt;
    else if (type == "float")
      f.kind = InfluxFieldKind::kFloat;
    else if (type == "bool")
      f.kind = InfluxFieldKind::kBool;
    else
      throw std::invalid_argument(what + ": an invalid type (" + type + ") is specified for an InfluxDB field (" +
                                  f.tag + "); expected string, int, float or bool");
    if (f.tag.empty()) throw std::invalid_argument(what + ": an empty tag name");
    if (std::any_of(out.begin(), out.end(), [&](const InfluxTagField& o) { return o.tag == f.tag; }))
      throw std::invalid_argument(what + ": a tag name (" + f.tag +
                                  ") shows up more than once in InfluxDB field type configurations");
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<std::string> split_commas(const std::string& v) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto c = v.find(',', start);
    std::string item = v.substr(start, c == std::string::npos ? std::string::npos : c - start);
    if (!item.empty()) out.push_back(item);
    if (c == std::string::npos) return out;
    start = c + 1;
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A query-string component as Go's url.ParseQuery decodes it ('+' is a space).
std::string query_unescape(std::string_view s, const std::string& what) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      int hi = i + 2 < s.size() ? hex_digit(s[i + 1]) : -1;
      int lo = i + 2 < s.size() ? hex_digit(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) throw std::invalid_argument(what + ": bad %-escape in the query");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

void apply_url(InfluxConfig& c, const std::string& text) {
  const std::string what = "influxdb URL \"" + text + "\"";
  if (text.rfind("udp://", 0) == 0)
    throw std::invalid_argument(what + ": udp:// is not supported by herd (use http:// or https://)");
  if (text.find("://") == std::string::npos)
    throw std::invalid_argument(what + ": the scheme must be http or https (e.g. http://localhost:8086/k6)");
  util::Url u;
  if (!u.set(text)) throw std::invalid_argument(what + ": not a valid URL (expected http://host:port/database)");
  std::string scheme = u.part(CURLUPART_SCHEME);
  if (scheme != "http" && scheme != "https")
    throw std::invalid_argument(what + ": the scheme must be http or https, not \"" + scheme + "\"");
  if (!u.part(CURLUPART_FRAGMENT).empty()) throw std::invalid_argument(what + ": a URL fragment (#...) has no meaning");
  std::string host = u.part(CURLUPART_HOST);
  std::string port = u.part(CURLUPART_PORT);
  std::string path = u.part(CURLUPART_PATH);  // still escaped: the prefix is kept as given
  std::string prefix;
  if (auto slash = path.find_last_of('/'); slash != std::string::npos && slash + 1 < path.size()) {
    prefix = path.substr(0, slash);
    std::string db = query_unescape(path.substr(slash + 1), what);
    c.db = db;
  } else {
    prefix = path.substr(0, path.empty() ? 0 : path.size() - 1);
  }
  c.addr = scheme + "://" + host + (port.empty() ? "" : ":" + port) + prefix;
  std::string user = u.part(CURLUPART_USER, CURLU_URLDECODE);
  std::string pass = u.part(CURLUPART_PASSWORD, CURLU_URLDECODE);
  if (!user.empty() || !pass.empty()) {
    c.username = user;
    c.password = pass;
  }
  std::string query = u.part(CURLUPART_QUERY);
  std::vector<std::string> tags_as_fields;
  std::size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    auto amp = query.find('&', start);
    std::string_view item(query.data() + start, (amp == std::string::npos ? query.size() : amp) - start);
    start = amp == std::string::npos ? query.size() + 1 : amp + 1;
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::string key = query_unescape(item.substr(0, eq), what);
    std::string val = eq == std::string_view::npos ? "" : query_unescape(item.substr(eq + 1), what);
    std::string w = what + ": " + key;
    if (key == "insecure") {
      if (!val.empty()) c.insecure = parse_go_bool(val, w);
    } else if (key == "precision") {
      c.precision = parse_precision(val, w);
    } else if (key == "retention") {
      c.retention = val;
    } else if (key == "consistency") {
      c.consistency = parse_consistency(val, w);
    } else if (key == "pushInterval") {
      c.push_interval = parse_interval(val, w);
    } else if (key == "concurrentWrites") {
      c.concurrent_writes = parse_writes(val, w);
    } else if (key == "tagsAsFields") {
      tags_as_fields.push_back(val);
    } else if (key == "payload_size") {
      throw std::invalid_argument(w + ": only used by udp:// addresses, which herd does not support");
    } else {
      throw std::invalid_argument(what + ": unknown query parameter: " + key);
    }
  }
  if (!tags_as_fields.empty()) c.tags_as_fields = parse_tags_as_fields(tags_as_fields, what + ": tagsAsFields");
}

}  // namespace

InfluxConfig influx_config(const std::optional<std::string>& url, const std::map<std::string, std::string>& environ) {
  InfluxConfig c;
  for (const char* v2 : {"K6_INFLUXDB_ORGANIZATION", "K6_INFLUXDB_BUCKET", "K6_INFLUXDB_TOKEN"})
    if (env_get(environ, v2))
      throw std::invalid_argument(std::string(v2) +
                                  " is a setting of InfluxDB v2 (the xk6-output-influxdb extension); herd's "
                                  "--out influxdb speaks InfluxDB v1 (K6_INFLUXDB_DB, _USERNAME, _PASSWORD)");
  if (env_get(environ, "K6_INFLUXDB_PAYLOAD_SIZE"))
    throw std::invalid_argument("K6_INFLUXDB_PAYLOAD_SIZE: only used by udp:// addresses, which herd does not support");
  if (const std::string* v = env_get(environ, "K6_INFLUXDB_ADDR")) {
    // The server's base URL as given (scheme://host[:port][/prefix]); the database is K6_INFLUXDB_DB.
    util::Url u;
    if (v->rfind("udp://", 0) == 0)
      throw std::invalid_argument("K6_INFLUXDB_ADDR: udp:// is not supported by herd (use http:// or https://)");
    if (!u.set(*v) || (u.part(CURLUPART_SCHEME) != "http" && u.part(CURLUPART_SCHEME) != "https") ||
        !u.part(CURLUPART_QUERY).empty() || !u.part(CURLUPART_FRAGMENT).empty())
      throw std::invalid_argument("K6_INFLUXDB_ADDR: \"" + *v + "\" is not an http:// or https:// address");
    c.addr = *v;
    while (c.addr.back() == '/') c.addr.pop_back();
  }
  if (const std::string* v = env_get(environ, "K6_INFLUXDB_DB")) c.db = *v;
  if (const std::string* v = env_get(environ, "K6_INFLUXDB_USERNAME")) c.username = *v;
  if (const std::string* v = env_get(environ, "K6_INFLUXDB_PASSWORD")) {
    c.password = *v;
    if (!c.username) c.username = "";
  }
  if (const std::string* v = env_get(environ, "K6_INFLUXDB_PROXY")) {
    util::Url p;
    if (!p.set(*v)) throw std::invalid_argument("K6_INFLUXDB_PROXY: \"" + *v + "\" is not a valid URL");
    c.proxy = *v;
  }
  if (const std::string* v = env_get(environ, "K6_INFLUXDB_INSECURE"))
    c.insecure = parse_go_bool(*v, "K6_INFLUXDB_INSECURE");
  if (const std::string* v = env_get(environ, "K6_INFLUXDB_PUSH_INTERVAL"))
    c.push_interval = parse_interval(*v, "K6_INFLUXDB_PUSH_INTERVAL");
  if (const std::string* v = env_get(environ, "K6_INFLUXDB_CONCURRENT_WRITES"))
    c.concurrent_writes = parse_writes(*v, "K6_INFLUXDB_CONCURRENT_WRITES");
  if (const std::string* v = env_get(environ, "K6_INFLUXDB_PRECISION"))
    c.precision = parse_precision(*v, "K6_INFLUXDB_PRECISION");
  if (const std::string* v = env_get(environ, "K6_INFLUXDB_RETENTION")) c.retention = *v;
  if (const std::string* v = env_get(environ, "K6_INFLUXDB_CONSISTENCY"))
    c.consistency = parse_consistency(*v, "K6_INFLUXDB_CONSISTENCY");
  if (const std::string* v = env_get(environ, "K6_INFLUXDB_TAGS_AS_FIELDS"))
    c.tags_as_fields = parse_tags_as_fields(split_commas(*v), "K6_INFLUXDB_TAGS_AS_FIELDS");
  if (url && !url->empty()) apply_url(c, *url);
  if (c.db.empty()) c.db = "k6";
  return c;
}

// --------------------------------------------------------------- line protocol

namespace {

void append_escaped_name(std::string& out, std::string_view s, bool escape_equals) {
  auto special = [escape_equals](char c) { return c == ',' || c == ' ' || (escape_equals && c == '='); };
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\') {
      // The reader pairs a backslash with the byte after it: a run that
      // precedes an escaped byte must be even, and none can end the text.
      std::size_t j = i;
      while (j < s.size() && s[j] == '\\') ++j;
      if (j == s.size()) return;
      out.append(j - i, '\\');
      if (special(s[j]) && (j - i) % 2 == 1) out += '\\';
      i = j - 1;
    } else if (special(c)) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

}  // namespace

void append_influx_measurement(std::string& out, std::string_view s) {
  append_escaped_name(out, s, false);
}

void append_influx_key(std::string& out, std::string_view s) {
  append_escaped_name(out, s, true);
}

bool influx_key_writable(std::string_view s) {
  return s.find_first_not_of('\\') != std::string_view::npos;
}

void append_influx_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

namespace {

void append_float(std::string& out, double v) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, p);
}

// A tags-as-fields value: typed as configured, a string when it does not convert (as k6 does).
void append_tag_field(std::string& out, const std::string& v, InfluxFieldKind kind) {
  switch (kind) {
    case InfluxFieldKind::kInt: {
      long long n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (!v.empty() && ec == std::errc() && p == v.data() + v.size()) {
        out += v;
        out += 'i';
        return;
      }
      break;
    }
    case InfluxFieldKind::kFloat: {
      char* end = nullptr;
      errno = 0;
      double d = v.empty() ? 0 : std::strtod(v.c_str(), &end);
      if (!v.empty() && end == v.c_str() + v.size() && errno == 0 && std::isfinite(d)) {
        append_float(out, d);
        return;
      }
      break;
    }
    case InfluxFieldKind::kBool: {
      for (const char* t : {"1", "t", "T", "TRUE", "true", "True"})
        if (v == t) {
          out += "true";
          return;
        }
      for (const char* f : {"0", "f", "F", "FALSE", "false", "False"})
        if (v == f) {
          out += "false";
          return;
        }
      break;
    }
    case InfluxFieldKind::kString:
      break;
  }
  append_influx_string(out, v);
}

std::int64_t precision_divisor(const std::string& p) {
  if (p == "u") return 1'000;
  if (p == "ms") return 1'000'000;
  if (p == "s") return 1'000'000'000;
  if (p == "m") return 60'000'000'000;
  if (p == "h") return 3'600'000'000'000;
  return 1;
}

std::string url_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::size_t collect_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* s = static_cast<std::string*>(user);
  if (s->size() < 1024) s->append(data, std::min<std::size_t>(size * n, 1024 - s->size()));
  return size * n;
}

int abort_check(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::atomic<bool>*>(user)->load() ? 1 : 0;
}

std::string trim_body(std::string b) {
  while (!b.empty() && (b.back() == '\n' || b.back() == '\r' || b.back() == ' ')) b.pop_back();
  return b;
}

}  // namespace

// --------------------------------------------------------------- the output

InfluxDbOutput::InfluxDbOutput(InfluxConfig cfg, std::function<void(const std::string&)> warn)
    : cfg_(std::move(cfg)), warn_(std::move(warn)) {
  ensure_curl_global();
  write_url_ = cfg_.addr + "/write?db=" + url_escape(cfg_.db);
  if (cfg_.precision != "ns") write_url_ += "&precision=" + cfg_.precision;
  if (!cfg_.retention.empty()) write_url_ += "&rp=" + url_escape(cfg_.retention);
  if (!cfg_.consistency.empty()) write_url_ += "&consistency=" + cfg_.consistency;
  buf_.reserve(1 << 16);
  for (int i = 0; i < cfg_.concurrent_writes; ++i) senders_.emplace_back([this] { sender_loop(); });
  flusher_ = std::thread([this] { flusher_loop(); });
}

InfluxDbOutput::~InfluxDbOutput() {
  finish();
}

void InfluxDbOutput::observe(const Registry& reg, const Sample& s) {
  if (!std::isfinite(s.value)) {  // InfluxDB has no NaN or infinite floats
    std::lock_guard lk(mu_);
    ++counts_.points;
    ++counts_.dropped;
    return;
  }
  // The point after its measurement name, built outside the lock.
  thread_local std::string rest;
  thread_local std::string fields;
  rest.clear();
  fields.clear();
  bool has_instance = false;
  if (s.tags) {
    for (const auto& [k, v] : s.tags->items()) {
      auto f = std::find_if(cfg_.tags_as_fields.begin(), cfg_.tags_as_fields.end(),
                            [&k = k](const InfluxTagField& t) { return t.tag == k; });
      if (f != cfg_.tags_as_fields.end() && influx_key_writable(k)) {
        fields += ',';
        append_influx_key(fields, k);
        fields += '=';
        append_tag_field(fields, v, f->kind);
        continue;
      }
      if (!influx_key_writable(k) || !influx_key_writable(v)) continue;  // no empty keys or values
      if (k == "instance") has_instance = true;
      rest += ',';
      append_influx_key(rest, k);
      rest += '=';
      append_influx_key(rest, v);
    }
  }
  if (!cfg_.instance.empty() && !has_instance) {
    rest += ",instance=";
    append_influx_key(rest, cfg_.instance);
  }
  rest += " value=";
  append_float(rest, s.value);
  rest += fields;
  rest += ' ';
  // herd's clock has microseconds: the nanosecond digits tell apart points of
  // one series in one microsecond, which InfluxDB would otherwise merge.
  std::int64_t ns = s.time_us * 1000;
  if (cfg_.precision == "ns") ns += static_cast<std::int64_t>(seq_.fetch_add(1, std::memory_order_relaxed) % 1000);
  char ts[32];
  auto [p, ec] = std::to_chars(ts, ts + sizeof ts, ns / precision_divisor(cfg_.precision));
  (void)ec;
  rest.append(ts, p);
  rest += '\n';
  std::lock_guard lk(mu_);
  ++counts_.points;
  if (finished_ || pending_bytes_ + rest.size() > kMaxPendingBytes) {
    ++counts_.dropped;
    return;
  }
  if (s.metric >= names_.size()) names_.resize(s.metric + 1);
  if (names_[s.metric].empty()) append_influx_measurement(names_[s.metric], reg.def(s.metric).name);
  buf_ += names_[s.metric];
  buf_ += rest;
  pending_bytes_ += names_[s.metric].size() + rest.size();
  ++buf_points_;
  if (buf_.size() >= kMaxWriteBytes && !write_due_) {
    write_due_ = true;
    flusher_cv_.notify_one();
  }
}

/// What every request to the server shares: timeout, user agent, body
/// collection, the abort check, credentials, proxy and TLS verification.
void InfluxDbOutput::set_common_options(void* easy) {
  CURL* h = static_cast<CURL*>(easy);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg_.request_timeout.count()));
  curl_easy_setopt(h, CURLOPT_USERAGENT, "herd");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, abort_check);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &abort_);
  if (cfg_.username) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, cfg_.username->c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, cfg_.password.c_str());
  }
  if (!cfg_.proxy.empty()) curl_easy_setopt(h, CURLOPT_PROXY, cfg_.proxy.c_str());
  if (cfg_.insecure) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

void InfluxDbOutput::create_database() {
  CurlEasy h(curl_easy_init());
  if (!h) return;
  std::string quoted = "\"";
  for (char c : cfg_.db) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  quoted += '"';
  std::string body = "q=" + url_escape("CREATE DATABASE " + quoted);
  std::string url = cfg_.addr + "/query";
  std::string answer;
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
  set_common_options(h.get());
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &answer);
  // As k6: failing is usually harmless (a user without admin rights on an
  // existing database); a server that is down shows in the writes.
  curl_easy_perform(h.get());
}

std::string InfluxDbOutput::post_write(void* easy, const Batch& b) {
  CURL* h = static_cast<CURL*>(easy);
  std::string answer;
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, b.text.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(b.text.size()));
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    if (rc == CURLE_ABORTED_BY_CALLBACK) return "abandoned at the end of the test";
    return std::string("cannot write to ") + cfg_.addr + ": " + curl_easy_strerror(rc);
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 300) return "";
  std::string msg = "HTTP " + std::to_string(status) + " from " + cfg_.addr + "/write";
  if (status == 401 || status == 403)
    msg += " (for InfluxDB v2 use its v1 compatibility API with K6_INFLUXDB_USERNAME and K6_INFLUXDB_PASSWORD)";
  if (std::string body = trim_body(answer); !body.empty()) msg += ": " + body;
  return msg;
}

void InfluxDbOutput::failed(const std::string& err, std::uint64_t points) {
  // Under mu_. A partial write (a field type conflict) says how many it dropped.
  std::uint64_t lost = points;
  if (auto d = err.find("dropped="); d != std::string::npos) {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(err.data() + d + 8, err.data() + err.size(), n);
    if (ec == std::errc() && n <= points) lost = n;
  }
  counts_.dropped += lost;
  counts_.written += points - lost;
  ++counts_.failed_writes;
  last_error_ = err;
  auto now = std::chrono::steady_clock::now();
  if (abort_.load() || (last_warn_ != std::chrono::steady_clock::time_point{} && now - last_warn_ < 5s)) return;
  last_warn_ = now;
  std::string msg = "influxdb: " + err + " (" + std::to_string(counts_.dropped - dropped_at_last_warn_) +
                    " points dropped; the test goes on)";
  dropped_at_last_warn_ = counts_.dropped;
  if (warn_)
    warn_(msg);
  else
    std::fprintf(stderr, "herd: warning: %s\n", msg.c_str());
}

void InfluxDbOutput::sender_loop() {
  CurlEasy h(curl_easy_init());
  CurlSlist headers(curl_slist_append(nullptr, "Content-Type: text/plain; charset=utf-8"));
  // No "Expect: 100-continue" round trip before each (large) write.
  if (headers) headers.reset(curl_slist_append(headers.release(), "Expect:"));
  if (h) {
    curl_easy_setopt(h.get(), CURLOPT_URL, write_url_.c_str());
    curl_easy_setopt(h.get(), CURLOPT_POST, 1L);
    curl_easy_setopt(h.get(), CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
    set_common_options(h.get());
  }
  std::unique_lock lk(mu_);
  for (;;) {
    sender_cv_.wait(lk, [this] { return !queue_.empty() || producing_done_ || abort_.load(); });
    if (queue_.empty() || abort_.load()) return;
    Batch b = std::move(queue_.front());
    queue_.pop_front();
    ++in_flight_;
    lk.unlock();
    std::string err = h ? post_write(h.get(), b) : "curl_easy_init failed";
    lk.lock();
    --in_flight_;
    pending_bytes_ -= b.text.size();
    if (err.empty())
      counts_.written += b.points;
    else
      failed(err, b.points);
    idle_cv_.notify_all();
  }
}

void InfluxDbOutput::flusher_loop() {
  create_database();
  std::unique_lock lk(mu_);
  for (;;) {
    flusher_cv_.wait_for(lk, cfg_.push_interval,
                         [this] { return stop_ || write_due_ || push_requested_ > push_done_; });
    std::uint64_t push = push_requested_;
    write_due_ = false;
    if (buf_points_ > 0) {
      // Writes of at most kMaxWriteBytes, cut after a point's '\n' (points never hold one).
      std::string_view all = buf_;
      std::uint64_t points_left = buf_points_;
      while (!all.empty()) {
        std::size_t cut = all.size();
        if (cut > kMaxWriteBytes) {
          std::size_t nl = all.rfind('\n', kMaxWriteBytes - 1);
          cut = nl == std::string_view::npos ? all.find('\n') + 1 : nl + 1;
          if (cut == 0) cut = all.size();  // no newline at all: one write
        }
        std::string_view part = all.substr(0, cut);
        auto points = static_cast<std::uint64_t>(std::count(part.begin(), part.end(), '\n'));
        if (cut == all.size()) points = points_left;  // the last part takes the rest of the count
        points = std::min(points, points_left);
        points_left -= points;
        queue_.push_back(Batch{std::string(part), points});
        all.remove_prefix(cut);
      }
      buf_ = std::string();
      buf_.reserve(1 << 16);
      buf_points_ = 0;
      sender_cv_.notify_all();
    }
    push_done_ = push;
    idle_cv_.notify_all();
    if (stop_) {
      producing_done_ = true;
      sender_cv_.notify_all();
      idle_cv_.notify_all();
      return;
    }
  }
}

std::string InfluxDbOutput::flush() {
  std::unique_lock lk(mu_);
  if (producing_done_) return "";
  std::uint64_t gen = ++push_requested_;
  flusher_cv_.notify_one();
  idle_cv_.wait_for(lk, cfg_.finish_timeout,
                    [&] { return (push_done_ >= gen && queue_.empty() && in_flight_ == 0) || producing_done_; });
  return "";
}

std::string InfluxDbOutput::finish() {
  {
    std::unique_lock lk(mu_);
    if (finished_ && !flusher_.joinable()) return "";
    finished_ = true;
    stop_ = true;
    flusher_cv_.notify_one();
    bool done = idle_cv_.wait_for(lk, cfg_.finish_timeout,
                                  [this] { return producing_done_ && queue_.empty() && in_flight_ == 0; });
    if (!done) {
      abort_ = true;  // cuts CREATE DATABASE and the writes in flight short
      sender_cv_.notify_all();
    }
  }
  if (flusher_.joinable()) flusher_.join();
  for (auto& t : senders_)
    if (t.joinable()) t.join();
  std::lock_guard lk(mu_);
  for (const Batch& b : queue_) counts_.dropped += b.points;
  if (!queue_.empty() && last_error_.empty()) last_error_ = "abandoned at the end of the test";
  queue_.clear();
  pending_bytes_ = 0;
  return "";
}

std::string InfluxDbOutput::end_note() {
  std::lock_guard lk(mu_);
  if (counts_.dropped == 0) return "";
  std::string note = std::to_string(counts_.dropped) + " of " + std::to_string(counts_.points) +
                     " points were not written to InfluxDB";
  if (counts_.failed_writes) note += " (" + std::to_string(counts_.failed_writes) + " failed writes";
  if (!last_error_.empty()) note += std::string(counts_.failed_writes ? "; " : " (") + "last error: " + last_error_;
  if (counts_.failed_writes || !last_error_.empty()) note += ")";
  return note;
}

InfluxDbOutput::Counts InfluxDbOutput::counts() const {
  std::lock_guard lk(mu_);
  return counts_;
}

}  // namespace herd::metrics
