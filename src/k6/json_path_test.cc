#include "k6/json_path.h"

#include <gtest/gtest.h>

namespace herd::k6 {
namespace {

using Json = nlohmann::ordered_json;

const Json& doc() {
  static const Json d = Json::parse(R"({
    "name": {"first": "Ada", "last": "Byron"},
    "age": 36,
    "fav.movie": "Metropolis",
    "children": ["Byron", "Anne", "Ralph"],
    "items": [
      {"id": 1, "name": "x", "tags": ["a", "b"], "n": 1},
      {"id": 2, "name": "y", "n": 3},
      {"id": 3, "name": "x", "n": 5, "ok": true},
      {"name": "z", "n": 2.5, "ok": false, "none": null}
    ],
    "nets": [{"net": "fb"}, {"net": "tw"}],
    "empty": []
  })");
  return d;
}

Json sel(std::string_view p) {
  auto r = select_json_path(doc(), p);
  return r ? *r : Json("<missing>");
}

TEST(JsonPath, KeysAndIndexes) {
  EXPECT_EQ(sel("age"), 36);
  EXPECT_EQ(sel("name.last"), "Byron");
  EXPECT_EQ(sel("children.1"), "Anne");
  EXPECT_EQ(sel("items.0.id"), 1);
  EXPECT_EQ(sel("items.0.tags.1"), "b");
  EXPECT_EQ(sel("fav\\.movie"), "Metropolis");
}

TEST(JsonPath, MissingIsNullopt) {
  EXPECT_FALSE(select_json_path(doc(), "nope").has_value());
  EXPECT_FALSE(select_json_path(doc(), "children.9").has_value());
  EXPECT_FALSE(select_json_path(doc(), "age.x").has_value());
  EXPECT_FALSE(select_json_path(doc(), "name.#").has_value());
  EXPECT_FALSE(select_json_path(doc(), "items.#(id==9).name").has_value());
  EXPECT_FALSE(select_json_path(doc(), "fav.movie").has_value());
  // present but null is a value, not missing
  EXPECT_EQ(sel("items.3.none"), nullptr);
}

TEST(JsonPath, CountAndProjection) {
  EXPECT_EQ(sel("children.#"), 3);
  EXPECT_EQ(sel("items.#"), 4);
  EXPECT_EQ(sel("empty.#"), 0);
  EXPECT_EQ(sel("items.#.id"), Json::parse("[1,2,3]"));  // the element without id is skipped
  EXPECT_EQ(sel("items.#.tags.#"), Json::parse("[2]"));
  EXPECT_EQ(sel("items.#.name|1"), "y");
  EXPECT_EQ(sel("items.#.id|#"), 3);
}

TEST(JsonPath, Queries) {
  EXPECT_EQ(sel("items.#(name==\"y\").id"), 2);
  EXPECT_EQ(sel("items.#(name=\"y\").id"), 2);
  EXPECT_EQ(sel("items.#(name==\"x\")#.id"), Json::parse("[1,3]"));
  EXPECT_EQ(sel("items.#(n>2)#.id"), Json::parse("[2,3]"));
  EXPECT_EQ(sel("items.#(n>=2.5)#.name"), Json::parse(R"(["y","x","z"])"));
  EXPECT_EQ(sel("items.#(n<2).name"), "x");
  EXPECT_EQ(sel("items.#(n!=1)#|#"), 3);
  EXPECT_EQ(sel("items.#(name%\"*z*\").n"), 2.5);
  EXPECT_EQ(sel("items.#(name!%\"x\")#.name"), Json::parse(R"(["y","z"])"));
  EXPECT_EQ(sel("items.#(ok==true).id"), 3);
  EXPECT_EQ(sel("items.#(ok==false).name"), "z");
  EXPECT_EQ(sel("items.#(none==null).name"), "z");
  EXPECT_EQ(sel("items.#(tags).id"), 1);  // no operator: the path exists
  EXPECT_EQ(sel("children.#(==\"Anne\")"), "Anne");
  EXPECT_EQ(sel("children.#(%\"R*\")#"), Json::parse(R"(["Ralph"])"));
  EXPECT_EQ(sel("items.#(tags.#(==\"b\")).id"), 1);  // nested query
  EXPECT_EQ(sel("items.#(name==\"x\")#|#"), 2);
  // type mismatch never matches
  EXPECT_FALSE(select_json_path(doc(), "items.#(id==\"1\")").has_value());
}

TEST(JsonPath, WildcardsAndModifiers) {
  EXPECT_EQ(sel("name.f*"), "Ada");
  EXPECT_EQ(sel("name.?ast"), "Byron");
  EXPECT_EQ(sel("a?e"), 36);
  EXPECT_EQ(sel("children|@reverse|0"), "Ralph");
  EXPECT_EQ(sel("name|@keys"), Json::parse(R"(["first","last"])"));
  EXPECT_EQ(sel("name.@values"), Json::parse(R"(["Ada","Byron"])"));
  EXPECT_EQ(sel("@this.age"), 36);
}

TEST(JsonPath, Glob) {
  EXPECT_TRUE(json_path_glob("*", ""));
  EXPECT_TRUE(json_path_glob("a*c", "abbbc"));
  EXPECT_FALSE(json_path_glob("a*c", "abbb"));
  EXPECT_TRUE(json_path_glob("a?c", "abc"));
  EXPECT_TRUE(json_path_glob("a\\*", "a*"));
  EXPECT_FALSE(json_path_glob("a\\*", "ab"));
  EXPECT_TRUE(json_path_glob("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaab"));
}

TEST(JsonPath, BadPathsAreErrors) {
  for (const char* p : {"", "a.", "a|", "items.#(n>", "items.#(n>2", "items.#(", "items.#x", "{a,b}", "[a]", "@pretty",
                        "a\\", "items.#(n>abc)", "items.#(n==\"x)", "!true", "empty.#(@pretty==1)", "empty.#(a.)"}) {
    EXPECT_THROW(select_json_path(doc(), p), JsonPathError) << p;
  }
  try {
    select_json_path(doc(), "@pretty");
  } catch (const JsonPathError& e) {
    EXPECT_NE(std::string(e.what()).find("@pretty"), std::string::npos);
  }
}

TEST(JsonPath, DeepNestingIsRefused) {
  std::string p = "items";
  for (int i = 0; i < 40; i++) p += ".#(x";
  for (int i = 0; i < 40; i++) p += ")";
  // parses (balanced) but evaluation refuses past the depth limit rather than recursing without bound
  EXPECT_THROW(select_json_path(Json::parse(R"({"items":[{"x":[{"x":1}]}]})"), p), JsonPathError);
}

}  // namespace
}  // namespace herd::k6
