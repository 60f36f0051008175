// Which container a pid belonged to at a given audit time, from the runtime's own word (containerd's task events,
// containerd-events.ts), kept after the container has exited: bounded tombstones for a lagging reader.
//
// Why a time window, and why it cannot hand a reused pid an old container:
// - A pid names one process at a time. The runtime says task T's init (or exec'd process) held pid P from its
//   creation to its exit; so a record of P stamped inside [start, exit] is T's, and one outside is not.
// - start: read from /proc/P/stat (field 22) when the create event arrives, *and* only when /proc/P/cgroup names T's
//   container (else the pid already belongs to someone else, and we learnt nothing about its start). runc's init
//   is normally still alive then: it waits for StartContainer before exec'ing the workload. When it is already
//   gone, the start is bounded by the event's time less CREATE_BOUND_MS (runc create's own duration) — and never
//   before the exit of the previous task known to have held P.
// - exit: TaskExit's exited_at, the shim's clock read right after it reaped the process. Audit stamps come from
//   the kernel's coarse clock (never ahead of the real time), so every record of T's process is stamped at or
//   before exited_at, and no slack is added at that end: the next holder of P can only start after the reap.
// - A new create/start for P (another task) closes any window of P still open at its start: the kernel gave P to
//   the new task, so the old one had exited even if its TaskExit was missed (stream gap).
// - Two windows that still both cover a stamp (should not happen) answer nothing: ambiguous is unresolved, never
//   a guess.
// What remains: a window still open when a non-task process has taken P — the exit not applied yet (the events
// in flight behind a busy runtime, or missed while the stream was down). The table alone cannot tell; its users
// do (enricher.ts): an open window whose process /proc no longer shows alive is confirmed with the runtime
// (ContainerTasks.confirmExit: CRI's finishedAt) before it is trusted, and resync() closes the windows of a gap
// (at the time the gap was noticed, when CRI no longer knows the container).
import type { ProcCache } from './proc-cache';

/** Start-time precision (10 ms clock ticks) plus the boot-time estimate's error (see proc-cache.ts). */
export const START_SLACK_MS = 50;
/** Longest `runc create` we allow for when the init was already gone at the create event (loaded nodes). */
export const CREATE_BOUND_MS = 5000;

export interface TaskEntry {
  containerId: string;
  pid: number;
  /** earliest audit time (ms) of a record that may be this task's (slack included) */
  fromMs: number;
  /** true when fromMs comes from the process's own start time (/proc), false when bounded from the event */
  exactStart: boolean;
  /** exited_at, ms; null while running (or exit not seen) */
  exitMs: number | null;
  /** when this entry was last changed (for pruning) */
  touchedMs: number;
}

export interface TaskTableOptions {
  /** keep exited tasks this long after their exit, ms; default 10 min */
  retainMs?: number;
  /** at most this many entries (running ones included); default 32768. Beyond it the oldest exited go first. */
  maxEntries?: number;
  now?: () => number;
}

/** `open`: the window has no exit yet (running, or its exit not applied yet). */
export type TaskLookup = { containerId: string; exact: boolean; open: boolean } | null;

export class TaskTable {
  readonly stats = { started: 0, exited: 0, superseded: 0, ambiguous: 0, pruned: 0 };
  private readonly byPid = new Map<number, TaskEntry[]>();
  private count = 0;
  private readonly retainMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: TaskTableOptions = {}) {
    this.retainMs = opts.retainMs ?? 10 * 60_000;
    this.maxEntries = opts.maxEntries ?? 32768;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.count;
  }

  /** exited tasks held (tombstones) */
  get tombstones(): number {
    let n = 0;
    for (const list of this.byPid.values()) for (const e of list) if (e.exitMs !== null) n++;
    return n;
  }

  /**
   * Task `containerId` holds `pid`: its process started at `startMs` (exact: its /proc start time), or — inexact —
   * at no time before `startMs`. Repeated events for the same task (create, then start) keep the best bound.
   */
  started(containerId: string, pid: number, startMs: number, exactStart: boolean): void {
    const now = this.now();
    const list = this.byPid.get(pid) ?? [];
    const from = exactStart ? startMs - START_SLACK_MS : startMs;
    const same = list.find((e) => e.containerId === containerId && (e.exitMs === null || e.exitMs >= from));
    if (same) {
      if (exactStart && !same.exactStart) {
        same.fromMs = Math.max(from, this.previousExit(list, same, startMs + START_SLACK_MS));
        same.exactStart = true;
      }
      same.touchedMs = now;
      return;
    }
    // never reach back into the previous holder's time (the slack and the inexact bound could): the real start is
    // at most `upper`, so a holder known to have exited before that had exited before this one started
    const upper = exactStart ? startMs + START_SLACK_MS : startMs + CREATE_BOUND_MS;
    const entry: TaskEntry = { containerId, pid, fromMs: from, exactStart, exitMs: null, touchedMs: now };
    entry.fromMs = Math.max(from, this.previousExit(list, entry, upper));
    for (const e of list) {
      if (e.exitMs === null) {
        // the pid is this task's now: the old holder had exited before (its exit event missed or still coming)
        e.exitMs = Math.max(e.fromMs, entry.fromMs - 1);
        e.touchedMs = now;
        this.stats.superseded++;
      }
    }
    list.push(entry);
    list.sort((a, b) => a.fromMs - b.fromMs);
    if (list.length > 8) {
      list.shift();
      this.count--;
    }
    this.byPid.set(pid, list);
    this.count++;
    this.stats.started++;
    if (this.count > this.maxEntries) this.prune(true);
  }

  /** 1 ms after the latest exit, before `beforeMs`, of another holder of the pid (-Infinity: none known). */
  private previousExit(list: TaskEntry[], self: TaskEntry, beforeMs: number): number {
    let at = -Infinity;
    for (const e of list) if (e !== self && e.exitMs !== null && e.exitMs <= beforeMs && e.exitMs + 1 > at) at = e.exitMs + 1;
    return at;
  }

  /** Task `containerId`'s process `pid` exited at `exitMs`. */
  exited(containerId: string, pid: number, exitMs: number): void {
    const e = this.byPid.get(pid)?.find((x) => x.containerId === containerId && x.exitMs === null);
    if (!e) return;
    e.exitMs = Math.max(e.fromMs, exitMs);
    e.touchedMs = this.now();
    this.stats.exited++;
  }

  /** Open windows (running, or exit not seen): for resync after a stream gap. */
  open(): TaskEntry[] {
    const out: TaskEntry[] = [];
    for (const list of this.byPid.values()) for (const e of list) if (e.exitMs === null) out.push(e);
    return out;
  }

  /** Which task held `pid` when a record stamped `atMs` was written; null when none (or more than one) did. */
  lookup(pid: number, atMs: number): TaskLookup {
    const list = this.byPid.get(pid);
    if (!list) return null;
    let hit: TaskEntry | undefined;
    for (const e of list) {
      if (atMs < e.fromMs || (e.exitMs !== null && atMs > e.exitMs)) continue;
      if (hit && hit.containerId !== e.containerId) {
        this.stats.ambiguous++;
        return null;
      }
      hit = e;
    }
    return hit ? { containerId: hit.containerId, exact: hit.exactStart, open: hit.exitMs === null } : null;
  }

  /** Every entry, for saving (restore() takes them back). */
  entries(): TaskEntry[] {
    const out: TaskEntry[] = [];
    for (const list of this.byPid.values()) for (const e of list) out.push({ ...e });
    return out;
  }

  /** Takes back saved entries (an auditflow restart); malformed ones are skipped. Answers how many were taken. */
  restore(entries: unknown): number {
    if (!Array.isArray(entries)) return 0;
    let n = 0;
    for (const raw of entries) {
      const e = raw as Partial<TaskEntry>;
      const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
      if (typeof e.containerId !== 'string' || !/^[0-9a-f]{64}$/.test(e.containerId) || !Number.isInteger(e.pid) || (e.pid as number) <= 0) continue;
      if (!num(e.fromMs) || !(e.exitMs === null || num(e.exitMs)) || typeof e.exactStart !== 'boolean') continue;
      const list = this.byPid.get(e.pid as number) ?? [];
      if (list.length >= 8) continue;
      list.push({ containerId: e.containerId, pid: e.pid as number, fromMs: e.fromMs, exactStart: e.exactStart, exitMs: e.exitMs ?? null, touchedMs: this.now() });
      list.sort((a, b) => a.fromMs - b.fromMs);
      this.byPid.set(e.pid as number, list);
      this.count++;
      n++;
    }
    this.prune(true);
    return n;
  }

  /**
   * The exit time of `containerId`'s task on `pid` whose window holds `aliveAtMs` (a moment the process was seen
   * alive); null when no such task is known or it has not exited.
   */
  exitOf(pid: number, containerId: string, aliveAtMs: number): number | null {
    for (const e of this.byPid.get(pid) ?? []) {
      if (e.containerId === containerId && e.exitMs !== null && aliveAtMs >= e.fromMs && aliveAtMs <= e.exitMs) return e.exitMs;
    }
    return null;
  }

  /** Drops tombstones older than the retention; `force`: also the oldest exited ones beyond maxEntries. */
  prune(force = false): void {
    const cutoff = this.now() - this.retainMs;
    for (const [pid, list] of this.byPid) {
      const keep = list.filter((e) => e.exitMs === null || e.exitMs >= cutoff);
      this.stats.pruned += list.length - keep.length;
      this.count -= list.length - keep.length;
      if (keep.length) this.byPid.set(pid, keep);
      else this.byPid.delete(pid);
    }
    if (!force || this.count <= this.maxEntries) return;
    const exited: TaskEntry[] = [];
    for (const list of this.byPid.values()) for (const e of list) if (e.exitMs !== null) exited.push(e);
    exited.sort((a, b) => a.exitMs! - b.exitMs!);
    for (const e of exited.slice(0, this.count - Math.floor(this.maxEntries * 0.9))) {
      const list = this.byPid.get(e.pid)!;
      list.splice(list.indexOf(e), 1);
      if (!list.length) this.byPid.delete(e.pid);
      this.count--;
      this.stats.pruned++;
    }
  }
}

/**
 * The start bound of `pid` for a task of `containerId`: the process's own start time when /proc shows it alive in
 * that container, else `eventMs - CREATE_BOUND_MS` (inexact).
 */
export async function taskStartBound(procs: ProcCache, pid: number, containerId: string, eventMs: number): Promise<{ fromMs: number; exact: boolean }> {
  const r = await procs.lookup(pid, eventMs).catch(() => null);
  if (r && r.state === 'alive' && !r.entry.cgroup.host && r.entry.cgroup.containerId === containerId) return { fromMs: r.entry.startMs, exact: true };
  return { fromMs: eventMs - CREATE_BOUND_MS, exact: false };
}
