#pragma once
// An RFC 4180 CSV reader over text held in memory: quoted fields may hold the
// delimiter, doubled quotes ("") and line breaks; records end with CRLF or LF.
// Empty lines are skipped, a UTF-8 byte order mark at the start is dropped.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace herd::k6 {

/// Malformed CSV; the message names the line (1-based physical line).
class CsvError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads records one at a time. Does not own the text: it must outlive the reader.
class CsvReader {
 public:
  /// `delimiter` must not be '"', '\r' or '\n' (throws std::invalid_argument).
  explicit CsvReader(std::string_view text, char delimiter = ',');

  /// The next record into *fields (replacing its contents). False at the end
  /// of the text. Throws CsvError on a malformed record (an unterminated quoted
  /// field, a quote inside an unquoted field, text after a closing quote).
  bool next(std::vector<std::string>* fields);

  /// Records returned so far.
  std::size_t records() const { return records_; }

 private:
  std::string_view text_;
  char delim_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;  ///< physical line of pos_
  std::size_t records_ = 0;
};

}  // namespace herd::k6
