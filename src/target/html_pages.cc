#include "target/html_pages.h"

#include <cstdio>
#include <random>
#include <utility>
#include <vector>

#include "target/form_urlencoded.h"

namespace herd::target {

namespace {

constexpr const char* kUser = "herd";
constexpr const char* kPassword = "s3cret";

std::map<std::string, std::string> form_values(std::string_view body) {
  std::map<std::string, std::string> out;
  for (auto& [k, v] : parse_query(body)) out[k] = std::move(v);
  return out;
}

std::string new_token() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char b[40];
  std::snprintf(b, sizeof b, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return b;
}

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

std::string page(std::string_view title, std::string_view content) {
  return "<!DOCTYPE html>\n<html><head><title>" + std::string(title) + "</title></head>\n<body>\n" +
         std::string(content) + "</body></html>\n";
}

PageReply login_form(int status, std::string_view message) {
  PageReply r;
  r.status = status;
  std::string token = new_token();
  r.extra_headers = "Set-Cookie: csrf=" + token + "; Path=/; HttpOnly\r\n";
  std::string content;
  if (!message.empty()) content += "<p class=\"error\">" + escape(message) + "</p>\n";
  content +=
      "<form id=\"login\" method=\"post\" action=\"/login\">\n"
      "  <input type=\"hidden\" name=\"csrf\" value=\"" +
      token +
      "\">\n"
      "  <label>User <input type=\"text\" name=\"username\"></label>\n"
      "  <label>Password <input type=\"password\" name=\"password\"></label>\n"
      "  <label><input type=\"checkbox\" name=\"remember\" value=\"yes\"> remember me</label>\n"
      "  <button type=\"submit\" name=\"action\" value=\"login\">Log in</button>\n"
      "</form>\n";
  r.body = page("Log in", content);
  return r;
}

PageReply simple(int status, std::string_view title, std::string_view content) {
  PageReply r;
  r.status = status;
  r.body = page(title, content);
  return r;
}

PageReply post_login(const PageRequest& req) {
  auto form = form_values(req.body);
  auto cookie = req.cookies.find("csrf");
  if (cookie == req.cookies.end() || cookie->second.empty() || form["csrf"] != cookie->second)
    return simple(403, "Forbidden", "<p class=\"error\">bad csrf token</p>\n");
  if (form["username"] != kUser || form["password"] != kPassword) return login_form(401, "wrong user or password");
  PageReply r;
  r.status = 303;
  r.extra_headers = "Set-Cookie: session=" + std::string(kUser) + "; Path=/; HttpOnly\r\nLocation: /account\r\n";
  r.body = page("Logged in", "<a href=\"/account\">continue</a>\n");
  return r;
}

PageReply account(const PageRequest& req) {
  auto s = req.cookies.find("session");
  if (s == req.cookies.end() || s->second != kUser)
    return simple(401, "Not logged in", "<p class=\"error\">not logged in</p>\n<a href=\"/login\">log in</a>\n");
  return simple(200, "Account",
                "<h1 id=\"welcome\">Welcome, " + escape(s->second) +
                    "</h1>\n<ul id=\"nav\">\n  <li><a href=\"/links\">links</a></li>\n"
                    "  <li><a class=\"logout\" href=\"/login\">log out</a></li>\n</ul>\n");
}

PageReply links() {
  return simple(200, "Links",
                "<ul>\n  <li><a id=\"abs\" href=\"/links/1\">one</a></li>\n"
                "  <li><a id=\"rel\" href=\"links/2\">two</a></li>\n"
                "  <li><a id=\"query\" href=\"/echo?page=3\">three</a></li>\n"
                "  <li><a id=\"none\">no href</a></li>\n</ul>\n");
}

}  // namespace

std::optional<PageReply> html_route(const PageRequest& r) {
  if (r.path == "/login") return r.method == "POST" ? post_login(r) : login_form(200, "");
  if (r.path == "/account") return account(r);
  if (r.path == "/links") return links();
  if (r.path.rfind("/links/", 0) == 0) {
    std::string_view n = r.path.substr(7);
    if (n.empty() || n.size() > 6 || n.find_first_not_of("0123456789") != std::string_view::npos)
      return simple(404, "Not found", "<p>no such link</p>\n");
    std::string num(n);
    return simple(200, "Link " + num, "<h1>link " + num + "</h1>\n<a id=\"back\" href=\"../links\">back</a>\n");
  }
  return std::nullopt;
}

}  // namespace herd::target
