#pragma once
// Secret sources for "k6/secrets", configured by k6's --secret-source flag:
//   file=PATH                                  key=value lines from PATH
//   file=name=NAME,filename=PATH[,default]     the same, named
//   mock=KEY=VALUE[,KEY=VALUE...][,name=NAME][,default]
// Several flags give several sources; secrets.get() reads the one marked
// `default`, or the only one. Immutable once built: shared by every VU thread.

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace herd::k6 {

/// A malformed --secret-source value, an unreadable file, or a failed lookup.
/// The message names the source, key or file.
class SecretError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The secret sources of a run, by name.
class SecretSources {
 public:
  /// Builds the sources from --secret-source values in order. Throws
  /// SecretError for a malformed value, an unsupported type (url and others),
  /// a file that cannot be read or has a line without '=', two sources with
  /// the same name, or two marked default.
  static SecretSources from_flags(const std::vector<std::string>& specs);

  /// True when no --secret-source was given.
  bool empty() const { return sources_.empty(); }

  /// The value of `key` in the default source. Throws SecretError when there
  /// is no default source (none, or several and none marked) or no such key.
  const std::string& get(const std::string& key) const;

  /// The value of `key` in the source named `source`. Throws SecretError when
  /// there is no such source or key.
  const std::string& get_from(const std::string& source, const std::string& key) const;

  /// True when a source is named `name`.
  bool has_source(const std::string& name) const { return sources_.count(name) > 0; }

 private:
  const std::string& lookup(const std::string& source, const std::string& key) const;

  std::map<std::string, std::map<std::string, std::string>> sources_;  ///< name ("" = unnamed) -> key -> value
  std::string default_;                                                ///< the name of the default source
  bool has_default_ = false;                                           ///< false: get() has no source to read
};

}  // namespace herd::k6
