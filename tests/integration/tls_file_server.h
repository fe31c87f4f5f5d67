#pragma once
// `openssl s_server -WWW` serving a folder over TLS on 127.0.0.1: a real TLS
// peer for remote-module tests (the client trusts it through SSL_CERT_FILE =
// <dir>/cert.pem, a self-signed certificate made here).
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace herd::it {

/// `openssl s_server -WWW` serving the test's folder over TLS on 127.0.0.1 (a real TLS peer).
class TlsFileServer {
 public:
  TlsFileServer(const std::string& dir, std::uint16_t port) {
    std::string cmd = "cd '" + dir +
                      "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem "
                      "-days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1";
    ok_ = std::system(cmd.c_str()) == 0;
    if (!ok_) return;
    pid_ = fork();
    if (pid_ == 0) {
      if (chdir(dir.c_str()) != 0) _exit(127);
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      std::string accept = "127.0.0.1:" + std::to_string(port);
      execlp("openssl", "openssl", "s_server", "-accept", accept.c_str(), "-cert", "cert.pem", "-key", "key.pem",
             "-WWW", "-quiet", static_cast<char*>(nullptr));
      _exit(127);
    }
    // Wait until it accepts connections.
    for (int i = 0; i < 100; i++) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      bool up = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      close(fd);
      if (up) return;
      usleep(50'000);
    }
    ok_ = false;
  }
  ~TlsFileServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
  pid_t pid_ = -1;
};

}  // namespace herd::it
