#include "metrics/output_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace herd::metrics {

namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

}  // namespace

std::string unwritable_reason(const std::string& path) {
  if (path.empty()) return "empty path";
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return "is a directory";
    int fd = ::open(path.c_str(), O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return std::strerror(errno);
    FdCloser closer{fd};
    return "";
  }
  if (errno != ENOENT) return std::strerror(errno);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY | O_CLOEXEC, 0644);
  if (fd < 0) return std::strerror(errno);
  FdCloser closer{fd};
  ::unlink(path.c_str());
  return "";
}

void OutputStream::GzCloser::operator()(void* gz) const {
  gzclose(static_cast<gzFile>(gz));
}
void OutputStream::FileCloser::operator()(std::FILE* f) const {
  std::fclose(f);
}

OutputStream::OutputStream(const std::string& dest) : dest_(dest) {
  if (dest == "-") {
    stdout_ = true;
    return;
  }
  if (ends_with(dest, ".gz")) {
    gzFile gz = gzopen(dest.c_str(), "wb");
    if (!gz) throw std::runtime_error("cannot open \"" + dest + "\": " + std::strerror(errno ? errno : ENOMEM));
    gz_.reset(gz);
    return;
  }
  std::FILE* f = std::fopen(dest.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot open \"" + dest + "\": " + std::strerror(errno));
  file_.reset(f);
}

OutputStream::~OutputStream() = default;
OutputStream::OutputStream(OutputStream&&) noexcept = default;
OutputStream& OutputStream::operator=(OutputStream&&) noexcept = default;

void OutputStream::write(std::string_view data) {
  if (data.empty()) return;
  if (gz_) {
    auto* gz = static_cast<gzFile>(gz_.get());
    while (!data.empty()) {
      unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(data.size(), 1u << 30));
      int n = gzwrite(gz, data.data(), chunk);
      if (n <= 0) {
        int err = 0;
        const char* msg = gzerror(gz, &err);
        throw std::runtime_error("cannot write \"" + dest_ + "\": " + (msg ? msg : "gzip error"));
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return;
  }
  std::FILE* f = stdout_ ? stdout : file_.get();
  if (!f) throw std::runtime_error("cannot write \"" + dest_ + "\": already closed");
  if (std::fwrite(data.data(), 1, data.size(), f) != data.size()) {
    throw std::runtime_error("cannot write \"" + dest_ + "\": " + std::strerror(errno));
  }
}

void OutputStream::flush() {
  if (gz_) {
    if (gzflush(static_cast<gzFile>(gz_.get()), Z_SYNC_FLUSH) != Z_OK) {
      int err = 0;
      const char* msg = gzerror(static_cast<gzFile>(gz_.get()), &err);
      throw std::runtime_error("cannot write \"" + dest_ + "\": " + (msg ? msg : "gzip error"));
    }
    return;
  }
  std::FILE* f = stdout_ ? stdout : file_.get();
  if (f && std::fflush(f) != 0) throw std::runtime_error("cannot write \"" + dest_ + "\": " + std::strerror(errno));
}

void OutputStream::close() {
  if (gz_) {
    int rc = gzclose(static_cast<gzFile>(gz_.release()));
    if (rc != Z_OK)
      throw std::runtime_error("cannot write \"" + dest_ +
                               "\": " + (rc == Z_ERRNO ? std::strerror(errno) : "gzip error " + std::to_string(rc)));
    return;
  }
  if (stdout_) {
    flush();
    return;
  }
  if (std::FILE* f = file_.release(); f && std::fclose(f) != 0)
    throw std::runtime_error("cannot write \"" + dest_ + "\": " + std::strerror(errno));
}

}  // namespace herd::metrics
