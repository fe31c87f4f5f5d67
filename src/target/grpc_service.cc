// The demo gRPC service (grpc_service.h) on generated code from grpc_demo.proto.
#include "target/grpc_service.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "grpc_demo.grpc.pb.h"

namespace herd::target {

namespace {

using grpc::ServerContext;
using grpc::Status;

/// Sleeps `ms`, returning early (false) when the call is cancelled.
bool pause(ServerContext* ctx, int ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (ctx->IsCancelled()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, 5)));
  }
  return true;
}

class DemoService final : public herd::demo::Demo::Service {
  Status Echo(ServerContext* ctx, const herd::demo::EchoRequest* req, herd::demo::EchoReply* reply) override {
    ctx->AddInitialMetadata("x-herd-header", "echo");
    ctx->AddTrailingMetadata("x-herd-trailer", "done");
    if (req->delay_ms() > 0 && !pause(ctx, std::min(req->delay_ms(), 60000)))
      return Status(grpc::StatusCode::CANCELLED, "cancelled while waiting");
    if (req->fail_with() != 0) return Status(static_cast<grpc::StatusCode>(req->fail_with() % 17), req->text());
    auto md = ctx->client_metadata().find("x-herd-echo");
    if (md != ctx->client_metadata().end()) reply->set_echo_metadata(std::string(md->second.data(), md->second.size()));
    reply->set_text(req->text());
    reply->set_length(static_cast<std::int64_t>(req->text().size()));
    reply->set_empty(req->text().empty());
    return Status::OK;
  }
  Status Count(ServerContext* ctx, const herd::demo::CountRequest* req,
               grpc::ServerWriter<herd::demo::Number>* out) override {
    for (int i = 1; i <= std::min(req->count(), 100000); i++) {
      if (i > 1 && req->interval_ms() > 0 && !pause(ctx, std::min(req->interval_ms(), 10000)))
        return Status(grpc::StatusCode::CANCELLED, "cancelled");
      herd::demo::Number n;
      n.set_value(i);
      if (!out->Write(n)) return Status(grpc::StatusCode::CANCELLED, "client went away");
    }
    return Status::OK;
  }
  Status Sum(ServerContext*, grpc::ServerReader<herd::demo::Number>* in, herd::demo::Total* total) override {
    herd::demo::Number n;
    while (in->Read(&n)) {
      total->set_sum(total->sum() + n.value());
      total->set_numbers(total->numbers() + 1);
    }
    return Status::OK;
  }
  Status Chat(ServerContext*,
              grpc::ServerReaderWriter<herd::demo::EchoReply, herd::demo::EchoRequest>* stream) override {
    herd::demo::EchoRequest req;
    while (stream->Read(&req)) {
      if (req.fail_with() != 0) return Status(static_cast<grpc::StatusCode>(req.fail_with() % 17), req.text());
      herd::demo::EchoReply r;
      r.set_text(req.text());
      r.set_length(static_cast<std::int64_t>(req.text().size()));
      if (!stream->Write(r)) break;
    }
    return Status::OK;
  }
};

}  // namespace

struct GrpcDemoServer::Impl {
  DemoService service;
  std::unique_ptr<grpc::Server> server;
  std::string host;
  int port = 0;
};

GrpcDemoServer::GrpcDemoServer(const std::string& address) : GrpcDemoServer(address, nullptr) {}

GrpcDemoServer::GrpcDemoServer(const std::string& address, const GrpcDemoTls& tls)
    : GrpcDemoServer(address, [&] {
        grpc::SslServerCredentialsOptions o(tls.client_ca.empty()
                                                ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                                : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
        o.pem_root_certs = tls.client_ca;
        o.pem_key_cert_pairs.push_back({tls.private_key, tls.cert_chain});
        return grpc::SslServerCredentials(o);
      }()) {}

GrpcDemoServer::GrpcDemoServer(const std::string& address, std::shared_ptr<grpc::ServerCredentials> creds)
    : impl_(std::make_unique<Impl>()) {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder b;
  b.AddListeningPort(address, creds ? creds : grpc::InsecureServerCredentials(), &impl_->port);
  b.RegisterService(&impl_->service);
  impl_->server = b.BuildAndStart();
  if (!impl_->server || impl_->port == 0) throw std::runtime_error("gRPC demo service: cannot listen on " + address);
  impl_->host = address.substr(0, address.rfind(':'));
}

GrpcDemoServer::~GrpcDemoServer() {
  shutdown();
}

int GrpcDemoServer::port() const {
  return impl_->port;
}

std::string GrpcDemoServer::address() const {
  return impl_->host + ":" + std::to_string(impl_->port);
}

void GrpcDemoServer::wait() {
  impl_->server->Wait();
}

void GrpcDemoServer::shutdown() {
  if (impl_ && impl_->server)
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
}

}  // namespace herd::target
