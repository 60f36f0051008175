// pid → cgroup, remembered, so that records of a process that has already exited are still attributed.
//
// Audit records reach us a little after the fact (auditd's flush, the tailer's poll), so a short-lived process
// is often gone when its records are enriched. Every process seen alive is remembered with its start time:
// - a record of a remembered pid, stamped between the process's start and the last moment we saw that same
//   process alive (less the audit clock's lag), belongs to it for certain (`exact`) — pids cannot be reused while
//   their holder lives;
// - a record stamped after that but within `retainMs` is attributed to it too (`exact: false`): the pid may
//   have been reused since, but with pid_max's thousands of pids that is unlikely within seconds;
// - a record stamped before the current holder of the pid started belongs to an earlier process: the
//   remembered one when its window covers the stamp, else nobody we know.
// Reads of /proc are skipped for a record stamped no later than the moment its pid was last verified alive (the
// process held the pid then, so it wrote the record), when that verification is recent (`freshMs`). Only a record
// stamped after the verification needs /proc again: then the pid may have changed hands in between (a wrap of the
// pid space, or ns_last_pid written), and a guess there would hand the old process's container another one's
// record. One read per pid and batch, as a batch's reads verify up to the moment they are made.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LRUCache } from 'lru-cache';
import { readProcCgroup, readProcStartTime, type CgroupInfo } from './cgroup';

export interface ProcEntry {
  pid: number;
  /** clock ticks after boot (field 22 of /proc/<pid>/stat) */
  startTime: number;
  /** wall-clock ms when the process started (from the boot time; ±20 ms) */
  startMs: number;
  /** last wall-clock ms at which this very process was seen alive */
  verifiedMs: number;
  cgroup: CgroupInfo;
}

export type ProcLookup =
  | { state: 'alive'; entry: ProcEntry }
  | { state: 'remembered'; entry: ProcEntry; exact: boolean }
  | { state: 'gone' };

export interface ProcCacheOptions {
  procRoot?: string;
  /** skip /proc for a record stamped before its pid's last verification, when that was this recent, ms; default 1000 */
  freshMs?: number;
  /** attribute records of an exited process this long after it was last seen alive, ms; default 60 s */
  retainMs?: number;
  /** remembered pids; default 16384 */
  maxEntries?: number;
  /** clock ticks per second of /proc/<pid>/stat (USER_HZ); 100 on every Linux architecture we know */
  ticksPerSecond?: number;
  now?: () => number;
}

/** Audit stamps have ms precision, process start times 10 ms ticks and the boot time ~10 ms: allow for both. */
const SLACK_MS = 50;
/**
 * Audit stamps come from the kernel's coarse clock, up to one tick (10 ms at HZ=100) behind the moment a record
 * is written. A record stamped more than that before a process was seen alive was written while it held the pid;
 * one stamped later may be a next holder's, written just after the check.
 */
const CLOCK_LAG_MS = 10;

export class ProcCache {
  readonly stats = { procReads: 0, freshHits: 0, remembered: 0, rememberedExact: 0, gone: 0 };
  private readonly procRoot: string;
  private readonly freshMs: number;
  private readonly retainMs: number;
  private readonly hz: number;
  private readonly now: () => number;
  private readonly entries: LRUCache<number, ProcEntry>;
  /**
   * pid → wall-clock ms when /proc said it does not exist. A record stamped before that moment cannot belong to
   * a process that lives now (a later holder of the pid started after it), so it is answered without reading
   * /proc again: catching up on a backlog of exited processes' records would otherwise fail an open() for every
   * pid and second of audit time (about 1000 records/s in all). Bounded like the entries.
   */
  private readonly goneAt: LRUCache<number, number>;
  private bootMs: Promise<number> | undefined;

  constructor(opts: ProcCacheOptions = {}) {
    this.procRoot = opts.procRoot ?? '/proc';
    this.freshMs = opts.freshMs ?? 1000;
    this.retainMs = opts.retainMs ?? 60_000;
    this.hz = opts.ticksPerSecond ?? 100;
    this.now = opts.now ?? Date.now;
    this.entries = new LRUCache<number, ProcEntry>({ max: opts.maxEntries ?? 16384 });
    this.goneAt = new LRUCache<number, number>({ max: opts.maxEntries ?? 16384 });
  }

  get size(): number {
    return this.entries.size;
  }

  /** pids remembered as absent (bounded like the entries) */
  get goneSize(): number {
    return this.goneAt.size;
  }

  /** Boot time in wall-clock ms, from /proc/uptime (10 ms resolution, unlike /proc/stat's btime seconds). */
  private boot(): Promise<number> {
    // Read synchronously between two clock readings: an async read's callback can run hundreds of ms after
    // the kernel answered on a loaded node, which would move boot time (and every start time) that much later
    // and make a process look younger than records it wrote.
    this.bootMs ??= Promise.resolve().then(() => {
      try {
        const t0 = this.now();
        const up = Number(fs.readFileSync(path.join(this.procRoot, 'uptime'), 'utf8').split(' ')[0]);
        const t1 = this.now();
        return (t0 + t1) / 2 - up * 1000;
      } catch {
        return 0; // a procRoot without uptime (tests with a fake tree): start times then only order processes
      }
    });
    return this.bootMs;
  }

  /** Which process `pid` was when a record stamped `atMs` (wall-clock ms) was written. */
  async lookup(pid: number, atMs: number): Promise<ProcLookup> {
    const known = this.entries.get(pid);
    const now = this.now();
    if (known && now - known.verifiedMs < this.freshMs && atMs >= known.startMs - SLACK_MS && atMs <= known.verifiedMs - CLOCK_LAG_MS) {
      this.stats.freshHits++;
      return { state: 'alive', entry: known };
    }
    const gone = this.goneAt.get(pid);
    if (gone !== undefined && atMs <= gone) {
      this.stats.freshHits++;
      return this.remembered(known, atMs);
    }
    this.stats.procReads++;
    const start = await readProcStartTime(this.procRoot, pid);
    if (start === null) {
      this.goneAt.set(pid, now);
      return this.remembered(known, atMs);
    }
    this.goneAt.delete(pid);
    if (known && known.startTime === start) {
      known.verifiedMs = now;
      return atMs >= known.startMs - SLACK_MS ? { state: 'alive', entry: known } : this.remembered(undefined, atMs);
    }
    // a new holder of the pid (or one not seen before): its cgroup, and its start time again, in case the pid
    // was reused between the two reads
    const cgroup = await readProcCgroup(this.procRoot, pid);
    if (cgroup === null || (await readProcStartTime(this.procRoot, pid)) !== start) return this.remembered(known, atMs);
    const entry: ProcEntry = { pid, startTime: start, startMs: (await this.boot()) + (start * 1000) / this.hz, verifiedMs: now, cgroup };
    if (atMs < entry.startMs - SLACK_MS) {
      // the record is older than this process: it was written by the pid's previous holder
      const r = this.remembered(known, atMs);
      this.entries.set(pid, entry);
      return r;
    }
    this.entries.set(pid, entry);
    return { state: 'alive', entry };
  }

  private remembered(known: ProcEntry | undefined, atMs: number): ProcLookup {
    if (known && atMs >= known.startMs - SLACK_MS) {
      if (atMs <= known.verifiedMs - CLOCK_LAG_MS) {
        this.stats.remembered++;
        this.stats.rememberedExact++;
        return { state: 'remembered', entry: known, exact: true };
      }
      if (atMs <= known.verifiedMs + this.retainMs) {
        this.stats.remembered++;
        return { state: 'remembered', entry: known, exact: false };
      }
    }
    this.stats.gone++;
    return { state: 'gone' };
  }

  /** Remember a process learnt elsewhere (a container's init pid from CRI), as seen alive now. */
  remember(entry: Omit<ProcEntry, 'verifiedMs'>): void {
    this.entries.set(entry.pid, { ...entry, verifiedMs: this.now() });
  }
}
