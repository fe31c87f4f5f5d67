// The "floor" of bench/realistic.js (issue #17): the same script work with no
// HTTP, no checks bookkeeping and no metrics. The order object is built and
// JSON.stringify'd, the params literal built, an echo-shaped body of the same
// size JSON.parse'd, the two check closures made and called, as realistic.js
// does, against a response object made once at init. What is left per
// iteration is QuickJS running the script (herd's JSON fast paths included):
//
//   for n in 10 1500; do valgrind --tool=callgrind --callgrind-out-file=cg.$n -q \
//     build/bin/herd run --workers 1 -u 10 -i $n -q --no-summary bench/realistic_floor.js; done
//   (Ir(1500) - Ir(10)) / 1490, minus the same for `export default function () {}`
const BODY0 = JSON.stringify({ args: {}, body: JSON.stringify({ customer: 1, seq: 0, lines: [{ sku: 'A-1', qty: 2 }, { sku: 'B-7', qty: 1 }] }),
  headers: { Accept: '*/*', 'Content-Length': '76', 'Content-Type': 'application/json', Host: '127.0.0.1:18931', 'User-Agent': 'herd/0.1', 'X-Bench-Flow': 'checkout' },
  method: 'POST', path: '/echo', query: '' });
const BODY = BODY0;
const res = { status: 200, error_code: 0, body: BODY, timings: { blocked: 0, connecting: 0, tls_handshaking: 0, sending: 0, waiting: 1, receiving: 0, duration: 1 } };
export default function () {
  const order = { customer: __VU, seq: __ITER, lines: [{ sku: 'A-1', qty: 2 }, { sku: 'B-7', qty: 1 }] };
  const payload = JSON.stringify(order);
  const params = { headers: { 'Content-Type': 'application/json', 'X-Bench-Flow': 'checkout' }, tags: { name: 'echo-order', flow: 'checkout' } };

  const body = JSON.parse(res.body);
  const checks = { 'status is 200': (r) => r.status === 200, 'flow header echoed': () => body.headers['X-Bench-Flow'] === 'checkout' };
  let ok = true;
  for (const k in checks) ok = checks[k](res) && ok;
  return payload.length + params.tags.name.length + res.timings.waiting + (ok ? 1 : 0);
}
