#include "ws/deflate.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "util/ascii.h"
#include "ws/frame.h"

namespace herd::ws {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// 8..15 from "N" or "\"N\"", else 0.
int window_bits(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.empty() || v.size() > 2) return 0;
  int n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
  }
  return n >= 8 && n <= 15 ? n : 0;
}

constexpr char kTail[] = {'\x00', '\x00', '\xff', '\xff'};

}  // namespace

std::string parse_deflate_answer(std::string_view header, DeflateParams* out) {
  const std::string bad =
      "websocket: bad handshake: invalid permessage-deflate answer \"" + std::string(header.substr(0, 200)) + "\": ";
  if (header.find(',') != std::string_view::npos) return bad + "more than one extension";
  DeflateParams p;
  std::size_t semi = header.find(';');
  if (lower(util::trim_ows(header.substr(0, semi))) != "permessage-deflate")
    return "websocket: bad handshake: the server chose an extension that was not offered";
  std::string_view rest = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
  bool seen[4] = {false, false, false, false};
  while (!rest.empty()) {
    std::size_t e = rest.find(';');
    std::string_view item = util::trim_ows(rest.substr(0, e));
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 1);
    std::size_t eq = item.find('=');
    std::string name = lower(util::trim_ows(item.substr(0, eq)));
    std::string_view value = eq == std::string_view::npos ? std::string_view() : util::trim_ows(item.substr(eq + 1));
    int idx = name == "server_no_context_takeover"   ? 0
              : name == "client_no_context_takeover" ? 1
              : name == "server_max_window_bits"     ? 2
              : name == "client_max_window_bits"     ? 3
                                                     : -1;
    if (idx < 0) return bad + "unknown parameter \"" + name + "\"";
    if (seen[idx]) return bad + "parameter \"" + name + "\" given twice";
    seen[idx] = true;
    if (idx < 2) {
      if (eq != std::string_view::npos) return bad + "parameter \"" + name + "\" takes no value";
      (idx == 0 ? p.server_no_context_takeover : p.client_no_context_takeover) = true;
      continue;
    }
    int bits = window_bits(value);
    if (bits == 0) return bad + "parameter \"" + name + "\" needs a value from 8 to 15";
    (idx == 2 ? p.server_max_window_bits : p.client_max_window_bits) = bits;
  }
  *out = p;
  return "";
}

Deflater::Deflater(int window_bits, bool no_context_takeover) : reset_each_(no_context_takeover) {
  // zlib's raw deflate has no 8-bit window; 9 is not allowed when the server asked for 8,
  // so the session sends uncompressed messages then (RFC 7692 allows that per message).
  if (deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -std::max(window_bits, 9), 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("websocket: zlib deflateInit2 failed");
}

Deflater::~Deflater() {
  deflateEnd(&z_);
}

std::string Deflater::compress(std::string_view message) {
  std::string out;
  out.resize(deflateBound(&z_, static_cast<uLong>(message.size())) + 16);
  z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
  z_.avail_in = static_cast<uInt>(message.size());
  std::size_t used = 0;
  for (;;) {
    if (used == out.size()) out.resize(out.size() * 2);
    z_.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    z_.avail_out = static_cast<uInt>(out.size() - used);
    int rc = deflate(&z_, Z_SYNC_FLUSH);
    used = out.size() - z_.avail_out;
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw std::runtime_error("websocket: zlib deflate failed");
    if (z_.avail_in == 0 && z_.avail_out != 0) break;
  }
  out.resize(used);
  if (out.size() >= 4 && std::equal(out.end() - 4, out.end(), kTail)) out.resize(out.size() - 4);
  if (out.empty()) out.push_back('\0');  // an empty stored block: what an empty message compresses to
  if (reset_each_) deflateReset(&z_);
  return out;
}

Inflater::Inflater(bool no_context_takeover, std::size_t max_size) : reset_each_(no_context_takeover), max_(max_size) {
  if (inflateInit2(&z_, -15) != Z_OK) throw std::runtime_error("websocket: zlib inflateInit2 failed");
}

Inflater::~Inflater() {
  inflateEnd(&z_);
}

int Inflater::inflate(std::string_view payload, std::string* out, std::string* error) {
  out->clear();
  char buf[65536];
  for (int part = 0; part < 2; ++part) {
    std::string_view in = part == 0 ? payload : std::string_view(kTail, 4);
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    for (;;) {
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = sizeof buf;
      int rc = ::inflate(&z_, Z_SYNC_FLUSH);
      std::size_t got = sizeof buf - z_.avail_out;
      if (got > max_ - out->size()) {
        *error = "websocket: read limit exceeded (inflated message over " + std::to_string(max_) + " bytes)";
        return kCloseTooBig;
      }
      out->append(buf, got);
      if (rc == Z_STREAM_END) {
        // A final block ends the stream: the next message starts a new one.
        inflateReset(&z_);
        return 0;
      }
      if (rc == Z_BUF_ERROR || (rc == Z_OK && z_.avail_in == 0 && z_.avail_out != 0)) break;
      if (rc != Z_OK) {
        *error = std::string("websocket: invalid compressed message: ") + (z_.msg ? z_.msg : "inflate failed");
        return kCloseInvalidData;
      }
    }
  }
  if (reset_each_) inflateReset(&z_);
  return 0;
}

}  // namespace herd::ws
