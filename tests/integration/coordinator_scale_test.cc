// The coordinator at scale (issue #17): `herd coordinator` against hundreds
// of simulated runners (herd-sim-runners: one process, one loopback port per
// runner, real wire-format snapshots). Every runner is started and released,
// and the merged totals equal exactly what the runners served, in the binary
// form (merged one runner at a time, tag sets shared) and in JSON (runners
// older than the binary form). 300 runners: above 200, where status checks
// between merge rounds space out (status_check_gap).
#include <thread>

#include "harness.h"

namespace herd::it {
namespace {

class CoordinatorScaleTest : public HerdTest {
 protected:
  void run_against_sim(std::size_t runners, bool json_only) {
    RunSpec sim;
    sim.args = {
        "--runners", std::to_string(runners), "--duration",      "3s",       "--templates",           "4", "--requests",
        "2000",      "--addresses",           dir_.file("addr"), "--expect", dir_.file("expect.json")};
    if (json_only) sim.args.push_back("--json-only");
    sim.timeout = 120s;
    BackgroundRun sim_run([&] { return run_process(HERD_SIM_BINARY, sim); });
    // The address list is written whole, then its newline.
    std::string addr;
    for (auto until = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < until;) {
      addr = dir_.read("addr");
      if (!addr.empty() && addr.back() == '\n') break;
      std::this_thread::sleep_for(50ms);
    }
    ASSERT_FALSE(addr.empty()) << "herd-sim-runners did not start";
    addr.pop_back();
    dir_.write("s.js", "export default function () {}\n");
    RunSpec c;
    c.args = {"coordinator",  "--runners",        addr,           "--script",        "s.js",
              "--no-summary", "--summary-export", "summary.json", "--ready-timeout", "60s"};
    c.timeout = 120s;
    ProcResult res = run_spec(c);
    const ProcResult& s = sim_run.wait();
    ASSERT_EQ(res.exit_code, 0) << res;
    ASSERT_EQ(s.exit_code, 0) << s;
    EXPECT_NE(s.err.find("done, " + std::to_string(runners) + " of " + std::to_string(runners) + " runners released"),
              std::string::npos)
        << s;
    json want = json::parse(dir_.read("expect.json"));
    json got = json::parse(dir_.read("summary.json")).at("metrics");
    EXPECT_EQ(got["http_reqs"]["count"].get<double>(), want["http_reqs"].get<double>());
    EXPECT_EQ(got["iterations"]["count"].get<double>(), want["iterations"].get<double>());
    EXPECT_EQ(got["data_sent"]["count"].get<double>(), want["data_sent"].get<double>());
    EXPECT_EQ(got["data_received"]["count"].get<double>(), want["data_received"].get<double>());
    EXPECT_EQ(got["checks"]["passes"].get<double>(), want["checks_passes"].get<double>());
    EXPECT_EQ(got["checks"]["passes"].get<double>() + got["checks"]["fails"].get<double>(),
              want["checks_total"].get<double>());
    EXPECT_EQ(got["http_req_duration"]["min"].get<double>(), want["http_req_duration_min"].get<double>());
    EXPECT_EQ(got["http_req_duration"]["max"].get<double>(), want["http_req_duration_max"].get<double>());
  }
};

TEST_F(CoordinatorScaleTest, ThreeHundredRunnersInTheBinaryFormGiveExactTotals) {
  run_against_sim(300, false);
}

TEST_F(CoordinatorScaleTest, RunnersWithoutTheBinaryFormStillGiveExactTotals) {
  run_against_sim(120, true);
}

}  // namespace
}  // namespace herd::it
