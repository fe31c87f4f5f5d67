// "k6/experimental/streams": ReadableStream with its default reader and
// controller, CountQueuingStrategy and ByteLengthQueuingStrategy, written in
// JavaScript after the WHATWG Streams algorithms (default streams only: no byte
// streams, BYOB readers, tee or pipes, as in k6). Promises settle on the VU's
// job queue, so start/pull results and reads interleave with timers and requests.
#include "k6/webapi.h"

namespace herd::k6 {

namespace {

const char* kStreams = R"JS(
const S = Symbol('slots');
const internal = Symbol('internal');

function isObject(x) { return x !== null && (typeof x === 'object' || typeof x === 'function'); }
function deferred() {
  const d = {};
  d.promise = new Promise((resolve, reject) => { d.resolve = resolve; d.reject = reject; });
  return d;
}
function rejected(e) { const p = Promise.reject(e); p.catch(() => {}); return p; }
function slots(obj, what) {
  if (!isObject(obj) || obj[S] === undefined || obj[S].kind !== what) throw new TypeError(`not a ${what}`);
  return obj[S];
}
function validHighWaterMark(v, fallback) {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (Number.isNaN(n) || n < 0) throw new RangeError(`highWaterMark must be a non-negative number, got ${v}`);
  return n;
}
function callOptional(obj, name, args) {
  const f = obj[name];
  if (f === undefined) return undefined;
  if (typeof f !== 'function') throw new TypeError(`underlying source ${name} must be a function`);
  return f.apply(obj, args);
}
function promiseCall(fn) {
  try { return Promise.resolve(fn()); } catch (e) { return rejected(e); }
}

const countSize = function size() { return 1; };
const byteSize = function size(chunk) { return chunk.byteLength; };

export class CountQueuingStrategy {
  constructor(init) {
    if (!isObject(init) || init.highWaterMark === undefined)
      throw new TypeError('CountQueuingStrategy needs { highWaterMark }');
    Object.defineProperty(this, S, { value: { kind: 'CountQueuingStrategy', hwm: Number(init.highWaterMark) } });
  }
  get highWaterMark() { return slots(this, 'CountQueuingStrategy').hwm; }
  get size() { return countSize; }
}

export class ByteLengthQueuingStrategy {
  constructor(init) {
    if (!isObject(init) || init.highWaterMark === undefined)
      throw new TypeError('ByteLengthQueuingStrategy needs { highWaterMark }');
    Object.defineProperty(this, S, { value: { kind: 'ByteLengthQueuingStrategy', hwm: Number(init.highWaterMark) } });
  }
  get highWaterMark() { return slots(this, 'ByteLengthQueuingStrategy').hwm; }
  get size() { return byteSize; }
}

// ---- stream-level operations (on the stream's slots) --------------------------

function streamClose(st) {
  st.state = 'closed';
  const r = st.reader;
  if (!r) return;
  for (const req of r.readRequests.splice(0)) req.resolve({ value: undefined, done: true });
  r.closed.resolve(undefined);
}

function streamError(st, e) {
  st.state = 'errored';
  st.storedError = e;
  const r = st.reader;
  if (!r) return;
  for (const req of r.readRequests.splice(0)) req.reject(e);
  r.closed.promise.catch(() => {});
  r.closed.reject(e);
}

function streamCancel(st, reason) {
  st.disturbed = true;
  if (st.state === 'closed') return Promise.resolve(undefined);
  if (st.state === 'errored') return rejected(st.storedError);
  streamClose(st);
  const c = st.controller;
  c.queue = [];
  c.queueTotal = 0;
  const cancel = c.cancelAlgorithm;
  clearAlgorithms(c);
  return cancel(reason).then(() => undefined);
}

// ---- controller operations (on the controller's slots) -------------------------

function clearAlgorithms(c) {
  c.pullAlgorithm = () => Promise.resolve();
  c.cancelAlgorithm = () => Promise.resolve();
  c.size = countSize;
}
function desiredSize(c) {
  const s = c.stream.state;
  if (s === 'errored') return null;
  if (s === 'closed') return 0;
  return c.hwm - c.queueTotal;
}
function canCloseOrEnqueue(c) { return !c.closeRequested && c.stream.state === 'readable'; }

function controllerError(c, e) {
  if (c.stream.state !== 'readable') return;
  c.queue = [];
  c.queueTotal = 0;
  clearAlgorithms(c);
  streamError(c.stream, e);
}

function shouldCallPull(c) {
  if (!canCloseOrEnqueue(c) || !c.started) return false;
  const r = c.stream.reader;
  if (r && r.readRequests.length > 0) return true;
  return desiredSize(c) > 0;
}

function callPullIfNeeded(c) {
  if (!shouldCallPull(c)) return;
  if (c.pulling) { c.pullAgain = true; return; }
  c.pulling = true;
  c.pullAlgorithm().then(() => {
    c.pulling = false;
    if (c.pullAgain) { c.pullAgain = false; callPullIfNeeded(c); }
  }, (e) => controllerError(c, e));
}

function dequeue(c) {
  const item = c.queue.shift();
  c.queueTotal = Math.max(0, c.queueTotal - item.size);
  return item.value;
}

export class ReadableStreamDefaultController {
  constructor(key) {
    if (key !== internal) throw new TypeError('ReadableStreamDefaultController cannot be constructed directly');
  }
  get desiredSize() { return desiredSize(slots(this, 'controller')); }
  close() {
    const c = slots(this, 'controller');
    if (!canCloseOrEnqueue(c)) throw new TypeError('close(): the stream is already closed or closing');
    c.closeRequested = true;
    if (c.queue.length === 0) { clearAlgorithms(c); streamClose(c.stream); }
  }
  enqueue(chunk) {
    const c = slots(this, 'controller');
    if (!canCloseOrEnqueue(c)) throw new TypeError('enqueue(): the stream is closed or closing');
    const r = c.stream.reader;
    if (r && r.readRequests.length > 0) {
      r.readRequests.shift().resolve({ value: chunk, done: false });
    } else {
      let size;
      try {
        size = c.size(chunk);
      } catch (e) {
        controllerError(c, e);
        throw e;
      }
      size = Number(size);
      if (!Number.isFinite(size) || size < 0) {
        const e = new RangeError(`the queuing strategy size must be a finite non-negative number, got ${size}`);
        controllerError(c, e);
        throw e;
      }
      c.queue.push({ value: chunk, size });
      c.queueTotal += size;
    }
    callPullIfNeeded(c);
  }
  error(e) { controllerError(slots(this, 'controller'), e); }
}

export class ReadableStreamDefaultReader {
  constructor(stream) {
    const st = slots(stream, 'ReadableStream');
    if (st.reader) throw new TypeError('the stream is locked to another reader');
    const r = { kind: 'reader', stream: st, readRequests: [], closed: deferred() };
    Object.defineProperty(this, S, { value: r });
    st.reader = r;
    if (st.state === 'closed') r.closed.resolve(undefined);
    if (st.state === 'errored') { r.closed.promise.catch(() => {}); r.closed.reject(st.storedError); }
    Object.defineProperty(this, 'releaseLock', { value: () => release(r), enumerable: true });
  }
  get closed() { return slots(this, 'reader').closed.promise; }
  read() {
    let r;
    try { r = slots(this, 'reader'); } catch (e) { return rejected(e); }
    const st = r.stream;
    if (!st) return rejected(new TypeError('read(): the reader has been released'));
    st.disturbed = true;
    if (st.state === 'closed') return Promise.resolve({ value: undefined, done: true });
    if (st.state === 'errored') return rejected(st.storedError);
    const c = st.controller;
    if (c.queue.length > 0) {
      const value = dequeue(c);
      if (c.closeRequested && c.queue.length === 0) { clearAlgorithms(c); streamClose(st); } else callPullIfNeeded(c);
      return Promise.resolve({ value, done: false });
    }
    const req = deferred();
    r.readRequests.push(req);
    callPullIfNeeded(c);
    return req.promise;
  }
  cancel(reason) {
    let r;
    try { r = slots(this, 'reader'); } catch (e) { return rejected(e); }
    if (!r.stream) return rejected(new TypeError('cancel(): the reader has been released'));
    return streamCancel(r.stream, reason);
  }
}

function release(r) {
  const st = r.stream;
  if (!st) return;
  const e = new TypeError('the reader was released');
  if (st.state === 'readable') {
    r.closed.promise.catch(() => {});
    r.closed.reject(e);
  } else {
    r.closed = deferred();
    r.closed.promise.catch(() => {});
    r.closed.reject(e);
  }
  for (const req of r.readRequests.splice(0)) req.reject(e);
  st.reader = undefined;
  r.stream = undefined;
}

export class ReadableStream {
  constructor(source, strategy) {
    if (source === undefined || source === null) source = {};
    if (!isObject(source)) throw new TypeError('ReadableStream: the underlying source must be an object');
    if (strategy === undefined || strategy === null) strategy = {};
    if (source.type !== undefined && String(source.type) !== 'default') {
      if (String(source.type) === 'bytes') throw new RangeError('ReadableStream: byte streams (type "bytes") are not supported by herd');
      throw new TypeError(`ReadableStream: unknown type "${source.type}"`);
    }
    const size = strategy.size;
    if (size !== undefined && typeof size !== 'function') throw new TypeError('ReadableStream: strategy.size must be a function');
    const st = { kind: 'ReadableStream', state: 'readable', reader: undefined, storedError: undefined, disturbed: false };
    Object.defineProperty(this, S, { value: st });
    const controller = new ReadableStreamDefaultController(internal);
    const c = {
      kind: 'controller', stream: st, queue: [], queueTotal: 0, started: false, closeRequested: false,
      pulling: false, pullAgain: false, hwm: validHighWaterMark(strategy.highWaterMark, 1),
      size: size === undefined ? countSize : (chunk) => size.call(undefined, chunk),
      pullAlgorithm: () => promiseCall(() => callOptional(source, 'pull', [controller])),
      cancelAlgorithm: (reason) => promiseCall(() => callOptional(source, 'cancel', [reason])),
    };
    Object.defineProperty(controller, S, { value: c });
    st.controller = c;
    if (source.pull !== undefined && typeof source.pull !== 'function') throw new TypeError('underlying source pull must be a function');
    if (source.cancel !== undefined && typeof source.cancel !== 'function') throw new TypeError('underlying source cancel must be a function');
    const started = callOptional(source, 'start', [controller]);
    Promise.resolve(started).then(() => {
      c.started = true;
      callPullIfNeeded(c);
    }, (e) => controllerError(c, e));
  }
  get locked() { return slots(this, 'ReadableStream').reader !== undefined; }
  cancel(reason) {
    let st;
    try { st = slots(this, 'ReadableStream'); } catch (e) { return rejected(e); }
    if (st.reader) return rejected(new TypeError('cancel(): the stream is locked to a reader'));
    return streamCancel(st, reason);
  }
  getReader(options) {
    slots(this, 'ReadableStream');
    if (isObject(options) && options.mode !== undefined) {
      if (String(options.mode) === 'byob') throw new RangeError('getReader(): BYOB readers are not supported by herd');
      throw new TypeError(`getReader(): unknown mode "${options.mode}"`);
    }
    return new ReadableStreamDefaultReader(this);
  }
}

export default { ReadableStream, ReadableStreamDefaultReader, ReadableStreamDefaultController, CountQueuingStrategy, ByteLengthQueuingStrategy };
)JS";

}  // namespace

std::string streams_module_source() {
  return kStreams;
}

}  // namespace herd::k6
