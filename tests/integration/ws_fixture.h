#pragma once
// The WebSocket tests' fixture: a real WebSocket server on loopback (Debian's
// python3-websockets, tests/integration/ws_server.py) and, on demand, the
// loopback DNS server tests/integration/dns_server.py.
#include <fcntl.h>
#include <sys/wait.h>

#include <thread>

#include "harness.h"

namespace herd::it {

/// A test that starts helper servers of tests/integration/ (python3 scripts
/// writing their port to a file); every server started is killed in TearDown.
class PythonServerTest : public HerdTest {
 protected:
  static constexpr const char* kPython = "/usr/bin/python3";

  void TearDown() override {
    for (pid_t p : servers_) {
      kill(p, SIGKILL);
      waitpid(p, nullptr, 0);
    }
    servers_.clear();
    HerdTest::TearDown();
  }
  /// Skips the test when Debian's python3-websockets is missing (fails it under CI=true).
  static void require_python_websockets() {
    if (std::system("/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1") == 0) return;
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") FAIL() << "python3-websockets is missing (apt install python3-websockets)";
    GTEST_SKIP() << "python3-websockets is missing";
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
    servers_.push_back(pid);
    *port = dir_.read(port_name);
    return pid;
  }

 private:
  std::vector<pid_t> servers_;
};

class WsTest : public PythonServerTest {
 protected:
  void SetUp() override {
    PythonServerTest::SetUp();
    require_python_websockets();
    if (HasFatalFailure() || IsSkipped()) return;
    std::string port;
    ASSERT_GT(start_python("ws_server.py", {}, "ws-port", "ws-server.log", &port), 0)
        << "the WebSocket server did not start: " << dir_.read("ws-server.log");
    ws_port_ = port;
    ws_base_ = "ws://127.0.0.1:" + port;
  }
  /// Starts the loopback DNS server (dns_server.py); its port is dns_port_.
  void start_dns(int release_after = 10) {
    std::string port;
    ASSERT_GT(start_python("dns_server.py", {std::to_string(release_after)}, "dns-port", "dns-server.log", &port), 0)
        << "the DNS server did not start: " << dir_.read("dns-server.log");
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

  std::string ws_base_, ws_port_, dns_port_;
};

}  // namespace herd::it
