#include "html/selector.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace herd::html {
namespace {

const char* kPage = R"(<html><body>
<div id="main" class="box wide" lang="en-US">
  <h1>Title</h1>
  <ul class="items">
    <li class="item first" data-n="1">one</li>
    <li class="item" data-n="2"><a href="/two">two</a></li>
    <li class="item last" data-n="3">three</li>
  </ul>
  <p>para <span>inner</span></p>
  <form><input type="checkbox" name="c" checked><input name="t" disabled><option selected>o</option></form>
</div>
<p id="tail" title="Hello World"></p>
</body></html>)";

// Texts (or ids) of the elements `sel` selects in kPage, joined by '|'.
std::string pick(const char* sel) {
  static auto doc = Document::parse(kPage);
  std::string err;
  auto s = parse_selector(sel, &err);
  if (!s) return "error: " + err;
  std::string out;
  for (Node n : select_descendants(*s, {doc->root()})) {
    if (!out.empty()) out += '|';
    const char* id = attribute(n, "id");
    out += id ? std::string("#") + id : tag_name(n) + ":" + text_content(n);
  }
  return out;
}

TEST(Selector, TypeIdClassUniversal) {
  EXPECT_EQ(pick("h1"), "h1:Title");
  EXPECT_EQ(pick("#tail"), "#tail");
  EXPECT_EQ(pick(".item.last"), "li:three");
  EXPECT_EQ(pick("ul > *"), "li:one|li:two|li:three");
  EXPECT_EQ(pick("P"), "p:para inner|#tail");
}

TEST(Selector, AttributeOperators) {
  EXPECT_EQ(pick("[data-n]"), "li:one|li:two|li:three");
  EXPECT_EQ(pick("li[data-n='2']"), "li:two");
  EXPECT_EQ(pick("[class~=first]"), "li:one");
  EXPECT_EQ(pick("[lang|=en]"), "#main");
  EXPECT_EQ(pick("a[href^='/t']"), "a:two");
  EXPECT_EQ(pick("[title$=World]"), "#tail");
  EXPECT_EQ(pick("[title*='lo Wo']"), "#tail");
  EXPECT_EQ(pick("[title='hello world' i]"), "#tail");
  EXPECT_EQ(pick("[title='hello world']"), "");
}

TEST(Selector, Combinators) {
  EXPECT_EQ(pick("div span"), "span:inner");
  EXPECT_EQ(pick("div > span"), "");
  EXPECT_EQ(pick("h1 + ul > li + li"), "li:two|li:three");
  EXPECT_EQ(pick("h1 ~ p"), "p:para inner");
  EXPECT_EQ(pick("h1, #tail"), "h1:Title|#tail");
}

TEST(Selector, PseudoClasses) {
  EXPECT_EQ(pick("li:first-child"), "li:one");
  EXPECT_EQ(pick("li:last-child"), "li:three");
  EXPECT_EQ(pick("li:nth-child(odd)"), "li:one|li:three");
  EXPECT_EQ(pick("li:nth-child(even)"), "li:two");
  EXPECT_EQ(pick("li:nth-child(-n+2)"), "li:one|li:two");
  EXPECT_EQ(pick("li:nth-last-child(1)"), "li:three");
  EXPECT_EQ(pick("li:not(.first, .last)"), "li:two");
  EXPECT_EQ(pick("li:has(a)"), "li:two");
  EXPECT_EQ(pick("li:contains(\"thr\")"), "li:three");
  EXPECT_EQ(pick("p:empty"), "#tail");
  EXPECT_EQ(pick(":checked"), "input:|option:o");
  EXPECT_EQ(pick("input:disabled"), "input:");
  EXPECT_EQ(pick("body:root"), "");
}

TEST(Selector, BadInputIsAnErrorNotACrash) {
  for (const char* bad : {"", "  ", "div >", "[a", "[a=", "[a='x]", ":nth-child(x)", ":bogus", "a,,b", "::before",
                          ":not(", "#", "a)", ":contains(", "[a~~b]", "li:nth-child(2n+)"}) {
    std::string err;
    EXPECT_FALSE(parse_selector(bad, &err)) << bad;
    EXPECT_NE(err.find("invalid selector"), std::string::npos) << bad;
  }
  std::string deep;
  for (int i = 0; i < 20; i++) deep += ":not(";
  std::string err;
  EXPECT_FALSE(parse_selector(deep + "a" + std::string(20, ')'), &err));
  EXPECT_NE(err.find("nested"), std::string::npos);
}

TEST(Selector, BacktrackingStaysPolynomial) {
  std::string page;
  for (int i = 0; i < 400; i++) page += "<div>";
  auto doc = Document::parse(page);
  std::string text = "section";  // never matches: every descendant chain must be ruled out
  for (int i = 0; i < 12; i++) text += " div";
  std::string err;
  auto sel = parse_selector(text, &err);
  ASSERT_TRUE(sel) << err;
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(select_descendants(*sel, {doc->root()}).empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  auto found = parse_selector("div div div", &err);
  EXPECT_EQ(select_descendants(*found, {doc->root()}).size(), 398u);
}

}  // namespace
}  // namespace herd::html
