// k6/experimental/streams through the real binary: underlying sources with
// start/pull/cancel, queuing strategies and backpressure, readers and locks.
#include "harness.h"

namespace herd::it {
namespace {

class StreamsTest : public HerdTest {};

TEST_F(StreamsTest, PullSourceWithTimersIsReadToTheEnd) {
  ProcResult r;
  json exp = run_export(R"JS(
import { check } from 'k6';
import { ReadableStream } from 'k6/experimental/streams';
import streams from 'k6/experimental/streams';
export const options = { iterations: 1 };
export default async function () {
  const log = [];
  let n = 0;
  const stream = new ReadableStream({
    start(controller) { log.push('start'); controller.enqueue('a'); },
    pull(controller) {
      log.push('pull');
      return new Promise((resolve) => setTimeout(() => {
        n++;
        if (n <= 3) controller.enqueue('p' + n); else controller.close();
        resolve();
      }, 5));
    },
  });
  const reader = stream.getReader();
  const chunks = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  const after = await reader.read();
  let closed = false;
  await reader.closed.then(() => { closed = true; });
  check(null, {
    'default export has the class': () => streams.ReadableStream === ReadableStream,
    'chunks in order': () => chunks.join() === 'a,p1,p2,p3',
    'start ran first, once': () => log[0] === 'start' && log.filter((x) => x === 'start').length === 1,
    'pull ran once per chunk plus the close': () => log.filter((x) => x === 'pull').length === 4,
    'read after close is done': () => after.done === true && after.value === undefined,
    'closed promise resolves': () => closed,
    'locked while the reader holds it': () => stream.locked === true,
  });
  reader.releaseLock();
  check(null, { 'unlocked after releaseLock': () => stream.locked === false });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 8);
}

TEST_F(StreamsTest, QueuingStrategiesBoundHowFarPullRunsAhead) {
  ProcResult r;
  json exp = run_export(R"JS(
import { check } from 'k6';
import { ReadableStream, CountQueuingStrategy, ByteLengthQueuingStrategy } from 'k6/experimental/streams';
export const options = { iterations: 1 };
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));
export default async function () {
  let pulls = 0;
  const counted = new ReadableStream({ pull(c) { pulls++; c.enqueue(pulls); } }, new CountQueuingStrategy({ highWaterMark: 3 }));
  await tick();
  const pullsBeforeReading = pulls;
  const reader = counted.getReader();
  const first = await reader.read();
  await tick();

  let bytePulls = 0;
  let sizes = [];
  const bytes = new ReadableStream({
    start(c) { c.enqueue(new Uint8Array(4)); c.enqueue(new Uint8Array(4)); sizes.push(c.desiredSize); },
    pull(c) { bytePulls++; c.enqueue(new Uint8Array(1)); },
  }, new ByteLengthQueuingStrategy({ highWaterMark: 10 }));
  await tick();

  let zeroPulls = 0;
  const zero = new ReadableStream({ pull(c) { zeroPulls++; c.enqueue('x'); } }, { highWaterMark: 0 });
  await tick();
  const zeroBefore = zeroPulls;
  const z = await zero.getReader().read();

  const custom = new ReadableStream({ start(c) { c.enqueue('abcd'); sizes.push(c.desiredSize); } },
    { highWaterMark: 10, size: (chunk) => chunk.length });
  check(null, {
    'count strategy fills the queue to highWaterMark before any read': () => pullsBeforeReading === 3,
    'a read makes room for one more pull': () => first.value === 1 && pulls === 4,
    'strategy objects expose highWaterMark and size': () => new CountQueuingStrategy({ highWaterMark: 7 }).highWaterMark === 7 &&
      new CountQueuingStrategy({ highWaterMark: 1 }).size('anything') === 1 &&
      new ByteLengthQueuingStrategy({ highWaterMark: 1 }).size(new Uint8Array(5)) === 5,
    'byte length strategy counts bytes': () => sizes[0] === 2 && bytePulls === 2,
    'highWaterMark 0 pulls only when read': () => zeroBefore === 0 && z.value === 'x' && zeroPulls >= 1,
    'size function sets desiredSize': () => sizes[1] === 6,
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 6);
}

TEST_F(StreamsTest, CancelErrorsAndLocksBehaveAsTheStandardSays) {
  ProcResult r;
  json exp = run_export(R"JS(
import { check } from 'k6';
import { ReadableStream, ReadableStreamDefaultReader } from 'k6/experimental/streams';
export const options = { iterations: 1 };
async function rejection(p) { try { await p; return 'fulfilled'; } catch (e) { return e; } }
function thrown(f) { try { f(); return 'nothing'; } catch (e) { return e; } }
export default async function () {
  let cancelReason;
  const s1 = new ReadableStream({ start(c) { c.enqueue(1); }, cancel(reason) { cancelReason = reason; } });
  const r1 = new ReadableStreamDefaultReader(s1);
  const secondReader = thrown(() => s1.getReader());
  const streamCancelWhileLocked = await rejection(s1.cancel('x'));
  await r1.cancel('enough');
  const afterCancel = await r1.read();

  const s2 = new ReadableStream({ start(c) { c.error(new Error('broken source')); } });
  const r2 = s2.getReader();
  const readErr = await rejection(r2.read());
  const closedErr = await rejection(r2.closed);

  const s3 = new ReadableStream({ pull() { throw new Error('pull failed'); } });
  const pullErr = await rejection(s3.getReader().read());

  const s4 = new ReadableStream({ start(c) { c.close(); } });
  const r4 = s4.getReader();
  const done4 = await r4.read();

  const s5 = new ReadableStream({});
  const r5 = s5.getReader();
  const pending = r5.read();
  r5.releaseLock();
  const releasedErr = await rejection(pending);
  const readReleased = await rejection(r5.read());
  const r5b = s5.getReader();

  let controller;
  const s6 = new ReadableStream({ start(c) { controller = c; } });
  controller.close();
  const enqueueClosed = thrown(() => controller.enqueue('late'));
  const closeClosed = thrown(() => controller.close());

  const badStrategy = thrown(() => new ReadableStream({}, { highWaterMark: -1 }));
  const bytes = thrown(() => new ReadableStream({ type: 'bytes' }));
  const byob = thrown(() => new ReadableStream({}).getReader({ mode: 'byob' }));
  const startThrows = thrown(() => new ReadableStream({ start() { throw new Error('start failed'); } }));
  const direct = thrown(() => new (Object.getPrototypeOf(controller).constructor)());
  check(null, {
    'a locked stream refuses a second reader': () => secondReader instanceof TypeError,
    'stream.cancel rejects while locked': () => streamCancelWhileLocked instanceof TypeError,
    'cancel reaches the source and ends reads': () => cancelReason === 'enough' && afterCancel.done === true,
    'controller.error rejects read and closed': () => readErr.message === 'broken source' && closedErr.message === 'broken source',
    'a throwing pull errors the stream': () => pullErr.message === 'pull failed',
    'closed stream reads done': () => done4.done === true && s4.locked,
    'releaseLock rejects pending reads and later reads': () => releasedErr instanceof TypeError && readReleased instanceof TypeError && r5b !== r5,
    'enqueue and close after close throw': () => enqueueClosed instanceof TypeError && closeClosed instanceof TypeError,
    'negative highWaterMark is a RangeError': () => badStrategy instanceof RangeError,
    'byte streams and BYOB readers are refused by name': () => bytes instanceof RangeError && /not supported by herd/.test(bytes.message) &&
      byob instanceof RangeError && /BYOB/.test(byob.message),
    'start throwing throws from the constructor': () => startThrows.message === 'start failed',
    'the controller cannot be constructed': () => direct instanceof TypeError,
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 12);
}

}  // namespace
}  // namespace herd::it
