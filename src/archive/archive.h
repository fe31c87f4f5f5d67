#pragma once
// herd archives: a test script and everything it needs (local modules,
// open()ed files, options, environment) in one tar file, so that
// `herd run test.tar` runs the same test anywhere. The layout is described in
// src/archive/FORMAT.md: `metadata.json` first, then every file under
// `files/rel/<path>` (relative paths) or `files/abs/<path>` (absolute paths).

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace herd::archive {

/// A malformed or unsafe archive, or one that cannot be read or written. The
/// message names the archive and, where there is one, the offending entry.
class ArchiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The format version written into metadata.json ("format"); readers reject newer ones.
inline constexpr int kFormatVersion = 1;
/// Limits enforced by the reader (and by the writer, so it never produces an
/// archive that cannot be read back).
inline constexpr std::uint64_t kMaxTotalBytes = 512ull * 1024 * 1024;  ///< sum of all entry sizes
inline constexpr std::size_t kMaxEntries = 100'000;                    ///< tar entries, directories included
inline constexpr std::size_t kMaxPathBytes = 4096;                     ///< one file path

struct Archive {
  std::string main;                          ///< normalised path of the entry script (a key of `files`)
  nlohmann::json options;                    ///< the script's resolved options (a JSON object; null is written as {})
  std::map<std::string, std::string> env;    ///< environment variables given to the script (__ENV)
  std::map<std::string, std::string> files;  ///< normalised path -> contents (binary-safe), main included
  std::string herd_version;                  ///< version of herd that wrote the archive
};

/// Writes `a` as a POSIX (pax) tar to `out_path`, atomically: a temporary file
/// next to it is renamed into place. Throws ArchiveError for invalid contents
/// (see check rules in FORMAT.md) or I/O failures; then `out_path` is untouched.
void write_archive(const std::string& out_path, const Archive& a);

/// The same archive as bytes (for `-O -` and tests). Same validation.
std::string write_archive_memory(const Archive& a);

/// Reads and strictly validates an archive file. Throws ArchiveError.
Archive read_archive(const std::string& path);

/// Reads and strictly validates an archive held in memory. Throws ArchiveError
/// only (never crashes on arbitrary bytes: fuzzed by fuzz/archive_fuzz.cc).
Archive read_archive_memory(const std::string& bytes);

/// True if the file starts with a tar header (ustar magic and a valid header
/// checksum), whatever its extension. False for unreadable or short files.
bool looks_like_archive(const std::string& path);

/// The same test on bytes already read (e.g. from stdin).
bool looks_like_archive_bytes(std::string_view head);

/// Maps a file path to its tar entry name and back (see FORMAT.md):
/// "lib/a.js" <-> "files/rel/lib/a.js", "/tmp/x.js" <-> "files/abs/tmp/x.js".
/// entry_name_for throws ArchiveError if `path` is not a valid normalised path;
/// path_for_entry returns "" if `entry` is not a valid file entry name.
std::string entry_name_for(const std::string& path);
std::string path_for_entry(const std::string& entry);

/// Lexically normalises `p` the way the script loader does (js::normalize_path)
/// and checks it can be stored: non-empty, no "..", not a directory, no NUL,
/// at most kMaxPathBytes. Returns the normalised path or throws ArchiveError.
std::string normalize_archive_path(const std::string& p);

}  // namespace herd::archive
