// Round trip through every real part: a pod run through CRI under a Localhost SCMP_ACT_LOG profile → auditd →
// `auditflow run --kafka-brokers` (tail, parse, enrich, dedup, produce) → the real broker → the aggregator →
// a profile equal to the set of syscalls in that container's raw audit records.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { isRecord, parseLine } from '../../parsers';
import { Aggregator, StaticRecordingSource } from '../../src/aggregate';
import { ProfileDirectory, type EvidenceFile } from '../../src/recording/profile-dir';
import { createLogger } from '../../src/log';
import { RUNC_BASE_SYSCALLS, RUNC_INIT_COMM } from '../../src/profile/runtime-base';
import { ensureContainerd, removePod, runPod, type RunningPod } from '../env/cri';
import { ensureKafka, type KafkaBroker } from '../env/kafka';
import { poll } from '../env/kafka/helpers';
import { auditMark, ensureAuditd, readAuditSince } from '../env/rig';
import { startRun, stopRun, waitReady, writeLogProfile, type RunProc } from '../env/run-node';

const log = createLogger('test-roundtrip');
log.level = 'warn';

let broker: KafkaBroker;
let tmp: string;
let socket: string;
let run: RunProc | undefined;
let agg: Aggregator | undefined;
let pod: RunningPod | undefined;

before(async () => {
  await ensureAuditd();
  socket = ensureContainerd();
  broker = await ensureKafka();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-roundtrip-'));
});

after(async () => {
  if (pod) await removePod(pod).catch(() => undefined);
  if (run) await stopRun(run);
  await agg?.stop();
  await broker?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('real pod → auditflow run → Kafka → aggregator: the profile is the set of syscalls in the container\'s audit records', async () => {
  const label = `rt-${process.pid}`;
  const topics = { events: 'rt.events', recordings: 'rt.recordings' };
  const cfg = path.join(tmp, 'kafka.json');
  fs.writeFileSync(cfg, JSON.stringify({ topics, dedupIntervalMs: 500 }));
  const profileDir = path.join(tmp, 'profiles');
  agg = new Aggregator(
    { brokers: broker.brokers, group: 'rt', recordingsTopic: topics.recordings, source: new StaticRecordingSource([{ name: 'rt', namespace: 'rt-ns', kind: 'SeccompProfile', podSelector: { matchLabels: { app: label } }, mergeStrategy: 'containers' }]), sink: new ProfileDirectory(profileDir) },
    log,
  );
  await agg.start();
  run = startRun([
    '--audit-log', '/var/log/audit/audit.log', '--checkpoint', 'none', '--cri-socket', socket, '--node-name', 'rt-node',
    '--kafka-brokers', broker.brokers.join(','), '--kafka-config', cfg, '--spool-dir', path.join(tmp, 'spool'),
    '--output', 'none', '--container-poll-ms', '500',
  ]);
  await waitReady(run);
  const mark = await auditMark();
  // One process for the container's whole life (builtins only, then exec): every record of the container
  // carries its pid, so the raw records of that pid are exactly the container's.
  pod = await runPod({
    name: `rt-${process.pid}`,
    namespace: 'rt-ns',
    labels: { app: label },
    containers: [{ name: 'worker', command: ['sh', '-c', 'i=0; while [ $i -lt 20 ]; do echo tick > /dev/null; read -r l < /etc/passwd; i=$((i+1)); done; exec sleep 2'] }],
    seccompProfilePath: writeLogProfile(tmp),
    socketPath: socket,
  });
  const c = pod.containers[0]!;
  const file = path.join(profileDir, 'rt-worker.evidence.json');
  const ev = await poll('the final profile rt-worker (the container exits after ~2 s; the node sends its end marker)', () => {
    const e = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as EvidenceFile) : undefined;
    return e?.final ? e : undefined;
  }, 90_000, 250).catch((e: Error) => {
    throw new Error(`${e.message}\nauditflow run said:\n${run!.stderr().slice(-3000)}`);
  });

  const expected = new Set<string>();
  let sawRuncInit = false;
  for (const line of await readAuditSince(mark)) {
    const r = parseLine(line);
    if (isRecord(r) && r.type === 'SECCOMP' && r.int('pid') === c.pid && r.syscall?.name) {
      expected.add(r.syscall.name);
      if (r.str('comm') === RUNC_INIT_COMM) sawRuncInit = true;
    }
  }
  assert.ok(expected.size >= 10, `expected the container's SECCOMP records in the audit log, found ${expected.size} syscalls`);
  const oci = JSON.parse(fs.readFileSync(path.join(profileDir, 'rt-worker.json'), 'utf8')) as { defaultAction: string; architectures: string[]; syscalls: Array<{ names: string[] }> };
  // runc's init ran under the filter (its records are the container's first), so runc's base syscalls are stacked
  assert.ok(sawRuncInit, 'the raw records show runc:[2:INIT] under the filter');
  assert.deepEqual(oci.syscalls[0]!.names, [...new Set([...expected, ...RUNC_BASE_SYSCALLS])].sort(), "profile syscalls = syscalls of the raw records + runc's base");
  assert.equal(oci.defaultAction, 'SCMP_ACT_ERRNO');
  assert.ok(oci.architectures.includes('SCMP_ARCH_X86_64'));
  assert.deepEqual(Object.keys(ev.evidence).sort(), [...expected].sort());
  for (const e of Object.values(ev.evidence)) {
    assert.equal(e.pod, pod.name);
    assert.equal(e.namespace, 'rt-ns');
  }
  const yaml = fs.readFileSync(path.join(profileDir, 'rt-worker.yaml'), 'utf8');
  assert.match(yaml, /spo.x-k8s.io\/recording-namespace: "rt-ns"/);
});
