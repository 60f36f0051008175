// Bench of the node pipeline's tail → parse → enrich → sink path, with a warm cache: SECCOMP records of a
// real container process (a pod run through containerd's CRI) are read from a log file by the real tailer,
// enriched through /proc and the CRI runtime (cached after the first lookups), and written as NDJSON to a
// file (fsync per batch). Reports events/s and CPU time per 100k events. Standalone:
//   node dist/test/bench/run-path.js [events]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CriClient } from '../../src/enrich/cri';
import { Enricher } from '../../src/enrich/enricher';
import { PodResolver } from '../../src/enrich/pod-resolver';
import { ProcCache } from '../../src/enrich/proc-cache';
import { createLogger } from '../../src/log';
import { Pipeline } from '../../src/run/pipeline';
import { NdjsonSink } from '../../src/sink/ndjson';
import { openTailer } from '../../src/tail';
import { ensureContainerd, removePod, runPod } from '../env/cri';

export interface RunPathResult {
  events: number;
  wallMs: number;
  eventsPerSec: number;
  cpuMsPer100k: number;
  /** share of events enriched without a /proc read (pid cache) */
  pidCacheHitRatio: number;
  /** CRI calls made during the measured pass (0 with a warm cache) */
  criCallsMeasured: number;
  resolved: number;
}

function seccompLog(file: string, pid: number, n: number, serial0: number): void {
  const t = Date.now() / 1000;
  const fd = fs.openSync(file, 'w');
  const chunk: string[] = [];
  const nrs = [0, 1, 3, 9, 12, 13, 14, 39, 59, 157, 202, 228, 231, 257, 262];
  for (let i = 0; i < n; i++) {
    const ts = (t + i / 1e6).toFixed(3);
    chunk.push(
      `type=SECCOMP msg=audit(${ts}:${serial0 + i}): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid=${pid} comm="sh" exe="/bin/busybox" sig=0 arch=c000003e syscall=${nrs[i % nrs.length]} compat=0 ip=0x49641b code=0x7ffc0000\x1dAUID="unset" UID="root" GID="root" ARCH=x86_64 SYSCALL=unknown-syscall(-1)`,
    );
    if (chunk.length === 4096) {
      fs.writeSync(fd, chunk.join('\n') + '\n');
      chunk.length = 0;
    }
  }
  if (chunk.length) fs.writeSync(fd, chunk.join('\n') + '\n');
  fs.closeSync(fd);
}

async function pass(file: string, out: string, enricher: Enricher): Promise<{ events: number; resolved: number; wallMs: number; cpuMs: number }> {
  const log = createLogger('bench');
  const tailer = await openTailer({ path: file, checkpointPath: null, startAt: 'start', follow: false }, log);
  const sink = new NdjsonSink({ output: out, format: 'v1', log });
  let resolved = 0;
  const counter = { name: 'count', write: async (evs: readonly { enrichment: string }[]) => void (resolved += evs.filter((e) => e.enrichment === 'resolved').length), flush: async () => undefined, close: async () => undefined };
  const p = new Pipeline({ tailer, enricher, node: 'bench', sourceFile: file, log, routes: [{ sink, accept: () => true }, { sink: counter, accept: () => true }] });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await p.run();
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  return { events: p.stats.events, resolved, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

export async function benchRunPath(events = Number(process.env['RUN_PATH_EVENTS'] ?? 200_000)): Promise<RunPathResult> {
  const socket = ensureContainerd();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-bench-run-'));
  const pod = await runPod({ name: `bench-${process.pid}`, namespace: 'bench', labels: { app: 'bench' }, containers: [{ name: 'app', command: ['sleep', '3600'] }], socketPath: socket });
  const cri = new CriClient({ socketPath: socket });
  try {
    const pid = pod.containers[0]!.pid;
    const resolver = new PodResolver({ client: cri });
    const procs = new ProcCache();
    const enricher = new Enricher({ procs, resolver, log: createLogger('bench') });
    // warm-up pass: the cache learns the pid and the container, and the JIT the code
    const warm = path.join(tmp, 'warm.log');
    seccompLog(warm, pid, 20_000, 1);
    await pass(warm, path.join(tmp, 'warm.ndjson'), enricher);
    const calls0 = Object.values(cri.calls).reduce((n, v) => n + (v ?? 0), 0);
    const reads0 = procs.stats.procReads;
    const hits0 = procs.stats.freshHits;
    const file = path.join(tmp, 'run.log');
    seccompLog(file, pid, events, 100_000);
    const r = await pass(file, path.join(tmp, 'run.ndjson'), enricher);
    const hits = procs.stats.freshHits - hits0;
    const reads = procs.stats.procReads - reads0;
    return {
      events: r.events,
      wallMs: Math.round(r.wallMs),
      eventsPerSec: Math.round((r.events * 1000) / r.wallMs),
      cpuMsPer100k: Math.round((r.cpuMs * 100_000) / r.events),
      pidCacheHitRatio: hits + reads ? Number((hits / (hits + reads)).toFixed(4)) : 0,
      criCallsMeasured: Object.values(cri.calls).reduce((n, v) => n + (v ?? 0), 0) - calls0,
      resolved: r.resolved,
    };
  } finally {
    cri.close();
    await removePod(pod).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchRunPath(process.argv[2] ? Number(process.argv[2]) : undefined).then(
    (r) => console.log(JSON.stringify(r)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
