// JavaScript halves of herd's k6 modules. Each is compiled once to bytecode
// (js::Bundle) and loaded by the VUs that import it. The native halves are
// methods of the hidden global `__herd` (k6/natives.cc).
#include "k6/modules.h"

namespace herd::k6 {

namespace {

// Installed in every VU before the user's script: console, open, __ENV.
const char* kGlobals = R"JS(
const H = globalThis.__herd;
function fmt(v, depth) {
  if (typeof v === 'string') return v;
  if (v instanceof Error) return String(v);
  if (typeof v === 'object' && v !== null) {
    try { return JSON.stringify(v); } catch (e) { return String(v); }
  }
  return String(v);
}
function logger(level) {
  return function (...args) { H.log(level, args.map((a) => fmt(a, 0)).join(' ')); };
}
globalThis.console = {
  log: logger(1), info: logger(1), warn: logger(2), error: logger(3), debug: logger(0),
  trace: logger(0),
};
globalThis.open = function open(path, mode) { return H.open(String(path), mode === undefined ? '' : String(mode)); };
)JS";

const char* kK6 = R"JS(
const H = globalThis.__herd;
export function sleep(s) { H.sleep(Number(s)); }
export function check(val, sets, tags) { return H.check(val, sets, tags); }
export function group(name, fn) {
  if (typeof fn !== 'function') throw new TypeError('group() needs a function as its second argument');
  const t = H.groupEnter(String(name));
  try { return fn(); } finally { H.groupExit(t); }
}
export function fail(msg) { throw new Error(msg === undefined ? '' : String(msg)); }
export function randomSeed(seed) { H.randomSeed(Number(seed)); }
export default { sleep, check, group, fail, randomSeed };
)JS";

const char* kHttp = R"JS(
const H = globalThis.__herd;
function walk(v, path) {
  // GJSON-style selector subset: a.b.0.c, a.#(count), escaped dots not supported.
  if (path === undefined || path === null || path === '') return v;
  const parts = String(path).split('.');
  for (let i = 0; i < parts.length; i++) {
    if (v === undefined || v === null) return undefined;
    const p = parts[i];
    if (p === '#') { if (Array.isArray(v)) { if (i === parts.length - 1) return v.length; const rest = parts.slice(i + 1).join('.'); return v.map((x) => walk(x, rest)); } return undefined; }
    v = v[p];
  }
  return v;
}
export class Response {
  json(selector) {
    if (this._json === undefined) {
      if (this.body === null || this.body === undefined) throw new Error('cannot parse JSON: the response has no body (responseType "none"?)');
      const text = typeof this.body === 'string' ? this.body : String.fromCharCode.apply(null, new Uint8Array(this.body));
      this._json = JSON.parse(text);
    }
    return walk(this._json, selector);
  }
  html() { throw new Error('Response.html() is not supported by herd yet'); }
}
Object.defineProperty(Response.prototype, '_json', { value: undefined, writable: true, enumerable: false });
H.setResponseProto(Response.prototype);
export function request(method, url, body, params) { return H.request(String(method).toUpperCase(), url, body, params); }
export function get(url, params) { return H.request('GET', url, null, params); }
export function head(url, params) { return H.request('HEAD', url, null, params); }
export function post(url, body, params) { return H.request('POST', url, body, params); }
export function put(url, body, params) { return H.request('PUT', url, body, params); }
export function patch(url, body, params) { return H.request('PATCH', url, body, params); }
export function del(url, body, params) { return H.request('DELETE', url, body, params); }
export function options(url, body, params) { return H.request('OPTIONS', url, body, params); }
export function batch(reqs) { return H.batch(reqs); }
export function file(data, filename, contentType) {
  return { data: data, filename: filename === undefined ? 'file' : String(filename), content_type: contentType || 'application/octet-stream', __herdFile: true };
}
export function expectedStatuses(...args) {
  const list = [];
  for (const a of args) {
    if (typeof a === 'number') list.push([a, a]);
    else if (a && typeof a === 'object' && 'min' in a && 'max' in a) list.push([Number(a.min), Number(a.max)]);
    else throw new TypeError('expectedStatuses: arguments must be integers or {min, max} objects');
  }
  return { __expectedStatuses: list };
}
export function setResponseCallback(cb) { H.setResponseCallback(cb); }
class CookieJar {
  cookiesForURL(url) { return H.jarCookiesForURL(String(url)); }
  set(url, name, value, opts) { H.jarSet(String(url), String(name), String(value), opts || {}); }
  clear(url) { H.jarClear(String(url)); }
  delete(url, name) { H.jarDelete(String(url), String(name)); }
}
const jar = new CookieJar();
export function cookieJar() { return jar; }
export { CookieJar };
export const TLS_1_0 = 'tls1.0', TLS_1_1 = 'tls1.1', TLS_1_2 = 'tls1.2', TLS_1_3 = 'tls1.3';
export default { request, get, head, post, put, patch, del, options, batch, file, expectedStatuses,
  setResponseCallback, cookieJar, CookieJar, Response, TLS_1_0, TLS_1_1, TLS_1_2, TLS_1_3 };
)JS";

const char* kMetrics = R"JS(
const H = globalThis.__herd;
class Metric {
  constructor(name, type, isTime) {
    Object.defineProperty(this, '_id', { value: H.defineMetric(String(name), type, !!isTime), enumerable: false });
    this.name = String(name);
  }
  add(value, tags) { return H.addMetric(this._id, value, tags); }
}
export class Counter extends Metric { constructor(name) { super(name, 0, false); } }
export class Gauge extends Metric { constructor(name, isTime) { super(name, 1, isTime); } }
export class Rate extends Metric { constructor(name) { super(name, 2, false); } }
export class Trend extends Metric { constructor(name, isTime) { super(name, 3, isTime); } }
export default { Counter, Gauge, Rate, Trend };
)JS";

const char* kExecution = R"JS(
const H = globalThis.__herd;
function tagProxy() {
  return new Proxy({}, {
    get(_, k) { return typeof k === 'string' ? H.vuTag(k) : undefined; },
    set(_, k, v) { H.setVuTag(String(k), v); return true; },
    deleteProperty(_, k) { H.deleteVuTag(String(k)); return true; },
    has(_, k) { return H.vuTag(String(k)) !== undefined; },
    ownKeys() { return H.vuTagKeys(); },
    getOwnPropertyDescriptor(_, k) { const v = H.vuTag(String(k)); return v === undefined ? undefined : { value: v, enumerable: true, configurable: true, writable: true }; },
  });
}
const tags = tagProxy();
const vu = {
  get idInInstance() { return H.execInfo(0); },
  get idInTest() { return H.execInfo(1); },
  get iterationInInstance() { return H.execInfo(2); },
  get iterationInScenario() { return H.execInfo(3); },
  get tags() { return tags; },
  metrics: { get tags() { return tags; }, get metadata() { return {}; } },
};
const scenario = {
  get name() { return H.execInfo(10); },
  get executor() { return H.execInfo(11); },
  get startTime() { return H.execInfo(12); },
  get progress() { return H.execInfo(13); },
  get iterationInInstance() { return H.execInfo(14); },
  get iterationInTest() { return H.execInfo(15); },
};
const instance = {
  get iterationsCompleted() { return H.execInfo(20); },
  get iterationsInterrupted() { return H.execInfo(21); },
  get vusActive() { return H.execInfo(22); },
  get vusInitialized() { return H.execInfo(23); },
  get currentTestRunDuration() { return H.execInfo(24); },
};
const test = {
  abort(reason) { H.abort(reason === undefined ? '' : String(reason)); },
  get options() { return JSON.parse(H.execInfo(30)); },
};
export { vu, scenario, instance, test };
export default { vu, scenario, instance, test };
)JS";

const char* kData = R"JS(
const H = globalThis.__herd;
export class SharedArray {
  constructor(name, fn) {
    if (typeof name !== 'string' || name === '') throw new TypeError('SharedArray needs a non-empty name');
    if (typeof fn !== 'function') throw new TypeError('SharedArray needs a function that returns an array');
    const n = H.sharedArray(name, fn);
    const target = [];
    return new Proxy(target, {
      get(t, k) {
        if (k === 'length') return n;
        if (typeof k === 'string' && /^[0-9]+$/.test(k)) { const i = Number(k); return i < n ? H.sharedGet(name, i) : undefined; }
        if (k === Symbol.iterator) return function* () { for (let i = 0; i < n; i++) yield H.sharedGet(name, i); };
        if (k === 'forEach') return (f) => { for (let i = 0; i < n; i++) f(H.sharedGet(name, i), i); };
        if (k === 'map') return (f) => { const r = []; for (let i = 0; i < n; i++) r.push(f(H.sharedGet(name, i), i)); return r; };
        if (k === 'filter') return (f) => { const r = []; for (let i = 0; i < n; i++) { const v = H.sharedGet(name, i); if (f(v, i)) r.push(v); } return r; };
        return undefined;
      },
      has(t, k) { return k === 'length' || (typeof k === 'string' && /^[0-9]+$/.test(k) && Number(k) < n); },
      set() { throw new TypeError('SharedArray is read-only'); },
      ownKeys() { const keys = []; for (let i = 0; i < n; i++) keys.push(String(i)); keys.push('length'); return keys; },
      getOwnPropertyDescriptor(t, k) { if (k === 'length') return { value: n, writable: true, enumerable: false, configurable: false }; if (typeof k === 'string' && /^[0-9]+$/.test(k) && Number(k) < n) return { value: H.sharedGet(name, Number(k)), enumerable: true, configurable: true, writable: false }; return undefined; },
    });
  }
}
export default { SharedArray };
)JS";

}  // namespace

std::map<std::string, std::string> builtin_module_sources() {
  return {
      {"herd:globals", kGlobals},     {"k6", kK6},     {"k6/http", kHttp}, {"k6/metrics", kMetrics},
      {"k6/execution", kExecution}, {"k6/data", kData},
  };
}

}  // namespace herd::k6
