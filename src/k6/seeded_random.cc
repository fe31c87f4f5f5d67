#include "k6/seeded_random.h"

#include <cstring>

#include "js/runtime.h"

namespace herd::k6 {

namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double to_unit(std::uint64_t x) {
  return static_cast<double>(x >> 11) * (1.0 / 9007199254740992.0);
}

// Math.random replacement; the generator state lives in an 8-byte ArrayBuffer (func_data[0]).
JSValue seeded_random(JSContext* ctx, JSValueConst, int, JSValueConst*, int, JSValue* func_data) {
  size_t size = 0;
  std::uint8_t* bytes = JS_GetArrayBuffer(ctx, &size, func_data[0]);
  if (!bytes || size != sizeof(std::uint64_t)) return JS_ThrowInternalError(ctx, "randomSeed state lost");
  std::uint64_t state;
  std::memcpy(&state, bytes, sizeof state);
  double v = to_unit(splitmix64(state));
  std::memcpy(bytes, &state, sizeof state);
  return JS_NewFloat64(ctx, v);
}

}  // namespace

bool install_seeded_random(JSContext* ctx, std::int64_t seed) {
  std::uint64_t state = static_cast<std::uint64_t>(seed);
  js::Value fn;
  {
    js::Value buf(ctx, JS_NewArrayBufferCopy(ctx, reinterpret_cast<const std::uint8_t*>(&state), sizeof state));
    if (buf.is_exception()) return false;
    JSValue data = buf.get();
    fn = js::Value(ctx, JS_NewCFunctionData(ctx, seeded_random, 0, 0, 1, &data));
  }
  if (fn.is_exception()) return false;
  js::Value math(ctx, JS_GetPropertyStr(ctx, js::Value(ctx, JS_GetGlobalObject(ctx)).get(), "Math"));
  int rc = JS_IsObject(math.get()) ? JS_SetPropertyStr(ctx, math.get(), "random", fn.release()) : -1;
  if (rc < 0 && !JS_HasException(ctx)) JS_ThrowTypeError(ctx, "randomSeed: Math is not an object");
  return rc >= 0;
}

double seeded_random_value(std::int64_t seed, int i) {
  std::uint64_t state = static_cast<std::uint64_t>(seed);
  std::uint64_t x = 0;
  for (int k = 0; k <= i; ++k) x = splitmix64(state);
  return to_unit(x);
}

}  // namespace herd::k6
