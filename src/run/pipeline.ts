// The node pipeline: tail → parse → coalesce → enrich → sinks, acking the tailer only for what every sink
// has durably taken (at-least-once: a crash re-reads at most the unacked tail, never skips).
//
// Acks and coalescing: a multi-record event (AVC + SYSCALL + PROCTITLE …) may span batches, and its first
// records sit in the coalescer until the rest arrive. A batch is acked only when all of its records have left
// the coalescer *and* been written, and batches are acked in order; so the checkpoint never passes a record
// still held in memory. When the source goes quiet the coalescer is flushed (a partial event is then
// complete: the kernel writes an event's records together).
//
// Everything that touches the coalescer, the sinks or the ack state runs one at a time (serial()).
import { Coalescer, isRecord, Num, parseLine, type AuditEvent, type AuditRecord, type SeccompLine, type SyscallInfo } from '../../parsers';
import { eventFromAuditEvent, eventFromRecord, type EventContext, type EventV1 } from '../event/v1';
import { copyEnrichment, type Enricher, type EnrichItem } from '../enrich/enricher';
import { envMetrics } from '../audit/envcheck';
import { registerCacheSize } from '../enrich/metrics';
import { AbortedError, PermanentOutputError } from '../io/errors';
import { LineRecords, MAX_LINE, ParseFailures } from '../io/line-records';
import { retry } from '../retry';
import type { Logger } from '../log';
import type { ContainerEnd, EventSink, SeccompRun } from '../event/sink';
import { formatTimestamp } from '../event/timestamp';
import type { LineBytes, Tailer, TailBatch, TailPosition } from '../tail/types';
import { observeSpoAudit, registerAckedTime, runMetrics } from './metrics';
import { isDenial } from '../event/decision';
import { SeccompRenderer, type LineRenderer, type RenderedLine } from './seccomp-render';
import { SiemRenderer } from './siem-render';
import { formatter } from '../sink/format';

/** A sink and the events it wants. */
export interface Route {
  sink: EventSink;
  accept: (ev: EventV1) => boolean;
  /**
   * `accept` is route.ts's isDenial: then the pipeline need not build the events of SECCOMP records logged
   * or allowed for this route (the hot path when every route is so).
   */
  denialsOnly?: boolean;
  /** `accept` takes every event (--events all): a sink with writeRendered is then given SECCOMP events rendered from bytes or templates */
  acceptsAll?: boolean;
}

/**
 * Logged or allowed SECCOMP records of one process, second, syscall and executable that no sink takes one by
 * one: counted, enriched once per batch (for the SPO audit metric, the container watch and the recorder's
 * runs, EventSink.writeSeccompRuns) through the first of them. A group points into its lines' chunks instead
 * of copying them: groups live only while their batch is parsed, and the batch holds its chunks until then.
 */
interface QuietGroup {
  key: string;
  n: number;
  /** the earliest and latest audit time of its lines */
  minMs: number;
  maxMs: number;
  buf: Buffer;
  start: number;
  end: number;
  /**
   * The group's lines after the first, to be parsed one by one when the group's process must wait for its
   * parent or a run route asks for its records (SeccompRun.events): a chain through its batch's lines, from
   * the first line's index (`next[i]`: the group's line after line i, 0 after its last). Null when lines are
   * rendered and no route takes runs (ScannedSeccomp has each). A chain, not a list per group: pushing three
   * values per record was a third of the default run's allocation (issue 14).
   */
  more: LineChain | null;
  /** the group's event once enriched (null: not yet, or its records go the general way: holdGroup) */
  ev: EventV1 | null;
  /** its process was gone and its parent not known: its records go the general way, one event each */
  held: boolean;
  /** what the renderer keeps for the group's lines (LineRenderer.add's scope) */
  renderState: unknown;
  sec: number;
  syscall: SyscallInfo;
  exeForm: number;
  commForm: number;
  pidStart: number;
  pidEnd: number;
  exeStart: number;
  exeEnd: number;
  commStart: number;
  commEnd: number;
  hostStart: number;
  hostEnd: number;
}

/** How many recent groups a line is compared with before its key is built (a workload cycles through a few syscalls). */
const RECENT_GROUPS = 8;
/** Enriched quiet groups kept across batches (their keys hold the second, so stale ones only go unused). */
const QUIET_SEEN_MAX = 4096;

/** `a[as, ae)` and `b[bs, be)` hold the same bytes (both absent, start -1: equal). Fields are short: no native call. */
function sameRange(a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): boolean {
  if (as < 0 || bs < 0) return as < 0 && bs < 0;
  const n = ae - as;
  if (n !== be - bs) return false;
  for (let i = 0; i < n; i++) if (a[as + i] !== b[bs + i]) return false;
  return true;
}

/** The line `l` belongs to group `g`: same process, second, syscall, executable, comm and host. */
function inGroup(g: QuietGroup, l: SeccompLine, sec: number): boolean {
  const b = l.buf;
  return (
    g.sec === sec &&
    g.syscall === l.syscall &&
    g.exeForm === l.exeForm &&
    g.commForm === l.commForm &&
    sameRange(g.buf, g.pidStart, g.pidEnd, b, l.digits[Num.Pid]!, l.digits[Num.Pid + 1]!) &&
    sameRange(g.buf, g.exeStart, g.exeEnd, b, l.exeStart, l.exeEnd) &&
    sameRange(g.buf, g.commStart, g.commEnd, b, l.commStart, l.commEnd) &&
    sameRange(g.buf, g.hostStart, g.hostEnd, b, l.hostStart, l.hostEnd)
  );
}

/** A quiet SECCOMP line rendered for the sinks that take rendered lines (--events all), in its place among the events. */
class ScannedSeccomp implements RenderedLine {
  arena: Buffer;
  from = 0;
  mid = 0;
  to = 0;
  timeMs = 0;
  tag: unknown = null;
  constructor(
    readonly g: QuietGroup,
    /** the line itself, read as a record should its group go the general way */
    readonly buf: Buffer,
    readonly start: number,
    readonly end: number,
  ) {
    this.arena = buf;
  }
}

type Emitted = AuditEvent | ScannedSeccomp;

/**
 * `g` to the front of `a`, moving a[0, i) up by one over a[i]. By hand: Array.prototype.copyWithin is a
 * generic builtin that looks each index up as a property, and at one call per record it was ~5% of the
 * default run's CPU (issue 14, perf).
 */
function toFront<T>(a: T[], i: number, g: T): void {
  for (let j = i; j > 0; j--) a[j] = a[j - 1]!;
  a[0] = g;
}

/** The lines of a quiet group after its first, chained through its batch's lines (QuietGroup.more). */
interface LineChain {
  lines: LineBytes;
  next: Int32Array;
  first: number;
  last: number;
}

/** One more line of group `g` (inGroup), line `line` of its batch. */
function joinGroup(g: QuietGroup, l: SeccompLine, line: number): void {
  g.n++;
  const t = l.timeMs;
  if (t < g.minMs) g.minMs = t;
  else if (t > g.maxMs) g.maxMs = t;
  const m = g.more;
  if (m !== null) {
    // a successor is always a later line, never line 0: 0 ends the chain
    m.next[m.last] = line;
    m.last = line;
  }
}

/** Each line of a group's chain after its first, in order. */
function forEachChained(m: LineChain, fn: (buf: Buffer, start: number, end: number) => boolean | void): void {
  for (let i = m.next[m.first]!; i !== 0; i = m.next[i]!) if (fn(m.lines.bufAt(i), m.lines.starts[i]!, m.lines.ends[i]!) === false) return;
}

/** How long an event of an exited process may wait for the record that names its parent. */
const HOLD_MS = 3000;
/**
 * At most this many events wait so (each is enriched again with every delivery). Beyond it, and for events
 * older than HOLD_AUDIT_MS of audit time than the newest record read (catching up on a backlog, where the parent's
 * record would already have been read), nothing waits: waiting would hold every ack back and re-read /proc
 * for every held event with every batch, so a restart loop would never ack and memory would grow.
 */
const MAX_HELD = 4096;
/**
 * The parent's fork record is stamped when the fork started, before its child's records, and is written a few
 * ms after them: once records stamped this much later have been read, it is not coming.
 */
const HOLD_AUDIT_MS = 1000;
/**
 * Group commit: sinks with sync() (EventSink) are synced at most this often while batches keep coming (or at
 * the longer EventSink.syncIntervalMs one asks for), and as soon as the source pauses. One fsync then covers
 * many batches, where one per batch cost most of a busy node's write time; a crash re-reads at most this much more.
 */
const SYNC_MS = 100;

export interface PipelineOptions {
  tailer: Tailer;
  enricher: Enricher;
  routes: Route[];
  node: string;
  /** the source file name for events' `source.file` */
  sourceFile: string | null;
  log: Logger;
  /** include the original lines as `raw` */
  raw?: boolean;
  /** flush the coalescer after waiting this long for the source to say more, ms; default 1000; Infinity: never */
  idleFlushMs?: number;
  /** called with every resolved container id met (container watch tracking) */
  onContainer?: (containerId: string) => void;
  /** progress (bytes/lines) for a terminal */
  onBatch?: (lines: number) => void;
}

interface BatchState {
  position: TailPosition;
  /** records of this batch still in the coalescer or in a write that has not resolved */
  outstanding: number;
  processed: boolean;
  /** the newest record's audit time and serial (-1: no record yet), formatted as a stamp only when acked */
  lastTimeMs: number;
  lastSerial: number;
}

export class Pipeline {
  /** quiet: SECCOMP records counted without an event object each (the default run's hot path) */
  /** generalRendered: quiet lines a renderer had to build the general way (LineRenderer.general) */
  readonly stats = { batches: 0, lines: 0, records: 0, events: 0, acks: 0, quiet: 0, generalRendered: 0 };
  /** the tailer is open and being read */
  running = false;
  private readonly coalescer: Coalescer;
  private readonly ctx: EventContext;
  private readonly recBatch = new WeakMap<AuditRecord, BatchState>();
  private readonly batches: BatchState[] = [];
  private emitted: Emitted[] = [];
  /** events whose process was gone and whose parent was not known yet: retried with the next delivery */
  private held: { event: AuditEvent; since: number; ev: EventV1 }[] = [];
  private chain: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly aborter = new AbortController();
  private fatal: unknown;
  private stopWake: (() => void) | null = null;
  /** when the pipeline started waiting for the tailer's next batch; null while it processes one */
  private waitingSince: number | null = null;
  private idleTimer: NodeJS.Timeout | undefined;
  /** flush what the coalescer and the held events keep after waiting this long for the tailer (idleFlushMs) */
  private readonly idleMs: number;
  /** how often a waiting pipeline with work left over looks whether it is due (armIdle) */
  private readonly idleTickMs: number;
  private lastAckTimeMs = 0;
  /** audit time of the newest record parsed */
  private newestTimeMs = 0;
  private readonly typeCounts = new Map<string, number>();
  private readonly lineCounts = { record: 0, 'not-audit': 0, error: 0 };
  /** parse errors per reason since the start: the first five of each are logged in full */
  private readonly failures: ParseFailures;
  private readonly lines: LineRecords;
  /** quiet SECCOMP records (no sink takes them) of the batch being read, by what their enrichment depends on */
  private readonly quiet = new Map<string, QuietGroup>();
  private quietRecords = 0;
  /** the groups met last, most recent first: most lines join one of them without a key being built */
  private readonly recentQuiet: QuietGroup[] = [];
  /**
   * The enriched event of each recent quiet group key: a process goes on with the same syscalls across
   * batches, and the answer for a (pid, second, …) key does not change, so it is parsed and enriched once.
   */
  private readonly quietSeen = new Map<string, { ev: EventV1; outcome: string }>();
  /** the batch whose lines are being parsed */
  private parsingBatch: BatchState | null = null;
  /** while a byte batch is scanned: its lines, the index of the line being read, its groups' line chains */
  private batchLines: LineBytes | null = null;
  private lineIdx = 0;
  private batchNext: Int32Array | null = null;
  /** the routes whose sinks take quiet SECCOMP records as runs (EventSink.writeSeccompRuns) */
  private readonly runRoutes: Route[];
  /** the routes that take every event, quiet SECCOMP records rendered (EventSink.writeRendered) */
  private readonly renderRoutes: Route[];
  private readonly renderer: LineRenderer | null;
  /** quiet groups of gone processes wait for their parent's record (as events do) only when a route outputs them */
  private readonly deferQuiet: boolean;
  /** the sinks that commit in groups (EventSink.sync) */
  private readonly syncing: EventSink[];
  /** batches written to every sink and waiting for a sync before they are acked, in order */
  private unsynced: BatchState[] = [];
  private lastSyncMs = 0;
  /** how often a busy pipeline syncs: SYNC_MS, or the longest interval a syncing sink asks for */
  private readonly syncMs: number;

  constructor(private readonly opts: PipelineOptions) {
    this.coalescer = new Coalescer((e) => void this.emitted.push(e), {
      onOverflow: (o) => {
        runMetrics.eventOverflows.inc({ limit: o.limit });
        // one line per 1000 at most: a flood of one serial must not become a flood of log lines
        if ((this.coalescer.stats.overflowEvents - 1) % 1000 === 0) {
          this.opts.log.warn({ serial: o.serial, limit: o.limit, records: o.records, bytes: o.bytes, total: this.coalescer.stats.overflowEvents }, 'audit event over the per-event cap: cut, the rest starts a new event marked truncated');
        }
      },
    });
    registerCacheSize('coalescer', () => this.coalescer.pendingCount);
    registerCacheSize('held-events', () => this.held.length);
    registerCacheSize('unacked-batches', () => this.batches.length + this.unsynced.length);
    registerAckedTime(() => this.lastAckTimeMs);
    this.idleMs = opts.idleFlushMs ?? 1000;
    this.idleTickMs = Math.min(SYNC_MS, Number.isFinite(this.idleMs) ? Math.max(50, Math.floor(this.idleMs / 4)) : 1000);
    this.ctx = { node: opts.node, file: opts.sourceFile, raw: opts.raw ?? false };
    this.syncing = opts.routes.map((r) => r.sink).filter((s) => s.sync !== undefined);
    this.syncMs = Math.max(SYNC_MS, ...this.syncing.map((s) => s.syncIntervalMs ?? 0));
    this.runRoutes = opts.routes.filter((r) => r.sink.writeSeccompRuns !== undefined && r.denialsOnly !== true);
    // the routes that take rendered lines, of one format (the first such route's): one renderer serves them
    const renders = opts.routes.filter((r) => r.acceptsAll === true && r.sink.writeRendered !== undefined && r.sink.renderFormat !== undefined && !this.runRoutes.includes(r));
    const format = renders[0]?.sink.renderFormat;
    this.renderRoutes = renders.filter((r) => r.sink.renderFormat === format);
    this.renderer = format === undefined ? null : format === 'v1' ? new SeccompRenderer(this.ctx) : new SiemRenderer(this.ctx, formatter(format));
    this.deferQuiet = this.runRoutes.length > 0 || this.renderRoutes.length > 0;
    this.failures = new ParseFailures(opts.log);
    // Every route takes denials only (the default `auditflow run`): SECCOMP records that only log are read
    // from bytes and counted, without a record or an event each.
    const quiet = opts.routes.every((r) => r.denialsOnly === true || this.runRoutes.includes(r) || this.renderRoutes.includes(r));
    this.lines = new LineRecords({
      record: (r) => this.onRecord(r),
      seccomp: quiet ? (l) => this.onQuietSeccomp(l) : undefined,
      failed: (r) => {
        runMetrics.failed.inc({ reason: r.error });
        this.failures.add(r.error, r.message, r.excerpt);
      },
      nonAudit: (r) => {
        if (r.skip === 'printk-suppressed') envMetrics.printkSuppressed.inc(r.suppressed);
      },
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** Reads until the tailer ends (one-shot) or stop() is called; then flushes, acks and closes the sinks. */
  async run(): Promise<void> {
    const it = this.opts.tailer[Symbol.asyncIterator]();
    this.running = true;
    try {
      while (!this.stopping) {
        this.waitingSince = Date.now();
        this.armIdle();
        // Not Promise.race with one long-lived stop promise: every race leaves a reaction on it that keeps the
        // race's result (a whole batch of lines) alive for the life of the process (issue 11: ~300 bytes per record).
        const next = it.next();
        const r = await new Promise<IteratorResult<TailBatch> | 'stop'>((resolve, reject) => {
          this.stopWake = () => resolve('stop');
          next.then(resolve, reject);
        });
        this.stopWake = null;
        this.waitingSince = null;
        if (r === 'stop' || r.done) break;
        // Done with the batch before asking for the next: the node's tailer reads into the same buffer again
        // (TailerOptions.reuseBuffers). Nothing may keep a line's bytes past processBatch.
        await this.serial(() => this.processBatch(r.value));
      }
    } finally {
      this.running = false;
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
      // a sink that failed for good (or a shutdown past its grace) fails this too: what it did not take is not
      // acked, and the sinks and the tailer (final checkpoint of what was acked) are still closed
      await this.serial(() => this.drain(true)).catch((err) => this.opts.log.error({ err }, 'final flush failed: events not written are not acked'));
      for (const { sink } of this.opts.routes) {
        try {
          await sink.flush();
          await sink.close();
        } catch (err) {
          this.opts.log.error({ sink: sink.name, err }, 'closing a sink failed');
        }
      }
      // after the last ack: close() persists it as the final checkpoint
      await this.opts.tailer.close();
    }
    if (this.fatal !== undefined) throw this.fatal;
  }

  /**
   * While the pipeline waits for the tailer with work left over (events the coalescer holds, held events,
   * batches written but not synced), look again every idleTickMs: flush after idleFlushMs of waiting, sync
   * after SYNC_MS. With nothing left over no timer runs: an idle agent's event loop sleeps until the log grows
   * (a 100 ms interval ticking for ever was a third of the wake-ups of an agent on a quiet node).
   */
  private armIdle(): void {
    if (this.idleTimer !== undefined || !this.running || this.stopping) return;
    if (!this.unflushed() && this.unsynced.length === 0) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      this.idleTick();
    }, this.idleTickMs).unref();
  }

  private idleTick(): void {
    // a batch is being processed: the loop arms the timer again when it waits for the next one
    if (this.waitingSince === null) return;
    const waited = Date.now() - this.waitingSince;
    // (serial: after what is running; then look again, as what it wrote may want a sync)
    const rearm = () => this.armIdle();
    if (this.unflushed() && waited >= this.idleMs) void this.serial(() => this.drain(true)).then(rearm, (err) => this.fail(err));
    else if (this.unsynced.length > 0 && waited >= SYNC_MS) void this.serial(() => this.syncWritten(true)).then(rearm, (err) => this.fail(err));
    else this.armIdle();
  }

  /** Events not delivered yet: the coalescer's open ones, or those held back for their parent's record. */
  private unflushed(): boolean {
    return this.coalescer.pendingCount > 0 || this.held.length > 0;
  }

  /** Stop reading; run() then finishes what was read and returns. */
  stop(): void {
    this.stopping = true;
    this.stopWake?.();
  }

  /** A write from the idle flush failed for good: stop, and run() rejects with it. */
  private fail(err: unknown): void {
    this.fatal ??= err;
    this.stop();
  }

  /** The shutdown grace period is over: sink write retries give up (nothing more is acked). */
  abort(): void {
    this.stop();
    this.aborter.abort(new AbortedError('sink write'));
  }

  /** A container ended: every sink that wants to know is told, in order with the events. */
  containerEnded(end: ContainerEnd): Promise<void> {
    runMetrics.containerEnds.inc({ reason: end.reason });
    return this.serial(async () => {
      for (const { sink } of this.opts.routes) {
        if (!sink.containerEnded) continue;
        try {
          await sink.containerEnded(end);
        } catch (err) {
          this.opts.log.error({ sink: sink.name, container: end.container.id, err }, 'a sink failed on a container end');
        }
      }
    });
  }

  private async processBatch(batch: TailBatch): Promise<void> {
    const st: BatchState = { position: batch.position, outstanding: 0, processed: false, lastTimeMs: 0, lastSerial: -1 };
    this.batches.push(st);
    this.stats.batches++;
    this.parsingBatch = st;
    const bytes = batch.bytes;
    let n: number;
    if (bytes !== undefined) {
      // the file and stream tailers hand over bytes: SECCOMP lines are scanned without decoding them
      n = bytes.length;
      this.batchLines = bytes;
      this.batchNext = null;
      const { starts, ends, runFrom, runBufs, runClean } = bytes;
      for (let r = 0; r < runFrom.length; r++) {
        const buf = runBufs[r]!;
        const clean = runClean[r]!;
        const to = r + 1 < runFrom.length ? runFrom[r + 1]! : n;
        for (let i = runFrom[r]!; i < to; i++) {
          this.lineIdx = i;
          this.lineCounts[this.lines.bytes(buf, starts[i]!, ends[i]!, clean)]++;
        }
      }
      this.batchLines = null;
      this.batchNext = null;
    } else {
      const lines = batch.lines;
      n = lines.length;
      for (let i = 0; i < n; i++) this.lineCounts[this.lines.text(lines[i]!)]++;
    }
    this.stats.lines += n;
    await this.countQuiet();
    this.flushCounts();
    this.opts.onBatch?.(n);
    st.processed = true;
    await this.drain(false);
    // every line rendered from this batch was written by the drain (it takes all that was emitted)
    this.renderer?.reset();
  }

  /** A scanned SECCOMP line while no route wants non-denials: false sends it the general way (a denial). */
  private onQuietSeccomp(l: SeccompLine): boolean {
    if (l.action !== 'log' && l.action !== 'allow') return false;
    // what push() would do before emitting it (events still open may be complete now), in the same order
    if (!this.coalescer.passStandalone('SECCOMP')) return false;
    const st = this.parsingBatch!;
    this.stats.records++;
    this.stats.quiet++;
    this.quietRecords++;
    const t = l.timeMs;
    st.lastTimeMs = t;
    st.lastSerial = l.serial;
    if (t > this.newestTimeMs) this.newestTimeMs = t;
    // what enrichment and the SPO metric's labels depend on: process, second, syscall, executable (and host).
    // A process makes its syscalls in runs and cycles: a recent group usually matches, compared as bytes.
    const sec = Math.floor(t / 1000);
    const recent = this.recentQuiet;
    for (let i = 0; i < recent.length; i++) {
      const g = recent[i]!;
      if (!inGroup(g, l, sec)) continue;
      joinGroup(g, l, this.lineIdx);
      if (i > 0) toFront(recent, i, g);
      if (this.renderer !== null) this.render(g, l);
      return true;
    }
    const b = l.buf;
    const key = `${l.pid}:${sec}:${l.syscall.auditArch}:${l.syscall.nr}:${l.exeForm}${b.toString('latin1', l.exeStart, l.exeEnd)}:${l.commForm}${b.toString('latin1', l.commStart, l.commEnd)}${l.hostStart < 0 ? '' : b.toString('latin1', l.hostStart, l.hostEnd)}`;
    let g = this.quiet.get(key);
    if (g !== undefined) joinGroup(g, l, this.lineIdx);
    else {
      g = {
        key,
        n: 1,
        minMs: t,
        maxMs: t,
        buf: b,
        start: l.start,
        end: l.end,
        more: this.renderer === null || this.runRoutes.length > 0 ? this.chainFrom(this.lineIdx) : null,
        ev: null,
        held: false,
        renderState: null,
        sec,
        syscall: l.syscall,
        exeForm: l.exeForm,
        commForm: l.commForm,
        pidStart: l.digits[Num.Pid]!,
        pidEnd: l.digits[Num.Pid + 1]!,
        exeStart: l.exeStart,
        exeEnd: l.exeEnd,
        commStart: l.commStart,
        commEnd: l.commEnd,
        hostStart: l.hostStart,
        hostEnd: l.hostEnd,
      };
      this.quiet.set(key, g);
    }
    if (recent.length < RECENT_GROUPS) recent.push(g);
    toFront(recent, recent.length - 1, g);
    if (this.renderer !== null) this.render(g, l);
    return true;
  }

  /** A quiet line in its place among the events, rendered but for its enrichment. */
  private render(g: QuietGroup, l: SeccompLine): void {
    const s = new ScannedSeccomp(g, l.buf, l.start, l.end);
    this.renderer!.add(l, s, g);
    this.emitted.push(s);
  }

  /**
   * The quiet SECCOMP records of the batch just read: one enrichment per group (the cache answers it per
   * pid), then counted as events (metrics, SPO audit metric, container watch) as finish() counts them, and
   * handed as runs to the sinks that take them (the recorder). A group whose process is gone and whose parent
   * is not known yet goes the general way instead, record by record, and waits as deliver() lets events wait.
   */
  private async countQuiet(): Promise<void> {
    if (this.quiet.size === 0) return;
    const groups = [...this.quiet.values()];
    this.quiet.clear();
    this.recentQuiet.length = 0;
    // Room for this batch's groups before any is looked up: forgetting the seen ones after the lookups below
    // dropped the answers of the groups found there, whose records then went uncounted (and unrenderable).
    if (this.quietSeen.size + groups.length > QUIET_SEEN_MAX) this.quietSeen.clear();
    const fresh: QuietGroup[] = [];
    const items: EnrichItem[] = [];
    let newest = 0;
    for (const g of groups) {
      if (g.maxMs > newest) newest = g.maxMs;
      if (this.quietSeen.has(g.key)) continue;
      const r = parseLine(g.buf.toString('latin1', g.start, g.end), { maxLineLength: MAX_LINE });
      // the scanner accepts only what parseLine reads the same way; were it not so, the group's lines are
      // read one by one as any line is (holdGroup counts what is not a record)
      if (!isRecord(r)) {
        this.holdGroup(g);
        continue;
      }
      fresh.push(g);
      // Waiting for a parent record matters where each record's attribution is output (the recorder's runs,
      // rendered events); for the metrics alone it is not worth re-enriching the group with every batch.
      // Asked for the group's latest record: when any of its records may wait, the group goes the general way
      // (holdGroup), where each record is decided as any event is.
      const mayDefer = this.deferQuiet && this.newestTimeMs - g.maxMs < HOLD_AUDIT_MS;
      items.push({ ev: eventFromRecord(r, this.ctx), timeMs: r.timeMs, mayDefer, n: g.n });
    }
    if (items.length) await this.opts.enricher.enrich(items);
    const answered = new Set<QuietGroup>();
    for (let i = 0; i < fresh.length; i++) {
      const it = items[i]!;
      if (it.deferred) this.holdGroup(fresh[i]!);
      else {
        this.quietSeen.set(fresh[i]!.key, { ev: it.ev, outcome: it.outcome! });
        answered.add(fresh[i]!);
      }
    }
    let total = 0;
    const runs: SeccompRun[] = [];
    for (const g of groups) {
      const seen = this.quietSeen.get(g.key);
      if (seen === undefined) continue;
      const ev = seen.ev;
      g.ev = ev;
      // the enrichment metric counts every record: those answered now were counted by enrich() (n each)
      if (!answered.has(g)) this.opts.enricher.recount(seen.outcome, g.n);
      total += g.n;
      observeSpoAudit(ev, g.n);
      if (ev.enrichment === 'resolved' && ev.container && this.opts.onContainer) this.opts.onContainer(ev.container.id);
      if (this.runRoutes.length) runs.push({ ev, n: g.n, first: formatTimestamp(g.minMs), last: formatTimestamp(g.maxMs), events: (max) => this.runEvents(g, ev, max) });
    }
    this.stats.events += total;
    runMetrics.events.inc({ kind: 'seccomp', denial: 'false' }, total);
    runMetrics.processedLagSeconds.set(Math.max(0, (Date.now() - newest) / 1000));
    if (runs.length) {
      await Promise.all(
        this.runRoutes.map((route) => {
          const mine = runs.filter((r) => route.accept(r.ev));
          return mine.length === 0 ? undefined : this.retryWrite(route, mine.reduce((n, r) => n + r.n, 0), () => route.sink.writeSeccompRuns!(mine));
        }),
      );
    }
  }

  /**
   * A quiet group whose process had exited before its parent was known (or that the scanner should not have
   * taken): its records go the general way, each an event that deliver() may hold back for its parent's
   * record. With rendered lines they are read in their places among the events there; else now.
   */
  private holdGroup(g: QuietGroup): void {
    g.held = true;
    if (this.renderer !== null) return;
    this.emitRecord(g.buf, g.start, g.end);
    forEachChained(g.more!, (buf, start, end) => {
      this.emitRecord(buf, start, end);
    });
  }

  /** A chain for a new quiet group whose first line is `line` of the batch being scanned. */
  private chainFrom(line: number): LineChain {
    const lines = this.batchLines!;
    // one per batch, shared by its groups (each line is in one group); kept by them as long as they need it
    this.batchNext ??= new Int32Array(lines.length);
    return { lines, next: this.batchNext, first: line, last: line };
  }

  /** A quiet line read as a record (null, counted when an error: not one). */
  private quietRecord(buf: Buffer, start: number, end: number): AuditRecord | null {
    const r = parseLine(buf.toString('latin1', start, end), { maxLineLength: MAX_LINE });
    if (isRecord(r)) return r;
    if ('error' in r) {
      runMetrics.failed.inc({ reason: r.error });
      this.failures.add(r.error, r.message, r.excerpt);
    }
    return null;
  }

  /**
   * SeccompRun.events: the group's first `max` records, each the event the general path would make of it. The
   * group's enrichment is theirs: its key holds everything enrichment depends on (process, second, executable).
   */
  private runEvents(g: QuietGroup, enriched: EventV1, max: number): EventV1[] {
    const out: EventV1[] = [];
    const add = (buf: Buffer, start: number, end: number): boolean => {
      if (out.length >= max) return false;
      const r = this.quietRecord(buf, start, end);
      if (r === null) return true;
      const ev = eventFromRecord(r, this.ctx);
      copyEnrichment(ev, enriched);
      out.push(ev);
      return true;
    };
    if (add(g.buf, g.start, g.end)) forEachChained(g.more!, add);
    return out;
  }

  /** A quiet line sent the general way: parsed, in its batch's count (not acked before it is written), emitted. */
  private emitRecord(buf: Buffer, start: number, end: number): AuditEvent | null {
    const r = this.quietRecord(buf, start, end);
    if (r === null) return null;
    const st = this.parsingBatch!;
    st.outstanding++;
    this.recBatch.set(r, st);
    const ev: AuditEvent = { timeMs: r.timeMs, serial: r.serial, records: [r] };
    if (this.renderer === null) this.emitted.push(ev);
    return ev;
  }

  private onRecord(r: AuditRecord): void {
    const st = this.parsingBatch!;
    this.stats.records++;
    this.typeCounts.set(r.type, (this.typeCounts.get(r.type) ?? 0) + 1);
    st.lastTimeMs = r.timeMs;
    st.lastSerial = r.serial;
    if (r.timeMs > this.newestTimeMs) this.newestTimeMs = r.timeMs;
    // An EOE only closes its event and is in no event's records: counted outstanding, it would never be
    // written, so its batch (and every batch after it) would never be acked.
    if (r.type !== 'EOE') {
      st.outstanding++;
      this.recBatch.set(r, st);
    }
    this.coalescer.push(r);
  }

  private flushCounts(): void {
    for (const [type, n] of this.typeCounts) runMetrics.records.inc({ type }, n);
    this.typeCounts.clear();
    if (this.quietRecords) runMetrics.records.inc({ type: 'SECCOMP' }, this.quietRecords);
    this.quietRecords = 0;
    for (const [k, n] of Object.entries(this.lineCounts)) if (n) runMetrics.lines.inc({ result: k }, n);
    this.lineCounts.record = this.lineCounts['not-audit'] = this.lineCounts.error = 0;
  }

  /** Writes what the coalescer emitted (all of it when `all`), then acks what is complete. */
  private async drain(all: boolean): Promise<void> {
    if (all) this.coalescer.flush();
    runMetrics.pendingRecords.set(this.coalescer.pendingCount);
    const events = this.emitted;
    this.emitted = [];
    if (events.length || this.held.length) await this.deliver(events, all);
    this.ackComplete();
    await this.syncWritten(all);
  }

  /** Syncs the group-commit sinks (when due, or now when `now`) and acks the batches that waited for it. */
  private async syncWritten(now: boolean): Promise<void> {
    if (this.unsynced.length === 0 || (!now && Date.now() - this.lastSyncMs < this.syncMs)) return;
    const batches = this.unsynced;
    this.unsynced = [];
    try {
      await Promise.all(this.syncing.map((s) => s.sync!()));
    } catch (err) {
      // not acked: a later sync (or the next run, re-reading them) covers these batches
      this.unsynced = batches.concat(this.unsynced);
      throw err;
    }
    this.lastSyncMs = Date.now();
    this.ack(batches);
  }

  private async deliver(fresh: Emitted[], final: boolean): Promise<void> {
    // events held back by earlier deliveries go first; each may wait at most HOLD_MS in all
    const retried = this.held;
    this.held = [];
    const now = Date.now();
    const auditEvents: AuditEvent[] = retried.map((h) => h.event);
    // the fresh ones in order: an event's index in auditEvents, or a rendered line
    const order: Array<number | ScannedSeccomp> = [];
    // each event's place among all those delivered (rendered lines included): at most MAX_HELD wait
    const place: number[] = retried.map((_, i) => i);
    let scanned = false;
    for (const e of fresh) {
      const at = retried.length + order.length;
      if (!(e instanceof ScannedSeccomp)) {
        order.push(auditEvents.push(e) - 1);
        place.push(at);
      } else if (!e.g.held) {
        scanned = true;
        order.push(e);
      } else {
        // its group goes the general way: this line is an event like the others, here in its place
        const ae = this.emitRecord(e.buf, e.start, e.end);
        if (ae === null) continue;
        order.push(auditEvents.push(ae) - 1);
        place.push(at);
      }
    }
    const since = (i: number) => (i < retried.length ? retried[i]!.since : now);
    const items: EnrichItem[] = new Array(auditEvents.length);
    for (let i = 0; i < auditEvents.length; i++) {
      const ae = auditEvents[i]!;
      const mayDefer = !final && now - since(i) < HOLD_MS && this.newestTimeMs - ae.timeMs < HOLD_AUDIT_MS && (i < retried.length || this.held.length + place[i]! < MAX_HELD);
      // a held event's object is kept: enrich() left it untouched when it deferred it
      items[i] = { ev: i < retried.length ? retried[i]!.ev : eventFromAuditEvent(ae, this.ctx), timeMs: ae.timeMs, mayDefer };
    }
    if (items.length) await this.opts.enricher.enrich(items);
    // A process that exited before its records were read is attributed through its parent, which its exit or
    // execve record names (enrich/lineage.ts). That record may come later: auditd writes no EOE, so a
    // multi-record event leaves the coalescer only once newer records or the idle flush push it out, while a
    // SECCOMP record is emitted at once. Such events wait (HOLD_MS at most, and never past a final flush);
    // their batch is not acked meanwhile, so a crash cannot lose them.
    const anyDeferred = items.some((i) => i.deferred);
    if (anyDeferred) {
      for (let i = 0; i < items.length; i++) if (items[i]!.deferred) this.held.push({ event: auditEvents[i]!, since: since(i), ev: items[i]!.ev });
      runMetrics.heldEvents.inc(this.held.length - retried.filter((_, i) => items[i]!.deferred).length);
    }
    // the rendered SECCOMP lines in their places among the events, for the sinks that take them
    let ordered: Array<EventV1 | ScannedSeccomp> | null = null;
    if (scanned) {
      ordered = [];
      for (let i = 0; i < retried.length; i++) if (!items[i]!.deferred) ordered.push(items[i]!.ev);
      for (const o of order) {
        if (typeof o !== 'number') ordered.push(o);
        else if (!items[o]!.deferred) ordered.push(items[o]!.ev);
      }
    }
    if (!anyDeferred) return this.finish(auditEvents, items, ordered);
    const readyEvents: AuditEvent[] = [];
    const readyItems: EnrichItem[] = [];
    items.forEach((it, i) => {
      if (it.deferred) return;
      readyEvents.push(auditEvents[i]!);
      readyItems.push(it);
    });
    return this.finish(readyEvents, readyItems, ordered);
  }

  /** Writes enriched events (and, in `ordered`, the rendered SECCOMP lines among them) to every route. */
  private async finish(auditEvents: AuditEvent[], items: EnrichItem[], ordered: Array<EventV1 | ScannedSeccomp> | null): Promise<void> {
    if (auditEvents.length === 0 && ordered === null) return;
    const events = items.map((i) => i.ev);
    this.stats.events += events.length;
    // counted per run of equal (kind, denial): a batch is mostly one kind
    let kind = '';
    let denial = false;
    let run = 0;
    for (const ev of events) {
      const d = isDenial(ev);
      if (ev.kind !== kind || d !== denial) {
        if (run) runMetrics.events.inc({ kind, denial: String(denial) }, run);
        kind = ev.kind;
        denial = d;
        run = 0;
      }
      run++;
      observeSpoAudit(ev);
      if (ev.enrichment === 'resolved' && ev.container && this.opts.onContainer) this.opts.onContainer(ev.container.id);
    }
    if (run) runMetrics.events.inc({ kind, denial: String(denial) }, run);
    const rendered = ordered === null ? null : this.rendered(ordered);
    await Promise.all(this.opts.routes.map((r) => (rendered !== null && this.renderRoutes.includes(r) ? this.retryWrite(r, rendered.events, () => r.sink.writeRendered!(rendered.items)) : this.writeTo(r, events))));
    if (auditEvents.length) {
      const newest = auditEvents[auditEvents.length - 1]!.timeMs;
      runMetrics.processedLagSeconds.set(Math.max(0, (Date.now() - newest) / 1000));
    }
    // every record of these events is now durable downstream
    for (const ae of auditEvents) {
      for (const rec of ae.records) {
        const st = this.recBatch.get(rec);
        if (st) st.outstanding--;
      }
    }
  }

  /** `ordered` for EventSink.writeRendered: each run of rendered lines completed with its groups' enrichment, as one buffer. */
  private rendered(ordered: Array<EventV1 | ScannedSeccomp>): { items: Array<EventV1 | Buffer>; events: number } {
    const items: Array<EventV1 | Buffer> = [];
    let lines: RenderedLine[] = [];
    let evs: EventV1[] = [];
    const flush = () => {
      if (lines.length === 0) return;
      items.push(this.renderer!.complete(lines, evs));
      lines = [];
      evs = [];
    };
    for (const o of ordered) {
      if (o instanceof ScannedSeccomp) {
        lines.push(o);
        evs.push(o.g.ev!);
      } else {
        flush();
        items.push(o);
      }
    }
    flush();
    this.stats.generalRendered = this.renderer!.general;
    return { items, events: ordered.length };
  }

  private async writeTo(route: Route, events: EventV1[]): Promise<void> {
    const mine = events.filter(route.accept);
    if (mine.length === 0) return;
    await this.retryWrite(route, mine.length, () => route.sink.write(mine));
  }

  /** A write of `events` events to a route's sink, retried until it is taken (src/event/sink.ts says which errors are final). */
  private async retryWrite(route: Route, events: number, write: () => Promise<void>): Promise<void> {
    await retry(
      write,
      (err, attempt) => {
        // permanent (the output cannot be written at all) or shutting down past the grace: no retry
        if (err instanceof PermanentOutputError || err instanceof AbortedError || this.aborter.signal.aborted) throw err;
        runMetrics.sinkRetries.inc({ sink: route.sink.name });
        if (attempt % 10 === 0) this.opts.log.error({ sink: route.sink.name, events, attempt, err }, 'sink write failed; retrying (nothing is acked meanwhile)');
      },
      { signal: this.aborter.signal },
    );
  }

  /** Takes the batches whose records are all written, in order: acked now, or after the next sync. */
  private ackComplete(): void {
    const done: BatchState[] = [];
    while (this.batches.length && this.batches[0]!.processed && this.batches[0]!.outstanding <= 0) done.push(this.batches.shift()!);
    if (done.length === 0) return;
    if (this.syncing.length) {
      for (const b of done) this.unsynced.push(b);
      return;
    }
    this.ack(done);
  }

  private ack(done: BatchState[]): void {
    let stamp: string | null = null;
    for (const b of done) {
      // the newest stamp among the acked batches (a batch without records keeps the previous one)
      if (b.lastSerial >= 0) {
        stamp = `${(b.lastTimeMs / 1000).toFixed(3)}:${b.lastSerial}`;
        this.lastAckTimeMs = b.lastTimeMs;
      }
    }
    const last = done[done.length - 1]!;
    if (stamp) this.opts.tailer.ack(last.position, stamp);
    else this.opts.tailer.ack(last.position);
    this.stats.acks++;
  }
}
