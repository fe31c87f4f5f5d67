#include "k6/secrets.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace herd::k6 {

namespace {

std::vector<std::string> split_commas(const std::string& v) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto c = v.find(',', start);
    out.push_back(v.substr(start, c == std::string::npos ? std::string::npos : c - start));
    if (c == std::string::npos) return out;
    start = c + 1;
  }
}

std::map<std::string, std::string> read_secret_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw SecretError("secret source file " + path + ": cannot read it: " + std::strerror(errno));
  std::map<std::string, std::string> out;
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0)
      throw SecretError("secret source file " + path + ":" + std::to_string(n) + ": expected key=value");
    out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

/// One source: its name (maybe ""), whether it is the default, and its secrets.
struct Parsed {
  std::string name;
  bool is_default = false;
  std::map<std::string, std::string> secrets;
};

Parsed parse_file(const std::string& config) {
  Parsed p;
  if (config.find("filename=") == std::string::npos) {
    if (config.empty()) throw SecretError("--secret-source file=: expected file=PATH");
    p.secrets = read_secret_file(config);
    return p;
  }
  std::string filename;
  for (const std::string& item : split_commas(config)) {
    auto eq = item.find('=');
    std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (item == "default")
      p.is_default = true;
    else if (key == "name" && eq != std::string::npos)
      p.name = value;
    else if (key == "filename" && eq != std::string::npos)
      filename = value;
    else
      throw SecretError("--secret-source file=" + config + ": unknown setting \"" + item +
                        "\" (expected filename=PATH, name=NAME, default)");
  }
  if (filename.empty()) throw SecretError("--secret-source file=" + config + ": filename= is empty");
  p.secrets = read_secret_file(filename);
  return p;
}

Parsed parse_mock(const std::string& config) {
  Parsed p;
  for (const std::string& item : split_commas(config)) {
    auto eq = item.find('=');
    if (item == "default") {
      p.is_default = true;
    } else if (eq == std::string::npos || eq == 0) {
      throw SecretError("--secret-source mock=" + config + ": expected KEY=VALUE, name=NAME or default, got \"" + item +
                        "\"");
    } else if (item.compare(0, eq, "name") == 0) {
      p.name = item.substr(eq + 1);
    } else {
      p.secrets[item.substr(0, eq)] = item.substr(eq + 1);
    }
  }
  return p;
}

}  // namespace

SecretSources SecretSources::from_flags(const std::vector<std::string>& specs) {
  SecretSources out;
  bool marked = false;
  for (const std::string& spec : specs) {
    auto eq = spec.find('=');
    std::string type = spec.substr(0, eq), config = eq == std::string::npos ? "" : spec.substr(eq + 1);
    Parsed p;
    if (type == "file") {
      p = parse_file(config);
    } else if (type == "mock") {
      p = parse_mock(config);
    } else if (type == "url") {
      throw SecretError("--secret-source url=...: the url secret source is not supported by herd (use file= or mock=)");
    } else {
      throw SecretError("--secret-source " + spec + ": unknown secret source type \"" + type +
                        "\" (herd supports file and mock)");
    }
    if (out.sources_.count(p.name))
      throw SecretError("--secret-source " + spec + ": two secret sources are named \"" + p.name +
                        "\" (give each one name=NAME)");
    if (p.is_default) {
      if (marked) throw SecretError("--secret-source " + spec + ": only one secret source can be the default");
      marked = true;
      out.default_ = p.name;
    }
    out.sources_[p.name] = std::move(p.secrets);
  }
  if (marked) {
    out.has_default_ = true;
  } else if (out.sources_.size() == 1) {
    out.has_default_ = true;
    out.default_ = out.sources_.begin()->first;
  }
  return out;
}

const std::string& SecretSources::lookup(const std::string& source, const std::string& key) const {
  const auto& secrets = sources_.at(source);
  auto it = secrets.find(key);
  if (it == secrets.end())
    throw SecretError("no secret \"" + key + "\" in the " +
                      (source.empty() ? std::string("secret source") : "secret source \"" + source + "\""));
  return it->second;
}

const std::string& SecretSources::get(const std::string& key) const {
  if (!has_default_)
    throw SecretError(sources_.empty() ? "no secret source is configured (use --secret-source)"
                                       : "several secret sources and none is the default: mark one with "
                                         "default, or use secrets.source(name)");
  return lookup(default_, key);
}

const std::string& SecretSources::get_from(const std::string& source, const std::string& key) const {
  if (!sources_.count(source)) throw SecretError("no secret source named \"" + source + "\"");
  return lookup(source, key);
}

}  // namespace herd::k6
