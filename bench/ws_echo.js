// bench/ws.sh: herd's side of the WebSocket echo benchmark. Each VU opens one
// socket (k6/ws) and keeps exactly one message in flight: send, wait for the
// echo, send the next, for HOLD_S seconds; then it closes the socket. The
// figures are the summary's ws_msgs_sent / ws_msgs_received counts.
//   herd run -e WS_URL=ws://127.0.0.1:PORT/ws -e VUS=50 -e HOLD_S=10 -e SIZE=32 bench/ws_echo.js
import ws from 'k6/ws';

const vus = Number(__ENV.VUS || 50);
const holdMs = Number(__ENV.HOLD_S || 10) * 1000;
const msg = 'x'.repeat(Number(__ENV.SIZE || 32));

export const options = {
  scenarios: {
    echo: { executor: 'per-vu-iterations', vus, iterations: 1, maxDuration: `${holdMs / 1000 + 60}s` },
  },
};

export default function () {
  ws.connect(__ENV.WS_URL, {}, (socket) => {
    socket.on('open', () => {
      socket.send(msg);
      socket.setTimeout(() => socket.close(), holdMs);
    });
    socket.on('message', () => socket.send(msg));
  });
}
