// WebSockets with both of k6's APIs against herd's own target (GET /ws echoes
// every message). Run: examples/run-websocket.sh (starts the target), or
//   herd target --listen 127.0.0.1:18080 &  WS_URL=ws://127.0.0.1:18080/ws herd run examples/websocket.js
import ws from 'k6/ws';
import { WebSocket } from 'k6/websockets';
import { setTimeout } from 'k6/timers';
import { check } from 'k6';

const url = __ENV.WS_URL || 'ws://127.0.0.1:18080/ws';

export const options = {
  vus: 5,
  iterations: 20,
  thresholds: {
    checks: ['rate==1'],
    ws_connecting: ['p(95)<1000'],
    ws_msgs_received: ['count>=100'],
  },
};

// k6/ws: connect() blocks the iteration until the socket closes.
function chat() {
  const replies = [];
  const res = ws.connect(url, { tags: { api: 'k6/ws' } }, (socket) => {
    socket.on('open', () => {
      socket.send('hello');
      socket.sendBinary(new Uint8Array([1, 2, 3]).buffer);
      socket.ping();
    });
    socket.on('message', (m) => replies.push(m));
    socket.on('binaryMessage', (b) => replies.push(new Uint8Array(b).length));
    socket.on('pong', () => socket.setTimeout(() => socket.close(), 10));
    socket.setTimeout(() => socket.close(), 5000);  // a safety net
  });
  check(res, { 'k6/ws: upgraded': (r) => r.status === 101 });
  check(replies, { 'k6/ws: echoed text and binary': (r) => r.includes('hello') && r.includes(3) });
}

// k6/websockets: several sockets at once on the VU's event loop; the iteration
// ends when every socket has closed and no timer is left.
function fanOut(n) {
  let echoed = 0;
  for (let i = 0; i < n; i++) {
    const s = new WebSocket(url, [], { tags: { api: 'k6/websockets' } });
    s.binaryType = 'arraybuffer';
    s.onopen = () => s.send(`message ${i}`);
    s.onmessage = (e) => {
      if (e.data === `message ${i}`) echoed++;
      setTimeout(() => s.close(), 5);
    };
    s.onclose = () => {
      if (i === n - 1) check(echoed, { 'k6/websockets: every socket echoed': (e) => e === n });
    };
  }
}

export default function () {
  chat();
  fanOut(4);
}
