#pragma once
// k6/net/grpc messages straight between JS values and protobuf messages, for
// the types rpc::Protos::plain() accepts: no JSON text in between (JSON.stringify,
// protobuf's JSON parser and printer, JSON.parse cost about 40 % of a unary
// call's CPU). The result is the one the JSON path gives (protobuf's JSON
// mapping: lowerCamel names, unset scalars and lists printed, 64-bit integers
// as strings, enums by name); grpc_message_test.cc checks both paths agree.

#include <google/protobuf/message.h>
#include <quickjs.h>

namespace herd::k6 {

/// Fills `msg` (empty) from a request object. False when the value is not one
/// the direct path takes for certain (an unknown field, a value of another
/// type, a string where a number goes, null, an object with toJSON, ...): the
/// caller then clears `msg` and goes through JSON.stringify and protobuf's parser,
/// which accept or reject it with their own words. Never throws or leaves a JS
/// exception pending.
bool js_to_message(JSContext* ctx, JSValueConst v, google::protobuf::Message* msg);

/// The message as a JS object, as JSON.parse of protobuf's JSON printer would
/// give it (always_print_primitive_fields).
JSValue message_to_js(JSContext* ctx, const google::protobuf::Message& msg);

}  // namespace herd::k6
