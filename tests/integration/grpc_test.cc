// k6/net/grpc through the real binary against herd's demo gRPC service
// (src/target/grpc_service.h, libgrpc++ with server reflection), started
// in-process on a free loopback port: unary, streams, deadlines, metadata,
// error statuses, reflection, protosets and the errors of bad peers and files.
#include <gmock/gmock.h>

#include "grpc_fixture.h"

namespace herd::it {
namespace {

TEST_F(GrpcTest, UnaryCallsWithMetadataStatusesDeadlinesAndMetrics) {
  ProcResult r;
  json exp = run(R"JS(
import grpc from 'k6/net/grpc';
import { Client, StatusOK, StatusNotFound, StatusDeadlineExceeded } from 'k6/net/grpc';
import { check } from 'k6';
const client = new Client();
const methods = client.load(['protos'], 'grpc_demo.proto');
export const options = { iterations: 1, thresholds: { 'grpc_req_duration{rpc_type:unary}': ['max<10000'] } };
export default function () {
  client.connect(__ENV.GRPC_ADDR, { plaintext: true, timeout: '5s' });
  const ok = client.invoke('herd.demo.Demo/Echo', { text: 'hello', tags: [] },
    { metadata: { 'x-herd-echo': 'meta' }, tags: { flow: 'a' } });
  const nf = client.invoke('/herd.demo.Demo/Echo', { text: 'no such thing', fail_with: 5 });
  const late = client.invoke('herd.demo.Demo/Echo', { text: 'x', delayMs: 2000 }, { timeout: '100ms' });
  const empty = client.invoke('herd.demo.Demo/Echo', {});
  let unknown = '';
  try { client.invoke('herd.demo.Demo/Nope', {}); } catch (e) { unknown = String(e); }
  let badField = '';
  try { client.invoke('herd.demo.Demo/Echo', { nope: 1 }); } catch (e) { badField = String(e); }
  client.close();
  check(null, {
    'load lists the methods': () => methods.length === 4 && methods.some((m) => m.fullMethod === '/herd.demo.Demo/Count' && m.isServerStream),
    'status constants': () => StatusOK === 0 && grpc.StatusUnauthenticated === 16 && StatusNotFound === 5,
    'ok status': () => ok.status === StatusOK && ok.error === null,
    'message in lowerCamel with defaults': () => ok.message.text === 'hello' && ok.message.echoMetadata === 'meta' && ok.message.length === '5' && ok.message.empty === false,
    'headers and trailers': () => ok.headers['x-herd-header'][0] === 'echo' && ok.trailers['x-herd-trailer'][0] === 'done',
    'error status': () => nf.status === StatusNotFound && nf.message === null && nf.error.message === 'no such thing' && nf.error.code === 5,
    'deadline': () => late.status === StatusDeadlineExceeded,
    'unset fields are emitted': () => empty.message.text === '' && empty.message.empty === true,
    'unknown method throws': () => unknown.includes('not found'),
    'unknown field throws': () => badField.includes('nope'),
  });
}
)JS",
                 &r, {"--summary-trend-stats", "avg,max,count"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 10);
  EXPECT_EQ(metric_value(exp, "grpc_req_duration", "count"), 4) << r;
}

// Metadata gRPC refuses would abort the process inside libgrpc ("API misuse"):
// herd refuses it first with a TypeError naming the key, and the VU goes on.
TEST_F(GrpcTest, MetadataGrpcRefusesIsATypeErrorNotAnAbort) {
  ProcResult r;
  json exp = run(R"JS(
import { Client, StatusOK } from 'k6/net/grpc';
import { check } from 'k6';
const client = new Client();
client.load(['protos'], 'grpc_demo.proto');
export const options = { iterations: 1 };
export default function () {
  client.connect(__ENV.GRPC_ADDR, { plaintext: true, timeout: '5s' });
  const refused = (metadata) => {
    try { client.invoke('herd.demo.Demo/Echo', { text: 'x' }, { metadata }); return 'sent'; } catch (e) { return String(e); }
  };
  const upper = client.invoke('herd.demo.Demo/Echo', { text: 'x' }, { metadata: { 'X-Herd-Echo': 'up' } });
  const bin = client.invoke('herd.demo.Demo/Echo', { text: 'x' }, { metadata: { 'x-raw-bin': 'a\nb\u0001' } });
  let reflect = '';
  try { new Client().connect(__ENV.GRPC_ADDR, { plaintext: true, reflect: true, reflectMetadata: { 'a b': 'x' } }); } catch (e) { reflect = String(e); }
  check(null, {
    'a space in a key': () => refused({ 'bad key': 'x' }).includes('params.metadata: invalid metadata key "bad key"'),
    'an empty key': () => refused({ '': 'x' }).includes('invalid metadata key ""'),
    'a pseudo-header key': () => refused({ ':path': '/x' }).includes('invalid metadata key ":path"'),
    'CRLF in a value': () => refused({ 'x-ok': 'a\r\nb' }).includes('invalid value for metadata key "x-ok"'),
    'NUL in a value': () => refused({ 'x-nul': 'a\u0000b' }).includes('only printable ASCII'),
    'non-ASCII in a value': () => refused({ 'x-utf': 'caf\u00e9' }).includes('"x-utf"'),
    'upper-case keys are lower-cased': () => upper.status === StatusOK && upper.message.echoMetadata === 'up',
    'a -bin key takes any bytes': () => bin.status === StatusOK,
    'reflectMetadata too': () => reflect.includes('params.reflectMetadata: invalid metadata key "a b"'),
    'the client still works': () => client.invoke('herd.demo.Demo/Echo', { text: 'after' }).message.text === 'after',
  });
  client.close();
}
)JS",
                 &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 10);
}

// The tags of a call without tags of its own are remembered per method and
// status (k6/grpc_module.cc): a change of the VU's tags or of the call's status
// must still show in the next sample.
TEST_F(GrpcTest, CallTagsFollowTheVuTagsAndStatus) {
  ProcResult r;
  json exp = run(R"JS(
import { Client, StatusOK } from 'k6/net/grpc';
import exec from 'k6/execution';
import { check } from 'k6';
const client = new Client();
client.load(['protos'], 'grpc_demo.proto');
export const options = {
  iterations: 1,
  thresholds: {
    'grpc_req_duration{phase:late}': ['max<100000'], 'grpc_req_duration{status:5}': ['max<100000'],
    'grpc_req_duration{status:0}': ['max<100000'], 'grpc_req_duration{flow:own}': ['max<100000'],
  },
};
export default function () {
  client.connect(__ENV.GRPC_ADDR, { plaintext: true, timeout: '5s' });
  for (let i = 0; i < 2; i++) client.invoke('herd.demo.Demo/Echo', { text: 'early' });
  exec.vu.tags.phase = 'late';
  for (let i = 0; i < 3; i++) client.invoke('herd.demo.Demo/Echo', { text: 'late' });
  const nf = client.invoke('herd.demo.Demo/Echo', { text: 'x', failWith: 5 });
  client.invoke('herd.demo.Demo/Echo', { text: 'own' }, { tags: { flow: 'own' } });
  check(nf, { 'not found': (x) => x.status === 5 });
}
)JS",
                 &r, {"--summary-trend-stats", "avg,max,count"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 1);
  EXPECT_EQ(metric_value(exp, "grpc_req_duration", "count"), 7) << r;
  EXPECT_EQ(metric_value(exp, "grpc_req_duration{phase:late}", "count"), 5) << r;
  EXPECT_EQ(metric_value(exp, "grpc_req_duration{status:5}", "count"), 1) << r;
  EXPECT_EQ(metric_value(exp, "grpc_req_duration{status:0}", "count"), 6) << r;
  EXPECT_EQ(metric_value(exp, "grpc_req_duration{flow:own}", "count"), 1) << r;
}

TEST_F(GrpcTest, AsyncInvokeResolvesAndRunsConcurrently) {
  ProcResult r;
  json exp = run(R"JS(
import { Client, StatusOK } from 'k6/net/grpc';
import { check } from 'k6';
const client = new Client();
client.load(['protos'], 'grpc_demo.proto');
export const options = { iterations: 1 };
export default async function () {
  client.connect(__ENV.GRPC_ADDR, { plaintext: true });
  const t0 = Date.now();
  const all = await Promise.all([1, 2, 3, 4, 5].map((i) => client.asyncInvoke('herd.demo.Demo/Echo', { text: 'n' + i, delay_ms: 300 })));
  const took = Date.now() - t0;
  check(null, {
    'all ok in order': () => all.map((x) => x.status === StatusOK && x.message.text).join() === 'n1,n2,n3,n4,n5',
    'concurrent': () => took < 1200,
  });
}
)JS",
                 &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 2);
}

TEST_F(GrpcTest, ServerClientAndBidiStreams) {
  ProcResult r;
  json exp = run(R"JS(
import { Client, Stream } from 'k6/net/grpc';
import { check } from 'k6';
const client = new Client();
client.load(['protos'], 'grpc_demo.proto');
export const options = { iterations: 1 };
export default function () {
  client.connect(__ENV.GRPC_ADDR, { plaintext: true });
  const got = { count: [], sum: null, chat: [], ends: 0, errors: [] };
  // The three streams run at once and end in any order: check once all ended.
  const ended = () => {
    if (++got.ends < 3) return;
    check(got, {
      'server stream': (g) => g.count.join() === '1,2,3',
      'client stream': (g) => g.sum && g.sum.sum === '42' && g.sum.numbers === 3,
      'bidi': (g) => g.chat.join() === 'one,two',
    });
  };
  const s1 = new Stream(client, 'herd.demo.Demo/Count');
  s1.on('data', (m) => got.count.push(m.value));
  s1.on('end', ended);
  s1.write({ count: 3 });
  s1.end();
  const s2 = new Stream(client, 'herd.demo.Demo/Sum');
  s2.on('data', (m) => { got.sum = m; });
  s2.on('end', ended);
  for (const v of [1, 2, 39]) s2.write({ value: v });
  s2.end();
  const s3 = new Stream(client, 'herd.demo.Demo/Chat', { metadata: { 'x-a': 'b' } });
  s3.on('data', (m) => {
    got.chat.push(m.text);
    if (m.text === 'two') s3.end();
  });
  s3.on('end', ended);
  s3.write({ text: 'one' });
  s3.write({ text: 'two' });
  const s4 = new Stream(client, 'herd.demo.Demo/Chat');
  s4.on('error', (e) => got.errors.push(e.code + ':' + e.message));
  s4.on('end', () => {
    check(got, { 'stream error status': (g) => g.errors.join() === '7:go away' });
  });
  s4.write({ text: 'go away', fail_with: 7 });
}
)JS",
                 &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 4);
  EXPECT_EQ(metric_value(exp, "grpc_streams", "count"), 4) << r;
  EXPECT_EQ(metric_value(exp, "grpc_streams_msgs_sent", "count"), 7) << r;
  EXPECT_EQ(metric_value(exp, "grpc_streams_msgs_received", "count"), 6) << r;
}

TEST_F(GrpcTest, ReflectionNeedsNoProtoFiles) {
  ProcResult r;
  json exp = run(R"JS(
import { Client, StatusOK } from 'k6/net/grpc';
import { check } from 'k6';
const client = new Client();
export const options = { iterations: 1 };
export default function () {
  // reflectMetadata keys are lower-cased as gRPC requires (an upper-case key would fail the reflection call).
  client.connect(__ENV.GRPC_ADDR, { plaintext: true, reflect: true, reflectMetadata: { 'X-Reflect-Token': 'a' } });
  const res = client.invoke('herd.demo.Demo/Echo', { text: 'via reflection' });
  check(res, { 'reflected call works': (x) => x.status === StatusOK && x.message.text === 'via reflection' });
}
)JS",
                 &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 1);
}

TEST_F(GrpcTest, ProtosetFilesLoad) {
  std::string set = dir_.file("demo.protoset");
  RunSpec spec;
  spec.args = {"--proto_path=" + dir_.file("protos"), "--descriptor_set_out=" + set, "--include_imports",
               "grpc_demo.proto"};
  ProcResult pr = run_process("/usr/bin/protoc", spec);
  ASSERT_EQ(pr.exit_code, 0) << pr;
  ProcResult r;
  json exp = run(R"JS(
import { Client } from 'k6/net/grpc';
import { check } from 'k6';
const client = new Client();
const m = client.loadProtoset('demo.protoset');
export const options = { iterations: 1 };
export default function () {
  client.connect(__ENV.GRPC_ADDR, { plaintext: true });
  check(client.invoke('herd.demo.Demo/Echo', { text: 'set' }), { 'protoset call': (x) => x.message.text === 'set' && m.length === 4 });
}
)JS",
                 &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 1);
}

TEST_F(GrpcTest, BadProtoFilesNameTheLineAndColumn) {
  dir_.write("protos/bad.proto", "syntax = \"proto3\";\nmessage A {\n  strin x = 1;\n}\n");
  ProcResult r = run_script(R"JS(
import { Client } from 'k6/net/grpc';
const client = new Client();
client.load(['protos'], 'bad.proto');
export default function () {}
)JS");
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_THAT(r.err, ::testing::HasSubstr("bad.proto:3:3")) << r;
  ProcResult missing = run_script(R"JS(
import { Client } from 'k6/net/grpc';
new Client().load(['protos'], 'missing.proto');
export default function () {}
)JS");
  EXPECT_NE(missing.exit_code, 0) << missing;
  EXPECT_THAT(missing.err, ::testing::HasSubstr("missing.proto: File not found")) << missing;
}

TEST_F(GrpcTest, RefusedAndMalformedPeersAreErrorsNotCrashes) {
  // A port nobody listens on, and an HTTP/1.1 server (herd's own target) that is no gRPC peer.
  int free_port = 0;
  {
    target::GrpcDemoServer probe("127.0.0.1:0");
    free_port = probe.port();
  }
  ProcResult r;
  json exp = run(R"JS(
import { Client } from 'k6/net/grpc';
import { check } from 'k6';
const client = new Client();
client.load(['protos'], 'grpc_demo.proto');
export const options = { iterations: 1 };
export default function () {
  let refused = '';
  try { client.connect('127.0.0.1:)JS" +
                     std::to_string(free_port) +
                     R"JS(', { plaintext: true, timeout: '3s' }); } catch (e) { refused = String(e); }
  let http1 = null, http1err = '';
  try {
    client.connect(__ENV.BASE_URL.replace('http://', ''), { plaintext: true, timeout: '2s' });
    http1 = client.invoke('herd.demo.Demo/Echo', { text: 'x' }, { timeout: '2s' });
  } catch (e) { http1err = String(e); }
  check(null, {
    'refused names the address': () => refused.includes('failed to connect to 127.0.0.1:'),
    'an HTTP/1.1 peer is an error': () => http1err !== '' || (http1 && http1.status !== 0),
  });
}
)JS",
                 &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 2);
}

TEST_F(GrpcTest, GracefulStopCancelsOpenStreams) {
  ProcResult r;
  auto t0 = std::chrono::steady_clock::now();
  json exp = run(R"JS(
import { Client, Stream } from 'k6/net/grpc';
const client = new Client();
client.load(['protos'], 'grpc_demo.proto');
export const options = {
  scenarios: { s: { executor: 'constant-vus', vus: 2, duration: '1s', gracefulStop: '500ms' } },
};
export default function () {
  client.connect(__ENV.GRPC_ADDR, { plaintext: true });
  const s = new Stream(client, 'herd.demo.Demo/Count');
  s.on('data', () => {});
  s.write({ count: 1000, interval_ms: 1000 });
  s.end();
}
)JS",
                 &r);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_LT(took, 10s) << r;
  EXPECT_EQ(metric_value(exp, "grpc_streams", "count"), 2) << r;
}

}  // namespace
}  // namespace herd::it
