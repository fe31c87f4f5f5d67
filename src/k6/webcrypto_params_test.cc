// WebCrypto parameter readers on a bare QuickJS runtime: a getter that throws
// is reported as a CryptoError and leaves no JS object behind.
#include <gtest/gtest.h>

#include <cstring>

#include "js/runtime.h"
#include "k6/webcrypto.h"

namespace herd::k6::webcrypto {
namespace {

/// Live JS objects after a full GC.
int64_t live_objects(JSRuntime* rt) {
  JS_RunGC(rt);
  JSMemoryUsage u;
  JS_ComputeMemoryUsage(rt, &u);
  return u.obj_count;
}

js::Value eval(JSContext* ctx, const char* src) {
  return js::Value(ctx, JS_Eval(ctx, src, std::strlen(src), "<test>", JS_EVAL_TYPE_GLOBAL));
}

TEST(WebCryptoParams, HashNameGetterThatThrowsLeaksNothing) {
  js::Runtime rt;
  JSContext* ctx = rt.ctx();
  int64_t before = live_objects(rt.rt());
  {
    js::Value params = eval(ctx, "({ hash: { get name() { throw new Error('boom'); } } })");
    ASSERT_FALSE(params.is_exception());
    try {
      req_hash(ctx, params.get(), "sign");
      FAIL() << "req_hash did not throw";
    } catch (const CryptoError& e) {
      EXPECT_STREQ(e.name, "TypeError");
      EXPECT_EQ(e.message, "cannot read name");
    }
  }
  EXPECT_EQ(live_objects(rt.rt()), before);
}

TEST(WebCryptoParams, ReadersReturnMembersAndLeakNothing) {
  js::Runtime rt;
  JSContext* ctx = rt.ctx();
  int64_t before = live_objects(rt.rt());
  {
    js::Value params = eval(ctx, "({ hash: { name: 'sha-256' }, n: 3, s: 'x', ext: true, key_ops: ['sign'] })");
    ASSERT_FALSE(params.is_exception());
    EXPECT_EQ(req_hash(ctx, params.get(), "sign"), "SHA-256");
    EXPECT_EQ(opt_number(ctx, params.get(), "n"), 3.0);
    EXPECT_EQ(opt_string(ctx, params.get(), "s"), "x");
    EXPECT_EQ(opt_string(ctx, params.get(), "missing"), std::nullopt);
    EXPECT_NO_THROW(check_jwk_common(ctx, params.get(), true, kSign));
    EXPECT_THROW(check_jwk_common(ctx, params.get(), true, kVerify), CryptoError);
  }
  EXPECT_EQ(live_objects(rt.rt()), before);
}

}  // namespace
}  // namespace herd::k6::webcrypto
