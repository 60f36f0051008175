// The bounded on-disk spool that holds messages while the broker is unreachable. Segments are NDJSON files
// named by a growing sequence number; appends are fsync'ed before append() resolves (that is what lets the
// tailer checkpoint past them), and replay goes oldest segment first, so the broker receives the messages
// in the order they were written. A segment is deleted only after every message in it was acknowledged:
// a crash during replay re-sends at most one segment (at-least-once; consumers are idempotent).
// When the spool is full, append() does not resolve until replay frees space: the pipeline stops pulling
// lines (the tailer pauses) instead of dropping anything.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../../log';
import { sinkMetrics } from './metrics';

export interface WireMessage {
  topic: string;
  key: string;
  headers: Record<string, string>;
  value: string;
}

const SEGMENT_BYTES = 4 << 20;
const NAME = /^(\d{12})\.spool$/;

export class Spool {
  private segments: Array<{ seq: number; bytes: number }> = [];
  private fd: number | null = null;
  private total = 0;
  private waiters: Array<() => void> = [];
  private writing: Promise<void> = Promise.resolve();
  /** The write + fsync in progress (not an append still waiting for space). */
  private active: Promise<void> | null = null;

  private constructor(
    readonly dir: string,
    readonly maxBytes: number,
    private readonly log: Logger,
  ) {}

  static async open(dir: string, maxBytes: number, log: Logger): Promise<Spool> {
    await fs.promises.mkdir(dir, { recursive: true });
    const s = new Spool(dir, maxBytes, log);
    for (const f of (await fs.promises.readdir(dir)).sort()) {
      const m = NAME.exec(f);
      if (!m) continue;
      const bytes = (await fs.promises.stat(path.join(dir, f))).size;
      if (bytes === 0) {
        await fs.promises.rm(path.join(dir, f), { force: true });
        continue;
      }
      s.segments.push({ seq: Number(m[1]), bytes });
      s.total += bytes;
    }
    if (s.segments.length) log.info({ dir, segments: s.segments.length, bytes: s.total }, 'spool holds messages from an earlier run; replaying them first');
    sinkMetrics.spoolBytes.set(s.total);
    return s;
  }

  get empty(): boolean {
    return this.total === 0 && this.segments.every((g) => g.bytes === 0);
  }

  get bytes(): number {
    return this.total;
  }

  private file(seq: number): string {
    return path.join(this.dir, `${String(seq).padStart(12, '0')}.spool`);
  }

  /** Appends in order and fsyncs; waits while the spool is full. */
  append(msgs: readonly WireMessage[]): Promise<void> {
    const p = this.writing.then(() => this.doAppend(msgs));
    this.writing = p.catch(() => undefined);
    return p;
  }

  private async doAppend(msgs: readonly WireMessage[]): Promise<void> {
    if (msgs.length === 0) return;
    const data = Buffer.from(msgs.map((m) => JSON.stringify(m)).join('\n') + '\n', 'utf8');
    let waited = false;
    // one oversized batch is still accepted into an empty spool, or it could never be written at all
    while (this.total > 0 && this.total + data.length > this.maxBytes) {
      if (!waited) {
        waited = true;
        sinkMetrics.spoolFullWaits.inc();
        this.log.warn({ bytes: this.total, maxBytes: this.maxBytes }, 'spool full: holding the pipeline until the broker takes messages');
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
    let cur = this.segments[this.segments.length - 1];
    if (this.fd === null || !cur || cur.bytes >= SEGMENT_BYTES) {
      this.closeCurrent();
      const seq = (cur?.seq ?? 0) + 1;
      this.fd = fs.openSync(this.file(seq), 'a');
      cur = { seq, bytes: 0 };
      this.segments.push(cur);
    }
    const fd = this.fd;
    const w = (async () => {
      await new Promise<void>((resolve, reject) => fs.write(fd, data, (e) => (e ? reject(e) : resolve())));
      await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));
    })();
    this.active = w;
    try {
      await w;
    } finally {
      this.active = null;
    }
    cur.bytes += data.length;
    this.total += data.length;
    sinkMetrics.spooled.inc(msgs.length);
    sinkMetrics.spoolBytes.set(this.total);
  }

  private closeCurrent(): void {
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }

  /** The oldest segment's messages (the segment stops taking appends). null when the spool is empty. */
  async oldest(): Promise<{ seq: number; messages: WireMessage[] } | null> {
    // Not `await this.writing`: an append waiting for space waits for this very replay.
    while (this.active) await this.active.catch(() => undefined);
    const seg = this.segments[0];
    if (!seg) return null;
    if (this.segments.length === 1) this.closeCurrent(); // new appends start the next segment
    let text: string;
    try {
      text = await fs.promises.readFile(this.file(seg.seq), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      text = '';
    }
    const messages: WireMessage[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        messages.push(JSON.parse(line) as WireMessage);
      } catch {
        // only a crash in the middle of an append leaves a partial last line; its write never resolved,
        // so the pipeline did not ack it and will read that log line again
        this.log.warn({ segment: seg.seq }, 'skipping a torn line in the spool');
      }
    }
    return { seq: seg.seq, messages };
  }

  /** Deletes a replayed segment and wakes writers waiting for space. */
  async remove(seq: number): Promise<void> {
    const i = this.segments.findIndex((s) => s.seq === seq);
    if (i === -1) return;
    const [seg] = this.segments.splice(i, 1);
    if (this.segments.length === 0) this.closeCurrent();
    await fs.promises.rm(this.file(seq), { force: true });
    this.total -= seg!.bytes;
    sinkMetrics.spoolBytes.set(this.total);
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  close(): void {
    this.closeCurrent();
  }
}
