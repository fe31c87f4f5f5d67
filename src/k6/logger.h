#pragma once
// The run's log: console.* output and engine messages, k6's --log-output
// destinations and --log-format layouts.

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace herd::k6 {

/// Log sink for console.* and engine messages. Thread-safe.
class Logger {
 public:
  enum class Level { kDebug, kInfo, kWarn, kError };
  /// Line layouts: "text" (logfmt: time="..." level=info msg="..." source=console),
  /// "json" ({"level","msg","source","time"}), "raw" (the message alone).
  enum class Format { kText, kJson, kRaw };

  explicit Logger(bool verbose = false) : verbose_(verbose) {}
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void log(Level level, const std::string& msg, const std::string& source = "console");
  /// Redirect console output to a file (--console-output). Returns "" or the error.
  std::string set_console_file(const std::string& path);
  /// --log-output: "stderr" (default), "stdout", "none" or "file=PATH"
  /// (appended to). Returns "" or an error naming the value.
  std::string set_output(const std::string& spec);
  void set_format(Format f);
  /// From now on every occurrence of `value` in a message is written as
  /// ***SECRET_REDACTED*** (k6/secrets values). Empty values are ignored.
  void add_secret(const std::string& value);
  bool verbose() const { return verbose_; }

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::mutex mu_;
  bool verbose_;
  Format format_ = Format::kText;
  std::FILE* out_ = stderr;  ///< null = --log-output=none
  std::unique_ptr<std::FILE, FileCloser> out_file_;
  std::unique_ptr<std::FILE, FileCloser> console_file_;
  std::vector<std::string> secrets_;  ///< values to redact, longest first
};

/// Checks a --log-output value without opening anything: "" when herd supports
/// it, otherwise the reason (k6's loki= and other remote sinks are refused).
std::string check_log_output(const std::string& spec);

/// Parses a --log-format value ("text", "json", "raw"; "" = text). nullopt-like:
/// returns false for anything else.
bool parse_log_format(const std::string& name, Logger::Format* out);

}  // namespace herd::k6
