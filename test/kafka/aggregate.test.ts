// The aggregator against a real broker: malformed messages, merge strategies and SELinux, `auditflow
// explain`, and two `auditflow aggregate` processes sharing the partitions with one SIGKILLed mid-stream.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import { Aggregator, StaticRecordingSource } from '../../src/aggregate';
import { ProfileDirectory, type EvidenceFile } from '../../src/recording/profile-dir';
import { ensureTopic } from '../../src/aggregate/state-store';
import type { EventV1 } from '../../src/event/v1';
import { createLogger } from '../../src/log';
import type { RecordingSpec } from '../../src/profile/recording';
import { createKafkaSink } from '../../src/sink/kafka';
import { BIN, runCli } from '../env/cli';
import { ensureKafka, type KafkaBroker } from '../env/kafka';
import { avcEvent, container, pod, poll, seccompEvent } from '../env/kafka/helpers';

const log = createLogger('test-aggregate');
log.level = 'warn';

let broker: KafkaBroker;
let tmp: string;

before(async () => {
  broker = await ensureKafka();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-agg-'));
});

after(async () => {
  await broker?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const rec = (name: string, sel: Record<string, string>, extra: Partial<RecordingSpec> = {}): RecordingSpec => ({
  name,
  namespace: null,
  kind: 'SeccompProfile',
  podSelector: { matchLabels: sel },
  mergeStrategy: 'containers',
  ...extra,
});

async function createTopic(topic: string, partitions: number): Promise<void> {
  const admin = new Kafka({ clientId: 'test-admin', brokers: broker.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await ensureTopic(admin, topic, [], partitions);
  } finally {
    await admin.disconnect();
  }
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

describe('aggregator', () => {
  test('malformed messages are counted, skipped with a log line, their offsets committed; valid ones still make the profile', async () => {
    const topic = 'malformed.recordings';
    await createTopic(topic, 1);
    const kafka = new Kafka({ clientId: 'test', brokers: broker.brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const c = container('app');
    const p = pod('app-5f7b9-qwert', { app: 'demo' });
    const tuples = {
      schema: 'auditflow.recording/v1', type: 'tuples', node: 'n1', epoch: 'e1', container: c, pod: p,
      seccomp: [{ arch: 'x86_64', syscall: 'openat', nr: 257, action: 'log', count: 3, firstSeen: '2026-11-23T10:00:00.000Z', lastSeen: '2026-11-23T10:00:01.000Z', exe: '/bin/app' }],
      avc: [],
    };
    await producer.send({
      topic,
      messages: [
        { key: 'x', value: 'this is not JSON {' },
        { key: 'x', value: JSON.stringify({ schema: 'auditflow.recording/v0', type: 'tuples' }) },
        { key: 'x', value: JSON.stringify([1, 2, 3]) },
        { key: 'x', value: JSON.stringify({ ...tuples, seccomp: [{ syscall: 'read' }] }) },
        { key: 'x', value: null },
        { key: 'x', value: Buffer.from([0xff, 0xfe, 0x00, 0x01]) },
        { key: 'default/app', value: JSON.stringify(tuples) },
        { key: 'default/app', value: JSON.stringify({ schema: 'auditflow.recording/v1', type: 'end', node: 'n1', container: c, pod: p, at: '2026-11-23T10:00:02.000Z', reason: 'exited' }) },
      ],
    });
    await producer.disconnect();
    const dir = path.join(tmp, 'malformed');
    const lines: string[] = [];
    // the aggregator's own log lines, captured (pino JSON, as on stderr)
    const capture = pino({ level: 'warn' }, new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(chunk.toString('utf8')); cb(); } }));
    const agg = new Aggregator({ brokers: broker.brokers, group: 'malformed', recordingsTopic: topic, source: new StaticRecordingSource([rec('demo', { app: 'demo' })]), sink: new ProfileDirectory(dir) }, capture);
    try {
      await agg.start();
      const oci = await poll('the profile', () => readJson<{ syscalls: Array<{ names: string[] }> }>(path.join(dir, 'demo-app.json')), 60_000);
      assert.deepEqual(oci.syscalls[0]!.names, ['openat']);
      const admin = new Kafka({ clientId: 'test-admin', brokers: broker.brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      const committed = await poll('offsets committed to the end', async () => {
        const [o] = await admin.fetchOffsets({ groupId: 'malformed', topics: [topic] });
        const off = o!.partitions[0]!.offset;
        return off === '8' ? off : undefined;
      });
      await admin.disconnect();
      assert.equal(committed, '8');
      assert.equal(agg.stats().malformed, 6);
    } finally {
      await agg.stop();
    }
    const skipped = lines.filter((l) => l.includes('skipping a message that is not a recording message'));
    assert.equal(skipped.length, 6, 'one log line per skipped message');
    assert.ok(skipped.some((l) => l.includes('value is not JSON')));
    assert.ok(skipped.some((l) => l.includes('auditflow.recording/v0')));
  });

  test('merge strategies, SELinux profiles and `auditflow explain` from the evidence', async () => {
    const t = { events: 'merge.events', recordings: 'merge.recordings' };
    const dir = path.join(tmp, 'merge');
    const sink = await createKafkaSink({ brokers: broker.brokers, node: 'node-a', topics: t, spoolDir: path.join(tmp, 'merge-spool'), dedupIntervalMs: 200 }, log);
    const replicas = [pod('web-6d4cf56db6-abcde', { app: 'web' }), pod('web-6d4cf56db6-fghij', { app: 'web' })];
    const cs = [container('web'), container('web')];
    const other = pod('db-0', { app: 'db' });
    const dbc = container('db');
    const evs: EventV1[] = [
      seccompEvent(1, 'read', 0, cs[0]!, replicas[0]!, { exe: '/usr/bin/web' }),
      seccompEvent(2, 'openat', 257, cs[0]!, replicas[0]!, { exe: '/usr/bin/web' }),
      seccompEvent(3, 'read', 0, cs[1]!, replicas[1]!, { exe: '/usr/bin/web' }),
      seccompEvent(4, 'socket', 41, cs[1]!, replicas[1]!, { exe: '/usr/bin/helper' }),
      seccompEvent(5, 'socket', 41, cs[1]!, replicas[1]!, { exe: '/usr/bin/helper' }),
      seccompEvent(6, 'mmap', 9, dbc, other),
      avcEvent(7, cs[0]!, replicas[0]!, ['read', 'open']),
      avcEvent(8, cs[1]!, replicas[1]!, ['getattr'], 'container_file_t'),
    ];
    await sink.write(evs);
    for (const [i, c] of cs.entries()) await sink.containerEnded!({ container: c, pod: replicas[i]!, at: new Date().toISOString(), reason: 'exited' });
    await sink.close();
    const source = new StaticRecordingSource([
      rec('merged', { app: 'web' }),
      rec('split', { app: 'web' }, { mergeStrategy: 'none' }),
      rec('se', { app: 'web' }, { kind: 'SelinuxProfile' }),
    ]);
    const agg = new Aggregator({ brokers: broker.brokers, group: 'merge', recordingsTopic: t.recordings, source, sink: new ProfileDirectory(dir) }, log);
    await agg.start();
    try {
      const names = (f: string) => readJson<{ syscalls: Array<{ names: string[] }> }>(path.join(dir, f))?.syscalls[0]?.names;
      await poll('all profiles', () => ['merged-web.json', 'split-web-abcde.json', 'split-web-fghij.json', 'se-web.cil'].every((f) => fs.existsSync(path.join(dir, f))));
      assert.deepEqual(names('merged-web.json'), ['openat', 'read', 'socket'], 'containers: both replicas in one profile');
      assert.deepEqual(names('split-web-abcde.json'), ['openat', 'read']);
      assert.deepEqual(names('split-web-fghij.json'), ['read', 'socket']);
      assert.ok(!fs.readdirSync(dir).some((f) => f.includes('db')), 'the unselected pod is not recorded');
      const yaml = fs.readFileSync(path.join(dir, 'merged-web.yaml'), 'utf8');
      assert.match(yaml, /kind: "SeccompProfile"/);
      assert.match(yaml, /spo.x-k8s.io\/recording-id: "merged"/);
      assert.match(yaml, /spo.x-k8s.io\/container-id: "web"/);
      const ev = readJson<EvidenceFile>(path.join(dir, 'merged-web.evidence.json'))!;
      assert.equal(ev.final, true);
      assert.equal(ev.evidence['socket']!.count, 2);
      assert.equal(ev.evidence['socket']!.exe, '/usr/bin/helper');
      assert.equal(ev.evidence['socket']!.pod, 'web-6d4cf56db6-fghij');
      assert.equal(ev.evidence['read']!.firstSeen, seccompEvent(1, 'read', 0, null, null).timestamp, 'first seen is the earliest over the replicas');
      const cil = fs.readFileSync(path.join(dir, 'se-web.cil'), 'utf8');
      assert.match(cil, /\(allow process shadow_t \( file \( open read \)\)\)/);
      assert.match(cil, /\(allow process container_file_t \( file \( getattr \)\)\)/);

      const r = runCli(['explain', '--profile-dir', dir, 'merged-web', 'socket']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^socket in SeccompProfile merged-web/m);
      assert.match(r.stdout, /first seen\s+2026-11-23T10:00:00\.004Z\s+by \/usr\/bin\/helper in pod default\/web-6d4cf56db6-fghij/);
      assert.match(r.stdout, /count\s+2/);
      const byFile = runCli(['explain', path.join(dir, 'se-web.yaml'), 'shadow_t:file:read']);
      assert.equal(byFile.code, 0, byFile.stderr);
      assert.match(byFile.stdout, /shadow_t:file:read in SelinuxProfile se-web/);
      const missing = runCli(['explain', '--profile-dir', dir, 'merged-web', 'ptrace']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /"ptrace" is not in profile merged-web/);
      assert.equal(runCli(['explain', '--profile-dir', dir, '../../etc/passwd', 'read']).code, 1);
    } finally {
      await agg.stop();
    }
  });
});

describe('aggregator instances sharing the partitions', () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  function startAggregator(group: string, dir: string, topic: string): ChildProcess & { stderrText: () => string } {
    const cfg = path.join(tmp, `${group}-kafka.json`);
    fs.writeFileSync(cfg, JSON.stringify({ topics: { recordings: topic } }));
    const child = spawn(process.execPath, [BIN, 'aggregate', '--kafka-brokers', broker.brokers.join(','), '--kafka-config', cfg, '--group', group, '--recording', 'fleet=tier=app', '--profile-dir', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, AUDITFLOW_LOG_LEVEL: 'info' },
    });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    children.push(child);
    return Object.assign(child, { stderrText: () => err });
  }

  test('two instances, one SIGKILLed mid-stream: the survivor takes its partitions and the profiles equal a single-instance run', async () => {
    const topics = { events: 'fleet.events', recordings: 'fleet.recordings' };
    await createTopic(topics.recordings, 4);
    const sink = await createKafkaSink({ brokers: broker.brokers, node: 'node-a', topics, spoolDir: path.join(tmp, 'fleet-spool'), dedupIntervalMs: 200 }, log);
    // 8 workloads (container names spread over the 4 partitions), 2 replicas each
    const workloads = Array.from({ length: 8 }, (_, w) => ({
      name: `svc${w}`,
      replicas: [0, 1].map((r) => ({ pod: pod(`svc${w}-7f9c4b-${'abcdefgh'[w]}${r}xyz`, { tier: 'app' }), c: container(`svc${w}`) })),
    }));
    const expected = new Map<string, Set<string>>();
    let serial = 0;
    const table: Array<[string, number]> = [['read', 0], ['write', 1], ['openat', 257], ['close', 3], ['mmap', 9], ['brk', 12], ['futex', 202], ['socket', 41], ['connect', 42], ['sendto', 44], ['recvfrom', 45], ['clone', 56]];
    const phase = async (from: number, to: number) => {
      const evs: EventV1[] = [];
      for (const [w, wl] of workloads.entries()) {
        for (const [r, rep] of wl.replicas.entries()) {
          for (let k = from; k < to; k++) {
            const [name, nr] = table[(w + r + k) % table.length]!;
            evs.push(seccompEvent(++serial, name, nr, rep.c, rep.pod));
            const set = expected.get(`fleet-${wl.name}`) ?? new Set<string>();
            set.add(name);
            expected.set(`fleet-${wl.name}`, set);
          }
        }
      }
      await sink.write(evs);
      await sink.flush();
    };
    const endAll = async () => {
      for (const wl of workloads) for (const rep of wl.replicas) await sink.containerEnded!({ container: rep.c, pod: rep.pod, at: new Date().toISOString(), reason: 'exited' });
      await sink.flush();
    };

    const dirB = path.join(tmp, 'fleet-two');
    const b1 = startAggregator('fleet-two', dirB, topics.recordings);
    const b2 = startAggregator('fleet-two', dirB, topics.recordings);
    const admin = new Kafka({ clientId: 'test-admin', brokers: broker.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    // a stable group where each instance owns partitions, before any data
    await poll('two instances each owning partitions', async () => {
      const g = (await admin.describeGroups(['fleet-two'])).groups[0]!;
      const owning = g.members.filter((m) => (AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topics.recordings]?.length ?? 0) > 0);
      return g.state === 'Stable' && g.members.length === 2 && owning.length === 2;
    }, 90_000, 250);
    await phase(0, 4);
    // both have stored and committed what they hold
    await poll('both instances to consume phase 1', async () => {
      const [o] = await admin.fetchOffsets({ groupId: 'fleet-two', topics: [topics.recordings] });
      const highs = await admin.fetchTopicOffsets(topics.recordings);
      const committed = (p: number) => Number(o!.partitions.find((x) => x.partition === p)?.offset ?? -1);
      return highs.every((h) => committed(h.partition) === Number(h.high) || h.high === '0');
    }, 90_000, 250);
    b1.kill('SIGKILL');
    await phase(4, 9);
    await endAll();
    const files = [...expected.keys()].map((n) => `${n}.json`);
    await poll('every profile, final, from the survivor', () =>
      [...expected.keys()].every((n) => readJson<EvidenceFile>(path.join(dirB, `${n}.evidence.json`))?.final === true &&
        Object.keys(readJson<EvidenceFile>(path.join(dirB, `${n}.evidence.json`))!.evidence).length === expected.get(n)!.size), 120_000, 250);
    assert.match(b2.stderrText(), /"partitions":\[0,1,2,3\]/, 'the survivor was assigned every partition');
    assert.match(b2.stderrText(), /loaded stored sessions/, 'it took over the dead instance\'s sessions from the state topic');
    b2.kill('SIGTERM');
    for (const f of files) {
      const oci = readJson<{ syscalls: Array<{ names: string[] }> }>(path.join(dirB, f))!;
      assert.deepEqual(oci.syscalls[0]!.names, [...expected.get(f.replace(/\.json$/, ''))!].sort(), `${f} holds every syscall of both replicas`);
    }

    // the reference: one instance over the same topic
    const dirA = path.join(tmp, 'fleet-one');
    const a = startAggregator('fleet-one', dirA, topics.recordings);
    await poll('the single instance\'s profiles', () => [...expected.keys()].every((n) => readJson<EvidenceFile>(path.join(dirA, `${n}.evidence.json`))?.final === true), 120_000, 250);
    a.kill('SIGTERM');
    await admin.disconnect();
    await sink.close();
    for (const n of expected.keys()) {
      for (const ext of ['.json', '.yaml', '.evidence.json']) {
        assert.equal(fs.readFileSync(path.join(dirB, n + ext), 'utf8'), fs.readFileSync(path.join(dirA, n + ext), 'utf8'), `${n}${ext} identical to the single-instance run`);
      }
    }
  });
});
