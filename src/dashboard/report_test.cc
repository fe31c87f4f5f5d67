#include "dashboard/report.h"

#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

namespace herd::dashboard {
namespace {

TEST(Report, IsOneFileWithEverythingInlined) {
  std::string html = render_report({R"({"t":1,"name":"</script><!-- x"})", R"({"t":2})"});
  // Nothing to fetch: every src= and href= is a data: URI (the empty favicon, dygraphs' own image).
  std::vector<std::string> refs;
  std::regex ref(R"re((src|href)="([^"]*)")re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator(); ++it)
    refs.push_back((*it)[2]);
  ASSERT_FALSE(refs.empty());
  for (const auto& r : refs) EXPECT_EQ(r.rfind("data:", 0), 0u) << r;
  EXPECT_NE(html.find("Dygraph"), std::string::npos);
  EXPECT_NE(html.find("window.herdReport = [\n{\"t\":1"), std::string::npos);
  // The data cannot end its script early or open a comment.
  EXPECT_NE(html.find(R"("name":"\u003c/script>\u003c!-- x")"), std::string::npos);
  EXPECT_EQ(html.find("</script><!-- x"), std::string::npos);
  EXPECT_NE(html.find("<title>herd: test report</title>"), std::string::npos);
}

TEST(Report, WritesTheFileOrSaysWhy) {
  std::string path = ::testing::TempDir() + "herd-report-test.html";
  EXPECT_EQ(write_report(path, {R"({"t":1})"}), "");
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), render_report({R"({"t":1})"}));
  std::string err = write_report("/nonexistent-dir/r.html", {});
  EXPECT_NE(err.find("/nonexistent-dir/r.html"), std::string::npos) << err;
}

}  // namespace
}  // namespace herd::dashboard
