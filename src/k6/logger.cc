#include "k6/logger.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace herd::k6 {

namespace {

// JSON and logfmt share these escapes for quotes, backslashes and control characters.
void append_escaped(std::string& out, const std::string& s) {
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
}

}  // namespace

Logger::~Logger() = default;

std::string check_log_output(const std::string& spec) {
  if (spec.empty() || spec == "stderr" || spec == "stdout" || spec == "none") return "";
  if (spec.rfind("file=", 0) == 0) {
    if (spec.size() == 5) return "file= needs a path, e.g. file=./k6.log";
    return "";
  }
  std::string kind = spec.substr(0, spec.find('='));
  return "log output \"" + kind + "\" is not supported by herd (use stderr, stdout, none or file=PATH)";
}

bool parse_log_format(const std::string& name, Logger::Format* out) {
  if (name.empty() || name == "text") {
    *out = Logger::Format::kText;
  } else if (name == "json") {
    *out = Logger::Format::kJson;
  } else if (name == "raw") {
    *out = Logger::Format::kRaw;
  } else {
    return false;
  }
  return true;
}

std::string Logger::set_output(const std::string& spec) {
  std::string bad = check_log_output(spec);
  if (!bad.empty()) return "--log-output " + spec + ": " + bad;
  std::lock_guard<std::mutex> g(mu_);
  out_file_.reset();
  if (spec.empty() || spec == "stderr") {
    out_ = stderr;
  } else if (spec == "stdout") {
    out_ = stdout;
  } else if (spec == "none") {
    out_ = nullptr;
  } else {
    std::string path = spec.substr(5);
    std::FILE* f = std::fopen(path.c_str(), "a");
    if (!f) return "--log-output " + spec + ": cannot open \"" + path + "\": " + std::strerror(errno);
    out_file_.reset(f);
    out_ = f;
  }
  return "";
}

void Logger::set_format(Format f) {
  std::lock_guard<std::mutex> g(mu_);
  format_ = f;
}

std::string Logger::set_console_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (!f) return "--console-output: cannot open \"" + path + "\": " + std::strerror(errno);
  std::lock_guard<std::mutex> g(mu_);
  console_file_.reset(f);
  return "";
}

void Logger::add_secret(const std::string& value) {
  if (value.empty()) return;
  std::lock_guard<std::mutex> g(mu_);
  if (std::find(secrets_.begin(), secrets_.end(), value) != secrets_.end()) return;
  secrets_.push_back(value);
  // Longest first: a secret that contains another is replaced whole.
  std::stable_sort(secrets_.begin(), secrets_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

void Logger::log(Level level, const std::string& msg, const std::string& source) {
  if (level == Level::kDebug && !verbose_) return;
  static const char* kNames[] = {"debug", "info", "warning", "error"};
  std::lock_guard<std::mutex> g(mu_);
  std::FILE* f = console_file_ && source == "console" ? console_file_.get() : out_;
  if (!f) return;
  std::string redacted;
  if (!secrets_.empty()) {
    redacted = msg;
    for (const std::string& s : secrets_)
      for (auto at = redacted.find(s); at != std::string::npos; at = redacted.find(s, at + 21))
        redacted.replace(at, s.size(), "***SECRET_REDACTED***");
  }
  const std::string& text = secrets_.empty() ? msg : redacted;
  std::string line;
  line.reserve(text.size() + 96);
  if (format_ == Format::kRaw) {
    line = text;
  } else {
    std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[32];
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char* lvl = kNames[static_cast<int>(level)];
    if (format_ == Format::kJson) {
      line = std::string("{\"level\":\"") + lvl + "\",\"msg\":\"";
      append_escaped(line, text);
      line += "\",\"source\":\"";
      append_escaped(line, source);
      line += std::string("\",\"time\":\"") + ts + "\"}";
    } else {
      line = std::string("time=\"") + ts + "\" level=" + lvl + " msg=\"";
      append_escaped(line, text);
      line += "\" source=" + source;
    }
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), f);
  std::fflush(f);
}

}  // namespace herd::k6
