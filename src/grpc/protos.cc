// Protos (grpc/protos.h). .proto files are compiled by Debian's protoc into a
// FileDescriptorSet (libprotoc's headers are not packaged in this Debian), once
// per set of files and import paths in the process; the set is then built into
// the Client's own descriptor pool.
#include "grpc/protos.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace herd::rpc {

namespace pb = google::protobuf;
namespace fs = std::filesystem;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Where protoc is: $HERD_PROTOC, else `protoc` on PATH.
std::string protoc_binary() {
  const char* e = std::getenv("HERD_PROTOC");
  return e && *e ? e : "protoc";
}

/// A scratch directory removed with its files.
struct ScratchDir {
  std::string path;
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "herd-protoc-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw ProtoError("cannot create a temporary directory for protoc");
    path = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// Runs protoc; returns the serialized FileDescriptorSet or throws with protoc's messages.
std::string run_protoc(const std::vector<std::string>& includes, const std::vector<std::string>& files) {
  ScratchDir dir;
  std::string out = dir.path + "/set.pb", err = dir.path + "/stderr";
  std::vector<std::string> args = {protoc_binary(), "--include_imports", "--descriptor_set_out=" + out};
  for (const auto& i : includes) args.push_back("--proto_path=" + i);
  for (const auto& f : files) args.push_back(f);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  // In an empty directory, relative file names are protoc's virtual paths (found under --proto_path).
  posix_spawn_file_actions_addchdir_np(&fa, dir.path.c_str());
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    throw ProtoError("cannot run " + args[0] + " to parse .proto files (" + std::strerror(rc) +
                     "): install protobuf-compiler, set HERD_PROTOC, or use loadProtoset()/reflect");
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      throw ProtoError("protoc did not finish within 60 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string msg = read_file(err);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
    if (msg.empty()) msg = "protoc failed";
    throw ProtoError(msg);
  }
  return read_file(out);
}

/// Process-wide: protoc runs once per distinct load() (every VU calls it in its init context).
std::string compile_cached(const std::vector<std::string>& includes, const std::vector<std::string>& files) {
  static std::mutex mu;
  static std::map<std::string, std::pair<bool, std::string>> cache;  // key -> (ok, set or error)
  std::string key;
  for (const auto& i : includes) key += "I" + i + '\0';
  for (const auto& f : files) key += "F" + f + '\0';
  std::lock_guard<std::mutex> g(mu);
  auto it = cache.find(key);
  if (it == cache.end()) {
    try {
      it = cache.emplace(key, std::make_pair(true, run_protoc(includes, files))).first;
    } catch (const ProtoError& e) {
      it = cache.emplace(key, std::make_pair(false, std::string(e.what()))).first;
    }
  }
  if (!it->second.first) throw ProtoError(it->second.second);
  return it->second.second;
}

class CollectErrors : public pb::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element, const pb::Message*, ErrorLocation,
                const std::string& message) override {
    if (!text.empty()) text += "; ";
    text += filename + ": " + (element.empty() ? "" : element + ": ") + message;
  }
  std::string text;
};

}  // namespace

std::string method_path(const pb::MethodDescriptor* m) {
  return "/" + m->service()->full_name() + "/" + m->name();
}

Protos::Protos() : factory_(&pool_) {}
Protos::~Protos() = default;

std::vector<MethodInfo> Protos::load(const std::vector<std::string>& import_paths,
                                     const std::vector<std::string>& files, const std::string& base_dir) {
  if (files.empty()) throw ProtoError("load() needs at least one .proto file");
  std::vector<std::string> includes;
  auto absolute = [&](const std::string& p) {
    fs::path q(p);
    return fs::absolute(q.is_absolute() ? q : fs::path(base_dir) / q).lexically_normal().string();
  };
  for (const auto& p : import_paths) includes.push_back(absolute(p));
  includes.push_back(absolute(base_dir.empty() ? "." : base_dir));
  std::vector<std::string> names;
  for (const auto& f : files) {
    fs::path q(f);
    if (q.is_absolute()) {
      includes.push_back(q.parent_path().string());
      names.push_back(q.filename().string());
      continue;
    }
    bool found = false;
    for (const auto& inc : includes) found = found || fs::exists(fs::path(inc) / q);
    if (!found) {
      std::string where;
      for (const auto& inc : includes) where += (where.empty() ? "" : ", ") + inc;
      throw ProtoError(f + ": File not found (searched " + where + ")");
    }
    names.push_back(q.lexically_normal().string());
  }
  std::string bytes = compile_cached(includes, names);
  pb::FileDescriptorSet set;
  if (!set.ParseFromString(bytes)) throw ProtoError("protoc wrote an unreadable descriptor set");
  return add_set(set);
}

std::vector<MethodInfo> Protos::load_protoset(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ProtoError(path + ": cannot open the protoset file");
  pb::FileDescriptorSet set;
  if (!set.ParseFromString(read_file(path)) || set.file_size() == 0)
    throw ProtoError(path + ": not a protoset (a serialized FileDescriptorSet, e.g. protoc --descriptor_set_out)");
  return add_set(set);
}

std::vector<MethodInfo> Protos::add_set(const pb::FileDescriptorSet& set) {
  std::map<std::string, pb::FileDescriptorProto> files;
  for (const auto& f : set.file()) files[f.name()] = f;
  return add_files(std::move(files));
}

std::vector<MethodInfo> Protos::add_serialized(const std::vector<std::string>& serialized) {
  std::map<std::string, pb::FileDescriptorProto> files;
  for (const auto& s : serialized) {
    pb::FileDescriptorProto f;
    if (!f.ParseFromString(s)) throw ProtoError("the server sent an unreadable file descriptor");
    files[f.name()] = std::move(f);
  }
  return add_files(std::move(files));
}

std::vector<MethodInfo> Protos::add_files(std::map<std::string, pb::FileDescriptorProto> files) {
  std::vector<MethodInfo> out;
  std::set<std::string> visiting;
  std::function<const pb::FileDescriptor*(const std::string&)> build = [&](const std::string& name) {
    if (const auto* have = pool_.FindFileByName(name)) return have;
    auto it = files.find(name);
    if (it == files.end()) {
      // Well-known types (google/protobuf/*.proto) come from the library itself.
      const auto* gen = pb::DescriptorPool::generated_pool()->FindFileByName(name);
      if (!gen) throw ProtoError(name + ": imported but not given");
      pb::FileDescriptorProto p;
      gen->CopyTo(&p);
      files.emplace(name, std::move(p));
      it = files.find(name);
    }
    if (!visiting.insert(name).second) throw ProtoError(name + ": import cycle");
    for (const auto& dep : it->second.dependency()) build(dep);
    CollectErrors errors;
    const auto* fd = pool_.BuildFileCollectingErrors(it->second, &errors);
    if (!fd) throw ProtoError(errors.text.empty() ? name + ": invalid file descriptor" : errors.text);
    for (int s = 0; s < fd->service_count(); s++) {
      const auto* svc = fd->service(s);
      for (int m = 0; m < svc->method_count(); m++) {
        const auto* md = svc->method(m);
        methods_[svc->full_name() + "/" + md->name()] = md;
      }
    }
    return fd;
  };
  std::vector<std::string> names;
  for (const auto& [name, f] : files) names.push_back(name);
  for (const auto& name : names) {
    bool existed = pool_.FindFileByName(name) != nullptr;
    const auto* fd = build(name);
    if (existed) continue;
    for (int s = 0; s < fd->service_count(); s++) {
      const auto* svc = fd->service(s);
      for (int m = 0; m < svc->method_count(); m++) {
        const auto* md = svc->method(m);
        out.push_back({fd->package(), svc->full_name(), md->name(), method_path(md), md->client_streaming(),
                       md->server_streaming()});
      }
    }
  }
  return out;
}

const pb::MethodDescriptor* Protos::find(const std::string& method) const {
  std::string key = !method.empty() && method[0] == '/' ? method.substr(1) : method;
  auto it = methods_.find(key);
  return it == methods_.end() ? nullptr : it->second;
}

std::string Protos::encode(const pb::Descriptor* type, const std::string& json) {
  std::unique_ptr<pb::Message> msg(factory_.GetPrototype(type)->New());
  pb::util::JsonParseOptions opts;
  auto st = pb::util::JsonStringToMessage(json, msg.get(), opts);
  if (!st.ok()) throw ProtoError("unable to serialise request object to protocol buffer: " + std::string(st.message()));
  std::string out;
  if (!msg->SerializeToString(&out)) throw ProtoError("unable to serialise request object to protocol buffer");
  return out;
}

std::string Protos::decode(const pb::Descriptor* type, const std::string& bytes) {
  std::unique_ptr<pb::Message> msg(factory_.GetPrototype(type)->New());
  if (!msg->ParseFromString(bytes)) throw ProtoError("unable to parse the response message as " + type->full_name());
  pb::util::JsonPrintOptions opts;
  opts.always_print_primitive_fields = true;  // k6: protojson EmitUnpopulated
  std::string out;
  auto st = pb::util::MessageToJsonString(*msg, &out, opts);
  if (!st.ok()) throw ProtoError("unable to convert the response message to JSON: " + std::string(st.message()));
  return out;
}

}  // namespace herd::rpc
