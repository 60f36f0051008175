// Short-lived containers through `auditflow run` with its defaults: real pods through the CRI, the real auditd, a
// Localhost profile that kills `sync`. Containers exit right after their work (Jobs, init containers, crash loops),
// so nothing of them is left in /proc when their records are read: only containerd's task events (pid and lifetime
// of each task, enrich/container-tasks.ts) and the lineage records (execve/exit_group with pid and ppid) name the pod.
//
// Truth comes from the raw audit log, not from auditflow: each killed process is an `sh -c "busybox sync" TAG`
// whose EXECVE record carries the pod's tag as an argument, and the SECCOMP kill record names its pid.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CriClient } from '../../src/enrich/cri';
import { addContainer, ensureContainerd, removePod, runPod, waitContainerExited, type RunningPod } from '../env/cri';
import { auditMark, ensureAuditd, readAuditSince, type AuditMark } from '../env/rig';
import { denialsFromRaw, job, KILL_SYNC_PROFILE, reusePidAcrossPods, type Denial } from '../env/short-lived';
import { httpGet, metricValue, pollUntil, readEvents, startRun, stopRun, waitReady, type OutputEvent, type RunProc } from '../env/run-node';

describe('auditflow run: short-lived containers attributed through task events', () => {
  let tmp: string;
  let socket: string;
  let run: RunProc;
  let out: string;
  let profile: string;
  let port: number;
  const pods: RunningPod[] = [];

  before(async () => {
    await ensureAuditd();
    socket = ensureContainerd();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-short-lived-'));
    out = path.join(tmp, 'events.ndjson');
    profile = path.join(tmp, 'kill-sync.json');
    fs.writeFileSync(profile, JSON.stringify(KILL_SYNC_PROFILE));
    run = startRun(['--audit-log', '/var/log/audit/audit.log', '--checkpoint', 'none', '--cri-socket', socket, '--output', out]);
    port = await waitReady(run);
    // the task stream is open once containerd has sent something: a task event of ours, if none other
    await pollUntil(async () => {
      const m = (await httpGet(port, '/metrics')).body;
      if (metricValue(m, 'auditflow_enrich_task_events_total') > 0) return true;
      const p = await runPod({ name: `warm-${process.pid}`, namespace: 'short', containers: [{ name: 'w', command: ['true'], mayExit: true }], socketPath: socket });
      await waitContainerExited(socket, p.containers[0]!.id);
      await removePod(p);
      return false;
    }, 60_000, 'the first containerd task event in auditflow run');
  });

  after(async () => {
    for (const p of pods) await removePod(p).catch(() => undefined);
    if (run) await stopRun(run);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** auditflow's events for the raw denials, once every one of them is out (waits up to 60 s). */
  async function outputFor(denials: Denial[]): Promise<Map<number, OutputEvent>> {
    const want = new Set(denials.map((d) => d.serial));
    return pollUntil(() => {
      const m = new Map<number, OutputEvent>();
      for (const e of readEvents(out).events) if (e.type === 'SECCOMP' && want.has(e.serial)) m.set(e.serial, e);
      return m.size >= want.size ? m : undefined;
    }, 60_000, `auditflow's events for ${want.size} denials in ${out}`);
  }

  async function rawDenials(mark: AuditMark, tagPrefix: string, expected: number): Promise<Denial[]> {
    const ds = denialsFromRaw(await readAuditSince(mark), tagPrefix).filter((d) => d.tag);
    assert.equal(ds.length, expected, `the raw log should hold ${expected} tagged sync kills, has ${ds.length}`);
    return ds;
  }

  it('30 pods at once, each container exiting right after 5 denials: every denial attributed to its own pod', async () => {
    const mark = await auditMark();
    const tagPrefix = `sl${process.pid}x`;
    const made = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        runPod({
          name: `short-${process.pid}-${i}`,
          namespace: 'short',
          containers: [{ name: 'job', command: job(`${tagPrefix}${i}`), mayExit: true }],
          seccompProfilePath: profile,
          socketPath: socket,
        }),
      ),
    );
    pods.push(...made);
    const lifetimes = new Map<string, number>();
    const cri = new CriClient({ socketPath: socket, timeoutMs: 30_000 });
    try {
      for (const [i, p] of made.entries()) {
        await waitContainerExited(socket, p.containers[0]!.id);
        const s = await cri.containerStatus(p.containers[0]!.id);
        lifetimes.set(`${tagPrefix}${i}`, Number(s.finishedAt - s.startedAt) / 1e6);
      }
    } finally {
      cri.close();
    }
    const denials = await rawDenials(mark, tagPrefix, 150);
    const evs = await outputFor(denials);
    let right = 0;
    let longLived = 0;
    let longRight = 0;
    const unresolved: string[] = [];
    for (const d of denials) {
      const e = evs.get(d.serial)!;
      const i = Number(d.tag!.slice(tagPrefix.length));
      const long = (lifetimes.get(d.tag!) ?? 0) >= 50;
      if (long) longLived++;
      if (e.pod) {
        // never a wrong pod
        assert.equal(e.pod.name, `short-${process.pid}-${i}`, `denial ${d.serial} of ${d.tag} attributed to ${e.pod.name}`);
        assert.equal(e.container?.id, made[i]!.containers[0]!.id);
        right++;
        if (long) longRight++;
      } else unresolved.push(`${d.serial}: ${e.enrichment} ${e.enrichmentError ?? ''}`);
    }
    const lt = [...lifetimes.values()].sort((a, b) => a - b);
    console.log(
      `short-lived: ${right}/150 attributed (containers living >= 50 ms: ${longRight}/${longLived}); ` +
        `container lifetimes ms min ${lt[0]?.toFixed(0)} median ${lt[15]?.toFixed(0)} max ${lt[29]?.toFixed(0)}; load ${os.loadavg()[0]!.toFixed(2)}`,
    );
    assert.ok(right >= 149, `at least 99% of the denials attributed: ${right}/150; unresolved:\n${unresolved.slice(0, 10).join('\n')}`);
    for (const p of made) await removePod(p);
    pods.splice(0);
  });

  it('init containers then the main container: each denial names the container that made it', async () => {
    const mark = await auditMark();
    const tagPrefix = `in${process.pid}x`;
    const pod = await runPod({ name: `init-${process.pid}`, namespace: 'short', containers: [], seccompProfilePath: profile, socketPath: socket });
    pods.push(pod);
    const names = ['init-a', 'init-b', 'main'];
    for (const name of names) {
      // like kubelet: each init container runs to completion before the next one starts
      const c = await addContainer(pod, { name, command: job(`${tagPrefix}${name}`, 2), mayExit: true }, 0, profile);
      await waitContainerExited(socket, c.id);
    }
    const denials = await rawDenials(mark, tagPrefix, 6);
    const evs = await outputFor(denials);
    for (const d of denials) {
      const e = evs.get(d.serial)!;
      const name = d.tag!.slice(tagPrefix.length);
      assert.equal(e.enrichment, 'resolved', `${d.tag}: ${e.enrichmentError}`);
      assert.equal(e.pod?.name, pod.name);
      assert.equal(e.container?.name, name);
      assert.equal(e.container?.id, pod.containers[names.indexOf(name)]!.id);
    }
  });

  it('a container restarting in a loop: each attempt attributed, with its attempt number', async () => {
    const mark = await auditMark();
    const tagPrefix = `cl${process.pid}x`;
    const pod = await runPod({ name: `loop-${process.pid}`, namespace: 'short', containers: [], seccompProfilePath: profile, socketPath: socket });
    pods.push(pod);
    for (let attempt = 0; attempt < 4; attempt++) {
      const c = await addContainer(pod, { name: 'crashy', command: job(`${tagPrefix}${attempt}`, 1, 'exit 1'), mayExit: true }, attempt, profile);
      assert.equal(await waitContainerExited(socket, c.id), 1);
    }
    const denials = await rawDenials(mark, tagPrefix, 4);
    const evs = await outputFor(denials);
    for (const d of denials) {
      const e = evs.get(d.serial)! as OutputEvent & { container: { attempt?: number } | null };
      const attempt = Number(d.tag!.slice(tagPrefix.length));
      assert.equal(e.enrichment, 'resolved', `${d.tag}: ${e.enrichmentError}`);
      assert.equal(e.container?.name, 'crashy');
      assert.equal(e.container?.id, pod.containers[attempt]!.id);
      assert.equal(e.container?.attempt, attempt);
    }
  });

  it('a pid reused by another container never carries the old container', async () => {
    // container A's init (pid P) exits; then the host hands P to a process forked inside container B
    // (ns_last_pid = P - 1 just before B forks): B's records under P must name B, never A
    const tagPrefix = `pr${process.pid}x`;
    const { a, b, pid: P, denial, tries } = await reusePidAcrossPods({ name: 'reuse', namespace: 'short', tagPrefix, profile, socketPath: socket, pods });
    const e = (await outputFor([denial])).get(denial.serial)!;
    assert.notEqual(e.pod?.name, a.name, `a reused pid inherited the old container: ${JSON.stringify(e)}`);
    assert.equal(e.pod?.name, b.name, `B's denial under the reused pid ${P}: ${e.enrichment} ${e.enrichmentError ?? ''}`);
    console.log(`pid reuse: pid ${P} of ${a.name} reused in ${b.name} after ${tries + 1} tries: attributed to ${e.pod?.name}`);
  });
});

describe('auditflow run restarted while containers end: what its checkpoint re-reads', () => {
  // While auditflow is down nobody listens to containerd's task events. At the restart, its saved task table
  // (<checkpoint>.tasks.json) still knows the containers that were running at the stop; their exit happened
  // unheard, so their windows are closed from CRI: at finishedAt when the runtime still has the container, at the
  // stop when it has been removed (the pid may have been anyone's after that). A container that started and ended
  // while auditflow was down was never named by anyone: its records stay unresolved. Never a wrong pod.
  let tmp: string;
  let socket: string;
  let profile: string;
  const pods: RunningPod[] = [];
  const runs: RunProc[] = [];

  before(async () => {
    await ensureAuditd();
    socket = ensureContainerd();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-short-restart-'));
    profile = path.join(tmp, 'kill-sync.json');
    fs.writeFileSync(profile, JSON.stringify(KILL_SYNC_PROFILE));
  });

  after(async () => {
    for (const p of pods) await removePod(p).catch(() => undefined);
    for (const r of runs) await stopRun(r);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const startWith = (out: string) => {
    const r = startRun(['--audit-log', '/var/log/audit/audit.log', '--checkpoint', path.join(tmp, 'cp.json'), '--cri-socket', socket, '--output', out]);
    runs.push(r);
    return r;
  };
  const taskStarts = async (port: number) => metricValue((await httpGet(port, '/metrics')).body, 'auditflow_enrich_task_events_total', { kind: 'start' });

  it('containers running at the stop: attributed (exit from CRI) or, once removed, only up to the stop; containers born while down: unresolved', async () => {
    const tagPrefix = `rs${process.pid}x`;
    const first = startWith(path.join(tmp, 'first.ndjson'));
    const port = await waitReady(first);
    const before0 = await taskStarts(port);
    // K (kept by the runtime after it exits) and G (removed while auditflow is down) wait for a file, then deny
    const waiting = (tag: string) => ['sh', '-c', `while [ ! -e /go ]; do sleep 0.05; done; i=0; while [ $i -lt 2 ]; do sh -c "busybox sync" ${tag}; i=$((i+1)); done`];
    const k = await runPod({ name: `keep-${process.pid}`, namespace: 'short', containers: [{ name: 'k', command: waiting(`${tagPrefix}k`) }], seccompProfilePath: profile, socketPath: socket });
    pods.push(k);
    const g = await runPod({ name: `gone-${process.pid}`, namespace: 'short', containers: [{ name: 'g', command: waiting(`${tagPrefix}g`) }], seccompProfilePath: profile, socketPath: socket });
    pods.push(g);
    // both sandboxes and both containers seen starting
    await pollUntil(async () => (await taskStarts(port)) >= before0 + 4, 60_000, 'the task starts of two pods in auditflow run');
    assert.equal((await stopRun(first)).code, 0);
    assert.ok(fs.existsSync(path.join(tmp, 'cp.json.tasks.json')), 'the task table is saved at stop');

    // while down: K and G do their work and exit; G's container is removed; N runs from start to end
    const mark = await auditMark();
    for (const p of [k, g]) fs.writeFileSync(`/proc/${p.containers[0]!.pid}/root/go`, '');
    for (const p of [k, g]) await waitContainerExited(socket, p.containers[0]!.id);
    const cri = new CriClient({ socketPath: socket, timeoutMs: 30_000 });
    try {
      await cri.removeContainer(g.containers[0]!.id);
    } finally {
      cri.close();
    }
    const n = await runPod({ name: `born-${process.pid}`, namespace: 'short', containers: [{ name: 'n', command: job(`${tagPrefix}n`, 2), mayExit: true }], seccompProfilePath: profile, socketPath: socket });
    pods.push(n);
    await waitContainerExited(socket, n.containers[0]!.id);
    const denials = denialsFromRaw(await readAuditSince(mark), tagPrefix).filter((d) => d.tag);
    assert.equal(denials.length, 6, 'K, G and N made two denials each');

    // restarted: the checkpoint re-reads what was written while down
    const outSecond = path.join(tmp, 'second.ndjson');
    const second = startWith(outSecond);
    await waitReady(second);
    const want = new Set(denials.map((d) => d.serial));
    const evs = await pollUntil(() => {
      const m = new Map<number, OutputEvent>();
      for (const e of readEvents(outSecond).events) if (e.type === 'SECCOMP' && want.has(e.serial)) m.set(e.serial, e);
      return m.size >= want.size ? m : undefined;
    }, 60_000, `the restarted run's events for ${want.size} denials`);
    for (const d of denials) {
      const e = evs.get(d.serial)!;
      const who = d.tag!.slice(tagPrefix.length);
      if (who === 'k') {
        assert.equal(e.pod?.name, k.name, `K's denial after the restart: ${e.enrichment} ${e.enrichmentError ?? ''}`);
        assert.equal(e.container?.id, k.containers[0]!.id);
      } else {
        // G (removed: its exit time is unknown, so nothing after the stop is its for sure) and N (never seen)
        assert.equal(e.pod, null, `${who}'s denial must stay unresolved, got ${JSON.stringify(e.pod)}`);
        assert.equal(e.enrichment, 'unresolved');
      }
    }
  });
});

describe('auditflow run --record: a Job is recorded like any other container', () => {
  let tmp: string;
  let socket: string;
  let run: RunProc | undefined;
  const pods: RunningPod[] = [];
  before(async () => {
    await ensureAuditd();
    socket = ensureContainerd();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-short-record-'));
  });
  after(async () => {
    for (const p of pods) await removePod(p).catch(() => undefined);
    if (run) await stopRun(run).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a container that exits at once (no poll ever sees it running) is recorded, and its profile runs it again', async () => {
    // forks that are gone at once, and the container with them
    const JOB = ['sh', '-c', 'echo hello; cat /proc/self/status > /dev/null; ls / > /dev/null'];
    const dir = path.join(tmp, 'profiles');
    const app = `job-${process.pid}`;
    const logProfile = path.join(tmp, 'log.json');
    fs.writeFileSync(logProfile, JSON.stringify({ defaultAction: 'SCMP_ACT_LOG' }));
    run = startRun([
      '--audit-log', '/var/log/audit/audit.log', '--checkpoint', 'none', '--cri-socket', socket,
      '--record', `batch=app=${app}`, '--profile-dir', dir, '--output', path.join(tmp, 'denials.ndjson'),
    ]);
    await waitReady(run);
    const pod = await runPod({ name: `${app}-x`, namespace: 'jobs', labels: { app }, containers: [{ name: 'job', command: JOB, mayExit: true }], seccompProfilePath: logProfile, socketPath: socket });
    pods.push(pod);
    assert.equal(await waitContainerExited(socket, pod.containers[0]!.id), 0);
    const json = path.join(dir, 'batch-job.json');
    await pollUntil(() => fs.existsSync(json), 60_000, `${json} after the Job's container exited:\n${run.stderr().slice(-2000)}`);
    const oci = JSON.parse(fs.readFileSync(json, 'utf8')) as { syscalls: Array<{ names: string[] }> };
    for (const s of ['execve', 'write', 'openat', 'getdents64']) assert.ok(oci.syscalls[0]!.names.includes(s), `${s} missing from ${oci.syscalls[0]!.names.join(',')}`);
    // complete after one run: the same Job under the recorded profile succeeds
    const enforced = await runPod({ name: `${app}-enforced`, namespace: 'jobs', containers: [{ name: 'job', command: JOB, mayExit: true }], seccompProfilePath: json, socketPath: socket });
    pods.push(enforced);
    assert.equal(await waitContainerExited(socket, enforced.containers[0]!.id), 0, 'exit code of the Job under its recorded profile');
  });
});
