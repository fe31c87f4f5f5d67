// Per-VU memory of the k6/http request path (issue #17), read from the
// HERD_DEBUG_MEMORY lines of VU 1 (its JS heap after init and after its task).
#include "harness.h"

namespace herd::it {
namespace {

using VuMemoryTest = HerdTest;

/// The "N atoms" figure of VU 1's HERD_DEBUG_MEMORY line `when`, or -1.
long atoms_at(const std::string& err, const std::string& when) {
  std::smatch m;
  std::regex re("VU 1 " + when + R"(: JS heap \d+ bytes in \d+ allocations, .* (\d+) atoms \()");
  return std::regex_search(err, m, re) ? std::stol(m[1]) : -1;
}

// The request path interns each property name it uses when first used: a plain
// http.get() with no params whose response is not read makes a few atoms, not
// the ~20 names of every params field and Response field (which pushed a VU of
// `http.get(); sleep(1)` over QuickJS's next atom-array growth, ~2 KB per VU).
TEST_F(VuMemoryTest, APlainRequestInternsOnlyTheNamesItUses) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
export const options = { iterations: 1 };
export default function () { http.get(`${__ENV.BASE_URL}/`); }
)JS",
                            {}, {{"HERD_DEBUG_MEMORY", "1"}});
  ASSERT_EQ(r.exit_code, 0) << r;
  long init = atoms_at(r.err, "after init"), after = atoms_at(r.err, "after a task");
  ASSERT_GT(init, 0) << r.err;
  ASSERT_GT(after, 0) << r.err;
  EXPECT_LE(after - init, 4) << r.err;
}

// Names first made in the middle of a run (params fields, Response fields read
// later) give the same results as when they were all made up front.
TEST_F(VuMemoryTest, NamesMadeOnFirstUseReadAndWriteTheSameProperties) {
  ProcResult r = run_script(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 2, thresholds: { checks: ['rate==1'] } };
export default function () {
  const plain = http.get(`${__ENV.BASE_URL}/echo`);
  const res = http.post(`${__ENV.BASE_URL}/echo`, 'b', {
    headers: { 'X-A': '1' }, tags: { t: 'x' }, timeout: '10s', redirects: 2, responseType: 'text',
  });
  check(res, {
    'status': (x) => x.status === 200 && x.error_code === 0 && x.error === '',
    'headers sent': (x) => x.json('headers.X-A') === '1' && x.json('body') === 'b',
    'fields': (x) => typeof x.timings.duration === 'number' && x.proto.startsWith('HTTP/') &&
        x.status_text.length > 0 && x.url.endsWith('/echo') && x.request.method === 'POST' &&
        typeof x.remote_port === 'number' && typeof x.headers === 'object',
    'plain read later': () => plain.status === 200 && plain.json().method === 'GET' &&
        Object.keys(plain).join() === 'status,error_code,body',
  });
}
)JS");
  EXPECT_EQ(r.exit_code, 0) << r;
}

}  // namespace
}  // namespace herd::it
