// The live section of `npm run bench`: the real auditd writes, a real workload under SECCOMP_RET_LOG
// (test/env/seclog: one type=SECCOMP record per syscall of a busybox shell loop) runs paced at 10k and 50k
// records/s and flat out, and `auditflow run` follows auditd's log in each output mode at once (default
// denials only, --events all as v1/ECS/OCSF, each its own process writing to /dev/null, and --events all to the
// rig's Kafka broker as well), with laurel on the
// same stream when test/bench/peers.sh has built it (fed the log's new lines on stdin: it is not made
// auditd's plugin here, which would mean reconfiguring the shared auditd). For each: CPU seconds per 100k
// records (from /proc/<pid>/stat, so the other load on the machine does not count), peak RSS, how long it
// took to finish after the workload stopped (lag: until its CPU goes quiet, which other audit traffic on a
// shared machine can prevent), and the kernel's `lost` counter and serial gaps. Records: each auditflow
// reader's own count (its "auditflow run stopped" line); auditd's, the lines appended to its log.
// Each run floods the shared auditd: keep them short (LIVE_SECONDS, default 12). Standalone:
//   node dist/test/bench/live.js            (LIVE_RATES=10000,50000,0 — 0: flat out)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureKafka, type KafkaBroker } from '../env/kafka';

const ROOT = path.resolve(__dirname, '../../..');
const BIN = process.env['BENCH_BIN'] ?? path.join(ROOT, 'dist/src/cli/main.js');
const TICK = 100; // ms per paced batch
const RECORDS_PER_ITER = 7; // `echo $i >/dev/null` in busybox sh, measured by genlog.sh

export const LIVE_MODES: Record<string, string[]> = {
  'auditflow run (default)': [],
  'auditflow run --events all (v1)': ['--events', 'all'],
  'auditflow run --events all --format ecs': ['--events', 'all', '--format', 'ecs'],
  'auditflow run --events all --format ocsf': ['--events', 'all', '--format', 'ocsf'],
};

export interface LiveRow {
  who: string;
  cpuSeconds: number;
  rssMb: number | null;
  /** seconds from the end of the workload until it had read everything (its CPU went quiet) */
  lagSeconds: number | null;
  records?: number;
}

export interface LiveRun {
  rate: number;
  seconds: number;
  /** records auditd wrote during the run (lines appended to its log) */
  records: number;
  lost: number;
  serialGaps: number;
  rows: LiveRow[];
  note?: string;
}

function sh(cmd: string): string {
  return execFileSync('bash', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function auditStatus(key: string): number {
  const m = new RegExp(`^${key} (\\d+)`, 'm').exec(sh('auditctl -s'));
  if (!m) throw new Error(`auditctl -s has no ${key}`);
  return Number(m[1]);
}

const TICKS = Number(sh('getconf CLK_TCK').trim()) || 100;

/** user + system CPU seconds of a process (and its waited-for children). */
function cpuOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

function peakRssMb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

function logPath(): string {
  try {
    const m = /^\s*log_file\s*=\s*(\S+)/m.exec(fs.readFileSync('/etc/audit/auditd.conf', 'utf8'));
    if (m) return m[1]!;
  } catch {
    // the default below
  }
  return '/var/log/audit/audit.log';
}

function seclogBinary(): string {
  const out = sh(`bash ${JSON.stringify(path.join(ROOT, 'test/env/build-helpers.sh'))} 2>/dev/null || true`);
  const bin = /^seclog64=(.+)$/m.exec(out)?.[1];
  if (!bin || !fs.existsSync(bin)) throw new Error('test/env/build-helpers.sh did not build seclog (seclog64=…)');
  return bin;
}

function laurelBinary(): string | null {
  const cache = process.env['AUDITFLOW_CACHE'] ?? '/var/cache/auditflow';
  try {
    for (const d of fs.readdirSync(path.join(cache, 'peers'))) {
      const b = path.join(cache, 'peers', d, 'bin', 'laurel');
      if (d.startsWith('laurel-') && fs.existsSync(b)) return b;
    }
  } catch {
    // not built
  }
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function waitFor(child: ChildProcess, re: RegExp, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const t = setTimeout(() => reject(new Error(`not started within ${ms} ms: ${seen.slice(-500)}`)), ms);
    child.stderr!.on('data', (d: Buffer) => {
      seen = (seen + d.toString()).slice(-20000);
      if (re.test(seen)) {
        clearTimeout(t);
        resolve();
      }
    });
    child.on('exit', (c) => reject(new Error(`exited ${c} before starting: ${seen.slice(-500)}`)));
  });
}

/** Runs the workload: `rate` records/s in batches every TICK ms (0: flat out) for `seconds`. */
async function workload(seclog: string, rate: number, seconds: number): Promise<void> {
  const busybox = sh('command -v busybox').trim();
  const end = Date.now() + seconds * 1000;
  const iters = rate > 0 ? Math.max(1, Math.round((rate * TICK) / 1000 / RECORDS_PER_ITER)) : 20_000;
  while (Date.now() < end) {
    const t0 = Date.now();
    await new Promise<void>((resolve, reject) => {
      const p = spawn(seclog, [busybox, 'sh', '-c', `i=0; while [ $i -lt ${iters} ]; do echo $i >/dev/null; i=$((i+1)); done`], { stdio: 'ignore' });
      p.on('error', reject);
      p.on('exit', () => resolve());
    });
    if (rate > 0) await sleep(Math.max(0, TICK - (Date.now() - t0)));
  }
}

/** Serials missing from the kernel records in `text` (their gaps: records lost, or filtered by rules). */
function serialGaps(text: string): number {
  const serials: number[] = [];
  for (const m of text.matchAll(/^(?:node=\S+ )?type=(\S+) msg=audit\(\d+\.\d+:(\d+)\)/gm)) if (!m[1]!.startsWith('DAEMON_')) serials.push(Number(m[2]));
  const u = [...new Set(serials)].sort((a, b) => a - b);
  let gaps = 0;
  for (let i = 1; i < u.length; i++) if (u[i]! > u[i - 1]! + 1) gaps += u[i]! - u[i - 1]! - 1;
  return gaps;
}

/** BENCH_CPU_PROF=DIR: each reader writes a V8 CPU profile there (node --cpu-prof), to see where the time goes. */
function cpuProfFlags(): string[] {
  const dir = process.env['BENCH_CPU_PROF'];
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : [];
}

/** The Kafka row: every event as v1 to the rig's broker (and to /dev/null as the other rows). */
const KAFKA_MODE = 'auditflow run --events all (v1) + Kafka';

async function liveRun(rate: number, seconds: number, seclog: string, laurel: string | null, kafka: KafkaBroker | null): Promise<LiveRun> {
  const log = logPath();
  const auditd = auditStatus('pid');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-live-'));
  const procs: { who: string; child: ChildProcess; stopped?: string }[] = [];
  const modes = Object.entries(LIVE_MODES);
  if (kafka) modes.push([KAFKA_MODE, ['--events', 'all', '--kafka-brokers', kafka.brokers.join(','), '--spool-dir', path.join(tmp, 'spool')]]);
  try {
    for (const [who, extra] of modes) {
      const child = spawn(process.execPath, [...cpuProfFlags(), BIN, 'run', '--audit-log', log, '--checkpoint', 'none', '--listen', 'none', '--no-track-forks', '--no-progress', '--cri-socket', 'none', '--node-name', 'bench', '--output', '/dev/null', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
      const entry: { who: string; child: ChildProcess; stopped?: string } = { who, child };
      let err = '';
      child.stderr!.on('data', (d: Buffer) => {
        err = (err + d.toString()).slice(-20000);
        const m = /^.*"auditflow run stopped".*$/m.exec(err);
        if (m) entry.stopped = m[0];
      });
      procs.push(entry);
      await waitFor(child, /auditflow run started/, 30_000);
    }
    const size0 = fs.statSync(log).size;
    const ino0 = fs.statSync(log).ino;
    let laurelProc: ChildProcess | null = null;
    if (laurel) {
      const config = path.join(tmp, 'laurel.toml');
      fs.writeFileSync(config, [`directory = ${JSON.stringify(tmp)}`, 'input = "stdin"', '[auditlog]', 'file = "-"', '[state]', 'file = ""', ''].join('\n'), { mode: 0o600 });
      laurelProc = spawn('bash', ['-c', `exec ${JSON.stringify(laurel)} -c ${JSON.stringify(config)} > /dev/null < <(exec tail -c +${size0 + 1} -F ${JSON.stringify(log)} 2>/dev/null)`], { stdio: 'ignore' });
      await sleep(500);
    }
    const pids: { who: string; pid: number }[] = [{ who: 'auditd', pid: auditd }, ...procs.map((p) => ({ who: p.who, pid: p.child.pid! }))];
    if (laurelProc) pids.push({ who: 'laurel (stdin, same stream)', pid: laurelProc.pid! });
    const cpu0 = new Map(pids.map((p) => [p.who, cpuOf(p.pid)]));
    const lost0 = auditStatus('lost');
    await workload(seclog, rate, seconds);
    const workEnd = Date.now();
    // each reader is done when its CPU stays still for a second (at most 60 s)
    const lag = new Map<string, number | null>();
    const last = new Map(pids.map((p) => [p.who, cpuOf(p.pid)]));
    const quietSince = new Map<string, number>();
    while (lag.size < pids.length - 1 && Date.now() - workEnd < 60_000) {
      await sleep(250);
      for (const p of pids.slice(1)) {
        if (lag.has(p.who)) continue;
        const c = cpuOf(p.pid);
        if (c > last.get(p.who)!) {
          last.set(p.who, c);
          quietSince.delete(p.who);
        } else if (!quietSince.has(p.who)) quietSince.set(p.who, Date.now());
        else if (Date.now() - quietSince.get(p.who)! >= 1000) lag.set(p.who, Math.max(0, (quietSince.get(p.who)! - workEnd) / 1000));
      }
    }
    const lost = auditStatus('lost') - lost0;
    const rows: LiveRow[] = pids.map((p) => ({ who: p.who, cpuSeconds: cpuOf(p.pid) - cpu0.get(p.who)!, rssMb: p.who === 'auditd' ? null : peakRssMb(p.pid), lagSeconds: p.who === 'auditd' ? null : (lag.get(p.who) ?? null) }));
    let records = 0;
    let gaps = 0;
    let note: string | undefined;
    if (fs.statSync(log).ino === ino0) {
      const fd = fs.openSync(log, 'r');
      const n = fs.statSync(log).size - size0;
      const buf = Buffer.alloc(n);
      fs.readSync(fd, buf, 0, n, size0);
      fs.closeSync(fd);
      const text = buf.toString('latin1');
      records = text.split('\n').length - 1;
      gaps = serialGaps(text);
    } else note = 'auditd rotated its log during the run: records counted by auditflow (default), serial gaps not counted';
    for (const p of procs) p.child.kill('SIGTERM');
    laurelProc?.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((r) => (p.child.exitCode !== null ? r(undefined) : p.child.on('exit', r)))));
    for (const p of procs) {
      const m = p.stopped ? /"records":(\d+)/.exec(p.stopped) : null;
      const row = rows.find((r) => r.who === p.who)!;
      if (m) row.records = Number(m[1]);
    }
    if (!records) records = rows.find((r) => r.who === 'auditflow run (default)')?.records ?? 0;
    return { rate, seconds, records, lost, serialGaps: gaps, rows, ...(note ? { note } : {}) };
  } finally {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export async function benchLive(): Promise<LiveRun[]> {
  if (process.getuid?.() !== 0) throw new Error('the live bench needs root (auditctl, /proc of auditd)');
  const seconds = Number(process.env['LIVE_SECONDS'] ?? 12);
  const rates = (process.env['LIVE_RATES'] ?? '10000,50000,0').split(',').map(Number);
  const seclog = seclogBinary();
  const laurel = laurelBinary();
  // the rig's one-node KRaft broker (test/env/kafka.ts); LIVE_KAFKA=none leaves the Kafka row out
  const kafka = process.env['LIVE_KAFKA'] === 'none' ? null : await ensureKafka();
  const runs: LiveRun[] = [];
  for (const rate of rates) runs.push(await liveRun(rate, seconds, seclog, laurel, kafka));
  return runs;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function formatLive(runs: LiveRun[]): string {
  const out: string[] = ['\nlive: auditd writing, seclog workload, every reader on the same stream (CPU from /proc/<pid>/stat)'];
  for (const r of runs) {
    // each auditflow reader by the records it read itself; auditd (and laurel) by the records of the stream
    const per100k = (s: number, records = r.records) => (records ? (s * 100_000) / records : NaN);
    out.push(
      `\n${r.rate ? `paced ${fmt(r.rate)} records/s` : 'flat out'}, ${r.seconds} s: ${fmt(r.records)} records written (${fmt(r.records / r.seconds)}/s), kernel lost ${r.lost}, serial gaps ${r.serialGaps}${r.note ? ` (${r.note})` : ''}`,
    );
    const auditd = r.rows.find((x) => x.who === 'auditd')!;
    const laurel = r.rows.find((x) => x.who.startsWith('laurel'));
    out.push(`  ${'reader'.padEnd(42)} ${'CPU s/100k'.padStart(10)} ${'µs/rec'.padStart(7)} ${'÷auditd'.padStart(8)} ${'÷laurel'.padStart(8)} ${'RSS MB'.padStart(7)} ${'lag s'.padStart(6)}`);
    for (const x of r.rows) {
      const c = per100k(x.cpuSeconds, x.records ?? r.records);
      out.push(
        `  ${x.who.padEnd(42)} ${fmt(c, 2).padStart(10)} ${fmt((c * 1e6) / 100_000, 1).padStart(7)} ${fmt(c / per100k(auditd.cpuSeconds), 2).padStart(8)} ${(laurel ? fmt(c / per100k(laurel.cpuSeconds), 2) : 'n/a').padStart(8)} ${(x.rssMb === null ? '' : fmt(x.rssMb)).padStart(7)} ${(x.lagSeconds === null ? (x.who === 'auditd' ? '' : 'busy') : fmt(x.lagSeconds, 1)).padStart(6)}`,
      );
    }
    if (!laurel) out.push('  laurel: not built (test/bench/peers.sh builds it into the cache): no ÷laurel column');
    if (r.rows.some((x) => x.who !== 'auditd' && x.lagSeconds === null)) out.push('  lag "busy": its CPU never went quiet within 60 s of the workload\'s end (other audit traffic on the machine)');
  }
  return out.join('\n');
}

if (require.main === module) {
  benchLive().then(
    (runs) => console.log(formatLive(runs)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
