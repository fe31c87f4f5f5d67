#pragma once
// The fixture of the k6/net/grpc tests (grpc_*_test.cc): herd's demo gRPC
// service in-process on a free loopback port, and src/target/grpc_demo.proto
// copied to protos/ in the test's directory.
#include "harness.h"
#include "target/grpc_service.h"

namespace herd::it {

class GrpcTest : public HerdTest {
 protected:
  void SetUp() override {
    HerdTest::SetUp();
    grpc_ = std::make_unique<target::GrpcDemoServer>("127.0.0.1:0");
    std::ifstream in(std::string(HERD_SOURCE_DIR) + "/src/target/grpc_demo.proto");
    std::stringstream ss;
    ss << in.rdbuf();
    dir_.write("protos/grpc_demo.proto", ss.str());
  }
  void TearDown() override {
    grpc_.reset();
    HerdTest::TearDown();
  }
  json run(const std::string& script, ProcResult* r, std::vector<std::string> args = {},
           std::map<std::string, std::string> env = {}) {
    env.emplace("GRPC_ADDR", grpc_->address());
    return run_export(script, r, std::move(args), std::move(env));
  }
  std::unique_ptr<target::GrpcDemoServer> grpc_;
};

}  // namespace herd::it
