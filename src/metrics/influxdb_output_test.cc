// The InfluxDB output: k6's configuration (URL over K6_INFLUXDB_* over
// defaults, refusals that name the variable), line-protocol escaping of
// hostile strings, and the sender against a small HTTP server on loopback
// that answers 204, 500, or never (a failing server costs points, not the test).
#include "metrics/influxdb_output.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "metrics/registry.h"

namespace herd::metrics {
namespace {

using namespace std::chrono_literals;

std::string key(std::string_view s) {
  std::string out;
  append_influx_key(out, s);
  return out;
}
std::string measurement(std::string_view s) {
  std::string out;
  append_influx_measurement(out, s);
  return out;
}
std::string str(std::string_view s) {
  std::string out;
  append_influx_string(out, s);
  return out;
}

TEST(InfluxEscapeTest, HostileStrings) {
  EXPECT_EQ(key("plain"), "plain");
  EXPECT_EQ(key("a,b c=d"), R"(a\,b\ c\=d)");
  EXPECT_EQ(measurement("a,b c=d"), R"(a\,b\ c=d)");  // '=' is no separator in a measurement
  EXPECT_EQ(key("line1\nline2"), R"(line1\nline2)");
  EXPECT_EQ(key("cr\rhere"), "cr\rhere");  // InfluxDB stores a carriage return as it is
  // Backslashes stay, except where InfluxDB would pair one with an escaped byte.
  EXPECT_EQ(key(R"(a\b)"), R"(a\b)");
  EXPECT_EQ(key(R"(a\\b)"), R"(a\\b)");
  EXPECT_EQ(key(R"(a\,b)"), R"(a\\\,b)");
  EXPECT_EQ(key(R"(a\\,b)"), R"(a\\\,b)");
  EXPECT_EQ(key(R"(a\\\ b)"), R"(a\\\\\ b)");
  EXPECT_EQ(key(R"(a\=b)"), R"(a\\\=b)");
  EXPECT_EQ(measurement(R"(a\=b)"), R"(a\=b)");
  // Trailing backslashes cannot be written at all (InfluxDB: "invalid tag format").
  EXPECT_EQ(key(R"(end\)"), "end");
  EXPECT_EQ(key(R"(end\\\)"), "end");
  EXPECT_FALSE(influx_key_writable(R"(\\)"));
  EXPECT_FALSE(influx_key_writable(""));
  EXPECT_TRUE(influx_key_writable(R"(\x)"));
  // Field strings: quotes and backslashes escaped, newlines allowed inside the quotes.
  EXPECT_EQ(str(R"(say "hi" \o/)"), R"("say \"hi\" \\o/")");
  EXPECT_EQ(str("two\nlines, a=b"), "\"two\nlines, a=b\"");
  EXPECT_EQ(str(""), R"("")");
}

// ------------------------------------------------------------------ configuration

std::string refusal(const std::optional<std::string>& url, const std::map<std::string, std::string>& env) {
  try {
    influx_config(url, env);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "accepted";
}

TEST(InfluxConfigTest, K6Defaults) {
  InfluxConfig c = influx_config(std::nullopt, {});
  EXPECT_EQ(c.addr, "http://localhost:8086");
  EXPECT_EQ(c.db, "k6");
  EXPECT_FALSE(c.username);
  EXPECT_EQ(c.push_interval, 1s);
  EXPECT_EQ(c.concurrent_writes, 4);
  EXPECT_EQ(c.precision, "ns");
  ASSERT_EQ(c.tags_as_fields.size(), 3u);
  EXPECT_EQ(c.tags_as_fields[0].tag, "vu");
  EXPECT_EQ(c.tags_as_fields[1].tag, "iter");
  EXPECT_EQ(c.tags_as_fields[2].tag, "url");
}

TEST(InfluxConfigTest, UrlForms) {
  InfluxConfig c = influx_config("http://127.0.0.1:8086/mydb", {});
  EXPECT_EQ(c.addr, "http://127.0.0.1:8086");
  EXPECT_EQ(c.db, "mydb");
  c = influx_config("http://127.0.0.1:8086", {});
  EXPECT_EQ(c.addr, "http://127.0.0.1:8086");
  EXPECT_EQ(c.db, "k6");
  c = influx_config("http://127.0.0.1:8086/", {{"K6_INFLUXDB_DB", "fromenv"}});
  EXPECT_EQ(c.db, "fromenv");
  c = influx_config("https://127.0.0.3:8086/influxdb/myk6db", {});  // a reverse proxy's path prefix
  EXPECT_EQ(c.addr, "https://127.0.0.3:8086/influxdb");
  EXPECT_EQ(c.db, "myk6db");
  c = influx_config("http://us%40r:p%3Ass@[::1]:8086/d%20b", {});
  EXPECT_EQ(c.addr, "http://[::1]:8086");
  EXPECT_EQ(c.db, "d b");
  ASSERT_TRUE(c.username);
  EXPECT_EQ(*c.username, "us@r");
  EXPECT_EQ(c.password, "p:ss");
  c = influx_config(
      "http://127.0.0.1:1/"
      "db?precision=ms&pushInterval=250ms&concurrentWrites=2&insecure=true&retention=rp1&consistency=one"
      "&tagsAsFields=vu:int&tagsAsFields=url",
      {});
  EXPECT_EQ(c.precision, "ms");
  EXPECT_EQ(c.push_interval, 250ms);
  EXPECT_EQ(c.concurrent_writes, 2);
  EXPECT_TRUE(c.insecure);
  EXPECT_EQ(c.retention, "rp1");
  EXPECT_EQ(c.consistency, "one");
  ASSERT_EQ(c.tags_as_fields.size(), 2u);
  EXPECT_EQ(c.tags_as_fields[0].kind, InfluxFieldKind::kInt);
  EXPECT_EQ(c.tags_as_fields[1].tag, "url");
}

TEST(InfluxConfigTest, EnvironmentUnderTheUrl) {
  std::map<std::string, std::string> env = {
      {"K6_INFLUXDB_ADDR", "http://127.0.0.2:9999/prefix/"},
      {"K6_INFLUXDB_DB", "envdb"},
      {"K6_INFLUXDB_USERNAME", "u"},
      {"K6_INFLUXDB_PASSWORD", "p"},
      {"K6_INFLUXDB_INSECURE", "1"},
      {"K6_INFLUXDB_PUSH_INTERVAL", "5s"},
      {"K6_INFLUXDB_CONCURRENT_WRITES", "8"},
      {"K6_INFLUXDB_PRECISION", "us"},
      {"K6_INFLUXDB_RETENTION", "autogen"},
      {"K6_INFLUXDB_CONSISTENCY", "all"},
      {"K6_INFLUXDB_TAGS_AS_FIELDS", "vu:int,iter:int,url,error_code:float,ok:bool"},
      {"K6_INFLUXDB_PROXY", "http://127.0.0.1:3128"},
  };
  InfluxConfig c = influx_config(std::nullopt, env);
  EXPECT_EQ(c.addr, "http://127.0.0.2:9999/prefix");
  EXPECT_EQ(c.db, "envdb");
  EXPECT_EQ(*c.username, "u");
  EXPECT_EQ(c.password, "p");
  EXPECT_TRUE(c.insecure);
  EXPECT_EQ(c.push_interval, 5s);
  EXPECT_EQ(c.concurrent_writes, 8);
  EXPECT_EQ(c.precision, "u");
  EXPECT_EQ(c.retention, "autogen");
  EXPECT_EQ(c.consistency, "all");
  ASSERT_EQ(c.tags_as_fields.size(), 5u);
  EXPECT_EQ(c.tags_as_fields[3].kind, InfluxFieldKind::kFloat);
  EXPECT_EQ(c.tags_as_fields[4].kind, InfluxFieldKind::kBool);
  EXPECT_EQ(c.proxy, "http://127.0.0.1:3128");
  // The --out URL wins over the environment, as in k6.
  c = influx_config("http://127.0.0.1:8086/urldb?pushInterval=2s", env);
  EXPECT_EQ(c.addr, "http://127.0.0.1:8086");
  EXPECT_EQ(c.db, "urldb");
  EXPECT_EQ(c.push_interval, 2s);
  EXPECT_EQ(c.concurrent_writes, 8);
}

TEST(InfluxConfigTest, RefusalsNameTheSetting) {
  auto has = [](const std::string& msg, const std::string& part) { return msg.find(part) != std::string::npos; };
  EXPECT_TRUE(has(refusal(std::nullopt, {{"K6_INFLUXDB_INSECURE", "yes"}}), "K6_INFLUXDB_INSECURE"));
  EXPECT_TRUE(has(refusal(std::nullopt, {{"K6_INFLUXDB_PUSH_INTERVAL", "soon"}}), "K6_INFLUXDB_PUSH_INTERVAL"));
  EXPECT_TRUE(has(refusal(std::nullopt, {{"K6_INFLUXDB_PUSH_INTERVAL", "0s"}}), "K6_INFLUXDB_PUSH_INTERVAL"));
  EXPECT_TRUE(has(refusal(std::nullopt, {{"K6_INFLUXDB_CONCURRENT_WRITES", "0"}}), "K6_INFLUXDB_CONCURRENT_WRITES"));
  EXPECT_TRUE(has(refusal(std::nullopt, {{"K6_INFLUXDB_CONCURRENT_WRITES", "4x"}}), "K6_INFLUXDB_CONCURRENT_WRITES"));
  EXPECT_TRUE(has(refusal(std::nullopt, {{"K6_INFLUXDB_PRECISION", "d"}}), "K6_INFLUXDB_PRECISION"));
  EXPECT_TRUE(has(refusal(std::nullopt, {{"K6_INFLUXDB_CONSISTENCY", "most"}}), "K6_INFLUXDB_CONSISTENCY"));
  EXPECT_TRUE(has(refusal(std::nullopt, {{"K6_INFLUXDB_TAGS_AS_FIELDS", "vu:long"}}), "K6_INFLUXDB_TAGS_AS_FIELDS"));
  EXPECT_TRUE(has(refusal(std::nullopt, {{"K6_INFLUXDB_TAGS_AS_FIELDS", "vu,vu:int"}}), "more than once"));
  EXPECT_TRUE(has(refusal(std::nullopt, {{"K6_INFLUXDB_PAYLOAD_SIZE", "512"}}), "K6_INFLUXDB_PAYLOAD_SIZE"));
  EXPECT_TRUE(has(refusal(std::nullopt, {{"K6_INFLUXDB_ADDR", "udp://127.0.0.1:8089"}}), "K6_INFLUXDB_ADDR: udp://"));
  EXPECT_TRUE(has(refusal(std::nullopt, {{"K6_INFLUXDB_ADDR", "ftp://x"}}), "K6_INFLUXDB_ADDR"));
  EXPECT_TRUE(has(refusal(std::nullopt, {{"K6_INFLUXDB_PROXY", "::"}}), "K6_INFLUXDB_PROXY"));
  for (const char* v2 : {"K6_INFLUXDB_ORGANIZATION", "K6_INFLUXDB_BUCKET", "K6_INFLUXDB_TOKEN"})
    EXPECT_TRUE(has(refusal(std::nullopt, {{v2, "x"}}), std::string(v2) + " is a setting of InfluxDB v2")) << v2;
  EXPECT_TRUE(has(refusal("udp://127.0.0.1:8089", {}), "udp:// is not supported"));
  EXPECT_TRUE(has(refusal("localhost:8086/k6", {}), "the scheme must be http or https"));
  EXPECT_TRUE(has(refusal("http://127.0.0.1/db?color=red", {}), "unknown query parameter: color"));
  EXPECT_TRUE(has(refusal("http://127.0.0.1/db?payload_size=9", {}), "payload_size"));
  EXPECT_TRUE(has(refusal("http://127.0.0.1/db?insecure=maybe", {}), "insecure"));
  EXPECT_TRUE(has(refusal("http://127.0.0.1/db?concurrentWrites=-1", {}), "concurrentWrites"));
  EXPECT_TRUE(has(refusal("http://127.0.0.1/db?precision=week", {}), "precision"));
  EXPECT_TRUE(has(refusal("http://127.0.0.1/db#frag", {}), "fragment"));
  EXPECT_EQ(refusal(std::nullopt, {{"K6_INFLUXDB_INSECURE", ""}}), "accepted");  // empty = unset, as k6
}

TEST(InfluxConfigTest, OpenOutputsRefusesWithTheOutValue) {
  try {
    open_outputs({"influxdb=http://127.0.0.1:1/db?bogus=1"}, {}, {}, {});
    FAIL() << "accepted";
  } catch (const OutputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--out influxdb=http://127.0.0.1:1/db?bogus=1: ", 0), 0u) << e.what();
  }
}

// ------------------------------------------------------------------ the sender

/// A loopback HTTP server that records each request and answers with
/// `status`, or never when `status` is 0 (a hung server).
class TinyServer {
 public:
  explicit TinyServer(int status) : status_(status) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 16) != 0)
      throw std::runtime_error(std::string("TinyServer: ") + std::strerror(errno));
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~TinyServer() {
    stop_ = true;
    thread_.join();
    for (int c : open_) close(c);
    close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> requests() {
    std::lock_guard lk(mu_);
    return requests_;
  }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string req;
      char buf[65536];
      for (;;) {
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 2000) <= 0) break;
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<std::size_t>(n));
        auto end = req.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        auto cl = req.find("Content-Length: ");
        std::size_t want = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16));
        if (req.size() >= end + 4 + want) break;
      }
      {
        std::lock_guard lk(mu_);
        requests_.push_back(req);
      }
      if (status_ == 0) {
        open_.push_back(c);  // never answered
        continue;
      }
      std::string resp = "HTTP/1.1 " + std::to_string(status_) +
                         (status_ == 204 ? " No Content\r\nConnection: close\r\n\r\n"
                                         : " Error\r\nContent-Length: 21\r\nConnection: close\r\n\r\n"
                                           "{\"error\":\"disk full\"}");
      (void)!write(c, resp.data(), resp.size());
      close(c);
    }
  }
  int status_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::vector<int> open_;
  std::thread thread_;
};

struct Fixture {
  Registry reg;
  MetricId m = reg.define("http_reqs", MetricType::kCounter, ValueType::kDefault);
  const TagSet* tags = nullptr;
  TagSet t{{{"status", "200"}, {"vu", "3"}, {"url", "http://x/a b"}, {"name", "a,b"}}};
  Fixture() { tags = &t; }
};

TEST(InfluxDbOutputTest, WritesOnePointPerSampleWithK6Fields) {
  TinyServer srv(204);
  InfluxConfig cfg = influx_config(srv.url() + "/my%20db?pushInterval=50ms", {});
  cfg.instance = "1/2:1";
  Fixture f;
  InfluxDbOutput out(cfg, nullptr);
  out.observe(f.reg, Sample{f.m, f.tags, 1, 1'700'000'000'000'001});
  out.observe(f.reg, Sample{f.m, f.tags, 2.5, 1'700'000'000'000'001});
  out.observe(f.reg, Sample{f.m, nullptr, std::nan(""), 1});  // not finite: dropped
  out.finish();
  EXPECT_EQ(out.counts().points, 3u);
  EXPECT_EQ(out.counts().written, 2u);
  EXPECT_EQ(out.counts().dropped, 1u);
  std::string all;
  for (const auto& r : srv.requests()) all += r;
  EXPECT_NE(all.find("POST /query"), std::string::npos) << all;
  EXPECT_NE(all.find("q=CREATE%20DATABASE%20%22my%20db%22"), std::string::npos) << all;
  EXPECT_NE(all.find("POST /write?db=my%20db HTTP/1.1"), std::string::npos) << all;
  // vu and url are fields (k6's default tagsAsFields), one microsecond spread over nanoseconds.
  EXPECT_NE(all.find("http_reqs,name=a\\,b,status=200,instance=1/2:1 value=1,url=\"http://x/a b\",vu=\"3\" "
                     "1700000000000001000\n"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("http_reqs,name=a\\,b,status=200,instance=1/2:1 value=2.5,url=\"http://x/a b\",vu=\"3\" "
                     "1700000000000001001\n"),
            std::string::npos)
      << all;
  EXPECT_NE(out.end_note().find("1 of 3 points were not written"), std::string::npos) << out.end_note();
}

// A busy test makes more than influxd takes in one body (25 MB by default:
// HTTP 413, every point lost). Writes are cut at kMaxWriteBytes, between points.
TEST(InfluxDbOutputTest, BigPushIntervalsGoInSeveralWrites) {
  TinyServer srv(204);
  InfluxConfig cfg = influx_config(srv.url() + "/db?pushInterval=10s", {});
  Fixture f;
  InfluxDbOutput out(cfg, nullptr);
  constexpr std::uint64_t kPoints = 150'000;  // ~13 MB of line protocol
  for (std::uint64_t i = 0; i < kPoints; ++i)
    out.observe(f.reg,
                Sample{f.m, f.tags, static_cast<double>(i), 1'700'000'000'000'000 + static_cast<std::int64_t>(i)});
  out.finish();
  EXPECT_EQ(out.counts().written, kPoints);
  EXPECT_EQ(out.counts().dropped, 0u);
  std::uint64_t lines = 0;
  int writes = 0;
  for (const auto& r : srv.requests()) {
    if (r.rfind("POST /write", 0) != 0) continue;
    ++writes;
    std::string body = r.substr(r.find("\r\n\r\n") + 4);
    EXPECT_LE(body.size(), InfluxDbOutput::kMaxWriteBytes);
    EXPECT_EQ(body.back(), '\n') << "cut between points";
    lines += static_cast<std::uint64_t>(std::count(body.begin(), body.end(), '\n'));
    EXPECT_EQ(r.find("Expect: 100-continue"), std::string::npos);
  }
  EXPECT_GE(writes, 3);
  EXPECT_EQ(lines, kPoints);
}

TEST(InfluxDbOutputTest, TypedTagFieldsAndPrecision) {
  TinyServer srv(204);
  Fixture f;
  InfluxDbOutput out(influx_config(srv.url() + "/db?precision=ms&pushInterval=50ms&retention=r&consistency=any",
                                   {{"K6_INFLUXDB_TAGS_AS_FIELDS", "vu:int,status:float,url:bool"}}),
                     nullptr);
  out.observe(f.reg, Sample{f.m, f.tags, 1, 1'700'000'000'123'456});
  out.finish();
  std::string all;
  for (const auto& r : srv.requests()) all += r;
  EXPECT_NE(all.find("POST /write?db=db&precision=ms&rp=r&consistency=any "), std::string::npos) << all;
  // url is no boolean: written as a string, as k6 does.
  EXPECT_NE(all.find("http_reqs,name=a\\,b value=1,status=200,url=\"http://x/a b\",vu=3i 1700000000123\n"),
            std::string::npos)
      << all;
  EXPECT_EQ(out.end_note(), "");
}

TEST(InfluxDbOutputTest, ServerErrorsAreCountedAndWarnedNotFatal) {
  TinyServer srv(500);
  std::mutex mu;
  std::vector<std::string> warnings;
  Fixture f;
  InfluxDbOutput out(influx_config(srv.url() + "/db?pushInterval=20ms", {}), [&](const std::string& w) {
    std::lock_guard lk(mu);
    warnings.push_back(w);
  });
  for (int i = 0; i < 10; ++i) out.observe(f.reg, Sample{f.m, f.tags, 1, 1'000'000 + i});
  EXPECT_EQ(out.flush(), "");
  for (int i = 0; i < 5; ++i) out.observe(f.reg, Sample{f.m, f.tags, 1, 2'000'000 + i});
  EXPECT_EQ(out.finish(), "");
  EXPECT_EQ(out.counts().dropped, 15u);
  EXPECT_EQ(out.counts().written, 0u);
  EXPECT_GE(out.counts().failed_writes, 2u);
  std::string note = out.end_note();
  EXPECT_NE(note.find("15 of 15 points were not written to InfluxDB"), std::string::npos) << note;
  EXPECT_NE(note.find("HTTP 500"), std::string::npos) << note;
  EXPECT_NE(note.find("disk full"), std::string::npos) << note;
  std::lock_guard lk(mu);
  ASSERT_EQ(warnings.size(), 1u);  // at most one warning per 5 s
  EXPECT_NE(warnings[0].find("HTTP 500"), std::string::npos) << warnings[0];
}

TEST(InfluxDbOutputTest, RefusedConnectionsAreCounted) {
  std::uint16_t port;
  {
    TinyServer gone(204);
    port = static_cast<std::uint16_t>(std::stoi(gone.url().substr(gone.url().rfind(':') + 1)));
  }
  Fixture f;
  InfluxDbOutput out(influx_config("http://127.0.0.1:" + std::to_string(port) + "/db?pushInterval=20ms", {}),
                     [](const std::string&) {});
  for (int i = 0; i < 7; ++i) out.observe(f.reg, Sample{f.m, f.tags, 1, 1'000'000 + i});
  out.finish();
  EXPECT_EQ(out.counts().dropped, 7u);
  EXPECT_NE(out.end_note().find("7 of 7 points"), std::string::npos) << out.end_note();
  EXPECT_NE(out.end_note().find("Couldn't connect"), std::string::npos) << out.end_note();
}

// A server that accepts and never answers: observe() never waits, and
// finish() gives up after finish_timeout, counting what it abandons.
TEST(InfluxDbOutputTest, HungServerNeverStallsTheProducers) {
  TinyServer srv(0);
  InfluxConfig cfg = influx_config(srv.url() + "/db?pushInterval=20ms", {});
  cfg.finish_timeout = 500ms;
  Fixture f;
  InfluxDbOutput out(cfg, [](const std::string&) {});
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 200'000; ++i) out.observe(f.reg, Sample{f.m, f.tags, 1, 1'000'000 + i});
  std::this_thread::sleep_for(100ms);
  for (int i = 0; i < 100; ++i) out.observe(f.reg, Sample{f.m, f.tags, 1, 3'000'000 + i});
  out.finish();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 5s);
  EXPECT_EQ(out.counts().points, 200'100u);
  EXPECT_EQ(out.counts().dropped, 200'100u);
  EXPECT_EQ(out.counts().written, 0u);
  EXPECT_NE(out.end_note().find("200100 of 200100 points"), std::string::npos) << out.end_note();
}

}  // namespace
}  // namespace herd::metrics
