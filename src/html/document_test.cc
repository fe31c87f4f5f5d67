#include "html/document.h"

#include <gtest/gtest.h>

#include <string>

#include "html/selector.h"

namespace herd::html {
namespace {

Node first(const std::shared_ptr<Document>& d, const char* sel) {
  std::string err;
  auto s = parse_selector(sel, &err);
  EXPECT_TRUE(s) << err;
  auto found = select_descendants(*s, {d->root()});
  return found.empty() ? nullptr : found[0];
}

TEST(Document, ParsesIntoHtml5Tree) {
  auto d = Document::parse("<title>T</title><p class='a  b'>one<b>two</b>");
  Node p = first(d, "p");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(tag_name(parent_of(p)), "body");  // implied <html><body>
  EXPECT_EQ(text_content(p), "onetwo");
  EXPECT_EQ(own_text(p), "one");
  EXPECT_EQ(class_list(p), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(node_type(p), 1);
  EXPECT_EQ(node_name(d->root()), "#document");
}

TEST(Document, SerializesEscapedMarkup) {
  auto d = Document::parse("<div id=x title='a\"b&c'>1 &lt; 2<br><!--c--><script>if (a<b) {}</script></div>");
  Node div = first(d, "#x");
  ASSERT_NE(div, nullptr);
  EXPECT_EQ(inner_html(div), "1 &lt; 2<br><!--c--><script>if (a<b) {}</script>");
  EXPECT_EQ(outer_html(div),
            "<div id=\"x\" title=\"a&quot;b&amp;c\">1 &lt; 2<br><!--c--><script>if (a<b) {}</script></div>");
}

TEST(Document, UnknownTagsKeepTheirName) {
  auto d = Document::parse("<My-Widget data-x=1>w</My-Widget>");
  Node w = first(d, "my-widget");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(tag_name(w), "my-widget");
  EXPECT_STREQ(attribute(w, "DATA-X"), "1");
  EXPECT_EQ(attribute(w, "nope"), nullptr);
}

TEST(Document, SiblingsAndOrder) {
  auto d = Document::parse("<ul><li>a</li> <li>b</li><li>c</li></ul>");
  Node b = first(d, "li:nth-child(2)");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(text_content(prev_element(b)), "a");
  EXPECT_EQ(text_content(next_element(b)), "c");
  EXPECT_EQ(node_type(prev_sibling(b)), 3);  // the whitespace text node
  EXPECT_TRUE(contains(parent_of(b), b));
  EXPECT_FALSE(contains(b, parent_of(b)));
}

TEST(Document, DeepNestingNeitherRecursesNorLeaks) {
  std::string html;
  for (int i = 0; i < 20000; i++) html += "<div>";
  html += "deep";
  auto d = Document::parse(html);
  EXPECT_EQ(text_content(d->root()), "deep");
  EXPECT_EQ(outer_html(d->root()).size() > 100000, true);
}

}  // namespace
}  // namespace herd::html
