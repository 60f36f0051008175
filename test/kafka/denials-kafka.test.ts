// `auditflow denials --kafka-brokers` against a real broker (test/env/kafka.ts): denials the real Kafka sink
// wrote to the events topic are found by pod, container, syscall and binary; the time window applies to
// the events' own time; garbage and other producers' messages are counted, rate-limit summaries reported;
// a query commits nothing; a dead broker or a missing topic is a clear error, fast.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { EventV1 } from '../../src/event/v1';
import { createLogger } from '../../src/log';
import { createKafkaSink } from '../../src/sink/kafka';
import { ROOT, runCli } from '../env/cli';
import { ensureKafka, type KafkaBroker } from '../env/kafka';
import { freePort } from '../env/net';
import { auditMark, readAuditSince, recordsForPid, runUnderSeccomp } from '../env/rig';

const log = createLogger('test-denials-kafka');
log.level = 'warn';

let broker: KafkaBroker;
let tmp: string;
let live: EventV1; // the EPERM denial made by this test, attributed to shop/web-1 container app
let fixtureDenials: EventV1[];
const TOPIC = 'q1.events';
const POD = { name: 'web-1', namespace: 'shop', uid: '7c1e2d3f-4a5b-4c6d-8e7f-901a2b3c4d5e', labels: { app: 'web' } };
const CTR = { id: 'ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12', name: 'app', runtime: 'containerd', image: 'localhost/busybox:cri-test' };

function parseEvents(files: string[]): EventV1[] {
  const r = runCli(['parse', '--events', '--node', 'node-a', ...files]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as EventV1);
}

function query(args: string[]): { code: number | null; out: EventV1[]; stdout: string; stderr: string } {
  const r = runCli(['denials', '--kafka-brokers', broker.brokers.join(','), ...args]);
  const out = r.code === 0 && !args.includes('table') ? r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as EventV1) : [];
  return { ...r, out };
}

let liveCount = 0;
const key = (e: EventV1) => `${e.timestamp}|${e.serial}|${e.type}`;

before(async () => {
  broker = await ensureKafka();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'af-denials-kafka-'));

  const mark = await auditMark();
  const run = await runUnderSeccomp(['/bin/busybox', 'mkdir', path.join(tmp, 'made')], { errno: 83 });
  assert.notEqual(run.exitCode, 0, `mkdir under --errno 83 must fail: ${run.stderr}`);
  const auditLog = path.join(tmp, 'audit.log');
  fs.writeFileSync(auditLog, recordsForPid(await readAuditSince(mark), run.pid).join('\n') + '\n');
  const liveEvents = parseEvents([auditLog]).map((e) => ({ ...e, pod: POD, container: CTR, enrichment: 'resolved' as const, enrichmentError: undefined }));
  const found = liveEvents.find((e) => e.action === 'errno' && e.syscall === 'mkdir');
  assert.ok(found, 'the live run wrote its errno denial');
  live = found;
  // what of the run reaches the events topic: not its SECCOMP log records (the sink sends those to the
  // recordings topic as tuples), but the denial and, when audit rules are in place, its SYSCALL records
  liveCount = liveEvents.filter((e) => !(e.kind === 'seccomp' && (e.action === 'log' || e.action === 'allow'))).length;

  // real denials of the fixtures (old timestamps), as host events of node-b
  fixtureDenials = parseEvents(['seccomp-auditd.log', 'apparmor.log'].map((f) => path.join(ROOT, 'fixtures/real', f))).filter(
    (e) => (e.kind === 'seccomp' && e.action !== 'log') || e.apparmor?.apparmor === 'DENIED',
  ).map((e) => ({ ...e, node: 'node-b', enrichment: 'host' as const }));

  // through the real sink: what a node agent sends
  const sink = await createKafkaSink({ brokers: broker.brokers, node: 'node-a', topics: { events: TOPIC, recordings: 'q1.recordings' }, spoolDir: path.join(tmp, 'spool'), recordings: [] }, log);
  await sink.write(liveEvents);
  await sink.write(fixtureDenials);
  await sink.close();

  // other traffic on the topic: garbage and another schema
  const kafka = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING });
  const p = kafka.producer();
  await p.connect();
  await p.send({ topic: TOPIC, messages: [{ value: 'not json' }, { value: '{"schema":"auditflow.event/v1","type":"SECCOMP"}' }, { value: JSON.stringify({ schema: 'someone.else/v3', hello: 1 }) }] });
  await p.disconnect();
});

after(async () => {
  await broker?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the denial this test made is found on the events topic by pod, container, syscall and binary', () => {
  const r = query(['--topic', TOPIC, '--namespace', 'shop', '--pod', 'web-1', '--container', 'app', '--syscall', 'mkdir']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.out.length, 1, r.stdout);
  const e = r.out[0]!;
  assert.equal(key(e), key(live));
  assert.equal(e.exe, '/usr/bin/busybox');
  assert.equal(e.pid, live.pid);
  assert.equal(e.action, 'errno');
  assert.equal(e.pod?.uid, POD.uid);
  assert.equal(e.container?.id, CTR.id);
});

test('without --topic, the events topic of the --kafka-config file the node uses is read', () => {
  // the node's own file (run --kafka-config), sink tuning included: one file for run, aggregate and denials
  const cfg = path.join(tmp, 'node-kafka.json');
  fs.writeFileSync(cfg, JSON.stringify({ clientId: 'auditflow', topics: { events: TOPIC, recordings: 'q1.recordings' }, lingerMs: 5, compression: 'gzip' }));
  const r = query(['--kafka-config', cfg, '--pod', 'web-1', '--syscall', 'mkdir']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.out.map(key), [key(live)]);
  // the client is the sink's (src/kafka/client.ts), which passes kafkajs's warnings on; the broker answers
  // kafkajs retries by itself (a coordinator still loading on this young broker) are no warning
  const kafkajsWarnings = r.stderr.split('\n').filter((l) => l.includes('"kafkajs"'));
  assert.deepEqual(kafkajsWarnings, [], 'a successful query logs no kafkajs warnings');
});

test('the window is on the events\' own time: the default 24h shows only the live denial, an old --since all', () => {
  const recent = query(['--topic', TOPIC]);
  assert.equal(recent.code, 0, recent.stderr);
  assert.deepEqual(recent.out.map(key), [key(live)], 'the fixtures are years old though their messages are new');
  const everything = query(['--topic', TOPIC, '--since', '2000-01-01']);
  assert.equal(everything.code, 0, everything.stderr);
  assert.deepEqual(everything.out.map(key).sort(), [live, ...fixtureDenials].map(key).sort());
  const y2010 = query(['--topic', TOPIC, '--since', '2010-01-01', '--until', '2011-01-01', '--node', 'node-b']);
  assert.deepEqual(y2010.out.map(key).sort(), fixtureDenials.filter((e) => e.timestamp.startsWith('2010-')).map(key).sort());
  assert.ok(y2010.out.length > 0);
});

test('garbage on the topic is counted and logged; other schemas are skipped quietly', () => {
  const r = query(['--topic', TOPIC, '--since', '2000-01-01', '-o', 'table']);
  assert.equal(r.code, 0, r.stderr);
  const n = fixtureDenials.length + 1;
  const read = fixtureDenials.length + liveCount;
  assert.match(r.stdout, new RegExp(`\\(${n} denials, ${read} events read, 3 garbage lines skipped\\)`));
  const logs = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const summary = logs.find((l) => l['garbage'] === 3);
  assert.ok(summary, r.stderr);
  assert.deepEqual(summary['reasons'], { 'not-json': 1, 'not-an-event': 1, 'other-schema': 1 });
  assert.ok(logs.some((l) => l['reason'] === 'not-json' && l['topic'] === TOPIC && typeof l['offset'] === 'string'));
  assert.ok(!logs.some((l) => l['reason'] === 'other-schema' && l['level'] === 40), 'another producer\'s schema is no warning');
});

test('a query commits nothing and leaves no consumer group behind', async () => {
  const a = query(['--topic', TOPIC, '--since', '2000-01-01']);
  const b = query(['--topic', TOPIC, '--since', '2000-01-01']);
  assert.equal(a.code, 0, a.stderr);
  assert.deepEqual(b.out.map(key), a.out.map(key), 'the second query reads the same range again');
  const admin = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    assert.deepEqual(groups.filter((g) => g.groupId.startsWith('auditflow-denials-')), []);
  } finally {
    await admin.disconnect();
  }
});

test('denials the node rate limit held back are reported, not silently missing', async () => {
  const topic = 'q2.events';
  const sink = await createKafkaSink(
    { brokers: broker.brokers, node: 'node-a', topics: { events: topic, recordings: 'q2.recordings' }, spoolDir: path.join(tmp, 'spool2'), recordings: [], eventsPerSecond: 1 },
    log,
  );
  const burst: EventV1[] = [];
  for (let i = 0; i < 10; i++) burst.push({ ...live, serial: live.serial + 1000 + i });
  await sink.write(burst);
  await sink.close();
  const r = query(['--topic', topic, '--pod', 'web-1', '-o', 'table']);
  assert.equal(r.code, 0, r.stderr);
  // burst 2 x 1/s: two sent as events, eight counted in a summary
  assert.match(r.stdout, /\(2 denials, 2 events read, 8 more held back by node rate limits, not shown\)/);
  const other = query(['--topic', topic, '--pod', 'db-0', '-o', 'table']);
  assert.match(other.stdout, /^\(0 denials, 2 events read\)$/m, 'summaries of other pods are not counted');
});

test('a missing topic, an unreachable broker and an empty window are handled without hanging', async () => {
  const missing = query(['--topic', 'no.such.topic']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /topic no\.such\.topic does not exist/);

  const port = await freePort();
  const t0 = Date.now();
  const down = runCli(['denials', '--kafka-brokers', `127.0.0.1:${port}`, '--timeout', '5s']);
  assert.equal(down.code, 1, down.stderr);
  assert.match(down.stderr, /auditflow denials: .*127\.0\.0\.1:\d+/);
  assert.ok(Date.now() - t0 < 30_000, 'gives up within its timeout');

  const future = query(['--topic', TOPIC, '--since', new Date(Date.now() + 3_600_000).toISOString(), '-o', 'table']);
  assert.equal(future.code, 0, future.stderr);
  assert.match(future.stdout, /^\(0 denials, 0 events read\)$/m);
});
