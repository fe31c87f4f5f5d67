#include "http/content_coding.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <stdexcept>

#include "util/ascii.h"

namespace herd::http {

namespace {

constexpr std::size_t kChunk = 16 * 1024;

}  // namespace

struct ContentDecoder::Stage {
  virtual ~Stage() = default;
  /// Decodes `len` bytes into *out (total size at most max). False with *err on error.
  virtual bool run(const char* in, std::size_t len, std::string* out, std::string* err) = 0;
  /// True when the stream reached its end (a complete body).
  virtual bool ended() const = 0;

  std::size_t max = 0;       ///< output allowed in total, bytes
  std::size_t produced = 0;  ///< output so far, bytes

 protected:
  // Grows *out by up to kChunk bytes within the budget: the writable tail (*avail bytes, 0 when spent).
  char* grow(std::string* out, std::size_t* avail) {
    std::size_t old = out->size();
    *avail = std::min(kChunk, max - produced);
    out->resize(old + *avail);
    return out->data() + old;
  }
  // Keeps `used` of the `avail` bytes grow() added.
  void keep(std::string* out, std::size_t avail, std::size_t used) {
    out->resize(out->size() - avail + used);
    produced += used;
  }
};

namespace {

const char* kTooLarge = "decompressed body larger than the limit";

class ZlibStage : public ContentDecoder::Stage {
 public:
  explicit ZlibStage(Coding c) : coding_(c) {}
  ~ZlibStage() override {
    if (init_) inflateEnd(&z_);
  }
  bool run(const char* in, std::size_t len, std::string* out, std::string* err) override {
    const char* name = coding_ == Coding::kGzip ? "gzip" : "zlib";
    if (len == 0) return true;
    if (!init_) {
      // deflate: the zlib format (RFC 1950) as k6 expects, or a raw deflate stream as some servers send
      int bits = 15 + 16;
      if (coding_ == Coding::kDeflate) {
        auto b0 = static_cast<unsigned char>(in[0]);
        bool zlib_header = (b0 & 0x0f) == 8 && (len < 2 || ((b0 << 8) | static_cast<unsigned char>(in[1])) % 31 == 0);
        bits = zlib_header ? 15 : -15;
      }
      if (inflateInit2(&z_, bits) != Z_OK) return (*err = std::string(name) + ": out of memory", false);
      init_ = true;
    }
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
    z_.avail_in = static_cast<uInt>(len);
    while (z_.avail_in > 0 || pending_) {
      if (ended_) {
        // gzip allows several members one after another; trailing bytes after zlib/deflate are ignored
        if (coding_ != Coding::kGzip) return true;
        inflateReset(&z_);
        ended_ = false;
      }
      std::size_t avail = 0;
      char* p = grow(out, &avail);
      if (avail == 0) return (*err = kTooLarge, false);
      z_.next_out = reinterpret_cast<Bytef*>(p);
      z_.avail_out = static_cast<uInt>(avail);
      int rc = inflate(&z_, Z_NO_FLUSH);
      keep(out, avail, avail - z_.avail_out);
      pending_ = z_.avail_out == 0;  // output space ran out: more may be waiting
      if (rc == Z_STREAM_END) {
        ended_ = true;
        pending_ = false;
        continue;
      }
      if (rc == Z_BUF_ERROR) break;  // needs more input
      if (rc != Z_OK) {
        *err = std::string(name) + ": " + (z_.msg ? z_.msg : "invalid stream");
        return false;
      }
    }
    return true;
  }
  bool ended() const override { return ended_ || !init_; }

 private:
  Coding coding_;
  z_stream z_{};
  bool init_ = false;
  bool ended_ = false;
  bool pending_ = false;
};

class BrotliStage : public ContentDecoder::Stage {
 public:
  BrotliStage() : s_(BrotliDecoderCreateInstance(nullptr, nullptr, nullptr)) {}
  ~BrotliStage() override {
    if (s_) BrotliDecoderDestroyInstance(s_);
  }
  bool run(const char* in, std::size_t len, std::string* out, std::string* err) override {
    if (!s_) return (*err = "brotli: out of memory", false);
    if (len > 0) started_ = true;
    auto* next_in = reinterpret_cast<const uint8_t*>(in);
    std::size_t avail_in = len;
    while (!ended_) {
      std::size_t avail = 0;
      char* p = grow(out, &avail);
      auto* next_out = reinterpret_cast<uint8_t*>(p);
      std::size_t avail_out = avail;
      BrotliDecoderResult rc = BrotliDecoderDecompressStream(s_, &avail_in, &next_in, &avail_out, &next_out, nullptr);
      keep(out, avail, avail - avail_out);
      if (rc == BROTLI_DECODER_RESULT_SUCCESS) {
        ended_ = true;
      } else if (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) {
        break;
      } else if (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
        if (avail == 0) return (*err = kTooLarge, false);
      } else {
        *err = std::string("brotli: ") + BrotliDecoderErrorString(BrotliDecoderGetErrorCode(s_));
        return false;
      }
    }
    return true;
  }
  bool ended() const override { return ended_ || !started_; }

 private:
  BrotliDecoderState* s_;
  bool ended_ = false;
  bool started_ = false;
};

class ZstdStage : public ContentDecoder::Stage {
 public:
  ZstdStage() : d_(ZSTD_createDCtx()) {
    // Bound the window a frame may ask for (8 MiB is what common encoders use for streaming).
    if (d_) ZSTD_DCtx_setParameter(d_, ZSTD_d_windowLogMax, 24);
  }
  ~ZstdStage() override { ZSTD_freeDCtx(d_); }
  bool run(const char* in, std::size_t len, std::string* out, std::string* err) override {
    if (!d_) return (*err = "zstd: out of memory", false);
    ZSTD_inBuffer ib{in, len, 0};
    while (ib.pos < ib.size || pending_) {
      std::size_t avail = 0;
      char* p = grow(out, &avail);
      if (avail == 0) return (*err = kTooLarge, false);
      ZSTD_outBuffer ob{p, avail, 0};
      std::size_t rc = ZSTD_decompressStream(d_, &ob, &ib);
      keep(out, avail, ob.pos);
      if (ZSTD_isError(rc)) {
        *err = std::string("zstd: ") + ZSTD_getErrorName(rc);
        return false;
      }
      if (rc == 0) {  // a frame is complete and flushed (another may follow)
        frame_open_ = pending_ = false;
        continue;
      }
      frame_open_ = true;
      pending_ = ob.pos == ob.size;
      if (!pending_ && ib.pos == ib.size) break;
    }
    return true;
  }
  bool ended() const override { return !frame_open_; }

 private:
  ZSTD_DCtx* d_;
  bool frame_open_ = false;
  bool pending_ = false;
};

std::unique_ptr<ContentDecoder::Stage> make_stage(Coding c) {
  switch (c) {
    case Coding::kGzip:
    case Coding::kDeflate:
      return std::make_unique<ZlibStage>(c);
    case Coding::kBr:
      return std::make_unique<BrotliStage>();
    case Coding::kZstd:
      return std::make_unique<ZstdStage>();
  }
  return nullptr;
}

}  // namespace

bool parse_coding(std::string_view name, Coding* out) {
  name = util::trim_ows(name);
  if (util::iequals(name, "gzip") || util::iequals(name, "x-gzip"))
    *out = Coding::kGzip;
  else if (util::iequals(name, "deflate"))
    *out = Coding::kDeflate;
  else if (util::iequals(name, "br"))
    *out = Coding::kBr;
  else if (util::iequals(name, "zstd"))
    *out = Coding::kZstd;
  else
    return false;
  return true;
}

const char* coding_name(Coding c) {
  switch (c) {
    case Coding::kGzip:
      return "gzip";
    case Coding::kDeflate:
      return "deflate";
    case Coding::kBr:
      return "br";
    case Coding::kZstd:
      return "zstd";
  }
  return "";
}

std::unique_ptr<ContentDecoder> ContentDecoder::create(std::string_view content_encoding, std::size_t max_output) {
  std::vector<Coding> codings;
  while (!content_encoding.empty()) {
    std::size_t comma = content_encoding.find(',');
    Coding c;
    if (parse_coding(content_encoding.substr(0, comma), &c)) codings.push_back(c);
    if (comma == std::string_view::npos) break;
    content_encoding.remove_prefix(comma + 1);
  }
  if (codings.empty()) return nullptr;
  std::unique_ptr<ContentDecoder> d(new ContentDecoder());
  for (auto it = codings.rbegin(); it != codings.rend(); ++it) {
    d->stages_.push_back(make_stage(*it));
    d->stages_.back()->max = max_output;
  }
  d->scratch_.resize(d->stages_.size() - 1);
  return d;
}

ContentDecoder::~ContentDecoder() = default;

bool ContentDecoder::fail(const std::string& what) {
  error_ = "error decompressing response body (" + what + ")";
  stages_.clear();
  return false;
}

bool ContentDecoder::feed(const char* data, std::size_t len, std::string* out) {
  if (!error_.empty()) return false;
  std::string err;
  for (std::size_t i = 0; i < stages_.size(); i++) {
    bool last = i + 1 == stages_.size();
    std::string* dst = last ? out : &scratch_[i];
    if (!last) dst->clear();
    if (!stages_[i]->run(data, len, dst, &err)) return fail(err);
    data = dst->data();
    len = dst->size();
  }
  return true;
}

bool ContentDecoder::finish() {
  if (!error_.empty()) return false;
  for (auto& s : stages_)
    if (!s->ended()) return fail("unexpected EOF");
  return true;
}

std::string encode_content(const std::string& body, const std::vector<Coding>& codings) {
  std::string cur = body;
  for (Coding c : codings) {
    std::string next;
    switch (c) {
      case Coding::kGzip:
      case Coding::kDeflate: {
        z_stream z{};
        if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, c == Coding::kGzip ? 15 + 16 : 15, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK)
          throw std::runtime_error("deflateInit2 failed");
        next.resize(deflateBound(&z, cur.size()) + 32);
        z.next_in = reinterpret_cast<Bytef*>(cur.data());
        z.avail_in = static_cast<uInt>(cur.size());
        z.next_out = reinterpret_cast<Bytef*>(next.data());
        z.avail_out = static_cast<uInt>(next.size());
        int rc = deflate(&z, Z_FINISH);
        next.resize(z.total_out);
        deflateEnd(&z);
        if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
        break;
      }
      case Coding::kBr: {
        std::size_t n = BrotliEncoderMaxCompressedSize(cur.size());
        if (n == 0) n = cur.size() + 1024;
        next.resize(n);
        if (!BrotliEncoderCompress(BROTLI_DEFAULT_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, cur.size(),
                                   reinterpret_cast<const uint8_t*>(cur.data()), &n,
                                   reinterpret_cast<uint8_t*>(next.data())))
          throw std::runtime_error("brotli compression failed");
        next.resize(n);
        break;
      }
      case Coding::kZstd: {
        next.resize(ZSTD_compressBound(cur.size()));
        std::size_t n = ZSTD_compress(next.data(), next.size(), cur.data(), cur.size(), 3);
        if (ZSTD_isError(n)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(n));
        next.resize(n);
        break;
      }
    }
    cur = std::move(next);
  }
  return cur;
}

}  // namespace herd::http
