#include "k6/http_debug.h"

#include "k6/vu_state.h"

namespace herd::k6 {

namespace {

// Host (with port, as given) and path-with-query of an absolute URL.
void split_target(const std::string& url, std::string* host, std::string* path) {
  auto scheme = url.find("://");
  std::size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  auto slash = url.find_first_of("/?#", start);
  *host = url.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
  if (auto at = host->rfind('@'); at != std::string::npos) host->erase(0, at + 1);  // no credentials in the log
  *path = slash == std::string::npos ? "/" : url.substr(slash);
  if (auto hash = path->find('#'); hash != std::string::npos) path->erase(hash);
  if (path->empty() || (*path)[0] == '?') path->insert(0, "/");
}

}  // namespace

std::string dump_request(const http::Request& req, bool with_body) {
  std::string host, path;
  split_target(req.url, &host, &path);
  std::string out = req.method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\n";
  for (const auto& [k, v] : req.headers) out += k + ": " + v + "\r\n";
  if (!req.body.empty()) out += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  out += "\r\n";
  if (with_body) out += req.body;
  return out;
}

std::string dump_response(const http::Response& res, bool with_body) {
  if (res.status == 0) return "(no response: " + res.error + ")";
  std::string out = (res.proto.empty() ? std::string("HTTP/1.1") : res.proto) + " " +
                    (res.status_text.empty() ? std::to_string(res.status) : res.status_text) + "\r\n";
  for (const auto& [k, v] : res.headers) out += k + ": " + v + "\r\n";
  out += "\r\n";
  if (with_body) out += res.body;
  return out;
}

void debug_request(VuState& vu, const http::Request& req) {
  const std::string& mode = vu.run->http.debug;
  if (mode.empty()) return;
  vu.run->logger->log(Logger::Level::kInfo, "Request:\n" + dump_request(req, mode == "full"), "http-debug");
}

void debug_response(VuState& vu, const http::Response& res) {
  const std::string& mode = vu.run->http.debug;
  if (mode.empty()) return;
  vu.run->logger->log(Logger::Level::kInfo, "Response:\n" + dump_response(res, mode == "full"), "http-debug");
}

}  // namespace herd::k6
