// --out influxdb against Debian's InfluxDB 1.x server (influxd), started by
// the test on loopback ports with a temp data dir: the points of http_reqs
// equal the summary's count (one process, and --parallelism 2 where each
// runner writes its own points), hostile tags survive the line protocol, and
// a server that refuses or never answers costs points, never the test.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include "harness.h"

namespace herd::it {
namespace {

/// A body in HTTP/1.1 chunked transfer coding, decoded (influxd answers /query so).
std::string dechunk(const std::string& body) {
  std::string out;
  std::size_t p = 0;
  while (p < body.size()) {
    std::size_t eol = body.find("\r\n", p);
    if (eol == std::string::npos) return body;
    std::size_t n = std::strtoul(body.substr(p, eol - p).c_str(), nullptr, 16);
    if (n == 0) break;
    out += body.substr(eol + 2, n);
    p = eol + 2 + n + 2;
  }
  return out;
}

/// influxd on 127.0.0.1 (HTTP and RPC on free ports), data under a temp dir;
/// stopped (SIGTERM, then SIGKILL) on destruction.
class Influxd {
 public:
  Influxd() {
    if (access("/usr/bin/influxd", X_OK) != 0) {
      error_ = "/usr/bin/influxd not found (Debian package influxdb; scripts/install-deps.sh)";
      return;
    }
    port_ = closed_port();
    std::uint16_t rpc = closed_port();
    std::string conf =
        "reporting-disabled = true\nbind-address = \"127.0.0.1:" + std::to_string(rpc) + "\"\n[meta]\n  dir = \"" +
        dir_.file("meta") + "\"\n[data]\n  dir = \"" + dir_.file("data") + "\"\n  wal-dir = \"" + dir_.file("wal") +
        "\"\n  query-log-enabled = false\n[http]\n  bind-address = \"127.0.0.1:" + std::to_string(port_) +
        "\"\n  log-enabled = false\n[monitor]\n  store-enabled = false\n[continuous_queries]\n"
        "  enabled = false\n";
    std::string conf_path = dir_.write("influxd.conf", conf);
    std::string log_path = dir_.file("influxd.log");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<std::string> args = {"/usr/bin/influxd", "-config", conf_path};
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      error_ = std::string("cannot start influxd: ") + std::strerror(rc);
      return;
    }
    auto deadline = std::chrono::steady_clock::now() + 30s;
    std::string body;
    while (std::chrono::steady_clock::now() < deadline) {
      if (http_call(port_, "GET", "/ping", "", &body) == 204) return;
      std::this_thread::sleep_for(100ms);
    }
    error_ = "influxd did not answer /ping within 30 s:\n" + dir_.read("influxd.log");
  }
  ~Influxd() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(50ms);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  Influxd(const Influxd&) = delete;
  Influxd& operator=(const Influxd&) = delete;

  const std::string& error() const { return error_; }
  std::string url(const std::string& db) const { return "http://127.0.0.1:" + std::to_string(port_) + "/" + db; }
  /// The first statement's result of an InfluxQL query.
  json query(const std::string& db, const std::string& q) const {
    std::string body;
    int status = http_call(port_, "GET", "/query?db=" + url_encode(db) + "&q=" + url_encode(q), "", &body);
    if (status != 200) return json{{"status", status}, {"body", body}};
    try {
      return json::parse(dechunk(body))["results"][0];
    } catch (...) {
      return json{{"body", body}};
    }
  }
  /// `SELECT count(value) FROM measurement` summed over every series; -1 when none.
  long count(const std::string& db, const std::string& measurement) const {
    json r = query(db, "SELECT count(value) FROM \"" + measurement + "\"");
    if (!r.contains("series")) return -1;
    return r["series"][0]["values"][0][1].get<long>();
  }

 private:
  TempDir dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::string error_;
};

#define START_INFLUXD(name)                                        \
  Influxd name;                                                    \
  if (!(name).error().empty()) {                                   \
    const char* ci = std::getenv("CI");                            \
    if (ci && std::string(ci) == "true") FAIL() << (name).error(); \
    GTEST_SKIP() << (name).error();                                \
  }

using InfluxDbTest = HerdTest;

const char* const kLoad = R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: 4, iterations: 400 };
export default function () {
  check(http.get(__ENV.BASE_URL + '/'), { ok: (r) => r.status === 200 });
}
)JS";

TEST_F(InfluxDbTest, PointsOfHttpReqsEqualTheSummaryCount) {
  START_INFLUXD(influx);
  ProcResult r;
  json exp = run_export(kLoad, &r, {"-q", "--out", "influxdb=" + influx.url("k6run")});
  ASSERT_EQ(r.exit_code, 0) << r;
  long reqs = static_cast<long>(metric_value(exp, "http_reqs", "count"));
  ASSERT_EQ(reqs, 400);
  // The database did not exist: created as k6 does.
  EXPECT_EQ(influx.count("k6run", "http_reqs"), reqs);
  EXPECT_EQ(influx.count("k6run", "iterations"), static_cast<long>(metric_value(exp, "iterations", "count")));
  EXPECT_EQ(influx.count("k6run", "http_req_duration"), reqs);
  EXPECT_EQ(influx.count("k6run", "checks"), 400);
  // k6's shape: tags stay tags, vu/iter/url become fields, no instance tag on a whole test.
  json keys = influx.query("k6run", "SHOW TAG KEYS FROM http_reqs");
  std::string dump = keys.dump();
  EXPECT_NE(dump.find("\"status\""), std::string::npos) << dump;
  EXPECT_NE(dump.find("\"scenario\""), std::string::npos) << dump;
  EXPECT_EQ(dump.find("\"url\""), std::string::npos) << dump;
  EXPECT_EQ(dump.find("\"instance\""), std::string::npos) << dump;
  std::string fields = influx.query("k6run", "SHOW FIELD KEYS FROM http_reqs").dump();
  EXPECT_NE(fields.find("\"url\""), std::string::npos) << fields;
  EXPECT_TRUE(log_messages(r.err, "warning").empty()) << r;
}

// The coordinator has merged snapshots only: each runner writes its own
// points, tagged instance=<its execution segment>; the counts add up.
TEST_F(InfluxDbTest, ParallelRunnersEachWriteTheirPoints) {
  START_INFLUXD(influx);
  ProcResult r;
  json exp = run_export(kLoad, &r, {"-q", "--parallelism", "2", "--out", "influxdb=" + influx.url("dist")});
  ASSERT_EQ(r.exit_code, 0) << r;
  long reqs = static_cast<long>(metric_value(exp, "http_reqs", "count"));
  ASSERT_EQ(reqs, 400);
  EXPECT_EQ(influx.count("dist", "http_reqs"), reqs);
  json inst = influx.query("dist", "SHOW TAG VALUES FROM http_reqs WITH KEY = \"instance\"");
  EXPECT_EQ(inst.dump().find("1/2:1") != std::string::npos && inst.dump().find("0:1/2") != std::string::npos, true)
      << inst;
  // From K6_OUT (the runners read it themselves) the same.
  ProcResult r2;
  json exp2 = run_export(kLoad, &r2, {"-q", "--parallelism", "2"}, {{"K6_OUT", "influxdb=" + influx.url("dist2")}});
  ASSERT_EQ(r2.exit_code, 0) << r2;
  EXPECT_EQ(influx.count("dist2", "http_reqs"), static_cast<long>(metric_value(exp2, "http_reqs", "count")));
}

// Tag keys and values a script can choose, read back through InfluxQL.
TEST_F(InfluxDbTest, HostileTagsSurviveTheLineProtocol) {
  START_INFLUXD(influx);
  const char* script = R"JS(
import { Counter } from 'k6/metrics';
const c = new Counter('hostile');
export const options = { iterations: 1 };
export default function () {
  c.add(1, { t: 'a,b c=d', 'k ey,=': 'v', q: 'say "hi"', nl: 'one\ntwo', bs: 'x\\y', bsc: 'x\\,y', end: 'z\\' });
  c.add(2, { iter: 'not a number', vu: '7' });
}
)JS";
  ProcResult r = run_script(script, {"-q", "--out", "influxdb=" + influx.url("hostile")},
                            {{"K6_INFLUXDB_TAGS_AS_FIELDS", "vu:int,iter:int"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  json res = influx.query("hostile", "SELECT * FROM hostile");
  ASSERT_TRUE(res.contains("series")) << res;
  const json& s = res["series"][0];
  std::map<std::string, std::size_t> col;
  for (std::size_t i = 0; i < s["columns"].size(); ++i) col[s["columns"][i].get<std::string>()] = i;
  ASSERT_EQ(s["values"].size(), 2u) << s;
  const json* first = nullptr;
  const json* second = nullptr;
  for (const auto& row : s["values"]) (row[col.at("value")].get<double>() == 1 ? first : second) = &row;
  ASSERT_TRUE(first && second) << s;
  EXPECT_EQ((*first)[col.at("t")], "a,b c=d");
  ASSERT_TRUE(col.count("k ey,=")) << s["columns"];
  EXPECT_EQ((*first)[col.at("k ey,=")], "v");
  EXPECT_EQ((*first)[col.at("q")], "say \"hi\"");
  EXPECT_EQ((*first)[col.at("nl")], "one\\ntwo");  // a newline cannot be carried: a backslash and an n
  EXPECT_EQ((*first)[col.at("bs")], "x\\y");
  EXPECT_EQ((*first)[col.at("bsc")], "x\\\\,y");  // one more backslash before an escaped byte
  EXPECT_EQ((*first)[col.at("end")], "z");        // trailing backslashes: InfluxDB rejects them
  // vu:int typed; iter:int that does not convert stays a string (as k6).
  EXPECT_EQ((*second)[col.at("vu")], 7);
  EXPECT_EQ((*second)[col.at("iter")], "not a number");
}

// Nothing listens: every write is refused. The test runs, exits 0, and says
// how many points it could not write.
TEST_F(InfluxDbTest, RefusedServerCostsPointsNotTheTest) {
  RefusingPort refusing;
  ProcResult r = run_script(kLoad, {"--out", "influxdb=http://127.0.0.1:" + std::to_string(refusing.port()) + "/k6"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(served(), 400u);
  std::string warnings;
  for (const auto& m : log_messages(r.err, "warning")) warnings += m + "\n";
  EXPECT_NE(warnings.find("points were not written to InfluxDB"), std::string::npos) << r;
  EXPECT_NE(warnings.find("Couldn't connect"), std::string::npos) << r;
}

// A server that takes the connection and never answers: the test is not
// held up beyond the output's bounded end (request and finish timeouts).
TEST_F(InfluxDbTest, HungServerIsAbandonedAtTheEnd) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 64), 0);  // never accept()ed: connections wait in the backlog
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  auto t0 = std::chrono::steady_clock::now();
  ProcResult r = run_script(kLoad, {"--out", "influxdb=http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/k6"});
  auto took = std::chrono::steady_clock::now() - t0;
  close(fd);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(served(), 400u);
  EXPECT_LT(took, 35s);
  std::string warnings;
  for (const auto& m : log_messages(r.err, "warning")) warnings += m + "\n";
  EXPECT_NE(warnings.find("points were not written to InfluxDB"), std::string::npos) << r;
}

TEST_F(InfluxDbTest, BadSettingsAreRefusedBeforeTheTest) {
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string message;
  };
  for (const Case& c : {
           Case{{"--out", "influxdb=http://127.0.0.1:1/k6?bogus=1"}, {}, "unknown query parameter: bogus"},
           Case{{"--out", "influxdb=udp://127.0.0.1:8089"}, {}, "udp:// is not supported"},
           Case{{"--out", "influxdb"}, {{"K6_INFLUXDB_PUSH_INTERVAL", "soon"}}, "K6_INFLUXDB_PUSH_INTERVAL"},
           Case{{"--out", "influxdb"}, {{"K6_INFLUXDB_TOKEN", "t"}}, "K6_INFLUXDB_TOKEN is a setting of InfluxDB v2"},
           Case{{"--parallelism", "2", "--out", "influxdb"},
                {{"K6_INFLUXDB_CONCURRENT_WRITES", "0"}},
                "K6_INFLUXDB_CONCURRENT_WRITES"},
       }) {
    ProcResult r = run_script(kLoad, c.args, c.env);
    EXPECT_EQ(r.exit_code, 104) << c.message << "\n" << r;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r;
  }
  // `herd coordinator` has no samples and cannot hand an --out to runners it did not start.
  dir_.write("script.js", kLoad);
  RunSpec spec;
  spec.args = {"coordinator", "--runners", "127.0.0.1:1", "--out", "influxdb=http://127.0.0.1:1/k6",
               "--script",    "script.js"};
  ProcResult r = run_spec(spec);
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("start each runner with this --out"), std::string::npos) << r;
  EXPECT_EQ(served(), 0u);
}

}  // namespace
}  // namespace herd::it
