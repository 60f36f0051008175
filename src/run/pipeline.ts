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
import { isNonAudit, isParseError, parseLine, Coalescer, type AuditEvent, type AuditRecord } from '../../parsers';
import { eventFromAuditEvent, type EventContext, type EventV1 } from '../event/v1';
import type { Enricher, EnrichItem } from '../enrich/enricher';
import { envMetrics } from '../audit/envcheck';
import { registerCacheSize } from '../enrich/metrics';
import { AbortedError, PermanentOutputError } from '../io/errors';
import { retry } from '../retry';
import type { Logger } from '../log';
import type { ContainerEnd, EventSink } from '../event/sink';
import type { Tailer, TailBatch, TailPosition } from '../tail/types';
import { observeSpoAudit, runMetrics } from './metrics';
import { isDenial } from '../event/decision';

/** A sink and the events it wants. */
export interface Route {
  sink: EventSink;
  accept: (ev: EventV1) => boolean;
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
  lastStamp: string | null;
  lastTimeMs: number;
}

const MAX_LINE = 64 * 1024;

export class Pipeline {
  readonly stats = { batches: 0, lines: 0, records: 0, events: 0, acks: 0 };
  /** the tailer is open and being read */
  running = false;
  private readonly coalescer: Coalescer;
  private readonly ctx: EventContext;
  private readonly recBatch = new WeakMap<AuditRecord, BatchState>();
  private readonly batches: BatchState[] = [];
  private emitted: AuditEvent[] = [];
  /** events whose process was gone and whose parent was not known yet: retried with the next delivery */
  private held: { event: AuditEvent; since: number }[] = [];
  private chain: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly aborter = new AbortController();
  private fatal: unknown;
  private stopWake: (() => void) | null = null;
  /** when the pipeline started waiting for the tailer's next batch; null while it processes one */
  private waitingSince: number | null = null;
  private idleTimer: NodeJS.Timeout | undefined;
  private lastAckTimeMs = 0;
  /** audit time of the newest record parsed */
  private newestTimeMs = 0;
  private readonly typeCounts = new Map<string, number>();
  private readonly lineCounts = { record: 0, 'not-audit': 0, error: 0 };
  private readonly failCounts = new Map<string, number>();
  /** parse errors per reason since the start: the first five of each are logged in full */
  private readonly failLogged = new Map<string, number>();

  constructor(private readonly opts: PipelineOptions) {
    this.coalescer = new Coalescer((e) => this.emitted.push(e), {
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
    registerCacheSize('unacked-batches', () => this.batches.length);
    this.ctx = { node: opts.node, file: opts.sourceFile, raw: opts.raw ?? false };
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
    const idleMs = this.opts.idleFlushMs ?? 1000;
    this.running = true;
    this.idleTimer = setInterval(() => {
      // only while waiting on the tailer: a slow read or a busy pipeline is not a quiet source
      const waited = this.waitingSince === null ? 0 : Date.now() - this.waitingSince;
      if ((this.coalescer.pendingCount > 0 || this.held.length > 0) && waited >= idleMs) void this.serial(() => this.drain(true)).catch((err) => this.fail(err));
      this.updateLag();
    }, Number.isFinite(idleMs) ? Math.max(50, Math.floor(idleMs / 4)) : 1000).unref();
    try {
      while (!this.stopping) {
        this.waitingSince = Date.now();
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
        await this.serial(() => this.processBatch(r.value));
      }
    } finally {
      this.running = false;
      clearInterval(this.idleTimer);
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
    const st: BatchState = { position: batch.position, outstanding: 0, processed: false, lastStamp: null, lastTimeMs: 0 };
    this.batches.push(st);
    this.stats.batches++;
    this.stats.lines += batch.lines.length;
    for (const line of batch.lines) this.parse(line, st);
    this.flushCounts();
    this.opts.onBatch?.(batch.lines.length);
    st.processed = true;
    await this.drain(false);
  }

  private parse(line: string, st: BatchState): void {
    let text: string | undefined = line;
    let first = true;
    while (text !== undefined) {
      const r = parseLine(text, { maxLineLength: MAX_LINE });
      if (isParseError(r)) {
        if (first) this.lineCounts.error++;
        this.failCounts.set(r.error, (this.failCounts.get(r.error) ?? 0) + 1);
        const seen = (this.failLogged.get(r.error) ?? 0) + 1;
        this.failLogged.set(r.error, seen);
        if (seen <= 5) this.opts.log.warn({ reason: r.error, excerpt: r.excerpt }, `parse error: ${r.message}`);
        return;
      }
      if (isNonAudit(r)) {
        if (first) this.lineCounts['not-audit']++;
        if (r.skip === 'printk-suppressed') envMetrics.printkSuppressed.inc(r.suppressed);
        return;
      }
      if (first) this.lineCounts.record++;
      first = false;
      this.stats.records++;
      this.typeCounts.set(r.type, (this.typeCounts.get(r.type) ?? 0) + 1);
      st.lastTimeMs = r.timeMs;
      if (r.timeMs > this.newestTimeMs) this.newestTimeMs = r.timeMs;
      st.lastStamp = `${(r.timeMs / 1000).toFixed(3)}:${r.serial}`;
      st.outstanding++;
      this.recBatch.set(r, st);
      this.coalescer.push(r);
      text = r.rest;
    }
  }

  private flushCounts(): void {
    for (const [type, n] of this.typeCounts) runMetrics.records.inc({ type }, n);
    this.typeCounts.clear();
    for (const [k, n] of Object.entries(this.lineCounts)) if (n) runMetrics.lines.inc({ result: k }, n);
    this.lineCounts.record = this.lineCounts['not-audit'] = this.lineCounts.error = 0;
    for (const [reason, n] of this.failCounts) runMetrics.failed.inc({ reason }, n);
    this.failCounts.clear();
  }

  /** Writes what the coalescer emitted (all of it when `all`), then acks what is complete. */
  private async drain(all: boolean): Promise<void> {
    if (all) this.coalescer.flush();
    runMetrics.pendingRecords.set(this.coalescer.pendingCount);
    const events = this.emitted;
    this.emitted = [];
    if (events.length || this.held.length) await this.deliver(events, all);
    this.ackComplete();
  }

  private async deliver(fresh: AuditEvent[], final: boolean): Promise<void> {
    // events held back by earlier deliveries go first; each may wait at most HOLD_MS in all
    const retried = this.held;
    this.held = [];
    const now = Date.now();
    const auditEvents = retried.length ? [...retried.map((h) => h.event), ...fresh] : fresh;
    const since = (i: number) => (i < retried.length ? retried[i]!.since : now);
    const items: EnrichItem[] = new Array(auditEvents.length);
    for (let i = 0; i < auditEvents.length; i++) {
      const ae = auditEvents[i]!;
      const mayDefer = !final && now - since(i) < HOLD_MS && this.newestTimeMs - ae.timeMs < HOLD_AUDIT_MS && (i < retried.length || this.held.length + i < MAX_HELD);
      items[i] = { ev: eventFromAuditEvent(ae, this.ctx), timeMs: ae.timeMs, mayDefer };
    }
    await this.opts.enricher.enrich(items);
    // A process that exited before its records were read is attributed through its parent, which its exit or
    // execve record names (enrich/lineage.ts). That record may come later: auditd writes no EOE, so a
    // multi-record event leaves the coalescer only once newer records or the idle flush push it out, while a
    // SECCOMP record is emitted at once. Such events wait (HOLD_MS at most, and never past a final flush);
    // their batch is not acked meanwhile, so a crash cannot lose them.
    if (items.some((i) => i.deferred)) {
      const readyEvents: AuditEvent[] = [];
      const readyItems: EnrichItem[] = [];
      items.forEach((it, i) => {
        if (it.deferred) this.held.push({ event: auditEvents[i]!, since: since(i) });
        else {
          readyEvents.push(auditEvents[i]!);
          readyItems.push(it);
        }
      });
      runMetrics.heldEvents.inc(this.held.length - retried.filter((_, i) => items[i]!.deferred).length);
      return this.finish(readyEvents, readyItems);
    }
    return this.finish(auditEvents, items);
  }

  private async finish(auditEvents: AuditEvent[], items: EnrichItem[]): Promise<void> {
    if (auditEvents.length === 0) return;
    const events = items.map((i) => i.ev);
    this.stats.events += events.length;
    const kinds = new Map<string, number>();
    for (const ev of events) {
      const k = `${ev.kind}\0${isDenial(ev)}`;
      kinds.set(k, (kinds.get(k) ?? 0) + 1);
      observeSpoAudit(ev);
      if (ev.enrichment === 'resolved' && ev.container && this.opts.onContainer) this.opts.onContainer(ev.container.id);
    }
    for (const [k, n] of kinds) {
      const [kind, denial] = k.split('\0') as [string, string];
      runMetrics.events.inc({ kind, denial }, n);
    }
    await Promise.all(this.opts.routes.map((r) => this.writeTo(r, events)));
    const newest = auditEvents[auditEvents.length - 1]!.timeMs;
    runMetrics.processedLagSeconds.set(Math.max(0, (Date.now() - newest) / 1000));
    // every record of these events is now durable downstream
    for (const ae of auditEvents) {
      for (const rec of ae.records) {
        const st = this.recBatch.get(rec);
        if (st) st.outstanding--;
      }
    }
  }

  private async writeTo(route: Route, events: EventV1[]): Promise<void> {
    const mine = events.filter(route.accept);
    if (mine.length === 0) return;
    await retry(
      () => route.sink.write(mine),
      (err, attempt) => {
        // permanent (the output cannot be written at all) or shutting down past the grace: no retry
        if (err instanceof PermanentOutputError || err instanceof AbortedError || this.aborter.signal.aborted) throw err;
        runMetrics.sinkRetries.inc({ sink: route.sink.name });
        if (attempt % 10 === 0) this.opts.log.error({ sink: route.sink.name, events: mine.length, attempt, err }, 'sink write failed; retrying (nothing is acked meanwhile)');
      },
      { signal: this.aborter.signal },
    );
  }

  private ackComplete(): void {
    let last: BatchState | null = null;
    let stamp: string | null = null;
    while (this.batches.length && this.batches[0]!.processed && this.batches[0]!.outstanding <= 0) {
      last = this.batches.shift()!;
      // the newest stamp among the acked batches (a batch without records keeps the previous one)
      if (last.lastStamp) {
        stamp = last.lastStamp;
        this.lastAckTimeMs = last.lastTimeMs;
      }
    }
    if (!last) return;
    if (stamp) this.opts.tailer.ack(last.position, stamp);
    else this.opts.tailer.ack(last.position);
    this.stats.acks++;
    this.updateLag();
  }

  private updateLag(): void {
    if (this.lastAckTimeMs) runMetrics.ackedLagSeconds.set(Math.max(0, (Date.now() - this.lastAckTimeMs) / 1000));
  }
}
