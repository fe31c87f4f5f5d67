#include "target/server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using herd::target::Server;
using herd::target::ServerOptions;
using namespace std::chrono_literals;

namespace {

struct Reply {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  long connects = -1;
  std::string header(const std::string& name) const {
    for (auto& [k, v] : headers)
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
    return "";
  }
};

size_t on_body(char* p, size_t sz, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, sz * n);
  return sz * n;
}

size_t on_header(char* p, size_t sz, size_t n, void* ud) {
  auto* r = static_cast<Reply*>(ud);
  std::string line(p, sz * n);
  if (line.rfind("HTTP/", 0) == 0) r->headers.clear();
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ')) v.erase(0, 1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n')) v.pop_back();
    r->headers.emplace_back(line.substr(0, colon), v);
  }
  return sz * n;
}

// A blocking request with libcurl's easy interface (reusing `h` when given keeps the connection).
Reply fetch(const std::string& url, const std::string& method = "GET", const std::string& body = "",
            std::vector<std::string> headers = {}, CURL* h = nullptr, bool follow = false) {
  bool own = h == nullptr;
  if (own) h = curl_easy_init();
  Reply r;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
  if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method == "GET" ? nullptr : method.c_str());
  }
  if (!body.empty()) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_slist* list = nullptr;
  for (auto& hd : headers) list = curl_slist_append(list, hd.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  r.code = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r.connects);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(list);
  if (own) curl_easy_cleanup(h);
  return r;
}

// Raw TCP helper for pipelining / chunked / malformed input.
int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void send_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads until `count` occurrences of `marker` were seen, EOF, or timeout.
std::string read_until(int fd, const std::string& marker, int count = 1) {
  std::string got;
  char buf[4096];
  auto end = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    int seen = 0;
    for (std::size_t p = got.find(marker); p != std::string::npos; p = got.find(marker, p + 1)) ++seen;
    if (seen >= count || std::chrono::steady_clock::now() > end) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

std::string read_all(int fd) {
  std::string got;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  void SetUp() override {
    server_ = std::make_unique<Server>(ServerOptions{});
    server_->start();
    base_ = server_->base_url();
  }
  void TearDown() override { server_.reset(); }
  std::unique_ptr<Server> server_;
  std::string base_;
};

}  // namespace

TEST_F(ServerTest, RootAndBaseUrl) {
  EXPECT_NE(server_->port(), 0);
  EXPECT_EQ(base_, "http://127.0.0.1:" + std::to_string(server_->port()));
  auto r = fetch(base_ + "/");
  ASSERT_EQ(r.code, CURLE_OK);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(r.header("Content-Length"), "2");
  EXPECT_EQ(server_->requests_served(), 1u);
}

TEST_F(ServerTest, KeepAliveReusesTheConnection) {
  CURL* h = curl_easy_init();
  auto a = fetch(base_ + "/", "GET", "", {}, h);
  auto b = fetch(base_ + "/json", "GET", "", {}, h);
  auto c = fetch(base_ + "/echo", "POST", "abc", {}, h);
  curl_easy_cleanup(h);
  EXPECT_EQ(a.connects, 1);
  EXPECT_EQ(b.connects, 0);
  EXPECT_EQ(c.connects, 0);
  EXPECT_EQ(c.status, 200);
}

TEST_F(ServerTest, EchoReturnsMethodPathQueryHeadersBody) {
  auto r = fetch(base_ + "/echo?a=1&b=hello%20world", "PUT", "the body", {"X-Test: yes", "Content-Type: text/x"});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["method"], "PUT");
  EXPECT_EQ(j["path"], "/echo");
  EXPECT_EQ(j["query"], "a=1&b=hello%20world");
  EXPECT_EQ(j["args"]["b"], "hello world");
  EXPECT_EQ(j["headers"]["X-Test"], "yes");
  EXPECT_EQ(j["body"], "the body");
}

TEST_F(ServerTest, EchoLargeBody) {
  std::string body(300000, 'q');
  body[1234] = 'Z';
  auto r = fetch(base_ + "/echo", "POST", body);
  ASSERT_EQ(r.status, 200);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["body"].get<std::string>(), body);
}

TEST_F(ServerTest, StatusCodes) {
  for (int code : {200, 201, 204, 404, 418, 500, 503}) {
    auto r = fetch(base_ + "/status/" + std::to_string(code));
    ASSERT_EQ(r.code, CURLE_OK) << code;
    EXPECT_EQ(r.status, code);
  }
  EXPECT_EQ(fetch(base_ + "/status/abc").status, 400);
  EXPECT_EQ(fetch(base_ + "/status/99").status, 400);
  EXPECT_EQ(fetch(base_ + "/nope").status, 404);
}

TEST_F(ServerTest, DelayWaitsWithoutBlockingOtherConnections) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = fetch(base_ + "/delay/120");
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, 200);
  EXPECT_GE(took, 120ms);

  // Five concurrent 300ms delays on a one-thread server finish in well under 5x300ms.
  t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  std::vector<long> statuses(5);
  for (int i = 0; i < 5; ++i) ts.emplace_back([&, i] { statuses[i] = fetch(base_ + "/delay/300").status; });
  // Meanwhile a fast request is answered at once.
  auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(fetch(base_ + "/").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 250ms);
  for (auto& t : ts) t.join();
  took = std::chrono::steady_clock::now() - t0;
  for (long s : statuses) EXPECT_EQ(s, 200);
  EXPECT_LT(took, 1200ms);
  EXPECT_EQ(fetch(base_ + "/delay/-1").status, 400);
}

TEST_F(ServerTest, BytesAndHead) {
  auto r = fetch(base_ + "/bytes/100000");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.body.size(), 100000u);
  EXPECT_EQ(r.body.substr(0, 3), "abc");
  EXPECT_EQ(r.body[26], 'a');
  auto h = fetch(base_ + "/bytes/10", "HEAD");
  ASSERT_EQ(h.code, CURLE_OK);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.header("Content-Length"), "10");
  EXPECT_TRUE(h.body.empty());
  EXPECT_EQ(fetch(base_ + "/bytes/0").body, "");
}

TEST_F(ServerTest, Json) {
  auto r = fetch(base_ + "/json");
  ASSERT_EQ(r.status, 200);
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["name"], "herd");
  EXPECT_EQ(j["numbers"].size(), 5u);
}

TEST_F(ServerTest, RedirectChain) {
  auto r = fetch(base_ + "/redirect/3");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.header("Location"), "/redirect/2");
  EXPECT_EQ(fetch(base_ + "/redirect/1").header("Location"), "/");
  CURL* h = curl_easy_init();
  auto f = fetch(base_ + "/redirect/3", "GET", "", {}, h, true);
  long redirects = 0;
  curl_easy_getinfo(h, CURLINFO_REDIRECT_COUNT, &redirects);
  curl_easy_cleanup(h);
  EXPECT_EQ(f.status, 200);
  EXPECT_EQ(f.body, "ok");
  EXPECT_EQ(redirects, 3);
}

TEST_F(ServerTest, Cookies) {
  auto set = fetch(base_ + "/cookies/set?flavour=oat&n=2", "GET", "", {"Cookie: old=1"});
  ASSERT_EQ(set.status, 200);
  int set_cookies = 0;
  for (auto& [k, v] : set.headers)
    if (strcasecmp(k.c_str(), "Set-Cookie") == 0) ++set_cookies;
  EXPECT_EQ(set_cookies, 2);
  auto sj = nlohmann::json::parse(set.body);
  EXPECT_EQ(sj["cookies"]["flavour"], "oat");
  EXPECT_EQ(sj["cookies"]["old"], "1");
  auto r = fetch(base_ + "/cookies", "GET", "", {"Cookie: a=b; c=d"});
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["cookies"]["a"], "b");
  EXPECT_EQ(j["cookies"]["c"], "d");
  EXPECT_EQ(j["cookies"].size(), 2u);
}

TEST_F(ServerTest, BasicAuth) {
  CURL* h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_USERNAME, "user");
  curl_easy_setopt(h, CURLOPT_PASSWORD, "pass");
  auto ok = fetch(base_ + "/basic-auth/user/pass", "GET", "", {}, h);
  auto bad = fetch(base_ + "/basic-auth/user/other", "GET", "", {}, h);
  curl_easy_cleanup(h);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(nlohmann::json::parse(ok.body)["user"], "user");
  EXPECT_EQ(bad.status, 401);
  EXPECT_NE(bad.header("WWW-Authenticate"), "");
  EXPECT_EQ(fetch(base_ + "/basic-auth/user/pass").status, 401);
}

TEST_F(ServerTest, HtmlLoginFlowChecksTheCsrfToken) {
  auto form = fetch(base_ + "/login");
  ASSERT_EQ(form.status, 200);
  EXPECT_EQ(form.header("Content-Type"), "text/html; charset=utf-8");
  std::string cookie = form.header("Set-Cookie");
  ASSERT_EQ(cookie.rfind("csrf=", 0), 0u) << cookie;
  std::string token = cookie.substr(5, cookie.find(';') - 5);
  EXPECT_NE(form.body.find("name=\"csrf\" value=\"" + token + "\""), std::string::npos) << form.body;
  std::vector<std::string> with_cookie = {"Cookie: csrf=" + token};
  auto bad_token = fetch(base_ + "/login", "POST", "csrf=nope&username=herd&password=s3cret", with_cookie);
  EXPECT_EQ(bad_token.status, 403);
  auto bad_pass = fetch(base_ + "/login", "POST", "csrf=" + token + "&username=herd&password=x", with_cookie);
  EXPECT_EQ(bad_pass.status, 401);
  auto ok = fetch(base_ + "/login", "POST", "csrf=" + token + "&username=herd&password=s3cret", with_cookie);
  EXPECT_EQ(ok.status, 303);
  EXPECT_EQ(ok.header("Location"), "/account");
  EXPECT_EQ(fetch(base_ + "/account").status, 401);
  auto account = fetch(base_ + "/account", "GET", "", {"Cookie: session=herd"});
  EXPECT_EQ(account.status, 200);
  EXPECT_NE(account.body.find("Welcome, herd"), std::string::npos);
  auto link = fetch(base_ + "/links/7");
  EXPECT_EQ(link.status, 200);
  EXPECT_NE(link.body.find("<h1>link 7</h1>"), std::string::npos);
  EXPECT_EQ(fetch(base_ + "/links/x").status, 404);
}

TEST_F(ServerTest, Headers) {
  auto r = fetch(base_ + "/headers", "GET", "", {"X-One: 1", "X-Two: two"});
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["headers"]["X-One"], "1");
  EXPECT_EQ(j["headers"]["X-Two"], "two");
  EXPECT_TRUE(j["headers"].contains("Host"));
}

TEST_F(ServerTest, Counters) {
  for (int i = 0; i < 3; ++i) fetch(base_ + "/counter/hits/inc", "POST");
  fetch(base_ + "/counter/other/inc");
  auto r = fetch(base_ + "/counter/hits");
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["value"], 3);
  EXPECT_EQ(nlohmann::json::parse(fetch(base_ + "/counter/other").body)["value"], 1);
  EXPECT_EQ(nlohmann::json::parse(fetch(base_ + "/counter/never").body)["value"], 0);
}

TEST_F(ServerTest, CloseDropsTheConnection) {
  auto r = fetch(base_ + "/close");
  EXPECT_EQ(r.code, CURLE_GOT_NOTHING);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(fetch(base_ + "/").status, 200);  // still serving
}

TEST_F(ServerTest, PipelinedRequestsAnsweredInOrder) {
  int fd = connect_to(server_->port());
  ASSERT_GE(fd, 0);
  send_all(fd,
           "GET /status/201 HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /delay/50 HTTP/1.1\r\nHost: x\r\n\r\n"
           "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
           "GET /status/202 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string all = read_all(fd);
  ::close(fd);
  auto p201 = all.find("HTTP/1.1 201");
  auto p200 = all.find("HTTP/1.1 200 OK");
  auto pecho = all.find("\"body\":\"hello\"");
  auto p202 = all.find("HTTP/1.1 202");
  ASSERT_NE(p201, std::string::npos) << all;
  ASSERT_NE(p200, std::string::npos) << all;
  ASSERT_NE(pecho, std::string::npos) << all;
  ASSERT_NE(p202, std::string::npos) << all;
  EXPECT_LT(p201, p200);
  EXPECT_LT(p200, pecho);
  EXPECT_LT(pecho, p202);
  EXPECT_NE(all.find("Connection: close"), std::string::npos);
}

TEST_F(ServerTest, TrickledRequestAndChunkedBody) {
  int fd = connect_to(server_->port());
  ASSERT_GE(fd, 0);
  std::string req =
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
  for (char ch : req) {
    send_all(fd, std::string_view(&ch, 1));
    if (ch == '\n') std::this_thread::sleep_for(1ms);
  }
  std::string got = read_until(fd, "}");
  ::close(fd);
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
  EXPECT_NE(got.find("\"body\":\"hello, world\""), std::string::npos) << got;
}

TEST_F(ServerTest, ExpectContinue) {
  int fd = connect_to(server_->port());
  ASSERT_GE(fd, 0);
  send_all(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  std::string first = read_until(fd, "\r\n\r\n");
  EXPECT_EQ(first.rfind("HTTP/1.1 100 Continue", 0), 0u) << first;
  send_all(fd, "abc");
  std::string rest = read_until(fd, "}");
  ::close(fd);
  EXPECT_NE((first + rest).find("\"body\":\"abc\""), std::string::npos) << first + rest;
}

TEST_F(ServerTest, MalformedRequestGets400AndClose) {
  int fd = connect_to(server_->port());
  ASSERT_GE(fd, 0);
  send_all(fd, "this is not http\r\n\r\n");
  std::string got = read_all(fd);  // server closes
  ::close(fd);
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
}

TEST_F(ServerTest, Http10ClosesByDefault) {
  int fd = connect_to(server_->port());
  ASSERT_GE(fd, 0);
  send_all(fd, "GET / HTTP/1.0\r\n\r\n");
  std::string got = read_all(fd);
  ::close(fd);
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK", 0), 0u) << got;
  EXPECT_NE(got.find("\r\n\r\nok"), std::string::npos);
}

TEST_F(ServerTest, ManyConcurrentClients) {
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&] {
      CURL* h = curl_easy_init();
      for (int i = 0; i < 50; ++i)
        if (fetch(base_ + "/", "GET", "", {}, h).status == 200) ++ok;
      curl_easy_cleanup(h);
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 400);
  EXPECT_GE(server_->requests_served(), 400u);
}

TEST(ServerOptionsTest, RefusesNonLoopbackHosts) {
  for (const char* host : {"0.0.0.0", "10.1.2.3", "192.168.0.1", "8.8.8.8", "::", "example.com"}) {
    ServerOptions o;
    o.host = host;
    try {
      Server s(o);
      ADD_FAILURE() << "accepted " << host;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("loopback"), std::string::npos) << e.what();
    }
  }
}

TEST(ServerOptionsTest, OtherLoopbackForms) {
  ServerOptions o;
  o.host = "localhost";
  Server s(o);
  s.start();
  EXPECT_EQ(fetch(s.base_url() + "/").status, 200);
  ServerOptions o6;
  o6.host = "::1";
  try {
    Server s6(o6);
    s6.start();
    EXPECT_EQ(s6.base_url(), "http://[::1]:" + std::to_string(s6.port()));
    EXPECT_EQ(fetch(s6.base_url() + "/").status, 200);
  } catch (const std::runtime_error& e) {
    GTEST_SKIP() << "no IPv6 loopback: " << e.what();
  }
}

TEST(ServerOptionsTest, MultipleThreadsShareThePort) {
  ServerOptions o;
  o.threads = 3;
  Server s(o);
  s.start();
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < 6; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 20; ++i)
        if (fetch(s.base_url() + "/").status == 200) ++ok;  // a new connection each time
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 120);
  EXPECT_EQ(s.requests_served(), 120u);
  s.stop();
  s.stop();  // idempotent
}

TEST(TargetMain, HelpAndBadArguments) {
  const char* help[] = {"herd", "target", "--help"};
  EXPECT_EQ(herd::target::target_main(3, const_cast<char**>(help)), 0);
  const char* bad[] = {"herd", "target", "--bogus"};
  EXPECT_EQ(herd::target::target_main(3, const_cast<char**>(bad)), 2);
  const char* bad_listen[] = {"herd", "target", "--listen", "10.0.0.1:80"};
  EXPECT_EQ(herd::target::target_main(4, const_cast<char**>(bad_listen)), 1);
}

TEST(TargetMain, RunsUntilSigterm) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  fflush(stdout);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(out[1], 1);
    ::close(out[0]);
    const char* argv[] = {"herd", "target", "--listen", "127.0.0.1:0", "--threads", "1"};
    _exit(herd::target::target_main(6, const_cast<char**>(argv)));
  }
  ::close(out[1]);
  std::string line;
  char ch;
  while (line.find('\n') == std::string::npos && ::read(out[0], &ch, 1) == 1) line.push_back(ch);
  ::close(out[0]);
  ASSERT_EQ(line.rfind("listening on http://127.0.0.1:", 0), 0u) << line;
  std::string url = line.substr(std::strlen("listening on "));
  url.pop_back();
  EXPECT_EQ(fetch(url + "/").body, "ok");
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}
