#include "archive/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace herd::archive {

namespace {

using nlohmann::json;

constexpr const char* kMetadataName = "metadata.json";
constexpr std::string_view kFilesDir = "files";
constexpr std::string_view kRelPrefix = "files/rel/";
constexpr std::string_view kAbsPrefix = "files/abs/";
/// Deeper JSON in metadata.json is rejected (serialising it again recurses).
constexpr int kMaxJsonDepth = 256;

std::string quote(std::string_view s) {
  // Entry names come from untrusted input: keep messages on one printable line.
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
    if (out.size() > 300) {
      out += "...";
      break;
    }
  }
  return out + "\"";
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = s.find('/', start);
    parts.push_back(s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

/// Why `p` is not a canonical archive path ("" if it is): optional leading
/// '/', then non-empty components other than "." and "..", single slashes.
std::string path_problem(std::string_view p) {
  if (p.empty()) return "empty path";
  if (p.size() > kMaxPathBytes) return "path longer than " + std::to_string(kMaxPathBytes) + " bytes";
  if (p.find('\0') != std::string_view::npos) return "NUL byte in path";
  std::string_view rel = p;
  if (rel.front() == '/') rel.remove_prefix(1);
  if (rel.empty()) return "path names a directory";
  for (std::string_view c : split(rel)) {
    if (c == "..") return "\"..\" is not allowed in archive paths (path traversal)";
    if (c.empty() || c == ".") return "path is not normalised";
  }
  return "";
}

// ---------------------------------------------------------------- writing

/// True if `j` is nested deeper than `limit` levels (stops looking there).
bool deeper_than(const json& j, int limit) {
  if (!j.is_structured()) return false;
  if (limit == 0) return true;
  for (const auto& v : j) {
    if (deeper_than(v, limit - 1)) return true;
  }
  return false;
}

/// Validates `in` and returns the normalised files and main.
struct Prepared {
  std::string main;
  std::map<std::string, const std::string*> files;  // normalised path -> contents
  std::string metadata;
};

Prepared prepare(const Archive& in) {
  Prepared p;
  std::uint64_t total = 0;
  json list = json::array();
  for (const auto& [path, contents] : in.files) {
    std::string n = normalize_archive_path(path);
    if (!p.files.emplace(n, &contents).second)
      throw ArchiveError("file " + quote(path) + ": another file has the same normalised path " + quote(n));
    total += contents.size();
  }
  if (in.main.empty()) throw ArchiveError("no main script given");
  p.main = normalize_archive_path(in.main);
  if (!p.files.count(p.main)) throw ArchiveError("main script " + quote(p.main) + " is not among the archive's files");
  if (!in.options.is_null() && !in.options.is_object()) throw ArchiveError("options must be a JSON object");
  if (deeper_than(in.options, kMaxJsonDepth - 2))  // metadata.json adds a level above options
    throw ArchiveError("options are nested deeper than " + std::to_string(kMaxJsonDepth - 2) + " levels");
  if (p.files.size() + 1 > kMaxEntries)
    throw ArchiveError("too many files (" + std::to_string(p.files.size()) + "): at most " +
                       std::to_string(kMaxEntries - 1) + " fit in an archive");

  for (const auto& [path, contents] : p.files) list.push_back({{"path", path}, {"size", contents->size()}});
  json meta = {
      {"type", "js"},
      {"format", kFormatVersion},
      {"filename", p.main},
      {"options", in.options.is_null() ? json::object() : in.options},
      {"env", in.env},
      {"herd_version", in.herd_version},
      {"files", std::move(list)},
  };
  try {
    p.metadata = meta.dump(2) + "\n";
  } catch (const json::exception& e) {
    throw ArchiveError(std::string("cannot encode metadata.json (paths, options and env must be valid UTF-8): ") +
                       e.what());
  }
  total += p.metadata.size();
  if (total > kMaxTotalBytes)
    throw ArchiveError("archive contents too large (" + std::to_string(total) + " bytes): at most " +
                       std::to_string(kMaxTotalBytes) + " bytes");
  return p;
}

/// Receives the archive's bytes (a string, or a file descriptor).
using Sink = std::function<void(const char* data, std::size_t n)>;

/// A minimal POSIX.1-2001 (pax) tar writer. libarchive is used only to read:
/// its 3.6 pax writer cannot store UTF-8 names when the process runs in the C
/// locale. Every header is a ustar header; names that are longer than 100
/// bytes or not ASCII get a pax extended header ('x') with a UTF-8 "path"
/// record first, as GNU tar --format=posix and libarchive do.
class TarWriter {
 public:
  explicit TarWriter(Sink sink) : sink_(std::move(sink)) {}

  void add_file(const std::string& name, const std::string& data) {
    bool ascii = std::all_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (name.size() > 100 || !ascii) {
      std::string records = pax_record("path", name);
      write_header("PaxHeaders/" + ascii_tail(name), records.size(), 'x');
      write_padded(records);
    }
    write_header(name.size() > 100 || !ascii ? ascii_tail(name) : name, data.size(), '0');
    write_padded(data);
  }

  void finish() { sink_(std::string(1024, '\0').data(), 1024); }  // two zero blocks end the archive

 private:
  /// "<len> key=value\n" where <len> counts the whole record, its own digits included.
  static std::string pax_record(const std::string& key, const std::string& value) {
    std::size_t body = 1 + key.size() + 1 + value.size() + 1;  // ' ' key '=' value '\n'
    std::size_t len = body + 1;
    while (std::to_string(len).size() + body != len) len = std::to_string(len).size() + body;
    return std::to_string(len) + " " + key + "=" + value + "\n";
  }

  /// A printable stand-in (<= 100 bytes) for the ustar name field of entries
  /// whose real name is in a pax record; only pax-unaware readers see it.
  static std::string ascii_tail(const std::string& name) {
    std::string out;
    for (char c : name) out += static_cast<unsigned char>(c) < 0x80 ? c : '_';
    return out.size() > 100 ? out.substr(out.size() - 100) : out;
  }

  static void put_octal(char* field, std::size_t width, std::uint64_t v) {
    // width-1 octal digits and a NUL, as ustar expects.
    field[width - 1] = '\0';
    for (std::size_t i = width - 1; i-- > 0;) {
      field[i] = static_cast<char>('0' + (v & 7));
      v >>= 3;
    }
  }

  void write_header(const std::string& name, std::uint64_t size, char type) {
    char h[512] = {};
    std::memcpy(h, name.data(), std::min<std::size_t>(name.size(), 100));
    put_octal(h + 100, 8, 0644);  // mode
    put_octal(h + 108, 8, 0);     // uid
    put_octal(h + 116, 8, 0);     // gid
    put_octal(h + 124, 12, size);
    put_octal(h + 136, 12, 0);  // mtime: reproducible output for the same inputs
    std::memset(h + 148, ' ', 8);
    h[156] = type;
    std::memcpy(h + 257,
                "ustar\0"
                "00",
                8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    put_octal(h + 148, 7, sum);  // six digits, NUL, then the space left from above
    sink_(h, sizeof h);
  }

  void write_padded(const std::string& data) {
    if (!data.empty()) sink_(data.data(), data.size());
    static const char zeros[512] = {};
    if (std::size_t pad = (512 - data.size() % 512) % 512) sink_(zeros, pad);
  }

  Sink sink_;
};

void write_all(const Sink& sink, const Prepared& p) {
  TarWriter w(sink);
  w.add_file(kMetadataName, p.metadata);
  for (const auto& [path, contents] : p.files) w.add_file(entry_name_for(path), *contents);
  w.finish();
}

// ---------------------------------------------------------------- reading

struct ReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ReadPtr = std::unique_ptr<struct archive, ReadDeleter>;

std::string lib_error(struct archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "unknown libarchive error";
}

ReadPtr new_reader() {
  ReadPtr a(archive_read_new());
  if (!a) throw ArchiveError("out of memory");
  // Plain tar only (ustar, pax, GNU): no compression filters, hence no
  // decompression bombs; other formats are "not a tar archive".
  if (archive_read_support_format_tar(a.get()) != ARCHIVE_OK) throw ArchiveError(lib_error(a.get()));
  return a;
}

const char* type_name(unsigned type) {
  switch (type) {
    case AE_IFLNK:
      return "symbolic link";
    case AE_IFCHR:
      return "character device";
    case AE_IFBLK:
      return "block device";
    case AE_IFIFO:
      return "FIFO";
    case AE_IFSOCK:
      return "socket";
    case AE_IFDIR:
      return "directory";
    default:
      return "special file";
  }
}

/// Checks a raw tar entry name (after "./" prefixes were dropped) is a
/// relative, normalised name. Returns the problem or "".
std::string entry_name_problem(std::string_view name) {
  if (name.empty()) return "empty entry name";
  if (name.size() > kMaxPathBytes + kAbsPrefix.size()) return "entry name too long";
  if (name.front() == '/') return "absolute entry names are not allowed";
  for (std::string_view c : split(name)) {
    if (c == "..") return "\"..\" is not allowed in entry names (path traversal)";
    if (c.empty() || c == ".") return "entry name is not normalised";
  }
  return "";
}

bool is_allowed_directory(std::string_view dir) {
  auto under = [dir](std::string_view prefix) {  // prefix ends with '/'
    return dir == prefix.substr(0, prefix.size() - 1) || dir.substr(0, prefix.size()) == prefix;
  };
  return dir == kFilesDir || under(kRelPrefix) || under(kAbsPrefix);
}

json parse_metadata(const std::string& text) {
  int max_depth = 0;
  json::parser_callback_t cb = [&max_depth](int depth, json::parse_event_t, json&) {
    if (depth > max_depth) max_depth = depth;
    return true;
  };
  json meta;
  try {
    meta = json::parse(text, cb);
  } catch (const json::exception& e) {
    throw ArchiveError(std::string("metadata.json is not valid JSON: ") + e.what());
  }
  if (max_depth > kMaxJsonDepth)
    throw ArchiveError("metadata.json is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  if (!meta.is_object()) throw ArchiveError("metadata.json must hold a JSON object");
  return meta;
}

const json& field(const json& meta, const char* key, json::value_t type, const char* type_desc) {
  auto it = meta.find(key);
  if (it == meta.end()) throw ArchiveError(std::string("metadata.json: missing field \"") + key + "\"");
  bool ok =
      it->type() == type || (type == json::value_t::number_unsigned && it->type() == json::value_t::number_integer);
  if (!ok) throw ArchiveError(std::string("metadata.json: field \"") + key + "\" must be " + type_desc);
  return *it;
}

/// Reads every entry of an opened reader and validates the whole archive.
Archive read_all(struct archive* a) {
  std::size_t entries = 0;
  std::uint64_t total = 0;
  std::optional<std::string> metadata;
  std::map<std::string, std::string> files;  // path -> contents
  std::set<std::string> names;               // every entry name seen, for duplicates
  std::string unexpected;                    // first entry that belongs nowhere
  std::string last = "(start of archive)";
  std::vector<char> buf(64 * 1024);

  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      std::string where = last == "(start of archive)" ? "at the start" : "after entry " + quote(last);
      throw ArchiveError("corrupt or truncated tar " + where + ": " + lib_error(a));
    }
    if (++entries > kMaxEntries)
      throw ArchiveError("too many entries: at most " + std::to_string(kMaxEntries) + " are allowed");

    const char* cname = archive_entry_pathname_utf8(e);
    if (!cname) cname = archive_entry_pathname(e);
    if (!cname) throw ArchiveError("entry after " + quote(last) + " has no name");
    std::string raw = cname;
    last = raw;
    std::string_view name = raw;
    while (name.substr(0, 2) == "./") name.remove_prefix(2);  // as written by `tar -C dir -cf x.tar .`

    const unsigned type = archive_entry_filetype(e);
    const bool is_dir = type == AE_IFDIR;
    if (is_dir && !name.empty() && name.back() == '/') name.remove_suffix(1);
    if (is_dir && (name.empty() || name == ".")) continue;  // the archive's root: "./"

    if (std::string why = entry_name_problem(name); !why.empty())
      throw ArchiveError("entry " + quote(raw) + ": " + why);
    if (archive_entry_hardlink(e))
      throw ArchiveError("entry " + quote(raw) + ": hard links are not allowed (links to " +
                         quote(archive_entry_hardlink(e)) + ")");
    if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(e);
      throw ArchiveError("entry " + quote(raw) + ": symbolic links are not allowed (points to " +
                         quote(target ? target : "") + ")");
    }
    if (type != AE_IFREG && type != AE_IFDIR)
      throw ArchiveError("entry " + quote(raw) + ": " + type_name(type) + " entries are not allowed");
    if (!names.emplace(name).second) throw ArchiveError("entry " + quote(raw) + " appears more than once");

    if (is_dir) {
      if (!is_allowed_directory(name) && unexpected.empty()) unexpected = raw;
      continue;  // a directory's data (if any) is skipped by the next header read
    }
    if (archive_entry_sparse_count(e) > 0) throw ArchiveError("entry " + quote(raw) + ": sparse files are not allowed");
    if (archive_entry_size_is_set(e)) {
      la_int64_t size = archive_entry_size(e);
      if (size < 0 || static_cast<std::uint64_t>(size) > kMaxTotalBytes - total)
        throw ArchiveError("entry " + quote(raw) + " (" + std::to_string(size) + " bytes): archive contents exceed " +
                           std::to_string(kMaxTotalBytes) + " bytes");
    }

    std::string data;
    for (;;) {
      la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0) throw ArchiveError("entry " + quote(raw) + ": corrupt or truncated data: " + lib_error(a));
      total += static_cast<std::uint64_t>(n);
      if (total > kMaxTotalBytes)
        throw ArchiveError("entry " + quote(raw) + ": archive contents exceed " + std::to_string(kMaxTotalBytes) +
                           " bytes");
      data.append(buf.data(), static_cast<std::size_t>(n));
    }

    if (name == kMetadataName) {
      metadata = std::move(data);
      continue;
    }
    std::string path = path_for_entry(std::string(name));
    if (path.empty()) {
      if (unexpected.empty()) unexpected = raw;
      continue;
    }
    files.emplace(std::move(path), std::move(data));
  }

  if (!metadata) throw ArchiveError("missing metadata.json (not a herd archive)");
  json meta = parse_metadata(*metadata);
  if (!meta.contains("herd_version") && meta.contains("k6version"))
    throw ArchiveError(
        "this is a k6 archive (it has \"k6version\", not \"herd_version\"): herd cannot run k6 archives; "
        "run `herd archive` on the script instead");
  if (!unexpected.empty())
    throw ArchiveError("entry " + quote(unexpected) +
                       ": unexpected entry (only metadata.json and files/rel/..., "
                       "files/abs/... belong in a herd archive)");

  Archive out;
  const json& type = field(meta, "type", json::value_t::string, "a string");
  if (type.get<std::string>() != "js")
    throw ArchiveError("metadata.json: unsupported \"type\" " + quote(type.get<std::string>()) + " (expected \"js\")");
  if (meta.contains("format")) {
    const json& f = field(meta, "format", json::value_t::number_unsigned, "a positive integer");
    if (f.get<std::int64_t>() < 1) throw ArchiveError("metadata.json: field \"format\" must be a positive integer");
    if (f.get<std::int64_t>() > kFormatVersion)
      throw ArchiveError("metadata.json: archive format " + std::to_string(f.get<std::int64_t>()) +
                         " is newer than this herd supports (" + std::to_string(kFormatVersion) + "); upgrade herd");
  }
  out.herd_version = field(meta, "herd_version", json::value_t::string, "a string").get<std::string>();
  out.options = field(meta, "options", json::value_t::object, "an object");
  if (meta.contains("env")) {
    const json& env = field(meta, "env", json::value_t::object, "an object");
    for (auto it = env.begin(); it != env.end(); ++it) {
      if (!it->is_string()) throw ArchiveError("metadata.json: env " + quote(it.key()) + " must be a string");
      out.env[it.key()] = it->get<std::string>();
    }
  }

  const std::string filename = field(meta, "filename", json::value_t::string, "a string").get<std::string>();
  if (std::string why = path_problem(filename); !why.empty())
    throw ArchiveError("metadata.json: filename " + quote(filename) + ": " + why);
  out.main = filename;

  const json& list = field(meta, "files", json::value_t::array, "an array");
  std::set<std::string> listed;
  for (const json& f : list) {
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string())
      throw ArchiveError("metadata.json: every element of \"files\" must be an object with a string \"path\"");
    const std::string path = f["path"].get<std::string>();
    if (std::string why = path_problem(path); !why.empty())
      throw ArchiveError("metadata.json: file " + quote(path) + ": " + why);
    if (!listed.insert(path).second) throw ArchiveError("metadata.json: file " + quote(path) + " is listed twice");
    auto it = files.find(path);
    if (it == files.end())
      throw ArchiveError("entry " + quote(entry_name_for(path)) + " is missing (file " + quote(path) +
                         " is listed in metadata.json)");
    if (f.contains("size")) {
      const json& s = f["size"];
      if (!s.is_number_integer() || s.get<std::int64_t>() < 0 ||
          static_cast<std::uint64_t>(s.get<std::int64_t>()) != it->second.size())
        throw ArchiveError("entry " + quote(entry_name_for(path)) + ": size " + std::to_string(it->second.size()) +
                           " does not match metadata.json (" + s.dump() + ")");
    }
  }
  for (const auto& [path, contents] : files) {
    if (!listed.count(path))
      throw ArchiveError("entry " + quote(entry_name_for(path)) + " is not listed in metadata.json \"files\"");
  }
  if (!files.count(out.main))
    throw ArchiveError("main script " + quote(out.main) +
                       " (metadata.json \"filename\") is not among the archive's files");
  out.files = std::move(files);
  return out;
}

}  // namespace

// ---------------------------------------------------------------- public

std::string normalize_archive_path(const std::string& p) {
  if (p.find('\0') != std::string::npos) throw ArchiveError("path " + quote(p) + ": NUL byte in path");
  std::string n = p.empty() ? p : std::filesystem::path(p).lexically_normal().generic_string();
  // lexically_normal keeps a trailing slash ("a/" names a directory) and may
  // keep a leading "//": both are rejected below as not normalised.
  if (std::string why = path_problem(n); !why.empty()) throw ArchiveError("path " + quote(p) + ": " + why);
  return n;
}

std::string entry_name_for(const std::string& path) {
  if (std::string why = path_problem(path); !why.empty()) throw ArchiveError("path " + quote(path) + ": " + why);
  if (path.front() == '/') return std::string(kAbsPrefix) + path.substr(1);
  return std::string(kRelPrefix) + path;
}

std::string path_for_entry(const std::string& entry) {
  std::string path;
  if (entry.compare(0, kRelPrefix.size(), kRelPrefix) == 0) {
    path = entry.substr(kRelPrefix.size());
  } else if (entry.compare(0, kAbsPrefix.size(), kAbsPrefix) == 0) {
    path = "/" + entry.substr(kAbsPrefix.size());
  } else {
    return "";
  }
  return path_problem(path).empty() ? path : "";
}

std::string write_archive_memory(const Archive& a) {
  Prepared p;
  try {
    p = prepare(a);
  } catch (const ArchiveError& e) {
    throw ArchiveError(std::string("cannot write archive: ") + e.what());
  }
  std::string out;
  write_all([&out](const char* d, std::size_t n) { out.append(d, n); }, p);
  return out;
}

void write_archive(const std::string& out_path, const Archive& a) {
  const std::string prefix = "cannot write archive " + quote(out_path) + ": ";
  Prepared p;
  try {
    p = prepare(a);
  } catch (const ArchiveError& e) {
    throw ArchiveError(prefix + e.what());
  }
  // Write a temporary file next to the destination and rename it into place:
  // a failure never leaves a half-written archive behind.
  std::string tmp = out_path + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw ArchiveError(prefix + std::strerror(errno));
  std::string error;
  try {
    write_all(
        [fd](const char* d, std::size_t n) {
          while (n > 0) {
            ssize_t w = ::write(fd, d, n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) throw ArchiveError(std::strerror(w < 0 ? errno : EIO));
            d += w;
            n -= static_cast<std::size_t>(w);
          }
        },
        p);
  } catch (const ArchiveError& e) {
    error = e.what();
  }
  if (error.empty() && (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0)) error = std::strerror(errno);
  if (::close(fd) != 0 && error.empty()) error = std::strerror(errno);
  if (error.empty() && ::rename(tmp.c_str(), out_path.c_str()) != 0) error = std::strerror(errno);
  if (!error.empty()) {
    ::unlink(tmp.c_str());
    throw ArchiveError(prefix + error);
  }
}

Archive read_archive(const std::string& path) {
  const std::string prefix = "invalid archive " + quote(path) + ": ";
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw ArchiveError("cannot read archive " + quote(path) + ": " + std::strerror(errno));
  }
  ReadPtr a = new_reader();
  // libarchive reads the first block here to recognise the format.
  if (archive_read_open_filename(a.get(), path.c_str(), 64 * 1024) != ARCHIVE_OK)
    throw ArchiveError(prefix + "not a tar archive, or truncated (" + lib_error(a.get()) + ")");
  try {
    return read_all(a.get());
  } catch (const ArchiveError& e) {
    throw ArchiveError(prefix + e.what());
  }
}

Archive read_archive_memory(const std::string& bytes) {
  ReadPtr a = new_reader();
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK)
    throw ArchiveError("invalid archive: not a tar archive, or truncated (" + lib_error(a.get()) + ")");
  try {
    return read_all(a.get());
  } catch (const ArchiveError& e) {
    throw ArchiveError(std::string("invalid archive: ") + e.what());
  }
}

bool looks_like_archive_bytes(std::string_view head) {
  if (head.size() < 512) return false;
  const auto* h = reinterpret_cast<const unsigned char*>(head.data());
  // POSIX "ustar\0" + "00", or GNU "ustar " + " \0".
  if (std::memcmp(h + 257, "ustar", 5) != 0 || (h[262] != '\0' && h[262] != ' ')) return false;
  // Header checksum: octal at 148..155, computed with that field as spaces.
  std::size_t i = 148;
  while (i < 156 && (h[i] == ' ' || h[i] == '\0')) ++i;
  std::uint64_t want = 0;
  bool digits = false;
  for (; i < 156 && h[i] >= '0' && h[i] <= '7'; ++i) {
    want = want * 8 + (h[i] - '0');
    digits = true;
  }
  if (!digits) return false;
  std::uint64_t usum = 0;
  std::int64_t ssum = 0;
  for (std::size_t k = 0; k < 512; ++k) {
    unsigned char c = (k >= 148 && k < 156) ? ' ' : h[k];
    usum += c;
    ssum += static_cast<signed char>(c);  // some old tars summed signed bytes
  }
  return want == usum || static_cast<std::int64_t>(want) == ssum;
}

bool looks_like_archive(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::string head(512, '\0');
  f.read(head.data(), static_cast<std::streamsize>(head.size()));
  if (f.gcount() != 512) return false;
  return looks_like_archive_bytes(head);
}

}  // namespace herd::archive
