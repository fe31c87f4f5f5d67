// gRPC against herd's demo service (`herd target --grpc-listen HOST:PORT`),
// described by server reflection: unary calls, a server stream and a bidi stream.
//   herd target --listen 127.0.0.1:0 --grpc-listen 127.0.0.1:50051 &
//   GRPC_ADDR=127.0.0.1:50051 herd run examples/grpc.js
import { Client, Stream, StatusOK } from 'k6/net/grpc';
import { check, sleep } from 'k6';

const client = new Client();

export const options = {
  vus: 2,
  iterations: 10,
  thresholds: {
    checks: ['rate==1'],
    'grpc_req_duration{rpc_type:unary}': ['p(95)<500'],
  },
};

export default function () {
  client.connect(__ENV.GRPC_ADDR || '127.0.0.1:50051', { plaintext: true, reflect: true, timeout: '5s' });
  const res = client.invoke('herd.demo.Demo/Echo', { text: 'hello' }, { metadata: { 'x-herd-echo': 'hi' } });
  check(res, {
    'status is OK': (r) => r && r.status === StatusOK,
    'echoed': (r) => r && r.message.text === 'hello' && r.message.echoMetadata === 'hi',
  });

  const numbers = [];
  const count = new Stream(client, 'herd.demo.Demo/Count');
  count.on('data', (n) => numbers.push(Number(n.value)));
  count.on('end', () => check(numbers, { 'counted to 3': (n) => n.join() === '1,2,3' }));
  count.write({ count: 3 });
  count.end();

  const chat = new Stream(client, 'herd.demo.Demo/Chat');
  chat.on('data', (m) => {
    check(m, { 'chat echo': (x) => x.text === 'ping' });
    chat.end();
  });
  chat.write({ text: 'ping' });
  sleep(0.1);
}
