// A realistic multi-step user flow against herd's own target (docs/target.md):
// a login form with a CSRF token read with k6/html, JSON API calls, a
// gzip-compressed response, and a helper library imported over HTTPS from a
// loopback server, as scripts import jslib libraries. Run it with
// examples/run-shop-flow.sh, which starts the target and the HTTPS server.
import http from 'k6/http';
import { check, group, sleep } from 'k6';
import { parseHTML } from 'k6/html';
import { Trend } from 'k6/metrics';
// herd's own k6-utils-shaped fixture (a webpack CommonJS bundle), served over
// TLS on 127.0.0.1:18443 by run-shop-flow.sh; SSL_CERT_FILE trusts its certificate.
import { randomIntBetween, randomString } from 'https://127.0.0.1:18443/k6-utils/1.4.0/index.js';

export const options = {
  scenarios: {
    shoppers: { executor: 'per-vu-iterations', vus: 4, iterations: 5, maxDuration: '30s' },
  },
  thresholds: {
    checks: ['rate==1'],
    http_req_failed: ['rate==0'],
    'http_req_duration{name:login}': ['p(95)<500'],
  },
};

const BASE = __ENV.BASE_URL || 'http://127.0.0.1:8080';
const cartSize = new Trend('cart_size');

export default function () {
  group('login', () => {
    const page = http.get(`${BASE}/login`);
    const doc = parseHTML(page.body);
    const token = doc.find('form#login input[name=csrf]').attr('value');
    check(token, { 'form carries a CSRF token': (t) => typeof t === 'string' && t.length > 0 });
    const res = http.post(
      `${BASE}/login`,
      { csrf: token, username: 'herd', password: 's3cret', action: 'login' },
      { tags: { name: 'login' } },
    );
    check(res, {
      'logged in': (r) => r.status === 200 && r.url.endsWith('/account'),
      'welcome shown': (r) => r.html('h1#welcome').text().includes('herd'),
    });
  });

  group('api', () => {
    const items = randomIntBetween(1, 5);
    const order = { id: randomString(8), items };
    const res = http.post(`${BASE}/echo`, JSON.stringify(order), {
      headers: { 'Content-Type': 'application/json' },
      tags: { name: 'order' },
    });
    const echoed = JSON.parse(res.json('body'));
    check(res, {
      'order accepted': (r) => r.status === 200,
      'order echoed': () => echoed.id === order.id && echoed.items === items,
    });
    cartSize.add(echoed.items);
  });

  group('catalogue', () => {
    const res = http.get(`${BASE}/gzip`, { tags: { name: 'catalogue' } });
    check(res, {
      'served gzip': (r) => r.headers['Content-Encoding'] === 'gzip',
      'decoded catalogue': (r) => r.json('items.#') === 2 && r.json('items.#.name').join() === 'first,second',
    });
  });

  sleep(0.1);
}
