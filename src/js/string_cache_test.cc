#include "js/string_cache.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "js/runtime.h"

namespace herd::js {
namespace {

class StringCacheTest : public ::testing::Test {
 protected:
  JSContext* ctx() { return rt_.ctx(); }
  Value eval(const std::string& code) {
    Value v(ctx(), JS_Eval(ctx(), code.c_str(), code.size(), "<test>", JS_EVAL_TYPE_GLOBAL));
    EXPECT_FALSE(v.is_exception()) << code;
    return v;
  }
  /// What the cache gives for `expr` evaluated now, or "<null>".
  std::string text_of(StringCache& c, const std::string& expr) {
    Value v = eval(expr);
    const std::string* t = c.text(ctx(), v.get());
    return t ? *t : "<null>";
  }
  Runtime rt_{0, 0, true};
};

TEST_F(StringCacheTest, ALiteralIsConvertedOnceAndAnsweredFromTheCacheAfter) {
  StringCache c;
  eval("var make = () => 'application/json';");
  EXPECT_EQ(text_of(c, "make()"), "application/json");
  EXPECT_EQ(c.hits(), 0u);
  for (int i = 0; i < 5; i++) EXPECT_EQ(text_of(c, "make()"), "application/json");
  EXPECT_EQ(c.hits(), 5u);
  EXPECT_EQ(c.held(), 1u);
  c.release(ctx());
  EXPECT_EQ(c.held(), 0u);
}

TEST_F(StringCacheTest, EqualTextInAnotherStringIsAnotherEntryAndChangedValuesAreNeverStale) {
  StringCache c;
  // Strings built at run time: a new JSString each time, with new text each time.
  for (int i = 0; i < 200; i++) {
    const std::string want = "id-" + std::to_string(i);
    EXPECT_EQ(text_of(c, "'id-' + " + std::to_string(i)), want);
    JS_RunGC(JS_GetRuntime(ctx()));  // frees the unheld ones, so their memory is reused
  }
  EXPECT_EQ(c.hits(), 0u);
  EXPECT_LE(c.held(), StringCache::kSlots);
  c.release(ctx());
}

TEST_F(StringCacheTest, ConvertsAsJsToCStringDoesWhateverTheValue) {
  StringCache c;
  EXPECT_EQ(text_of(c, "42"), "42");
  EXPECT_EQ(text_of(c, "'h\\u00e9llo \\u20ac'"), "h\xc3\xa9llo \xe2\x82\xac");
  EXPECT_EQ(text_of(c, "'x'.repeat(300)"), std::string(300, 'x'));  // longer than kMaxBytes
  // The same value, converted through the cache (twice: the second from it
  // when kept) and by js::to_string.
  std::size_t flat_short = 1;  // the accented literal above
  for (const char* expr :
       {"1.5e300", "undefined", "null", "-0", "({ toString() { return 'obj'; } })", "'\\ud800 lone'", "'\\u{1F600} x'",
        "'nul\\0inside'", "'y'.repeat(40) + 'z'.repeat(40)", "'w'.repeat(256)", "'v'.repeat(257)"}) {
    Value v = eval(std::string("var probe = ") + expr + "; probe");
    const std::string want = to_string(ctx(), v.get());
    const std::string* first = c.text(ctx(), v.get());
    ASSERT_NE(first, nullptr) << expr;
    EXPECT_EQ(*first, want) << expr;
    const std::string* second = c.text(ctx(), v.get());
    ASSERT_NE(second, nullptr) << expr;
    EXPECT_EQ(*second, want) << expr;
    if (JS_VALUE_GET_TAG(v.get()) == JS_TAG_STRING && want.size() <= StringCache::kMaxBytes) flat_short++;
  }
  EXPECT_EQ(c.held(), flat_short);
  EXPECT_GE(flat_short, 5u);  // the lone surrogate, emoji, NUL and 256-byte literals at least
  c.release(ctx());
}

TEST_F(StringCacheTest, AThrowingConversionGivesNullWithTheExceptionPending) {
  StringCache c;
  Value v = eval("({ toString() { throw new Error('no text'); } })");
  EXPECT_EQ(c.text(ctx(), v.get()), nullptr);
  Value exc(ctx(), JS_GetException(ctx()));
  EXPECT_TRUE(JS_IsError(ctx(), exc.get()));
  Value sym = eval("Symbol('s')");
  EXPECT_EQ(c.text(ctx(), sym.get()), nullptr);  // String(symbol) is allowed, ToString throws
  discard_exception(ctx());
  c.release(ctx());
}

TEST_F(StringCacheTest, HotEntriesSurviveAStreamOfOneOffStrings) {
  StringCache c;
  std::string hot = "var hot = [";
  for (std::size_t i = 0; i < StringCache::kSlots / 2; i++) hot += "'hot-" + std::to_string(i) + "',";
  eval(hot + "];");
  auto read_hot = [&] {
    for (std::size_t i = 0; i < StringCache::kSlots / 2; i++)
      EXPECT_EQ(text_of(c, "hot[" + std::to_string(i) + "]"), "hot-" + std::to_string(i));
  };
  read_hot();
  read_hot();  // each read once more: marked
  const std::size_t before = c.hits();
  EXPECT_EQ(before, StringCache::kSlots / 2);
  for (int round = 0; round < 20; round++) {
    for (int k = 0; k < 3; k++) text_of(c, "'once-" + std::to_string(round) + "-" + std::to_string(k) + "'");
    read_hot();  // as a request does: its literals, then a generated id or two
  }
  EXPECT_EQ(c.hits(), before + 20 * StringCache::kSlots / 2);  // never evicted
  c.release(ctx());
}

TEST_F(StringCacheTest, AtomsAreKeptByIdentityAndHeld) {
  StringCache c;
  const JSAtom a = JS_NewAtom(ctx(), "X-Bench-Flow");
  const std::string* t = c.atom_text(ctx(), a);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(*t, "X-Bench-Flow");
  JS_FreeAtom(ctx(), a);  // the cache holds its own reference: the atom stays, and so does its id
  const JSAtom again = JS_NewAtom(ctx(), "X-Bench-Flow");
  EXPECT_EQ(again, a);
  t = c.atom_text(ctx(), again);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(*t, "X-Bench-Flow");
  EXPECT_EQ(c.hits(), 1u);
  const JSAtom index = JS_NewAtomUInt32(ctx(), 123);  // an integer key
  t = c.atom_text(ctx(), index);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(*t, "123");
  const JSAtom nul = JS_NewAtomLen(ctx(), "a\0b", 3);  // JS_AtomToCString would stop at the NUL
  t = c.atom_text(ctx(), nul);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(*t, std::string("a\0b", 3));
  JS_FreeAtom(ctx(), again);
  JS_FreeAtom(ctx(), index);
  JS_FreeAtom(ctx(), nul);
  c.release(ctx());
}

TEST_F(StringCacheTest, ReleaseGivesBackEveryStringAndAtom) {
  JSMemoryUsage before{}, held{}, after{};
  JS_RunGC(JS_GetRuntime(ctx()));
  JS_ComputeMemoryUsage(JS_GetRuntime(ctx()), &before);
  {
    StringCache c;
    for (int i = 0; i < 40; i++) {
      Value v = eval("'s' + " + std::to_string(i));
      ASSERT_NE(c.text(ctx(), v.get()), nullptr);
      const std::string name = "key" + std::to_string(i);
      const JSAtom a = JS_NewAtom(ctx(), name.c_str());
      ASSERT_NE(c.atom_text(ctx(), a), nullptr);
      JS_FreeAtom(ctx(), a);
    }
    JS_RunGC(JS_GetRuntime(ctx()));
    JS_ComputeMemoryUsage(JS_GetRuntime(ctx()), &held);
    EXPECT_GE(held.malloc_count, before.malloc_count + 2 * StringCache::kSlots);  // strings and atoms' strings
    EXPECT_GE(held.atom_count, before.atom_count + StringCache::kSlots);
    c.release(ctx());
  }
  JS_RunGC(JS_GetRuntime(ctx()));
  JS_ComputeMemoryUsage(JS_GetRuntime(ctx()), &after);
  EXPECT_EQ(after.malloc_count, before.malloc_count);
  EXPECT_EQ(after.malloc_size, before.malloc_size);
  EXPECT_EQ(after.atom_count, before.atom_count);
}

TEST_F(StringCacheTest, TheRuntimesOwnCacheIsReachableFromItsContext) {
  StringCache* c = string_cache(ctx());
  ASSERT_NE(c, nullptr);
  Value v = eval("'kept by the runtime'");
  ASSERT_NE(c->text(ctx(), v.get()), nullptr);
  EXPECT_EQ(c->held(), 1u);  // released by ~Runtime (a leak would fail the sanitizer builds)
}

}  // namespace
}  // namespace herd::js
