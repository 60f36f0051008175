// Bench for the Kafka path (issue 4), against a real broker on loopback (test/env/kafka.ts):
//  - events/s from sink.write() through the node-side dedup, the producer, the broker and the aggregator to
//    the written profiles (the recording path end to end);
//  - recording messages/s the aggregator consumes (producer → broker → aggregator, no dedup in between);
//  - the message count reduction of node-side dedup on a real recording: the SECCOMP records of the bench's
//    real auditd log (test/bench/genlog.sh), attributed to one recorded container.
// It prints figures and asserts nothing. Standalone: `npm run build && node dist/test/bench/kafka-path.js`.

import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { isRecord, parseLine } from '../../parsers';
import { Aggregator, StaticRecordingSource } from '../../src/aggregate';
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
  aggregatorMessages: { messages: number; seconds: number; messagesPerSecond: number };
  dedup: { source: string; events: number; messages: number; ratio: number; intervalMs: number };
}

const SYSCALLS: Array<[string, number]> = [
  ['read', 0], ['write', 1], ['close', 3], ['fstat', 5], ['lseek', 8], ['mmap', 9], ['mprotect', 10], ['munmap', 11], ['brk', 12],
  ['rt_sigaction', 13], ['rt_sigprocmask', 14], ['ioctl', 16], ['pread64', 17], ['access', 21], ['pipe', 22], ['select', 23],
  ['sched_yield', 24], ['madvise', 28], ['dup', 32], ['dup2', 33], ['nanosleep', 35], ['getpid', 39], ['socket', 41], ['connect', 42],
  ['sendto', 44], ['recvfrom', 45], ['clone', 56], ['fork', 57], ['execve', 59], ['exit', 60], ['wait4', 61], ['kill', 62],
  ['uname', 63], ['fcntl', 72], ['getcwd', 79], ['openat', 257], ['newfstatat', 262], ['futex', 202], ['epoll_wait', 232], ['getrandom', 318],
];

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
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

    // 2. aggregator consumption: 20000 recording messages produced straight to the topic
    const n = 20_000;
    const topic2 = 'bench2.recordings';
    const kafka = new Kafka({ clientId: 'bench', brokers: broker.brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < n; i += 1000) {
      const messages = [];
      for (let j = i; j < i + 1000; j++) {
        const w = work[j % containers]!;
        const [name, nr] = SYSCALLS[j % SYSCALLS.length]!;
        const value = {
          schema: 'auditflow.recording/v1', type: 'tuples', node: 'bench-node', epoch: 'e', container: w.c, pod: w.p,
          seccomp: [{ arch: 'x86_64', syscall: name, nr, action: 'log', count: j + 1, firstSeen: '2026-11-23T10:00:00.000Z', lastSeen: '2026-11-23T10:00:01.000Z', exe: '/bin/app' }],
          avc: [],
        };
        messages.push({ key: `default/${w.c.name}`, value: JSON.stringify(value) });
      }
      await producer.send({ topic: topic2, acks: -1, messages });
    }
    await producer.disconnect();
    const agg2 = new Aggregator({ brokers: broker.brokers, group: `bench2-${randomUUID()}`, recordingsTopic: topic2, source, sink: new ProfileDirectory(path.join(tmp, 'p2')) }, log);
    const t1 = process.hrtime.bigint();
    await agg2.start();
    await until('20000 messages consumed', () => agg2.stats().messages >= n, 300_000);
    const aggSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
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
    const total = containers * perContainer;
    return {
      broker: `Apache Kafka ${broker.version} (KRaft, one node, loopback)`,
      endToEnd: { events: total, containers, seconds: e2eSeconds, eventsPerSecond: total / e2eSeconds },
      aggregatorMessages: { messages: n, seconds: aggSeconds, messagesPerSecond: n / aggSeconds },
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
    `  producer → broker → aggregator, recording path end to end: ${Math.round(r.endToEnd.eventsPerSecond).toLocaleString('en')} events/s ` +
      `(${r.endToEnd.events.toLocaleString('en')} events of ${r.endToEnd.containers} containers to final profiles in ${r.endToEnd.seconds.toFixed(2)} s)`,
    `  aggregator consumption: ${Math.round(r.aggregatorMessages.messagesPerSecond).toLocaleString('en')} recording messages/s (${r.aggregatorMessages.messages} in ${r.aggregatorMessages.seconds.toFixed(2)} s, incl. group join)`,
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
