#include "kube/yaml.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <regex>
#include <string>
#include <unordered_map>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "kube/config.h"

namespace herd::kube {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 512;

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

class Converter {
 public:
  /// Aliases are expanded: bounds "billion laughs" by the text's size (as go-yaml does, by ratio).
  explicit Converter(std::size_t text_size) : max_nodes_(10'000 + 100 * static_cast<long>(text_size)) {}

  json convert(const YAML::Node& n, int depth) {
    if (++nodes_ > max_nodes_) fail(n, "document too large once aliases are expanded");
    if (depth > kMaxDepth) fail(n, "nested too deeply");
    switch (n.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nullptr;
      case YAML::NodeType::Scalar:
        return scalar(n);
      case YAML::NodeType::Sequence: {
        json a = json::array();
        for (const auto& item : n) a.push_back(convert(item, depth + 1));
        return a;
      }
      case YAML::NodeType::Map: {
        json o = json::object();
        for (const auto& kv : n) {
          if (!kv.first.IsScalar()) fail(kv.first, "mapping keys must be scalars");
          if (kv.first.Scalar() == "<<" && kv.first.Tag() == "?") fail(kv.first, "merge keys (<<) are not supported");
          o[kv.first.Scalar()] = convert(kv.second, depth + 1);
        }
        return o;
      }
    }
    return nullptr;
  }

 private:
  json scalar(const YAML::Node& n) {
    const std::string& s = n.Scalar();
    const std::string& tag = n.Tag();
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
      fail(n, "not a boolean: " + s);
    }
    if (tag == kCore + "int") {
      if (auto i = as_int(s)) return *i;
      fail(n, "not an integer: " + s);
    }
    if (tag == kCore + "float") {
      if (auto i = as_int(s)) return i->get<double>();
      if (auto f = as_float(s)) return *f;
      fail(n, "not a number: " + s);
    }
    return s;  // quoted ("!"), block, !!str, !!binary and local tags: the text
  }

  [[noreturn]] static void fail(const YAML::Node& n, const std::string& problem) {
    YAML::Mark m = n.Mark();
    throw Error("yaml: line " + std::to_string(m.line + 1) + ", column " + std::to_string(m.column + 1) + ": " +
                problem);
  }

  long nodes_ = 0;
  const long max_nodes_;
};

}  // namespace

std::vector<json> parse_yaml_documents(std::string_view text) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::DeepRecursion& e) {  // yaml-cpp reports it as "bad file"
    throw Error("yaml: line " + std::to_string(e.mark.line + 1) + ": nested too deeply");
  } catch (const YAML::Exception& e) {
    throw Error("yaml: line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1) +
                ": " + e.msg);
  }
  std::vector<json> out;
  Converter converter(text.size());
  for (const auto& doc : docs) {
    if (doc.IsNull()) continue;
    out.push_back(converter.convert(doc, 0));
  }
  return out;
}

json parse_yaml(std::string_view text) {
  auto docs = parse_yaml_documents(text);
  if (docs.size() > 1) throw Error("yaml: expected one document, found " + std::to_string(docs.size()));
  return docs.empty() ? json(nullptr) : std::move(docs[0]);
}

}  // namespace herd::kube
