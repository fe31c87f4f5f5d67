#include "js/shape_keeper.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "js/runtime.h"

namespace herd::js {
namespace {

class ShapeKeeperTest : public ::testing::Test {
 protected:
  JSContext* ctx() { return rt_.ctx(); }
  Value eval(const char* code) {
    Value v(ctx(), JS_Eval(ctx(), code, std::strlen(code), "<test>", JS_EVAL_TYPE_GLOBAL));
    EXPECT_FALSE(v.is_exception()) << code;
    return v;
  }
  /// Shows `obj` to `k` as a native that enumerates it does.
  static void show(ShapeKeeper& k, JSContext* ctx, JSValueConst obj) {
    JSPropertyEnum* props = nullptr;
    uint32_t n = 0;
    ASSERT_EQ(JS_GetOwnPropertyNames(ctx, &props, &n, obj, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY), 0);
    k.seen(ctx, obj, props, n);
    for (uint32_t i = 0; i < n; i++) JS_FreeAtom(ctx, props[i].atom);
    js_free(ctx, props);
  }
  /// Shows what `expr` makes `times` times, made by one compiled function as a
  /// script's literal is (its bytecode holds the key atoms, as a script's does).
  void show_times(ShapeKeeper& k, const std::string& expr, std::uint32_t times) {
    eval(("var make = () => (" + expr + ");").c_str());
    for (std::uint32_t i = 0; i < times; i++) show(k, ctx(), eval("make()").get());
  }
  Runtime rt_{0, 0, true};
};

TEST_F(ShapeKeeperTest, AKeyListSeenOftenIsKeptOnceWithOneObjectPerPrefix) {
  ShapeKeeper k;
  show_times(k, "({a: 1, b: 2, c: 3})", ShapeKeeper::kHotSightings - 1);
  EXPECT_EQ(k.keepers(), 0u);  // not yet hot
  show_times(k, "({a: 1, b: 2, c: 3})", 1);
  EXPECT_EQ(k.keepers(), 4u);  // {}, {a}, {a,b}, {a,b,c}
  show_times(k, "({a: 1, b: 2, c: 3})", 2 * ShapeKeeper::kHotSightings);
  EXPECT_EQ(k.keepers(), 4u);  // kept once
  // Another key list with the same prototype: its empty shape is kept already.
  show_times(k, "({x: 1, y: 2})", ShapeKeeper::kHotSightings);
  EXPECT_EQ(k.keepers(), 6u);
  // The same keys in another order are another shape chain.
  show_times(k, "({y: 1, x: 2})", ShapeKeeper::kHotSightings);
  EXPECT_EQ(k.keepers(), 8u);
  k.release(ctx());
  EXPECT_EQ(k.keepers(), 0u);
}

TEST_F(ShapeKeeperTest, KeepNowKeepsAtOnceAndOnce) {
  ShapeKeeper k;
  JSAtom keys[] = {JS_NewAtom(ctx(), "x"), JS_NewAtom(ctx(), "y")};
  Value proto(ctx(), JS_GetClassProto(ctx(), ShapeKeeper::kClassObject));
  k.keep_now(ctx(), proto.get(), ShapeKeeper::kClassObject, keys, 2);
  EXPECT_EQ(k.keepers(), 3u);  // {}, {x}, {x,y}
  k.keep_now(ctx(), proto.get(), ShapeKeeper::kClassObject, keys, 2);
  show_times(k, "({x: 1, y: 2})", 2 * ShapeKeeper::kHotSightings);  // the same list, seen: kept already
  EXPECT_EQ(k.keepers(), 3u);
  for (JSAtom a : keys) JS_FreeAtom(ctx(), a);
  k.release(ctx());
}

TEST_F(ShapeKeeperTest, SightingsSlowerThanTheWindowKeepNothing) {
  ShapeKeeper k(std::chrono::steady_clock::duration::zero());  // every window has passed
  show_times(k, "({a: 1, b: 2})", 4 * ShapeKeeper::kHotSightings);
  EXPECT_EQ(k.keepers(), 0u);
  k.release(ctx());
}

TEST_F(ShapeKeeperTest, OnlyOrdinaryObjectsWithFewKeysAreKept) {
  ShapeKeeper k;
  std::string many = "({";
  for (std::uint32_t i = 0; i <= ShapeKeeper::kMaxKeys; i++) many += "k" + std::to_string(i) + ": 0,";
  many += "})";
  show_times(k, many, ShapeKeeper::kHotSightings);
  show_times(k, "[1, 2, 3]", ShapeKeeper::kHotSightings);
  show_times(k, "new Proxy({a: 1}, {})", ShapeKeeper::kHotSightings);
  show_times(k, "({})", ShapeKeeper::kHotSightings);
  show_times(k, "new Date(0)", ShapeKeeper::kHotSightings);
  EXPECT_EQ(k.keepers(), 0u);
  // An object with another prototype is kept with that prototype.
  eval("var P = {p: 1};");
  show_times(k, "Object.create(P, {q: {value: 1, enumerable: true, writable: true, configurable: true}})",
             ShapeKeeper::kHotSightings);
  EXPECT_EQ(k.keepers(), 2u);
  k.release(ctx());
}

TEST_F(ShapeKeeperTest, KeepersAreBoundedAndInvisibleToTheScript) {
  ShapeKeeper k;
  for (int list = 0; list < 40; list++) {
    std::string lit = "({";
    for (int i = 0; i < 6; i++) lit += "l" + std::to_string(list) + "_" + std::to_string(i) + ": 0,";
    lit += "})";
    show_times(k, lit, ShapeKeeper::kHotSightings);
  }
  EXPECT_LE(k.keepers(), ShapeKeeper::kMaxKeepers);
  EXPECT_GT(k.keepers(), 0u);
  // Objects built after their shapes are kept behave as before.
  Value r = eval("JSON.stringify([{l0_0: 1, l0_1: 'x'}, Object.keys({l1_0: 0, l1_1: 0, z: 0})])");
  const char* s = JS_ToCString(ctx(), r.get());
  ASSERT_NE(s, nullptr);
  EXPECT_STREQ(s, R"([{"l0_0":1,"l0_1":"x"},["l1_0","l1_1","z"]])");
  JS_FreeCString(ctx(), s);
  k.release(ctx());
}

TEST_F(ShapeKeeperTest, AKeptObjectCostsAFewHundredBytes) {
  ShapeKeeper k;
  JSMemoryUsage before{}, after{};
  show_times(k, "({a: 1})", 1);  // the function and its atoms exist before the measurement
  JS_RunGC(rt_.rt());
  JS_ComputeMemoryUsage(rt_.rt(), &before);
  show_times(k, "({a: 1, b: 2, c: 3, d: 4})", ShapeKeeper::kHotSightings);
  JS_RunGC(rt_.rt());
  JS_ComputeMemoryUsage(rt_.rt(), &after);
  ASSERT_EQ(k.keepers(), 5u);  // {}, and 4 prefixes
  std::int64_t per_keeper = (after.malloc_size - before.malloc_size) / 5;
  std::printf("memory per keeper object (its object, properties and shape): %lld bytes\n",
              static_cast<long long>(per_keeper));
  EXPECT_GT(per_keeper, 0);
  EXPECT_LT(per_keeper, 400);
  k.release(ctx());
}

TEST_F(ShapeKeeperTest, TheRuntimesKeeperIsFedByJsonStringifyAndFreedWithIt) {
  ShapeKeeper* k = shape_keeper(ctx());
  ASSERT_NE(k, nullptr);
  eval("for (let i = 0; i < 64; i++) JSON.stringify({order: i, lines: [{sku: 'a', qty: 1}]});");
  EXPECT_EQ(k->keepers(), 5u);  // {}, {order}, {order,lines}, {sku}, {sku,qty}
  // The runtime frees them before its context (a leak fails QuickJS's own checks in debug builds).
}

}  // namespace
}  // namespace herd::js
