// The JavaScript halves of "k6/ws" and "k6/websockets" (alias
// "k6/experimental/websockets"), over the native "herd:ws" (k6/ws_module.cc).
#include "k6/ws_module.h"

namespace herd::k6 {

namespace {

const char* kWs = R"JS(
import * as N from 'herd:ws';
function wsError(msg) { return { error() { return msg; }, toString() { return msg; } }; }
class Socket {
  constructor() { this._h = {}; this._timers = new Set(); this._closed = false; this._failed = false; }
  on(event, fn) {
    if (typeof fn !== 'function') throw new TypeError('socket.on(event, callback) needs a function');
    (this._h[event] || (this._h[event] = [])).push(fn);
  }
  _emit(event, ...args) { const l = this._h[event]; if (l) for (const f of l.slice()) f.apply(this, args); }
  _event(kind, a, b) {
    if (this._failed) return;
    try {
      switch (kind) {
        case 'message': this._emit('message', a); break;
        case 'binary': this._emit('binaryMessage', a); break;
        case 'ping': this._emit('ping'); break;
        case 'pong': this._emit('pong'); break;
        case 'error': this._emit('error', wsError(a)); break;
        case 'close': this._closed = true; this._clearTimers(); this._emit('close', a); break;
      }
    } catch (e) { this._fail(e); }
  }
  // As k6: an exception in a handler or a socket timer closes the socket with 1001 (going away), runs
  // the close handlers, and ws.connect throws it (the iteration fails unless the script catches it).
  _fail(e) {
    if (this._failed) return;
    this._failed = true;
    this._error = e;
    const open = !this._closed;
    this._closed = true;
    this._clearTimers();
    N.abort(this._id, 1001);
    if (open) { try { this._emit('close', 1001); } catch (_) { /* the first exception wins */ } }
  }
  send(data) { N.send(this._id, String(data), false); }
  sendBinary(data) {
    if (!(data instanceof ArrayBuffer)) throw new TypeError('socket.sendBinary(data) needs an ArrayBuffer');
    N.send(this._id, data, true);
  }
  ping() { N.ping(this._id); }
  close(code) { N.close(this._id, code === undefined ? 1001 : code, ''); }  // k6/ws: 1001 by default
  setTimeout(fn, ms) {
    if (typeof fn !== 'function') throw new TypeError('socket.setTimeout(callback, ms) needs a function');
    if (this._closed) return;
    const t = setTimeout(() => { this._timers.delete(t); try { fn(); } catch (e) { this._fail(e); } }, ms);
    this._timers.add(t);
  }
  setInterval(fn, ms) {
    if (typeof fn !== 'function') throw new TypeError('socket.setInterval(callback, ms) needs a function');
    if (!(ms > 0)) throw new Error('setInterval requires a positive interval, got ' + ms);
    if (this._closed) return;
    this._timers.add(setInterval(() => { try { fn(); } catch (e) { this._fail(e); } }, ms));
  }
  _clearTimers() { for (const t of this._timers) clearTimeout(t); this._timers.clear(); }
}
export function connect(url, params, fn) {
  if (typeof params === 'function' && fn === undefined) { fn = params; params = undefined; }
  if (typeof fn !== 'function') throw new TypeError('ws.connect(url, params, callback) needs a callback function');
  const s = new Socket();
  s._id = N.open(String(url), undefined, params, (k, a, b) => s._event(k, a, b), true);
  const res = N.handshake(s._id);
  if (res.error) {
    if (N.throws()) throw new Error(res.error);
    console.warn('Attempt to establish a WebSocket connection failed: ' + res.error);
    return res;
  }
  try {
    fn(s);
    s._emit('open');
  } catch (e) {
    s._fail(e);
    throw e;
  }
  N.wait(s._id);
  s._clearTimers();
  if (s._failed) throw s._error;
  return res;
}
export default { connect };
)JS";

const char* kWebsockets = R"JS(
import * as N from 'herd:ws';
function bytesOf(part) {
  if (part instanceof Blob) return part._bytes;
  if (part instanceof ArrayBuffer) return new Uint8Array(part.slice(0));
  if (ArrayBuffer.isView(part)) return new Uint8Array(part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength));
  return new Uint8Array(N.utf8(String(part)));
}
export class Blob {
  constructor(parts, options) {
    const chunks = (parts === undefined ? [] : Array.from(parts)).map(bytesOf);
    let n = 0; for (const c of chunks) n += c.length;
    const all = new Uint8Array(n); let at = 0;
    for (const c of chunks) { all.set(c, at); at += c.length; }
    Object.defineProperty(this, '_bytes', { value: all });
    this.type = options && options.type !== undefined ? String(options.type).toLowerCase() : '';
  }
  get size() { return this._bytes.length; }
  arrayBuffer() { return Promise.resolve(this._bytes.slice().buffer); }
  text() { return Promise.resolve(N.text(this._bytes.slice().buffer)); }
  bytes() { return Promise.resolve(this._bytes.slice()); }
  slice(start, end, type) { const b = new Blob([], { type }); Object.defineProperty(b, '_bytes', { value: this._bytes.slice(start, end) }); return b; }
}
export const ReadyState = { Connecting: 0, Open: 1, Closing: 2, Closed: 3 };
const TYPES = ['open', 'message', 'error', 'close', 'ping', 'pong'];
export class WebSocket {
  constructor(url, protocols, params) {
    if (url === undefined) throw new TypeError('WebSocket needs a url');
    this.url = String(url);
    this.readyState = 0;
    this.protocol = '';
    this.extensions = '';
    this.bufferedAmount = 0;
    this._binaryType = 'blob';
    this._l = {};
    for (const t of TYPES) { this._l[t] = []; this['on' + t] = null; }
    this._id = N.open(this.url, protocols, params, (k, a, b) => this._event(k, a, b), false);
  }
  get binaryType() { return this._binaryType; }
  set binaryType(t) {
    if (t !== 'blob' && t !== 'arraybuffer') throw new SyntaxError('binaryType must be "blob" or "arraybuffer", not "' + t + '"');
    this._binaryType = t;
  }
  addEventListener(type, fn) {
    if (!TYPES.includes(type)) throw new TypeError('unknown WebSocket event "' + type + '"');
    if (typeof fn === 'function' && !this._l[type].includes(fn)) this._l[type].push(fn);
  }
  removeEventListener(type, fn) { const l = this._l[type]; if (l) { const i = l.indexOf(fn); if (i >= 0) l.splice(i, 1); } }
  send(data) {
    if (this.readyState === 0) throw new Error("InvalidStateError: the WebSocket's readyState is CONNECTING");
    if (this.readyState !== 1) return;
    if (typeof data === 'string') N.send(this._id, data, false);
    else if (data instanceof Blob) N.send(this._id, data._bytes, true);
    else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) N.send(this._id, data, true);
    else N.send(this._id, String(data), false);
  }
  ping() { if (this.readyState === 1) N.ping(this._id); }
  close(code, reason) {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    N.close(this._id, code === undefined ? 1000 : code, reason === undefined ? '' : String(reason));
  }
  _dispatch(type, ev) {
    ev.type = type; ev.target = this;
    const h = this['on' + type];
    if (typeof h === 'function') h.call(this, ev);
    for (const f of this._l[type].slice()) f.call(this, ev);
  }
  _event(kind, a, b) {
    try {
      switch (kind) {
        case 'open': this.readyState = 1; this.protocol = a; this._dispatch('open', {}); break;
        case 'message': this._dispatch('message', { data: a, origin: this.url }); break;
        case 'binary': this._dispatch('message', { data: this._binaryType === 'arraybuffer' ? a : new Blob([a]), origin: this.url }); break;
        case 'ping': this._dispatch('ping', {}); break;
        case 'pong': this._dispatch('pong', {}); break;
        case 'error': this._dispatch('error', { error: a, message: a }); break;
        case 'close': this.readyState = 3; this._dispatch('close', { code: a, reason: b, wasClean: a !== 1006 }); break;
      }
    } catch (e) { this._fail(kind, e); }
  }
  // As k6: an exception in a listener fails the iteration with it. After an 'open' or 'message'
  // listener k6 also drops the connection (no close frame) and runs the error and close listeners.
  _fail(kind, e) {
    if ((kind === 'open' || kind === 'message' || kind === 'binary') && this.readyState !== 3) {
      N.abort(this._id, 0);
      this.readyState = 3;
      try {
        this._dispatch('error', { error: String(e), message: String(e) });
        this._dispatch('close', { code: 1006, reason: '', wasClean: false });
      } catch (_) { /* the first exception wins */ }
    }
    N.raise(e);
  }
}
WebSocket.CONNECTING = 0; WebSocket.OPEN = 1; WebSocket.CLOSING = 2; WebSocket.CLOSED = 3;
export default { WebSocket, Blob, ReadyState };
)JS";

}  // namespace

std::map<std::string, std::string> ws_module_sources() {
  return {{"k6/ws", kWs}, {"k6/websockets", kWebsockets}, {"k6/experimental/websockets", kWebsockets}};
}

}  // namespace herd::k6
