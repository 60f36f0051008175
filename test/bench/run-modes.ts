// `auditflow run --once` on a recorded auditd log, per output mode: CPU time per record of the whole process
// (start-up taken out: the same run on an empty log), as a user runs it. The recorded records' processes are
// long gone, so their pid= is rewritten to the init process of a real container (a pod run through the rig's
// containerd), and their stamps to now: enrichment then takes the live path's route (/proc + CRI, cached), not
// "process gone".
// Standalone:  node dist/test/bench/run-modes.js LOG [modes]   (modes: default,default-record,all-v1,all-ecs,all-ocsf)
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureContainerd, removePod, runPod } from '../env/cri';

const ROOT = path.resolve(__dirname, '../../..');
/** BENCH_BIN: another build's CLI (a before/after comparison on the same input). */
const BIN = process.env['BENCH_BIN'] ?? path.join(ROOT, 'dist/src/cli/main.js');

export const RUN_MODES: Record<string, string[]> = {
  default: [],
  // the default run recording the workload's pod (the issue-14 goal's "selected pods recorded"); @TMP@: a fresh directory per run
  'default-record': ['--record', 'app=bench', '--profile-dir', '@TMP@/profiles'],
  'all-v1': ['--events', 'all'],
  'all-ecs': ['--events', 'all', '--format', 'ecs'],
  'all-ocsf': ['--events', 'all', '--format', 'ocsf'],
};

export interface ModeResult {
  mode: string;
  records: number;
  /** CPU seconds (user + system) of the process, start-up excluded */
  cpuSeconds: number;
  usPerRecord: number;
  outBytes: number;
  maxRssMb: number;
}

/** BENCH_CPU_PROF=DIR: each run writes a V8 CPU profile there (node --cpu-prof), to see where the time goes. */
function nodeFlags(): string[] {
  const dir = process.env['BENCH_CPU_PROF'];
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : [];
}

/** user+system CPU seconds and max RSS of one child, from /usr/bin/time. */
async function timed(args: string[], out: string): Promise<{ cpu: number; rssMb: number }> {
  const fmt = path.join(os.tmpdir(), `auditflow-time-${process.pid}`);
  const code = await new Promise<number | null>((resolve, reject) => {
    const p = spawn('/usr/bin/time', ['-o', fmt, '-f', '%U %S %M', process.execPath, ...nodeFlags(), BIN, 'run', ...args, '--output', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    p.on('error', reject);
    p.on('exit', (c) => (c === 0 ? resolve(c) : reject(new Error(`auditflow run exited ${c}: ${err}`))));
  });
  void code;
  const [u, s, m] = fs.readFileSync(fmt, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  fs.rmSync(fmt, { force: true });
  return { cpu: u! + s!, rssMb: m! / 1024 };
}

/**
 * The log as if `pid` wrote it now: every pid= becomes the container's process, and every stamp moves by one
 * offset so that the first record is a second from now. A record older than its process's start belongs to an
 * earlier holder of the pid (enrich/proc-cache.ts), so old stamps would send every record down the "not this
 * process" path and cost a /proc read each, which a live node never pays.
 */
export function livened(text: string, pid: number): string {
  const first = /audit\((\d+)\./.exec(text);
  const shift = first ? Math.ceil(Date.now() / 1000) + 1 - Number(first[1]) : 0;
  return text.replace(/ pid=\d+ /g, ` pid=${pid} `).replace(/audit\((\d+)\./g, (_m, sec: string) => `audit(${Number(sec) + shift}.`);
}

export async function benchRunModes(log: string, modes = Object.keys(RUN_MODES), rounds = Number(process.env['BENCH_ROUNDS'] ?? 2)): Promise<ModeResult[]> {
  const socket = ensureContainerd();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-bench-modes-'));
  const pod = await runPod({ name: `bench-modes-${process.pid}`, namespace: 'bench', labels: { app: 'bench' }, containers: [{ name: 'app', command: ['sleep', '3600'] }], socketPath: socket });
  try {
    const pid = pod.containers[0]!.pid;
    const file = path.join(tmp, 'audit.log');
    const text = fs.readFileSync(log, 'latin1');
    fs.writeFileSync(file, livened(text, pid), 'latin1');
    const records = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    const empty = path.join(tmp, 'empty.log');
    fs.writeFileSync(empty, '');
    const common = ['--once', '--from-start', '--checkpoint', 'none', '--listen', 'none', '--no-track-forks', '--no-progress', '--cri-socket', socket, '--node-name', 'bench'];
    const results: ModeResult[] = [];
    for (const mode of modes) {
      const extra = RUN_MODES[mode]!.map((a) => a.replace('@TMP@', tmp));
      let best = { net: Infinity, rssMb: 0, outBytes: 0 };
      for (let r = 0; r < rounds; r++) {
        const out = path.join(tmp, `${mode}.ndjson`);
        fs.rmSync(out, { force: true });
        const st = await timed([...common, ...extra, '--audit-log', empty], out);
        fs.rmSync(out, { force: true }); // the sink appends: each round measures its own output
        fs.rmSync(path.join(tmp, 'profiles'), { recursive: true, force: true }); // and the recorder its own profiles
        const t = await timed([...common, ...extra, '--audit-log', file], out);
        if (t.cpu - st.cpu < best.net) best = { net: t.cpu - st.cpu, rssMb: t.rssMb, outBytes: fs.statSync(out).size };
      }
      const cpuSeconds = Math.max(0, best.net);
      results.push({ mode, records, cpuSeconds, usPerRecord: (cpuSeconds / records) * 1e6, outBytes: best.outBytes, maxRssMb: Math.round(best.rssMb) });
    }
    return results;
  } finally {
    await removePod(pod).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const [log, modes] = process.argv.slice(2);
  if (!log) {
    console.error('usage: run-modes.js LOG [mode,...]');
    process.exit(2);
  }
  benchRunModes(log, modes ? modes.split(',') : undefined).then(
    (rs) => {
      for (const r of rs) console.log(JSON.stringify({ ...r, usPerRecord: Number(r.usPerRecord.toFixed(2)) }));
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
