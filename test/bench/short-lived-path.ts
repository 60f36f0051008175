// Bench of the node path on short-lived containers (issue 17): 30 pods at once through containerd's CRI, each
// container killing 5 processes of its own on sync(2) and exiting right after. Their records are read by the
// real tailer and pipeline only once every container has exited — the worst case, a reader lagging behind the
// whole life of the containers — and enriched twice: with containerd's task events (task table + lineage) and
// without (lineage and /proc only, the old behaviour). Reports the attribution rate of each (truth from the raw
// log's EXECVE tags), wrong attributions (must be 0), and the cost: CPU per pass and per record, task events,
// tombstones held.
// Standalone: node dist/test/bench/short-lived-path.js; with --cri, the same on a private containerd 2.x
// (test/env/cri2.sh, stopped after) fed by CRI's GetContainerEvents alone (the path of runtimes without
// containerd's task events, e.g. CRI-O): one ContainerStatus per start instead of the pid in the event.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { installForkRules } from '../../src/enrich/audit-rules';
import { ContainerTasks } from '../../src/enrich/container-tasks';
import { CriClient } from '../../src/enrich/cri';
import { Enricher } from '../../src/enrich/enricher';
import { ProcessLineage } from '../../src/enrich/lineage';
import { PodResolver } from '../../src/enrich/pod-resolver';
import { ProcCache } from '../../src/enrich/proc-cache';
import { TaskTable } from '../../src/enrich/task-table';
import { createLogger } from '../../src/log';
import { Pipeline } from '../../src/run/pipeline';
import type { EventV1 } from '../../src/event/v1';
import { openTailer } from '../../src/tail';
import { ensureContainerd, removePod, runPod, waitContainerExited, type RunningPod } from '../env/cri';
import { auditMark, ensureAuditd, readAuditSince } from '../env/rig';
import { denialsFromRaw, job, KILL_SYNC_PROFILE } from '../env/short-lived';

export interface ShortLivedResult {
  /** which task source fed the table: containerd's task events, or CRI's GetContainerEvents */
  source: 'containerd' | 'cri';
  denials: number;
  /** audit records read by each pass */
  records: number;
  withTasks: { attributed: number; wrong: number; cpuMs: number };
  withoutTasks: { attributed: number; wrong: number; cpuMs: number };
  taskEvents: number;
  tombstones: number;
  /** heap bytes per task entry (measured on 10 000 synthetic entries) */
  bytesPerTombstone: number;
  load1: number;
}

async function pass(file: string, enricher: Enricher, truth: Map<number, string>): Promise<{ attributed: number; wrong: number; cpuMs: number }> {
  const log = createLogger('bench');
  const tailer = await openTailer({ path: file, checkpointPath: null, startAt: 'start', follow: false }, log);
  let attributed = 0;
  let wrong = 0;
  const sink = {
    name: 'truth',
    write: async (evs: readonly EventV1[]) => {
      for (const e of evs) {
        const want = truth.get(e.serial);
        if (want === undefined || e.type !== 'SECCOMP' || !e.pod) continue;
        if (e.pod.name === want) attributed++;
        else wrong++;
      }
    },
    flush: async () => undefined,
    close: async () => undefined,
  };
  const p = new Pipeline({ tailer, enricher, node: 'bench', sourceFile: file, log, routes: [{ sink, accept: () => true }] });
  const cpu0 = process.cpuUsage();
  await p.run();
  const cpu = process.cpuUsage(cpu0);
  return { attributed, wrong, cpuMs: Math.round((cpu.user + cpu.system) / 1000) };
}

function bytesPerEntry(): number {
  global.gc?.();
  const h0 = process.memoryUsage().heapUsed;
  const t = new TaskTable();
  for (let pid = 1; pid <= 10_000; pid++) {
    t.started(pid.toString(16).padStart(64, '0'), pid, 1000, true);
    t.exited(pid.toString(16).padStart(64, '0'), pid, 2000);
  }
  global.gc?.();
  return Math.round((process.memoryUsage().heapUsed - h0) / t.size);
}

export async function benchShortLived(pods = 30, opts: { source?: 'containerd' | 'cri'; socket?: string } = {}): Promise<ShortLivedResult> {
  await ensureAuditd();
  const socket = opts.socket ?? ensureContainerd();
  const source = opts.source ?? 'containerd';
  const log = createLogger('bench');
  await installForkRules(log);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-bench-short-'));
  const profile = path.join(tmp, 'kill-sync.json');
  fs.writeFileSync(profile, JSON.stringify(KILL_SYNC_PROFILE));
  const cri = new CriClient({ socketPath: socket });
  const procs = new ProcCache();
  const resolver = new PodResolver({ client: cri });
  const tasks = new ContainerTasks({ socketPath: socket, procs, cri, resolver, log, source: source === 'cri' ? 'cri' : 'auto' });
  tasks.start();
  const made: RunningPod[] = [];
  try {
    // the stream is open once containerd has sent an event: a first pod of our own
    for (let i = 0; i < 100 && !tasks.streaming(); i++) await new Promise((r) => setTimeout(r, 100));
    const warm = await runPod({ name: `bench-sl-warm-${process.pid}`, namespace: 'bench', containers: [{ name: 'w', command: ['true'], mayExit: true }], socketPath: socket });
    await waitContainerExited(socket, warm.containers[0]!.id);
    await removePod(warm);
    const mark = await auditMark();
    const tag = `bsl${process.pid}x`;
    made.push(
      ...(await Promise.all(
        Array.from({ length: pods }, (_, i) =>
          runPod({ name: `bench-sl-${process.pid}-${i}`, namespace: 'bench', containers: [{ name: 'job', command: job(`${tag}${i}`), mayExit: true }], seccompProfilePath: profile, socketPath: socket }),
        ),
      )),
    );
    for (const p of made) await waitContainerExited(socket, p.containers[0]!.id);
    const lines = await readAuditSince(mark);
    await tasks.settled();
    const truth = new Map<number, string>();
    for (const d of denialsFromRaw(lines, tag)) if (d.tag) truth.set(d.serial, `bench-sl-${process.pid}-${d.tag.slice(tag.length)}`);
    const file = path.join(tmp, 'audit.log');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const withTasks = await pass(file, new Enricher({ procs, resolver, lineage: new ProcessLineage(), tasks: { table: tasks.table, streaming: () => tasks.streaming() }, log }), truth);
    const withoutTasks = await pass(file, new Enricher({ procs: new ProcCache(), resolver, lineage: new ProcessLineage(), log }), truth);
    return {
      source,
      denials: truth.size,
      records: lines.length,
      withTasks,
      withoutTasks,
      taskEvents: tasks.table.stats.started + tasks.table.stats.exited,
      tombstones: tasks.table.tombstones,
      bytesPerTombstone: bytesPerEntry(),
      load1: Number(os.loadavg()[0]!.toFixed(2)),
    };
  } finally {
    tasks.stop();
    cri.close();
    for (const p of made) await removePod(p).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function formatShortLived(r: ShortLivedResult): string {
  const pct = (n: number) => ((n * 100) / Math.max(1, r.denials)).toFixed(1);
  const perRecord = (cpuMs: number) => ((cpuMs * 1000) / Math.max(1, r.records)).toFixed(1);
  const via = r.source === 'cri' ? "CRI GetContainerEvents (containerd 2.x, containerd's task events off)" : "containerd's task events";
  return (
    `short-lived containers (30 pods, read after all exited) via ${via}: ${r.withTasks.attributed}/${r.denials} denials attributed (${pct(r.withTasks.attributed)}%), ` +
    `${r.withTasks.wrong} wrong, with task events; without: ${r.withoutTasks.attributed}/${r.denials} (${pct(r.withoutTasks.attributed)}%), ${r.withoutTasks.wrong} wrong. ` +
    `Cost: ${r.taskEvents} task events, ${r.tombstones} tombstones (~${r.bytesPerTombstone} B each), pass over ${r.records} records ${r.withTasks.cpuMs} ms CPU ` +
    `(${perRecord(r.withTasks.cpuMs)} µs/record) vs ${r.withoutTasks.cpuMs} ms (${perRecord(r.withoutTasks.cpuMs)} µs/record); load ${r.load1}`
  );
}

/** The private containerd 2.x of test/env/cri2.sh: its socket, or (stop) stopped. */
function cri2(stop = false): string {
  const script = path.join(__dirname, '..', '..', '..', 'test', 'env', 'cri2.sh');
  const r = spawnSync('bash', [script], { encoding: 'utf8', env: { ...process.env, ...(stop ? { CTD_STOP: '1' } : {}) } });
  if (r.status !== 0) throw new Error(`test/env/cri2.sh failed:\n${r.stderr}`);
  return r.stdout.trim().split('\n').pop() ?? '';
}

if (require.main === module) {
  const viaCri = process.argv.includes('--cri');
  const run = viaCri ? benchShortLived(30, { source: 'cri', socket: cri2() }).finally(() => cri2(true)) : benchShortLived();
  run.then(
    (r) => console.log(formatShortLived(r)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
