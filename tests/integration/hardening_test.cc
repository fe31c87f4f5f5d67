// k6/http through the real `herd run` binary against misbehaving servers on
// loopback (issue #12): oversized responses fail their request, not the
// process; 100,000 response headers are read in linear time.
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>

#include "harness.h"
#include "http/raw_server_testing.h"

namespace herd::it {
namespace {

using http::testing::RawServer;
using http::testing::read_request;
using http::testing::write_all;
using Stop = const std::atomic<bool>&;

using HardeningTest = HerdTest;

// Serves /header (an endless header line), /chunked (an endless chunked body)
// and /fixed?n (a 2 MiB Content-Length body), keeping connections alive.
void misbehave(int fd, int, Stop stop) {
  std::string buf, req;
  while (read_request(fd, buf, &req, stop)) {
    if (req.find(" /header") != std::string::npos) {
      if (!write_all(fd, "HTTP/1.1 200 OK\r\nX-Endless: ", stop)) return;
      std::string filler(16384, 'a');
      while (write_all(fd, filler, stop)) {
      }
      return;
    }
    if (req.find(" /chunked") != std::string::npos) {
      if (!write_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", stop)) return;
      std::string chunk = "4000\r\n" + std::string(0x4000, 'b') + "\r\n";
      while (write_all(fd, chunk, stop)) {
      }
      return;
    }
    const std::size_t size = 2 << 20;
    if (!write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n", stop)) return;
    if (!write_all(fd, std::string(size, 'c'), stop)) return;
  }
}

TEST_F(HardeningTest, OversizedResponsesFailTheirRequestNotTheProcess) {
  RawServer srv(misbehave);
  ASSERT_TRUE(srv.listening());
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1, maxResponseBodyBytes: 1048576 };
const R = __ENV.RAW_URL;
export default function () {
  const h = http.get(`${R}/header`);
  check(h, { 'endless header: 1000': (r) => r.status === 0 && r.error_code === 1000 &&
      r.error.includes('headers exceeded 1048576 bytes') });
  const c = http.get(`${R}/chunked`);
  check(c, { 'endless body: 1000': (r) => r.status === 0 && r.error_code === 1000 &&
      r.error.includes('exceeded 1048576 bytes (maxResponseBodyBytes)') });
  const f = http.get(`${R}/fixed`);
  check(f, { '2 MiB body over the limit fails': (r) => r.error_code === 1000 });
  const n = http.get(`${R}/fixed`, { responseType: 'none' });
  check(n, { 'discarded body is not limited': (r) => r.status === 200 && r.body === null });
}
)JS",
                        &r, {}, {{"RAW_URL", srv.base()}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 4);
}

// Runaway recursion is a clean InternalError in the init context and in every
// iteration, also after a VU gave its init's stack pages back (engine_vu.cc);
// an uncaught one fails only its iteration.
TEST_F(HardeningTest, DeepRecursionIsACleanErrorInInitAndIterations) {
  ProcResult r;
  json exp = run_export(R"JS(
import { check } from 'k6';
function down(n) { return down(n + 1) + 1; }
let initErr = '';
try { down(0); } catch (e) { initErr = String(e); }
export const options = { vus: 3, iterations: 9 };
export default function () {
  let err = '';
  try { down(0); } catch (e) { err = String(e); }
  check(null, {
    'init: stack overflow': () => initErr === 'InternalError: stack overflow',
    'iteration: stack overflow': () => err === 'InternalError: stack overflow',
  });
  if (__ITER === 1) down(0);  // uncaught: this iteration fails, the run goes on
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 18);
  EXPECT_NE(r.err.find("stack overflow"), std::string::npos) << r;
}

TEST_F(HardeningTest, MaxResponseBodyBytesIsValidated) {
  ProcResult r = run_script("export const options = { maxResponseBodyBytes: -5 };\nexport default function () {}\n");
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("maxResponseBodyBytes"), std::string::npos) << r;
  r = run_script("export default function () {}\n", {}, {{"HERD_MAX_RESPONSE_BODY_BYTES", "lots"}});
  EXPECT_EQ(r.exit_code, 104) << r;
  EXPECT_NE(r.err.find("HERD_MAX_RESPONSE_BODY_BYTES"), std::string::npos) << r;
}

TEST_F(HardeningTest, HundredThousandHeadersAreReadInLinearTime) {
  // 100,000 distinct names ("0000".."255r": 0..99,999 in base 36), 8 bytes a line: 800 KB, under the 1 MiB limit.
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n";
  const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (int i = 0; i < 100000; ++i) {
    char name[5] = {digits[i / 46656 % 36], digits[i / 1296 % 36], digits[i / 36 % 36], digits[i % 36], 0};
    head.append(name).append(":1\r\n");
  }
  head += "\r\nok";
  RawServer srv([&](int fd, int, Stop stop) {
    std::string buf, req;
    while (read_request(fd, buf, &req, stop))
      if (!write_all(fd, head, stop)) return;
  });
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
export default function () {
  const res = http.get(`${__ENV.RAW_URL}/`);
  const t0 = Date.now();
  const n = Object.keys(res.headers).length;
  const ms = Date.now() - t0;
  console.log(`headers: ${n} in ${ms} ms`);
  check(res, {
    'all headers': () => res.status === 200 && n === 100001 && res.headers['0000'] === '1' &&
        res.headers['255r'] === '1',
    'read in under 5 s': () => ms < 5000,
  });
}
)JS",
                        &r, {}, {{"RAW_URL", srv.base()}});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 2);
}

// An iteration interrupted at its scenario's hard stop while a request waits
// for an answer closes that request's connection at once (Client::cancel),
// not at the request timeout or the end of the process.
TEST_F(HardeningTest, InterruptedIterationClosesItsRequestsConnection) {
  using Clock = std::chrono::steady_clock;
  std::atomic<std::int64_t> closed_after_ms{-1};
  Clock::time_point t0 = Clock::now();
  RawServer server([&](int fd, int, Stop stop) {
    std::string buf, req;
    if (!read_request(fd, buf, &req, stop)) return;
    char c;
    while (!stop) {  // never answer; note when the client hangs up
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0 && ::recv(fd, &c, 1, 0) <= 0) {
        closed_after_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
        return;
      }
    }
  });
  ASSERT_TRUE(server.listening());
  t0 = Clock::now();
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
import { sleep } from 'k6';
export const options = {
  scenarios: {
    stuck: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '1s', gracefulStop: '0s',
             exec: 'stuck' },
    after: { executor: 'constant-vus', vus: 1, duration: '4s', startTime: '1s', exec: 'after' },
  },
};
export function stuck() { http.get(`${__ENV.RAW}/never`, { timeout: '60s' }); }
export function after() { sleep(0.5); }
)JS",
                            {"-e", "RAW=" + server.base()});
  EXPECT_EQ(r.exit_code, 0) << r;
  ASSERT_GE(closed_after_ms.load(), 0) << r;
  // Hard stop at 1 s; the test itself runs until about 5 s.
  EXPECT_LT(closed_after_ms.load(), 3000) << r;
}

}  // namespace
}  // namespace herd::it
