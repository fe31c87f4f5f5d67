// k6/net/grpc: Client (load, loadProtoset, connect, invoke, asyncInvoke, close),
// Stream and the status constants. The JS module (below) wraps the natives of
// "herd:grpc". A VU waiting on gRPC suspends its fiber: the gRPC threads post
// completions to the VU's event loop (grpc/conn.h), which wakes it.
#include "k6/grpc_module.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <tuple>

#include "grpc/conn.h"
#include "grpc/protos.h"
#include "grpc/reflection.h"
#include "grpc/tls_key.h"
#include "js/json_parse.h"
#include "js/runtime.h"
#include "k6/grpc_message.h"
#include "k6/natives_util.h"
#include "util/duration.h"

namespace herd::k6 {

namespace {

/// The VU's loop as gRPC threads see it: cleared when the Client goes, so a
/// late completion posts nothing.
struct LoopRef {
  std::mutex mu;
  loop::EventLoop* loop = nullptr;
  void post(std::function<void()> fn) {
    std::lock_guard<std::mutex> g(mu);
    if (loop) loop->post(std::move(fn));
  }
  bool alive() {
    std::lock_guard<std::mutex> g(mu);
    return loop != nullptr;
  }
};

struct ClientState {
  VuState* vu = nullptr;
  rpc::Protos protos;
  std::shared_ptr<rpc::Connection> conn;
  std::shared_ptr<LoopRef> ref = std::make_shared<LoopRef>();
  metrics::MetricId req_duration = 0, streams = 0, msgs_sent = 0, msgs_received = 0;
  /// call_tags() of calls without tags of their own, by (method, rpc_type, status):
  /// valid while the VU's tags and the connection's address are the ones they were made from.
  struct CachedTags {
    metrics::TagSet base, tags;
    std::string address;
  };
  std::map<std::tuple<const void*, const char*, int>, CachedTags> tag_cache;

  ~ClientState() {
    if (conn) conn->cancel_all_and_wait();
    std::lock_guard<std::mutex> g(ref->mu);
    ref->loop = nullptr;
  }
};

JSClassID client_class_id = 0;
JSClassID stream_class_id = 0;

void client_finalizer(JSRuntime*, JSValue val) {
  delete static_cast<std::shared_ptr<ClientState>*>(JS_GetOpaque(val, client_class_id));
}

std::shared_ptr<ClientState> client_of(JSContext* ctx, JSValueConst v) {
  auto* p = static_cast<std::shared_ptr<ClientState>*>(JS_GetOpaque(v, client_class_id));
  if (!p) {
    JS_ThrowTypeError(ctx, "not a grpc.Client");
    return nullptr;
  }
  return *p;
}

std::vector<std::string> string_list(JSContext* ctx, JSValueConst v) {
  std::vector<std::string> out;
  if (JS_IsUndefined(v) || JS_IsNull(v)) return out;
  if (!JS_IsArray(ctx, v)) {
    out.push_back(js::to_string(ctx, v));
    return out;
  }
  js::Value len(ctx, JS_GetPropertyStr(ctx, v, "length"));
  std::int64_t n = 0;
  JS_ToInt64(ctx, &n, len.get());
  for (std::int64_t i = 0; i < n; i++) {
    js::Value e(ctx, JS_GetPropertyUint32(ctx, v, static_cast<uint32_t>(i)));
    out.push_back(js::to_string(ctx, e.get()));
  }
  return out;
}

JSValue methods_to_js(JSContext* ctx, const std::vector<rpc::MethodInfo>& ms) {
  JSValue arr = JS_NewArray(ctx);
  uint32_t i = 0;
  for (const auto& m : ms) {
    JSValue o = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, o, "package", new_string(ctx, m.package));
    JS_SetPropertyStr(ctx, o, "service", new_string(ctx, m.service));
    JS_SetPropertyStr(ctx, o, "name", new_string(ctx, m.name));
    JS_SetPropertyStr(ctx, o, "fullMethod", new_string(ctx, m.full_method));
    JS_SetPropertyStr(ctx, o, "isClientStream", JS_NewBool(ctx, m.client_streaming));
    JS_SetPropertyStr(ctx, o, "isServerStream", JS_NewBool(ctx, m.server_streaming));
    JS_SetPropertyUint32(ctx, arr, i++, o);
  }
  return arr;
}

/// The folder of the module calling a native (for relative .proto paths).
std::string caller_dir(JSContext* ctx) {
  VuState* vu = vu_of(ctx);
  std::string base = vu->run->bundle->main_name();
  JSAtom caller = JS_GetScriptOrModuleName(ctx, 2);
  if (caller != JS_ATOM_NULL) {
    const char* c = JS_AtomToCString(ctx, caller);
    if (c && *c && std::strncmp(c, "herd:", 5) != 0 && std::strncmp(c, "k6/", 3) != 0) base = c;
    JS_FreeCString(ctx, c);
    JS_FreeAtom(ctx, caller);
  }
  std::string dir = std::filesystem::path(base).parent_path().string();
  return dir.empty() ? "." : dir;
}

/// A duration parameter: a number of milliseconds or a duration string; `def` when absent.
bool read_duration(JSContext* ctx, JSValueConst obj, const char* name, std::chrono::milliseconds def,
                   std::chrono::milliseconds* out) {
  js::Value v(ctx, JS_GetPropertyStr(ctx, obj, name));
  *out = def;
  if (JS_IsUndefined(v.get()) || JS_IsNull(v.get())) return true;
  if (JS_IsNumber(v.get())) {
    double ms = 0;
    JS_ToFloat64(ctx, &ms, v.get());
    if (!(ms >= 0)) return JS_ThrowTypeError(ctx, "%s must be a positive duration", name), false;
    *out = std::chrono::milliseconds(static_cast<std::int64_t>(std::min(ms, util::kMaxWaitMs)));
    return true;
  }
  std::string s = js::to_string(ctx, v.get());
  try {
    auto us = util::parse_duration(s);
    if (us.count() < 0) throw std::invalid_argument("negative");
    *out = std::chrono::duration_cast<std::chrono::milliseconds>(std::min(us, util::kMaxWait));
  } catch (const std::exception&) {
    JS_ThrowTypeError(ctx, "%s: invalid duration \"%s\"", name, s.c_str());
    return false;
  }
  return true;
}

bool read_metadata(JSContext* ctx, JSValueConst params, rpc::Metadata* md) {
  js::Value m(ctx, JS_GetPropertyStr(ctx, params, "metadata"));
  if (JS_IsUndefined(m.get()) || JS_IsNull(m.get())) return true;
  std::map<std::string, std::string> kv;
  if (!JS_IsObject(m.get()) || !read_string_map(ctx, m.get(), &kv))
    return JS_ThrowTypeError(ctx, "params.metadata must be an object of strings"), false;
  for (auto& [k, v] : kv) {
    std::string key = k;
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    md->emplace_back(key, v);
  }
  if (std::string e = rpc::metadata_error(*md); !e.empty())
    return JS_ThrowTypeError(ctx, "params.metadata: %s", e.c_str()), false;
  return true;
}

bool read_tags(JSContext* ctx, JSValueConst params, std::map<std::string, std::string>* tags) {
  js::Value t(ctx, JS_GetPropertyStr(ctx, params, "tags"));
  if (JS_IsUndefined(t.get()) || JS_IsNull(t.get())) return true;
  if (!JS_IsObject(t.get()) || !read_string_map(ctx, t.get(), tags))
    return JS_ThrowTypeError(ctx, "params.tags must be an object"), false;
  return true;
}

JSValue metadata_to_js(JSContext* ctx, const rpc::Metadata& md) {
  // Each key once, in the order it first comes, with all its values in order.
  std::vector<std::pair<const std::string*, std::vector<const std::string*>>> keys;
  for (const auto& [k, v] : md) {
    auto it = std::find_if(keys.begin(), keys.end(), [&k = k](const auto& e) { return *e.first == k; });
    if (it == keys.end()) it = keys.insert(keys.end(), {&k, {}});
    it->second.push_back(&v);
  }
  JSValue o = JS_NewObject(ctx);
  for (const auto& [k, values] : keys) {
    JSValue arr = JS_NewArray(ctx);
    for (std::size_t i = 0; i < values.size(); i++)
      JS_DefinePropertyValueUint32(ctx, arr, static_cast<uint32_t>(i), new_string(ctx, *values[i]), JS_PROP_C_W_E);
    JS_DefinePropertyValueStr(ctx, o, k->c_str(), arr, JS_PROP_C_W_E);
  }
  return o;
}

JSValue error_object(JSContext* ctx, int code, const std::string& message) {
  JSValue e = JS_NewObject(ctx);
  JS_SetPropertyStr(ctx, e, "code", JS_NewInt32(ctx, code));
  JS_SetPropertyStr(ctx, e, "message", new_string(ctx, message));
  JS_SetPropertyStr(ctx, e, "details", JS_NewArray(ctx));
  return e;
}

/// k6's Response: status, message, headers, trailers, error.
/// A message's wire bytes as a JS value: directly for plain types (k6/grpc_message.h),
/// else through protobuf's JSON text. Throws rpc::ProtoError.
JSValue decode_message(JSContext* ctx, ClientState& c, const google::protobuf::Descriptor* type,
                       const std::string& bytes, const char* what) {
  if (c.protos.plain(type)) return message_to_js(ctx, c.protos.parse(type, bytes));
  std::string json = c.protos.decode(type, bytes);
  JSValue v = js::parse_json(ctx, json.data(), json.size(), what);
  if (JS_IsException(v)) {
    js::discard_exception(ctx);
    return JS_NULL;
  }
  return v;
}

/// A request (the script's value) as wire bytes: directly for plain types when
/// the value is one the direct path takes, else through JSON.stringify and
/// protobuf's JSON parser (as before, same errors). False with an exception pending.
bool encode_message(JSContext* ctx, ClientState& c, const google::protobuf::Descriptor* type, JSValueConst req,
                    std::string* out) {
  if (c.protos.plain(type)) {
    auto* msg = c.protos.scratch(type);
    if (js_to_message(ctx, req, msg) && msg->SerializeToString(out)) return true;
  }
  js::Value json(ctx, JS_JSONStringify(ctx, req, JS_UNDEFINED, JS_UNDEFINED));
  if (json.is_exception()) return false;
  try {
    *out = c.protos.encode(type, js::to_string(ctx, json.get()));
  } catch (const rpc::ProtoError& e) {
    JS_ThrowTypeError(ctx, "%s", e.what());
    return false;
  }
  return true;
}

JSValue response_to_js(JSContext* ctx, ClientState& c, const google::protobuf::MethodDescriptor* md,
                       const rpc::CallResult& r) {
  js::Value o(ctx, JS_NewObject(ctx));
  JS_SetPropertyStr(ctx, o.get(), "status", JS_NewInt32(ctx, r.code));
  JS_SetPropertyStr(ctx, o.get(), "headers", metadata_to_js(ctx, r.headers));
  JS_SetPropertyStr(ctx, o.get(), "trailers", metadata_to_js(ctx, r.trailers));
  JSValue message = JS_NULL, error = JS_NULL;
  if (r.code == 0) {
    try {
      message = decode_message(ctx, c, md->output_type(), r.body, "<grpc response>");
    } catch (const rpc::ProtoError& e) {
      error = error_object(ctx, 13, e.what());
    }
  } else {
    error = error_object(ctx, r.code, r.status_message);
  }
  JS_SetPropertyStr(ctx, o.get(), "message", message);
  JS_SetPropertyStr(ctx, o.get(), "error", error);
  return o.release();
}

// ---- natives ------------------------------------------------------------------------

JSValue n_new_client(JSContext* ctx, JSValueConst, int, JSValueConst*) {
  VuState* vu = vu_of(ctx);
  return guarded(ctx, [&]() -> JSValue {
    auto state = std::make_shared<ClientState>();
    state->vu = vu;
    state->ref->loop = vu->loop;
    auto* reg = vu->run->registry;
    state->req_duration = reg->define("grpc_req_duration", metrics::MetricType::kTrend, metrics::ValueType::kTime);
    state->streams = reg->define("grpc_streams", metrics::MetricType::kCounter, metrics::ValueType::kDefault);
    state->msgs_sent =
        reg->define("grpc_streams_msgs_sent", metrics::MetricType::kCounter, metrics::ValueType::kDefault);
    state->msgs_received =
        reg->define("grpc_streams_msgs_received", metrics::MetricType::kCounter, metrics::ValueType::kDefault);
    JSValue o = JS_NewObjectClass(ctx, static_cast<int>(client_class_id));
    if (JS_IsException(o)) return o;
    JS_SetOpaque(o, new std::shared_ptr<ClientState>(std::move(state)));
    return o;
  });
}

/// Reads .proto and protoset files through the script's Bundle, as open() does:
/// an archive serves them, and `herd archive` records them. Null when missing.
rpc::FileReader bundle_reader(VuState* vu) {
  auto bundle = vu->run->bundle;
  return [bundle](const std::string& path) -> std::shared_ptr<const std::string> {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return nullptr;
    try {
      return bundle->read_file("", path);
    } catch (const js::ScriptError&) {
      return nullptr;
    }
  };
}

JSValue n_load(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  auto c = client_of(ctx, argc > 0 ? argv[0] : JS_UNDEFINED);
  if (!c) return JS_EXCEPTION;
  if (!c->vu->in_init) return JS_ThrowTypeError(ctx, "load() can only be called from the init context");
  auto paths = string_list(ctx, argc > 1 ? argv[1] : JS_UNDEFINED);
  auto files = string_list(ctx, argc > 2 ? argv[2] : JS_UNDEFINED);
  std::string dir = caller_dir(ctx);
  try {
    return methods_to_js(ctx, c->protos.load(paths, files, dir, bundle_reader(c->vu)));
  } catch (const rpc::ProtoError& e) {
    return JS_ThrowTypeError(ctx, "grpc load: %s", e.what());
  }
}

JSValue n_load_protoset(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  auto c = client_of(ctx, argc > 0 ? argv[0] : JS_UNDEFINED);
  if (!c) return JS_EXCEPTION;
  if (!c->vu->in_init) return JS_ThrowTypeError(ctx, "loadProtoset() can only be called from the init context");
  std::string file = argc > 1 ? js::to_string(ctx, argv[1]) : "";
  std::filesystem::path p(file);
  if (p.is_relative()) p = std::filesystem::path(caller_dir(ctx)) / p;
  try {
    return methods_to_js(ctx, c->protos.load_protoset(p.lexically_normal().string(), bundle_reader(c->vu)));
  } catch (const rpc::ProtoError& e) {
    return JS_ThrowTypeError(ctx, "grpc loadProtoset: %s", e.what());
  }
}

/// Waits on the VU's fiber until `*done` (set by posted work). False if interrupted.
bool wait_for(VuState* vu, const std::shared_ptr<bool>& done) {
  while (!*done)
    if (!vu->suspend()) return false;
  return true;
}

JSValue n_connect(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  auto c = client_of(ctx, argc > 0 ? argv[0] : JS_UNDEFINED);
  if (!c) return JS_EXCEPTION;
  VuState* vu = c->vu;
  if (vu->in_init) return JS_ThrowTypeError(ctx, "connecting to a gRPC server in the init context is not supported");
  if (vu->interrupted) return throw_interrupted(ctx);
  std::string addr = argc > 1 ? js::to_string(ctx, argv[1]) : "";
  if (addr.empty()) return JS_ThrowTypeError(ctx, "connect() needs an address (host:port)");
  JSValueConst params = argc > 2 && JS_IsObject(argv[2]) ? argv[2] : JS_UNDEFINED;
  rpc::ConnectOptions opts;
  bool reflect = false;
  rpc::Metadata reflect_md;
  if (JS_IsObject(params)) {
    js::Value pt(ctx, JS_GetPropertyStr(ctx, params, "plaintext"));
    opts.plaintext = JS_ToBool(ctx, pt.get()) > 0;
    js::Value rf(ctx, JS_GetPropertyStr(ctx, params, "reflect"));
    reflect = JS_ToBool(ctx, rf.get()) > 0;
    if (!read_duration(ctx, params, "timeout", std::chrono::seconds(60), &opts.timeout)) return JS_EXCEPTION;
    for (auto [name, field] : {std::pair{"maxReceiveSize", &opts.max_receive}, {"maxSendSize", &opts.max_send}}) {
      js::Value v(ctx, JS_GetPropertyStr(ctx, params, name));
      if (JS_IsUndefined(v.get())) continue;
      double d = -1;
      JS_ToFloat64(ctx, &d, v.get());
      if (!(d >= 0) || d > 2147483647) return JS_ThrowTypeError(ctx, "%s must be a number of bytes", name);
      if (d > 0) *field = static_cast<int>(d);  // 0 (k6's default) = gRPC's own limit
    }
    js::Value tls(ctx, JS_GetPropertyStr(ctx, params, "tls"));
    if (JS_IsObject(tls.get())) {
      rpc::TlsOptions t;
      for (auto [name, field] : {std::pair{"cert", &t.cert}, {"key", &t.key}, {"cacerts", &t.cacerts}}) {
        js::Value v(ctx, JS_GetPropertyStr(ctx, tls.get(), name));
        if (JS_IsArray(ctx, v.get())) {
          for (const auto& s : string_list(ctx, v.get())) *field += s;
        } else if (!JS_IsUndefined(v.get())) {
          *field = js::to_string(ctx, v.get());
        }
      }
      js::Value pw(ctx, JS_GetPropertyStr(ctx, tls.get(), "password"));
      if (!JS_IsUndefined(pw.get()) && !JS_IsNull(pw.get())) {
        if (t.key.empty()) return JS_ThrowTypeError(ctx, "tls.password is given but tls.key is not");
        try {
          t.key = rpc::decrypt_pem_key(t.key, js::to_string(ctx, pw.get()));
        } catch (const rpc::TlsKeyError& e) {
          return JS_ThrowTypeError(ctx, "%s", e.what());
        }
      }
      if (t.cert.empty() != t.key.empty())
        return JS_ThrowTypeError(ctx, "tls.cert and tls.key go together (a client certificate needs its key)");
      opts.tls = std::move(t);
    }
    js::Value rmd(ctx, JS_GetPropertyStr(ctx, params, "reflectMetadata"));
    if (JS_IsObject(rmd.get())) {
      std::map<std::string, std::string> kv;
      if (!read_string_map(ctx, rmd.get(), &kv))
        return JS_ThrowTypeError(ctx, "params.reflectMetadata must be an object of strings");
      for (auto& [k, v] : kv) {  // gRPC refuses upper-case keys: lower-cased as params.metadata's are
        std::string key = k;
        for (auto& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        reflect_md.emplace_back(std::move(key), v);
      }
      if (std::string e = rpc::metadata_error(reflect_md); !e.empty())
        return JS_ThrowTypeError(ctx, "params.reflectMetadata: %s", e.c_str());
    }
  }
  if (c->conn) {
    c->conn->cancel_all_and_wait();
    c->conn.reset();
  }
  auto done = std::make_shared<bool>(false);
  auto result = std::make_shared<std::pair<std::shared_ptr<rpc::Connection>, std::string>>();
  auto ref = c->ref;
  rpc::Connection::open(addr, opts, [ref, vu, done, result](std::shared_ptr<rpc::Connection> conn, std::string err) {
    ref->post([ref, vu, done, result, conn = std::move(conn), err = std::move(err)] {
      if (!ref->alive()) return;
      *result = {conn, err};
      *done = true;
      vu->wake();
    });
  });
  if (!wait_for(vu, done)) return throw_interrupted(ctx);
  if (!result->first) return JS_ThrowInternalError(ctx, "%s", result->second.c_str());
  c->conn = result->first;
  if (reflect) {
    auto rdone = std::make_shared<bool>(false);
    auto files = std::make_shared<std::pair<std::vector<std::string>, std::string>>();
    rpc::reflect(c->conn, reflect_md, opts.timeout,
                 [ref, vu, rdone, files](std::vector<std::string> fs, std::string err) {
                   ref->post([ref, vu, rdone, files, fs = std::move(fs), err = std::move(err)] {
                     if (!ref->alive()) return;
                     *files = {fs, err};
                     *rdone = true;
                     vu->wake();
                   });
                 });
    if (!wait_for(vu, rdone)) return throw_interrupted(ctx);
    if (!files->second.empty()) return JS_ThrowInternalError(ctx, "%s", files->second.c_str());
    try {
      c->protos.add_serialized(files->first);
    } catch (const rpc::ProtoError& e) {
      return JS_ThrowInternalError(ctx, "server reflection: %s", e.what());
    }
  }
  return JS_TRUE;
}

struct CallSetup {
  const google::protobuf::MethodDescriptor* md = nullptr;
  std::string path;
  rpc::Metadata metadata;
  std::chrono::milliseconds timeout{0};
  std::map<std::string, std::string> tags;
  std::string address;  ///< the connection's, taken at the start: close() may drop the connection mid-call
};

/// Checks the client and method and reads params; false with an exception pending.
bool setup_call(JSContext* ctx, ClientState& c, const std::string& method, JSValueConst params, CallSetup* s) {
  if (c.vu->in_init) return JS_ThrowTypeError(ctx, "invoking RPC methods in the init context is not supported"), false;
  if (!c.conn) return JS_ThrowInternalError(ctx, "no gRPC connection, you must call connect first"), false;
  if (method.empty()) return JS_ThrowTypeError(ctx, "method to invoke cannot be empty"), false;
  s->md = c.protos.find(method);
  if (!s->md) return JS_ThrowInternalError(ctx, "method \"%s\" not found in file descriptors", method.c_str()), false;
  s->path = rpc::method_path(s->md);
  s->address = c.conn->address();
  if (JS_IsObject(params)) {
    if (!read_metadata(ctx, params, &s->metadata) || !read_tags(ctx, params, &s->tags)) return false;
    if (!read_duration(ctx, params, "timeout", std::chrono::minutes(2), &s->timeout)) return false;
  } else {
    s->timeout = std::chrono::minutes(2);
  }
  return true;
}

metrics::TagSet call_tags(ClientState& c, const CallSetup& s, const char* type, int status) {
  ClientState::CachedTags* cached = nullptr;
  if (s.tags.empty()) {
    cached = &c.tag_cache[{s.md, type, status}];
    if (cached->base == c.vu->base_tags && cached->address == s.address && !cached->address.empty())
      return cached->tags;
  }
  std::map<std::string, std::string> extra = {
      {"name", s.path}, {"method", s.path}, {"url", s.address + s.path}, {"rpc_type", type}};
  if (status >= 0) extra["status"] = std::to_string(status);  // -1: a stream's message or start
  for (const auto& [k, v] : s.tags) extra[k] = v;
  auto tags = tags_with(*c.vu, extra);
  if (cached) *cached = {c.vu->base_tags, tags, s.address};
  return tags;
}

JSValue n_invoke(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  auto c = client_of(ctx, argc > 0 ? argv[0] : JS_UNDEFINED);
  if (!c) return JS_EXCEPTION;
  VuState* vu = c->vu;
  if (vu->interrupted) return throw_interrupted(ctx);
  std::string method = argc > 1 ? js::to_string(ctx, argv[1]) : "";
  JSValueConst params = argc > 3 ? argv[3] : JS_UNDEFINED;
  bool async = argc > 4 && JS_ToBool(ctx, argv[4]) > 0;
  auto s = std::make_shared<CallSetup>();
  if (!setup_call(ctx, *c, method, params, s.get())) return JS_EXCEPTION;
  if (s->md->client_streaming() || s->md->server_streaming())
    return JS_ThrowTypeError(ctx, "method %s is a streaming method: use grpc.Stream", s->path.c_str());
  std::string body;
  js::Value empty(ctx, argc > 2 ? JS_UNDEFINED : JS_NewObject(ctx));
  if (!encode_message(ctx, *c, s->md->input_type(), argc > 2 ? argv[2] : empty.get(), &body)) return JS_EXCEPTION;
  struct Outcome {
    bool done = false;
    rpc::CallResult result;
    std::int64_t micros = 0;
  };
  auto out = std::make_shared<Outcome>();
  auto ref = c->ref;
  auto start = std::chrono::steady_clock::now();
  std::weak_ptr<ClientState> weak = c;
  // Runs on the VU's loop thread: records the sample, then wakes the VU or settles the promise.
  std::function<void()> on_loop;
  std::int64_t async_id = 0;
  if (async) {
    JSValue funcs[2];
    JSValue promise = JS_NewPromiseCapability(ctx, funcs);
    if (JS_IsException(promise)) return promise;
    async_id = vu->next_async_id++;
    VuState::AsyncOp op;
    op.values = {funcs[0], funcs[1]};
    vu->async_ops.emplace(async_id, std::move(op));
    auto pending = c->conn->unary(
        s->path, std::move(body), s->metadata, s->timeout, [ref, vu, out, s, weak, start, async_id](rpc::CallResult r) {
          auto micros =
              std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
          ref->post([ref, vu, out, s, weak, async_id, micros, r = std::move(r)]() mutable {
            auto c = weak.lock();
            if (!ref->alive() || !c) return;
            vu->sink->add(c->req_duration, call_tags(*c, *s, "unary", r.code), micros / 1000.0, vu->now_us());
            vu->post_ready([vu, s, weak, async_id, r = std::move(r)] {
              auto c = weak.lock();
              auto it = vu->async_ops.find(async_id);
              if (!c || it == vu->async_ops.end()) return;
              JSContext* cx = vu->js_ctx;
              js::Value resolve(cx, it->second.values[0]), reject(cx, it->second.values[1]);
              it->second.values.clear();
              vu->async_ops.erase(it);
              js::Value res(cx, response_to_js(cx, *c, s->md, r));
              JSValue arg = res.get();
              js::Value called(cx, JS_Call(cx, resolve.get(), JS_UNDEFINED, 1, &arg));
            });
          });
        });
    vu->async_ops[async_id].cancel = [pending] { pending->cancel(); };
    return promise;
  }
  auto pending =
      c->conn->unary(s->path, std::move(body), s->metadata, s->timeout, [ref, vu, out, start](rpc::CallResult r) {
        auto micros =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
        ref->post([ref, vu, out, micros, r = std::move(r)]() mutable {
          if (!ref->alive()) return;
          out->result = std::move(r);
          out->micros = micros;
          out->done = true;
          vu->wake();
        });
      });
  while (!out->done) {
    if (!vu->suspend()) {
      pending->cancel();
      return throw_interrupted(ctx);
    }
  }
  vu->sink->add(c->req_duration, call_tags(*c, *s, "unary", out->result.code), out->micros / 1000.0, vu->now_us());
  return response_to_js(ctx, *c, s->md, out->result);
}

JSValue n_close(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  auto c = client_of(ctx, argc > 0 ? argv[0] : JS_UNDEFINED);
  if (!c) return JS_EXCEPTION;
  if (c->conn) {
    c->conn->cancel_all_and_wait();
    c->conn.reset();
  }
  return JS_UNDEFINED;
}

// ---- Stream -------------------------------------------------------------------------

/// A stream's native half. Its emit function (the JS module's dispatcher to
/// the on() listeners) lives in an async op, so the iteration waits for the
/// stream's end as k6 does, and an interrupted iteration cancels it.
struct StreamState {
  std::weak_ptr<ClientState> client;
  std::shared_ptr<rpc::StreamCall> call;
  std::shared_ptr<CallSetup> setup;
  std::int64_t op_id = 0;
  bool write_closed = false;
};

void stream_finalizer(JSRuntime*, JSValue val) {
  delete static_cast<std::shared_ptr<StreamState>*>(JS_GetOpaque(val, stream_class_id));
}

std::shared_ptr<StreamState> stream_of(JSContext* ctx, JSValueConst v) {
  auto* p = static_cast<std::shared_ptr<StreamState>*>(JS_GetOpaque(v, stream_class_id));
  if (!p) {
    JS_ThrowTypeError(ctx, "not a grpc.Stream");
    return nullptr;
  }
  return *p;
}

/// Calls the stream's emit(kind, value) on the VU's fiber; `make` builds the value.
void emit(VuState* vu, std::int64_t op_id, const char* kind, const std::function<JSValue(JSContext*)>& make) {
  auto it = vu->async_ops.find(op_id);
  if (it == vu->async_ops.end() || it->second.values.empty()) return;
  JSContext* cx = vu->js_ctx;
  js::Value fn = js::Value::dup(cx, it->second.values[0]);
  JSValue args[2] = {JS_NewString(cx, kind), make(cx)};
  js::Value r(cx, JS_Call(cx, fn.get(), JS_UNDEFINED, 2, args));
  JS_FreeValue(cx, args[0]);
  JS_FreeValue(cx, args[1]);
  if (r.is_exception()) {
    if (vu->interrupted)
      js::discard_exception(cx);
    else
      vu->run->logger->log(Logger::Level::kError, js::take_exception(cx), "console");
  }
}

JSValue n_stream_open(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  auto c = client_of(ctx, argc > 0 ? argv[0] : JS_UNDEFINED);
  if (!c) return JS_EXCEPTION;
  VuState* vu = c->vu;
  if (vu->interrupted) return throw_interrupted(ctx);
  std::string method = argc > 1 ? js::to_string(ctx, argv[1]) : "";
  JSValueConst params = argc > 2 ? argv[2] : JS_UNDEFINED;
  if (argc < 4 || !JS_IsFunction(ctx, argv[3])) return JS_ThrowTypeError(ctx, "streamOpen needs an emit function");
  auto s = std::make_shared<CallSetup>();
  if (!setup_call(ctx, *c, method, params, s.get())) return JS_EXCEPTION;
  if (!s->md->client_streaming() && !s->md->server_streaming())
    return JS_ThrowTypeError(ctx, "method %s is not a streaming method: use invoke()", s->path.c_str());
  // k6 streams have no deadline unless one is given.
  js::Value has_timeout(ctx, JS_IsObject(params) ? JS_GetPropertyStr(ctx, params, "timeout") : JS_UNDEFINED);
  if (JS_IsUndefined(has_timeout.get())) s->timeout = std::chrono::milliseconds(0);
  auto st = std::make_shared<StreamState>();
  st->client = c;
  st->setup = s;
  st->op_id = vu->next_async_id++;
  VuState::AsyncOp op;
  op.values = {JS_DupValue(ctx, argv[3])};
  vu->async_ops.emplace(st->op_id, std::move(op));
  auto ref = c->ref;
  std::weak_ptr<ClientState> weak = c;
  std::int64_t id = st->op_id;
  auto start = std::chrono::steady_clock::now();
  rpc::Connection::StreamHandlers h;
  h.on_message = [ref, vu, weak, s, id](std::string bytes) {
    ref->post([ref, vu, weak, s, id, bytes = std::move(bytes)] {
      auto c = weak.lock();
      if (!ref->alive() || !c) return;
      vu->sink->add(c->msgs_received, call_tags(*c, *s, "stream", -1), 1, vu->now_us());
      vu->post_ready([vu, weak, s, id, bytes] {
        auto c = weak.lock();
        if (!c) return;
        emit(vu, id, "data", [&](JSContext* cx) {
          try {
            return decode_message(cx, *c, s->md->output_type(), bytes, "<grpc stream message>");
          } catch (const rpc::ProtoError& e) {
            return new_string(cx, e.what());
          }
        });
      });
    });
  };
  h.on_done = [ref, vu, weak, s, id, start](rpc::CallResult r) {
    auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
    ref->post([ref, vu, weak, s, id, micros, r = std::move(r)] {
      auto c = weak.lock();
      if (!ref->alive() || !c) return;
      vu->sink->add(c->req_duration, call_tags(*c, *s, "stream", r.code), micros / 1000.0, vu->now_us());
      vu->post_ready([vu, id, r] {
        if (r.code != 0)
          emit(vu, id, "error", [&](JSContext* cx) { return error_object(cx, r.code, r.status_message); });
        emit(vu, id, "end", [](JSContext*) { return JS_UNDEFINED; });
        auto it = vu->async_ops.find(id);
        if (it != vu->async_ops.end()) vu->erase_async(vu->js_ctx, it);
      });
    });
  };
  st->call = c->conn->stream(s->path, s->metadata, s->timeout, std::move(h));
  vu->async_ops[id].cancel = [call = st->call] { call->cancel(); };
  vu->sink->add(c->streams, call_tags(*c, *s, "stream", -1), 1, vu->now_us());
  JSValue o = JS_NewObjectClass(ctx, static_cast<int>(stream_class_id));
  if (JS_IsException(o)) return o;
  JS_SetOpaque(o, new std::shared_ptr<StreamState>(std::move(st)));
  return o;
}

JSValue n_stream_write(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  auto st = stream_of(ctx, argc > 0 ? argv[0] : JS_UNDEFINED);
  if (!st) return JS_EXCEPTION;
  auto c = st->client.lock();
  if (!c) return JS_ThrowInternalError(ctx, "the stream's client is gone");
  if (st->write_closed) return JS_ThrowTypeError(ctx, "cannot write to a stream after end()");
  if (!c->conn) return JS_ThrowInternalError(ctx, "cannot write to a stream of a closed client");
  std::string body;
  js::Value empty(ctx, argc > 1 ? JS_UNDEFINED : JS_NewObject(ctx));
  if (!encode_message(ctx, *c, st->setup->md->input_type(), argc > 1 ? argv[1] : empty.get(), &body))
    return JS_EXCEPTION;
  st->call->write(std::move(body));
  c->vu->sink->add(c->msgs_sent, call_tags(*c, *st->setup, "stream", -1), 1, c->vu->now_us());
  return JS_UNDEFINED;
}

JSValue n_stream_end(JSContext* ctx, JSValueConst, int argc, JSValueConst* argv) {
  auto st = stream_of(ctx, argc > 0 ? argv[0] : JS_UNDEFINED);
  if (!st) return JS_EXCEPTION;
  if (!st->write_closed) {
    st->write_closed = true;
    st->call->writes_done();
  }
  return JS_UNDEFINED;
}

int grpc_native_init(JSContext* ctx, JSModuleDef* m) {
  static std::once_flag once;
  std::call_once(once, [] {
    JS_NewClassID(&client_class_id);
    JS_NewClassID(&stream_class_id);
  });
  JSRuntime* rt = JS_GetRuntime(ctx);
  if (!JS_IsRegisteredClass(rt, client_class_id)) {
    JSClassDef def{};
    def.class_name = "GrpcClientHandle";
    def.finalizer = client_finalizer;
    JS_NewClass(rt, client_class_id, &def);
    JSClassDef sdef{};
    sdef.class_name = "GrpcStreamHandle";
    sdef.finalizer = stream_finalizer;
    JS_NewClass(rt, stream_class_id, &sdef);
  }
  JS_SetModuleExport(ctx, m, "newClient", JS_NewCFunction(ctx, n_new_client, "newClient", 0));
  JS_SetModuleExport(ctx, m, "load", JS_NewCFunction(ctx, n_load, "load", 3));
  JS_SetModuleExport(ctx, m, "loadProtoset", JS_NewCFunction(ctx, n_load_protoset, "loadProtoset", 2));
  JS_SetModuleExport(ctx, m, "connect", JS_NewCFunction(ctx, n_connect, "connect", 3));
  JS_SetModuleExport(ctx, m, "invoke", JS_NewCFunction(ctx, n_invoke, "invoke", 5));
  JS_SetModuleExport(ctx, m, "close", JS_NewCFunction(ctx, n_close, "close", 1));
  JS_SetModuleExport(ctx, m, "streamOpen", JS_NewCFunction(ctx, n_stream_open, "streamOpen", 4));
  JS_SetModuleExport(ctx, m, "streamWrite", JS_NewCFunction(ctx, n_stream_write, "streamWrite", 2));
  JS_SetModuleExport(ctx, m, "streamEnd", JS_NewCFunction(ctx, n_stream_end, "streamEnd", 1));
  return 0;
}

const char* const kNativeExports[] = {"newClient", "load",       "loadProtoset", "connect",  "invoke",
                                      "close",     "streamOpen", "streamWrite",  "streamEnd"};

const char* kGrpcModule = R"JS(
import * as N from 'herd:grpc';
export const StatusOK = 0, StatusCanceled = 1, StatusUnknown = 2, StatusInvalidArgument = 3,
  StatusDeadlineExceeded = 4, StatusNotFound = 5, StatusAlreadyExists = 6, StatusPermissionDenied = 7,
  StatusResourceExhausted = 8, StatusFailedPrecondition = 9, StatusAborted = 10, StatusOutOfRange = 11,
  StatusUnimplemented = 12, StatusInternal = 13, StatusUnavailable = 14, StatusDataLoss = 15,
  StatusUnauthenticated = 16;
const body = (req) => (req === undefined || req === null ? {} : req);
export class Client {
  constructor() { Object.defineProperty(this, '_h', { value: N.newClient(), enumerable: false }); }
  load(importPaths, ...protoFiles) { return N.load(this._h, importPaths, protoFiles); }
  loadProtoset(protosetPath) { return N.loadProtoset(this._h, protosetPath); }
  connect(address, params) { return N.connect(this._h, address, params); }
  invoke(method, request, params) { return N.invoke(this._h, method, body(request), params, false); }
  asyncInvoke(method, request, params) {
    try { return N.invoke(this._h, method, body(request), params, true); } catch (e) { return Promise.reject(e); }
  }
  close() { N.close(this._h); }
}
export class Stream {
  constructor(client, method, params) {
    if (!(client instanceof Client)) throw new TypeError('new Stream(client, method, params): client must be a grpc.Client');
    const handlers = { data: [], error: [], end: [] };
    Object.defineProperty(this, '_on', { value: handlers, enumerable: false });
    Object.defineProperty(this, '_h', {
      value: N.streamOpen(client._h, method, params, (kind, v) => { for (const f of handlers[kind]) f(v); }),
      enumerable: false,
    });
  }
  on(event, listener) {
    if (!(event in this._on)) throw new TypeError('unknown Stream event "' + event + '" (data, error, end)');
    if (typeof listener !== 'function') throw new TypeError('Stream.on(event, listener) needs a function');
    this._on[event].push(listener);
  }
  write(message) { N.streamWrite(this._h, body(message)); }
  end() { N.streamEnd(this._h); }
}
export default {
  Client, Stream, StatusOK, StatusCanceled, StatusUnknown, StatusInvalidArgument, StatusDeadlineExceeded,
  StatusNotFound, StatusAlreadyExists, StatusPermissionDenied, StatusResourceExhausted, StatusFailedPrecondition,
  StatusAborted, StatusOutOfRange, StatusUnimplemented, StatusInternal, StatusUnavailable, StatusDataLoss,
  StatusUnauthenticated,
};
)JS";

}  // namespace

std::map<std::string, std::string> grpc_module_sources() {
  return {{"k6/net/grpc", kGrpcModule}, {"k6/experimental/grpc", kGrpcModule}};
}

JSModuleDef* grpc_native_module(JSContext* ctx, const char* name) {
  JSModuleDef* m = JS_NewCModule(ctx, name, grpc_native_init);
  if (!m) return nullptr;
  for (const char* n : kNativeExports) JS_AddModuleExport(ctx, m, n);
  return m;
}

}  // namespace herd::k6
