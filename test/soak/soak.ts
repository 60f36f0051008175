// The chaos soak of issue 11: a paced workload through the REAL auditd while `auditflow run` is SIGKILLed and
// restarted, auditd is rotated (SIGUSR1), and optionally a Kafka broker is killed and restarted under
// `run --kafka-brokers`, and (aggregation.ts) the aggregator consuming it is SIGKILLed and the apiserver it
// writes the profile to restarted. At the end every serial auditd wrote for the workload must be delivered (NDJSON
// output) or counted as lost by auditflow (its error log lines with the serial ranges, summed across all its
// runs), and the aggregator's profile must name exactly the syscalls run delivered with the workload's pod.
//
// The truth is the audit log files themselves: every file that appears as audit.log or audit.log.N during the
// soak is hard-linked aside (same filesystem) the moment it is seen, so auditd's deleting it at num_logs does
// not take it from us, and auditd.conf is never touched.
//
// The workload is test/soak/pacer.c under test/env/seclog.c (SECCOMP_RET_LOG): RATE getppid() calls a second
// from one pid in its own audit session; only records of that pid and session count.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { auditLogPath, auditStatus, auditSync, CACHE_DIR, ensureAuditd, envScriptDir, seclog, spawnTracked, type RunResult } from '../env/rig';
import { httpGet, metricValue, sleep, startRun, stopRun, waitReady, type RunProc } from '../env/run-node';
import { rng } from '../env/seeded';
import type { KafkaBroker } from '../env/kafka';
import type { KubeEnv } from '../env/kube';
import { resolveSyscall } from '../../parsers';
import type { ContainerRef, PodRef } from '../../src/event/v1';
import { profileSyscalls, SoakAggregation, type AggregationFigures } from './aggregation';

export interface SoakOptions {
  seed: number;
  /** workload records a second */
  rate: number;
  /** how long the workload runs */
  seconds: number;
  /** time between a run's readiness and its SIGKILL, ms [min, max] */
  killAfterMs: [number, number];
  /** how long auditflow stays down after a kill, ms [min, max] */
  downMs: [number, number];
  /** time between two SIGUSR1 rotations of auditd, ms [min, max] */
  rotateEveryMs: [number, number];
  /** a Kafka broker to produce to, killed and restarted every killKafkaEveryMs */
  kafka?: KafkaBroker;
  killKafkaEveryMs?: [number, number];
  kafkaDownMs?: [number, number];
  /** at most this many broker kills (a KRaft restart takes ~15 s) */
  maxKafkaKills?: number;
  /**
   * The aggregator leg (aggregation.ts; needs `kafka`): the workload becomes a pod's container, `auditflow
   * aggregate --kubernetes` builds its SeccompProfile in `kube` while SIGKILLed every killAggregatorEveryMs, and
   * `kube`'s apiserver is restarted every restartApiserverEveryMs (only give that for a private instance:
   * test/env/kube.ts ensurePrivateKube).
   */
  aggregation?: {
    kube: KubeEnv;
    killAggregatorEveryMs: [number, number];
    aggregatorDownMs: [number, number];
    restartApiserverEveryMs?: [number, number];
    /** how long the profile may take after the end marker */
    settleMs?: number;
  };
  /**
   * Loss bursts: while auditflow is down, rotate auditd num_logs+1 times so that unread files are deleted and
   * auditflow must count them as lost. Deletes files other readers of this auditd may still need: off by
   * default, for the standalone soak only.
   */
  lossBursts?: number;
  /** how long auditflow may take to catch up at the end */
  catchUpMs: number;
  log?: (line: string) => void;
  /** keep each run's log (stderr, pino JSON) here as run-N.log */
  keepLogsDir?: string;
}

export interface SoakFigures {
  seed: number;
  rate: number;
  seconds: number;
  /** distinct serials auditd wrote for the workload (every record type) */
  records: number;
  /** how long the workload really ran (the kernel holds it back when auditd's backlog is full) */
  workloadMs: number;
  delivered: number;
  /** serials of the workload not in the output */
  lost: number;
  /** of those, inside a range auditflow logged as lost */
  countedLost: number;
  uncounted: number;
  /**
   * all serials auditflow counted as lost (every process's records, not only the workload's): an upper bound
   * (src/tail/metrics.ts says why)
   */
  auditflowLostTotal: number;
  /** workload serials inside a range counted lost that were delivered all the same (the over-count we can see) */
  overCounted: number;
  unknownGaps: number;
  /** workload serials delivered more than once, and the extra copies */
  duplicated: number;
  extraCopies: number;
  badLines: number;
  runs: number;
  kills: number;
  rotations: number;
  /** files seen as audit.log during the soak minus one (SIGUSR1 and size rotations) */
  filesSeen: number;
  kafkaKills: number;
  aggregatorKills: number;
  apiserverRestarts: number;
  /** the aggregator leg's outcome, when there was one */
  aggregation?: AggregationFigures;
  lossBursts: number;
  maxLagMs: number;
  /** the largest lag of the NDJSON output while the Kafka broker was down (kill to answering again) */
  maxLagKafkaDownMs: number;
  catchUpMs: number;
  /** peak VmRSS of each run, MB */
  rssPeaksMb: number[];
  kernelLost: number;
  /** the catch-up time ran out while the output was still growing (uncounted ones may just be late) */
  stillCatchingUp: boolean;
  /** the first serials that were neither delivered nor counted (for the failure message) */
  uncountedSample: number[];
}

/** Builds test/soak/pacer.c into the cache (gcc), once per process. */
let pacerBin: string | undefined;
export function pacer(): string {
  if (pacerBin) return pacerBin;
  const src = path.join(path.dirname(envScriptDir()), 'soak', 'pacer.c');
  const dir = path.join(CACHE_DIR, 'bin');
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, 'auditflow-soak-pacer');
  const stale = !fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs;
  if (stale) {
    const tmp = `${out}.${process.pid}`;
    const r = spawnSync('gcc', ['-O2', '-o', tmp, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gcc could not build ${src} (${r.error?.message ?? r.stderr}); install gcc (test/env/build-helpers.sh does)`);
    fs.renameSync(tmp, out);
  }
  return (pacerBin = out);
}

/** Keeps every audit log file that appears, by hard link, until release(). */
class LogKeeper {
  private readonly seen = new Map<number, string>(); // inode → link
  private liveInodes = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly logPath: string,
    private readonly dir: string,
  ) {}
  start(): void {
    this.scan();
    this.timer = setInterval(() => this.scan(), 20);
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
  scan(): void {
    const dir = path.dirname(this.logPath);
    const base = path.basename(this.logPath);
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (n !== base && !(n.startsWith(base + '.') && /^\d+$/.test(n.slice(base.length + 1)))) continue;
      const p = path.join(dir, n);
      let ino: number;
      try {
        ino = fs.statSync(p).ino;
      } catch {
        continue; // renamed or deleted under us: the next scan sees it
      }
      if (n === base) this.liveInodes.add(ino);
      if (this.seen.has(ino)) continue;
      const link = path.join(this.dir, `ino-${ino}`);
      try {
        fs.linkSync(p, link);
        if (fs.statSync(link).ino === ino) this.seen.set(ino, link);
        else fs.rmSync(link); // raced with a rename: try again next scan
      } catch {
        /* gone before we linked it, or raced: next scan */
      }
    }
  }
  /** Distinct files that were the live audit.log. */
  liveFiles(): number {
    return this.liveInodes.size;
  }
  files(): string[] {
    return [...this.seen.values()];
  }
}

/** Records of a syscall kept by serial up to this many; beyond, its records cannot all have been lost unseen */
const SERIALS_PER_SYSCALL = 10_000;

/**
 * Every serial of `pid` in session `ses` in the kept files (the truth), and the syscalls they were of (with
 * their serials while few: to tell the syscalls whose every record was lost).
 */
function truthSerials(files: string[], pid: number, ses: number): { serials: Set<number>; syscalls: Map<string, number[] | 'many'> } {
  const out = new Set<number>();
  const syscalls = new Map<string, number[] | 'many'>();
  const callRe = / arch=([0-9a-fA-F]+) syscall=(\d+) /;
  const pidKey = ` pid=${pid} `;
  const sesKey = ` ses=${ses} `;
  const stampRe = /audit\(\d+\.\d+:(\d+)\)/;
  for (const f of files) {
    const text = fs.readFileSync(f, 'latin1');
    let at = 0;
    while (at < text.length) {
      let nl = text.indexOf('\n', at);
      if (nl < 0) nl = text.length;
      const line = text.slice(at, nl);
      at = nl + 1;
      if (!line.includes(pidKey) || !line.includes(sesKey)) continue;
      const m = stampRe.exec(line);
      if (!m) continue;
      const serial = Number(m[1]);
      if (out.has(serial)) continue;
      out.add(serial);
      // the syscalls a recording can see are those of its seccomp records (audit rules' SYSCALL records are not)
      if (!line.startsWith('type=SECCOMP ')) continue;
      const c = callRe.exec(line);
      if (!c) continue;
      const name = resolveSyscall(c[1], Number(c[2])).name ?? `nr-${c[2]}`;
      const list = syscalls.get(name) ?? [];
      if (list === 'many') continue;
      list.push(serial);
      syscalls.set(name, list.length > SERIALS_PER_SYSCALL ? 'many' : list);
    }
  }
  return { serials: out, syscalls };
}

/** Reads the NDJSON output as it grows; counts the workload pid's serials. */
class OutputCounter {
  private offset = 0;
  private rest = '';
  readonly counts = new Map<number, number>();
  badLines = 0;
  newestMs = 0;
  /** the container and pod of a workload event run resolved (aggregation.ts's end marker names them) */
  seen: { container: ContainerRef; pod: PodRef } | undefined;
  /** workload events without their pod */
  unresolved = 0;
  /** syscalls of the workload events delivered with their pod: what run published as recording tuples */
  readonly attributed = new Set<string>();
  constructor(
    private readonly file: string,
    private readonly pid: () => number | undefined,
  ) {}
  poll(): void {
    const pid = this.pid();
    if (pid === undefined || !fs.existsSync(this.file)) return;
    const fd = fs.openSync(this.file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const chunk = 16 << 20;
      while (this.offset < size) {
        const n = Math.min(chunk, size - this.offset);
        const buf = Buffer.alloc(n);
        const got = fs.readSync(fd, buf, 0, n, this.offset);
        if (got <= 0) break;
        this.offset += got;
        const text = this.rest + buf.subarray(0, got).toString('utf8');
        const lines = text.split('\n');
        this.rest = lines.pop()!;
        for (const line of lines) this.line(line, pid);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  private line(line: string, pid: number): void {
    if (!line) return;
    // a kill -9 can leave half a line that the next run's first line is appended to: keep the whole event
    const start = line.lastIndexOf('{"schema":');
    const ev = start > 0 ? line.slice(start) : line;
    if (start !== 0 || !line.endsWith('}')) this.badLines++;
    if (!ev.endsWith('}')) return;
    const m = /"timestamp":"([^"]+)","serial":(\d+)/.exec(ev);
    if (!m) return;
    const ms = Date.parse(m[1]!);
    if (ms > this.newestMs) this.newestMs = ms;
    const p = /"pid":(\d+)/.exec(ev);
    if (!p || Number(p[1]) !== pid) return;
    const serial = Number(m[2]);
    this.counts.set(serial, (this.counts.get(serial) ?? 0) + 1);
    if (ev.includes('"enrichment":"unresolved"')) this.unresolved++;
    else if (ev.includes('"enrichment":"resolved"')) {
      const sc = ev.includes('"kind":"seccomp"') ? /"syscall":"([^"]+)"/.exec(ev) : null;
      if (sc) this.attributed.add(sc[1]!);
      if (!this.seen) {
        const e = JSON.parse(ev) as { container?: ContainerRef | null; pod?: PodRef | null };
        if (e.container && e.pod) this.seen = { container: e.container, pod: e.pod };
      }
    }
  }
}

/** Serial ranges auditflow logged as lost (error lines "… were deleted before they could be read"). */
function lostRanges(stderr: string): { ranges: [number, number][]; unknown: number } {
  const ranges: [number, number][] = [];
  let unknown = 0;
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    if (line.includes('how many is unknown')) unknown++;
    if (!line.includes('"fromSerial"')) continue;
    try {
      const o = JSON.parse(line) as { fromSerial?: number; toSerial?: number };
      if (typeof o.fromSerial === 'number' && typeof o.toSerial === 'number') ranges.push([o.fromSerial, o.toSerial]);
    } catch {
      /* a half line of a killed run */
    }
  }
  return { ranges, unknown };
}

function vmRssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function numLogs(): number {
  try {
    const m = /^\s*num_logs\s*=\s*(\d+)/m.exec(fs.readFileSync('/etc/audit/auditd.conf', 'utf8'));
    return m ? Number(m[1]) : 5;
  } catch {
    return 5;
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakFigures> {
  const log = o.log ?? (() => undefined);
  await ensureAuditd();
  const seclogBin = await seclog();
  const pacerPath = pacer();
  const logPath = await auditLogPath();
  const rand = rng(o.seed);
  const between = ([a, b]: [number, number]) => a + Math.floor(rand() * (b - a + 1));
  // not /tmp/auditflow-*: test/env/reset.sh (another checkout's npm test) removes those
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'soak-of-auditflow-'));
  // hard links must be on auditd's filesystem: the temp dir when it is, else next to the log (a dot directory,
  // which no reader of the rotation chain takes for audit.log.N)
  const keepDir =
    fs.statSync(tmp).dev === fs.statSync(path.dirname(logPath)).dev
      ? fs.mkdirSync(path.join(tmp, 'kept'), { recursive: true })!
      : fs.mkdtempSync(path.join(path.dirname(logPath), '.auditflow-soak-'));
  const out = path.join(tmp, 'events.ndjson');
  const args = ['--audit-log', logPath, '--checkpoint', path.join(tmp, 'checkpoint.json'), '--no-track-forks', '--cri-socket', 'none', '--events', 'all', '--output', out];
  if (o.kafka) args.push('--kafka-brokers', o.kafka.brokers.join(','), '--spool-dir', path.join(tmp, 'spool'));
  if (o.aggregation && !o.kafka) throw new Error('the aggregator leg of the soak needs a Kafka broker (SoakOptions.kafka)');
  let agg: SoakAggregation | undefined;
  const keeper = new LogKeeper(logPath, keepDir);
  const runs: RunProc[] = [];
  const rssPeaks: number[] = [];
  let current: RunProc | undefined;
  let workPid: number | undefined;
  const counter = new OutputCounter(out, () => workPid);
  const f = { kills: 0, rotations: 0, kafkaKills: 0, lossBursts: 0, maxLagMs: 0, maxLagKafkaDownMs: 0 };
  let kafkaDown = false;
  const kernelLost0 = (await auditStatus()).lost!;
  let sampler: NodeJS.Timeout | undefined;
  let work: Promise<RunResult> | undefined;
  let workEnded = false;

  const start = async (): Promise<void> => {
    const r = startRun(args);
    runs.push(r);
    rssPeaks.push(0);
    current = r;
    await waitReady(r, 120_000);
  };
  const kill = async (): Promise<void> => {
    const r = current!;
    current = undefined;
    r.child.kill('SIGKILL');
    await r.exited;
    f.kills++;
  };
  const rotate = async (): Promise<void> => {
    process.kill((await auditStatus()).pid!, 'SIGUSR1');
    f.rotations++;
  };

  try {
    if (o.aggregation) {
      agg = await SoakAggregation.setup(o.aggregation.kube, o.kafka!, `${o.seed}-${Math.floor(rand() * 0xffffff).toString(16)}`, tmp);
      agg.log = log;
      args.push(...agg.runArgs());
      agg.startAggregator();
    }
    keeper.start();
    await start();
    const workStart = Date.now();
    // the workload: its own audit session, pid known at spawn (sh execs seclog which execs pacer: one pid)
    const workArgv = [seclogBin, '--', pacerPath, String(o.rate), String(o.seconds)];
    work = spawnTracked(agg ? agg.wrap(workArgv) : workArgv, {
      session: true,
      timeoutMs: (o.seconds + 120) * 1000,
      onSpawn: (pid) => (workPid = pid),
    });
    let workDone = false;
    work.then(
      () => (workDone = workEnded = true),
      () => (workDone = workEnded = true),
    );
    sampler = setInterval(() => {
      const i = runs.length - 1;
      const rss = vmRssMb(current?.child.pid);
      if (rss !== undefined && rss > rssPeaks[i]!) rssPeaks[i] = rss;
      counter.poll();
      if (counter.newestMs > 0 && !workDone) {
        const lag = Date.now() - counter.newestMs;
        f.maxLagMs = Math.max(f.maxLagMs, lag);
        if (kafkaDown) f.maxLagKafkaDownMs = Math.max(f.maxLagKafkaDownMs, lag);
      }
    }, 250);

    // the wait before a fault ends when the workload does: the soak's end does not wait out a long interval
    // (the seeded draws stay in the same order, so a seed replays the same faults)
    const untilWorkDone = async (ms: number): Promise<void> => {
      const end = Date.now() + ms;
      while (!workDone && Date.now() < end) await sleep(Math.min(250, end - Date.now()));
    };
    // chaos: independent seeded loops until the workload ends
    const killLoop = (async () => {
      let bursts = o.lossBursts ?? 0;
      while (!workDone) {
        await untilWorkDone(between(o.killAfterMs));
        if (workDone) break;
        await kill();
        log(`kill ${f.kills} at ${((Date.now() - workStart) / 1000).toFixed(1)} s`);
        if (bursts > 0 && Date.now() - workStart > (o.seconds * 1000) / 3) {
          // more rotations than auditd keeps files, while auditflow is down: the unread ones are deleted
          bursts--;
          f.lossBursts++;
          const n = numLogs() + 1;
          for (let i = 0; i < n; i++) {
            await rotate();
            await sleep(300);
          }
          log(`loss burst: ${n} rotations while down`);
        } else {
          await sleep(between(o.downMs));
        }
        await start();
      }
    })();
    const rotateLoop = (async () => {
      while (!workDone) {
        await untilWorkDone(between(o.rotateEveryMs));
        if (workDone) break;
        await rotate();
        log(`rotation ${f.rotations}`);
      }
    })();
    const kafkaLoop = (async () => {
      if (!o.kafka || !o.killKafkaEveryMs) return;
      while (!workDone && f.kafkaKills < (o.maxKafkaKills ?? Infinity)) {
        await untilWorkDone(between(o.killKafkaEveryMs));
        if (workDone) break;
        kafkaDown = true;
        await o.kafka.kill();
        f.kafkaKills++;
        log(`kafka kill ${f.kafkaKills}`);
        await sleep(between(o.kafkaDownMs ?? [1000, 3000]));
        for (let attempt = 1; ; attempt++) {
          try {
            await o.kafka.restart();
            break;
          } catch (e) {
            // kafka.sh start can fail on a loaded machine ("exited during startup"): the outage just lasts longer
            if (attempt >= 3) throw e;
            log(`kafka restart ${attempt} failed, again: ${(e as Error).message.split('\n')[0]}`);
            await o.kafka.kill().catch(() => undefined);
          }
        }
        kafkaDown = false;
        log(`kafka back`);
      }
    })();
    const aggLoop = (async () => {
      if (!agg || !o.aggregation) return;
      while (!workDone) {
        await untilWorkDone(between(o.aggregation.killAggregatorEveryMs));
        if (workDone) break;
        if (await agg.killAggregator()) log(`aggregator kill ${agg.f.aggregatorKills}`);
        await sleep(between(o.aggregation.aggregatorDownMs));
        agg.startAggregator();
      }
    })();
    const apiLoop = (async () => {
      if (!agg || !o.aggregation?.restartApiserverEveryMs) return;
      while (!workDone) {
        await untilWorkDone(between(o.aggregation.restartApiserverEveryMs));
        if (workDone) break;
        await agg.restartApiserver();
        log(`apiserver restart ${agg.f.apiserverRestarts}`);
      }
    })();
    // a chaos loop that fails (a broker that does not come back) ends the soak at once, workload included
    const chaos = Promise.all([killLoop, rotateLoop, kafkaLoop, aggLoop, apiLoop]);
    const failed = chaos.then(
      () => new Promise<never>(() => undefined),
      (e: Error) => Promise.reject(e),
    );
    const wr = await Promise.race([work, failed]);
    const workloadMs = Date.now() - workStart;
    if (wr.exitCode !== 0) throw new Error(`workload exited ${wr.exitCode ?? wr.signal}: ${wr.stderr.slice(-1000)}`);
    await chaos;
    if (!current) await start();
    log(`workload done after ${((Date.now() - workStart) / 1000).toFixed(1)} s; catching up`);

    // the truth: flush auditd (a marker through the kernel queue), keep the last files, read them
    await auditSync();
    keeper.scan();
    keeper.stop();
    const truthRead = truthSerials(keeper.files(), wr.pid, wr.ses!);
    const truth = truthRead.serials;
    const catchStart = Date.now();
    let missing: number[] = [];
    let ranges: [number, number][] = [];
    let unknown = 0;
    const inRanges = (s: number) => ranges.some(([a, b]) => s >= a && s <= b);
    let grewAt = Date.now();
    let lastSize = -1;
    for (;;) {
      counter.poll();
      if (counter.counts.size !== lastSize) [lastSize, grewAt] = [counter.counts.size, Date.now()];
      const lr = lostRanges(runs.map((r) => r.stderr()).join('\n'));
      ranges = lr.ranges;
      unknown = lr.unknown;
      missing = [...truth].filter((s) => !counter.counts.has(s));
      if (missing.every(inRanges) || Date.now() - catchStart > o.catchUpMs) break;
      await sleep(250);
    }
    const catchUpMs = Date.now() - catchStart;
    const stillCatchingUp = !missing.every(inRanges) && Date.now() - grewAt < 5000;
    const metrics = (await httpGet(await current!.port, '/metrics')).body;
    log(`final run: auditflow_tail_lost_records_total ${metricValue(metrics, 'auditflow_tail_lost_records_total')}, rotations followed ${metricValue(metrics, 'auditflow_tail_rotations_total')}`);
    const ex = await stopRun(current!);
    if (ex.code !== 0) log(`final run exited ${ex.code ?? ex.signal}: ${current!.stderr().slice(-1500)}`);
    current = undefined;
    counter.poll();
    missing = [...truth].filter((s) => !counter.counts.has(s));
    let aggregation: AggregationFigures | undefined;
    if (agg) {
      // run has stopped (SIGTERM: its Kafka sink flushed); the container ends now
      log('the workload container ends: waiting for its profile');
      const { profile, settleMs } = await agg.finish(counter.seen, o.aggregation!.settleMs ?? 120_000, log);
      const lostSet = new Set(missing);
      const made = [...truthRead.syscalls.keys()].sort();
      const onlyInLost = made.filter((n) => {
        const l = truthRead.syscalls.get(n)!;
        return l !== 'many' && l.every((x) => lostSet.has(x));
      });
      const names = profile ? profileSyscalls(profile) : undefined;
      const attributed = [...counter.attributed].sort();
      aggregation = {
        ...agg.f,
        workloadSyscalls: made,
        onlyInLost,
        attributed,
        unattributed: made.filter((n) => !onlyInLost.includes(n) && !counter.attributed.has(n)),
        profileSyscalls: names,
        missing: names ? attributed.filter((n) => !names.includes(n)) : attributed,
        extra: names ? names.filter((n) => !counter.attributed.has(n)) : [],
        settleMs,
        unresolvedEvents: counter.unresolved,
      };
      if (!profile || aggregation.missing.length || aggregation.extra.length) log(`aggregator logs:\n${agg.logs()}`);
    }
    const counted = missing.filter(inRanges);
    const uncounted = missing.filter((s) => !inRanges(s));
    const overCounted = [...truth].filter((s) => counter.counts.has(s) && inRanges(s)).length;
    let duplicated = 0;
    let extra = 0;
    for (const s of truth) {
      const c = counter.counts.get(s) ?? 0;
      if (c > 1) {
        duplicated++;
        extra += c - 1;
      }
    }
    return {
      seed: o.seed,
      rate: o.rate,
      seconds: o.seconds,
      records: truth.size,
      workloadMs,
      delivered: truth.size - missing.length,
      lost: missing.length,
      countedLost: counted.length,
      uncounted: uncounted.length,
      auditflowLostTotal: ranges.reduce((n, [a, b]) => n + (b - a + 1), 0),
      overCounted,
      unknownGaps: unknown,
      duplicated,
      extraCopies: extra,
      badLines: counter.badLines,
      runs: runs.length,
      kills: f.kills,
      rotations: f.rotations,
      filesSeen: keeper.liveFiles() - 1,
      kafkaKills: f.kafkaKills,
      aggregatorKills: agg?.f.aggregatorKills ?? 0,
      apiserverRestarts: agg?.f.apiserverRestarts ?? 0,
      ...(aggregation ? { aggregation } : {}),
      lossBursts: f.lossBursts,
      maxLagMs: f.maxLagMs,
      maxLagKafkaDownMs: f.maxLagKafkaDownMs,
      catchUpMs,
      rssPeaksMb: rssPeaks.map((x) => Math.round(x)),
      kernelLost: (await auditStatus()).lost! - kernelLost0,
      stillCatchingUp,
      uncountedSample: uncounted.slice(0, 10),
    };
  } finally {
    if (sampler) clearInterval(sampler);
    keeper.stop();
    await agg?.cleanup().catch((e: Error) => log(`aggregator leg cleanup: ${e.message}`));
    for (const r of runs) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    if (work) {
      if (workPid !== undefined && !workEnded) {
        try {
          process.kill(workPid, 'SIGKILL'); // the workload when the soak failed early (it has ended otherwise)
        } catch {
          /* ended */
        }
      }
      await work.catch(() => undefined);
    }
    if (o.keepLogsDir) {
      fs.mkdirSync(o.keepLogsDir, { recursive: true });
      for (const [i, r] of runs.entries()) fs.writeFileSync(path.join(o.keepLogsDir, `run-${i + 1}.log`), r.stderr());
    }
    fs.rmSync(keepDir, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The figures as a two-column table. */
export function figuresTable(f: SoakFigures): string {
  const rows: [string, string][] = [
    ['seed', String(f.seed)],
    ['rate (records/s) × seconds', `${f.rate} × ${f.seconds}`],
    ['records (workload serials in the log)', String(f.records)],
    ['workload ran (s) / achieved records/s', `${(f.workloadMs / 1000).toFixed(1)} / ${Math.round(f.records / (f.workloadMs / 1000))}`],
    ['delivered', String(f.delivered)],
    ['lost (not in the output)', String(f.lost)],
    ['  counted lost by auditflow', String(f.countedLost)],
    ['  UNCOUNTED', String(f.uncounted)],
    ['auditflow counted lost, upper bound (all processes)', String(f.auditflowLostTotal)],
    ['  workload serials in it delivered anyway (over-count)', String(f.overCounted)],
    ['auditflow unknown gaps', String(f.unknownGaps)],
    ['duplicated serials / extra copies', `${f.duplicated} / ${f.extraCopies}`],
    ['half lines (kills)', String(f.badLines)],
    ['runs / SIGKILLs', `${f.runs} / ${f.kills}`],
    ['rotations SIGUSR1 / files seen', `${f.rotations} / ${f.filesSeen}`],
    ['loss bursts', String(f.lossBursts)],
    ['kafka kills', String(f.kafkaKills)],
    ['aggregator kills / apiserver restarts', `${f.aggregatorKills} / ${f.apiserverRestarts}`],
    ...(f.aggregation?.aggregatorExits ? [['aggregator exits by itself (restarted)', String(f.aggregation.aggregatorExits)] as [string, string]] : []),
    ...(f.aggregation ? aggregationRows(f.aggregation) : []),
    ['max lag (s)', (f.maxLagMs / 1000).toFixed(1)],
    ['max lag while the broker was down (s)', f.kafkaKills ? (f.maxLagKafkaDownMs / 1000).toFixed(1) : '-'],
    ['catch-up after the workload (s)', (f.catchUpMs / 1000).toFixed(1)],
    ['RSS peak per run (MB)', f.rssPeaksMb.join(' ')],
    ['kernel lost (auditctl -s)', String(f.kernelLost)],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

function aggregationRows(a: AggregationFigures): [string, string][] {
  return [
    ['syscalls the workload made', a.workloadSyscalls.join(' ')],
    ['  of them only in lost records', a.onlyInLost.join(' ') || '-'],
    ['  never delivered with their pod (unattributed)', a.unattributed.join(' ') || '-'],
    ['profile syscalls', a.profileSyscalls ? a.profileSyscalls.join(' ') : 'NO PROFILE'],
    ['  missing / extra', `${a.missing.join(' ') || '-'} / ${a.extra.join(' ') || '-'}`],
    ['profile settled after the container ended (s)', (a.settleMs / 1000).toFixed(1)],
    ['workload events without their pod', String(a.unresolvedEvents)],
  ];
}

/**
 * The aggregator's profile names exactly the syscalls of the workload events run delivered with their pod (what
 * it published as recording tuples), and none the workload did not make.
 */
export function profileConsistent(f: SoakFigures): { ok: boolean; why: string } {
  const a = f.aggregation;
  if (!a) return { ok: true, why: 'no aggregator leg' };
  if (a.attributed.length === 0) return { ok: false, why: 'run delivered no workload event with its pod: no recording tuples, nothing to check' };
  if (!a.profileSyscalls) return { ok: false, why: `no SeccompProfile within ${(a.settleMs / 1000).toFixed(0)} s of the container's end` };
  const invented = a.profileSyscalls.filter((n) => !a.workloadSyscalls.includes(n));
  const ok = a.missing.length === 0 && a.extra.length === 0 && invented.length === 0;
  return {
    ok,
    why:
      `profile ${a.profileSyscalls.length} syscalls, delivered with the pod ${a.attributed.length}, workload made ${a.workloadSyscalls.length} ` +
      `(${a.onlyInLost.length} only in lost records, ${a.unattributed.length} never attributed); missing: ${a.missing.join(' ') || 'none'}; extra: ${a.extra.join(' ') || 'none'}`,
  };
}

/**
 * RSS flat: no run's peak above the first run's peak plus `marginMb`. Runs are short and each starts cold, so
 * this catches growth carried across restarts (checkpoint, spool, a backlog held whole in memory).
 */
export function rssFlat(f: SoakFigures, marginMb: number): { ok: boolean; why: string } {
  const first = f.rssPeaksMb[0] ?? 0;
  const worst = Math.max(...f.rssPeaksMb);
  return { ok: worst <= first + marginMb, why: `peak ${worst} MB vs first run ${first} MB + ${marginMb} MB` };
}
