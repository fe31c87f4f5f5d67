// libFuzzer target: the CSV reader must never crash or loop, and a record it
// returns, written back with every field quoted, must read back the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "k6/csv_reader.h"

namespace {

std::string quote_record(const std::vector<std::string>& fields, char delim) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); i++) {
    if (i) out += delim;
    out += '"';
    for (char c : fields[i]) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  return out + "\r\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  char delim = static_cast<char>(data[0]);
  if (delim == '"' || delim == '\r' || delim == '\n') delim = ',';
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  herd::k6::CsvReader reader(text, delim);
  std::vector<std::string> fields;
  std::size_t guard = 0;
  try {
    while (reader.next(&fields)) {
      if (++guard > size + 1) std::abort();  // every record consumes input
      std::string again = quote_record(fields, delim);
      herd::k6::CsvReader back(again, delim);
      std::vector<std::string> round;
      if (!back.next(&round) || round != fields) std::abort();
    }
  } catch (const herd::k6::CsvError&) {
  }
  return 0;
}
