#include "kube/test_server.h"
#include "util/http_status.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace herd::kube::testing {
namespace {

using nlohmann::json;

std::string decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string status_text(int status) {
  std::string_view r = util::http_reason_phrase(status);
  return std::string(r.empty() ? "Status" : r);
}

}  // namespace

TestServer::TestServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("test server: cannot listen");
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TestServer::~TestServer() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  {
    std::lock_guard lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_) t.join();
  ::close(listen_fd_);
}

bool TestServer::pause(int ms) const {
  for (int i = 0; i < ms && !stopping_; i += 5) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return !stopping_;
}

void TestServer::accept_loop() {
  while (!stopping_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mu_);
    open_fds_.push_back(fd);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void TestServer::serve(int fd) {
  serve_one(fd);
  std::lock_guard lock(mu_);
  std::erase(open_fds_, fd);
  ::close(fd);
}

void TestServer::serve_one(int fd) {
  std::string in;
  char buf[16384];
  std::size_t header_end;
  while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    in.append(buf, static_cast<std::size_t>(n));
  }
  HttpRequest req;
  std::string head = in.substr(0, header_end);
  std::size_t line_end = head.find("\r\n");
  std::string first = head.substr(0, line_end);
  std::size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
  req.method = first.substr(0, sp1);
  req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
  std::size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) {
    std::string_view query = std::string_view(req.target).substr(q + 1);
    while (!query.empty()) {
      std::size_t amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      std::size_t eq = pair.find('=');
      req.query[decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    }
  }
  for (std::size_t pos = line_end; pos < head.size();) {
    std::size_t next = head.find("\r\n", pos + 2);
    std::string line = head.substr(pos + 2, (next == std::string::npos ? head.size() : next) - pos - 2);
    pos = next == std::string::npos ? head.size() : next;
    std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::size_t v = line.find_first_not_of(' ', colon + 1);
    req.headers[name] = v == std::string::npos ? "" : line.substr(v);
  }
  std::size_t length = req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
  req.body = in.substr(header_end + 4);
  while (req.body.size() < length) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    req.body.append(buf, static_cast<std::size_t>(n));
  }
  ++requests_;
  HttpReply reply = handler_(req);
  if (reply.delay_ms > 0 && !pause(reply.delay_ms)) return;
  std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + status_text(reply.status) +
                    "\r\nContent-Type: " + reply.content_type + "\r\nConnection: close\r\n";
  if (reply.stream) {
    if (!send_all(fd, out + "Transfer-Encoding: chunked\r\n\r\n")) return;
    reply.stream([&](std::string_view chunk) {
      if (stopping_) return false;
      if (chunk.empty()) return true;
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
      return send_all(fd, size) && send_all(fd, chunk) && send_all(fd, "\r\n");
    });
    send_all(fd, "0\r\n\r\n");
  } else {
    send_all(fd, out + "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n" + reply.body);
  }
  ::shutdown(fd, SHUT_WR);
  while (::recv(fd, buf, sizeof buf, 0) > 0) {
  }
}

// ---------------------------------------------------------------------------

HttpReply FakeObjects::status(int code, const std::string& reason, const std::string& message) {
  json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
            {"code", code},     {"reason", reason},   {"message", message}};
  return HttpReply{code, s.dump()};
}

HttpReply FakeObjects::handle(const HttpRequest& req) {
  std::lock_guard lock(mu_);
  json body = req.body.empty() ? json() : json::parse(req.body, nullptr, false);
  auto stamp = [&](json& o) { o["metadata"]["resourceVersion"] = std::to_string(++version_); };
  auto it = objects_.find(req.path);
  if (req.method == "GET") {
    if (it != objects_.end()) return HttpReply{200, it->second.dump()};
    json items = json::array();
    for (const auto& [path, object] : objects_) {
      if (path.rfind(req.path + "/", 0) == 0 && path.find('/', req.path.size() + 1) == std::string::npos) {
        items.push_back(object);
      }
    }
    if (items.empty()) return status(404, "NotFound", req.path + " not found");
    return HttpReply{
        200,
        json{{"kind", "List"}, {"items", items}, {"metadata", {{"resourceVersion", std::to_string(version_)}}}}.dump()};
  }
  if (req.method == "POST") {
    std::string path = req.path + "/" + body["metadata"].value("name", "");
    if (objects_.count(path)) return status(409, "AlreadyExists", path + " already exists");
    stamp(body);
    objects_[path] = body;
    return HttpReply{201, body.dump()};
  }
  if (it == objects_.end()) return status(404, "NotFound", req.path + " not found");
  if (req.method == "PUT") {
    std::string rv = body["metadata"].value("resourceVersion", "");
    if (!rv.empty() && rv != it->second["metadata"].value("resourceVersion", "")) {
      return status(409, "Conflict", "the object has been modified");
    }
    stamp(body);
    it->second = body;
    return HttpReply{200, body.dump()};
  }
  if (req.method == "PATCH") {
    it->second.merge_patch(body);
    stamp(it->second);
    return HttpReply{200, it->second.dump()};
  }
  if (req.method == "DELETE") {
    json gone = it->second;
    objects_.erase(it);
    return HttpReply{200, gone.dump()};
  }
  return status(405, "MethodNotAllowed", req.method);
}

json FakeObjects::get(const std::string& path) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(path);
  return it == objects_.end() ? json() : it->second;
}

std::size_t FakeObjects::size() const {
  std::lock_guard lock(mu_);
  return objects_.size();
}

std::size_t FakeObjects::count_under(const std::string& collection) const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [path, object] : objects_) n += path.rfind(collection + "/", 0) == 0;
  return n;
}

int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace herd::kube::testing
