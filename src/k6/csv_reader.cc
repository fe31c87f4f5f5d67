#include "k6/csv_reader.h"

namespace herd::k6 {

CsvReader::CsvReader(std::string_view text, char delimiter) : text_(text), delim_(delimiter) {
  if (delimiter == '"' || delimiter == '\r' || delimiter == '\n')
    throw std::invalid_argument("the CSV delimiter cannot be a quote or a line break");
  if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
}

bool CsvReader::next(std::vector<std::string>* fields) {
  fields->clear();
  const std::size_t n = text_.size();
  // Skip empty lines.
  while (pos_ < n && (text_[pos_] == '\n' || (text_[pos_] == '\r' && pos_ + 1 < n && text_[pos_ + 1] == '\n'))) {
    pos_ += text_[pos_] == '\r' ? 2 : 1;
    line_++;
  }
  if (pos_ >= n) return false;
  const std::size_t start_line = line_;
  auto at_eol = [&](std::size_t i) {
    return i >= n || text_[i] == '\n' || (text_[i] == '\r' && i + 1 < n && text_[i + 1] == '\n');
  };
  for (;;) {
    std::string field;
    if (text_[pos_] == '"') {
      std::size_t i = pos_ + 1;
      for (;;) {
        if (i >= n)
          throw CsvError("CSV line " + std::to_string(start_line) +
                         ": a quoted field is not closed before the end of the file");
        char c = text_[i];
        if (c == '"') {
          if (i + 1 < n && text_[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c == '\n') line_++;
        field += c;
        i++;
      }
      if (!at_eol(i) && text_[i] != delim_)
        throw CsvError("CSV line " + std::to_string(line_) + ": unexpected character after a closing quote");
      pos_ = i;
    } else {
      std::size_t i = pos_;
      while (i < n && text_[i] != delim_ && !at_eol(i)) {
        if (text_[i] == '"')
          throw CsvError("CSV line " + std::to_string(line_) +
                         ": a quote inside an unquoted field (quote the whole field and double the quote)");
        i++;
      }
      field.assign(text_.substr(pos_, i - pos_));
      pos_ = i;
    }
    fields->push_back(std::move(field));
    if (pos_ < n && text_[pos_] == delim_) {
      pos_++;
      if (pos_ >= n || at_eol(pos_)) {  // a trailing delimiter: one more empty field
        fields->emplace_back();
        break;
      }
      continue;
    }
    break;
  }
  if (pos_ < n) {
    pos_ += text_[pos_] == '\r' ? 2 : 1;
    line_++;
  }
  records_++;
  return true;
}

}  // namespace herd::k6
