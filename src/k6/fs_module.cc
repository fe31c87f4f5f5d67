// "k6/experimental/fs": open(path) -> Promise<File>; File.read/seek/stat, SeekMode.
#include "k6/fs_module.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "js/runtime.h"
#include "k6/natives_util.h"
#include "k6/webapi.h"
#include "k6/webapi_util.h"

namespace herd::k6 {

namespace {

JSClassID file_class_id = 0;

void file_finalizer(JSRuntime*, JSValue val) {
  delete static_cast<FsFile*>(JS_GetOpaque(val, file_class_id));
}

FsFile* this_file(JSContext* ctx, JSValueConst this_val) {
  auto* f = static_cast<FsFile*>(JS_GetOpaque(this_val, file_class_id));
  if (!f) JS_ThrowTypeError(ctx, "not a File object (use open() from k6/experimental/fs)");
  return f;
}

JSValue read_impl(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  FsFile* f = this_file(ctx, this_val);
  if (!f) return JS_EXCEPTION;
  size_t off = 0, len = 0, bpe = 0;
  js::Value ab(
      ctx, argc > 0 && JS_IsObject(argv[0]) ? JS_GetTypedArrayBuffer(ctx, argv[0], &off, &len, &bpe) : JS_EXCEPTION);
  if (ab.is_exception() || bpe != 1) {
    if (ab.is_exception()) js::discard_exception(ctx);
    return JS_ThrowTypeError(ctx, "File.read(buffer): buffer must be a Uint8Array");
  }
  size_t size = 0;
  uint8_t* p = JS_GetArrayBuffer(ctx, &size, ab.get());
  if (!p || off + len > size) return JS_ThrowTypeError(ctx, "File.read(buffer): the buffer is detached");
  auto total = static_cast<std::int64_t>(f->data->size());
  if (f->offset >= total) return JS_NULL;
  if (len == 0) return JS_NewInt32(ctx, 0);
  size_t n = std::min<size_t>(len, static_cast<size_t>(total - f->offset));
  std::memcpy(p + off, f->data->data() + f->offset, n);
  f->offset += static_cast<std::int64_t>(n);
  return JS_NewInt64(ctx, static_cast<std::int64_t>(n));
}

JSValue seek_impl(JSContext* ctx, JSValueConst this_val, int argc, JSValueConst* argv) {
  FsFile* f = this_file(ctx, this_val);
  if (!f) return JS_EXCEPTION;
  double offset = 0, whence = 0;
  if (argc < 1 || !JS_IsNumber(argv[0]) || JS_ToFloat64(ctx, &offset, argv[0]) < 0 ||
      offset != static_cast<std::int64_t>(offset))
    return JS_ThrowTypeError(ctx, "File.seek(offset, whence): offset must be an integer");
  if (argc > 1 && !JS_IsUndefined(argv[1]) &&
      (JS_ToFloat64(ctx, &whence, argv[1]) < 0 || !JS_IsNumber(argv[1]) || (whence != 0 && whence != 1 && whence != 2)))
    return JS_ThrowTypeError(ctx, "File.seek(offset, whence): whence must be SeekMode.Start, Current or End (0, 1, 2)");
  std::int64_t base = whence == 0 ? 0 : whence == 1 ? f->offset : static_cast<std::int64_t>(f->data->size());
  std::int64_t pos = base + static_cast<std::int64_t>(offset);
  if (pos < 0)
    return JS_ThrowTypeError(ctx, "File.seek: the resulting offset %lld is negative", static_cast<long long>(pos));
  f->offset = pos;
  return JS_NewInt64(ctx, pos);
}

JSValue stat_impl(JSContext* ctx, JSValueConst this_val, int, JSValueConst*) {
  FsFile* f = this_file(ctx, this_val);
  if (!f) return JS_EXCEPTION;
  JSValue o = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, o, "name", new_string(ctx, f->name));
  JS_SetPropertyStr(ctx, o, "size", JS_NewInt64(ctx, static_cast<std::int64_t>(f->data->size())));
  return o;
}

JSValue n_read(JSContext* ctx, JSValueConst t, int argc, JSValueConst* argv) {
  return settle_promise(ctx, read_impl(ctx, t, argc, argv));
}
JSValue n_seek(JSContext* ctx, JSValueConst t, int argc, JSValueConst* argv) {
  return settle_promise(ctx, seek_impl(ctx, t, argc, argv));
}
JSValue n_stat(JSContext* ctx, JSValueConst t, int argc, JSValueConst* argv) {
  return settle_promise(ctx, stat_impl(ctx, t, argc, argv));
}

void ensure_file_class(JSContext* ctx) {
  static std::once_flag once;
  std::call_once(once, [] { JS_NewClassID(&file_class_id); });
  JSRuntime* rt = JS_GetRuntime(ctx);
  if (JS_IsRegisteredClass(rt, file_class_id)) return;
  JSClassDef def{};
  def.class_name = "File";
  def.finalizer = file_finalizer;
  JS_NewClass(rt, file_class_id, &def);
  JSValue proto = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, proto, "read", JS_NewCFunction(ctx, n_read, "read", 1));
  JS_SetPropertyStr(ctx, proto, "seek", JS_NewCFunction(ctx, n_seek, "seek", 2));
  JS_SetPropertyStr(ctx, proto, "stat", JS_NewCFunction(ctx, n_stat, "stat", 0));
  JS_SetClassProto(ctx, file_class_id, proto);
}

/// The module that called the native (for relative paths), else the main script.
std::string caller_module(JSContext* ctx, VuState* vu) {
  std::string base = vu->run->bundle->main_name();
  JSAtom caller = JS_GetScriptOrModuleName(ctx, 1);
  if (caller != JS_ATOM_NULL) {
    const char* c = JS_AtomToCString(ctx, caller);
    if (c && *c && std::strncmp(c, "herd:", 5) != 0 && std::strncmp(c, "k6/", 3) != 0) base = c;
    JS_FreeCString(ctx, c);
    JS_FreeAtom(ctx, caller);
  }
  return base;
}

JSValue open_impl(JSContext* ctx, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (!vu->in_init)
    return throw_dom_error(ctx, "ForbiddenError",
                           "open() from k6/experimental/fs can only be called in the init context");
  if (argc < 1 || !JS_IsString(argv[0])) return JS_ThrowTypeError(ctx, "open(path): path must be a string");
  std::string path = js::to_string(ctx, argv[0]);
  if (path.empty()) return JS_ThrowTypeError(ctx, "open(path): path must not be empty");
  std::string base = caller_module(ctx, vu);
  std::string resolved = vu->run->bundle->resolve(base, path);
  std::error_code ec;
  if (std::filesystem::is_directory(resolved, ec))
    return throw_dom_error(ctx, "InvalidResourceError", "open(\"" + path + "\"): " + resolved + " is a directory");
  auto file = std::make_unique<FsFile>();
  try {
    file->data = vu->run->bundle->read_file(base, path);
  } catch (const std::exception& e) {
    return throw_dom_error(ctx, "NotFoundError", e.what());
  }
  file->path = std::filesystem::absolute(resolved, ec).lexically_normal().string();
  if (ec) file->path = resolved;
  file->name = std::filesystem::path(resolved).filename().string();
  ensure_file_class(ctx);
  JSValue o = JS_NewObjectClass(ctx, static_cast<int>(file_class_id));
  if (JS_IsException(o)) return o;
  JS_DefinePropertyValueStr(ctx, o, "path", new_string(ctx, file->path), JS_PROP_ENUMERABLE);
  JS_SetOpaque(o, file.release());
  return o;
}

JSValue n_open(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  return settle_promise(ctx, open_impl(ctx, argc, argv));
}

int fs_init(JSContext* ctx, JSModuleDef* m) {
  JSValue open = JS_NewCFunction(ctx, n_open, "open", 1);
  JSValue seek = JS_NewObject(ctx);
  const char* const modes[] = {"Start", "Current", "End"};
  for (int i = 0; i < 3; i++) JS_DefinePropertyValueStr(ctx, seek, modes[i], JS_NewInt32(ctx, i), JS_PROP_ENUMERABLE);
  JSValue def = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, def, "open", JS_DupValue(ctx, open));
  JS_SetPropertyStr(ctx, def, "SeekMode", JS_DupValue(ctx, seek));
  JS_SetModuleExport(ctx, m, "open", open);
  JS_SetModuleExport(ctx, m, "SeekMode", seek);
  JS_SetModuleExport(ctx, m, "default", def);
  return 0;
}

}  // namespace

FsFile* fs_file_of(JSValueConst v) {
  if (file_class_id == 0) return nullptr;
  return static_cast<FsFile*>(JS_GetOpaque(v, file_class_id));
}

JSModuleDef* fs_native_module(JSContext* ctx, const char* name) {
  JSModuleDef* m = JS_NewCModule(ctx, name, fs_init);
  if (!m) return nullptr;
  for (const char* n : {"open", "SeekMode", "default"}) JS_AddModuleExport(ctx, m, n);
  return m;
}

}  // namespace herd::k6
