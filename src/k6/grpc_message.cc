// JS values <-> protobuf messages without JSON text (k6/grpc_message.h).
#include "k6/grpc_message.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace herd::k6 {

namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;

/// Frees a JSValue at scope end.
struct Held {
  JSContext* ctx;
  JSValue v;
  ~Held() { JS_FreeValue(ctx, v); }
};

/// An integral number within [lo, hi], exactly representable (|d| <= 2^53).
bool integral(JSValueConst v, JSContext* ctx, double lo, double hi, double* out) {
  if (!JS_IsNumber(v) || JS_ToFloat64(ctx, out, v) != 0) return false;
  return std::isfinite(*out) && std::trunc(*out) == *out && *out >= lo && *out <= hi &&
         std::fabs(*out) <= 9007199254740992.0;
}

/// A JS string as UTF-8; false for one with a lone surrogate (QuickJS gives
/// those as 3-byte sequences that are not UTF-8; JSON text escapes them).
bool utf8_string(JSContext* ctx, JSValueConst v, std::string* out) {
  if (!JS_IsString(v)) return false;
  size_t len = 0;
  const char* s = JS_ToCStringLen(ctx, &len, v);
  if (!s) {
    JS_FreeValue(ctx, JS_GetException(ctx));
    return false;
  }
  out->assign(s, len);
  JS_FreeCString(ctx, s);
  for (size_t i = 0; i + 1 < out->size(); i++) {
    auto c = static_cast<unsigned char>((*out)[i]), d = static_cast<unsigned char>((*out)[i + 1]);
    if (c == 0xED && d >= 0xA0) return false;
  }
  return true;
}

/// One value of field `f` (not repeated: `index` < 0) or its element `index`.
bool set_value(JSContext* ctx, JSValueConst v, pb::Message* msg, const FD* f, bool add);

bool fill(JSContext* ctx, JSValueConst obj, pb::Message* msg) {
  if (!JS_IsObject(obj) || JS_IsArray(ctx, obj) != 0 || JS_IsFunction(ctx, obj)) return false;
  {
    Held to_json{ctx, JS_GetPropertyStr(ctx, obj, "toJSON")};  // JSON.stringify would call it
    if (JS_IsException(to_json.v)) {
      JS_FreeValue(ctx, JS_GetException(ctx));
      return false;
    }
    if (!JS_IsUndefined(to_json.v)) return false;
  }
  JSPropertyEnum* tab = nullptr;
  uint32_t len = 0;
  if (JS_GetOwnPropertyNames(ctx, &tab, &len, obj, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) != 0) {
    JS_FreeValue(ctx, JS_GetException(ctx));
    return false;
  }
  const pb::Descriptor* type = msg->GetDescriptor();
  const pb::Reflection* r = msg->GetReflection();
  std::vector<bool> seen(static_cast<size_t>(type->field_count()), false);
  bool ok = true;
  for (uint32_t i = 0; i < len; i++) {
    if (ok) {
      Held val{ctx, JS_GetProperty(ctx, obj, tab[i].atom)};
      if (JS_IsException(val.v)) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        ok = false;
      } else if (!JS_IsUndefined(val.v) && !JS_IsFunction(ctx, val.v) && !JS_IsSymbol(val.v)) {
        const char* key = JS_AtomToCString(ctx, tab[i].atom);
        const FD* f = key ? type->FindFieldByName(key) : nullptr;
        for (int k = 0; key && !f && k < type->field_count(); k++)
          if (type->field(k)->json_name() == key) f = type->field(k);
        if (key) JS_FreeCString(ctx, key);
        // Unknown, given twice (both names), null, or a second member of one oneof: the JSON path decides.
        if (!f || seen[static_cast<size_t>(f->index())] || JS_IsNull(val.v) ||
            (f->containing_oneof() && r->HasOneof(*msg, f->containing_oneof()))) {
          ok = false;
        } else if (f->is_repeated()) {
          seen[static_cast<size_t>(f->index())] = true;
          if (JS_IsArray(ctx, val.v) != 1) {
            ok = false;
          } else {
            Held n{ctx, JS_GetPropertyStr(ctx, val.v, "length")};
            double count = 0;
            ok = integral(n.v, ctx, 0, 1e9, &count);
            for (uint32_t j = 0; ok && j < static_cast<uint32_t>(count); j++) {
              Held e{ctx, JS_GetPropertyUint32(ctx, val.v, j)};
              ok = !JS_IsException(e.v) && set_value(ctx, e.v, msg, f, true);
              if (JS_IsException(e.v)) JS_FreeValue(ctx, JS_GetException(ctx));
            }
          }
        } else {
          seen[static_cast<size_t>(f->index())] = true;
          ok = set_value(ctx, val.v, msg, f, false);
        }
      }
    }
    JS_FreeAtom(ctx, tab[i].atom);
  }
  js_free(ctx, tab);
  return ok;
}

bool set_value(JSContext* ctx, JSValueConst v, pb::Message* msg, const FD* f, bool add) {
  const pb::Reflection* r = msg->GetReflection();
  double d = 0;
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT32:
      if (!integral(v, ctx, INT32_MIN, INT32_MAX, &d)) return false;
      add ? r->AddInt32(msg, f, static_cast<int32_t>(d)) : r->SetInt32(msg, f, static_cast<int32_t>(d));
      return true;
    case FD::CPPTYPE_UINT32:
      if (!integral(v, ctx, 0, UINT32_MAX, &d)) return false;
      add ? r->AddUInt32(msg, f, static_cast<uint32_t>(d)) : r->SetUInt32(msg, f, static_cast<uint32_t>(d));
      return true;
    case FD::CPPTYPE_INT64:
      if (!integral(v, ctx, -9007199254740992.0, 9007199254740992.0, &d)) return false;
      add ? r->AddInt64(msg, f, static_cast<int64_t>(d)) : r->SetInt64(msg, f, static_cast<int64_t>(d));
      return true;
    case FD::CPPTYPE_UINT64:
      if (!integral(v, ctx, 0, 9007199254740992.0, &d)) return false;
      add ? r->AddUInt64(msg, f, static_cast<uint64_t>(d)) : r->SetUInt64(msg, f, static_cast<uint64_t>(d));
      return true;
    case FD::CPPTYPE_DOUBLE:
      if (!JS_IsNumber(v) || JS_ToFloat64(ctx, &d, v) != 0 || !std::isfinite(d)) return false;
      add ? r->AddDouble(msg, f, d) : r->SetDouble(msg, f, d);
      return true;
    case FD::CPPTYPE_FLOAT:
      if (!JS_IsNumber(v) || JS_ToFloat64(ctx, &d, v) != 0 || !std::isfinite(d) || std::fabs(d) > FLT_MAX) return false;
      add ? r->AddFloat(msg, f, static_cast<float>(d)) : r->SetFloat(msg, f, static_cast<float>(d));
      return true;
    case FD::CPPTYPE_BOOL:
      if (!JS_IsBool(v)) return false;
      add ? r->AddBool(msg, f, JS_ToBool(ctx, v) > 0) : r->SetBool(msg, f, JS_ToBool(ctx, v) > 0);
      return true;
    case FD::CPPTYPE_STRING: {
      std::string s;
      if (!utf8_string(ctx, v, &s)) return false;
      add ? r->AddString(msg, f, std::move(s)) : r->SetString(msg, f, std::move(s));
      return true;
    }
    case FD::CPPTYPE_ENUM: {
      std::string s;
      if (!utf8_string(ctx, v, &s)) return false;  // a number: the JSON path decides
      const auto* ev = f->enum_type()->FindValueByName(s);
      if (!ev) return false;
      add ? r->AddEnumValue(msg, f, ev->number()) : r->SetEnumValue(msg, f, ev->number());
      return true;
    }
    case FD::CPPTYPE_MESSAGE:
      return fill(ctx, v, add ? r->AddMessage(msg, f) : r->MutableMessage(msg, f));
  }
  return false;
}

JSValue non_finite(JSContext* ctx, double d) {
  return JS_NewString(ctx, std::isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
}

/// A float as protobuf's JSON printer writes it (SimpleFtoa: 6 significant
/// digits when they read back as the same float, else 9), read back as a double.
JSValue float_value(JSContext* ctx, float v) {
  if (!std::isfinite(v)) return non_finite(ctx, v);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", FLT_DIG, static_cast<double>(v));
  if (std::strtof(buf, nullptr) != v) std::snprintf(buf, sizeof buf, "%.*g", FLT_DIG + 3, static_cast<double>(v));
  return JS_NewFloat64(ctx, std::strtod(buf, nullptr));
}

JSValue value_of(JSContext* ctx, const pb::Message& m, const FD* f, int i) {
  const pb::Reflection* r = m.GetReflection();
  bool rep = i >= 0;
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT32:
      return JS_NewInt32(ctx, rep ? r->GetRepeatedInt32(m, f, i) : r->GetInt32(m, f));
    case FD::CPPTYPE_UINT32:
      return JS_NewUint32(ctx, rep ? r->GetRepeatedUInt32(m, f, i) : r->GetUInt32(m, f));
    case FD::CPPTYPE_INT64: {
      auto s = std::to_string(rep ? r->GetRepeatedInt64(m, f, i) : r->GetInt64(m, f));
      return JS_NewStringLen(ctx, s.data(), s.size());
    }
    case FD::CPPTYPE_UINT64: {
      auto s = std::to_string(rep ? r->GetRepeatedUInt64(m, f, i) : r->GetUInt64(m, f));
      return JS_NewStringLen(ctx, s.data(), s.size());
    }
    case FD::CPPTYPE_DOUBLE: {
      double d = rep ? r->GetRepeatedDouble(m, f, i) : r->GetDouble(m, f);
      return std::isfinite(d) ? JS_NewFloat64(ctx, d) : non_finite(ctx, d);
    }
    case FD::CPPTYPE_FLOAT:
      return float_value(ctx, rep ? r->GetRepeatedFloat(m, f, i) : r->GetFloat(m, f));
    case FD::CPPTYPE_BOOL:
      return JS_NewBool(ctx, rep ? r->GetRepeatedBool(m, f, i) : r->GetBool(m, f));
    case FD::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s =
          rep ? r->GetRepeatedStringReference(m, f, i, &scratch) : r->GetStringReference(m, f, &scratch);
      return JS_NewStringLen(ctx, s.data(), s.size());
    }
    case FD::CPPTYPE_ENUM: {
      int n = rep ? r->GetRepeatedEnumValue(m, f, i) : r->GetEnumValue(m, f);
      const auto* ev = f->enum_type()->FindValueByNumber(n);
      return ev ? JS_NewStringLen(ctx, ev->name().data(), ev->name().size()) : JS_NewInt32(ctx, n);
    }
    case FD::CPPTYPE_MESSAGE:
      return message_to_js(ctx, rep ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f));
  }
  return JS_NULL;
}

}  // namespace

bool js_to_message(JSContext* ctx, JSValueConst v, pb::Message* msg) {
  return fill(ctx, v, msg);
}

JSValue message_to_js(JSContext* ctx, const pb::Message& m) {
  const pb::Descriptor* type = m.GetDescriptor();
  const pb::Reflection* r = m.GetReflection();
  JSValue o = JS_NewObject(ctx);
  // Keys as protobuf's printer orders them: in declaration order the fields
  // outside oneofs and the message fields (an unset message is left out), then
  // the set scalar members of oneofs (proto3 `optional` too) in wire order,
  // i.e. by field number.
  std::vector<const FD*> oneof_members;
  for (int i = 0; i < type->field_count(); i++) {
    const FD* f = type->field(i);
    JSValue v;
    if (f->containing_oneof() && f->cpp_type() != FD::CPPTYPE_MESSAGE) {
      if (r->HasField(m, f)) oneof_members.push_back(f);
      continue;
    }
    if (f->is_repeated()) {
      v = JS_NewArray(ctx);
      int n = r->FieldSize(m, f);
      for (int j = 0; j < n; j++)
        JS_DefinePropertyValueUint32(ctx, v, static_cast<uint32_t>(j), value_of(ctx, m, f, j), JS_PROP_C_W_E);
    } else if (f->cpp_type() == FD::CPPTYPE_MESSAGE && !r->HasField(m, f)) {
      continue;
    } else {
      v = value_of(ctx, m, f, -1);
    }
    JS_DefinePropertyValueStr(ctx, o, f->json_name().c_str(), v, JS_PROP_C_W_E);
  }
  std::sort(oneof_members.begin(), oneof_members.end(),
            [](const FD* a, const FD* b) { return a->number() < b->number(); });
  for (const FD* f : oneof_members)
    JS_DefinePropertyValueStr(ctx, o, f->json_name().c_str(), value_of(ctx, m, f, -1), JS_PROP_C_W_E);
  return o;
}

}  // namespace herd::k6
