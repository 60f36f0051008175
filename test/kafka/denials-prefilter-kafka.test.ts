// `auditflow denials` over the events topic skips logged SECCOMP messages from their bytes, unparsed, as it
// does for files (test/cli/denials-prefilter.test.ts). On the real broker, the lines of test/env/denials-lines.ts
// produced as messages (with a few of other schemas and garbage among them) must give the same rows and counts
// with the byte check as with every message parsed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { runQuery } from '../../src/denials/query';
import type { KafkaSourceOptions } from '../../src/denials/kafka-options';
import { createLogger } from '../../src/log';
import { assertSameBothWays, prefilterCorpus } from '../env/denials-lines';
import { ensureKafka, type KafkaBroker } from '../env/kafka';

let broker: KafkaBroker;
before(async () => {
  broker = await ensureKafka();
});
after(async () => {
  await broker?.stop();
});

test('denials from the events topic: logged SECCOMP messages skipped from their bytes give the same rows and counts as parsing every message', async () => {
  const corpus = prefilterCorpus();
  const topic = `denials-prefilter-${process.pid}`;
  const kafka = new Kafka({ clientId: 'prefilter-test', brokers: broker.brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const values = [...corpus.out, '{"schema":"someone.else/v3","x":1}', 'not json at all'];
  for (let i = 0; i < values.length; i += 100) {
    await producer.send({ topic, acks: -1, messages: values.slice(i, i + 100).map((value, j) => ({ key: `k${(i + j) % 3}`, value })) });
  }
  await producer.disconnect();

  const log = createLogger('test');
  log.level = 'error';
  const kafkaOpts: KafkaSourceOptions = { brokers: broker.brokers, topic, timeoutMs: 60_000 };
  const query = (parseAll: boolean) => runQuery({ files: [], kafka: kafkaOpts, filter: {}, parseAll }, log);
  const slow = await query(true);
  assertSameBothWays(corpus, slow, await query(false), 'kafka');
  assert.equal(slow.counts.kafka.inputs, values.length, 'every message read');

  // --all keeps logged events: nothing skipped
  const all = await runQuery({ files: [], kafka: kafkaOpts, filter: { all: true } }, log);
  assert.equal(all.counts.kafka.unparsed, 0);
  assert.equal(all.counts.kafka.inputs, values.length);
});
