#pragma once
// Message descriptions for k6/net/grpc: one descriptor pool per Client, filled
// from .proto files (Client.load), a protoset (Client.loadProtoset) or server
// reflection, and the JSON <-> binary conversion of dynamic messages.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>

#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace herd::rpc {

/// A .proto, protoset or message error; the text is ready for the script's user.
class ProtoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What Client.load returns per method (k6's MethodInfo).
struct MethodInfo {
  std::string package, service, name, full_method;
  bool client_streaming = false, server_streaming = false;
};

/// Reads a file for load()/loadProtoset(): its bytes, or null when it cannot be read.
using FileReader = std::function<std::shared_ptr<const std::string>(const std::string& path)>;
/// Reads from the disk.
FileReader disk_reader();

/// Not thread-safe: used on one VU's thread.
class Protos {
 public:
  Protos();
  ~Protos();
  Protos(const Protos&) = delete;
  Protos& operator=(const Protos&) = delete;

  /// Parses `files` found under `import_paths` (relative ones resolved against
  /// `base_dir`, which is searched last) in process (libprotoc; no protoc
  /// binary), reading every file through `reader`. google/protobuf/*.proto not
  /// found there are libprotobuf's own. Returns the methods of the services
  /// the files define. Throws ProtoError naming file:line:column.
  std::vector<MethodInfo> load(const std::vector<std::string>& import_paths, const std::vector<std::string>& files,
                               const std::string& base_dir, const FileReader& reader = disk_reader());
  /// Reads a FileDescriptorSet (protoc --descriptor_set_out --include_imports).
  std::vector<MethodInfo> load_protoset(const std::string& path, const FileReader& reader = disk_reader());
  /// Adds serialized FileDescriptorProtos in any order (server reflection).
  std::vector<MethodInfo> add_serialized(const std::vector<std::string>& files);
  std::vector<MethodInfo> add_set(const google::protobuf::FileDescriptorSet& set);

  /// "pkg.Service/Method" or "/pkg.Service/Method"; null when unknown.
  const google::protobuf::MethodDescriptor* find(const std::string& method) const;
  bool empty() const { return methods_.empty(); }

  /// JSON text (protobuf's JSON mapping; proto and lowerCamel names both accepted) to wire bytes.
  std::string encode(const google::protobuf::Descriptor* type, const std::string& json);
  /// Wire bytes to JSON text as k6 gives it: lowerCamel names, unset scalars and lists included.
  std::string decode(const google::protobuf::Descriptor* type, const std::string& bytes);

  /// Whether messages of `type` convert to and from JS values directly (k6/grpc_message.h)
  /// rather than through JSON text: a proto3 type whose fields, and those of the
  /// messages it holds, are scalars, strings, enums and such messages (no bytes,
  /// maps, groups, well-known types). Remembered per type: a pool only grows and
  /// its descriptors live as long as it does, so a later load() cannot make it stale.
  bool plain(const google::protobuf::Descriptor* type);
  /// An empty message of `type`, the same object on every call (cleared): for
  /// one conversion at a time on this thread.
  google::protobuf::Message* scratch(const google::protobuf::Descriptor* type);
  /// Wire bytes into scratch(type); throws ProtoError as decode() does.
  const google::protobuf::Message& parse(const google::protobuf::Descriptor* type, const std::string& bytes);

 private:
  std::vector<MethodInfo> add_files(std::map<std::string, google::protobuf::FileDescriptorProto> files);
  google::protobuf::DescriptorPool pool_;
  google::protobuf::DynamicMessageFactory factory_;
  std::map<std::string, const google::protobuf::MethodDescriptor*> methods_;  ///< by "pkg.Svc/M"
  std::map<const google::protobuf::Descriptor*, bool> plain_;
  std::map<const google::protobuf::Descriptor*, std::unique_ptr<google::protobuf::Message>> scratch_;
};

/// Full method path "/pkg.Service/Method".
std::string method_path(const google::protobuf::MethodDescriptor* m);

}  // namespace herd::rpc
