#pragma once
// The selector of k6's Response.json(selector): a subset of the GJSON path
// syntax (github.com/tidwall/gjson "Path Syntax") evaluated over a parsed
// document. Supported:
//   a.b.c            object keys, array indexes ("items.0.id")
//   a\.b             a key containing a dot (backslash escapes any character)
//   a*, a?c          wildcards in a key: the first key in document order that matches
//   items.#          array length
//   items.#.id       the `id` of every element (elements without one are skipped)
//   items.#(k=="x")  the first element whose `k` compares true (==, =, !=, <, <=, >, >=,
//                    % glob match, !% glob mismatch; "strings", numbers, true, false, null;
//                    no operator: the path exists; an empty left side: the element itself)
//   items.#(...)#    every matching element
//   a|b              `|` applies the rest to the whole result instead of to each element
//   @this @reverse @keys @values  modifiers
// Anything else GJSON knows (multipaths `{a,b}`/`[a,b]`, other modifiers, JSON
// literals `!true`) is refused with a JsonPathError naming it.
// A path that selects nothing gives std::nullopt (k6: undefined). GJSON itself
// never fails; herd refuses malformed paths too, with the reason, rather than
// answering undefined for a typo.

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace herd::k6 {

/// A malformed or unsupported selector; what() names the problem.
class JsonPathError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One parsed step of a selector.
struct JsonPathStep {
  enum class Kind {
    kKey,       ///< `key`: object member or array index (glob when `glob`)
    kCount,     ///< `#`
    kQuery,     ///< `#(...)`: first match
    kQueryAll,  ///< `#(...)#`: all matches
    kModifier,  ///< `@name`
  };
  Kind kind = Kind::kKey;
  bool piped = false;   ///< reached through `|` rather than `.`
  std::string key;      ///< kKey: unescaped key; kModifier: name without '@'
  bool glob = false;    ///< kKey: has an unescaped `*` or `?`
  std::string pattern;  ///< kKey with glob: the key with escapes kept, for glob matching
  // kQuery / kQueryAll:
  std::string query_path;        ///< left side ("" = the element itself)
  std::string op;                ///< "" (exists), "==", "!=", "<", "<=", ">", ">=", "%", "!%"
  nlohmann::ordered_json value;  ///< right side literal
};

/// Parses `path` into steps; throws JsonPathError. Never empty for a non-empty path.
std::vector<JsonPathStep> parse_json_path(std::string_view path);

/// Evaluates `path` on `doc`: the selected value, or nullopt when nothing matches.
/// Throws JsonPathError for a malformed or unsupported path.
std::optional<nlohmann::ordered_json> select_json_path(const nlohmann::ordered_json& doc, std::string_view path);

/// GJSON's wildcard match: `*` any run, `?` one character, `\` escapes.
bool json_path_glob(std::string_view pattern, std::string_view text);

}  // namespace herd::k6
