// The Kafka publisher's spool replay of many small messages against a real broker (test/env/kafka.ts): while
// the broker is SIGKILLed, 60,000 small messages are spooled; once it is back every one of them arrives, in
// the order published. Replay sends at most 2,000 messages at a time: one send of all of them (1 MiB of small
// values) is encoded synchronously by kafkajs and held the event loop, and every other sink with it, for
// minutes on this machine.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { createLogger } from '../../src/log';
import { createKafka } from '../../src/kafka/client';
import { Publisher } from '../../src/sink/kafka/publisher';
import { Spool, type WireMessage } from '../../src/sink/kafka/spool';
import { ensureKafka, type KafkaBroker } from '../env/kafka';
import { readTopic } from '../env/kafka/helpers';

const log = createLogger('test-kafka-publisher');
log.level = 'warn';

let broker: KafkaBroker;
let tmp: string;

before(async () => {
  broker = await ensureKafka();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-publisher-'));
});

after(async () => {
  await broker?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('60,000 small messages spooled during an outage: all replayed once the broker is back, in order', { timeout: 600_000 }, async () => {
  const topic = 'replay.small';
  const spool = await Spool.open(path.join(tmp, 'spool'), 256 << 20, log);
  const pub = new Publisher(createKafka({ brokers: broker.brokers }, log), spool, { lingerMs: 5, maxBatchBytes: 1 << 20, compression: 'gzip', sendTimeoutMs: 2000 }, log);
  const msg = (n: number): WireMessage => ({ topic, key: 'one-key', headers: {}, value: String(n) });
  try {
    await pub.publish([msg(0)]);
    await broker.kill();
    const total = 60_000;
    for (let n = 1; n < total; n += 1000) {
      const batch: WireMessage[] = [];
      for (let i = n; i < Math.min(total, n + 1000); i++) batch.push(msg(i));
      await pub.publish(batch);
    }
    assert.equal(pub.degraded, true, 'the messages went to the spool');
    assert.ok(spool.bytes > 0);
    await broker.restart();
    assert.equal(await pub.drained(300_000), true, 'the spool drains once the broker is back');
    const got = await readTopic(broker.brokers, topic, (m) => new Set(m.map((r) => r.value)).size >= total, 300_000);
    const firsts: number[] = [];
    const seen = new Set<number>();
    for (const r of got) {
      const v = Number(r.value);
      if (!seen.has(v)) firsts.push(v);
      seen.add(v);
    }
    assert.equal(seen.size, total, `${total - seen.size} messages missing`);
    // one key, one partition: the first copy of each message comes in the order it was published
    assert.deepEqual(firsts, Array.from({ length: total }, (_, i) => i));
  } finally {
    await pub.close();
  }
});
