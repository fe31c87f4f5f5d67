#include "kube/yaml.h"

#include <gtest/gtest.h>

#include <cmath>

#include "kube/config.h"

namespace herd::kube {
namespace {

using nlohmann::json;

TEST(Yaml, ResolvesPlainScalarsLikeKubernetes) {
  json j = parse_yaml(R"(
null1: ~
null2: null
null3:
t: true
y: yes
off: off
int: 42
neg: -7
hex: 0x1F
octal: 0755
octal2: 0o17
bin: 0b101
under: 1_000
big: 18446744073709551615
float: 1.5
exp: 1e3
inf: .inf
nan: .nan
word: hello
version: 1.2.3
ip: 10.0.0.1
)");
  EXPECT_TRUE(j["null1"].is_null());
  EXPECT_TRUE(j["null2"].is_null());
  EXPECT_TRUE(j["null3"].is_null());
  EXPECT_EQ(j["t"], true);
  EXPECT_EQ(j["y"], true);
  EXPECT_EQ(j["off"], false);
  EXPECT_EQ(j["int"], 42);
  EXPECT_TRUE(j["int"].is_number_integer());
  EXPECT_EQ(j["neg"], -7);
  EXPECT_EQ(j["hex"], 31);
  EXPECT_EQ(j["octal"], 493);
  EXPECT_EQ(j["octal2"], 15);
  EXPECT_EQ(j["bin"], 5);
  EXPECT_EQ(j["under"], 1000);
  EXPECT_EQ(j["big"].get<unsigned long long>(), 18446744073709551615ull);
  EXPECT_EQ(j["float"], 1.5);
  EXPECT_EQ(j["exp"], 1000.0);
  EXPECT_TRUE(std::isinf(j["inf"].get<double>()));
  EXPECT_TRUE(std::isnan(j["nan"].get<double>()));
  EXPECT_EQ(j["word"], "hello");
  EXPECT_EQ(j["version"], "1.2.3");
  EXPECT_EQ(j["ip"], "10.0.0.1");
}

TEST(Yaml, QuotedBlockAndTaggedScalarsStayStrings) {
  json j = parse_yaml(R"(
a: "true"
b: '42'
c: !!str 0x10
d: |
  line 1
  line 2
e: >-
  folded
  text
f: !!int "12"
g: !!float 3
)");
  EXPECT_EQ(j["a"], "true");
  EXPECT_EQ(j["b"], "42");
  EXPECT_EQ(j["c"], "0x10");
  EXPECT_EQ(j["d"], "line 1\nline 2\n");
  EXPECT_EQ(j["e"], "folded text");
  EXPECT_EQ(j["f"], 12);
  EXPECT_EQ(j["g"], 3.0);
  EXPECT_TRUE(j["g"].is_number_float());
}

TEST(Yaml, MultipleDocumentsSkipEmptyOnes) {
  auto docs = parse_yaml_documents(R"(---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
data: {k: v}
---
---
# only a comment
---
apiVersion: v1
kind: List
items:
- name: x
  ports: [80, 443]
)");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0]["metadata"]["name"], "a");
  EXPECT_EQ(docs[0]["data"]["k"], "v");
  EXPECT_EQ(docs[1]["items"][0]["ports"], json::array({80, 443}));
  EXPECT_EQ(parse_yaml_documents("").size(), 0u);
  EXPECT_TRUE(parse_yaml("").is_null());
  EXPECT_THROW(parse_yaml("a: 1\n---\nb: 2\n"), Error);
}

TEST(Yaml, AnchorsAreExpanded) {
  json j = parse_yaml("base: &b {cpu: 1}\nother: *b\n");
  EXPECT_EQ(j["other"]["cpu"], 1);
}

TEST(Yaml, ErrorsCarryLineAndColumn) {
  try {
    parse_yaml("a: 1\nb: [2\n");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("yaml: line ", 0), 0u) << e.what();
  }
  EXPECT_THROW(parse_yaml("a: !!int nope\n"), Error);
  EXPECT_THROW(parse_yaml("base: &b {x: 1}\nc:\n  <<: *b\n"), Error);
  EXPECT_THROW(parse_yaml("? [a, b]\n: c\n"), Error);
  try {
    std::string deep;
    for (int i = 0; i < 3000; ++i) deep += "- ";
    parse_yaml(deep);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nested too deeply"), std::string::npos) << e.what();
  }
}

TEST(Yaml, SurvivesInputsThatLoopYamlCpp) {
  EXPECT_THROW(parse_yaml_documents(", a\n"), Error);  // yaml-cpp 0.7's LoadAll never returns on this
  EXPECT_THROW(parse_yaml(std::string(100'000, '[')), Error);
}

TEST(Yaml, RejectsInvalidUtf8AndControlCharacters) {
  EXPECT_EQ(parse_yaml("name: \"h\xc3\xa9llo \xf0\x9f\x90\x91\"\n")["name"], "h\xc3\xa9llo \xf0\x9f\x90\x91");
  EXPECT_EQ(parse_yaml("\xef\xbb\xbf"
                       "a: 1\n")["a"],
            1);  // a BOM
  for (const char* bad : {"a: \xff\n", "a: \xc3\n", "a: \xc0\xaf\n", "a: \xed\xa0\x80\n", "a: 1\nb: \x01\n"}) {
    try {
      parse_yaml(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("yaml: line ", 0), 0u) << e.what();
    }
  }
}

TEST(Yaml, BoundsAliasExpansion) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'h'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    bomb += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n";
  }
  EXPECT_THROW(parse_yaml(bomb), Error);
}

}  // namespace
}  // namespace herd::kube
