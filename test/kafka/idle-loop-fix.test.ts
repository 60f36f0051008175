// kafkajs 2.2.4's request queue polls every idle broker connection once a millisecond (src/kafka/idle-loop-fix.ts).
// On the real broker: a connected producer that has sent once and then idles checks its queue hundreds of
// times a second with plain kafkajs (a child process), and not at all with the fix; a request held back by a
// client-side throttle still goes out when the throttle ends, and one behind the in-flight limit when the
// request before it is answered (what the removed polling could have been relied on for).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { idleLoopFixState, installIdleLoopFix } from '../../src/kafka/idle-loop-fix';
import { createKafka } from '../../src/kafka/client';
import { kafkajsRoot } from '../../src/kafka/kafkajs-internals';
import { createLogger } from '../../src/log';
import { ensureKafka, type KafkaBroker } from '../env/kafka';

const ROOT = path.resolve(kafkajsRoot(), '../..');
const FIX = path.resolve(__dirname, '../../src/kafka/idle-loop-fix.js');

let broker: KafkaBroker;
before(async () => {
  broker = await ensureKafka();
});
after(async () => {
  await broker?.stop();
});

/** Checks of the request queue during 1 s of an idle, connected producer, in a child process (`fix`: with the fix). */
function idleChecks(fix: boolean): number {
  const script = `
    ${fix ? `if (require(${JSON.stringify(FIX)}).installIdleLoopFix() !== true) throw new Error('not installed');` : ''}
    const RequestQueue = require('kafkajs/src/network/requestQueue/index.js');
    const { Kafka, logLevel } = require('kafkajs');
    let checks = 0;
    const check = RequestQueue.prototype.checkPendingRequests;
    RequestQueue.prototype.checkPendingRequests = function () { checks++; return check.call(this); };
    (async () => {
      const p = new Kafka({ brokers: ${JSON.stringify(broker.brokers)}, logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      await p.send({ topic: 'idle-loop', messages: [{ value: 'x' }] });
      await new Promise((r) => setTimeout(r, 300));
      checks = 0;
      await new Promise((r) => setTimeout(r, 1000));
      const n = checks;
      await p.disconnect();
      console.log(n);
    })().catch((e) => { console.error(e); process.exit(1); });`;
  return Number(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 }).trim());
}

test('an idle connection: kafkajs 2.2.4 polls its request queue every millisecond, the fix not at all', () => {
  const plain = idleChecks(false);
  const fixed = idleChecks(true);
  assert.ok(plain > 200, `plain kafkajs checks its idle queue hundreds of times a second (${plain}): if not, this kafkajs no longer needs the fix`);
  assert.ok(fixed <= 2, `with the fix an idle queue is not polled (${fixed} checks in 1 s)`);
});

test('with the fix, requests held back by a throttle or the in-flight limit still go out', { timeout: 90_000 }, async () => {
  const kafka = createKafka({ brokers: broker.brokers }, createLogger('test'));
  assert.equal(idleLoopFixState(), true, 'createKafka installs it');
  assert.equal(installIdleLoopFix(), true);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic: 'idle-loop-2', messages: [{ value: '0' }] });
  // the producer's request queues, met as they take a request (kafkajs internals, as the fix itself)
  const RequestQueue = require(path.join(kafkajsRoot(), 'src/network/requestQueue/index.js')) as { prototype: { push(r: unknown): void } };
  const queues: Array<{ maybeThrottle(ms: number): void; pending: unknown[] }> = [];
  const push = RequestQueue.prototype.push;
  RequestQueue.prototype.push = function (this: { maybeThrottle(ms: number): void; pending: unknown[] }, r: unknown) {
    if (!queues.includes(this)) queues.push(this);
    return push.call(this, r);
  };
  try {
    await producer.send({ topic: 'idle-loop-2', messages: [{ value: '1' }] });
    assert.ok(queues.length > 0, 'the request went through a request queue');
    // a client-side throttle (as a broker's throttle_time_ms sets it): the next requests wait in `pending`
    for (const q of queues) q.maybeThrottle(300);
    const sends = [2, 3, 4].map((i) => producer.send({ topic: 'idle-loop-2', messages: [{ value: String(i) }] }));
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(queues.some((q) => q.pending.length > 0), 'a request waits for the throttle to end');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('the held-back sends never went out')), 30_000)));
    await Promise.race([Promise.all(sends), deadline]).finally(() => clearTimeout(timer));
  } finally {
    RequestQueue.prototype.push = push;
    await producer.disconnect();
  }
  const consumer = kafka.consumer({ groupId: `idle-loop-${process.pid}` });
  await consumer.connect();
  await consumer.subscribe({ topic: 'idle-loop-2', fromBeginning: true });
  const got: string[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void got.push(message.value!.toString()) });
  const end = Date.now() + 60_000;
  while (got.length < 5 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  await consumer.disconnect();
  assert.deepEqual(got.sort(), ['0', '1', '2', '3', '4'], 'every message arrived (across partitions: no order to compare)');
});
