// `auditflow run` against real pods: containerd through CRI (as kubelet drives it, same labels), a Localhost
// SCMP_ACT_LOG profile, and auditd writing the SECCOMP records the pipeline follows.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureContainerd, removePod, runPod, type RunningPod } from '../env/cri';
import { ensureAuditd } from '../env/rig';
import { pollUntil, readEvents, startRun, stopRun, waitReady, writeLogProfile, type OutputEvent, type RunProc } from '../env/run-node';

// a workload whose main process lives on and keeps making syscalls (its forks may be too short-lived to attribute)
const LOOP = ['sh', '-c', 'while true; do echo tick > /dev/null; read -r l < /proc/self/status; sleep 0.2; done'];

describe('auditflow run: enrichment of real pod processes', () => {
  let tmp: string;
  let socket: string;
  let run: RunProc | undefined;
  const pods: RunningPod[] = [];
  let out: string;

  before(async () => {
    await ensureAuditd();
    socket = ensureContainerd();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-run-enrich-'));
    out = path.join(tmp, 'events.ndjson');
    run = startRun(['--audit-log', '/var/log/audit/audit.log', '--checkpoint', 'none', '--cri-socket', socket, '--events', 'all', '--output', out]);
    await waitReady(run);
  });

  after(async () => {
    for (const p of pods) await removePod(p).catch(() => undefined);
    if (run) await stopRun(run);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const eventsOfPid = (pid: number): OutputEvent[] => readEvents(out).events.filter((e) => e.pid === pid && e.type === 'SECCOMP');

  it('events from a pod\'s process carry its pod name, namespace, uid and container name', async () => {
    const profile = writeLogProfile(tmp);
    const pod = await runPod({
      name: `enrich-one-${process.pid}`,
      namespace: 'team-a',
      labels: { app: 'enrich-one' },
      containers: [{ name: 'worker', command: LOOP }],
      seccompProfilePath: profile,
      socketPath: socket,
    });
    pods.push(pod);
    const c = pod.containers[0]!;
    const evs = await pollUntil(() => {
      const e = eventsOfPid(c.pid).filter((x) => x.enrichment === 'resolved');
      return e.length >= 5 ? e : undefined;
    }, 30_000, `5 resolved SECCOMP events of pid ${c.pid} in ${out}`);
    for (const e of evs) {
      assert.equal(e.pod?.name, pod.name);
      assert.equal(e.pod?.namespace, 'team-a');
      assert.equal(e.pod?.uid, pod.uid);
      assert.deepEqual(e.pod?.labels, { app: 'enrich-one' });
      assert.equal(e.container?.name, 'worker');
      assert.equal(e.container?.id, c.id);
      assert.equal(e.container?.runtime, 'containerd');
      assert.equal(e.action, 'log');
    }
    // every event of that process is attributed: resolved, never host
    assert.ok(eventsOfPid(c.pid).every((e) => e.enrichment !== 'host'), 'a container process was taken for a host process');
  });

  it('two pods at once are never confused', async () => {
    const profile = writeLogProfile(tmp);
    const [a, b] = await Promise.all(
      ['a', 'b'].map((x) =>
        runPod({
          name: `enrich-two-${x}-${process.pid}`,
          namespace: `ns-${x}`,
          labels: { app: `two-${x}` },
          containers: [
            { name: `main-${x}`, command: LOOP },
            { name: `side-${x}`, command: LOOP },
          ],
          seccompProfilePath: profile,
          socketPath: socket,
        }),
      ),
    );
    pods.push(a!, b!);
    const byContainer = new Map<string, { pod: RunningPod; name: string; pid: number }>();
    for (const p of [a!, b!]) for (const c of p.containers) byContainer.set(c.id, { pod: p, name: c.name, pid: c.pid });
    // every container's main process shows up resolved
    await pollUntil(() => {
      const evs = readEvents(out).events;
      return [...byContainer.values()].every((c) => evs.some((e) => e.pid === c.pid && e.enrichment === 'resolved'));
    }, 30_000, 'resolved events from all four containers');
    const evs = readEvents(out).events;
    let checked = 0;
    for (const e of evs) {
      const known = e.container ? byContainer.get(e.container.id) : undefined;
      const byPid = [...byContainer.entries()].find(([, c]) => c.pid === e.pid);
      if (!known && !byPid) continue;
      checked++;
      if (byPid) {
        // an event of a known container process names exactly that container
        assert.equal(e.enrichment, 'resolved', `event of pid ${e.pid}: ${JSON.stringify(e)}`);
        assert.equal(e.container?.id, byPid[0]);
      }
      const k = known ?? byPid![1];
      assert.equal(e.container?.name, k.name);
      assert.equal(e.pod?.uid, k.pod.uid);
      assert.equal(e.pod?.name, k.pod.name);
      assert.equal(e.pod?.namespace, k.pod.namespace);
      assert.deepEqual(e.pod?.labels, k.pod.labels, JSON.stringify(e));
    }
    assert.ok(checked >= 8, `expected events of the four containers, checked ${checked}`);
  });
});
