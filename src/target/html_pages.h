#pragma once
// The target's HTML routes, for k6/html flows (forms with a CSRF token,
// session cookies, links). Stateless: the CSRF token is a double-submit
// cookie and the session cookie names the user.
//
//   GET  /login          login form: hidden csrf field (also set as the `csrf` cookie),
//                        username, password, a submit button named "action"
//   POST /login          403 if the csrf field does not match the cookie; 401 (the form
//                        again) on bad credentials (user "herd", password "s3cret");
//                        else sets `session=herd` and 303 to /account
//   GET  /account        200 page with the user's name and links if the session cookie is set, else 401
//   GET  /links          a page of links: absolute (/links/1), relative (links/2), and a query (?page=3)
//   GET  /links/{n}      a page saying "link n", with a relative link back to ../links

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace herd::target {

/// What an HTML route answers.
struct PageReply {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
  std::string extra_headers;  ///< complete "Name: value\r\n" lines
};

/// The request fields the HTML routes read.
struct PageRequest {
  std::string_view method;
  std::string_view path;
  std::string_view query;
  std::string_view body;                       ///< application/x-www-form-urlencoded for POST /login
  std::map<std::string, std::string> cookies;  ///< from the Cookie headers
};

/// Answers the HTML routes above; nullopt for any other path.
std::optional<PageReply> html_route(const PageRequest& r);

}  // namespace herd::target
