// Client.load parses .proto files in process (libprotoc, no protoc binary):
// imports through import paths, well-known types, errors naming
// file:line:column; and `herd archive` carries the .proto and protoset files.
#include <gmock/gmock.h>

#include "grpc_fixture.h"

namespace herd::it {
namespace {

// The demo service split in two files: messages (with a well-known type added;
// the server skips the unknown field) under an import path, the service next
// to the script.
void write_split_protos(const TempDir& dir) {
  dir.write("deps/herd/msgs.proto", R"(syntax = "proto3";
package herd.demo;
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
message EchoRequest {
  string text = 1;
  int32 fail_with = 2;
  int32 delay_ms = 3;
  repeated string tags = 4;
  google.protobuf.Timestamp at = 20;
  google.protobuf.StringValue note = 21;
}
message EchoReply {
  string text = 1;
  string echo_metadata = 2;
  int64 length = 3;
  bool empty = 4;
}
)");
  dir.write("svc.proto", R"(syntax = "proto3";
package herd.demo;
import "herd/msgs.proto";
service Demo {
  rpc Echo(EchoRequest) returns (EchoReply);
}
)");
}

const char* kSplitScript = R"JS(
import { Client, StatusOK } from 'k6/net/grpc';
import { check } from 'k6';
const client = new Client();
const methods = client.load(['deps'], 'svc.proto');
export const options = { iterations: 1 };
export default function () {
  client.connect(__ENV.GRPC_ADDR, { plaintext: true, timeout: '5s' });
  const res = client.invoke('herd.demo.Demo/Echo', { text: 'split', at: '2024-05-01T10:00:00Z', note: 'n' });
  client.close();
  check(res, {
    'one method from the importing file': () => methods.length === 1 && methods[0].fullMethod === '/herd.demo.Demo/Echo',
    'call through imported messages and well-known types': (r) => r.status === StatusOK && r.message.text === 'split',
  });
}
)JS";

TEST_F(GrpcTest, LoadResolvesImportPathsAndWellKnownTypesWithoutProtoc) {
  write_split_protos(dir_);
  // No protoc anywhere: an empty PATH and HERD_PROTOC (the old way's override) naming nothing.
  dir_.write("empty-bin/.keep", "");
  ProcResult r;
  json exp = run(kSplitScript, &r, {}, {{"PATH", dir_.file("empty-bin")}, {"HERD_PROTOC", "/nonexistent/protoc"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 2);
}

TEST_F(GrpcTest, LoadErrorsNameFileLineAndColumn) {
  write_split_protos(dir_);
  // An error in an imported file names that file; a missing import names the importing line.
  dir_.write("deps/herd/broken.proto", "syntax = \"proto3\";\npackage herd.demo;\nmessage B {\n  int32 x = ;\n}\n");
  dir_.write("uses_broken.proto", "syntax = \"proto3\";\nimport \"herd/broken.proto\";\n");
  dir_.write("uses_missing.proto", "syntax = \"proto3\";\n\nimport \"herd/nope.proto\";\n");
  dir_.write("unknown_type.proto", "syntax = \"proto3\";\nmessage M {\n  Nope n = 1;\n}\n");
  auto load_error = [&](const std::string& file) {
    ProcResult r = run_script("import { Client } from 'k6/net/grpc';\nnew Client().load(['deps'], '" + file +
                              "');\nexport default function () {}\n");
    EXPECT_NE(r.exit_code, 0) << r;
    return r.err;
  };
  EXPECT_THAT(load_error("uses_broken.proto"), ::testing::HasSubstr("herd/broken.proto:4:13: Expected field number"));
  std::string missing = load_error("uses_missing.proto");
  EXPECT_THAT(missing, ::testing::HasSubstr("herd/nope.proto: File not found"));
  EXPECT_THAT(missing, ::testing::HasSubstr("uses_missing.proto:3:1: Import \"herd/nope.proto\" was not found"));
  EXPECT_THAT(load_error("unknown_type.proto"),
              ::testing::HasSubstr("unknown_type.proto:3:3: \"Nope\" is not defined"));
  // `..` in an import cannot leave the import paths.
  dir_.write("escape.proto", "syntax = \"proto3\";\nimport \"../x.proto\";\n");
  EXPECT_THAT(load_error("escape.proto"), ::testing::HasSubstr("escape.proto:2:1"));
}

TEST_F(GrpcTest, ArchiveCarriesProtoAndProtosetFiles) {
  write_split_protos(dir_);
  RunSpec ps;
  ps.args = {"--proto_path=" + dir_.file("protos"), "--descriptor_set_out=" + dir_.file("sets/demo.protoset"),
             "--include_imports", "grpc_demo.proto"};
  std::filesystem::create_directories(dir_.file("sets"));
  ProcResult pr = run_process("/usr/bin/protoc", ps);
  ASSERT_EQ(pr.exit_code, 0) << pr;
  dir_.write("script.js", R"JS(
import { Client, StatusOK } from 'k6/net/grpc';
import { check } from 'k6';
const fromProto = new Client();
fromProto.load(['deps'], 'svc.proto');
const fromSet = new Client();
fromSet.loadProtoset('sets/demo.protoset');
export const options = { iterations: 1 };
export default function () {
  fromProto.connect(__ENV.GRPC_ADDR, { plaintext: true, timeout: '5s' });
  fromSet.connect(__ENV.GRPC_ADDR, { plaintext: true, timeout: '5s' });
  const a = fromProto.invoke('herd.demo.Demo/Echo', { text: 'a', at: '2024-05-01T10:00:00Z' });
  const b = fromSet.invoke('herd.demo.Demo/Echo', { text: 'b' });
  check(null, {
    'proto client from the archive': () => a.status === StatusOK && a.message.text === 'a',
    'protoset client from the archive': () => b.status === StatusOK && b.message.text === 'b',
  });
}
)JS");
  TempDir elsewhere;
  RunSpec arch;
  arch.args = {"archive", "script.js", "-O", elsewhere.file("test.tar")};
  ProcResult ar = run_spec(arch);
  ASSERT_EQ(ar.exit_code, 0) << ar;
  // The sources go away: the archive alone must do.
  for (const char* gone : {"deps", "svc.proto", "sets", "script.js", "protos"})
    std::filesystem::remove_all(dir_.file(gone));
  RunSpec run;
  run.args = {"run", "--summary-export", "export.json", "test.tar"};
  run.cwd = elsewhere.path();
  run.env = {{"GRPC_ADDR", grpc_->address()}};
  ProcResult r = run_spec(run);
  ASSERT_EQ(r.exit_code, 0) << r;
  json exp = json::parse(elsewhere.read("export.json"));
  EXPECT_ALL_CHECKS_PASS(exp, r, 2);
}

}  // namespace
}  // namespace herd::it
