#pragma once
// k6/net/grpc (issue #16): the JS module over the native "herd:grpc"
// (k6/grpc_module.cc: Client; k6/grpc_stream.cc: Stream).

#include <quickjs.h>

#include <map>
#include <string>

namespace herd::k6 {

/// "k6/net/grpc" (and its old name "k6/experimental/grpc") -> JS source.
std::map<std::string, std::string> grpc_module_sources();

/// The native half, "herd:grpc".
JSModuleDef* grpc_native_module(JSContext* ctx, const char* name);

}  // namespace herd::k6
