#include "k6/json_path.h"

#include <algorithm>
#include <cstdlib>

namespace herd::k6 {

namespace {

using Json = nlohmann::ordered_json;
using Kind = JsonPathStep::Kind;

constexpr int kMaxDepth = 32;  // nested queries

[[noreturn]] void fail(std::string_view path, const std::string& what) {
  throw JsonPathError("invalid JSON selector \"" + std::string(path) + "\": " + what);
}

// Index just past the ')' closing the '(' at `open`, honouring quotes and escapes.
size_t close_paren(std::string_view s, size_t open, std::string_view path) {
  int depth = 0;
  bool in_str = false;
  for (size_t i = open; i < s.size(); i++) {
    char c = s[i];
    if (c == '\\') {
      i++;
      continue;
    }
    if (in_str) {
      if (c == '"') in_str = false;
      continue;
    }
    if (c == '"')
      in_str = true;
    else if (c == '(' && ++depth > kMaxDepth)
      fail(path, "queries nested too deeply");
    else if (c == ')' && --depth == 0)
      return i + 1;
  }
  fail(path, "unbalanced parentheses in a query");
}

Json parse_literal(std::string_view v, std::string_view path) {
  if (v.empty()) fail(path, "a query operator needs a value");
  if (v.front() == '"') {
    try {
      Json j = Json::parse(v);
      if (j.is_string()) return j;
    } catch (const std::exception&) {
    }
    fail(path, "bad string in query: " + std::string(v));
  }
  if (v == "true") return true;
  if (v == "false") return false;
  if (v == "null") return nullptr;
  char* end = nullptr;
  std::string s(v);
  double d = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0') fail(path, "query value must be a string, number, true, false or null: " + s);
  return d;
}

void parse_query(std::string_view body, JsonPathStep* st, std::string_view path) {
  // Find the operator at the top level of the query body.
  static const char* kOps[] = {"==", "!=", "<=", ">=", "!%", "=", "<", ">", "%"};
  int depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < body.size(); i++) {
    char c = body[i];
    if (c == '\\') {
      i++;
      continue;
    }
    if (in_str) {
      if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') {
      in_str = true;
      continue;
    }
    if (c == '(') depth++;
    if (c == ')') depth--;
    if (depth != 0) continue;
    for (const char* op : kOps) {
      std::string_view o(op);
      if (body.substr(i, o.size()) != o) continue;
      std::string_view left = body.substr(0, i), right = body.substr(i + o.size());
      while (!left.empty() && left.back() == ' ') left.remove_suffix(1);
      while (!left.empty() && left.front() == ' ') left.remove_prefix(1);
      while (!right.empty() && right.front() == ' ') right.remove_prefix(1);
      while (!right.empty() && right.back() == ' ') right.remove_suffix(1);
      st->query_path = std::string(left);
      if (!left.empty()) parse_json_path(left);  // refuse a bad left side now, not per element
      st->op = o == "=" ? "==" : std::string(o);
      st->value = parse_literal(right, path);
      return;
    }
  }
  std::string_view left = body;
  while (!left.empty() && left.front() == ' ') left.remove_prefix(1);
  while (!left.empty() && left.back() == ' ') left.remove_suffix(1);
  if (left.empty()) fail(path, "empty query");
  parse_json_path(left);
  st->query_path = std::string(left);
}

std::optional<Json> eval(const Json& v, const std::vector<JsonPathStep>& steps, size_t i, int depth);

std::optional<Json> select_depth(const Json& doc, std::string_view path, int depth) {
  if (depth > kMaxDepth) fail(path, "queries nested too deeply");
  std::vector<JsonPathStep> steps = parse_json_path(path);
  return eval(doc, steps, 0, depth);
}

int cmp_num(double a, double b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

bool compare(int c, const std::string& op) {
  if (op == "==") return c == 0;
  if (op == "!=") return c != 0;
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  if (op == ">=") return c >= 0;
  return false;
}

bool query_matches(const Json& elem, const JsonPathStep& st, int depth) {
  std::optional<Json> left;
  if (st.query_path.empty()) {
    left = elem;
  } else {
    left = select_depth(elem, st.query_path, depth + 1);
  }
  if (!left) return false;
  if (st.op.empty()) return true;
  const Json& r = st.value;
  if (r.is_string()) {
    if (!left->is_string()) return false;
    const std::string& a = left->get_ref<const std::string&>();
    const std::string& b = r.get_ref<const std::string&>();
    if (st.op == "%") return json_path_glob(b, a);
    if (st.op == "!%") return !json_path_glob(b, a);
    return compare(a.compare(b), st.op);
  }
  if (r.is_number()) {
    if (!left->is_number()) return false;
    return compare(cmp_num(left->get<double>(), r.get<double>()), st.op);
  }
  if (r.is_boolean()) {
    if (!left->is_boolean()) return false;
    bool a = left->get<bool>(), b = r.get<bool>();
    return compare(a == b ? 0 : (a ? 1 : -1), st.op);
  }
  // null
  if (st.op == "==") return left->is_null();
  if (st.op == "!=") return !left->is_null();
  return false;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The end of the projection started by a `#` step at i: the next piped step (or the end).
size_t projection_end(const std::vector<JsonPathStep>& steps, size_t i) {
  size_t j = i + 1;
  while (j < steps.size() && !steps[j].piped) j++;
  return j;
}

// Applies steps [i+1, end) to every element of `arr`, then steps [end, ...) to the array of results.
std::optional<Json> project(const Json& arr, const std::vector<JsonPathStep>& steps, size_t i, int depth) {
  size_t end = projection_end(steps, i);
  Json out = Json::array();
  std::vector<JsonPathStep> sub(steps.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                steps.begin() + static_cast<std::ptrdiff_t>(end));
  for (const auto& e : arr) {
    auto r = eval(e, sub, 0, depth);
    if (r) out.push_back(std::move(*r));
  }
  return eval(out, steps, end, depth);
}

std::optional<Json> eval(const Json& v, const std::vector<JsonPathStep>& steps, size_t i, int depth) {
  if (i >= steps.size()) return v;
  const JsonPathStep& st = steps[i];
  switch (st.kind) {
    case Kind::kCount:
      if (!v.is_array()) return std::nullopt;
      if (i + 1 == steps.size() || steps[i + 1].piped) return eval(Json(v.size()), steps, i + 1, depth);
      return project(v, steps, i, depth);
    case Kind::kQuery:
      if (!v.is_array()) return std::nullopt;
      for (const auto& e : v)
        if (query_matches(e, st, depth)) return eval(e, steps, i + 1, depth);
      return std::nullopt;
    case Kind::kQueryAll: {
      if (!v.is_array()) return std::nullopt;
      Json matches = Json::array();
      for (const auto& e : v)
        if (query_matches(e, st, depth)) matches.push_back(e);
      if (i + 1 == steps.size() || steps[i + 1].piped) return eval(matches, steps, i + 1, depth);
      return project(matches, steps, i, depth);
    }
    case Kind::kModifier: {
      if (st.key == "this") return eval(v, steps, i + 1, depth);
      if (st.key == "reverse") {
        if (v.is_array()) {
          Json r = Json::array();
          for (auto it = v.rbegin(); it != v.rend(); ++it) r.push_back(*it);
          return eval(r, steps, i + 1, depth);
        }
        if (v.is_object()) {
          Json r = Json::object();
          std::vector<std::pair<std::string, const Json*>> items;
          for (auto it = v.begin(); it != v.end(); ++it) items.emplace_back(it.key(), &it.value());
          for (auto it = items.rbegin(); it != items.rend(); ++it) r[it->first] = *it->second;
          return eval(r, steps, i + 1, depth);
        }
        return eval(v, steps, i + 1, depth);
      }
      if (st.key == "keys" || st.key == "values") {
        if (!v.is_object()) return std::nullopt;
        Json r = Json::array();
        for (auto it = v.begin(); it != v.end(); ++it) r.push_back(st.key == "keys" ? Json(it.key()) : it.value());
        return eval(r, steps, i + 1, depth);
      }
      return std::nullopt;  // unreachable: parse_json_path refuses other modifiers
    }
    case Kind::kKey:
      if (v.is_object()) {
        if (st.glob) {
          for (auto it = v.begin(); it != v.end(); ++it)
            if (json_path_glob(st.pattern, it.key())) return eval(it.value(), steps, i + 1, depth);
          return std::nullopt;
        }
        auto it = v.find(st.key);
        if (it == v.end()) return std::nullopt;
        return eval(*it, steps, i + 1, depth);
      }
      if (v.is_array() && !st.glob && all_digits(st.key)) {
        if (st.key.size() > 18) return std::nullopt;
        size_t idx = std::stoull(st.key);
        if (idx >= v.size()) return std::nullopt;
        return eval(v[idx], steps, i + 1, depth);
      }
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

bool json_path_glob(std::string_view pattern, std::string_view text) {
  // Iterative wildcard match with one backtrack point: O(len(pattern) * len(text)).
  size_t p = 0, t = 0, star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star_p = p++;
      star_t = t;
      continue;
    }
    if (p < pattern.size()) {
      char pc = pattern[p];
      size_t adv = 1;
      if (pc == '\\' && p + 1 < pattern.size()) {
        pc = pattern[p + 1];
        adv = 2;
        if (pc == text[t]) {
          p += adv;
          t++;
          continue;
        }
      } else if (pc == '?' || pc == text[t]) {
        p += adv;
        t++;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p + 1;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') p++;
  return p == pattern.size();
}

std::vector<JsonPathStep> parse_json_path(std::string_view path) {
  std::vector<JsonPathStep> steps;
  size_t i = 0;
  bool piped = false;
  if (path.empty()) fail(path, "empty path");
  if (path.front() == '{' || path.front() == '[') fail(path, "multipaths ({...} and [...]) are not supported by herd");
  if (path.front() == '!') fail(path, "JSON literals are not supported by herd");
  while (true) {
    JsonPathStep st;
    st.piped = piped;
    if (i < path.size() && path[i] == '#') {
      if (i + 1 < path.size() && path[i + 1] == '(') {
        size_t end = close_paren(path, i + 1, path);
        parse_query(path.substr(i + 2, end - i - 3), &st, path);
        st.kind = Kind::kQuery;
        i = end;
        if (i < path.size() && path[i] == '#') {
          st.kind = Kind::kQueryAll;
          i++;
        }
      } else {
        st.kind = Kind::kCount;
        i++;
      }
      if (i < path.size() && path[i] != '.' && path[i] != '|')
        fail(path, "unexpected character after '#': '" + std::string(1, path[i]) + "'");
    } else if (i < path.size() && path[i] == '@') {
      size_t j = i + 1;
      while (j < path.size() && path[j] != '.' && path[j] != '|') j++;
      st.kind = Kind::kModifier;
      st.key = std::string(path.substr(i + 1, j - i - 1));
      if (st.key != "this" && st.key != "reverse" && st.key != "keys" && st.key != "values")
        fail(path,
             "the modifier @" + st.key + " is not supported by herd (supported: @this, @reverse, @keys, @values)");
      i = j;
    } else {
      std::string key, pattern;
      while (i < path.size() && path[i] != '.' && path[i] != '|') {
        char c = path[i];
        if (c == '\\') {
          if (i + 1 >= path.size()) fail(path, "a trailing backslash escapes nothing");
          key += path[i + 1];
          pattern += c;
          pattern += path[i + 1];
          i += 2;
          continue;
        }
        if (c == '*' || c == '?') st.glob = true;
        key += c;
        pattern += c;
        i++;
      }
      st.key = std::move(key);
      if (st.glob) st.pattern = std::move(pattern);
    }
    steps.push_back(std::move(st));
    if (i >= path.size()) break;
    piped = path[i] == '|';
    i++;
    if (i >= path.size()) fail(path, "ends with a separator");
  }
  return steps;
}

std::optional<nlohmann::ordered_json> select_json_path(const nlohmann::ordered_json& doc, std::string_view path) {
  return select_depth(doc, path, 0);
}

}  // namespace herd::k6
