// Fills an event's container, pod and enrichment from its pid: pid → cgroup (ProcCache) → container id →
// pod (PodResolver over CRI, or the Kubernetes API fallback when the runtime cannot answer).
//
// Never throws and never drops an event: what cannot be resolved is marked `unresolved` with the reason in
// enrichmentError, and keeps whatever was learnt (the container id from the cgroup path).
import type { ContainerRef, EventV1, PodRef } from '../event/v1';
import type { Logger } from '../log';
import type { ContainerCgroup } from './cgroup';
import { enrichMetrics, registerCacheSize } from './metrics';
import type { ProcessLineage } from './lineage';
import type { ProcCache, ProcLookup } from './proc-cache';
import type { PodResolver, Resolution } from './pod-resolver';
import type { TaskTable } from './task-table';

/** Where pods come from when the runtime cannot say (e.g. the Kubernetes API, pods on this node). */
export interface PodFallback {
  /** The container and pod of `containerId` in the pod `podUid`; null when unknown there. Rejects on trouble. */
  lookup(podUid: string, containerId: string): Promise<{ container: ContainerRef; pod: PodRef } | null>;
}

export interface EnrichItem {
  ev: EventV1;
  /** the record's audit stamp, wall-clock ms */
  timeMs: number;
  /**
   * The caller can retry this item with the next batch: a gone process whose parent is not known yet is then
   * `deferred` (nothing filled in, nothing counted) rather than unresolved — its fork record may be just ahead.
   */
  mayDefer?: boolean;
  /** set by enrich() when it deferred the item */
  deferred?: boolean;
  /** how many events the item stands for in the enrichment metric (the pipeline's groups of equal records); default 1 */
  n?: number;
  /** set by enrich(): the metric's result and reason, for recount() of events that reuse this item's answer */
  outcome?: string;
}

export interface EnricherOptions {
  procs: ProcCache;
  /** null: no CRI runtime (--cri-socket none): container ids only */
  resolver: PodResolver | null;
  fallback?: PodFallback | null;
  /** parents learnt from fork records: attributes exited short-lived processes to a living ancestor */
  lineage?: ProcessLineage | null;
  /**
   * pid → container from the runtime's task events, kept after exit (task-table.ts): attributes a process, or
   * the nearest ancestor of one, whose container had already exited when its records were read
   */
  tasks?: TaskSource | null;
  log: Logger;
}

/** The runtime's task windows (task-table.ts), as ContainerTasks keeps them. */
export interface TaskSource {
  table: TaskTable;
  /** the event stream is open (a container starting now will be named) */
  streaming: () => boolean;
  /**
   * Asks the runtime whether the window of `pid` in `containerId`, still open in the table, has ended (its exit
   * on its way, or missed), and closes it if so; resolves once the table holds the answer. Absent: open windows
   * are trusted as they are.
   */
  confirmExit?: (containerId: string, pid: number) => Promise<void>;
}

type PidAnswer =
  | { kind: 'host' }
  | { kind: 'container'; cgroup: ContainerCgroup }
  | { kind: 'gone'; why: string }
  | { kind: 'error'; why: string };

export class Enricher {
  private readonly procs: ProcCache;
  private readonly resolver: PodResolver | null;
  private readonly fallback: PodFallback | null;
  private readonly lineage: ProcessLineage | null;
  private readonly tasks: TaskSource | null;
  private readonly log: Logger;
  private lastPodStats = { hits: 0, negativeHits: 0, misses: 0 };
  private lastProcStats = { freshHits: 0, procReads: 0 };
  private warnedErrors = 0;

  constructor(opts: EnricherOptions) {
    this.procs = opts.procs;
    this.resolver = opts.resolver;
    this.fallback = opts.fallback ?? null;
    this.lineage = opts.lineage ?? null;
    this.tasks = opts.tasks ?? null;
    this.log = opts.log;
    registerCacheSize('pid', () => this.procs.size);
    registerCacheSize('pid-gone', () => this.procs.goneSize);
    const lineage = this.lineage;
    if (lineage) registerCacheSize('lineage', () => lineage.size);
    const resolver = this.resolver;
    if (resolver) registerCacheSize('container', () => resolver.size);
  }

  /** Enriches the events in place. Lookups are shared by the events of one process and of one container. */
  async enrich(items: readonly EnrichItem[]): Promise<void> {
    // the whole batch first: a child's records may come before its parent's clone record
    if (this.lineage) for (const { ev, timeMs } of items) this.lineage.learn(ev, timeMs);
    const byPid = new Map<string, Promise<PidAnswer>>();
    const pidOf = (pid: number, atMs: number, ppid: number | null | undefined): Promise<PidAnswer> => {
      // One lookup per pid and second: stamps within a batch are close, and the answer only depends on which
      // process held the pid at that time.
      const key = `${pid}:${Math.floor(atMs / 1000)}:${ppid ?? ''}`;
      let p = byPid.get(key);
      if (!p) byPid.set(key, (p = this.answerPid(pid, atMs, ppid)));
      return p;
    };
    await Promise.all(
      items.map(async (item) => {
        const k = await this.enrichOne(item, pidOf);
        if (k === null) return;
        item.outcome = k;
        this.counts.set(k, (this.counts.get(k) ?? 0) + (item.n ?? 1));
      }),
    );
    this.exportCacheStats();
  }

  /** Counts `n` more events enriched as an earlier item was (its `outcome`), which reuse its answer. */
  recount(outcome: string, n: number): void {
    const [result, reason] = outcome.split('\0') as [string, string];
    enrichMetrics.results.inc({ result, reason }, n);
  }

  /** One item; returns its outcome (the metric's labels), null when deferred. */
  private async enrichOne(item: EnrichItem, pidOf: (pid: number, atMs: number, ppid: number | null | undefined) => Promise<PidAnswer>): Promise<string | null> {
    const { ev, timeMs } = item;
    if (ev.pid === null || ev.pid <= 0) return this.unresolved(ev, 'no-pid', 'the record names no process');
    const a = await pidOf(ev.pid, timeMs, ev.ppid);
    if (a.kind === 'host') return this.host(ev);
    // waiting helps only when a later fork record can name the parent (lineage) or a task event still in
    // flight can name the container (the reader ahead of the runtime): else it just holds acks back
    if (a.kind === 'gone' && item.mayDefer && (this.lineage || this.tasks)) {
      item.deferred = true;
      return null;
    }
    if (a.kind === 'gone') {
      // without the runtime's task events a container that exited before its records were read cannot be named
      if (this.tasks && !this.tasks.streaming()) return this.unresolved(ev, 'no-task-events', `${a.why}; the runtime's task event stream is down`);
      return this.unresolved(ev, 'process-gone', a.why);
    }
    if (a.kind === 'error') return this.unresolved(ev, 'internal', a.why);
    return this.resolveContainer(ev, a.cgroup);
  }

  private async answerPid(pid: number, atMs: number, ppid: number | null | undefined): Promise<PidAnswer> {
    try {
      const own = await this.where(pid, atMs, 'remembered');
      if (own) return own;
      // the process is gone and was never seen: its parent (from a SYSCALL record) is in the same container
      // unless it moved, which container runtimes do not do to a running workload
      if (ppid !== null && ppid !== undefined && ppid > 1) {
        const parent = await this.where(ppid, atMs, 'parent');
        if (parent && parent.kind === 'container') return parent;
      }
      // its ancestors from fork records (lineage.ts): the nearest one we know says where it ran — asked for the
      // time the link was seen, when that ancestor surely held its pid
      for (const a of this.lineage?.ancestors(pid) ?? []) {
        const anc = await this.where(a.pid, a.atMs, 'parent');
        // a host ancestor (the runtime's shim above a container's init) does not make the process a host one
        if (anc) {
          if (anc.kind === 'container') return anc;
          break;
        }
      }
      return { kind: 'gone', why: `process ${pid} exited before its records were read, and neither it nor an ancestor was seen alive or named by a task event` };
    } catch (err) {
      if (this.warnedErrors++ < 5) this.log.warn({ pid, err }, 'reading /proc failed');
      return { kind: 'error', why: `reading /proc for pid ${pid}: ${(err as Error).message}` };
    }
  }

  /**
   * Where `pid` was at `atMs`, best evidence first: /proc (alive, or remembered within the time it was seen alive),
   * then the runtime's task windows (exact by construction, see task-table.ts), then /proc's looser memory (seen
   * alive earlier, the stamp after that). null: nothing known.
   */
  private async where(pid: number, atMs: number, how: 'remembered' | 'parent'): Promise<PidAnswer | null> {
    const r = await this.procs.lookup(pid, atMs);
    if (r.state === 'alive' || (r.state === 'remembered' && r.exact)) return this.fromLookup(r, how);
    let t = this.tasks?.table.lookup(pid, atMs) ?? null;
    if (t?.open && this.tasks?.confirmExit) {
      // /proc does not show the window's process alive (it would have answered above), yet its exit is not in the
      // table: the runtime's word on it is on its way, or lost. The pid may be another process's by now (this
      // record's, even), so the open end is not trusted until the runtime has said whether and when it ended.
      await this.tasks.confirmExit(t.containerId, pid);
      t = this.tasks.table.lookup(pid, atMs);
    }
    if (t) {
      enrichMetrics.shortLived.inc({ how: how === 'parent' ? 'task-parent' : 'task' });
      // the table does not know which runtime served it (containerd's task events, or CRI events on CRI-O):
      // the pod resolver names it from the runtime's CRI Version
      return { kind: 'container', cgroup: { host: false, containerId: t.containerId, runtime: undefined, podUid: undefined, qos: undefined, cgroupPath: '' } };
    }
    // /proc's looser memory guesses that the pid was not reused since it was last seen; when that process was a
    // container task the runtime saw exit before this stamp, the guess is known wrong: the pid was reused
    if (r.state === 'remembered' && !r.entry.cgroup.host && this.tasks) {
      const exit = this.tasks.table.exitOf(pid, r.entry.cgroup.containerId, r.entry.verifiedMs);
      if (exit !== null && atMs > exit) return null;
    }
    return this.fromLookup(r, how);
  }

  private fromLookup(r: ProcLookup, how: 'remembered' | 'parent'): PidAnswer | null {
    if (r.state === 'gone') return null;
    if (r.state === 'remembered') enrichMetrics.shortLived.inc({ how: how === 'parent' ? 'parent' : r.exact ? 'remembered-exact' : 'remembered' });
    else if (how === 'parent') enrichMetrics.shortLived.inc({ how: 'parent' });
    const cg = r.entry.cgroup;
    return cg.host ? { kind: 'host' } : { kind: 'container', cgroup: cg };
  }

  private async resolveContainer(ev: EventV1, cg: ContainerCgroup): Promise<string> {
    const bare: ContainerRef = { id: cg.containerId, name: null, runtime: cg.runtime ?? null, image: null };
    let r: Resolution;
    if (!this.resolver) {
      // no runtime to ask: the Kubernetes API (when configured) is the only source of names
      r = { enrichment: 'unresolved', containerId: cg.containerId, reason: 'cri-disabled', error: 'no CRI runtime configured (--cri-socket none): container id only' };
    } else {
      try {
        r = await this.resolver.resolve(cg.containerId, cg.runtime);
      } catch (err) {
        r = { enrichment: 'unresolved', containerId: cg.containerId, reason: 'internal', error: (err as Error).message };
      }
    }
    if (r.enrichment === 'resolved') {
      ev.container = r.container;
      ev.pod = r.pod;
      ev.enrichment = 'resolved';
      delete ev.enrichmentError;
      return outcome('resolved', '');
    }
    if (this.fallback && cg.podUid && r.reason !== 'not-found') {
      try {
        const f = await this.fallback.lookup(cg.podUid, cg.containerId);
        enrichMetrics.fallback.inc({ result: f ? 'resolved' : 'not-found' });
        if (f) {
          ev.container = { ...f.container, runtime: f.container.runtime ?? bare.runtime };
          ev.pod = f.pod;
          ev.enrichment = 'resolved';
          delete ev.enrichmentError;
          return outcome('resolved', 'kube-fallback');
        }
      } catch (err) {
        enrichMetrics.fallback.inc({ result: 'error' });
        r = { ...r, error: `${r.error}; Kubernetes API fallback: ${(err as Error).message}` };
      }
    }
    ev.container = bare;
    return this.unresolved(ev, r.reason, r.error, true);
  }

  private host(ev: EventV1): string {
    ev.container = null;
    ev.pod = null;
    ev.enrichment = 'host';
    delete ev.enrichmentError;
    return outcome('host', '');
  }

  private unresolved(ev: EventV1, reason: string, message: string, keepContainer = false): string {
    if (!keepContainer) ev.container = null;
    ev.pod = null;
    ev.enrichment = 'unresolved';
    ev.enrichmentError = `${reason}: ${message}`;
    return outcome('unresolved', reason);
  }

  // counted per batch, not per event: a labelled inc costs as much as enriching a cached event
  private readonly counts = new Map<string, number>();

  private exportCacheStats(): void {
    for (const [k, n] of this.counts) {
      const [result, reason] = k.split('\0') as [string, string];
      enrichMetrics.results.inc({ result, reason }, n);
    }
    this.counts.clear();
    const s = this.resolver?.stats;
    if (s) {
      const d = this.lastPodStats;
      if (s.hits > d.hits) enrichMetrics.cache.inc({ cache: 'container', result: 'hit' }, s.hits - d.hits);
      if (s.negativeHits > d.negativeHits) enrichMetrics.cache.inc({ cache: 'container', result: 'negative-hit' }, s.negativeHits - d.negativeHits);
      if (s.misses > d.misses) enrichMetrics.cache.inc({ cache: 'container', result: 'miss' }, s.misses - d.misses);
      this.lastPodStats = { hits: s.hits, negativeHits: s.negativeHits, misses: s.misses };
    }
    const p = this.procs.stats;
    const q = this.lastProcStats;
    if (p.freshHits > q.freshHits) enrichMetrics.cache.inc({ cache: 'pid', result: 'hit' }, p.freshHits - q.freshHits);
    if (p.procReads > q.procReads) enrichMetrics.cache.inc({ cache: 'pid', result: 'miss' }, p.procReads - q.procReads);
    this.lastProcStats = { freshHits: p.freshHits, procReads: p.procReads };
  }
}

/**
 * Gives `to` the enrichment enrich() gave `from`: the fields it sets (container, pod, enrichment and its
 * error) and nothing else, so that an event of the same process and second built later (a record of a quiet
 * SECCOMP run, src/run/pipeline.ts) is what enrich() would have made of it.
 */
export function copyEnrichment(to: EventV1, from: EventV1): void {
  to.container = from.container;
  to.pod = from.pod;
  to.enrichment = from.enrichment;
  if (from.enrichmentError === undefined) delete to.enrichmentError;
  else to.enrichmentError = from.enrichmentError;
}

/** The enrichment metric's result and reason labels, as one key (EnrichItem.outcome). */
function outcome(result: string, reason: string): string {
  return `${result}\0${reason}`;
}
