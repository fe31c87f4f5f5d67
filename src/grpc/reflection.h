#pragma once
// The client side of gRPC server reflection (grpc.reflection.v1alpha,
// ServerReflectionInfo: a bidirectional stream). Its few messages are encoded
// and decoded here field by field on protobuf's wire format, so no generated
// code or copied .proto is needed.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "grpc/conn.h"

namespace herd::rpc {

/// Asks the server for its services and the files defining them (with their
/// dependencies). `done(files, error)` runs once on a gRPC thread with the
/// serialized FileDescriptorProtos, or an error text.
void reflect(const std::shared_ptr<Connection>& conn, const Metadata& md, std::chrono::milliseconds timeout,
             std::function<void(std::vector<std::string>, std::string)> done);

}  // namespace herd::rpc
