#include "util/http_status.h"

#include <gtest/gtest.h>

using herd::util::http_reason_phrase;
using herd::util::http_status_text;

TEST(HttpStatus, ReasonPhrases) {
  EXPECT_EQ(http_reason_phrase(200), "OK");
  EXPECT_EQ(http_reason_phrase(404), "Not Found");
  EXPECT_EQ(http_reason_phrase(413), "Content Too Large");
  EXPECT_EQ(http_reason_phrase(599), "");
}

TEST(HttpStatus, StatusTextAsK6GivesIt) {
  EXPECT_EQ(http_status_text(200, "OK"), "200 OK");
  EXPECT_EQ(http_status_text(200, ""), "200 OK");  // HTTP/2: no phrase on the wire
  EXPECT_EQ(http_status_text(299, "Fine Thanks"), "299 Fine Thanks");
  EXPECT_EQ(http_status_text(599, ""), "599");
}
