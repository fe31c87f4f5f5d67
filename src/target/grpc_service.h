#pragma once
// herd's demo gRPC service (grpc_demo.proto, package herd.demo): `herd target
// --grpc-listen` serves it with server reflection, and the gRPC tests start it
// in-process on a free loopback port.

#include <memory>
#include <string>

namespace grpc {
class ServerCredentials;
}  // namespace grpc

namespace herd::target {

/// TLS for the demo server (tests): PEM text. With `client_ca`, clients must
/// present a certificate it signed (mutual TLS).
struct GrpcDemoTls {
  std::string cert_chain, private_key, client_ca;
};

class GrpcDemoServer {
 public:
  /// The same over TLS.
  GrpcDemoServer(const std::string& address, const GrpcDemoTls& tls);
  /// Listens on `address` (host:port, port 0 = a free one), plaintext, with
  /// reflection. Throws std::runtime_error when it cannot listen.
  explicit GrpcDemoServer(const std::string& address);
  ~GrpcDemoServer();  ///< shuts down, cancelling calls in progress
  GrpcDemoServer(const GrpcDemoServer&) = delete;
  GrpcDemoServer& operator=(const GrpcDemoServer&) = delete;

  int port() const;
  /// "127.0.0.1:PORT" (the listen host with the bound port).
  std::string address() const;
  /// Blocks until shutdown() (from another thread).
  void wait();
  void shutdown();

 private:
  GrpcDemoServer(const std::string& address, std::shared_ptr<grpc::ServerCredentials> creds);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace herd::target
