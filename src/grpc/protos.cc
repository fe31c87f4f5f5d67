// Protos (grpc/protos.h). .proto files are parsed in process by libprotoc's
// compiler (SourceTreeDescriptorDatabase, the core of compiler::Importer) over
// a source tree whose files come from a FileReader (the script's Bundle, so
// `herd archive` records them and an archive serves them); well-known types
// (google/protobuf/*.proto) fall back to the ones built into libprotobuf. The
// parsed files are then built into the Client's own descriptor pool.
#include "grpc/protos.h"

#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/descriptor_database.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

namespace herd::rpc {

namespace pb = google::protobuf;
namespace fs = std::filesystem;

namespace {

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A virtual .proto name as protoc accepts it: relative, no "." or ".." parts.
bool canonical_virtual(const std::string& name) {
  if (name.empty() || name[0] == '/' || name.find('\\') != std::string::npos) return false;
  for (const auto& part : fs::path(name)) {
    if (part == "." || part == ".." || part.empty()) return false;
  }
  return true;
}

/// The import roots in order; a virtual name is the first root/name the reader has.
class ReaderSourceTree : public pb::compiler::SourceTree {
 public:
  ReaderSourceTree(std::vector<std::string> roots, const FileReader& reader)
      : roots_(std::move(roots)), reader_(reader) {}
  pb::io::ZeroCopyInputStream* Open(const std::string& name) override {
    if (!canonical_virtual(name)) {
      last_error_ = "Backslashes, consecutive slashes, \".\", or \"..\" are not allowed in the virtual path";
      return nullptr;
    }
    for (const auto& root : roots_) {
      auto data = reader_((fs::path(root) / name).lexically_normal().string());
      if (!data) continue;
      held_.push_back(data);
      return new pb::io::ArrayInputStream(data->data(), static_cast<int>(data->size()));
    }
    last_error_ = "File not found.";
    return nullptr;
  }
  std::string GetLastErrorMessage() override { return last_error_; }

 private:
  std::vector<std::string> roots_;
  const FileReader& reader_;
  std::vector<std::shared_ptr<const std::string>> held_;  ///< the streams point into these
  std::string last_error_;
};

/// protoc's format: file:line:column: message (1-based), or file: message.
class CollectParseErrors : public pb::compiler::MultiFileErrorCollector {
 public:
  void AddError(const std::string& file, int line, int column, const std::string& message) override {
    if (!text.empty()) text += "; ";
    text += file;
    if (line >= 0) text += ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1);
    text += ": " + message;
  }
  void AddWarning(const std::string&, int, int, const std::string&) override {}
  std::string text;
};

/// Parses `names` (virtual paths) and everything they import into one set.
pb::FileDescriptorSet parse_files(const std::vector<std::string>& roots, const std::vector<std::string>& names,
                                  const FileReader& reader) {
  ReaderSourceTree tree(roots, reader);
  pb::DescriptorPoolDatabase builtin(*pb::DescriptorPool::generated_pool());
  pb::compiler::SourceTreeDescriptorDatabase db(&tree, &builtin);
  CollectParseErrors errors;
  db.RecordErrorsTo(&errors);
  pb::DescriptorPool pool(&db, db.GetValidationErrorCollector());
  std::vector<const pb::FileDescriptor*> roots_fd;
  for (const auto& n : names) {
    const auto* fd = pool.FindFileByName(n);
    if (!fd) throw ProtoError(errors.text.empty() ? n + ": cannot be parsed" : errors.text);
    roots_fd.push_back(fd);
  }
  pb::FileDescriptorSet set;
  std::set<std::string> seen;
  std::function<void(const pb::FileDescriptor*)> add = [&](const pb::FileDescriptor* fd) {
    if (!seen.insert(fd->name()).second) return;
    for (int i = 0; i < fd->dependency_count(); i++) add(fd->dependency(i));
    fd->CopyTo(set.add_file());
    fd->CopyJsonNameTo(set.mutable_file(set.file_size() - 1));
  };
  for (const auto* fd : roots_fd) add(fd);
  return set;
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

FileReader disk_reader() {
  return [](const std::string& path) -> std::shared_ptr<const std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in || fs::is_directory(path)) return nullptr;
    return std::make_shared<const std::string>(read_whole(path));
  };
}

std::vector<MethodInfo> Protos::load(const std::vector<std::string>& import_paths,
                                     const std::vector<std::string>& files, const std::string& base_dir,
                                     const FileReader& reader) {
  if (files.empty()) throw ProtoError("load() needs at least one .proto file");
  std::vector<std::string> roots;
  roots.reserve(import_paths.size() + 1);
  auto under_base = [&](const std::string& p) {
    fs::path q(p);
    return (q.is_absolute() ? q : fs::path(base_dir.empty() ? "." : base_dir) / q).lexically_normal().string();
  };
  for (const auto& p : import_paths) roots.push_back(under_base(p));
  roots.push_back(under_base("."));
  std::vector<std::string> names;
  names.reserve(files.size());
  for (const auto& f : files) {
    fs::path q(f);
    if (q.is_absolute()) {
      roots.push_back(q.parent_path().string());
      names.push_back(q.filename().string());
      continue;
    }
    std::string name = q.lexically_normal().string();
    bool found = false;
    for (const auto& root : roots) found = found || (canonical_virtual(name) && reader(root + "/" + name) != nullptr);
    if (!found) {
      std::string where;
      for (const auto& root : roots) where += (where.empty() ? "" : ", ") + root;
      throw ProtoError(f + ": File not found (searched " + where + ")");
    }
    names.push_back(name);
  }
  return add_set(parse_files(roots, names, reader));
}

std::vector<MethodInfo> Protos::load_protoset(const std::string& path, const FileReader& reader) {
  auto data = reader(path);
  if (!data) throw ProtoError(path + ": cannot open the protoset file");
  pb::FileDescriptorSet set;
  if (!set.ParseFromString(*data) || set.file_size() == 0)
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
  names.reserve(files.size());
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

bool Protos::plain(const pb::Descriptor* type) {
  auto it = plain_.find(type);
  if (it != plain_.end()) return it->second;
  // Every message type reachable from `type` (itself included) must qualify.
  std::set<const pb::Descriptor*> seen{type};
  std::vector<const pb::Descriptor*> todo{type};
  bool ok = true;
  while (ok && !todo.empty()) {
    const auto* t = todo.back();
    todo.pop_back();
    ok = t->file()->syntax() == pb::FileDescriptor::SYNTAX_PROTO3 && t->full_name().rfind("google.protobuf.", 0) != 0;
    for (int i = 0; ok && i < t->field_count(); i++) {
      const auto* f = t->field(i);
      if (f->is_map() || f->type() == pb::FieldDescriptor::TYPE_BYTES || f->type() == pb::FieldDescriptor::TYPE_GROUP)
        ok = false;
      else if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE && seen.insert(f->message_type()).second)
        todo.push_back(f->message_type());
    }
  }
  plain_[type] = ok;
  return ok;
}

pb::Message* Protos::scratch(const pb::Descriptor* type) {
  auto& m = scratch_[type];
  if (!m)
    m.reset(factory_.GetPrototype(type)->New());
  else
    m->Clear();
  return m.get();
}

const pb::Message& Protos::parse(const pb::Descriptor* type, const std::string& bytes) {
  auto* msg = scratch(type);
  if (!msg->ParseFromString(bytes)) throw ProtoError("unable to parse the response message as " + type->full_name());
  return *msg;
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
