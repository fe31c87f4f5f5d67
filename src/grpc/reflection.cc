// Server reflection client (grpc/reflection.h).
#include "grpc/reflection.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/unknown_field_set.h>

#include <deque>
#include <mutex>
#include <set>

namespace herd::rpc {

namespace {

namespace pb = google::protobuf;

constexpr const char* kMethod = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
constexpr const char* kReflectionService = "grpc.reflection.v1alpha.ServerReflection";

// ServerReflectionRequest field numbers (a oneof of questions).
constexpr int kFileByFilename = 3;
constexpr int kFileContainingSymbol = 4;
constexpr int kListServices = 7;
// ServerReflectionResponse field numbers.
constexpr int kFileDescriptorResponse = 4;
constexpr int kListServicesResponse = 6;
constexpr int kErrorResponse = 7;

std::string request(int field, const std::string& value) {
  std::string out;
  {
    pb::io::StringOutputStream s(&out);
    pb::io::CodedOutputStream c(&s);
    c.WriteTag(static_cast<std::uint32_t>(field << 3 | 2));  // length-delimited
    c.WriteVarint32(static_cast<std::uint32_t>(value.size()));
    c.WriteString(value);
  }
  return out;
}

/// The length-delimited values of field `number` in `msg`.
std::vector<std::string> strings_of(const pb::UnknownFieldSet& msg, int number) {
  std::vector<std::string> out;
  for (int i = 0; i < msg.field_count(); i++) {
    const auto& f = msg.field(i);
    if (f.number() == number && f.type() == pb::UnknownField::TYPE_LENGTH_DELIMITED)
      out.push_back(f.length_delimited());
  }
  return out;
}

class Reflector : public std::enable_shared_from_this<Reflector> {
 public:
  explicit Reflector(std::function<void(std::vector<std::string>, std::string)> done) : done_(std::move(done)) {}

  void start(const std::shared_ptr<Connection>& conn, const Metadata& md, std::chrono::milliseconds timeout) {
    auto self = shared_from_this();
    Connection::StreamHandlers h;
    h.on_message = [self](std::string msg) { self->on_message(msg); };
    h.on_done = [self](CallResult r) { self->on_done(r); };
    stream_ = conn->stream(kMethod, md, timeout, std::move(h));
    stream_->write(request(kListServices, "*"));
  }

 private:
  void on_message(const std::string& bytes) {
    std::lock_guard<std::mutex> g(mu_);
    pb::UnknownFieldSet msg;
    if (!msg.ParseFromString(bytes)) return fail("server reflection: unreadable response");
    for (const auto& e : strings_of(msg, kErrorResponse)) {
      pb::UnknownFieldSet err;
      err.ParseFromString(e);
      auto text = strings_of(err, 2);
      return fail("server reflection: " + (text.empty() ? std::string("error") : text[0]));
    }
    for (const auto& l : strings_of(msg, kListServicesResponse)) {
      pb::UnknownFieldSet list;
      list.ParseFromString(l);
      for (const auto& s : strings_of(list, 1)) {
        pb::UnknownFieldSet svc;
        svc.ParseFromString(s);
        for (const auto& name : strings_of(svc, 1))
          if (name != kReflectionService) asks_.push_back(request(kFileContainingSymbol, name));
      }
    }
    for (const auto& fr : strings_of(msg, kFileDescriptorResponse)) {
      pb::UnknownFieldSet files;
      files.ParseFromString(fr);
      for (const auto& f : strings_of(files, 1)) {
        pb::FileDescriptorProto p;
        if (!p.ParseFromString(f)) return fail("server reflection: unreadable file descriptor");
        if (!have_.insert(p.name()).second) continue;
        files_.push_back(f);
        for (const auto& dep : p.dependency()) wanted_.insert(dep);
      }
    }
    next();
  }

  // Sends the next question, or ends the stream when every file is known.
  void next() {
    if (failed_) return;
    if (asks_.empty()) {
      for (const auto& dep : wanted_) {
        if (have_.count(dep) || asked_.count(dep)) continue;
        if (pb::DescriptorPool::generated_pool()->FindFileByName(dep)) continue;  // well-known types
        asked_.insert(dep);
        asks_.push_back(request(kFileByFilename, dep));
      }
    }
    if (asks_.empty()) {
      stream_->writes_done();
      return;
    }
    stream_->write(asks_.front());
    asks_.pop_front();
  }

  void fail(std::string error) {
    if (failed_) return;
    failed_ = true;
    error_ = std::move(error);
    stream_->cancel();
  }

  void on_done(const CallResult& r) {
    std::vector<std::string> files;
    std::string error;
    {
      std::lock_guard<std::mutex> g(mu_);
      error = error_;
      if (error.empty() && r.code != 0)
        error = "server reflection failed: " + r.status_message + " (status " + std::to_string(r.code) + ")";
      files = std::move(files_);
    }
    done_(std::move(files), std::move(error));
  }

  std::function<void(std::vector<std::string>, std::string)> done_;
  std::shared_ptr<StreamCall> stream_;
  std::mutex mu_;
  std::deque<std::string> asks_;
  std::set<std::string> have_, wanted_, asked_;
  std::vector<std::string> files_;
  bool failed_ = false;
  std::string error_;
};

}  // namespace

void reflect(const std::shared_ptr<Connection>& conn, const Metadata& md, std::chrono::milliseconds timeout,
             std::function<void(std::vector<std::string>, std::string)> done) {
  auto r = std::make_shared<Reflector>(std::move(done));
  r->start(conn, md, timeout);
}

}  // namespace herd::rpc
