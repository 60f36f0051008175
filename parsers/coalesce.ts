// Groups the records of one audit event, identified by its audit(TIME:SERIAL) stamp.
//
// The kernel writes an event's records back to back, but auditd may interleave records of events from
// other CPUs, and EOE is only written for multi-record events by auditd (never in syslog/kmsg). So an event
// is complete when: its EOE arrives; or records of newer events have kept arriving for `graceRecords`
// records since its last record; or the caller flushes (end of input, or an idle timer in a live tail).
// Standalone types (SECCOMP, which the kernel emits on its own) are emitted at once, as are records
// without a serial (journald forms).

import type { AuditRecord } from './record';

export interface AuditEvent {
  timeMs: number;
  serial: number;
  records: AuditRecord[];
}

export interface CoalesceOptions {
  /** Records of newer events to wait for before an event without EOE is complete. Default 32. */
  graceRecords?: number;
  /** Most events held open at once; the oldest is emitted when exceeded. Default 4096. */
  maxPending?: number;
  /** Types emitted on their own at once. Default: SECCOMP. */
  standalone?: ReadonlySet<string>;
}

interface Pending {
  event: AuditEvent;
  /** Value of `seen` when the event's last record arrived. */
  lastAt: number;
}

const DEFAULT_STANDALONE: ReadonlySet<string> = new Set(['SECCOMP']);

export class Coalescer {
  private readonly pending = new Map<string, Pending>();
  private readonly grace: number;
  private readonly maxPending: number;
  private readonly standalone: ReadonlySet<string>;
  private seen = 0;

  constructor(
    private readonly emit: (event: AuditEvent) => void,
    opts: CoalesceOptions = {},
  ) {
    this.grace = opts.graceRecords ?? 32;
    this.maxPending = opts.maxPending ?? 4096;
    this.standalone = opts.standalone ?? DEFAULT_STANDALONE;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  push(rec: AuditRecord): void {
    this.seen++;
    if (rec.serial === 0 || this.standalone.has(rec.type)) {
      if (this.pending.size > 0) this.expire();
      this.emit({ timeMs: rec.timeMs, serial: rec.serial, records: [rec] });
      return;
    }
    // Serials are unique per boot only together with the time stamp.
    const key = rec.timeMs + ':' + rec.serial;
    let p = this.pending.get(key);
    if (rec.type === 'EOE') {
      if (p) {
        this.pending.delete(key);
        this.emit(p.event);
      }
      // A lone EOE carries nothing: the event it ends was already emitted.
      this.expire();
      return;
    }
    if (p) {
      p.event.records.push(rec);
      p.lastAt = this.seen;
      // Refresh its place: the Map's order is the order events were last touched.
      this.pending.delete(key);
      this.pending.set(key, p);
    } else {
      p = { event: { timeMs: rec.timeMs, serial: rec.serial, records: [rec] }, lastAt: this.seen };
      this.pending.set(key, p);
    }
    this.expire();
  }

  /**
   * For a caller that emits a standalone record itself (the byte hot path builds no AuditRecord): does what
   * push() does before it emits one, so events come out in the same order. Returns false when records of
   * `type` are not standalone here: build the record and push() it instead.
   */
  passStandalone(type: string): boolean {
    if (!this.standalone.has(type)) return false;
    this.seen++;
    if (this.pending.size > 0) this.expire();
    return true;
  }

  /** Emit every open event (end of input). */
  flush(): void {
    for (const p of this.pending.values()) this.emit(p.event);
    this.pending.clear();
  }

  /** Emit events whose newest record is older than `olderThanMs` (wall clock of the caller's choosing). */
  flushOlderThan(olderThanMs: number): void {
    for (const [key, p] of this.pending) {
      const last = p.event.records[p.event.records.length - 1]!;
      if (last.timeMs < olderThanMs) {
        this.pending.delete(key);
        this.emit(p.event);
      }
    }
  }

  private expire(): void {
    // Oldest-touched first: stop at the first event still inside its grace window.
    for (const [key, p] of this.pending) {
      if (this.seen - p.lastAt < this.grace && this.pending.size <= this.maxPending) break;
      this.pending.delete(key);
      this.emit(p.event);
    }
  }
}
