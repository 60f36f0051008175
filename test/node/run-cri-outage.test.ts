// CRI outage: `auditflow run` talks to containerd through a relay socket that the test takes away and brings
// back. While the runtime is unreachable, events of a container it has not cached yet still flow, marked
// unresolved with the reason (and counted); the process stays up; once the runtime answers again the same
// container's events are resolved.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureContainerd, removePod, runPod, SocketRelay, type RunningPod } from '../env/cri';
import { ensureAuditd } from '../env/rig';
import { httpGet, metricValue, pollUntil, readEvents, startRun, stopRun, waitReady, writeLogProfile, type RunProc } from '../env/run-node';

const LOOP = ['sh', '-c', 'while true; do read -r l < /proc/self/status; sleep 0.2; done'];

describe('auditflow run: CRI socket down and back', () => {
  let tmp: string;
  let socket: string;
  let relay: SocketRelay;
  let run: RunProc | undefined;
  const pods: RunningPod[] = [];
  before(async () => {
    await ensureAuditd();
    socket = ensureContainerd();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-run-cri-'));
    relay = new SocketRelay(path.join(tmp, 'cri.sock'), socket);
  });
  after(async () => {
    for (const p of pods) await removePod(p).catch(() => undefined);
    if (run) await stopRun(run).catch(() => undefined);
    await relay.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('CRI socket down: unresolved events with the reason, no crash; resolved again when it returns', async () => {
    const out = path.join(tmp, 'events.ndjson');
    const profile = writeLogProfile(tmp);
    await relay.start('forward');
    run = startRun(['--audit-log', '/var/log/audit/audit.log', '--checkpoint', 'none', '--cri-socket', relay.socketPath, '--events', 'all', '--output', out, '--container-poll-ms', '300']);
    const port = await waitReady(run);

    // the runtime goes away (socket file gone), then a pod starts (through the real socket, as kubelet would)
    await relay.stop();
    await pollUntil(async () => (await httpGet(port, '/readyz')).status === 503, 30_000, '/readyz to report the CRI runtime unreachable');
    const pod = await runPod({ name: `cri-down-${process.pid}`, namespace: 'outage', containers: [{ name: 'app', command: LOOP }], seccompProfilePath: profile, socketPath: socket });
    pods.push(pod);
    const c = pod.containers[0]!;
    const down = await pollUntil(() => {
      const evs = readEvents(out).events.filter((e) => e.pid === c.pid);
      return evs.length >= 5 ? evs : undefined;
    }, 30_000, `events of pid ${c.pid} while the runtime is down`);
    for (const e of down) {
      assert.equal(e.enrichment, 'unresolved', JSON.stringify(e));
      assert.match(e.enrichmentError ?? '', /^(socket-missing|unavailable):/);
      assert.equal(e.container?.id, c.id, 'the container id (from the cgroup) is kept');
      assert.equal(e.pod, null);
    }
    const m = (await httpGet(port, '/metrics')).body;
    assert.ok(metricValue(m, 'auditflow_enrich_events_total', { result: 'unresolved', reason: 'socket-missing' }) >= down.length);
    assert.equal((await httpGet(port, '/healthz')).status, 200, 'alive while the runtime is down');
    assert.equal(run.child.exitCode, null, 'still running');

    // the runtime comes back: the same container resolves (the "unreachable" answer was cached only briefly)
    await relay.start('forward');
    const back = await pollUntil(() => readEvents(out).events.find((e) => e.pid === c.pid && e.enrichment === 'resolved'), 30_000, `a resolved event of pid ${c.pid} after the runtime came back`);
    assert.equal(back.pod?.name, pod.name);
    assert.equal(back.pod?.namespace, 'outage');
    assert.equal(back.container?.name, 'app');
    await pollUntil(async () => (await httpGet(port, '/readyz')).status === 200, 30_000, '/readyz to recover');
    const ex = await stopRun(run);
    assert.equal(ex.code, 0, run.stderr().slice(-2000));
  });
});
