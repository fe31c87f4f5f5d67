#include "http/content_coding.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>

namespace herd::http {
namespace {

std::string sample(std::size_t n) {
  std::mt19937 rng(7);
  std::string s;
  for (std::size_t i = 0; i < n; i++) s += static_cast<char>('a' + rng() % 6);  // compressible, not trivial
  return s;
}

// Decodes `encoded` fed in pieces of `step` bytes.
bool decode(std::string_view ce, const std::string& encoded, std::string* out, std::string* err, std::size_t step,
            std::size_t max = kDefaultMaxDecodedBody) {
  auto d = ContentDecoder::create(ce, max);
  if (!d) {
    *err = "no decoder";
    return false;
  }
  for (std::size_t i = 0; i < encoded.size(); i += step) {
    if (!d->feed(encoded.data() + i, std::min(step, encoded.size() - i), out)) {
      *err = d->error();
      return false;
    }
  }
  bool ok = d->finish();
  *err = d->error();
  return ok;
}

TEST(ContentCoding, RoundTripEveryCodingInPieces) {
  const std::string body = sample(200000);
  for (Coding c : {Coding::kGzip, Coding::kDeflate, Coding::kBr, Coding::kZstd}) {
    std::string enc = encode_content(body, {c});
    EXPECT_LT(enc.size(), body.size() / 2) << coding_name(c);
    for (std::size_t step : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, enc.size()}) {
      std::string out, err;
      ASSERT_TRUE(decode(coding_name(c), enc, &out, &err, step)) << coding_name(c) << " step " << step << ": " << err;
      EXPECT_EQ(out, body) << coding_name(c) << " step " << step;
    }
  }
}

TEST(ContentCoding, SeveralCodingsAreUndoneLastFirst) {
  const std::string body = sample(50000);
  std::string enc = encode_content(body, {Coding::kGzip, Coding::kBr});
  std::string out, err;
  ASSERT_TRUE(decode("gzip, br", enc, &out, &err, 333)) << err;
  EXPECT_EQ(out, body);
  // identity and unknown tokens are skipped, as k6 does
  out.clear();
  ASSERT_TRUE(decode("identity, gzip,br", enc, &out, &err, 100000)) << err;
  EXPECT_EQ(out, body);
  // the wrong order is an error, not garbage
  out.clear();
  EXPECT_FALSE(decode("br, gzip", enc, &out, &err, 1000));
  EXPECT_NE(err.find("error decompressing response body ("), std::string::npos) << err;
}

TEST(ContentCoding, NothingToDecode) {
  EXPECT_EQ(ContentDecoder::create(""), nullptr);
  EXPECT_EQ(ContentDecoder::create("identity"), nullptr);
  EXPECT_EQ(ContentDecoder::create("compress"), nullptr);
  EXPECT_NE(ContentDecoder::create(" GZIP "), nullptr);
  Coding c;
  EXPECT_FALSE(parse_coding("lzw", &c));
  EXPECT_TRUE(parse_coding("zstd", &c));
  EXPECT_EQ(c, Coding::kZstd);
}

TEST(ContentCoding, EmptyBodyIsFine) {
  for (const char* ce : {"gzip", "deflate", "br", "zstd"}) {
    auto d = ContentDecoder::create(ce);
    EXPECT_TRUE(d->finish()) << ce;
  }
}

TEST(ContentCoding, CorruptStreamsFail) {
  const std::string garbage = "this is not compressed at all, not even a little";
  for (const char* ce : {"gzip", "deflate", "br", "zstd"}) {
    std::string out, err;
    EXPECT_FALSE(decode(ce, garbage, &out, &err, 5)) << ce;
    EXPECT_EQ(err.rfind("error decompressing response body (", 0), 0u) << ce << ": " << err;
  }
  // a flipped byte inside a gzip stream: the CRC or the data is wrong
  std::string enc = encode_content(sample(10000), {Coding::kGzip});
  enc[enc.size() / 2] ^= 0x55;
  std::string out, err;
  EXPECT_FALSE(decode("gzip", enc, &out, &err, 512));
}

TEST(ContentCoding, TruncatedStreamsFail) {
  for (Coding c : {Coding::kGzip, Coding::kDeflate, Coding::kBr, Coding::kZstd}) {
    std::string enc = encode_content(sample(30000), {c});
    enc.resize(enc.size() / 2);
    std::string out, err;
    EXPECT_FALSE(decode(coding_name(c), enc, &out, &err, 1000)) << coding_name(c);
    EXPECT_EQ(err, "error decompressing response body (unexpected EOF)") << coding_name(c);
  }
}

TEST(ContentCoding, BombsStopAtTheLimit) {
  const std::string zeros(8 << 20, '\0');  // 8 MiB of zeros compress to a few KiB
  for (Coding c : {Coding::kGzip, Coding::kDeflate, Coding::kBr, Coding::kZstd}) {
    std::string enc = encode_content(zeros, {c});
    ASSERT_LT(enc.size(), 64u * 1024) << coding_name(c);
    std::string out, err;
    EXPECT_FALSE(decode(coding_name(c), enc, &out, &err, enc.size(), 1 << 20)) << coding_name(c);
    EXPECT_NE(err.find("larger than the limit"), std::string::npos) << coding_name(c) << ": " << err;
    EXPECT_LE(out.size(), std::size_t{1} << 20) << coding_name(c);
    // the same body under a limit it fits in decodes whole
    out.clear();
    EXPECT_TRUE(decode(coding_name(c), enc, &out, &err, 4096, 16 << 20)) << coding_name(c) << ": " << err;
    EXPECT_EQ(out.size(), zeros.size());
  }
  // a bomb inside another coding is bounded too
  std::string nested = encode_content(zeros, {Coding::kGzip, Coding::kGzip});
  std::string out, err;
  EXPECT_FALSE(decode("gzip, gzip", nested, &out, &err, nested.size(), 1 << 20));
}

TEST(ContentCoding, GzipMembersAndRawDeflate) {
  std::string a = encode_content("hello ", {Coding::kGzip}), b = encode_content("world", {Coding::kGzip});
  std::string out, err;
  ASSERT_TRUE(decode("gzip", a + b, &out, &err, 3)) << err;
  EXPECT_EQ(out, "hello world");
  // raw deflate (no zlib header), as some servers send for "deflate"
  z_stream z{};
  ASSERT_EQ(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string src = sample(5000), raw(10000, '\0');
  z.next_in = reinterpret_cast<Bytef*>(src.data());
  z.avail_in = static_cast<uInt>(src.size());
  z.next_out = reinterpret_cast<Bytef*>(raw.data());
  z.avail_out = static_cast<uInt>(raw.size());
  ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  raw.resize(z.total_out);
  deflateEnd(&z);
  out.clear();
  ASSERT_TRUE(decode("deflate", raw, &out, &err, 100)) << err;
  EXPECT_EQ(out, src);
}

TEST(ContentCoding, ErrorsAreSticky) {
  auto d = ContentDecoder::create("gzip");
  std::string out;
  EXPECT_FALSE(d->feed("garbage!", 8, &out));
  std::string good = encode_content("x", {Coding::kGzip});
  EXPECT_FALSE(d->feed(good.data(), good.size(), &out));
  EXPECT_FALSE(d->finish());
  EXPECT_FALSE(d->error().empty());
}

}  // namespace
}  // namespace herd::http
