// k6/grpc_message.h: the direct JS <-> message path gives what the JSON path
// (JSON.stringify + protobuf's JSON parser, protobuf's JSON printer + JSON.parse)
// gives, byte for byte and key for key; values it is not sure of go back to the JSON path.
#include "k6/grpc_message.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "grpc/protos.h"
#include "js/runtime.h"

namespace herd::k6 {
namespace {

const char* kProto = R"(
syntax = "proto3";
package t;
import "google/protobuf/timestamp.proto";
enum Color { RED = 0; GREEN = 1; BLUE = 2; }
message Inner { string name = 1; repeated int32 nums = 2; Inner child = 3; }
message All {
  double d = 1; float f = 2; int32 i32 = 3; int64 i64 = 4; uint32 u32 = 5; uint64 u64 = 6;
  sint32 s32 = 7; sint64 s64 = 8; fixed32 fx32 = 9; fixed64 fx64 = 10; sfixed32 sf32 = 11; sfixed64 sf64 = 12;
  Inner inner = 13;
  bool b = 14; string s = 15; Color color = 16;
  repeated Inner inners = 17; repeated string names = 18; repeated Color colors = 19;
  oneof choice { string pick_text = 20; int32 pick_num = 21; Inner pick_inner = 22; }
  optional int32 maybe = 23;
  string snake_case_name = 24;
  repeated double ds = 25; repeated float fs = 26; repeated int64 i64s = 27;
}
message WithBytes { bytes data = 1; }
message WithMap { map<string, int32> m = 1; }
message HoldsBytes { WithBytes w = 1; }
message WithTime { google.protobuf.Timestamp at = 1; }
message Rec { Rec next = 1; int32 v = 2; }
service S { rpc M(All) returns (All); }
)";

class GrpcMessage : public ::testing::Test {
 protected:
  void SetUp() override {
    protos.load({}, {"t.proto"}, "/virtual", [](const std::string& path) -> std::shared_ptr<const std::string> {
      if (path.size() >= 8 && path.compare(path.size() - 8, 8, "/t.proto") == 0)
        return std::make_shared<std::string>(kProto);
      return nullptr;
    });
  }
  const google::protobuf::Descriptor* type(const std::string& name) {
    return protos.find("t.S/M")->file()->pool()->FindMessageTypeByName(name);
  }
  std::string stringify(JSValue v) {
    js::Value owned(rt.ctx(), v);
    js::Value s(rt.ctx(), JS_JSONStringify(rt.ctx(), owned.get(), JS_UNDEFINED, JS_UNDEFINED));
    return js::to_string(rt.ctx(), s.get());
  }
  /// The message given as JSON text, printed by both paths.
  void expect_same_decode(const std::string& json) {
    SCOPED_TRACE(json);
    const auto* all = type("t.All");
    std::string bytes = protos.encode(all, json);
    std::string text = protos.decode(all, bytes);
    std::string via_json = stringify(JS_ParseJSON(rt.ctx(), text.data(), text.size(), "<t>"));
    std::string direct = stringify(message_to_js(rt.ctx(), protos.parse(all, bytes)));
    EXPECT_EQ(direct, via_json);
  }
  /// `js` (an expression) encoded by both paths.
  void expect_same_encode(const std::string& js) {
    SCOPED_TRACE(js);
    const auto* all = type("t.All");
    js::Value v(rt.ctx(), JS_Eval(rt.ctx(), ("(" + js + ")").c_str(), js.size() + 2, "<t>", JS_EVAL_TYPE_GLOBAL));
    ASSERT_FALSE(v.is_exception());
    auto* msg = protos.scratch(all);
    ASSERT_TRUE(js_to_message(rt.ctx(), v.get(), msg));
    std::string direct = msg->SerializeAsString();
    std::string via_json = protos.encode(all, stringify(JS_DupValue(rt.ctx(), v.get())));
    EXPECT_EQ(direct, via_json);
  }
  /// `js` is left to the JSON path.
  void expect_fallback(const std::string& js) {
    SCOPED_TRACE(js);
    js::Value v(rt.ctx(), JS_Eval(rt.ctx(), ("(" + js + ")").c_str(), js.size() + 2, "<t>", JS_EVAL_TYPE_GLOBAL));
    ASSERT_FALSE(v.is_exception());
    EXPECT_FALSE(js_to_message(rt.ctx(), v.get(), protos.scratch(type("t.All"))));
    EXPECT_FALSE(JS_HasException(rt.ctx()));
  }
  js::Runtime rt;
  rpc::Protos protos;
};

TEST_F(GrpcMessage, PlainTypesAreProto3WithoutBytesMapsOrWellKnownTypes) {
  EXPECT_TRUE(protos.plain(type("t.All")));
  EXPECT_TRUE(protos.plain(type("t.Inner")));
  EXPECT_TRUE(protos.plain(type("t.Rec")));  // holds itself
  EXPECT_FALSE(protos.plain(type("t.WithBytes")));
  EXPECT_FALSE(protos.plain(type("t.WithMap")));
  EXPECT_FALSE(protos.plain(type("t.HoldsBytes")));
  EXPECT_FALSE(protos.plain(type("t.WithTime")));
}

TEST_F(GrpcMessage, DecodingGivesWhatTheJsonPathGives) {
  expect_same_decode("{}");
  expect_same_decode(R"({"d":1.5,"f":1.2345678,"i32":-7,"i64":"-9007199254740993","u32":4294967295,
    "u64":"18446744073709551615","s32":-1,"s64":"5","fx32":3,"fx64":"4","sf32":-5,"sf64":"-6","b":true,
    "s":"h\u00e9llo \"q\"","color":"BLUE","inner":{"name":"in","nums":[1,2],"child":{"name":"deep"}},
    "inners":[{},{"name":"x"}],"names":["a",""],"colors":["GREEN","RED"],"pickText":"t","maybe":0,
    "snakeCaseName":"sn","ds":[0.1,-2e300],"fs":[0.1,3.4e38,-0.5],"i64s":["1","-2"]})");
  expect_same_decode(R"({"f":0.1,"d":"NaN","fs":["Infinity","-Infinity","NaN"],"pickNum":0})");
  expect_same_decode(R"({"pickInner":{"name":"p"},"color":7,"colors":[9]})");
  expect_same_decode(R"({"f":16777217,"d":-0.0,"ds":["Infinity"],"inner":{}})");
}

TEST_F(GrpcMessage, EncodingGivesWhatTheJsonPathGives) {
  expect_same_encode("{}");
  expect_same_encode(R"({d: 1.5, f: 0.1, i32: -7, i64: -9007199254740991, u32: 4294967295, u64: 9007199254740992,
    s32: -1, s64: 5, fx32: 3, fx64: 4, sf32: -5, sf64: -6, b: true, s: 'h\u00e9llo "q" \u{1F600}', color: 'BLUE',
    inner: {name: 'in', nums: [1, 2], child: {name: 'deep'}}, inners: [{}, {name: 'x'}], names: ['a', ''],
    colors: ['GREEN', 'RED'], pickText: 't', maybe: 0, snake_case_name: 'sn', ds: [0.1, -2e300], fs: [3.4e38],
    i64s: [1, -2]})");
  expect_same_encode(R"({pick_num: 3, snakeCaseName: 'camel', skipped: undefined, fn() {}})");
  expect_same_encode(R"(Object.assign(Object.create({inherited: 1}), {pickInner: {name: 'p'}}))");
}

TEST_F(GrpcMessage, ValuesItIsNotSureOfGoToTheJsonPath) {
  expect_fallback("{unknown: 1}");
  expect_fallback("{i32: '5'}");                 // protobuf's parser takes numbers in strings
  expect_fallback("{i64: '9007199254740993'}");  // a 64-bit integer given as text
  expect_fallback("{i64: 9007199254740994}");    // beyond 2^53: JSON text decides
  expect_fallback("{i32: 1.5}");                 // the parser's error
  expect_fallback("{i32: 2147483648}");          // out of range
  expect_fallback("{d: NaN}");                   // JSON.stringify makes null
  expect_fallback("{s: null}");
  expect_fallback("{color: 1}");  // enums by number
  expect_fallback("{color: 'PURPLE'}");
  expect_fallback("{s: 'x', snake_case_name: 'a', snakeCaseName: 'b'}");  // both names
  expect_fallback("{pickText: 'a', pickNum: 1}");                         // two members of a oneof
  expect_fallback("{names: 'a'}");
  expect_fallback("{names: ['a', null]}");
  expect_fallback("{inner: []}");
  expect_fallback("{inner: new Date(0)}");  // toJSON
  expect_fallback("{b: 1}");
  expect_fallback("{s: '\\uD800'}");  // a lone surrogate
  expect_fallback("[]");
}

TEST_F(GrpcMessage, ScratchMessagesAndPlainnessSurviveALaterLoad) {
  const auto* all = type("t.All");
  ASSERT_TRUE(protos.plain(all));
  auto* first = protos.scratch(all);
  first->GetReflection()->SetString(first, all->FindFieldByName("s"), "left over");
  // Another file into the same pool: the cached descriptors stay the pool's own.
  protos.load({}, {"u.proto"}, "/virtual", [](const std::string& path) -> std::shared_ptr<const std::string> {
    if (path.size() >= 8 && path.compare(path.size() - 8, 8, "/u.proto") == 0)
      return std::make_shared<std::string>(
          "syntax = \"proto3\"; package u; message All { bytes b = 1; }\n"
          "service S { rpc M(All) returns (All); }\n");
    return nullptr;
  });
  const auto* other = protos.find("u.S/M")->input_type();
  EXPECT_FALSE(protos.plain(other));
  EXPECT_TRUE(protos.plain(all));
  auto* again = protos.scratch(all);
  EXPECT_EQ(again, first);
  EXPECT_EQ(again->ByteSizeLong(), 0u);  // cleared
  EXPECT_EQ(protos.find("t.S/M")->input_type(), all);
}

}  // namespace
}  // namespace herd::k6
