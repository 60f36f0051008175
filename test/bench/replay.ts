// The rate section of `npm run bench`: does one core keep up with 150k records/s, and with what lag and RSS
// (issue 14)? auditd cannot write that fast on this VM (with a workload it tops out near 40k records/s, the live
// section), so here a writer appends recorded auditd lines to a file at a paced rate while `auditflow run`
// follows it, pinned to one core (taskset; the writer, this process, on another), its events to a regular
// file. The lines are the real log's first 100k records, cycled, each stamped with the second it is written in (serials moved on by 10M a pass,
// so a pass's events stay apart), with the pid of this bench process, a live host process for the enricher.
//
// Per mode: the reader's CPU per record and its share of its core, the most it fell behind while the writer ran
// (seconds of input not yet read: bytes written minus its auditflow_tail_bytes_read_total, at the writing rate),
// how long it took to catch up after the writer stopped, and its peak RSS. It asserts nothing.
//   Standalone: node dist/test/bench/replay.js LOG   (REPLAY_RATE=150000, REPLAY_SECONDS=10, REPLAY_MODES=default,all-v1)
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../env/net';
import { cpuOf, cpuProfFlags, peakRssMb } from './proc-stats';
import { tailBytesRead } from './reader-metrics';

const ROOT = path.resolve(__dirname, '../../..');
const BIN = process.env['BENCH_BIN'] ?? path.join(ROOT, 'dist/src/cli/main.js');
const TICK_MS = 10;

export const REPLAY_MODES: Record<string, string[]> = {
  default: [],
  'all-v1': ['--events', 'all'],
  'all-ecs': ['--events', 'all', '--format', 'ecs'],
};

export interface ReplayResult {
  mode: string;
  rate: number;
  /** the rate the writer reached */
  written: number;
  seconds: number;
  usPerRecord: number;
  /** reader CPU seconds per wall second while the writer ran (1 = its whole core) */
  coreShare: number;
  /** the most it was behind while the writer ran, in seconds of input */
  maxBehindS: number;
  /** from the writer's end until it had read everything */
  catchUpS: number | null;
  rssMb: number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function started(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const t = setTimeout(() => reject(new Error(`auditflow run did not start within 30 s: ${seen.slice(-500)}`)), 30_000);
    child.stderr!.on('data', (d: Buffer) => {
      seen = (seen + d.toString()).slice(-20000);
      if (seen.includes('auditflow run started')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.on('exit', (c) => reject(new Error(`auditflow run exited ${c} before starting: ${seen.slice(-500)}`)));
  });
}

/** The log's lines, split into header parts so each can be stamped anew: [before secs, fraction, serial, rest]. */
function loadLines(log: string): Array<[string, string, number, string]> {
  const out: Array<[string, string, number, string]> = [];
  for (const line of fs.readFileSync(log, 'latin1').split('\n')) {
    const m = /^(.*?msg=audit\()\d+\.(\d+):(\d+)(\).*)$/.exec(line);
    if (m) out.push([m[1]!, m[2]!, Number(m[3]), m[4]!.replace(/ pid=\d+ /, ` pid=${process.pid} `)]);
  }
  if (out.length === 0) throw new Error(`${log}: no audit lines`);
  return out;
}

async function replayOne(lines: Array<[string, string, number, string]>, mode: string, rate: number, seconds: number, cores: number): Promise<ReplayResult> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-replay-'));
  const file = path.join(tmp, 'audit.log');
  fs.writeFileSync(file, '');
  // events go to a regular file, as a SIEM shipper would tail it (not /dev/null: a device is written
  // asynchronously, a file synchronously), truncated by the probe below so that a run does not fill the disk
  const events = path.join(tmp, 'events.ndjson');
  const port = await freePort();
  // the reader on the last core, this writer elsewhere: "one core" is the reader's alone
  const reader = cores > 1 ? ['taskset', '-c', String(cores - 1), process.execPath] : [process.execPath];
  const prof = cpuProfFlags();
  const child = spawn(reader[0]!, [...reader.slice(1), ...prof, BIN, 'run', '--audit-log', file, '--checkpoint', 'none', '--listen', `127.0.0.1:${port}`, '--no-track-forks', '--no-progress', '--cri-socket', 'none', '--node-name', 'bench', '--output', events, ...REPLAY_MODES[mode]!], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await started(child);
    const fd = fs.openSync(file, 'a');
    const cpu0 = cpuOf(`/proc/${child.pid!}`);
    const t0 = Date.now();
    let written = 0;
    let bytes = 0;
    let next = 0;
    let maxBehindS = 0;
    let lastProbe = t0;
    const bytesPerRecord = () => (written ? bytes / written : 300);
    while (Date.now() - t0 < seconds * 1000) {
      const due = Math.min(rate * seconds, Math.floor(((Date.now() - t0) / 1000) * rate));
      if (due > written) {
        const sec = Math.floor(Date.now() / 1000);
        let chunk = '';
        for (; written < due; written++, next++) {
          const i = next % lines.length;
          const [head, frac, serial, rest] = lines[i]!;
          chunk += `${head}${sec}.${frac}:${serial + Math.floor(next / lines.length) * 10_000_000}${rest}\n`;
        }
        bytes += fs.writeSync(fd, chunk, null, 'latin1');
      }
      if (Date.now() - lastProbe >= 500) {
        lastProbe = Date.now();
        // (the sink appends: after a truncation its next write lands at the new end)
        if (fs.existsSync(events)) fs.truncateSync(events, 0);
        const behind = bytes - ((await tailBytesRead(port)) ?? 0);
        maxBehindS = Math.max(maxBehindS, behind / bytesPerRecord() / rate);
      }
      await sleep(TICK_MS);
    }
    const wall = (Date.now() - t0) / 1000;
    const cpuWriting = cpuOf(`/proc/${child.pid!}`) - cpu0;
    fs.closeSync(fd);
    const end = Date.now();
    let catchUpS: number | null = null;
    while (Date.now() - end < 60_000) {
      if (((await tailBytesRead(port)) ?? -1) >= bytes) {
        catchUpS = (Date.now() - end) / 1000;
        break;
      }
      await sleep(50);
    }
    const cpu = cpuOf(`/proc/${child.pid!}`) - cpu0;
    return { mode, rate, written: written / wall, seconds: wall, usPerRecord: (cpu * 1e6) / written, coreShare: cpuWriting / wall, maxBehindS, catchUpS, rssMb: peakRssMb(child.pid!) };
  } finally {
    // SIGTERM: a profiling reader writes its profile on the way out
    child.kill(prof.length ? 'SIGTERM' : 'SIGKILL');
    if (prof.length) await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.on('exit', r)));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export async function benchReplay(log: string): Promise<ReplayResult[]> {
  const rate = Number(process.env['REPLAY_RATE'] ?? 150_000);
  const seconds = Number(process.env['REPLAY_SECONDS'] ?? 10);
  const modes = (process.env['REPLAY_MODES'] ?? 'default,all-v1').split(',').filter((m) => m !== '' && m !== 'none');
  for (const m of modes) if (!REPLAY_MODES[m]) throw new Error(`REPLAY_MODES: unknown mode ${m} (${Object.keys(REPLAY_MODES).join(', ')})`);
  const lines = loadLines(log);
  const out: ReplayResult[] = [];
  for (const m of modes) out.push(await replayOne(lines, m, rate, seconds, os.cpus().length));
  return out;
}

export function formatReplay(rs: ReplayResult[]): string {
  const f = (n: number, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  const out = [`\nrate: recorded lines appended at a paced rate, \`auditflow run\` following the file pinned to one core (load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}):`];
  out.push(`  ${'mode'.padEnd(8)} ${'rate/s'.padStart(9)} ${'µs/rec'.padStart(7)} ${'core'.padStart(6)} ${'max behind s'.padStart(13)} ${'catch-up s'.padStart(11)} ${'RSS MB'.padStart(7)}`);
  for (const r of rs) {
    out.push(`  ${r.mode.padEnd(8)} ${f(r.written).padStart(9)} ${f(r.usPerRecord, 1).padStart(7)} ${`${f(r.coreShare * 100)}%`.padStart(6)} ${f(r.maxBehindS, 2).padStart(13)} ${(r.catchUpS === null ? '> 60' : f(r.catchUpS, 2)).padStart(11)} ${(r.rssMb === null ? '' : f(r.rssMb)).padStart(7)}`);
  }
  return out.join('\n');
}

if (require.main === module) {
  const log = process.argv[2];
  if (!log) {
    console.error('usage: node dist/test/bench/replay.js LOG');
    process.exit(2);
  }
  benchReplay(log).then(
    (rs) => console.log(formatReplay(rs)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
