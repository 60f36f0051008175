// The consumer-side speedups (src/kafka/decode-speedups.ts) hand over exactly what kafkajs would:
//  - our record decoder against kafkajs's own, field for field and in how far each reads, on records written by
//    kafkajs's own encoder: every width of timestamp and offset delta, offsets and timestamps past 2^53, the
//    log-append time, control batches, null keys/values/header keys, repeated headers, headers named __proto__
//    or toString, malformed varlongs and truncated records (the same error);
//  - end to end on the real broker: gzip batches produced by kafkajs, consumed in this process (speedups
//    installed) and by a child process with plain kafkajs, give the same messages.
//  - a gzip bomb on the real broker (a valid batch, 200 MiB inflated): its records come out empty at their
//    offsets, counted once; the messages before and after it in the partition arrive, the consumer never crashes.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { installDecodeSpeedups, makeRecordDecoder, speedupsState } from '../../src/kafka/decode-speedups';
import { KAFKAJS_VERSION } from '../../src/kafka/kafkajs-internals';
import { registry } from '../../src/metrics';
import { ensureKafka, type KafkaBroker } from '../env/kafka';
import { poll } from '../env/kafka/helpers';

const ROOT = path.dirname(require.resolve('kafkajs/package.json'));
const RECORD_DECODER = path.join(ROOT, 'src/protocol/recordBatch/record/v0/decoder.js');
// kafkajs's own decoder, loaded before anything here installs ours in its place
// eslint-disable-next-line @typescript-eslint/no-require-imports
const theirs = require(RECORD_DECODER) as (d: unknown, ctx?: unknown) => unknown;
// (out of the module cache again: the end-to-end test installs ours there, which needs kafkajs's not loaded)
delete require.cache[RECORD_DECODER];
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Decoder = require(path.join(ROOT, 'src/protocol/decoder.js')) as new (b: Buffer) => { offset: number };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Encoder = require(path.join(ROOT, 'src/protocol/encoder.js')) as new () => Enc;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Long = require(path.join(ROOT, 'src/utils/long.js')) as { fromValue(v: unknown): unknown; MAX_VALUE: unknown; MIN_VALUE: unknown };
const ours = makeRecordDecoder() as unknown as (d: unknown, ctx?: unknown) => unknown;

interface Enc {
  writeInt8(v: number): Enc;
  writeVarLong(v: unknown): Enc;
  writeVarInt(v: number): Enc;
  writeVarIntBytes(v: Buffer | string | null): Enc;
  writeVarIntString(v: string | null): Enc;
  writeBuffer(b: Buffer): Enc;
  buffer: Buffer;
}

type Header = [string | null, Buffer | string | null];

function record(timestampDelta: unknown, offsetDelta: number, key: Buffer | null, value: Buffer | null, headers: Header[]): Buffer {
  const e = new Encoder().writeInt8(0).writeVarLong(timestampDelta).writeVarInt(offsetDelta).writeVarIntBytes(key).writeVarIntBytes(value).writeVarInt(headers.length);
  for (const [k, v] of headers) e.writeVarIntString(k).writeVarIntBytes(v);
  return e.buffer;
}

/** What a decoder makes of the bytes: its result and how far it read, or its error. */
function outcome(decode: (d: unknown, ctx?: unknown) => unknown, bytes: Buffer, ctx: unknown): unknown {
  const d = new Decoder(bytes);
  try {
    const r = decode(d, ctx);
    return { r, offset: d.offset };
  } catch (e) {
    return { error: (e as Error).constructor.name, message: (e as Error).message };
  }
}

function same(bytes: Buffer, ctx: unknown, what: string): void {
  assert.deepStrictEqual(outcome(ours, bytes, ctx), outcome(theirs, bytes, ctx), what);
}

test(`kafkajs is ${KAFKAJS_VERSION}, the version the record decoder matches (else the speedup is off, and this says so)`, () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  assert.equal((require(path.join(ROOT, 'package.json')) as { version: string }).version, KAFKAJS_VERSION);
});

test('the record decoder equals kafkajs\'s on every delta width, offsets and timestamps past 2^53, both timestamp types and control batches', () => {
  const deltas: unknown[] = [0, 1, -1, 63, -64, 64, 8191, -8192, 2 ** 20, -(2 ** 27), 2 ** 34, 2 ** 41 - 1, 2 ** 47 - 1, -(2 ** 47), 2 ** 47, 2 ** 48, -(2 ** 48) - 5, 2 ** 52, Long.fromValue('1152921504606846976'), Long.MAX_VALUE, Long.MIN_VALUE];
  const offsetDeltas = [0, 1, 63, 64, 127, 128, 16383, 2 ** 21, 2 ** 31 - 1, -1];
  const firsts = ['0', '7', '1764777600000', '999999999999999', '1000000000000000', '9007199254740993', '9223372036854775000', '-1', '-9007199254740993'];
  const contexts = (first: string): unknown[] => [
    { firstOffset: first, firstTimestamp: first, magicByte: 2, timestampType: 0, maxTimestamp: '1764777601234' },
    { firstOffset: first, firstTimestamp: '1764777600000', magicByte: 2, isControlBatch: true, timestampType: 1, maxTimestamp: '1764777601234' },
    { firstOffset: first, firstTimestamp: first, magicByte: 2, timestampType: 1, maxTimestamp: '' },
    { firstOffset: first, firstTimestamp: first, magicByte: 2, timestampType: -1 },
  ];
  let n = 0;
  for (const td of deltas)
    for (const od of offsetDeltas)
      for (const first of firsts)
        for (const ctx of contexts(first)) {
          same(record(td, od, Buffer.from('k'), Buffer.from('{"v":1}'), [['auditflow-schema', 'auditflow.recording/v1']]), ctx, `delta ${String(td)}, offset delta ${od}, first ${first}`);
          n++;
        }
  assert.ok(n > 7000, `${n} cases`);
});

test('the record decoder equals kafkajs\'s on keys, values and headers: null, empty, repeated, __proto__, toString, multibyte', () => {
  const ctx = { firstOffset: '42', firstTimestamp: '1764777600000', magicByte: 2, timestampType: 0 };
  const cases: Array<[Buffer | null, Buffer | null, Header[]]> = [
    [null, null, []],
    [Buffer.alloc(0), Buffer.alloc(0), []],
    [Buffer.from('key'), Buffer.from('value'), [['a', 'x']]],
    [Buffer.from('key'), Buffer.from('value'), [['a', 'x'], ['a', 'y']]],
    [Buffer.from('key'), Buffer.from('value'), [['a', 'x'], ['b', 'q'], ['a', 'y'], ['a', 'z']]],
    [Buffer.from('key'), Buffer.from('value'), [['__proto__', 'x']]],
    [Buffer.from('key'), Buffer.from('value'), [['__proto__', 'x'], ['__proto__', 'y'], ['polluted', 'p']]],
    [Buffer.from('key'), Buffer.from('value'), [['toString', 'x'], ['constructor', 'c'], ['hasOwnProperty', 'h']]],
    [Buffer.from('key'), Buffer.from('value'), [[null, 'x'], ['null', 'y']]],
    [Buffer.from('key'), Buffer.from('value'), [['a', null], ['a', null]]],
    [Buffer.from('kéy'), Buffer.from('välue ✓'), [['schlüssel', 'wert ✓'], ['1', 'one'], ['0', 'zero']]],
  ];
  for (const [k, v, h] of cases) {
    same(record(5, 3, k, v, h), ctx, JSON.stringify([k?.toString(), v?.toString(), h]));
    same(record(5, 3, k, v, h), {}, `no batch context: ${JSON.stringify(h)}`);
  }
  const r = ours(new Decoder(record(0, 0, null, null, [['__proto__', 'x']])), ctx) as { headers: object };
  assert.equal(Object.getPrototypeOf(r.headers), Object.prototype, 'a header named __proto__ is not the prototype');
});

test('the record decoder fails as kafkajs\'s does on malformed varlongs and truncated records', () => {
  const ctx = { firstOffset: '42', firstTimestamp: '1764777600000', magicByte: 2, timestampType: 0 };
  const good = record(300, 3, Buffer.from('key'), Buffer.from('value'), [['a', 'x']]);
  // a timestamp delta of 11 continuation bytes: kafkajs rejects a varlong over 9 bytes
  same(Buffer.concat([Buffer.from([0]), Buffer.alloc(11, 0xff), Buffer.from([1, 0, 0, 0, 0])]), ctx, 'overlong varlong');
  // 7 and 8 byte varlongs: the longest ours reads itself, and the first it leaves to kafkajs's reader
  same(Buffer.concat([Buffer.from([0]), Buffer.alloc(6, 0xff), Buffer.from([0x7f, 0, 0, 0, 0])]), ctx, '7-byte varlong');
  same(Buffer.concat([Buffer.from([0]), Buffer.alloc(7, 0xff), Buffer.from([0x7f, 0, 0, 0, 0])]), ctx, '8-byte varlong');
  for (let cut = 0; cut < good.length; cut++) same(good.subarray(0, cut), ctx, `cut at ${cut}`);
});

let broker: KafkaBroker;
before(async () => {
  broker = await ensureKafka();
});
after(async () => {
  await broker?.stop();
});

test('end to end on the real broker: gzip batches consumed with the speedups equal plain kafkajs\'s messages', async () => {
  const state = installDecodeSpeedups();
  assert.deepStrictEqual(state, { gzip: true, records: true }, 'both installed (the record decoder before kafkajs loaded its own)');
  assert.equal(speedupsState(), state);
  const topic = `speedups-${process.pid}`;
  const kafka = new Kafka({ clientId: 'speedups-test', brokers: broker.brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const sent = 3000;
  for (let i = 0; i < sent; i += 500) {
    const messages = [];
    for (let j = i; j < i + 500; j++) {
      const headers: Record<string, string | string[]> = { 'auditflow-schema': 'auditflow.recording/v1', n: String(j) };
      if (j % 7 === 0) headers.dup = ['a', 'b', 'c'];
      messages.push({ key: j % 5 === 0 ? null : `k${j}`, value: j % 11 === 0 ? null : JSON.stringify({ j, s: 'x'.repeat(j % 300) }), headers });
    }
    await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages });
  }
  await producer.disconnect();

  // plain kafkajs, in a process of its own (nothing of ours loaded)
  const script = `
    const { Kafka, logLevel } = require('kafkajs');
    (async () => {
      const c = new Kafka({ clientId: 'plain', brokers: ${JSON.stringify(broker.brokers)}, logLevel: logLevel.NOTHING }).consumer({ groupId: 'plain-${process.pid}' });
      await c.connect(); await c.subscribe({ topic: ${JSON.stringify(topic)}, fromBeginning: true });
      const out = [];
      await new Promise((resolve) => c.run({ eachMessage: async ({ partition, message: m }) => {
        out.push(JSON.stringify([partition, m.offset, m.timestamp, m.key && m.key.toString('base64'), m.value && m.value.toString('base64'), Object.entries(m.headers).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)])]));
        if (out.length === ${sent}) resolve();
      } }));
      await c.disconnect();
      process.stdout.write(out.join('\\n'));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const plain = execFileSync(process.execPath, ['-e', script], { cwd: path.resolve(ROOT, '../..'), encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 }).split('\n').sort();

  const got: string[] = [];
  const consumer = kafka.consumer({ groupId: `ours-${process.pid}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message: m }) => {
      got.push(JSON.stringify([partition, m.offset, m.timestamp, m.key && m.key.toString('base64'), m.value && m.value.toString('base64'), Object.entries(m.headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)])]));
    },
  });
  await poll(`${sent} messages consumed with the speedups`, () => got.length >= sent, 60_000);
  await consumer.disconnect();
  assert.equal(got.length, sent);
  assert.equal(plain.length, sent);
  // (partitions interleave differently in the two consumers: compared as sorted rows of partition, offset, …)
  got.sort();
  const differ = got.findIndex((row, i) => row !== plain[i]);
  assert.equal(differ, -1, differ < 0 ? '' : `first differing row:\n ours:  ${got[differ]!.slice(0, 300)}\n plain: ${plain[differ]!.slice(0, 300)}`);
  // it was our decoder that ran: the module cache holds it under kafkajs's path
  assert.ok(require.cache[RECORD_DECODER] && require.cache[RECORD_DECODER].exports !== theirs);
});

test('a gzip batch that inflates past the limit is handed out as empty records and counted; the consumer moves past it', async () => {
  assert.deepStrictEqual(installDecodeSpeedups(), { gzip: true, records: true });
  const topic = `bomb-${process.pid}`;
  const kafka = new Kafka({ clientId: 'bomb-test', brokers: broker.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  // a valid record batch (the broker checks that), ~200 KiB compressed, 200 MiB inflated: past the 128 MiB limit
  await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: [{ value: 'before' }] });
  await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: [{ value: Buffer.alloc(200 * 1024 * 1024) }, { value: Buffer.alloc(1024) }] });
  await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: [{ value: 'after' }] });
  await producer.disconnect();

  const refusedBefore = await refusedCount();
  const got: { offset: string; value: string | null; refused: string | undefined }[] = [];
  let crashed: Error | undefined;
  const consumer = kafka.consumer({ groupId: `bomb-${process.pid}`, maxWaitTimeInMs: 200 });
  consumer.on(consumer.events.CRASH, (e) => void (crashed = e.payload.error));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message: m }) => {
      got.push({ offset: m.offset, value: m.value && m.value.toString(), refused: m.headers?.['auditflow-refused']?.toString() });
    },
  });
  try {
    await poll('the four messages, the refused batch\'s two empty', () => got.length >= 4 || crashed !== undefined, 60_000);
  } finally {
    await consumer.disconnect();
  }
  assert.equal(crashed, undefined, `the consumer crashed: ${crashed?.message}`);
  assert.deepEqual(got.map((g) => [g.offset, g.value]), [['0', 'before'], ['1', null], ['2', null], ['3', 'after']]);
  assert.match(got[1]!.refused ?? '', /inflates past 134217728 bytes: refused/);
  assert.equal(got[2]!.refused, got[1]!.refused);
  assert.equal(await refusedCount(), refusedBefore + 1, 'one batch refused, counted once');
});

async function refusedCount(): Promise<number> {
  const m = registry.getSingleMetric('auditflow_kafka_inflate_refused_total');
  return m ? ((await m.get()).values[0]?.value ?? 0) : 0;
}
