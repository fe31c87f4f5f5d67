#include "js/runtime.h"

#include <regex>
#include <stdexcept>

namespace herd::js {

Runtime::Runtime(std::size_t stack_limit, std::size_t memory_limit) {
  rt_ = JS_NewRuntime();
  if (!rt_) throw std::runtime_error("QuickJS: cannot create runtime");
  if (stack_limit) JS_SetMaxStackSize(rt_, stack_limit);
  if (memory_limit) JS_SetMemoryLimit(rt_, memory_limit);
  ctx_ = JS_NewContext(rt_);
  if (!ctx_) {
    JS_FreeRuntime(rt_);
    throw std::runtime_error("QuickJS: cannot create context");
  }
}

Runtime::~Runtime() {
  if (ctx_) JS_FreeContext(ctx_);
  if (rt_) JS_FreeRuntime(rt_);
}

bool Runtime::run_jobs(std::string* error_out) {
  for (;;) {
    JSContext* jctx = nullptr;
    int r = JS_ExecutePendingJob(rt_, &jctx);
    if (r == 0) return true;
    if (r < 0) {
      std::string msg = take_exception(jctx ? jctx : ctx_);
      if (error_out) *error_out = msg;
      return false;
    }
  }
}

std::string to_string(JSContext* ctx, JSValueConst v) {
  size_t len = 0;
  const char* s = JS_ToCStringLen(ctx, &len, v);
  if (!s) {
    JS_FreeValue(ctx, JS_GetException(ctx));
    return {};
  }
  std::string out(s, len);
  JS_FreeCString(ctx, s);
  return out;
}

std::string format_exception(JSContext* ctx, JSValueConst exc) {
  std::string message = to_string(ctx, exc);
  std::string stack;
  if (JS_IsObject(exc)) {
    JSValue st = JS_GetPropertyStr(ctx, exc, "stack");
    if (JS_IsString(st)) stack = to_string(ctx, st);
    JS_FreeValue(ctx, st);
  }
  // The first stack line names the innermost location: "    at fn (file:line:col)"
  // or "    at file:line:col". Put it first, as "file:line:col: message".
  std::string location;
  static const std::regex kLoc(R"(at (?:[^\n(]*\()?([^\n()]+:\d+:\d+)\)?)");
  std::smatch m;
  if (std::regex_search(stack, m, kLoc)) location = m[1].str();
  std::string out = location.empty() ? message : location + ": " + message;
  // Keep the stack only when it has more than the one frame already shown.
  if (!stack.empty() && stack.find('\n') != stack.rfind('\n')) {
    while (!stack.empty() && (stack.back() == '\n' || stack.back() == ' ')) stack.pop_back();
    out += "\n" + stack;
  }
  return out;
}

std::string take_exception(JSContext* ctx) {
  JSValue exc = JS_GetException(ctx);
  std::string s = format_exception(ctx, exc);
  JS_FreeValue(ctx, exc);
  return s;
}

}  // namespace herd::js
