// bench/grpc.sh: herd's side of the gRPC unary benchmark. VUS VUs call
// herd.demo.Demo/Echo back to back for DURATION against `herd target
// --grpc-listen` (the service is found by server reflection, once per VU).
// The figures are the summary's checks: passes = calls answered OK, fails = errors.
//   herd run -e GRPC_ADDR=127.0.0.1:PORT -e VUS=50 -e DURATION=10s bench/grpc_unary.js
import { Client, StatusOK } from 'k6/net/grpc';
import { check } from 'k6';

const client = new Client();

export const options = {
  scenarios: {
    unary: { executor: 'constant-vus', vus: Number(__ENV.VUS || 50), duration: __ENV.DURATION || '10s' },
  },
};

export default function () {
  if (__ITER === 0) client.connect(__ENV.GRPC_ADDR, { plaintext: true, reflect: true, timeout: '10s' });
  const res = client.invoke('herd.demo.Demo/Echo', { text: 'hello' });
  check(res, { 'Echo OK': (r) => r && r.status === StatusOK });
}
