// Exceptions thrown by WebSocket event handlers, as k6 treats them: k6/ws closes
// the socket with 1001 and ws.connect throws; k6/websockets drops the connection
// and fails the iteration. Against the real server of ws_fixture.h.
#include "ws_fixture.h"

namespace herd::it {
namespace {

TEST_F(WsTest, K6WsHandlerExceptionClosesWith1001AndFailsTheIteration) {
  ProcResult r;
  json exp = run_ws(R"JS(
import ws from 'k6/ws';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
const closes = new Counter('close_handler_calls');
export const options = { iterations: 4, vus: 1 };
export default function () {
  if (__ITER === 0) {
    ws.connect(__ENV.WS_URL + '/record', (s) => {
      s.on('open', () => s.send('boom'));
      s.on('message', (m) => { throw new Error('message handler failed on ' + m); });
      s.on('close', (code) => { if (code === 1001) closes.add(1); });
    });
    console.log('not reached after a handler threw');
  } else if (__ITER === 1) {
    ws.connect(__ENV.WS_URL + '/record', (s) => {
      s.setTimeout(() => { throw new Error('timer callback failed'); }, 10);
    });
    console.log('not reached after a timer threw');
  } else if (__ITER === 2) {
    let caught = '';
    try {
      ws.connect(__ENV.WS_URL + '/record', (s) => { s.on('open', () => { throw new Error('open failed'); }); });
    } catch (e) {
      caught = String(e);
    }
    check(caught, { 'the exception propagates out of ws.connect': (c) => c === 'Error: open failed' });
  } else {
    let codes = '';
    ws.connect(__ENV.WS_URL + '/lastclose?n=3', (s) => { s.on('message', (m) => { codes = m; s.close(); }); });
    check(codes, { 'the server saw 1001 each time': (c) => c === '1001,1001,1001' });
  }
}
)JS",
                    &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 2);
  EXPECT_EQ(r.err.find("not reached"), std::string::npos) << r;
  // Logged as the iteration's error, with the handler's location.
  EXPECT_NE(r.err.find("message handler failed on boom"), std::string::npos) << r;
  EXPECT_NE(r.err.find("script.js:11:"), std::string::npos) << r;
  EXPECT_NE(r.err.find("timer callback failed"), std::string::npos) << r;
  EXPECT_NE(r.err.find("script.js:17:"), std::string::npos) << r;
  EXPECT_EQ(count(exp, "close_handler_calls"), 1) << "close handlers run with 1001\n" << r;
  EXPECT_EQ(count(exp, "iterations"), 4) << r;
  EXPECT_EQ(count(exp, "ws_sessions"), 4) << r;
}

TEST_F(WsTest, WebSocketListenerExceptionDropsTheConnectionAndFailsTheIteration) {
  ProcResult r;
  json exp = run_ws(R"JS(
import { WebSocket } from 'k6/websockets';
import ws from 'k6/ws';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
const seen = new Counter('listener_events');
export const options = { iterations: 2, vus: 1 };
export default function () {
  if (__ITER === 0) {
    const s = new WebSocket(__ENV.WS_URL + '/record');
    s.onopen = () => s.send('boom');
    s.onmessage = (e) => { throw new Error('onmessage failed on ' + e.data); };
    s.onerror = (e) => { if (e.error.includes('onmessage failed on boom')) seen.add(1, { ev: 'error' }); };
    s.onclose = () => { seen.add(1, { ev: 'close' }); };
    return;
  }
  let codes = '';
  ws.connect(__ENV.WS_URL + '/lastclose?n=1', (s) => { s.on('message', (m) => { codes = m; s.close(); }); });
  check(codes, { 'the connection was dropped without a close frame (1006)': (c) => c === '1006' });
}
)JS",
                    &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 1);
  EXPECT_NE(r.err.find("onmessage failed on boom"), std::string::npos) << r;
  EXPECT_NE(r.err.find("script.js:12:"), std::string::npos) << r;
  EXPECT_EQ(count(exp, "listener_events"), 2) << "error and close listeners ran\n" << r;
  EXPECT_EQ(count(exp, "iterations"), 2) << r;
}

}  // namespace
}  // namespace herd::it
