#include "ws/handshake.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "util/ascii.h"

namespace herd::ws {

namespace {

std::string base64(const unsigned char* p, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

/// True when the comma-separated `list` has `token` (case-insensitive).
bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    std::size_t c = list.find(',');
    if (iequals(util::trim_ows(list.substr(0, c)), token)) return true;
    if (c == std::string_view::npos) break;
    list.remove_prefix(c + 1);
  }
  return false;
}

bool clean(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

std::string make_key() {
  unsigned char nonce[16];
  if (RAND_bytes(nonce, sizeof nonce) != 1) throw std::runtime_error("websocket: no random bytes for the key");
  return base64(nonce, sizeof nonce);
}

std::string accept_for(std::string_view key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string in(key);
  in.append(kGuid);
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), md);
  return base64(md, sizeof md);
}

std::string build_request(const UpgradeRequest& r) {
  static constexpr std::string_view kReserved[] = {
      "host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"};
  std::string out = "GET " + r.target + " HTTP/1.1\r\nHost: " + r.host_header +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + r.key +
                    "\r\nSec-WebSocket-Version: 13\r\n";
  if (r.deflate) out += "Sec-WebSocket-Extensions: " + std::string(kDeflateOffer) + "\r\n";
  if (!r.protocols.empty()) {
    out += "Sec-WebSocket-Protocol: ";
    for (std::size_t i = 0; i < r.protocols.size(); ++i) {
      if (!clean(r.protocols[i]) || r.protocols[i].empty() || r.protocols[i].find_first_of(" ,\t") != std::string::npos)
        throw std::invalid_argument("websocket: invalid subprotocol \"" + r.protocols[i] + "\"");
      out += (i ? ", " : "") + r.protocols[i];
    }
    out += "\r\n";
  }
  for (const auto& [k, v] : r.headers) {
    if (k.empty() || !clean(k) || !clean(v) || k.find(':') != std::string::npos)
      throw std::invalid_argument("websocket: invalid header \"" + k + "\"");
    for (auto res : kReserved)
      if (iequals(k, res))
        throw std::invalid_argument("websocket: header \"" + k + "\" is set by the handshake and cannot be given");
    out += k + ": " + v + "\r\n";
  }
  out += "\r\n";
  return out;
}

std::string ResponseHead::get(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return "";
}

std::size_t parse_response_head(std::string_view buf, ResponseHead* out, std::size_t max_bytes) {
  std::size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (buf.size() > max_bytes)
      throw std::runtime_error("websocket: bad handshake: response head over " + std::to_string(max_bytes) + " bytes");
    return 0;
  }
  if (end + 4 > max_bytes)
    throw std::runtime_error("websocket: bad handshake: response head over " + std::to_string(max_bytes) + " bytes");
  std::string_view head = buf.substr(0, end);
  std::size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
      !std::isdigit(static_cast<unsigned char>(status_line[9])) ||
      !std::isdigit(static_cast<unsigned char>(status_line[10])) ||
      !std::isdigit(static_cast<unsigned char>(status_line[11])) || (status_line.size() > 12 && status_line[12] != ' '))
    throw std::runtime_error("websocket: malformed HTTP response \"" + std::string(status_line.substr(0, 64)) + "\"");
  ResponseHead h;
  h.status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
  if (status_line.size() > 13) h.status_text = std::string(status_line.substr(13));
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  while (!rest.empty()) {
    std::size_t e = rest.find("\r\n");
    std::string_view line = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
    std::size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos || line.find_first_of(" \t") < colon)
      throw std::runtime_error("websocket: malformed HTTP response header line");
    h.headers.emplace_back(std::string(line.substr(0, colon)), std::string(util::trim_ows(line.substr(colon + 1))));
  }
  *out = std::move(h);
  return end + 4;
}

std::string check_upgrade(const ResponseHead& h, const UpgradeRequest& r, std::string* protocol, bool* deflate,
                          DeflateParams* params) {
  if (h.status != 101) return "websocket: bad handshake";
  if (!has_token(h.get("Upgrade"), "websocket")) return "websocket: bad handshake: no Upgrade: websocket";
  if (!has_token(h.get("Connection"), "upgrade")) return "websocket: bad handshake: no Connection: Upgrade";
  if (h.get("Sec-WebSocket-Accept") != accept_for(r.key)) return "websocket: bad handshake: wrong Sec-WebSocket-Accept";
  int ext_headers = 0;
  for (const auto& [k, v] : h.headers) ext_headers += iequals(k, "Sec-WebSocket-Extensions") ? 1 : 0;
  std::string ext = h.get("Sec-WebSocket-Extensions");
  if (deflate) *deflate = false;
  if (ext_headers > 1) return "websocket: bad handshake: more than one Sec-WebSocket-Extensions header";
  if (!ext.empty()) {
    if (!r.deflate || !deflate || !params)
      return "websocket: bad handshake: the server chose an extension that was not offered";
    std::string err = parse_deflate_answer(ext, params);
    if (!err.empty()) return err;
    *deflate = true;
  }
  std::string p = h.get("Sec-WebSocket-Protocol");
  if (!p.empty() && std::find(r.protocols.begin(), r.protocols.end(), p) == r.protocols.end())
    return "websocket: bad handshake: the server chose subprotocol \"" + p + "\" that was not offered";
  *protocol = p;
  return "";
}

}  // namespace herd::ws
