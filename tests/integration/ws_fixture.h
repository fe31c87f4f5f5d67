#pragma once
// The WebSocket tests' fixture: a real WebSocket server on loopback (Debian's
// python3-websockets, tests/integration/ws_server.py) and, on demand, the
// loopback DNS server tests/integration/dns_server.py.
#include <fcntl.h>
#include <sys/wait.h>

#include <thread>

#include "harness.h"

namespace herd::it {

class WsTest : public HerdTest {
 protected:
  static constexpr const char* kPython = "/usr/bin/python3";

  void SetUp() override {
    HerdTest::SetUp();
    int probe = std::system("/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1");
    if (probe != 0) {
      const char* ci = std::getenv("CI");
      if (ci && std::string(ci) == "true") FAIL() << "python3-websockets is missing (apt install python3-websockets)";
      GTEST_SKIP() << "python3-websockets is missing";
    }
    std::string port;
    pid_ = start_python("ws_server.py", {}, "ws-port", "ws-server.log", &port);
    ASSERT_GT(pid_, 0) << "the WebSocket server did not start: " << dir_.read("ws-server.log");
    ws_port_ = port;
    ws_base_ = "ws://127.0.0.1:" + port;
  }
  void TearDown() override {
    for (pid_t p : {pid_, dns_pid_}) {
      if (p > 0) {
        kill(p, SIGKILL);
        waitpid(p, nullptr, 0);
      }
    }
    HerdTest::TearDown();
  }
  /// Starts tests/integration/`script` with a port file (then `args`); waits (bounded) for the port. -1 on failure.
  pid_t start_python(const std::string& script, const std::vector<std::string>& args, const std::string& port_name,
                     const std::string& log_name, std::string* port) {
    std::string port_file = dir_.path() + "/" + port_name;
    std::string log = dir_.path() + "/" + log_name;
    std::string path = std::string(HERD_SOURCE_DIR) + "/tests/integration/" + script;
    std::vector<std::string> argv = {kPython, path, port_file};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      execv(kPython, cargv.data());
      _exit(127);
    }
    for (int i = 0; i < 200 && !dir_.exists(port_name); ++i) std::this_thread::sleep_for(50ms);
    if (!dir_.exists(port_name)) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return -1;
    }
    *port = dir_.read(port_name);
    return pid;
  }
  /// Starts the loopback DNS server (dns_server.py); its port is dns_port_.
  void start_dns(int release_after = 10) {
    std::string port;
    dns_pid_ = start_python("dns_server.py", {std::to_string(release_after)}, "dns-port", "dns-server.log", &port);
    ASSERT_GT(dns_pid_, 0) << "the DNS server did not start: " << dir_.read("dns-server.log");
    dns_port_ = port;
  }
  std::string dns_log() { return dir_.read("dns-server.log"); }
  /// Runs `script` with WS_URL set; returns the summary export.
  json run_ws(const std::string& script, ProcResult* r, std::vector<std::string> args = {},
              std::map<std::string, std::string> env = {}) {
    env.emplace("WS_URL", ws_base_);
    env.emplace("WS_PORT", ws_port_);
    return run_export(script, r, std::move(args), std::move(env));
  }
  static double count(const json& exp, const std::string& m) { return metric_value(exp, m, "count"); }

  pid_t pid_ = -1;
  pid_t dns_pid_ = -1;
  std::string ws_base_, ws_port_, dns_port_;
};

}  // namespace herd::it
