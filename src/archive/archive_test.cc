#include "archive/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using herd::archive::Archive;
using herd::archive::ArchiveError;
using herd::archive::entry_name_for;
using herd::archive::looks_like_archive;
using herd::archive::looks_like_archive_bytes;
using herd::archive::normalize_archive_path;
using herd::archive::path_for_entry;
using herd::archive::read_archive;
using herd::archive::read_archive_memory;
using herd::archive::write_archive;
using herd::archive::write_archive_memory;
using nlohmann::json;
using ::testing::HasSubstr;

namespace {

// ------------------------------------------------------------ helpers

/// A scratch directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "herd-archive-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return (path_ / rel).string(); }

 private:
  fs::path path_;
};

void write_file(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f << data;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// One raw ustar header (name <= 100 bytes), so tests can build archives that
/// no well-behaved writer would produce.
std::string ustar_header(const std::string& name, std::uint64_t size, char type = '0', const std::string& link = "") {
  std::string h(512, '\0');
  auto put = [&h](std::size_t off, const std::string& s) { h.replace(off, s.size(), s); };
  auto octal = [](std::uint64_t v, int width) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%0*llo", width, static_cast<unsigned long long>(v));
    return std::string(buf);
  };
  put(0, name.substr(0, 100));
  put(100, octal(0644, 7));
  put(108, octal(0, 7));
  put(116, octal(0, 7));
  put(124, octal(size, 11));
  put(136, octal(0, 11));
  put(148, "        ");
  h[156] = type;
  put(157, link.substr(0, 100));
  put(257, std::string("ustar\0"
                       "00",
                       8));
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  char ck[8];
  std::snprintf(ck, sizeof ck, "%06o", sum);
  put(148, std::string(ck, 6) + std::string("\0 ", 2));
  return h;
}

std::string ustar_entry(const std::string& name, const std::string& data, char type = '0',
                        const std::string& link = "") {
  std::string out = ustar_header(name, data.size(), type, link) + data;
  out.append((512 - data.size() % 512) % 512, '\0');
  return out;
}

std::string ustar_end() {
  return std::string(1024, '\0');
}

json metadata_for(const std::string& filename, const std::vector<std::string>& paths) {
  json files = json::array();
  for (const auto& p : paths) files.push_back({{"path", p}});
  return {{"type", "js"},          {"format", 1},
          {"filename", filename},  {"options", json::object()},
          {"env", json::object()}, {"herd_version", "0.1.0"},
          {"files", files}};
}

/// A minimal valid archive with one script, plus extra raw entries.
std::string raw_archive(const json& meta, const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out = ustar_entry("metadata.json", meta.dump());
  for (const auto& [name, data] : entries) out += ustar_entry(name, data);
  return out + ustar_end();
}

std::string valid_raw() {
  return raw_archive(metadata_for("script.js", {"script.js"}),
                     {{"files/rel/script.js", "export default function() {}"}});
}

/// Asserts that reading `bytes` fails with a message containing every fragment.
void expect_invalid(const std::string& bytes, const std::vector<std::string>& fragments) {
  try {
    (void)read_archive_memory(bytes);
    ADD_FAILURE() << "expected ArchiveError";
  } catch (const ArchiveError& e) {
    for (const auto& f : fragments) EXPECT_THAT(e.what(), HasSubstr(f));
  }
}

Archive sample() {
  Archive a;
  a.main = "tests/script.js";
  a.options = {{"vus", 10}, {"duration", "30s"}, {"thresholds", {{"http_req_duration", {"p(95)<500"}}}}};
  a.env = {{"BASE_URL", "https://example.com"}, {"EMPTY", ""}, {"UNICODE", "h\u00e9llo \u2603"}};
  a.herd_version = "0.1.0";
  a.files["tests/script.js"] = "import { x } from './lib/util.js';\nexport default function() {}\n";
  a.files["tests/lib/util.js"] = "export const x = 1;\n";
  a.files["tests/data/deep/er/still/users.csv"] = "id,name\n1,alice\n";
  a.files["tests/empty.txt"] = "";
  a.files["tests/bin.dat"] = std::string("\0\x01\x02\xff\xfe\0\0zz\0", 10);
  a.files["tests/donn\u00e9es/\u65e5\u672c\u8a9e-\U0001F600.json"] = "{\"k\": \"v\"}";
  a.files["/tmp/herd-abs/shared.js"] = "export const shared = true;\n";
  // A name longer than ustar's 100-byte field forces a pax header.
  a.files["tests/" + std::string(150, 'n') + ".js"] = "long";
  return a;
}

std::vector<std::string> entry_names(const std::string& tar) {
  std::vector<std::string> names;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_open_memory(a, tar.data(), tar.size());
  archive_entry* e;
  // ARCHIVE_WARN: libarchive cannot convert UTF-8 names to the C locale, and
  // then keeps them as raw bytes (pathname_utf8 is null).
  for (int r; (r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN;) {
    const char* n = archive_entry_pathname_utf8(e);
    names.emplace_back(n ? n : archive_entry_pathname(e));
  }
  archive_read_free(a);
  return names;
}

std::string first_entry_data(const std::string& tar) {
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_open_memory(a, tar.data(), tar.size());
  archive_entry* e;
  std::string data;
  if (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    char buf[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) data.append(buf, static_cast<std::size_t>(n));
  }
  archive_read_free(a);
  return data;
}

int run(const std::string& cmd) {
  return std::system(cmd.c_str());
}

bool have_tar() {
  return run("tar --version >/dev/null 2>&1") == 0;
}

// ------------------------------------------------------------ round trip

TEST(ArchiveRoundTrip, FileKeepsEverything) {
  TempDir dir;
  Archive a = sample();
  write_archive(dir / "test.tar", a);
  Archive b = read_archive(dir / "test.tar");
  EXPECT_EQ(b.main, a.main);
  EXPECT_EQ(b.options, a.options);
  EXPECT_EQ(b.env, a.env);
  EXPECT_EQ(b.herd_version, a.herd_version);
  EXPECT_EQ(b.files, a.files);
  EXPECT_EQ(b.files.at("tests/bin.dat").size(), 10u);
  EXPECT_EQ(b.files.at("tests/empty.txt"), "");
  // No temporary file is left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(ArchiveRoundTrip, MemoryMatchesFileAndIsReproducible) {
  TempDir dir;
  write_archive(dir / "test.tar", sample());
  std::string mem = write_archive_memory(sample());
  EXPECT_EQ(read_file(dir / "test.tar"), mem);
  EXPECT_EQ(write_archive_memory(sample()), mem);
  EXPECT_EQ(mem.size() % 512, 0u);
  Archive b = read_archive_memory(mem);
  EXPECT_EQ(b.files, sample().files);
}

TEST(ArchiveRoundTrip, NormalisesPathsAndNullOptions) {
  Archive a;
  a.main = "./x/../script.js";
  a.files["./x/../script.js"] = "s";
  a.files["a//b/./c.txt"] = "c";
  Archive b = read_archive_memory(write_archive_memory(a));
  EXPECT_EQ(b.main, "script.js");
  EXPECT_EQ(b.files, (std::map<std::string, std::string>{{"a/b/c.txt", "c"}, {"script.js", "s"}}));
  EXPECT_EQ(b.options, json::object());
  EXPECT_TRUE(b.env.empty());
}

TEST(ArchiveRoundTrip, OverwritesExistingFile) {
  TempDir dir;
  write_file(dir / "test.tar", "old contents");
  write_archive(dir / "test.tar", sample());
  EXPECT_EQ(read_archive(dir / "test.tar").main, "tests/script.js");
}

// ------------------------------------------------------------ layout and metadata

TEST(ArchiveFormat, MetadataFirstThenFilesUnderMappedNames) {
  std::string tar = write_archive_memory(sample());
  std::vector<std::string> names = entry_names(tar);
  ASSERT_EQ(names.size(), 1 + sample().files.size());
  EXPECT_EQ(names[0], "metadata.json");
  EXPECT_THAT(names, ::testing::Contains("files/rel/tests/script.js"));
  EXPECT_THAT(names, ::testing::Contains("files/rel/tests/bin.dat"));
  EXPECT_THAT(names, ::testing::Contains("files/abs/tmp/herd-abs/shared.js"));
  EXPECT_THAT(names, ::testing::Contains("files/rel/tests/donn\u00e9es/\u65e5\u672c\u8a9e-\U0001F600.json"));
  EXPECT_THAT(names, ::testing::Contains("files/rel/tests/" + std::string(150, 'n') + ".js"));
}

TEST(ArchiveFormat, MetadataFields) {
  json meta = json::parse(first_entry_data(write_archive_memory(sample())));
  EXPECT_EQ(meta["type"], "js");
  EXPECT_EQ(meta["format"], herd::archive::kFormatVersion);
  EXPECT_EQ(meta["filename"], "tests/script.js");
  EXPECT_EQ(meta["herd_version"], "0.1.0");
  EXPECT_EQ(meta["options"]["vus"], 10);
  EXPECT_EQ(meta["env"]["BASE_URL"], "https://example.com");
  ASSERT_TRUE(meta["files"].is_array());
  ASSERT_EQ(meta["files"].size(), sample().files.size());
  bool found = false;
  for (const auto& f : meta["files"]) {
    if (f["path"] == "tests/bin.dat") {
      EXPECT_EQ(f["size"], 10);
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(ArchiveFormat, PathMappingIsReversible) {
  EXPECT_EQ(entry_name_for("script.js"), "files/rel/script.js");
  EXPECT_EQ(entry_name_for("a/b/c.js"), "files/rel/a/b/c.js");
  EXPECT_EQ(entry_name_for("/tmp/x.js"), "files/abs/tmp/x.js");
  for (const std::string p : {"script.js", "a/b/c.js", "/tmp/x.js", "/abs", "rel/abs/x", "files/rel/x"})
    EXPECT_EQ(path_for_entry(entry_name_for(p)), p) << p;
  EXPECT_EQ(path_for_entry("metadata.json"), "");
  EXPECT_EQ(path_for_entry("files/other/x"), "");
  EXPECT_EQ(path_for_entry("files/rel/"), "");
  EXPECT_EQ(path_for_entry("files/rel/../x"), "");
  EXPECT_EQ(path_for_entry("files/abs//x"), "");
  EXPECT_THROW(entry_name_for("../x"), ArchiveError);
  EXPECT_THROW(entry_name_for("a/./b"), ArchiveError);
  EXPECT_THROW(entry_name_for(""), ArchiveError);
  EXPECT_THROW(entry_name_for("/"), ArchiveError);
}

TEST(ArchiveFormat, NormalizeArchivePath) {
  EXPECT_EQ(normalize_archive_path("./a/../b.js"), "b.js");
  EXPECT_EQ(normalize_archive_path("/x/./y/../z.js"), "/x/z.js");
  EXPECT_EQ(normalize_archive_path("/../etc/passwd"), "/etc/passwd");  // the root's parent is the root
  EXPECT_THROW(normalize_archive_path("../x.js"), ArchiveError);
  EXPECT_THROW(normalize_archive_path("a/../../x.js"), ArchiveError);
  EXPECT_THROW(normalize_archive_path("dir/"), ArchiveError);
  EXPECT_THROW(normalize_archive_path("."), ArchiveError);
  EXPECT_THROW(normalize_archive_path(std::string("a\0b", 3)), ArchiveError);
  EXPECT_THROW(normalize_archive_path(std::string(5000, 'a')), ArchiveError);
}

// ------------------------------------------------------------ write validation

TEST(ArchiveWrite, RejectsBadInput) {
  auto expect_rejected = [](const Archive& a, const std::string& fragment) {
    try {
      (void)write_archive_memory(a);
      ADD_FAILURE() << "expected ArchiveError containing " << fragment;
    } catch (const ArchiveError& e) {
      EXPECT_THAT(e.what(), HasSubstr(fragment));
    }
  };
  Archive a = sample();
  a.files["../outside.js"] = "x";
  expect_rejected(a, "\"../outside.js\"");

  a = sample();
  a.main = "nope.js";
  expect_rejected(a, "main script \"nope.js\" is not among");

  a = sample();
  a.main.clear();
  expect_rejected(a, "no main script");

  a = sample();
  a.files["tests/./script.js"] = "duplicate";
  expect_rejected(a, "same normalised path");

  a = sample();
  a.options = json::array({1, 2});
  expect_rejected(a, "options must be a JSON object");

  a = sample();
  a.env["BAD"] = std::string("\xff\xfe", 2);
  expect_rejected(a, "valid UTF-8");
}

TEST(ArchiveWrite, RejectsTooManyFiles) {
  Archive a;
  a.main = "m.js";
  for (std::size_t i = 0; i < herd::archive::kMaxEntries; ++i) a.files["f" + std::to_string(i)] = "";
  a.files["m.js"] = "";
  EXPECT_THROW((void)write_archive_memory(a), ArchiveError);
}

TEST(ArchiveWrite, DeepOptionsWithinReaderLimit) {
  auto nested = [](int levels) {
    json j = json::object();  // one level
    for (int i = 1; i < levels; ++i) j = json::object({{"k", j}});
    return j;
  };
  Archive a = sample();
  a.options = nested(254);
  EXPECT_EQ(read_archive_memory(write_archive_memory(a)).options, a.options);
  a.options = nested(255);
  EXPECT_THROW((void)write_archive_memory(a), ArchiveError);
}

TEST(ArchiveWrite, UnwritableDestinationLeavesNothing) {
  TempDir dir;
  try {
    write_archive(dir / "missing/dir/test.tar", sample());
    ADD_FAILURE() << "expected ArchiveError";
  } catch (const ArchiveError& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot write archive"));
    EXPECT_THAT(e.what(), HasSubstr("missing/dir/test.tar"));
  }
  // A failing archive leaves an existing file alone.
  write_file(dir / "keep.tar", "keep");
  Archive bad = sample();
  bad.main = "nope.js";
  EXPECT_THROW(write_archive(dir / "keep.tar", bad), ArchiveError);
  EXPECT_EQ(read_file(dir / "keep.tar"), "keep");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

// ------------------------------------------------------------ read validation

TEST(ArchiveRead, HandBuiltValidArchive) {
  Archive a = read_archive_memory(valid_raw());
  EXPECT_EQ(a.main, "script.js");
  EXPECT_EQ(a.files.at("script.js"), "export default function() {}");
}

TEST(ArchiveRead, Truncated) {
  std::string tar = write_archive_memory(sample());
  // Inside the second entry's header, inside metadata.json's data, and a
  // header cut short: each must be reported, never read as a shorter archive.
  for (std::size_t cut : {std::size_t{100}, std::size_t{700}, std::size_t{1024 + 300}, tar.size() / 2}) {
    SCOPED_TRACE(cut);
    EXPECT_THROW((void)read_archive_memory(tar.substr(0, cut)), ArchiveError);
  }
  // Cut in the data of the script entry: the message names it.
  std::string raw = ustar_entry("metadata.json", metadata_for("s.js", {"s.js"}).dump()) +
                    ustar_header("files/rel/s.js", 5000) + std::string(600, 'x');
  expect_invalid(raw, {"files/rel/s.js"});
}

TEST(ArchiveRead, TruncatedAtEntryBoundaryIsCaughtByFileList) {
  std::string meta = ustar_entry("metadata.json", metadata_for("s.js", {"s.js", "lib.js"}).dump());
  std::string tar = meta + ustar_entry("files/rel/s.js", "s") + ustar_end();
  expect_invalid(tar, {"\"files/rel/lib.js\" is missing"});
}

TEST(ArchiveRead, MissingMetadata) {
  expect_invalid(ustar_entry("files/rel/script.js", "x") + ustar_end(), {"missing metadata.json"});
  expect_invalid(ustar_end(), {"missing metadata.json"});
}

TEST(ArchiveRead, NotATar) {
  expect_invalid("export default function() {}\n", {"invalid archive"});
  expect_invalid("", {"invalid archive"});
  expect_invalid(std::string(5000, 'A'), {"invalid archive"});
}

TEST(ArchiveRead, BadJson) {
  std::string tar =
      ustar_entry("metadata.json", "{\"type\": \"js\", ") + ustar_entry("files/rel/s.js", "x") + ustar_end();
  expect_invalid(tar, {"metadata.json is not valid JSON"});
  expect_invalid(ustar_entry("metadata.json", "[1,2]") + ustar_end(), {"must hold a JSON object"});
  std::string deep = std::string(1000, '[') + std::string(1000, ']');
  expect_invalid(ustar_entry("metadata.json", "{\"options\":" + deep + "}") + ustar_end(), {"nested deeper"});
}

TEST(ArchiveRead, MetadataFieldErrors) {
  auto with = [](const std::string& key, const json& value) {
    json m = metadata_for("script.js", {"script.js"});
    if (value.is_discarded()) {
      m.erase(key);
    } else {
      m[key] = value;
    }
    return raw_archive(m, {{"files/rel/script.js", "x"}});
  };
  const json removed = json::value_t::discarded;
  expect_invalid(with("type", removed), {"missing field \"type\""});
  expect_invalid(with("type", "ts"), {"unsupported \"type\""});
  expect_invalid(with("filename", removed), {"missing field \"filename\""});
  expect_invalid(with("filename", 3), {"\"filename\" must be a string"});
  expect_invalid(with("options", removed), {"missing field \"options\""});
  expect_invalid(with("options", "vus=1"), {"\"options\" must be an object"});
  expect_invalid(with("env", json::array()), {"\"env\" must be an object"});
  expect_invalid(with("env", {{"A", 1}}), {"env \"A\" must be a string"});
  expect_invalid(with("herd_version", removed), {"missing field \"herd_version\""});
  expect_invalid(with("files", removed), {"missing field \"files\""});
  expect_invalid(with("files", json::array({"script.js"})), {"must be an object with a string \"path\""});
  expect_invalid(with("files", json::array({{{"path", "script.js"}}, {{"path", "script.js"}}})), {"listed twice"});
  expect_invalid(with("files", json::array({{{"path", "script.js"}, {"size", 7}}})), {"does not match"});
  expect_invalid(with("format", 2), {"newer than this herd supports"});
  expect_invalid(with("format", 0), {"\"format\" must be a positive integer"});
  expect_invalid(with("format", "1"), {"\"format\" must be a positive integer"});
  // Optional fields may be left out.
  EXPECT_NO_THROW((void)read_archive_memory(with("env", removed)));
  EXPECT_NO_THROW((void)read_archive_memory(with("format", removed)));
}

TEST(ArchiveRead, Traversal) {
  expect_invalid(
      raw_archive(metadata_for("script.js", {"script.js"}), {{"files/rel/script.js", "x"}, {"../x", "evil"}}),
      {"entry \"../x\"", "path traversal"});
  expect_invalid(raw_archive(metadata_for("script.js", {"script.js"}),
                             {{"files/rel/script.js", "x"}, {"files/rel/../../x", "evil"}}),
                 {"entry \"files/rel/../../x\"", "path traversal"});
  expect_invalid(
      raw_archive(metadata_for("script.js", {"script.js"}), {{"files/rel/script.js", "x"}, {"/etc/passwd", "evil"}}),
      {"entry \"/etc/passwd\"", "absolute"});
  expect_invalid(raw_archive(metadata_for("../x", {"../x"}), {{"files/rel/script.js", "x"}}),
                 {"filename \"../x\"", "path traversal"});
  expect_invalid(raw_archive(metadata_for("script.js", {"script.js", "a/../../x"}), {{"files/rel/script.js", "x"}}),
                 {"file \"a/../../x\"", "path traversal"});
}

TEST(ArchiveRead, LinksAndSpecialFiles) {
  const std::string meta = ustar_entry("metadata.json", metadata_for("s.js", {"s.js"}).dump());
  const std::string script = ustar_entry("files/rel/s.js", "x");
  expect_invalid(meta + script + ustar_entry("files/rel/link.js", "", '2', "/etc/passwd") + ustar_end(),
                 {"entry \"files/rel/link.js\"", "symbolic links are not allowed", "/etc/passwd"});
  expect_invalid(meta + script + ustar_entry("files/rel/hard.js", "", '1', "files/rel/s.js") + ustar_end(),
                 {"entry \"files/rel/hard.js\"", "hard links are not allowed"});
  expect_invalid(meta + script + ustar_entry("files/rel/tty", "", '3') + ustar_end(),
                 {"entry \"files/rel/tty\"", "character device"});
  expect_invalid(meta + script + ustar_entry("files/rel/disk", "", '4') + ustar_end(), {"block device"});
  expect_invalid(meta + script + ustar_entry("files/rel/pipe", "", '6') + ustar_end(), {"FIFO"});
}

TEST(ArchiveRead, MainMissing) {
  expect_invalid(raw_archive(metadata_for("script.js", {"other.js"}), {{"files/rel/other.js", "x"}}),
                 {"main script \"script.js\"", "not among the archive's files"});
}

TEST(ArchiveRead, FilesAndListMustAgree) {
  expect_invalid(raw_archive(metadata_for("script.js", {"script.js"}),
                             {{"files/rel/script.js", "x"}, {"files/rel/extra.js", "y"}}),
                 {"entry \"files/rel/extra.js\" is not listed"});
  expect_invalid(raw_archive(metadata_for("script.js", {"script.js"}),
                             {{"files/rel/script.js", "x"}, {"files/rel/script.js", "y"}}),
                 {"appears more than once"});
  expect_invalid(
      raw_archive(metadata_for("script.js", {"script.js"}), {{"files/rel/script.js", "x"}, {"README.md", "hi"}}),
      {"entry \"README.md\": unexpected entry"});
}

TEST(ArchiveRead, K6ArchiveIsRecognised) {
  json meta = {
      {"type", "js"}, {"filename", "file:///home/me/script.js"}, {"k6version", "0.50.0"}, {"options", json::object()}};
  expect_invalid(raw_archive(meta, {{"data", "export default function() {}"}}), {"k6 archive"});
}

TEST(ArchiveRead, SizeLimits) {
  // An entry that claims more than the limit is refused before any data is read.
  std::string tar = ustar_entry("metadata.json", metadata_for("s.js", {"s.js"}).dump()) +
                    ustar_header("files/rel/s.js", herd::archive::kMaxTotalBytes + 1) + ustar_end();
  expect_invalid(tar, {"entry \"files/rel/s.js\"", "exceed"});
}

TEST(ArchiveRead, EntryLimit) {
  std::string tar;
  tar.reserve((herd::archive::kMaxEntries + 3) * 512);
  for (std::size_t i = 0; i <= herd::archive::kMaxEntries; ++i)
    tar += ustar_header("files/rel/d" + std::to_string(i) + "/", 0, '5');
  tar += ustar_end();
  expect_invalid(tar, {"too many entries"});
}

TEST(ArchiveRead, NonexistentFile) {
  try {
    (void)read_archive("/nonexistent/dir/test.tar");
    ADD_FAILURE() << "expected ArchiveError";
  } catch (const ArchiveError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/dir/test.tar"));
  }
}

TEST(ArchiveRead, MessageNamesArchiveFile) {
  TempDir dir;
  write_file(dir / "bad.tar", ustar_end());
  try {
    (void)read_archive(dir / "bad.tar");
    ADD_FAILURE() << "expected ArchiveError";
  } catch (const ArchiveError& e) {
    EXPECT_THAT(e.what(), HasSubstr("bad.tar"));
    EXPECT_THAT(e.what(), HasSubstr("missing metadata.json"));
  }
}

// ------------------------------------------------------------ magic

TEST(ArchiveMagic, LooksLikeArchive) {
  TempDir dir;
  write_archive(dir / "a.js", sample());  // by magic, not by extension
  EXPECT_TRUE(looks_like_archive(dir / "a.js"));
  write_file(dir / "script.tar", "export default function() {}\n");
  EXPECT_FALSE(looks_like_archive(dir / "script.tar"));
  write_file(dir / "long.js", std::string(2000, ' '));
  EXPECT_FALSE(looks_like_archive(dir / "long.js"));
  EXPECT_FALSE(looks_like_archive(dir / "missing.tar"));
  EXPECT_FALSE(looks_like_archive(dir.path().string()));  // a directory

  std::string h = ustar_header("x", 0);
  EXPECT_TRUE(looks_like_archive_bytes(h));
  h[0] = 'y';  // checksum no longer matches
  EXPECT_FALSE(looks_like_archive_bytes(h));
  // A script that happens to contain "ustar" at offset 257 is still a script.
  std::string js(600, ' ');
  js.replace(257, 5, "ustar");
  EXPECT_FALSE(looks_like_archive_bytes(js));
}

// ------------------------------------------------------------ system tar

TEST(ArchiveSystemTar, ReadsTarMadeByTarCommand) {
  if (!have_tar()) GTEST_SKIP() << "no tar command";
  TempDir dir;
  const std::string root = dir / "layout";
  const std::string uni = "donn\u00e9es/\u65e5\u672c.json";
  json meta = metadata_for("tests/script.js", {"tests/script.js", "tests/lib/a.js", uni, "/opt/shared/x.js"});
  meta["options"] = {{"vus", 3}};
  meta["env"] = {{"K", "V"}};
  write_file(root + "/metadata.json", meta.dump(2));
  write_file(root + "/files/rel/tests/script.js", "import './lib/a.js';");
  write_file(root + "/files/rel/tests/lib/a.js", std::string("bin\0ary", 7));
  write_file(root + "/files/rel/" + uni, "{}");
  write_file(root + "/files/abs/opt/shared/x.js", "shared");

  for (const std::string& args : {std::string("metadata.json files"), std::string(".")}) {
    for (const char* format : {"gnu", "posix", "ustar"}) {
      SCOPED_TRACE(args + " " + format);
      const std::string out = dir / (std::string("sys-") + format + ".tar");
      ASSERT_EQ(run("cd '" + root + "' && tar --format=" + format + " -cf '" + out + "' " + args), 0);
      EXPECT_TRUE(looks_like_archive(out));
      Archive a = read_archive(out);
      EXPECT_EQ(a.main, "tests/script.js");
      EXPECT_EQ(a.options, json({{"vus", 3}}));
      EXPECT_EQ(a.env.at("K"), "V");
      EXPECT_EQ(a.files.size(), 4u);
      EXPECT_EQ(a.files.at("tests/lib/a.js"), std::string("bin\0ary", 7));
      EXPECT_EQ(a.files.at(uni), "{}");
      EXPECT_EQ(a.files.at("/opt/shared/x.js"), "shared");
    }
  }
}

TEST(ArchiveSystemTar, TarCommandExtractsOurArchive) {
  if (!have_tar()) GTEST_SKIP() << "no tar command";
  TempDir dir;
  Archive a = sample();
  write_archive(dir / "test.tar", a);
  fs::create_directories(dir / "x");
  ASSERT_EQ(run("tar -C '" + (dir / "x") + "' -xf '" + (dir / "test.tar") + "'"), 0);
  EXPECT_TRUE(fs::exists(dir / "x/metadata.json"));
  for (const auto& [path, contents] : a.files)
    EXPECT_EQ(read_file(dir / ("x/" + entry_name_for(path))), contents) << path;
}

// ------------------------------------------------------------ fuzz seeds

/// The seed corpus of fuzz/archive_fuzz.cc: name -> (bytes, valid?). Kept
/// small (libFuzzer caps input length by the largest seed).
std::vector<std::tuple<std::string, std::string, bool>> fuzz_seeds() {
  Archive minimal;
  minimal.main = "script.js";
  minimal.files["script.js"] = "export default function () {}\n";
  minimal.options = {{"vus", 1}};
  minimal.herd_version = "0.1.0";

  Archive full;
  full.main = "t/main.js";
  full.options = {{"vus", 2}, {"thresholds", {{"checks", {"rate>0.9"}}}}};
  full.env = {{"A", "1"}, {"U", "\u2603"}};
  full.herd_version = "0.1.0";
  full.files["t/main.js"] = "import './lib/l.js'; open('../d/x.bin');";
  full.files["t/lib/l.js"] = "export const l = 1;";
  full.files["d/x.bin"] = std::string("\0\x01\xff\0", 4);
  full.files["t/empty"] = "";
  full.files["t/\u65e5\u672c.json"] = "{}";
  full.files["/abs/s.js"] = "s";
  full.files["t/" + std::string(110, 'n')] = "pax";

  const std::string meta = ustar_entry("metadata.json", metadata_for("s.js", {"s.js"}).dump());
  return {
      {"minimal.tar", write_archive_memory(minimal), true},
      {"full.tar", write_archive_memory(full), true},
      {"dirs_dotslash.tar",
       ustar_header("./", 0, '5') + ustar_entry("./metadata.json", metadata_for("s.js", {"s.js"}).dump()) +
           ustar_header("./files/", 0, '5') + ustar_header("./files/rel/", 0, '5') +
           ustar_entry("./files/rel/s.js", "x") + ustar_end(),
       true},
      {"symlink.tar",
       meta + ustar_entry("files/rel/s.js", "x") + ustar_entry("files/rel/l", "", '2', "/etc/passwd") + ustar_end(),
       false},
      {"traversal.tar", meta + ustar_entry("files/rel/s.js", "x") + ustar_entry("files/rel/../../x", "x") + ustar_end(),
       false},
  };
}

TEST(ArchiveFuzzSeeds, CorpusReadsAsExpected) {
  const fs::path dir = fs::path(HERD_SOURCE_DIR) / "fuzz/corpus/archive";
  const bool update = std::getenv("HERD_UPDATE_FUZZ_SEEDS") != nullptr;
  for (const auto& [name, bytes, valid] : fuzz_seeds()) {
    SCOPED_TRACE(name);
    if (valid) {
      EXPECT_NO_THROW((void)read_archive_memory(bytes));
    } else {
      EXPECT_THROW((void)read_archive_memory(bytes), ArchiveError);
    }
    if (update) {
      fs::create_directories(dir);
      write_file((dir / name).string(), bytes);
    }
    // The checked-in seed (if any) behaves like the generated one.
    if (fs::exists(dir / name)) {
      const std::string seed = read_file((dir / name).string());
      if (valid) {
        EXPECT_NO_THROW((void)read_archive_memory(seed));
      } else {
        EXPECT_THROW((void)read_archive_memory(seed), ArchiveError);
      }
    }
  }
}

}  // namespace
