#include "dashboard/report.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "dashboard/assets.h"

namespace herd::dashboard {

namespace {

std::string body_of(std::string_view path) {
  const Asset* a = find_asset(path);
  if (!a) throw std::logic_error("dashboard asset missing: " + std::string(path));
  return std::string(a->body);
}

/// A file's text, checked safe to inline in <script> or <style>: nothing in it
/// can end the element or open an HTML comment there.
std::string inline_file(std::string_view path) {
  std::string s = body_of(path);
  std::string lower = s;
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (const char* bad : {"</script", "</style", "<!--"})
    if (lower.find(bad) != std::string::npos)
      throw std::logic_error("dashboard asset " + std::string(path) + " cannot be inlined: it contains " + bad);
  return s;
}

/// JSON (or JS literals of it) safe in <script>: '<' only occurs inside strings
/// there, where \u003c reads the same.
std::string inline_json(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c == '<')
      out += "\\u003c";
    else
      out += c;
  return out;
}

void replace_once(std::string& page, const std::string& what, const std::string& with) {
  std::size_t at = page.find(what);
  if (at == std::string::npos) throw std::logic_error("dashboard page lacks " + what);
  page.replace(at, what.size(), with);
}

}  // namespace

std::string render_report(const std::vector<std::string>& updates) {
  std::string page = body_of("/");
  std::string data = "window.herdReport = [";
  for (std::size_t i = 0; i < updates.size(); ++i) data += (i ? ",\n" : "\n") + updates[i];
  data += "];\n";
  replace_once(page, "<link rel=\"stylesheet\" href=\"dygraph.css\">",
               "<style>" + inline_file("/dygraph.css") + "</style>");
  replace_once(page, "<link rel=\"stylesheet\" href=\"dashboard.css\">",
               "<style>" + inline_file("/dashboard.css") + "</style>");
  replace_once(page, "<script src=\"dygraph.min.js\"></script>",
               "<script>" + inline_file("/dygraph.min.js") + "</script>");
  replace_once(page, "<script src=\"dashboard.js\"></script>",
               "<script>" + inline_json(data) + "</script>\n<script>" + inline_file("/dashboard.js") + "</script>");
  replace_once(page, "<title>herd: live dashboard</title>", "<title>herd: test report</title>");
  return page;
}

std::string write_report(const std::string& path, const std::vector<std::string>& updates) {
  std::string html;
  try {
    html = render_report(updates);
  } catch (const std::exception& e) {
    return e.what();
  }
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return "cannot write " + tmp + ": " + std::strerror(errno);
    f << html;
    f.close();
    if (!f) return "cannot write " + tmp + ": " + std::strerror(errno);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return "cannot write " + path + ": " + why;
  }
  return "";
}

}  // namespace herd::dashboard
