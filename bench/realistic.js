// The "realistic" request loop of bench/throughput.sh (issue #17): what a typical
// API test does per iteration, against `herd target`'s POST /echo (which answers
// with a JSON object holding the request's method, headers and body).
//   - a JSON POST with two request headers and two request tags,
//   - res.json() of the response,
//   - two checks, the second reading a nested field of the parsed body,
//   - one add to a custom Trend.
import http from 'k6/http';
import { check } from 'k6';
import { Trend } from 'k6/metrics';

const echoWait = new Trend('bench_echo_wait', true);

export default function () {
  const order = { customer: __VU, seq: __ITER, lines: [{ sku: 'A-1', qty: 2 }, { sku: 'B-7', qty: 1 }] };
  const res = http.post(`${__ENV.URL}/echo`, JSON.stringify(order), {
    headers: { 'Content-Type': 'application/json', 'X-Bench-Flow': 'checkout' },
    tags: { name: 'echo-order', flow: 'checkout' },
  });
  const body = res.json();
  check(res, {
    'status is 200': (r) => r.status === 200,
    'flow header echoed': () => body.headers['X-Bench-Flow'] === 'checkout',
  });
  echoWait.add(res.timings.waiting);
}
