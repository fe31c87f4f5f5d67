// Checks docs/k6-compatibility.md against the tree: known statuses, tests that
// exist, refusal messages that are in the source, and a row for every option,
// flag and output herd parses.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "exec/option_support.h"
#include "flags/run_flags.h"

namespace herd::cli {
namespace {

using namespace herd::flags;

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Row {
  std::string section, name, status, proof;
  int line = 0;
};

std::vector<Row> table_rows(const std::string& doc) {
  std::vector<Row> rows;
  std::istringstream in(doc);
  std::string line, section;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("## ", 0) == 0) section = line.substr(3);
    if (line.rfind("| ", 0) != 0 || line.rfind("| Name |", 0) == 0) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    std::string cell;
    while (std::getline(ss, cell, '|')) {
      auto b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
      cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
    }
    if (cells.size() < 3) continue;
    rows.push_back({section, cells[0], cells[1], cells[2], n});
  }
  return rows;
}

std::vector<std::string> backticked(const std::string& s) {
  std::vector<std::string> out;
  std::regex re("`([^`]+)`");
  for (std::sregex_iterator it(s.begin(), s.end(), re), end; it != end; ++it) out.push_back((*it)[1]);
  return out;
}

class CompatTable : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = HERD_SOURCE_DIR;
    doc_ = read(root_ / "docs/k6-compatibility.md");
    rows_ = table_rows(doc_);
    std::regex test_re(R"(TEST(?:_F|_P)?\((\w+),\s*(\w+)\))");  // TEST_P: named as written
    for (const char* dir : {"src", "tests"}) {
      for (const auto& e : fs::recursive_directory_iterator(root_ / dir)) {
        if (!e.is_regular_file() || e.path().extension() != ".cc") continue;
        std::string text = read(e.path());
        bool is_test = e.path().filename().string().find("_test") != std::string::npos;
        if (!is_test) sources_ += text;
        for (std::sregex_iterator it(text.begin(), text.end(), test_re), end; it != end; ++it)
          tests_.insert((*it)[1].str() + "." + (*it)[2].str());
      }
    }
  }
  std::vector<const Row*> section(const std::string& prefix) const {
    std::vector<const Row*> out;
    for (const auto& r : rows_)
      if (r.section.rfind(prefix, 0) == 0) out.push_back(&r);
    return out;
  }

  fs::path root_;
  std::string doc_, sources_;
  std::vector<Row> rows_;
  std::set<std::string> tests_;
};

TEST_F(CompatTable, EveryRowHasAKnownStatusAndItsEvidence) {
  ASSERT_GT(rows_.size(), 100u);
  std::regex test_name(R"(^\w+\.\w+$)");
  for (const Row& r : rows_) {
    SCOPED_TRACE("docs/k6-compatibility.md:" + std::to_string(r.line) + " " + r.name);
    ASSERT_TRUE(r.status == "works" || r.status == "refused" || r.status == "not yet") << r.status;
    auto quoted = backticked(r.proof);
    if (r.status == "works") {
      int named = 0;
      for (const auto& q : quoted) {
        if (!std::regex_match(q, test_name)) continue;
        ++named;
        EXPECT_TRUE(tests_.count(q)) << "no test named " << q;
      }
      EXPECT_GT(named, 0) << "a works row names its test";
    } else if (r.status == "refused") {
      ASSERT_FALSE(quoted.empty()) << "a refused row quotes its message";
      EXPECT_NE(sources_.find(quoted[0]), std::string::npos) << "message not in the source: " << quoted[0];
    }
  }
}

TEST_F(CompatTable, EveryOptionHerdParsesOrK6DocumentsHasARow) {
  std::set<std::string> names;
  for (const Row* r : section("Options")) names.insert(r->name);
  std::string opts = read(root_ / "src/exec/options.cc");
  auto a = opts.find("void apply_script(");
  auto b = opts.find("// ---- environment tier");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  std::string body = opts.substr(a, b - a);
  std::regex key_re(R"re(k == "(\w+)")re");
  int parsed = 0;
  for (std::sregex_iterator it(body.begin(), body.end(), key_re), end; it != end; ++it, ++parsed)
    EXPECT_TRUE(names.count((*it)[1])) << "option parsed by options.cc without a row: " << (*it)[1];
  EXPECT_GT(parsed, 20);
  for (const auto& k : exec::k6_option_names()) EXPECT_TRUE(names.count(k)) << "k6 option without a row: " << k;
}

TEST_F(CompatTable, EveryFlagInHelpHasARow) {
  std::string flag_cells;
  for (const Row* r : section("`k6 run` flags")) flag_cells += r->name + "\n";
  std::string usage = run_usage();
  std::regex flag_re(R"(--([a-z][a-z-]*))");
  int seen = 0;
  for (std::sregex_iterator it(usage.begin(), usage.end(), flag_re), end; it != end; ++it, ++seen) {
    std::string flag = (*it)[0];
    std::regex whole(std::regex_replace(flag, std::regex("-"), "\\-") + "(,|\\n|$)");
    EXPECT_TRUE(std::regex_search(flag_cells, whole)) << "flag in --help without a row: " << flag;
  }
  EXPECT_GT(seen, 30);
}

TEST_F(CompatTable, OutputsHaveRows) {
  std::set<std::string> names;
  for (const Row* r : section("Outputs")) names.insert(r->name);
  for (const char* n : {"json=FILE", "json=FILE.gz", "json=-", "csv=FILE"}) EXPECT_TRUE(names.count(n)) << n;
}

}  // namespace
}  // namespace herd::cli
