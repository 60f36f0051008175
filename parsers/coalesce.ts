// Groups the records of one audit event, identified by its audit(TIME:SERIAL) stamp.
//
// The kernel writes an event's records back to back, but auditd may interleave records of events from
// other CPUs, and EOE is only written for multi-record events by auditd (never in syslog/kmsg). So an event
// is complete when: its EOE arrives; or records of newer events have kept arriving for `graceRecords`
// records since its last record; or the caller flushes (end of input, or an idle timer in a live tail).
// Standalone types (SECCOMP, which the kernel emits on its own) are emitted at once, as are records
// without a serial (journald forms).
//
// Memory is bounded per event and in all: the records of one audit(TIME:SERIAL) stamp are untrusted in
// number (a forged or looping source can write a million records and no EOE under one stamp). An event that
// reaches `maxRecordsPerEvent` records or `maxBytesPerEvent` bytes of lines is emitted as it is, marked
// `overflow`, and the stamp's further records start a new event (also capped): nothing is held beyond the
// caps, and every record still leaves the coalescer exactly once (callers that ack per record rely on it).
// Each record that did not fit in its stamp's first event is counted in `stats.overflowRecords` and
// reported through `onOverflow`. Open events are bounded in all by `maxPending` and `maxPendingBytes`
// (the oldest is emitted first).

import type { AuditRecord } from './record';
import { STANDALONE_TYPES } from './record-types';

export interface AuditEvent {
  timeMs: number;
  serial: number;
  records: AuditRecord[];
  /**
   * The stamp had more records than one event may hold: this event was emitted at the cap, and other events
   * with the same stamp hold the rest (each also marked).
   */
  overflow?: true;
}

/** Reported once for every event cut at a cap. */
export interface CoalesceOverflow {
  timeMs: number;
  serial: number;
  /** Which cap was reached. */
  limit: 'records' | 'bytes';
  /** Records and bytes of the event emitted at the cap. */
  records: number;
  bytes: number;
}

export interface CoalesceStats {
  /** Events emitted at a cap (maxRecordsPerEvent or maxBytesPerEvent). */
  overflowEvents: number;
  /** Records that came after their stamp's first event was full (emitted in continuation events). */
  overflowRecords: number;
}

export interface CoalesceOptions {
  /** Records of newer events to wait for before an event without EOE is complete. Default 32. */
  graceRecords?: number;
  /** Most events held open at once; the oldest is emitted when exceeded. Default 4096. */
  maxPending?: number;
  /** Types emitted on their own at once. Default: SECCOMP. */
  standalone?: ReadonlySet<string>;
  /** Most records one event holds. Default 512. */
  maxRecordsPerEvent?: number;
  /** Most bytes (UTF-16 code units of the records' lines) one event holds. Default 1 MiB. */
  maxBytesPerEvent?: number;
  /** Most bytes held in all open events; the oldest are emitted when exceeded. Default 64 MiB. */
  maxPendingBytes?: number;
  /** Called for every event cut at a cap (an error to count and log: see CoalesceStats). */
  onOverflow?: (o: CoalesceOverflow) => void;
}

export const DEFAULT_MAX_RECORDS_PER_EVENT = 512;
export const DEFAULT_MAX_BYTES_PER_EVENT = 1024 * 1024;

interface Pending {
  event: AuditEvent;
  /** Value of `seen` when the event's last record arrived. */
  lastAt: number;
  bytes: number;
  /** This stamp already overflowed once: its records are counted as overflow. */
  continued: boolean;
}

const DEFAULT_STANDALONE: ReadonlySet<string> = STANDALONE_TYPES;

export class Coalescer {
  private readonly pending = new Map<string, Pending>();
  private readonly grace: number;
  private readonly maxPending: number;
  private readonly standalone: ReadonlySet<string>;
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly maxPendingBytes: number;
  private readonly onOverflow: ((o: CoalesceOverflow) => void) | undefined;
  private seen = 0;
  /**
   * No open event's grace ends before `seen` reaches this (the oldest one's, as of the last expire(); later
   * changes only make the oldest younger): until then a standalone record need not look (issue 14: that look
   * cost an iterator per SECCOMP record whenever any event was open).
   */
  private expireDueAt = 0;
  private heldBytes = 0;
  readonly stats: CoalesceStats = { overflowEvents: 0, overflowRecords: 0 };

  constructor(
    private readonly emit: (event: AuditEvent) => void,
    opts: CoalesceOptions = {},
  ) {
    this.grace = opts.graceRecords ?? 32;
    this.maxPending = opts.maxPending ?? 4096;
    this.standalone = opts.standalone ?? DEFAULT_STANDALONE;
    this.maxRecords = Math.max(1, opts.maxRecordsPerEvent ?? DEFAULT_MAX_RECORDS_PER_EVENT);
    this.maxBytes = Math.max(1, opts.maxBytesPerEvent ?? DEFAULT_MAX_BYTES_PER_EVENT);
    this.maxPendingBytes = Math.max(1, opts.maxPendingBytes ?? 64 * 1024 * 1024);
    this.onOverflow = opts.onOverflow;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Records held in open events. */
  get pendingRecords(): number {
    let n = 0;
    for (const p of this.pending.values()) n += p.event.records.length;
    return n;
  }

  /** Bytes (of lines) held in open events. */
  get pendingBytes(): number {
    return this.heldBytes;
  }

  push(rec: AuditRecord): void {
    this.seen++;
    if (rec.serial === 0 || this.standalone.has(rec.type)) {
      if (this.pending.size > 0 && this.seen >= this.expireDueAt) this.expire();
      this.emit({ timeMs: rec.timeMs, serial: rec.serial, records: [rec] });
      return;
    }
    // Serials are unique per boot only together with the time stamp.
    const key = rec.timeMs + ':' + rec.serial;
    let p = this.pending.get(key);
    if (rec.type === 'EOE') {
      if (p) {
        this.pending.delete(key);
        this.heldBytes -= p.bytes;
        this.emit(p.event);
      }
      // A lone EOE carries nothing: the event it ends was already emitted.
      this.expire();
      return;
    }
    const size = rec.line.length;
    if (p) {
      const full = p.event.records.length >= this.maxRecords ? 'records' : p.bytes + size > this.maxBytes ? 'bytes' : undefined;
      if (full !== undefined) {
        // At a cap: emit what is held, marked; this record starts the stamp's next event.
        this.pending.delete(key);
        this.heldBytes -= p.bytes;
        p.event.overflow = true;
        this.stats.overflowEvents++;
        this.onOverflow?.({ timeMs: p.event.timeMs, serial: p.event.serial, limit: full, records: p.event.records.length, bytes: p.bytes });
        this.emit(p.event);
        p = undefined;
        this.stats.overflowRecords++;
        this.open(key, rec, size, true);
      } else {
        if (p.continued) this.stats.overflowRecords++;
        p.event.records.push(rec);
        p.bytes += size;
        this.heldBytes += size;
        p.lastAt = this.seen;
        // Refresh its place: the Map's order is the order events were last touched.
        this.pending.delete(key);
        this.pending.set(key, p);
      }
    } else {
      this.open(key, rec, size, false);
    }
    this.expire();
  }

  private open(key: string, rec: AuditRecord, size: number, continued: boolean): void {
    const event: AuditEvent = { timeMs: rec.timeMs, serial: rec.serial, records: [rec] };
    if (continued) event.overflow = true;
    this.pending.set(key, { event, lastAt: this.seen, bytes: size, continued });
    this.heldBytes += size;
  }

  /**
   * For a caller that emits a standalone record itself (the byte hot path builds no AuditRecord): does what
   * push() does before it emits one, so events come out in the same order. Returns false when records of
   * `type` are not standalone here: build the record and push() it instead.
   */
  passStandalone(type: string): boolean {
    if (!this.standalone.has(type)) return false;
    this.seen++;
    if (this.pending.size > 0 && this.seen >= this.expireDueAt) this.expire();
    return true;
  }

  /** Emit every open event (end of input). */
  flush(): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    this.heldBytes = 0;
    for (const p of all) this.emit(p.event);
  }

  /** Emit events whose newest record is older than `olderThanMs` (wall clock of the caller's choosing). */
  flushOlderThan(olderThanMs: number): void {
    for (const [key, p] of this.pending) {
      const last = p.event.records[p.event.records.length - 1]!;
      if (last.timeMs < olderThanMs) {
        this.pending.delete(key);
        this.heldBytes -= p.bytes;
        this.emit(p.event);
      }
    }
  }

  // Between records that open or extend events (which call this and leave at most maxPending events and
  // maxPendingBytes), only the grace of the oldest can end: expireDueAt says when.
  private expire(): void {
    // Oldest-touched first: stop at the first event still inside its grace window.
    for (const [key, p] of this.pending) {
      if (this.seen - p.lastAt < this.grace && this.pending.size <= this.maxPending && this.heldBytes <= this.maxPendingBytes) {
        this.expireDueAt = p.lastAt + this.grace;
        return;
      }
      this.pending.delete(key);
      this.heldBytes -= p.bytes;
      this.emit(p.event);
    }
    this.expireDueAt = 0;
  }
}
