// The Kafka node path records init containers and Jobs like any other container (issue 17): a real pod through
// CRI whose init container and Job container both exit at once (no poll ever sees them running) → auditd →
// `auditflow run --kafka-brokers` (its defaults: containerd's task events name the exited containers) → the real
// broker → the aggregator. Each container's profile must be final after that one run, and complete: the same pod
// run again under the recorded profiles (default action SCMP_ACT_ERRNO) succeeds, init and Job alike.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Aggregator, StaticRecordingSource } from '../../src/aggregate';
import { createLogger } from '../../src/log';
import { ProfileDirectory, type EvidenceFile } from '../../src/recording/profile-dir';
import { addContainer, ensureContainerd, removePod, runPod, waitContainerExited, type RunningPod } from '../env/cri';
import { ensureKafka, type KafkaBroker } from '../env/kafka';
import { poll } from '../env/kafka/helpers';
import { ensureAuditd } from '../env/rig';
import { httpGet, readEvents, startRun, stopRun, waitReady, writeLogProfile, type RunProc } from '../env/run-node';

const log = createLogger('test-short-lived-record');
log.level = 'warn';

let broker: KafkaBroker;
let tmp: string;
let socket: string;
let run: RunProc | undefined;
let agg: Aggregator | undefined;
const pods: RunningPod[] = [];

before(async () => {
  await ensureAuditd();
  socket = ensureContainerd();
  broker = await ensureKafka();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-sl-record-'));
});

after(async () => {
  for (const p of pods) await removePod(p).catch(() => undefined);
  if (run) await stopRun(run);
  await agg?.stop();
  await broker?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

// work of a few forks, gone at once, and the container with them
const INIT = ['sh', '-c', 'cat /etc/passwd > /dev/null; ls / > /dev/null; echo ready > /dev/null'];
const JOB = ['sh', '-c', 'echo hello; cat /proc/self/status > /dev/null; id > /dev/null'];

test('an init container and a Job container that exit at once: both profiles final after one run, and each runs its container again', async () => {
  const label = `slr-${process.pid}`;
  const ns = 'slr-ns';
  const topics = { events: 'slr.events', recordings: 'slr.recordings' };
  const cfg = path.join(tmp, 'kafka.json');
  fs.writeFileSync(cfg, JSON.stringify({ topics, dedupIntervalMs: 500 }));
  const profileDir = path.join(tmp, 'profiles');
  agg = new Aggregator(
    { brokers: broker.brokers, group: 'slr', recordingsTopic: topics.recordings, source: new StaticRecordingSource([{ name: 'batch', namespace: ns, kind: 'SeccompProfile', podSelector: { matchLabels: { app: label } }, mergeStrategy: 'containers' }]), sink: new ProfileDirectory(profileDir) },
    log,
  );
  await agg.start();
  run = startRun([
    '--audit-log', '/var/log/audit/audit.log', '--checkpoint', 'none', '--cri-socket', socket, '--node-name', 'slr-node',
    '--kafka-brokers', broker.brokers.join(','), '--kafka-config', cfg, '--spool-dir', path.join(tmp, 'spool'),
    // the events of the node too (every one, not only denials): when a profile is missing, they say why
    '--output', path.join(tmp, 'events.ndjson'), '--events', 'all',
  ]);
  const port = await waitReady(run);
  const logProfile = writeLogProfile(tmp);
  const pod = await runPod({ name: `${label}-x`, namespace: ns, labels: { app: label }, containers: [], socketPath: socket });
  pods.push(pod);
  // like kubelet: the init container runs to completion before the Job's container starts
  for (const [name, command] of [['init', INIT], ['job', JOB]] as const) {
    const c = await addContainer(pod, { name, command, mayExit: true }, 0, logProfile);
    assert.equal(await waitContainerExited(socket, c.id), 0, `${name} under the logging profile`);
  }
  const final = async (name: string) => {
    const file = path.join(profileDir, `batch-${name}.evidence.json`);
    return poll(`the final profile batch-${name} (its container exited; the node sends its end marker)`, () => {
      const e = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as EvidenceFile) : undefined;
      return e?.final ? e : undefined;
    }, 90_000, 250).catch(async (e: Error) => {
      const m = (await httpGet(port, '/metrics')).body.split('\n').filter((l) => /^auditflow_(kafka|enrich_events|enrich_task|enrich_short)/.test(l));
      const files = fs.existsSync(profileDir) ? fs.readdirSync(profileDir) : [];
      const mine = readEvents(path.join(tmp, 'events.ndjson')).events.filter((x) => x.pod?.name === pod.name || (x.enrichment !== 'resolved' && x.enrichment !== 'host'));
      const summary = mine.slice(-15).map((x) => `${x.type} ${x.enrichment} pid=${(x as { pid?: number }).pid} ${x.pod?.name ?? ''} ${x.enrichmentError ?? ''}`);
      throw new Error(`${e.message}\nprofiles: ${files.join(' ')}\nmetrics:\n${m.join('\n')}\nour or unresolved events (${mine.length}, last 15):\n${summary.join('\n')}\nauditflow run said:\n${run!.stderr().slice(-3000)}`);
    });
  };
  for (const name of ['init', 'job']) {
    const ev = await final(name);
    for (const e of Object.values(ev.evidence)) assert.equal(e.pod, pod.name, `batch-${name}: evidence from ${e.pod}`);
    const oci = JSON.parse(fs.readFileSync(path.join(profileDir, `batch-${name}.json`), 'utf8')) as { defaultAction: string; syscalls: Array<{ names: string[] }> };
    assert.equal(oci.defaultAction, 'SCMP_ACT_ERRNO');
    for (const s of ['execve', 'openat', 'write']) assert.ok(oci.syscalls[0]!.names.includes(s), `batch-${name}: ${s} missing from ${oci.syscalls[0]!.names.join(',')}`);
  }
  // complete after one run: the same pod under the recorded profiles, each container under its own
  const enforced = await runPod({ name: `${label}-enforced`, namespace: ns, containers: [], socketPath: socket });
  pods.push(enforced);
  for (const [name, command] of [['init', INIT], ['job', JOB]] as const) {
    const c = await addContainer(enforced, { name, command, mayExit: true, seccompProfilePath: path.join(profileDir, `batch-${name}.json`) }, 0);
    assert.equal(await waitContainerExited(socket, c.id), 0, `exit code of ${name} under its recorded profile`);
  }
});
