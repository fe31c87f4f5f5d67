#include "html/selector.h"

#include <cstring>
#include <unordered_set>

namespace herd::html {

namespace {

constexpr int kMaxNesting = 8;
constexpr std::size_t kMaxCompounds = 64;

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string s) {
  for (char& c : s) c = lower(c);
  return s;
}

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

bool is_ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::optional<SelectorList> run(std::string* error) {
    auto list = parse_list(0);
    if (list && pos_ < s_.size()) fail("unexpected '" + std::string(1, s_[pos_]) + "'");
    if (!error_.empty()) {
      *error = error_;
      return std::nullopt;
    }
    return list;
  }

 private:
  bool eof() const { return pos_ >= s_.size(); }
  char peek() const { return eof() ? '\0' : s_[pos_]; }
  void skip_ws() {
    while (!eof() && is_ws(s_[pos_])) pos_++;
  }
  void fail(const std::string& what) {
    if (error_.empty())
      error_ = "invalid selector \"" + std::string(s_) + "\" at offset " + std::to_string(pos_) + ": " + what;
  }

  std::optional<SelectorList> parse_list(int depth) {
    SelectorList list;
    skip_ws();
    for (;;) {
      ComplexSelector c;
      if (!parse_complex(&c, depth)) return std::nullopt;
      list.selectors.push_back(std::move(c));
      skip_ws();
      if (peek() != ',') break;
      pos_++;
      skip_ws();
    }
    return list;
  }

  bool parse_complex(ComplexSelector* out, int depth) {
    Compound first;
    if (!parse_compound(&first, depth)) return false;
    out->parts.push_back(std::move(first));
    for (;;) {
      std::size_t before = pos_;
      skip_ws();
      char comb = ' ';
      char c = peek();
      if (c == '>' || c == '+' || c == '~') {
        comb = c;
        pos_++;
        skip_ws();
      } else if (pos_ == before || eof() || c == ',' || c == ')') {
        pos_ = before;
        return true;
      }
      if (out->parts.size() >= kMaxCompounds) {
        fail("too many compound selectors");
        return false;
      }
      Compound next;
      if (!parse_compound(&next, depth)) return false;
      out->combinators.push_back(comb);
      out->parts.push_back(std::move(next));
    }
  }

  bool parse_ident(std::string* out) {
    std::size_t start = pos_;
    while (!eof()) {
      char c = s_[pos_];
      if (c == '\\') {
        if (pos_ + 1 >= s_.size()) break;
        out->push_back(s_[pos_ + 1]);
        pos_ += 2;
      } else if (is_ident_char(c)) {
        out->push_back(c);
        pos_++;
      } else {
        break;
      }
    }
    if (pos_ == start) {
      fail("expected a name");
      return false;
    }
    return true;
  }

  bool parse_string(std::string* out) {
    char q = peek();
    pos_++;
    while (!eof() && s_[pos_] != q) {
      if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) pos_++;
      out->push_back(s_[pos_++]);
    }
    if (eof()) {
      fail("unterminated string");
      return false;
    }
    pos_++;
    return true;
  }

  bool parse_compound(Compound* out, int depth) {
    bool any = false;
    if (peek() == '*') {
      pos_++;
      any = true;
    } else if (is_ident_char(peek()) || peek() == '\\') {
      if (!parse_ident(&out->tag)) return false;
      out->tag = lowered(out->tag);
      any = true;
    }
    for (;;) {
      char c = peek();
      SimpleSelector s{};
      if (c == '#' || c == '.') {
        pos_++;
        s.kind = c == '#' ? SimpleSelector::Kind::kId : SimpleSelector::Kind::kClass;
        if (!parse_ident(&s.name)) return false;
      } else if (c == '[') {
        pos_++;
        if (!parse_attribute(&s)) return false;
      } else if (c == ':') {
        pos_++;
        if (peek() == ':') {
          fail("pseudo-elements are not supported");
          return false;
        }
        if (!parse_pseudo(&s, depth)) return false;
      } else {
        break;
      }
      out->conditions.push_back(std::move(s));
      any = true;
    }
    if (!any) fail(eof() ? "expected a selector" : "unexpected '" + std::string(1, peek()) + "'");
    return any;
  }

  bool parse_attribute(SimpleSelector* s) {
    skip_ws();
    if (!parse_ident(&s->name)) return false;
    s->name = lowered(s->name);
    skip_ws();
    if (peek() == ']') {
      pos_++;
      s->kind = SimpleSelector::Kind::kAttrExists;
      return true;
    }
    using K = SimpleSelector::Kind;
    char op = peek();
    if (op == '=') {
      s->kind = K::kAttrEquals;
      pos_++;
    } else {
      static const struct {
        char c;
        K k;
      } kOps[] = {{'~', K::kAttrWord},
                  {'|', K::kAttrDash},
                  {'^', K::kAttrPrefix},
                  {'$', K::kAttrSuffix},
                  {'*', K::kAttrSubstring}};
      bool found = false;
      for (const auto& o : kOps)
        if (o.c == op && pos_ + 1 < s_.size() && s_[pos_ + 1] == '=') {
          s->kind = o.k;
          pos_ += 2;
          found = true;
        }
      if (!found) {
        fail("expected an attribute operator or ']'");
        return false;
      }
    }
    skip_ws();
    if (peek() == '"' || peek() == '\'') {
      if (!parse_string(&s->value)) return false;
    } else if (!parse_ident(&s->value)) {
      return false;
    }
    skip_ws();
    if (peek() == 'i' || peek() == 'I' || peek() == 's' || peek() == 'S') {
      s->ignore_case = lower(peek()) == 'i';
      pos_++;
      skip_ws();
    }
    if (peek() != ']') {
      fail("expected ']'");
      return false;
    }
    pos_++;
    return true;
  }

  bool parse_nth(SimpleSelector* s) {
    skip_ws();
    std::string t;
    while (!eof() && s_[pos_] != ')') t.push_back(lower(s_[pos_++]));
    std::string compact;
    for (char c : t)
      if (!is_ws(c)) compact.push_back(c);
    if (compact == "odd") {
      s->a = 2, s->b = 1;
      return true;
    }
    if (compact == "even") {
      s->a = 2, s->b = 0;
      return true;
    }
    auto number = [](const std::string& v, std::size_t* i, long* out) {
      std::size_t start = *i;
      long n = 0;
      while (*i < v.size() && v[*i] >= '0' && v[*i] <= '9' && n < 100000000) n = n * 10 + (v[(*i)++] - '0');
      *out = n;
      return *i > start;
    };
    std::size_t i = 0;
    long sign = 1;
    if (i < compact.size() && (compact[i] == '+' || compact[i] == '-')) sign = compact[i++] == '-' ? -1 : 1;
    long n = 0;
    bool has_num = number(compact, &i, &n);
    if (i < compact.size() && compact[i] == 'n') {
      s->a = sign * (has_num ? n : 1);
      i++;
      s->b = 0;
      if (i < compact.size()) {
        long bs = 1;
        if (compact[i] == '+' || compact[i] == '-') {
          bs = compact[i++] == '-' ? -1 : 1;
        } else {
          fail("bad an+b expression");
          return false;
        }
        long b = 0;
        if (!number(compact, &i, &b)) {
          fail("bad an+b expression");
          return false;
        }
        s->b = bs * b;
      }
    } else if (has_num) {
      s->a = 0;
      s->b = sign * n;
    } else {
      fail("bad an+b expression");
      return false;
    }
    if (i != compact.size()) {
      fail("bad an+b expression");
      return false;
    }
    return true;
  }

  bool parse_pseudo(SimpleSelector* s, int depth) {
    std::size_t start = pos_ - 1;  // the ':'
    std::string name;
    if (!parse_ident(&name)) return false;
    name = lowered(name);
    using K = SimpleSelector::Kind;
    static const struct {
      const char* name;
      K kind;
      long a, b;
    } kPlain[] = {{"first-child", K::kNthChild, 0, 1},
                  {"last-child", K::kNthLastChild, 0, 1},
                  {"first-of-type", K::kNthOfType, 0, 1},
                  {"last-of-type", K::kNthLastOfType, 0, 1},
                  {"only-child", K::kOnlyChild, 0, 0},
                  {"only-of-type", K::kOnlyOfType, 0, 0},
                  {"empty", K::kEmpty, 0, 0},
                  {"root", K::kRoot, 0, 0},
                  {"checked", K::kChecked, 0, 0},
                  {"disabled", K::kDisabled, 0, 0},
                  {"enabled", K::kEnabled, 0, 0}};
    for (const auto& p : kPlain)
      if (name == p.name) {
        s->kind = p.kind;
        s->a = p.a;
        s->b = p.b;
        return true;
      }
    static const struct {
      const char* name;
      K kind;
    } kFn[] = {{"nth-child", K::kNthChild},
               {"nth-last-child", K::kNthLastChild},
               {"nth-of-type", K::kNthOfType},
               {"nth-last-of-type", K::kNthLastOfType},
               {"not", K::kNot},
               {"has", K::kHas},
               {"contains", K::kContains},
               {"containsown", K::kContainsOwn}};
    for (const auto& p : kFn) {
      if (name != p.name) continue;
      if (peek() != '(') {
        fail(":" + name + " needs an argument");
        return false;
      }
      pos_++;
      s->kind = p.kind;
      if (p.kind == K::kNot || p.kind == K::kHas) {
        if (depth + 1 >= kMaxNesting) {
          fail("selectors nested too deeply");
          return false;
        }
        auto inner = parse_list(depth + 1);
        if (!inner) return false;
        s->inner = std::make_shared<SelectorList>(std::move(*inner));
      } else if (p.kind == K::kContains || p.kind == K::kContainsOwn) {
        skip_ws();
        if (peek() == '"' || peek() == '\'') {
          if (!parse_string(&s->name)) return false;
        } else {
          while (!eof() && s_[pos_] != ')') s->name.push_back(s_[pos_++]);
          while (!s->name.empty() && is_ws(s->name.back())) s->name.pop_back();
        }
      } else if (!parse_nth(s)) {
        return false;
      }
      skip_ws();
      if (peek() != ')') {
        fail("expected ')'");
        return false;
      }
      pos_++;
      return true;
    }
    pos_ = start;
    fail("unsupported pseudo-class :" + name);
    return false;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::string error_;
};

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); i++)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool starts(std::string_view s, std::string_view p, bool ic) {
  return s.size() >= p.size() && (ic ? ieq(s.substr(0, p.size()), p) : s.substr(0, p.size()) == p);
}
bool ends(std::string_view s, std::string_view p, bool ic) {
  return s.size() >= p.size() && (ic ? ieq(s.substr(s.size() - p.size()), p) : s.substr(s.size() - p.size()) == p);
}
bool has_sub(std::string_view s, std::string_view p, bool ic) {
  if (!ic) return s.find(p) != std::string_view::npos;
  for (std::size_t i = 0; i + p.size() <= s.size(); i++)
    if (ieq(s.substr(i, p.size()), p)) return true;
  return false;
}

bool attr_matches(const SimpleSelector& s, const char* v) {
  using K = SimpleSelector::Kind;
  if (!v) return false;
  std::string_view val(v), want(s.value);
  bool ic = s.ignore_case;
  switch (s.kind) {
    case K::kAttrExists:
      return true;
    case K::kAttrEquals:
      return ic ? ieq(val, want) : val == want;
    case K::kAttrWord: {
      if (want.empty() || want.find_first_of(" \t\n\r\f") != std::string_view::npos) return false;
      std::size_t i = 0;
      while (i < val.size()) {
        while (i < val.size() && is_ws(val[i])) i++;
        std::size_t j = i;
        while (j < val.size() && !is_ws(val[j])) j++;
        if (j > i && (ic ? ieq(val.substr(i, j - i), want) : val.substr(i, j - i) == want)) return true;
        i = j;
      }
      return false;
    }
    case K::kAttrDash:
      return (ic ? ieq(val, want) : val == want) ||
             (val.size() > want.size() && starts(val, want, ic) && val[want.size()] == '-');
    case K::kAttrPrefix:
      return !want.empty() && starts(val, want, ic);
    case K::kAttrSuffix:
      return !want.empty() && ends(val, want, ic);
    case K::kAttrSubstring:
      return !want.empty() && has_sub(val, want, ic);
    default:
      return false;
  }
}

bool nth(long a, long b, long pos) {
  if (a == 0) return pos == b;
  long d = pos - b;
  return d / a >= 0 && d % a == 0;
}

// 1-based position of `n` among its element siblings (same tag if of_type), from the end if `last`.
long position(Node n, bool of_type, bool last) {
  std::string tag = of_type ? tag_name(n) : "";
  long p = 1;
  for (Node s = last ? next_element(n) : prev_element(n); s; s = last ? next_element(s) : prev_element(s))
    if (!of_type || tag_name(s) == tag) p++;
  return p;
}

bool is_form_control(Node n) {
  switch (n->v.element.tag) {
    case GUMBO_TAG_BUTTON:
    case GUMBO_TAG_INPUT:
    case GUMBO_TAG_SELECT:
    case GUMBO_TAG_TEXTAREA:
    case GUMBO_TAG_OPTGROUP:
    case GUMBO_TAG_OPTION:
    case GUMBO_TAG_FIELDSET:
      return true;
    default:
      return false;
  }
}

bool simple_matches(const SimpleSelector& s, Node n) {
  using K = SimpleSelector::Kind;
  switch (s.kind) {
    case K::kId: {
      const char* id = attribute(n, "id");
      return id && s.name == id;
    }
    case K::kClass:
      for (const auto& c : class_list(n))
        if (c == s.name) return true;
      return false;
    case K::kNthChild:
      return nth(s.a, s.b, position(n, false, false));
    case K::kNthLastChild:
      return nth(s.a, s.b, position(n, false, true));
    case K::kNthOfType:
      return nth(s.a, s.b, position(n, true, false));
    case K::kNthLastOfType:
      return nth(s.a, s.b, position(n, true, true));
    case K::kOnlyChild:
      return !prev_element(n) && !next_element(n);
    case K::kOnlyOfType:
      return position(n, true, false) == 1 && position(n, true, true) == 1;
    case K::kNot:
      return !matches(*s.inner, n);
    case K::kHas:
      return !select_descendants(*s.inner, {n}).empty();
    case K::kContains:
      return text_content(n).find(s.name) != std::string::npos;
    case K::kContainsOwn:
      return own_text(n).find(s.name) != std::string::npos;
    case K::kEmpty: {
      const GumboVector* v = child_vector(n);
      for (unsigned i = 0; i < v->length; i++)
        if (static_cast<Node>(v->data[i])->type != GUMBO_NODE_COMMENT) return false;
      return true;
    }
    case K::kRoot:
      return n->parent && n->parent->type == GUMBO_NODE_DOCUMENT;
    case K::kChecked: {
      GumboTag t = n->v.element.tag;
      if (t == GUMBO_TAG_OPTION) return attribute(n, "selected") != nullptr;
      if (t != GUMBO_TAG_INPUT || !attribute(n, "checked")) return false;
      const char* type = attribute(n, "type");
      return type && (ieq(type, "checkbox") || ieq(type, "radio"));
    }
    case K::kDisabled:
      return is_form_control(n) && attribute(n, "disabled") != nullptr;
    case K::kEnabled:
      return is_form_control(n) && attribute(n, "disabled") == nullptr;
    default:
      return attr_matches(s, attribute(n, s.name));
  }
}

bool compound_matches(const Compound& c, Node n) {
  if (!is_element(n)) return false;
  if (!c.tag.empty()) {
    GumboTag t = n->v.element.tag;
    if (t != GUMBO_TAG_UNKNOWN ? c.tag != gumbo_normalized_tagname(t) : tag_name(n) != c.tag) return false;
  }
  for (const auto& s : c.conditions)
    if (!simple_matches(s, n)) return false;
  return true;
}

// Failed (part, node) pairs of one top-level match: backtracking over
// descendant/sibling combinators then costs parts x nodes, not exponential time.
struct Memo {
  std::vector<std::unordered_set<Node>> failed;  ///< by part index; empty until a failure is recorded
  bool known_failure(std::size_t i, Node n) const { return i < failed.size() && failed[i].count(n); }
  void record(std::size_t i, std::size_t parts, Node n) {
    if (failed.empty()) failed.resize(parts);
    failed[i].insert(n);
  }
};

// Does parts[0..i] match with parts[i] at `n`?
bool complex_matches(const ComplexSelector& sel, std::size_t i, Node n, Memo* memo) {
  if (memo->known_failure(i, n)) return false;
  if (!compound_matches(sel.parts[i], n)) return false;
  if (i == 0) return true;
  bool ok = false;
  switch (sel.combinators[i - 1]) {
    case '>': {
      Node p = parent_of(n);
      ok = is_element(p) && complex_matches(sel, i - 1, p, memo);
      break;
    }
    case '+': {
      Node p = prev_element(n);
      ok = p && complex_matches(sel, i - 1, p, memo);
      break;
    }
    case '~':
      for (Node p = prev_element(n); p && !ok; p = prev_element(p)) ok = complex_matches(sel, i - 1, p, memo);
      break;
    default:
      for (Node p = parent_of(n); is_element(p) && !ok; p = parent_of(p)) ok = complex_matches(sel, i - 1, p, memo);
  }
  if (!ok) memo->record(i, sel.parts.size(), n);
  return ok;
}

}  // namespace

std::optional<SelectorList> parse_selector(std::string_view text, std::string* error) {
  return Parser(text).run(error);
}

bool matches(const SelectorList& sel, Node n) {
  for (const auto& c : sel.selectors) {
    Memo memo;
    if (complex_matches(c, c.parts.size() - 1, n, &memo)) return true;
  }
  return false;
}

namespace {

bool matches_memo(const SelectorList& sel, Node n, std::vector<Memo>* memos) {
  for (std::size_t i = 0; i < sel.selectors.size(); i++) {
    const auto& c = sel.selectors[i];
    if (complex_matches(c, c.parts.size() - 1, n, &(*memos)[i])) return true;
  }
  return false;
}

}  // namespace

std::vector<Node> select_descendants(const SelectorList& sel, const std::vector<Node>& roots) {
  std::vector<Memo> memos(sel.selectors.size());  // shared by every candidate: results depend on (part, node) only
  std::vector<Node> out;
  std::unordered_set<Node> seen;
  for (Node root : roots) {
    for (Node n = next_in_subtree(root, root); n; n = next_in_subtree(n, root))
      if (is_element(n) && matches_memo(sel, n, &memos) && seen.insert(n).second) out.push_back(n);
  }
  return out;
}

}  // namespace herd::html
