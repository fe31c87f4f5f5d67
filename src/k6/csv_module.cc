// "k6/experimental/csv": the native half ("herd:csv") and the JS module over it.
// csv.parse() stores its records once per run in the SharedArray store;
// csv.Parser reads records one by one, each VU from its own position.
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>

#include "js/runtime.h"
#include "k6/csv_reader.h"
#include "k6/fs_module.h"
#include "k6/natives_util.h"
#include "k6/webapi.h"
#include "k6/webapi_util.h"

namespace herd::k6 {

namespace {

struct CsvOptions {
  char delimiter = ',';
  bool skip_first_line = false;
  std::int64_t from_line = 0;
  std::optional<std::int64_t> to_line;
  bool as_objects = false;
  std::string key() const {
    return std::string(1, delimiter) + (skip_first_line ? "s" : "-") + (as_objects ? "o" : "-") +
           std::to_string(from_line) + ":" + (to_line ? std::to_string(*to_line) : "");
  }
};

bool read_line_number(JSContext* ctx, JSValueConst v, const char* name, std::int64_t* out) {
  double d = 0;
  if (!JS_IsNumber(v) || JS_ToFloat64(ctx, &d, v) < 0 || d < 0 || d != std::floor(d) || d > 9e15) {
    JS_ThrowTypeError(ctx, "csv options: %s must be a non-negative integer", name);
    return false;
  }
  *out = static_cast<std::int64_t>(d);
  return true;
}

bool read_options(JSContext* ctx, JSValueConst v, CsvOptions* o) {
  if (JS_IsUndefined(v) || JS_IsNull(v)) return true;
  if (!JS_IsObject(v)) {
    JS_ThrowTypeError(ctx, "csv options must be an object");
    return false;
  }
  JSPropertyEnum* props = nullptr;
  uint32_t n = 0;
  if (JS_GetOwnPropertyNames(ctx, &props, &n, v, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0) return false;
  bool ok = true;
  for (uint32_t i = 0; i < n && ok; i++) {
    const char* k = JS_AtomToCString(ctx, props[i].atom);
    std::string key = k ? k : "";
    JS_FreeCString(ctx, k);
    js::Value owned(ctx, JS_GetProperty(ctx, v, props[i].atom));
    JSValueConst val = owned.get();
    if (JS_IsUndefined(val)) {
    } else if (key == "delimiter") {
      std::string d = JS_IsString(val) ? js::to_string(ctx, val) : "";
      if (d.size() != 1 || d[0] == '"' || d[0] == '\r' || d[0] == '\n') {
        JS_ThrowTypeError(ctx, "csv options: delimiter must be one character, not a quote or a line break");
        ok = false;
      } else {
        o->delimiter = d[0];
      }
    } else if (key == "skipFirstLine") {
      o->skip_first_line = JS_ToBool(ctx, val) > 0;
    } else if (key == "asObjects") {
      o->as_objects = JS_ToBool(ctx, val) > 0;
    } else if (key == "fromLine") {
      ok = read_line_number(ctx, val, "fromLine", &o->from_line);
    } else if (key == "toLine") {
      std::int64_t t = 0;
      ok = read_line_number(ctx, val, "toLine", &t);
      o->to_line = t;
    } else {
      JS_ThrowTypeError(ctx,
                        "csv options: unknown option \"%s\" (delimiter, skipFirstLine, fromLine, toLine, asObjects)",
                        key.c_str());
      ok = false;
    }
  }
  for (uint32_t i = 0; i < n; i++) JS_FreeAtom(ctx, props[i].atom);
  js_free(ctx, props);
  if (ok && o->to_line && *o->to_line < o->from_line) {
    JS_ThrowTypeError(ctx, "csv options: toLine (%lld) must not be less than fromLine (%lld)",
                      static_cast<long long>(*o->to_line), static_cast<long long>(o->from_line));
    ok = false;
  }
  return ok;
}

/// Records of a file as the options select them. Line numbers count records
/// from 0; fromLine and toLine are inclusive. With asObjects, record 0 is the
/// header and never a value.
class CsvSelection {
 public:
  CsvSelection(std::shared_ptr<const std::string> data, const CsvOptions& o)
      : data_(std::move(data)), opts_(o), reader_(*data_, o.delimiter) {}

  /// False at the end. Throws CsvError.
  bool next(std::vector<std::string>* fields) {
    for (;;) {
      if (opts_.to_line && index_ > *opts_.to_line) return false;
      if (!reader_.next(fields)) return false;
      std::int64_t i = index_++;
      if (i == 0 && opts_.as_objects) {
        header_ = *fields;
        continue;
      }
      if (i == 0 && opts_.skip_first_line) continue;
      if (i < opts_.from_line) continue;
      if (opts_.as_objects && fields->size() != header_.size())
        throw CsvError("CSV record " + std::to_string(i) + " has " + std::to_string(fields->size()) +
                       " fields but the header has " + std::to_string(header_.size()));
      return true;
    }
  }
  const std::vector<std::string>& header() const { return header_; }
  bool as_objects() const { return opts_.as_objects; }

 private:
  std::shared_ptr<const std::string> data_;
  CsvOptions opts_;
  CsvReader reader_;
  std::int64_t index_ = 0;
  std::vector<std::string> header_;
};

void json_string(const std::string& s, std::string* out) {
  static const char* hex = "0123456789abcdef";
  *out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      *out += '\\';
      *out += static_cast<char>(c);
    } else if (c < 0x20) {
      *out += "\\u00";
      *out += hex[c >> 4];
      *out += hex[c & 15];
    } else {
      *out += static_cast<char>(c);
    }
  }
  *out += '"';
}

std::string record_json(const CsvSelection& sel, const std::vector<std::string>& fields) {
  std::string out(1, sel.as_objects() ? '{' : '[');
  for (size_t i = 0; i < fields.size(); i++) {
    if (i) out += ',';
    if (sel.as_objects()) {
      json_string(sel.header()[i], &out);
      out += ':';
    }
    json_string(fields[i], &out);
  }
  out += sel.as_objects() ? '}' : ']';
  return out;
}

FsFile* file_arg(JSContext* ctx, int argc, JSValueConst* argv, const char* fn) {
  FsFile* f = argc > 0 ? fs_file_of(argv[0]) : nullptr;
  if (!f) JS_ThrowTypeError(ctx, "%s: the first argument must be a File from open() in k6/experimental/fs", fn);
  return f;
}

// parseShared(file, options) -> the SharedArray name holding the records.
JSValue n_parse_shared(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  VuState* vu = vu_of(ctx);
  if (!vu->in_init) return JS_ThrowTypeError(ctx, "csv.parse() can only be called in the init context");
  FsFile* f = file_arg(ctx, argc, argv, "csv.parse(file, options)");
  if (!f) return JS_EXCEPTION;
  CsvOptions o;
  if (!read_options(ctx, argc > 1 ? argv[1] : JS_UNDEFINED, &o)) return JS_EXCEPTION;
  std::string name = "herd:csv:" + f->path + "\x1f" + o.key();
  auto& store = vu->run->shared_arrays;
  {
    std::lock_guard<std::mutex> g(store.mu);
    if (store.arrays.count(name)) return new_string(ctx, name);
  }
  auto items = std::make_shared<std::vector<std::string>>();
  try {
    CsvSelection sel(f->data, o);
    std::vector<std::string> fields;
    while (sel.next(&fields)) items->push_back(record_json(sel, fields));
  } catch (const std::exception& e) {
    return JS_ThrowSyntaxError(ctx, "csv.parse(%s): %s", f->name.c_str(), e.what());
  }
  std::lock_guard<std::mutex> g(store.mu);
  store.arrays.emplace(name, std::move(items));
  return new_string(ctx, name);
}

// ---- Parser ------------------------------------------------------------------

JSClassID parser_class_id = 0;

struct ParserState {
  std::string file_name;
  std::unique_ptr<CsvSelection> sel;
};

void parser_finalizer(JSRuntime*, JSValue val) {
  delete static_cast<ParserState*>(JS_GetOpaque(val, parser_class_id));
}

JSValue next_impl(JSContext* ctx, JSValueConst this_val) {
  auto* p = static_cast<ParserState*>(JS_GetOpaque(this_val, parser_class_id));
  if (!p) return JS_ThrowTypeError(ctx, "Parser.next() called on something that is not a csv.Parser");
  std::vector<std::string> fields;
  bool more = false;
  try {
    more = p->sel->next(&fields);
  } catch (const std::exception& e) {
    return JS_ThrowSyntaxError(ctx, "csv.Parser(%s): %s", p->file_name.c_str(), e.what());
  }
  JSValue r = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, r, "done", JS_NewBool(ctx, !more));
  if (!more) {
    JS_SetPropertyStr(ctx, r, "value", JS_UNDEFINED);
    return r;
  }
  JSValue v = p->sel->as_objects() ? JS_NewObject(ctx) : JS_NewArray(ctx);
  for (size_t i = 0; i < fields.size(); i++) {
    if (p->sel->as_objects())
      JS_DefinePropertyValueStr(ctx, v, p->sel->header()[i].c_str(), new_string(ctx, fields[i]), JS_PROP_C_W_E);
    else
      JS_SetPropertyUint32(ctx, v, static_cast<uint32_t>(i), new_string(ctx, fields[i]));
  }
  JS_SetPropertyStr(ctx, r, "value", v);
  return r;
}

JSValue n_next(JSContext* ctx, JSValueConst this_val, int, JSValueConst*) {
  return settle_promise(ctx, next_impl(ctx, this_val));
}

JSValue n_parser_ctor(JSContext* ctx, JSValueConst new_target, int argc, JSValueConst* argv) {
  if (JS_IsUndefined(new_target)) return JS_ThrowTypeError(ctx, "csv.Parser must be called with new");
  FsFile* f = file_arg(ctx, argc, argv, "new csv.Parser(file, options)");
  if (!f) return JS_EXCEPTION;
  CsvOptions o;
  if (!read_options(ctx, argc > 1 ? argv[1] : JS_UNDEFINED, &o)) return JS_EXCEPTION;
  auto state = std::make_unique<ParserState>();
  state->file_name = f->name;
  state->sel = std::make_unique<CsvSelection>(f->data, o);
  JSValue obj = JS_NewObjectProtoClass(ctx, js::Value(ctx, JS_GetPropertyStr(ctx, new_target, "prototype")).get(),
                                       parser_class_id);
  if (JS_IsException(obj)) return obj;
  JS_SetOpaque(obj, state.release());
  return obj;
}

int csv_init(JSContext* ctx, JSModuleDef* m) {
  static std::once_flag once;
  std::call_once(once, [] { JS_NewClassID(&parser_class_id); });
  JSRuntime* rt = JS_GetRuntime(ctx);
  if (!JS_IsRegisteredClass(rt, parser_class_id)) {
    JSClassDef def{};
    def.class_name = "Parser";
    def.finalizer = parser_finalizer;
    JS_NewClass(rt, parser_class_id, &def);
  }
  JSValue proto = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, proto, "next", JS_NewCFunction(ctx, n_next, "next", 0));
  JSValue ctor = JS_NewCFunction2(ctx, n_parser_ctor, "Parser", 2, JS_CFUNC_constructor, 0);
  JS_SetConstructor(ctx, ctor, proto);
  JS_SetClassProto(ctx, parser_class_id, proto);
  JS_SetModuleExport(ctx, m, "Parser", ctor);
  JS_SetModuleExport(ctx, m, "parseShared", JS_NewCFunction(ctx, n_parse_shared, "parseShared", 2));
  return 0;
}

const char* kCsvModule = R"JS(
import { SharedArray } from 'k6/data';
import { Parser, parseShared } from 'herd:csv';
export async function parse(file, options) {
  const name = parseShared(file, options);
  return new SharedArray(name, () => { throw new Error('csv.parse: records missing from the shared store'); });
}
export { Parser };
export default { parse, Parser };
)JS";

}  // namespace

JSModuleDef* csv_native_module(JSContext* ctx, const char* name) {
  JSModuleDef* m = JS_NewCModule(ctx, name, csv_init);
  if (!m) return nullptr;
  JS_AddModuleExport(ctx, m, "Parser");
  JS_AddModuleExport(ctx, m, "parseShared");
  return m;
}

std::map<std::string, std::string> webapi_module_sources() {
  return {{"k6/experimental/csv", kCsvModule}, {"k6/experimental/streams", streams_module_source()}};
}

}  // namespace herd::k6
