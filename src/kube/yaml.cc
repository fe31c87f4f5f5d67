#include "kube/yaml.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <unordered_map>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include "kube/config.h"

namespace herd::kube {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxDepth = 512;

bool is_null(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<bool> as_bool(const std::string& s) {
  static const std::unordered_map<std::string, bool> kWords = {
      {"y", true},      {"Y", true},    {"yes", true},  {"Yes", true}, {"YES", true},    {"true", true},
      {"True", true},   {"TRUE", true}, {"on", true},   {"On", true},  {"ON", true},     {"n", false},
      {"N", false},     {"no", false},  {"No", false},  {"NO", false}, {"false", false}, {"False", false},
      {"FALSE", false}, {"off", false}, {"Off", false}, {"OFF", false}};
  auto it = kWords.find(s);
  return it == kWords.end() ? std::nullopt : std::optional<bool>(it->second);
}

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

// Go's strconv.ParseInt(s, 0, 64) after removing '_' (what sigs.k8s.io/yaml does),
// falling back to uint64 like go-yaml.
std::optional<json> as_int(std::string s) {
  std::erase(s, '_');
  std::string_view v = s;
  bool negative = false;
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) {
    negative = v[0] == '-';
    v.remove_prefix(1);
  }
  int base = 10;
  if (v.size() > 2 && v[0] == '0' && std::string_view("xXoObB").find(v[1]) != std::string_view::npos) {
    base = v[1] == 'x' || v[1] == 'X' ? 16 : v[1] == 'o' || v[1] == 'O' ? 8 : 2;
    v.remove_prefix(2);
  } else if (v.size() > 1 && v[0] == '0') {
    base = 8;  // YAML 1.1 octal: 0755
    v.remove_prefix(1);
  }
  if (v.empty()) return std::nullopt;
  unsigned long long magnitude = 0;
  for (char c : v) {
    int d = digit_value(c);
    if (d >= base) return std::nullopt;
    if (magnitude > (std::numeric_limits<unsigned long long>::max() - d) / base) return std::nullopt;
    magnitude = magnitude * base + d;
  }
  constexpr auto kMax = static_cast<unsigned long long>(std::numeric_limits<long long>::max());
  if (!negative) return magnitude <= kMax ? json(static_cast<long long>(magnitude)) : json(magnitude);
  if (magnitude > kMax + 1) return std::nullopt;
  return json(magnitude == kMax + 1 ? std::numeric_limits<long long>::min() : -static_cast<long long>(magnitude));
}

std::optional<json> as_float(std::string s) {
  std::erase(s, '_');
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF") {
    return json(std::numeric_limits<double>::infinity());
  }
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return json(-std::numeric_limits<double>::infinity());
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return json(std::numeric_limits<double>::quiet_NaN());
  static const std::regex kFloat(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  if (!std::regex_match(s, kFloat)) return std::nullopt;
  errno = 0;
  double d = std::strtod(s.c_str(), nullptr);
  if (errno == ERANGE && std::isinf(d)) return std::nullopt;
  return json(d);
}

// Builds JSON straight from yaml-cpp's parser events (no YAML::Node tree).
class JsonBuilder : public YAML::EventHandler {
 public:
  /// Aliases are expanded: the node budget bounds "billion laughs" by the text's
  /// size (go-yaml limits the alias expansion ratio the same way).
  explicit JsonBuilder(std::size_t text_size) : max_nodes_(10'000 + 100 * static_cast<long>(text_size)) {}

  /// The document just parsed (null when empty); resets for the next one.
  json take() {
    json out = std::move(root_);
    root_ = nullptr;
    stack_.clear();
    return out;
  }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t anchor) override { add(m, nullptr, anchor, 1, "null"); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) fail(m, "unknown alias");
    const auto& [value, nodes] = it->second;
    add(m, value, YAML::NullAnchor, nodes,
        value.is_string() ? value.get<std::string>() : value.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  void OnScalar(const YAML::Mark& m, const std::string& tag, YAML::anchor_t anchor, const std::string& text) override {
    if (tag == "?" && text == "<<" && expecting_key()) fail(m, "merge keys (<<) are not supported");
    add(m, scalar(m, tag, text), anchor, 1, text);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(m, json::array(), anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(m, json::object(), anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Frame {
    json value;
    YAML::anchor_t anchor;
    long nodes_before;
    std::optional<std::string> key;  ///< maps: the key waiting for its value
  };

  bool expecting_key() const { return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().key; }

  void charge(const YAML::Mark& m, long nodes) {
    if ((nodes_ += nodes) > max_nodes_) fail(m, "document too large once aliases are expanded");
  }

  void open(const YAML::Mark& m, json container, YAML::anchor_t anchor) {
    if (expecting_key()) fail(m, "mapping keys must be scalars");
    if (stack_.size() >= kMaxDepth) fail(m, "nested too deeply");
    charge(m, 1);
    stack_.push_back(Frame{std::move(container), anchor, nodes_ - 1, std::nullopt});
  }

  void close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (f.anchor != YAML::NullAnchor) anchors_[f.anchor] = {f.value, nodes_ - f.nodes_before};
    place(std::move(f.value), "");
  }

  void add(const YAML::Mark& m, json value, YAML::anchor_t anchor, long nodes, const std::string& key_text) {
    charge(m, nodes);
    if (anchor != YAML::NullAnchor) anchors_[anchor] = {value, nodes};
    place(std::move(value), key_text);
  }

  void place(json value, const std::string& key_text) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return;
    }
    Frame& top = stack_.back();
    if (top.value.is_array()) {
      top.value.push_back(std::move(value));
    } else if (!top.key) {
      top.key = key_text;
    } else {
      top.value[*top.key] = std::move(value);
      top.key.reset();
    }
  }

  json scalar(const YAML::Mark& m, const std::string& tag, const std::string& s) const {
    static const std::string kCore = "tag:yaml.org,2002:";
    if (tag == "?") {  // plain: resolve
      if (is_null(s)) return nullptr;
      if (auto b = as_bool(s)) return *b;
      if (auto i = as_int(s)) return *i;
      if (auto f = as_float(s)) return *f;
      return s;
    }
    if (tag == kCore + "null") return nullptr;
    if (tag == kCore + "bool") {
      if (auto b = as_bool(s)) return *b;
      fail(m, "not a boolean: " + s);
    }
    if (tag == kCore + "int") {
      if (auto i = as_int(s)) return *i;
      fail(m, "not an integer: " + s);
    }
    if (tag == kCore + "float") {
      if (auto i = as_int(s)) return i->get<double>();
      if (auto f = as_float(s)) return *f;
      fail(m, "not a number: " + s);
    }
    return s;  // quoted ("!"), block, !!str, !!binary and local tags: the text
  }

  [[noreturn]] static void fail(const YAML::Mark& m, const std::string& problem) {
    throw Error("yaml: line " + std::to_string(m.line + 1) + ", column " + std::to_string(m.column + 1) + ": " +
                problem);
  }

  const long max_nodes_;
  long nodes_ = 0;
  json root_;
  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, std::pair<json, long>> anchors_;  ///< value and its node count
};

}  // namespace

// YAML's c-printable over valid UTF-8 (yaml-cpp checks neither): tab, newlines,
// printable ASCII, NEL, and Unicode outside the C1 controls, surrogates and U+FFFE/F.
void check_characters(std::string_view text) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < text.size();) {
    auto b = static_cast<unsigned char>(text[i]);
    std::size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    char32_t cp = len == 1 ? b : len == 2 ? b & 0x1f : len == 3 ? b & 0x0f : b & 0x07;
    for (std::size_t k = 1; len && k < len; ++k) {
      auto c = i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0;
      if ((c >> 6) != 2) len = 0;
      cp = (cp << 6) | (c & 0x3f);
    }
    static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (len == 0 || cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      throw Error("yaml: line " + std::to_string(line) + ": invalid UTF-8");
    }
    bool printable = cp == '\t' || cp == '\n' || cp == '\r' || (cp >= 0x20 && cp <= 0x7e) || cp == 0x85 ||
                     (cp >= 0xa0 && cp <= 0xfffd) || cp >= 0x10000;
    if (!printable) throw Error("yaml: line " + std::to_string(line) + ": control characters are not allowed");
    line += cp == '\n';
    i += len;
  }
}

std::vector<json> parse_yaml_documents(std::string_view text) {
  check_characters(text);
  std::istringstream in{std::string(text)};
  std::vector<json> out;
  try {
    YAML::Parser parser(in);
    JsonBuilder builder(text.size());
    // yaml-cpp 0.7 can report documents forever without consuming input (e.g. ", a\n"):
    // no stream holds more documents than bytes.
    for (std::size_t documents = 0; parser.HandleNextDocument(builder);) {
      if (++documents > text.size() + 1) throw Error("yaml: malformed document stream");
      if (json doc = builder.take(); !doc.is_null()) out.push_back(std::move(doc));
    }
  } catch (const YAML::DeepRecursion& e) {  // yaml-cpp reports it as "bad file"
    throw Error("yaml: line " + std::to_string(e.mark.line + 1) + ": nested too deeply");
  } catch (const YAML::Exception& e) {
    throw Error("yaml: line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1) +
                ": " + e.msg);
  }
  return out;
}

json parse_yaml(std::string_view text) {
  auto docs = parse_yaml_documents(text);
  if (docs.size() > 1) throw Error("yaml: expected one document, found " + std::to_string(docs.size()));
  return docs.empty() ? json(nullptr) : std::move(docs[0]);
}

}  // namespace herd::kube
