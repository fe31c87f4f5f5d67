#pragma once
// `openssl s_server -WWW` serving a folder over TLS on 127.0.0.1: a real TLS
// peer for remote-module and TLS-option tests.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace herd::it {

/// `openssl s_server -WWW` on 127.0.0.1:`port`, serving `dir` with the
/// certificate and key files named (relative to `dir`) and `extra` arguments
/// (e.g. -Verify 1, -tls1_2, -status_file F). Stopped on destruction.
class OpensslServer {
 public:
  OpensslServer(const std::string& dir, std::uint16_t port, const std::string& cert, const std::string& key,
                const std::vector<std::string>& extra = {}) {
    pid_ = fork();
    if (pid_ == 0) {
      if (chdir(dir.c_str()) != 0) _exit(127);
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      std::vector<std::string> args = {"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port),
                                       "-cert",   cert,       "-key",    key,
                                       "-WWW",    "-quiet"};
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("openssl", argv.data());
      _exit(127);
    }
    // Wait until it accepts connections.
    for (int i = 0; i < 100 && !ok_; i++) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ok_ = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      close(fd);
      if (!ok_) usleep(50'000);
    }
  }
  ~OpensslServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  OpensslServer(const OpensslServer&) = delete;
  OpensslServer& operator=(const OpensslServer&) = delete;
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
  pid_t pid_ = -1;
};

/// Makes a self-signed certificate for 127.0.0.1 in `dir` (cert.pem, key.pem;
/// the client trusts it through SSL_CERT_FILE = <dir>/cert.pem). True on success.
inline bool make_self_signed_cert(const std::string& dir) {
  std::string cmd = "cd '" + dir +
                    "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem "
                    "-days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

/// An OpensslServer with a self-signed certificate made in `dir` first.
class TlsFileServer {
 public:
  TlsFileServer(const std::string& dir, std::uint16_t port) : cert_ok_(make_self_signed_cert(dir)) {
    if (cert_ok_) server_ = std::make_unique<OpensslServer>(dir, port, "cert.pem", "key.pem");
  }
  bool ok() const { return cert_ok_ && server_ && server_->ok(); }

 private:
  bool cert_ok_;
  std::unique_ptr<OpensslServer> server_;
};

}  // namespace herd::it
