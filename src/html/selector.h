#pragma once
// CSS selectors over html::Document nodes: a parser for untrusted selector
// text (bounded nesting, never throws) and a right-to-left matcher.
//
// Supported: type, *, #id, .class, [attr], [attr=v], ~=, |=, ^=, $=, *=
// (with an optional " i" flag), combinators (descendant, >, +, ~), selector
// lists (a, b), :first-child, :last-child, :only-child, :nth-child(),
// :nth-last-child(), :first-of-type, :last-of-type, :nth-of-type(),
// :only-of-type, :not(list), :has(list), :contains("text"),
// :containsOwn("text"), :empty, :root, :checked, :disabled, :enabled.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "html/document.h"

namespace herd::html {

struct SelectorList;

/// One condition of a compound selector (everything but the type).
struct SimpleSelector {
  enum class Kind {
    kId,
    kClass,
    kAttrExists,
    kAttrEquals,
    kAttrWord,
    kAttrDash,
    kAttrPrefix,
    kAttrSuffix,
    kAttrSubstring,
    kNthChild,
    kNthLastChild,
    kNthOfType,
    kNthLastOfType,
    kOnlyChild,
    kOnlyOfType,
    kNot,
    kHas,
    kContains,
    kContainsOwn,
    kEmpty,
    kRoot,
    kChecked,
    kDisabled,
    kEnabled
  };
  Kind kind;
  std::string name;                     ///< id, class, attribute name (lower case), or :contains text
  std::string value;                    ///< attribute value to compare
  bool ignore_case = false;             ///< [a=v i]
  long a = 0, b = 0;                    ///< an+b for the nth kinds
  std::shared_ptr<SelectorList> inner;  ///< :not / :has argument
};

/// Type (or universal) plus conditions: `div.a[href]:first-child`.
struct Compound {
  std::string tag;  ///< lower case; empty = any element
  std::vector<SimpleSelector> conditions;
};

/// Compounds joined by combinators, left to right: parts.size() == combinators.size() + 1.
/// Combinator chars: ' ' descendant, '>' child, '+' adjacent sibling, '~' general sibling.
struct ComplexSelector {
  std::vector<Compound> parts;
  std::vector<char> combinators;
};

/// A comma-separated list; never empty once parsed.
struct SelectorList {
  std::vector<ComplexSelector> selectors;
};

/// Parses selector text. On failure returns nullopt and sets `*error` to a
/// message naming the offending position. Bounded: at most 8 levels of
/// :not/:has nesting and 64 compounds per selector.
std::optional<SelectorList> parse_selector(std::string_view text, std::string* error);

/// True if element `n` matches any selector of the list.
bool matches(const SelectorList& sel, Node n);

/// Elements strictly inside any of `roots` that match `sel`, in document
/// order, each once.
std::vector<Node> select_descendants(const SelectorList& sel, const std::vector<Node>& roots);

}  // namespace herd::html
