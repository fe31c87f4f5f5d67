// JavaScript halves of herd's k6 modules. Each is compiled once to bytecode
// (js::Bundle) and loaded by the VUs that import it. The native halves are
// methods of the hidden global `__herd` (k6/natives.cc).
#include "k6/grpc_module.h"
#include "k6/modules.h"
#include "k6/webapi.h"
#include "k6/ws_module.h"

namespace herd::k6 {

namespace {

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
  fail(reason) { H.markFailed(reason === undefined ? '' : String(reason)); },
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
  std::map<std::string, std::string> m = {
      {"k6/metrics", kMetrics},
      {"k6/execution", kExecution},
      {"k6/data", kData},
  };
  m.merge(webapi_module_sources());
  m.merge(ws_module_sources());
  m.merge(grpc_module_sources());
  return m;
}

}  // namespace herd::k6
