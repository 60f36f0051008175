// Bench for the Kafka path (issues 4 and 14), against a real broker on loopback (test/env/kafka.ts):
//  - the node side (issue 14: ≥ 200k events/s): events/s through EventSink.write() of the Kafka sink until the
//    broker acknowledged everything (flush), with the real log's SECCOMP records enriched as one recorded
//    container's (folded into tuples by the node-side dedup), and as an unrecorded container's with the rate
//    limit lifted (one full event per message: the sink's worst case);
//  - recording messages/s the aggregator consumes (issue 14: ≥ 100k/s; producer → broker → aggregator, one
//    tuple per message, the aggregator's worst case), timed from its group join to its last message (and also
//    with the join, as measured before);
//  - events/s from sink.write() through the node-side dedup, the producer, the broker and the aggregator to
//    the written profiles (the recording path end to end);
//  - the message count reduction of node-side dedup on a real recording: the SECCOMP records of the bench's
//    real auditd log (test/bench/genlog.sh), attributed to one recorded container.
// Wall-clock rates depend on what else runs on the machine; each rate also has this process's CPU time per
// event or message (process.cpuUsage), the figure that says what one core would sustain.
// It prints figures and asserts nothing. Standalone: `npx tsc -p . && flock -s /var/cache/auditflow/rig-share.lock
// node dist/test/bench/kafka-path.js` (the lock: the broker is part of the shared test rig).

import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { isRecord, parseLine } from '../../parsers';
import { Aggregator, StaticRecordingSource } from '../../src/aggregate';
import type { RecordingSpec } from '../../src/profile/recording';
import { ProfileDirectory } from '../../src/recording/profile-dir';
import { eventFromRecord, type EventV1 } from '../../src/event/v1';
import { createLogger } from '../../src/log';
import { createKafkaSink } from '../../src/sink/kafka';
import { ensureKafka } from '../env/kafka';
import { container, pod, seccompEvent } from '../env/kafka/helpers';

const ROOT = path.resolve(__dirname, '../../..');

export interface KafkaPathResult {
  broker: string;
  endToEnd: { events: number; containers: number; seconds: number; eventsPerSecond: number };
  aggregatorMessages: { messages: number; seconds: number; messagesPerSecond: number; secondsWithJoin: number; cpuMicrosPerMessage: number };
  sink: { recorded: SinkRun; full: SinkRun };
  dedup: { source: string; events: number; messages: number; ratio: number; intervalMs: number };
}

/** One run of events through the node's Kafka sink until the broker acknowledged them. */
interface SinkRun {
  events: number;
  messages: number;
  seconds: number;
  eventsPerSecond: number;
  /** CPU time of this process (user + system, all threads) per event: what the wall figure means on a quiet core. */
  cpuMicrosPerEvent: number;
}

const SYSCALLS: Array<[string, number]> = [
  ['read', 0], ['write', 1], ['close', 3], ['fstat', 5], ['lseek', 8], ['mmap', 9], ['mprotect', 10], ['munmap', 11], ['brk', 12],
  ['rt_sigaction', 13], ['rt_sigprocmask', 14], ['ioctl', 16], ['pread64', 17], ['access', 21], ['pipe', 22], ['select', 23],
  ['sched_yield', 24], ['madvise', 28], ['dup', 32], ['dup2', 33], ['nanosleep', 35], ['getpid', 39], ['socket', 41], ['connect', 42],
  ['sendto', 44], ['recvfrom', 45], ['clone', 56], ['fork', 57], ['execve', 59], ['exit', 60], ['wait4', 61], ['kill', 62],
  ['uname', 63], ['fcntl', 72], ['getcwd', 79], ['openat', 257], ['newfstatat', 262], ['futex', 202], ['epoll_wait', 232], ['getrandom', 318],
];

async function until(what: string, cond: () => boolean, timeoutMs: number, pollMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

function realLogSlice(): string {
  const cache = process.env.AUDITFLOW_CACHE || '/var/cache/auditflow';
  const slice = path.join(cache, 'bench', 'audit-600k.head50k.log');
  if (fs.existsSync(slice)) return slice;
  execFileSync('bash', [path.join(ROOT, 'test/bench/genlog.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  const full = path.join(cache, 'bench', 'audit-600k.log');
  const head = fs.readFileSync(full, 'utf8').split('\n').slice(0, 50_000).join('\n') + '\n';
  fs.writeFileSync(slice, head);
  return slice;
}

export async function benchKafkaPath(): Promise<KafkaPathResult> {
  const log = createLogger('bench-kafka');
  log.level = 'error';
  const broker = await ensureKafka();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-bench-kafka-'));
  try {
    // 1. end to end: 50 recorded containers × 4000 events, then their end markers, until all profiles are final
    const containers = 50;
    const perContainer = 4000;
    const topics = { events: 'bench.events', recordings: 'bench.recordings' };
    const profileDir = path.join(tmp, 'profiles');
    const source = new StaticRecordingSource([{ name: 'bench', namespace: null, kind: 'SeccompProfile', podSelector: { matchLabels: { bench: 'yes' } }, mergeStrategy: 'none' }]);
    const agg = new Aggregator({ brokers: broker.brokers, group: 'bench', recordingsTopic: topics.recordings, source, sink: new ProfileDirectory(profileDir) }, log);
    await agg.start();
    await agg.ready();
    const sink = await createKafkaSink({ brokers: broker.brokers, node: 'bench-node', topics, spoolDir: path.join(tmp, 'spool'), dedupIntervalMs: 1000 }, log);
    const work = Array.from({ length: containers }, (_, i) => ({ c: container(`app${i}`), p: pod(`app${i}-5d8f7c-b${String(i).padStart(4, '0')}`, { bench: 'yes' }) }));
    const batches: EventV1[][] = [];
    let serial = 0;
    for (let k = 0; k < perContainer; k += 40) {
      const batch: EventV1[] = [];
      for (const w of work) for (let j = 0; j < 40; j++) {
        const [name, nr] = SYSCALLS[(k + j) % SYSCALLS.length]!;
        batch.push(seccompEvent(++serial, name, nr, w.c, w.p));
      }
      batches.push(batch);
    }
    const t0 = process.hrtime.bigint();
    for (const b of batches) await sink.write(b);
    for (const w of work) await sink.containerEnded!({ container: w.c, pod: w.p, at: new Date().toISOString(), reason: 'exited' });
    await sink.flush();
    await until('every final profile', () => fs.existsSync(profileDir) && fs.readdirSync(profileDir).filter((f) => f.endsWith('.evidence.json')).length === containers && agg.stats().ended === containers, 300_000);
    const e2eSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    await sink.close();
    await agg.stop();

    // 2. aggregator consumption: recording messages of one tuple each produced straight to the topic,
    // compressed as the node sink sends them (gzip, its default)
    const n = 200_000;
    const topic2 = 'bench2.recordings';
    const kafka = new Kafka({ clientId: 'bench', brokers: broker.brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < n; i += 2000) {
      const messages = [];
      for (let j = i; j < i + 2000; j++) {
        const w = work[j % containers]!;
        const [name, nr] = SYSCALLS[j % SYSCALLS.length]!;
        const value = {
          schema: 'auditflow.recording/v1', type: 'tuples', node: 'bench-node', epoch: 'e', container: w.c, pod: w.p,
          seccomp: [{ arch: 'x86_64', syscall: name, nr, action: 'log', count: j + 1, firstSeen: '2026-11-23T10:00:00.000Z', lastSeen: '2026-11-23T10:00:01.000Z', exe: '/bin/app' }],
          avc: [],
        };
        messages.push({ key: `default/${w.c.name}`, value: JSON.stringify(value), headers: { 'auditflow-schema': 'auditflow.recording/v1', 'auditflow-node': 'bench-node' } });
      }
      await producer.send({ topic: topic2, acks: -1, compression: CompressionTypes.GZIP, messages });
    }
    await producer.disconnect();
    const agg2 = new Aggregator({ brokers: broker.brokers, group: `bench2-${randomUUID()}`, recordingsTopic: topic2, source, sink: new ProfileDirectory(path.join(tmp, 'p2')) }, log);
    const t1 = process.hrtime.bigint();
    // from the group join (polled every 5 ms, from before start(): consumption begins inside it) to the last
    // message; the first fetch is in it, the join is not (a consumer's batch is ~45k of these messages, so
    // timing from the first consumed message would leave a quarter of the work out)
    let tFirst = 0n;
    let firstCount = 0;
    let cpuFirst = process.cpuUsage();
    const joined = until('the group join', () => agg2.stats().assigned.length > 0, 300_000, 5).then(() => {
      tFirst = process.hrtime.bigint();
      cpuFirst = process.cpuUsage();
      firstCount = agg2.stats().messages;
    });
    await agg2.start();
    await joined;
    await until(`${n} messages consumed`, () => agg2.stats().messages >= n, 300_000, 5);
    const tLast = process.hrtime.bigint();
    const aggCpu = process.cpuUsage(cpuFirst);
    const aggSeconds = Number(tLast - tFirst) / 1e9;
    const aggSecondsWithJoin = Number(tLast - t1) / 1e9;
    const aggMessages = n - firstCount;
    await agg2.stop();

    // 3. dedup on a real recording: the log's SECCOMP records as one recorded container's events
    const slice = realLogSlice();
    const c = container('recorded');
    const p = pod('recorded-6b7d9-qx2mz', { app: 'recorded' });
    const events: EventV1[] = [];
    for (const line of fs.readFileSync(slice, 'utf8').split('\n')) {
      const r = parseLine(line);
      if (!isRecord(r) || r.type !== 'SECCOMP') continue;
      const ev = eventFromRecord(r, { node: 'bench-node', file: slice, raw: false });
      ev.container = c;
      ev.pod = p;
      ev.enrichment = 'resolved';
      events.push(ev);
    }
    const intervalMs = 1000;
    const dsink = await createKafkaSink({ brokers: broker.brokers, node: 'bench-node', topics: { events: 'bench3.events', recordings: 'bench3.recordings' }, spoolDir: path.join(tmp, 'spool3'), dedupIntervalMs: intervalMs }, log);
    for (let i = 0; i < events.length; i += 1024) await dsink.write(events.slice(i, i + 1024));
    await dsink.containerEnded!({ container: c, pod: p, at: new Date().toISOString(), reason: 'exited' });
    await dsink.flush();
    const st = dsink.stats();
    await dsink.close();
    const recordable = st.dedupEvents;
    const messages = st.tupleMessages + st.eventMessages;

    // 4. the node side: the same events through sink.write() in the pipeline's batches until the broker acked
    // them, as a recorded container's (× 8: a steady recording, every tuple known after the first pass) and as
    // an unrecorded one's with the rate limit lifted (a full event per message)
    const sinkRun = async (name: string, evs: EventV1[], repeat: number, extra: { recordings?: RecordingSpec[]; eventsPerSecond?: number }): Promise<SinkRun> => {
      const s = await createKafkaSink({ brokers: broker.brokers, node: 'bench-node', topics: { events: `${name}.events`, recordings: `${name}.recordings` }, spoolDir: path.join(tmp, `spool-${name}`), dedupIntervalMs: intervalMs, ...extra }, log);
      // one warm-up batch: connects the producer and creates the topics, which the figure is not about
      await s.write(evs.slice(0, 1024));
      await s.flush();
      const before = s.stats();
      const t = process.hrtime.bigint();
      const cpu = process.cpuUsage();
      for (let k = 0; k < repeat; k++) for (let i = 0; i < evs.length; i += 1024) await s.write(evs.slice(i, i + 1024));
      await s.flush();
      const seconds = Number(process.hrtime.bigint() - t) / 1e9;
      const used = process.cpuUsage(cpu);
      const after = s.stats();
      await s.close();
      const sent = after.tupleMessages + after.eventMessages - before.tupleMessages - before.eventMessages;
      return { events: evs.length * repeat, messages: sent, seconds, eventsPerSecond: (evs.length * repeat) / seconds, cpuMicrosPerEvent: (used.user + used.system) / (evs.length * repeat) };
    };
    const recordedRun = await sinkRun('bench4', events, 8, {});
    const c5 = container('unrecorded');
    const p5 = pod('unrecorded-7c9f8-k2v4p', { app: 'unrecorded' });
    const unrecorded = events.map((ev) => ({ ...ev, container: c5, pod: p5 }));
    const notThisPod: RecordingSpec = { name: 'other', namespace: null, kind: 'SeccompProfile', podSelector: { matchLabels: { app: 'other' } }, mergeStrategy: 'none' };
    const fullRun = await sinkRun('bench5', unrecorded, 2, { recordings: [notThisPod], eventsPerSecond: 1e12 });
    const total = containers * perContainer;
    return {
      broker: `Apache Kafka ${broker.version} (KRaft, one node, loopback)`,
      endToEnd: { events: total, containers, seconds: e2eSeconds, eventsPerSecond: total / e2eSeconds },
      sink: { recorded: recordedRun, full: fullRun },
      aggregatorMessages: { messages: aggMessages, seconds: aggSeconds, messagesPerSecond: aggMessages / aggSeconds, secondsWithJoin: aggSecondsWithJoin, cpuMicrosPerMessage: (aggCpu.user + aggCpu.system) / aggMessages },
      dedup: { source: `${path.basename(slice)} (${events.length} SECCOMP records, ${recordable} recordable)`, events: events.length, messages, ratio: events.length / Math.max(1, messages), intervalMs },
    };
  } finally {
    await broker.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function formatKafkaPath(r: KafkaPathResult): string {
  return [
    `Kafka path (${r.broker}):`,
    `  node side, EventSink.write() → broker acked, ${r.dedup.source.split(' ')[0]} SECCOMP events:`,
    `    recorded container (folded into tuples): ${Math.round(r.sink.recorded.eventsPerSecond).toLocaleString('en')} events/s (${r.sink.recorded.events.toLocaleString('en')} events → ${r.sink.recorded.messages} messages in ${r.sink.recorded.seconds.toFixed(2)} s; ${r.sink.recorded.cpuMicrosPerEvent.toFixed(2)} µs CPU an event)`,
    `    unrecorded container, rate limit lifted (one message per event): ${Math.round(r.sink.full.eventsPerSecond).toLocaleString('en')} events/s (${r.sink.full.events.toLocaleString('en')} events in ${r.sink.full.seconds.toFixed(2)} s; ${r.sink.full.cpuMicrosPerEvent.toFixed(1)} µs CPU an event)`,
    `  producer → broker → aggregator, recording path end to end: ${Math.round(r.endToEnd.eventsPerSecond).toLocaleString('en')} events/s ` +
      `(${r.endToEnd.events.toLocaleString('en')} events of ${r.endToEnd.containers} containers to final profiles in ${r.endToEnd.seconds.toFixed(2)} s)`,
    `  aggregator consumption: ${Math.round(r.aggregatorMessages.messagesPerSecond).toLocaleString('en')} recording messages/s (one tuple each, gzip; ` +
      `${r.aggregatorMessages.messages.toLocaleString('en')} from the group join to the last in ${r.aggregatorMessages.seconds.toFixed(2)} s; ${r.aggregatorMessages.secondsWithJoin.toFixed(2)} s with the group join; ${r.aggregatorMessages.cpuMicrosPerMessage.toFixed(1)} µs CPU a message)`,
    `  node-side dedup on a real recording: ${r.dedup.events.toLocaleString('en')} events → ${r.dedup.messages} messages (${Math.round(r.dedup.ratio).toLocaleString('en')}:1; ${r.dedup.source}; interval ${r.dedup.intervalMs} ms)`,
  ].join('\n');
}

if (require.main === module) {
  benchKafkaPath().then(
    (r) => {
      process.stdout.write(formatKafkaPath(r) + '\n');
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`kafka-path bench failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
