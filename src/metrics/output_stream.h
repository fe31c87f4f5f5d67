#pragma once
// Where a sample output (--out json=..., --out csv=...) writes its bytes: a
// file, a gzip-compressed file (a name ending in ".gz", as k6 does) or
// standard output ("-").

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace herd::metrics {

/// A byte sink for one output. Not thread-safe: its owner serialises writes.
/// Move-only; closing (flushing gzip's trailer) happens in the destructor.
class OutputStream {
 public:
  /// Opens `dest`: "-" is stdout, "*.gz" is written through zlib, anything
  /// else a plain file (truncated). Throws std::runtime_error naming the path.
  explicit OutputStream(const std::string& dest);
  ~OutputStream();
  OutputStream(OutputStream&&) noexcept;
  OutputStream& operator=(OutputStream&&) noexcept;
  OutputStream(const OutputStream&) = delete;
  OutputStream& operator=(const OutputStream&) = delete;

  /// Writes everything; throws std::runtime_error when the destination fails.
  void write(std::string_view data);
  /// Pushes buffered bytes to the destination (for gzip: a sync flush, so
  /// the file is readable so far). Throws std::runtime_error when that fails
  /// (a full disk shows here: writes are buffered).
  void flush();
  /// Writes what is buffered and closes the destination (gzip's trailer
  /// included); later writes are refused. Throws std::runtime_error on failure.
  void close();
  bool gzip() const { return gz_ != nullptr; }

 private:
  struct GzCloser {
    void operator()(void* gz) const;
  };
  struct FileCloser {
    void operator()(std::FILE* f) const;
  };
  std::string dest_;
  std::unique_ptr<void, GzCloser> gz_;           ///< gzFile, when the name ends in .gz
  std::unique_ptr<std::FILE, FileCloser> file_;  ///< a plain file (never stdout)
  bool stdout_ = false;
};

/// Why a file could not be written at `path` now ("" = it can): it is a
/// directory, its folder is missing, permissions, a read-only file system.
/// Leaves the file system as it found it (a file it creates to try is removed;
/// an existing file is opened without truncation). For outputs written only
/// after the test (--summary-export, --result-file), checked before it starts.
std::string unwritable_reason(const std::string& path);

}  // namespace herd::metrics
