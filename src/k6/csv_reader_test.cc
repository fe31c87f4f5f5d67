#include "k6/csv_reader.h"

#include <gtest/gtest.h>

namespace herd::k6 {
namespace {

using Rows = std::vector<std::vector<std::string>>;

Rows read_all(std::string_view text, char delim = ',') {
  CsvReader r(text, delim);
  Rows rows;
  std::vector<std::string> f;
  while (r.next(&f)) rows.push_back(f);
  return rows;
}

TEST(CsvReader, PlainRecordsWithLfAndCrlf) {
  EXPECT_EQ(read_all("a,b\n1,2\n"), (Rows{{"a", "b"}, {"1", "2"}}));
  EXPECT_EQ(read_all("a,b\r\n1,2"), (Rows{{"a", "b"}, {"1", "2"}}));
}

TEST(CsvReader, QuotedFieldsHoldDelimitersQuotesAndLineBreaks) {
  EXPECT_EQ(read_all("\"x,y\",\"say \"\"hi\"\"\",\"two\r\nlines\"\n"), (Rows{{"x,y", "say \"hi\"", "two\r\nlines"}}));
  EXPECT_EQ(read_all("\"\",a"), (Rows{{"", "a"}}));
}

TEST(CsvReader, EmptyFieldsAndTrailingDelimiter) {
  EXPECT_EQ(read_all(",a,\n"), (Rows{{"", "a", ""}}));
  EXPECT_EQ(read_all("a,"), (Rows{{"a", ""}}));
}

TEST(CsvReader, SkipsEmptyLinesAndByteOrderMark) {
  EXPECT_EQ(read_all("\xEF\xBB\xBFh\n\n\r\nv\n\n"), (Rows{{"h"}, {"v"}}));
  EXPECT_TRUE(read_all("").empty());
  EXPECT_TRUE(read_all("\n\n").empty());
}

TEST(CsvReader, OtherDelimiters) {
  EXPECT_EQ(read_all("a;\"b;c\"\n", ';'), (Rows{{"a", "b;c"}}));
  EXPECT_EQ(read_all("a\tb\n", '\t'), (Rows{{"a", "b"}}));
  EXPECT_THROW(CsvReader("", '"'), std::invalid_argument);
  EXPECT_THROW(CsvReader("", '\n'), std::invalid_argument);
}

TEST(CsvReader, MalformedInputNamesTheLine) {
  try {
    read_all("a\nb\n\"open");
    FAIL() << "no error";
  } catch (const CsvError& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_all("a\"b,c"), CsvError);
  EXPECT_THROW(read_all("\"a\"b,c"), CsvError);
  try {
    read_all("\"multi\nline\"\nx,\"y\"z");
    FAIL() << "no error";
  } catch (const CsvError& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
  }
}

TEST(CsvReader, CountsRecords) {
  CsvReader r("a\nb\nc");
  std::vector<std::string> f;
  while (r.next(&f)) {
  }
  EXPECT_EQ(r.records(), 3u);
  EXPECT_FALSE(r.next(&f));
  EXPECT_TRUE(f.empty());
}

}  // namespace
}  // namespace herd::k6
