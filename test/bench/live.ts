// The live section of `npm run bench`: the real auditd writes, a real workload under SECCOMP_RET_LOG
// (test/env/seclog: one type=SECCOMP record per syscall of a busybox shell loop) runs paced at 10k and 50k
// records/s and flat out, and `auditflow run` follows auditd's log in each output mode at once (default
// denials only, --events all as v1/ECS/OCSF, each its own process writing to /dev/null, and --events all to the
// rig's Kafka broker as well), with laurel on the same stream when test/bench/peers.sh has built it: run as
// auditd's plugin, as its users deploy it (test/bench/laurel-plugin.ts installs it for each run and removes it
// after, also on failure and SIGINT; its log goes to a temporary directory). For each: CPU seconds per 100k
// records (from /proc/<pid>/stat, so the other load on the machine does not count; laurel's from its own
// process, auditd's child, and auditd's plugin dispatcher thread on a row of its own), peak RSS, how long it
// took to catch up after the workload stopped (lag: auditflow's, until it has read the log as far as auditd had
// written it then, from its /metrics; laurel's, fed by a pipe, until its CPU goes quiet, which other audit
// traffic on a shared machine can prevent), and the kernel's `lost` counter and serial gaps. Records: each auditflow
// reader's own count (its "auditflow run stopped" line); auditd's and laurel's, the lines appended to its log.
// What laurel missed (auditd drops records for its plugins when their queue, q_depth, is full) is counted from
// the events in laurel's log against the serials in auditd's, next to auditd's own queue report.
// Each run floods the shared auditd: keep them short (LIVE_SECONDS, default 12). Standalone:
//   node dist/test/bench/live.js            (LIVE_RATES=10000,50000,0 — 0: flat out; LIVE_KAFKA=none: no
//                                            Kafka row; LIVE_LAUREL=none: no laurel plugin; LIVE_ONLY=REGEX:
//                                            only the auditflow rows whose names match, e.g. 'default';
//                                            LIVE_WARMUP=seconds at a paced rate before measuring, default 20)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../env/net';
import { auditdConfValue, ensureAuditd, execCapture } from '../env/rig';
import { cpuOf, cpuProfFlags, peakRssMb } from './proc-stats';
import { recordsParsed, tailBytesRead } from './reader-metrics';
import { ensureKafka, type KafkaBroker } from '../env/kafka';
import { installLaurelPlugin, type LaurelPlugin, laurelEventsOf, pluginQueueConf, type PluginQueueState, pluginQueueState, removeLaurelPlugin } from './laurel-plugin';

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
  /** auditd or its plugin dispatcher thread: they write the stream, no lag, no RSS of their own */
  writer?: boolean;
}

/** laurel as auditd's plugin: what reached its log, and auditd's view of its plugin queue. */
export interface LaurelStats {
  /** events of the run (serials in auditd's log) found in laurel's log; null if not countable (log rotated) */
  events: number | null;
  /** events of the run in auditd's log */
  of: number | null;
  queueBefore: PluginQueueState | null;
  queueAfter: PluginQueueState | null;
  /** laurel was gone at the end of the run (auditd restarts a plugin that dies: the new one is not measured) */
  diedDuringRun: boolean;
}

export interface LiveRun {
  rate: number;
  seconds: number;
  /** the workload ran this long at the same rate before the measured part (0: none) */
  warmupSeconds: number;
  /** records auditd wrote during the run (lines appended to its log) */
  records: number;
  lost: number;
  serialGaps: number;
  rows: LiveRow[];
  laurel?: LaurelStats;
  note?: string;
  /** the 1-minute load average when the run started and when it ended */
  load: [number, number];
  /** services of the test rig that were running meanwhile (none of them part of this section) */
  rigServices: string[];
}

/**
 * Services a test run leaves up (test/env: kube-apiserver, etcd, the kubelet's cluster) that the live section does
 * not use. Right after a test run auditd once wrote ~5k records/s flat out here, its main thread waiting on its
 * flushes (fsync shares the disk with etcd's), against 50-140k otherwise. Named in the output, so that such
 * figures are not taken for the machine's.
 */
function rigServicesRunning(): string[] {
  const out: string[] = [];
  for (const name of ['etcd', 'kube-apiserver', 'kubelet']) {
    let n = 0;
    try {
      n = execFileSync('pgrep', ['-x', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter(Boolean).length;
    } catch {
      // pgrep exits 1 when none matches
    }
    if (n) out.push(n > 1 ? `${name} ×${n}` : name);
  }
  return out;
}

function sh(cmd: string): string {
  return execFileSync('bash', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function auditStatus(key: string): number {
  const m = new RegExp(`^${key} (\\d+)`, 'm').exec(sh('auditctl -s'));
  if (!m) throw new Error(`auditctl -s has no ${key}`);
  return Number(m[1]);
}

/** What auditd keeps of its log before rotating it out of reach: max_log_file MB × num_logs (its defaults: 8 × 5). */
function rotationWindowBytes(): number {
  const mb = Number(auditdConfValue('max_log_file') ?? 8);
  const n = Number(auditdConfValue('num_logs') ?? 5);
  return mb * 1024 * 1024 * Math.max(1, n);
}

/**
 * How long the workload runs before a paced run is measured. A reader that waits between batches tiers its
 * per-batch code up slowly (a batch every 50 ms: V8 was still optimizing the pipeline's per-batch functions 15–30 s
 * into a 10k/s run, and its CPU per record fell from ~7.5 µs in the first 15 s to ~5 after 30 s), while a node
 * agent runs for days: the measured part should be its steady state. Flat out there is no wait (the code is
 * hot within a second) and no warm-up. Bounded so that warm-up and run stay within half of what auditd keeps
 * before rotating its log away (the run's records and serial gaps are read from it): at 50k/s nominal none.
 */
function warmupSeconds(rate: number, seconds: number): number {
  if (rate === 0) return 0;
  const wanted = Number(process.env['LIVE_WARMUP'] ?? 20);
  const fits = Math.floor(rotationWindowBytes() / 2 / (rate * LINE_BYTES_ABOUT)) - seconds;
  return Math.max(0, Math.min(wanted, fits));
}
/** an ENRICHED SECCOMP line of the workload, about */
const LINE_BYTES_ABOUT = 330;

function logPath(): string {
  return auditdConfValue('log_file') ?? '/var/log/audit/audit.log';
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

/**
 * How many bytes auditd appended to `log` since it was `size0` bytes long as inode `ino0`, across rotations: at
 * 50k records/s its 64 MB file rotates within a run, and the rotated part is then in log.1 (or further). Null if
 * the file of the mark is gone (rotated past num_logs).
 */
function appendedBytes(log: string, ino0: number, size0: number): number | null {
  let n = 0;
  for (let i = 0; ; i++) {
    let st: fs.Stats;
    try {
      st = fs.statSync(i ? `${log}.${i}` : log);
    } catch {
      return null;
    }
    if (st.ino === ino0) return n + st.size - size0;
    n += st.size;
  }
}

/**
 * The log as it was at a moment: its inode, its size and its last bytes then. The bytes tell the file from a later
 * one that reuses its inode number: a run writing more than auditd keeps deletes the file of the mark, and a new
 * log may then get the same number (seen on a 300-s run: a quarter of the records counted, auditd's cost per
 * record four times too high).
 */
interface LogMark {
  ino: number;
  size: number;
  tail: Buffer;
}

/** The `n` bytes of `fd` that end at `end`. */
function bytesBefore(fd: number, end: number, n: number): Buffer {
  const buf = Buffer.alloc(n);
  fs.readSync(fd, buf, 0, n, end - n);
  return buf;
}

function markLog(log: string): LogMark {
  const fd = fs.openSync(log, 'r');
  try {
    const { ino, size } = fs.fstatSync(fd);
    return { ino, size, tail: bytesBefore(fd, size, Math.min(size, 4096)) };
  } finally {
    fs.closeSync(fd);
  }
}

function appendedSince(log: string, mark: LogMark): string | null {
  const { ino: ino0, size: size0 } = mark;
  // newest first: log, log.1, log.2, … until the file of the mark
  const files: string[] = [];
  for (let i = 0; ; i++) {
    const f = i ? `${log}.${i}` : log;
    let ino: number;
    try {
      ino = fs.statSync(f).ino;
    } catch {
      return null;
    }
    files.unshift(f);
    if (ino === ino0) break;
  }
  try {
    const parts = files.map((f, i) => {
      const fd = fs.openSync(f, 'r');
      try {
        if (i === 0) {
          // a rotation between the stat above and this open would shift every name by one
          if (fs.fstatSync(fd).ino !== ino0) throw new Error(`${f} rotated while being read`);
          if (!bytesBefore(fd, size0, mark.tail.length).equals(mark.tail)) throw new Error(`${f} is a later file with the mark's inode number`);
        }
        const from = i === 0 ? size0 : 0;
        const buf = Buffer.alloc(Math.max(0, fs.fstatSync(fd).size - from));
        fs.readSync(fd, buf, 0, buf.length, from);
        return buf;
      } finally {
        fs.closeSync(fd);
      }
    });
    return Buffer.concat(parts).toString('latin1');
  } catch {
    return null; // rotated again meanwhile: not counted
  }
}

/** The events in `text`: the distinct serials of its kernel records (auditd's own DAEMON_* left out), sorted. */
function eventSerials(text: string): number[] {
  const serials: number[] = [];
  for (const m of text.matchAll(/^(?:node=\S+ )?type=(\S+) msg=audit\(\d+\.\d+:(\d+)\)/gm)) if (!m[1]!.startsWith('DAEMON_')) serials.push(Number(m[2]));
  return [...new Set(serials)].sort((a, b) => a - b);
}

/** Serials missing between the events' (sorted, distinct) serials: records lost, or filtered by rules. */
function serialGaps(u: number[]): number {
  let gaps = 0;
  for (let i = 1; i < u.length; i++) if (u[i]! > u[i - 1]! + 1) gaps += u[i]! - u[i - 1]! - 1;
  return gaps;
}

/**
 * The Kafka rows, to the rig's broker: what deploy/'s DaemonSet runs (`--output none`: denials and recording
 * data to the broker alone), and every event as v1 (to /dev/null as the other rows) besides.
 */
const KAFKA_NODE_MODE = 'auditflow run --output none + Kafka (deploy/)';
const KAFKA_MODE = 'auditflow run --events all (v1) + Kafka';
const LAUREL_ROW = 'laurel (auditd plugin)';
const PLUGIN_THREAD_ROW = "  of which auditd's plugin dispatcher";

interface Meter {
  who: string;
  cpu: () => number;
  rss: () => number | null;
  /** a reader of the stream (waited for until it has caught up) rather than auditd, which writes it */
  reads: boolean;
  /**
   * An auditflow reader, asked once the workload ended: null if it cannot say, else a check that it has read
   * what auditd had written by then
   */
  catchUp?: () => (() => Promise<boolean>) | null;
}



async function liveRun(rate: number, seconds: number, seclog: string, laurel: string | null, kafka: KafkaBroker | null): Promise<LiveRun> {
  const load0 = os.loadavg()[0]!;
  const rigServices = rigServicesRunning();
  const log = logPath();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-live-'));
  interface Reader {
    who: string;
    child: ChildProcess;
    stopped?: string;
    /** its /metrics */
    port: number;
    /** the log's inode and the offset it started reading at */
    from?: { ino: number; offset: number };
  }
  const procs: Reader[] = [];
  let modes = Object.entries(LIVE_MODES);
  if (kafka) {
    const to = (spool: string) => ['--kafka-brokers', kafka.brokers.join(','), '--spool-dir', path.join(tmp, spool)];
    modes.push([KAFKA_NODE_MODE, ['--output', 'none', ...to('spool-node')]], [KAFKA_MODE, ['--events', 'all', ...to('spool-all')]]);
  }
  const only = process.env['LIVE_ONLY'];
  if (only) {
    const all = modes.map(([who]) => who);
    modes = modes.filter(([who]) => new RegExp(only).test(who));
    if (modes.length === 0) throw new Error(`LIVE_ONLY=${only} matches none of the rows: ${all.join('; ')}`);
  }
  let plugin: LaurelPlugin | null = null;
  // a bench ended by a signal (laurel-plugin.ts exits on SIGINT/SIGTERM/SIGHUP) leaves no reader nor spool behind
  const cleanUp = () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  process.on('exit', cleanUp);
  try {
    // first: installing laurel restarts auditd (see laurel-plugin.ts), and the readers start after it
    if (laurel) plugin = await installLaurelPlugin(laurel);
    const auditd = auditStatus('pid');
    for (const [who, extra] of modes) {
      const port = await freePort();
      const child = spawn(process.execPath, [...cpuProfFlags(), BIN, 'run', '--audit-log', log, '--checkpoint', 'none', '--listen', `127.0.0.1:${port}`, '--no-track-forks', '--no-progress', '--cri-socket', 'none', '--node-name', 'bench', '--output', '/dev/null', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
      const entry: Reader = { who, child, port };
      let err = '';
      child.stderr!.on('data', (d: Buffer) => {
        err = (err + d.toString()).slice(-20000);
        const m = /^.*"auditflow run stopped".*$/m.exec(err);
        if (m) entry.stopped = m[0];
        // where it started reading: its first "tailing" line
        const t = entry.from ? null : /"msg":"tailing"/.test(err) ? /"ino":(\d+),"offset":(\d+)/.exec(err) : null;
        if (t) entry.from = { ino: Number(t[1]), offset: Number(t[2]) };
      });
      procs.push(entry);
      await waitFor(child, /auditflow run started/, 30_000);
    }
    const warmup = warmupSeconds(rate, seconds);
    // what each reader had parsed when the measured part began (its own count at the end includes the warm-up)
    const parsedBefore = new Map<string, number | null>();
    if (warmup > 0) {
      await workload(seclog, rate, warmup);
      for (const p of procs) parsedBefore.set(p.who, await recordsParsed(p.port));
    }
    const queueBefore = plugin ? await pluginQueueState() : null;
    const mark = markLog(log);
    const meters: Meter[] = [{ who: 'auditd', cpu: () => cpuOf(`/proc/${auditd}`), rss: () => null, reads: false }];
    if (plugin) {
      const tids = plugin.dispatcherTids;
      meters.push({ who: PLUGIN_THREAD_ROW, cpu: () => tids.reduce((s, t) => s + cpuOf(`/proc/${auditd}/task/${t}`, 0), 0), rss: () => null, reads: false });
    }
    for (const p of procs) {
      meters.push({
        who: p.who,
        cpu: () => cpuOf(`/proc/${p.child.pid}`),
        rss: () => peakRssMb(p.child.pid!),
        reads: true,
        // what auditd appended since where it started reading (its "tailing" line), across rotations
        catchUp: () => {
          const target = p.from ? appendedBytes(log, p.from.ino, p.from.offset) : null;
          if (target === null) return null;
          return async () => ((await tailBytesRead(p.port)) ?? -1) >= target;
        },
      });
    }
    if (plugin) {
      const pid = plugin.pid;
      let seen = 0; // laurel dead (auditd would restart it): its last figure, the death is reported below
      meters.push({ who: LAUREL_ROW, cpu: () => (seen = cpuOf(`/proc/${pid}`, seen)), rss: () => peakRssMb(pid), reads: true });
    }
    const cpu0 = new Map(meters.map((m) => [m.who, m.cpu()]));
    const lost0 = auditStatus('lost');
    await workload(seclog, rate, seconds);
    const workEnd = Date.now();
    // An auditflow reader has caught up when it has read the log as far as auditd had written it when the
    // workload ended (its auditflow_tail_bytes_read_total from where it started; its last chunk is then being
    // processed); laurel (fed by a pipe), or a reader that cannot say, when its CPU stays still for a second,
    // which a reader's timers or other audit traffic can prevent. At most 60 s.
    const checks = new Map(meters.map((m) => [m.who, m.catchUp?.() ?? null]));
    const lag = new Map<string, number | null>();
    const last = new Map(meters.map((m) => [m.who, m.cpu()]));
    const quietSince = new Map<string, number>();
    const readers = meters.filter((m) => m.reads);
    while (lag.size < readers.length && Date.now() - workEnd < 60_000) {
      for (const m of readers) {
        if (lag.has(m.who)) continue;
        const check = checks.get(m.who);
        if (check) {
          if (await check()) lag.set(m.who, (Date.now() - workEnd) / 1000);
          continue;
        }
        const c = m.cpu();
        if (c > last.get(m.who)!) {
          last.set(m.who, c);
          quietSince.delete(m.who);
        } else if (!quietSince.has(m.who)) quietSince.set(m.who, Date.now());
        else if (Date.now() - quietSince.get(m.who)! >= 1000) lag.set(m.who, Math.max(0, (quietSince.get(m.who)! - workEnd) / 1000));
      }
      await sleep(100);
    }
    const lost = auditStatus('lost') - lost0;
    const rows: LiveRow[] = meters.map((m) => ({ who: m.who, cpuSeconds: m.cpu() - cpu0.get(m.who)!, rssMb: m.rss(), lagSeconds: m.reads ? (lag.get(m.who) ?? null) : null, ...(m.reads ? {} : { writer: true }) }));
    const laurelAlive = plugin ? fs.existsSync(`/proc/${plugin.pid}`) : false;
    const queueAfter = plugin ? await pluginQueueState() : null;
    let records = 0;
    let gaps = 0;
    let serials: number[] | null = null;
    let note: string | undefined;
    const text = appendedSince(log, mark);
    if (text !== null) {
      records = text.split('\n').length - 1;
      serials = eventSerials(text);
      gaps = serialGaps(serials);
    } else note = `auditd rotated its log out of reach during the run: ${warmup === 0 ? 'records counted by auditflow (default)' : 'records not counted (the readers counted the warm-up too)'}, serial gaps not counted`;
    for (const p of procs) p.child.kill('SIGTERM');
    let laurelStats: LiveRun['laurel'];
    if (plugin) {
      const p = plugin;
      plugin = null;
      const stats: NonNullable<LiveRun['laurel']> = { events: null, of: serials?.length ?? null, queueBefore, queueAfter, diedDuringRun: !laurelAlive };
      // counted once laurel has exited: it flushes what it holds when auditd closes its stdin
      await removeLaurelPlugin(p, async (dir) => {
        if (serials) stats.events = await laurelEventsOf(dir, new Set(serials));
      });
      laurelStats = stats;
    }
    await Promise.all(procs.map((p) => new Promise((r) => (p.child.exitCode !== null ? r(undefined) : p.child.on('exit', r)))));
    for (const p of procs) {
      const m = p.stopped ? /"records":(\d+)/.exec(p.stopped) : null;
      const row = rows.find((r) => r.who === p.who)!;
      const before = warmup > 0 ? parsedBefore.get(p.who) : 0;
      // without its count at the warm-up's end the row takes the run's records as auditd wrote them
      if (m && before !== null && before !== undefined) row.records = Number(m[1]) - before;
    }
    // a reader's own count includes the warm-up's records: then the run's are not known
    if (!records && warmup === 0) records = rows.find((r) => r.who === 'auditflow run (default)')?.records ?? 0;
    return { rate, seconds, warmupSeconds: warmup, records, lost, serialGaps: gaps, rows, ...(laurelStats ? { laurel: laurelStats } : {}), ...(note ? { note } : {}), load: [load0, os.loadavg()[0]!], rigServices };
  } finally {
    process.off('exit', cleanUp);
    cleanUp();
    if (plugin) await removeLaurelPlugin(plugin);
  }
}

export async function benchLive(): Promise<LiveRun[]> {
  if (process.getuid?.() !== 0) throw new Error('the live bench needs root (auditctl, /proc of auditd)');
  // auditd running and registered (on a cold rig too: this section may run alone)
  await ensureAuditd();
  // Its readers run with --no-track-forks, so the lineage rule an earlier `auditflow run` (a test, the bench's
  // short-lived section) left loaded would only add records nobody reads: the workload's spawns each ticked ~15
  // SYSCALL/EXECVE/PATH lines through every reader's generic path and into auditd's cost. The stream measured
  // is then the workload's SECCOMP records alone, as the figures per SECCOMP record say. (The next `auditflow
  // run` that tracks forks loads it again.)
  const unload = await execCapture('auditctl', ['-D', '-k', 'auditflow-fork'], { timeoutMs: 10_000 });
  if (unload.code !== 0) throw new Error(`auditctl -D -k auditflow-fork failed (exit ${unload.code}): ${unload.stderr.trim()}`);
  const seconds = Number(process.env['LIVE_SECONDS'] ?? 12);
  const rates = (process.env['LIVE_RATES'] ?? '10000,50000,0').split(',').map(Number);
  const seclog = seclogBinary();
  // LIVE_LAUREL=none: no plugin, auditd's own cost alone
  const laurel = process.env['LIVE_LAUREL'] === 'none' ? null : laurelBinary();
  // the rig's one-node KRaft broker (test/env/kafka.ts); LIVE_KAFKA=none leaves the Kafka row out
  const kafka = process.env['LIVE_KAFKA'] === 'none' ? null : await ensureKafka();
  const runs: LiveRun[] = [];
  for (const rate of rates) runs.push(await liveRun(rate, seconds, seclog, laurel, kafka));
  return runs;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function formatLaurel(l: LaurelStats): string {
  const q = pluginQueueConf();
  const missing = l.events !== null && l.of !== null ? l.of - l.events : null;
  const got = l.events === null || l.of === null ? "events in its log not counted (auditd's log rotated)" : `${fmt(l.events)} of the run's ${fmt(l.of)} events in its log, ${missing ? `${fmt(missing)} MISSING` : 'none missing'}`;
  const a = l.queueAfter;
  const queue = a
    ? `auditd's plugin queue (q_depth ${q.qDepth}, overflow_action ${q.overflowAction}): max depth used ${fmt(a.maxDepthUsed)}${l.queueBefore ? ` (${fmt(l.queueBefore.maxDepthUsed)} before the run)` : ''}, overflow detected ${a.overflow ? (l.queueBefore?.overflow ? 'yes (already before this run)' : 'YES, in this run') : 'no'}`
    : "auditd's plugin queue state: no report (/var/run/auditd.state)";
  return `  laurel as auditd's plugin (auditd restarted to install it): ${got}; ${queue}${l.diedDuringRun ? '; laurel DIED during the run (auditd restarts it: the new one is not measured)' : ''}`;
}

export function formatLive(runs: LiveRun[]): string {
  const out: string[] = ['\nlive: auditd writing, seclog workload, every reader on the same stream (CPU from /proc/<pid>/stat)'];
  for (const r of runs) {
    // each auditflow reader by the records it read itself; auditd (and laurel) by the records of the stream
    const per100k = (s: number, records = r.records) => (records ? (s * 100_000) / records : NaN);
    out.push(
      `\n${r.rate ? `paced ${fmt(r.rate)} records/s` : 'flat out'}, ${r.seconds} s${r.warmupSeconds ? ` after ${r.warmupSeconds} s of warm-up at that rate` : ''}: ${fmt(r.records)} records written (${fmt(r.records / r.seconds)}/s), kernel lost ${r.lost}, serial gaps ${r.serialGaps}, load average ${fmt(r.load[0], 2)} → ${fmt(r.load[1], 2)}${r.note ? ` (${r.note})` : ''}`,
    );
    if (r.rigServices.length) out.push(`  NOTE: the test rig's ${r.rigServices.join(', ')} ran meanwhile (not part of this section): etcd's fsyncs slow auditd's flushes and they take CPU; test/env/reset.sh stops them`);
    const auditd = r.rows.find((x) => x.who === 'auditd')!;
    const laurel = r.rows.find((x) => x.who === LAUREL_ROW);
    out.push(`  ${'reader'.padEnd(42)} ${'CPU s/100k'.padStart(10)} ${'µs/rec'.padStart(7)} ${'÷auditd'.padStart(8)} ${'÷laurel'.padStart(8)} ${'RSS MB'.padStart(7)} ${'lag s'.padStart(6)}`);
    for (const x of r.rows) {
      const c = per100k(x.cpuSeconds, x.records ?? r.records);
      out.push(
        `  ${x.who.padEnd(42)} ${fmt(c, 2).padStart(10)} ${fmt((c * 1e6) / 100_000, 1).padStart(7)} ${fmt(c / per100k(auditd.cpuSeconds), 2).padStart(8)} ${(laurel ? fmt(c / per100k(laurel.cpuSeconds), 2) : 'n/a').padStart(8)} ${(x.rssMb === null ? '' : fmt(x.rssMb)).padStart(7)} ${(x.lagSeconds === null ? (x.writer ? '' : 'busy') : fmt(x.lagSeconds, 1)).padStart(6)}`,
      );
    }
    if (r.laurel) {
      const dispatcher = r.rows.find((x) => x.who === PLUGIN_THREAD_ROW);
      out.push(
        `  auditd's row includes delivering every record to laurel; the row under it is the thread that writes them to laurel's stdin, so auditd without laurel ≈ ${fmt((per100k(auditd.cpuSeconds - (dispatcher?.cpuSeconds ?? 0)) * 1e6) / 100_000, 1)} µs/rec (its main thread's copy into the plugin queue stays in); laurel per record of the stream`,
      );
      out.push(formatLaurel(r.laurel));
    } else if (process.env['LIVE_LAUREL'] === 'none') out.push('  laurel: left out (LIVE_LAUREL=none): no ÷laurel column; auditd ran without it');
    else out.push('  laurel: not built (test/bench/peers.sh builds it into the cache): no ÷laurel column');
    if (r.rows.some((x) => !x.writer && x.lagSeconds === null)) out.push('  lag "busy": not caught up within 60 s of the workload\'s end (auditflow: read less of the log than auditd had written; laurel: its CPU never went quiet, as other audit traffic on the machine can keep it)');
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
