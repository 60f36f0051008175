// The kernel log ring buffer (/dev/kmsg) as a source, for nodes without auditd (the kernel then prints
// audit records there, rate limited). Each read(2) returns exactly one record, `PRI,SEQ,USEC,FLAGS;TEXT\n`
// followed by optional ` KEY=VALUE` dictionary lines; lines are handed out in dmesg form
// (`[  USEC.USEC] TEXT`), which the parser knows as kmsg. The checkpoint is the next sequence number
// (TailPosition.offset) plus the boot id: sequence numbers restart at every boot. A gap in the sequence
// (the ring buffer overwrote records before we read them; read(2) says EPIPE) is counted, never hidden.

import { constants, promises as fsp } from 'node:fs';
import { type Logger, worthLogging } from '../log';
import { checkCheckpointPath, CheckpointWriter, loadCheckpoint, makeCheckpoint } from './checkpoint';
import { tailMetrics } from './metrics';
import type { Checkpoint, TailBatch, Tailer, TailerOptions, TailPosition, TailStats } from './types';
import { SerialReader } from './serial-reader';

/** Larger than any kmsg record (the kernel's limit is about 8 KiB incl. dictionary); smaller gives EINVAL. */
const RECORD_BUF = 16 * 1024;
const BOOT_ID = '/proc/sys/kernel/random/boot_id';

export interface KmsgRecord {
  seq: number;
  usec: number;
  pri: number;
  text: string;
}

/** One record as read(2) returns it; null when it is not a kmsg record. */
export function parseKmsgRecord(raw: string): KmsgRecord | null {
  const semi = raw.indexOf(';');
  if (semi < 0) return null;
  const f = raw.slice(0, semi).split(',');
  if (f.length < 4) return null;
  const pri = Number(f[0]);
  const seq = Number(f[1]);
  const usec = Number(f[2]);
  if (!Number.isSafeInteger(pri) || !Number.isSafeInteger(seq) || !Number.isSafeInteger(usec) || seq < 0 || usec < 0) return null;
  const nl = raw.indexOf('\n', semi + 1);
  return { pri, seq, usec, text: raw.slice(semi + 1, nl < 0 ? raw.length : nl) };
}

/** dmesg's form: `[ 6044.127265] text`. */
export function dmesgLine(r: KmsgRecord): string {
  const sec = Math.floor(r.usec / 1e6);
  const frac = String(r.usec % 1e6).padStart(6, '0');
  return `[${String(sec).padStart(5, ' ')}.${frac}] ${r.text}`;
}

export async function bootId(): Promise<string> {
  return (await fsp.readFile(BOOT_ID, 'utf8')).trim();
}

export class KmsgTailer extends SerialReader implements Tailer {
  private fh: fsp.FileHandle | null = null;
  private dev = 0;
  private ino = 0;
  private boot = '';
  /**
   * Records with a smaller sequence number were handed out before (or skipped by startAt end). -1: no
   * reference yet (reading from the start of the buffer), the first record read sets it.
   */
  private nextSeq = -1;
  /** The start was set by a checkpoint of this boot or by "end": then any gap is lost records. */
  private fromStart = false;
  private readonly buf = Buffer.alloc(RECORD_BUF);
  private readonly log: Logger;
  private readonly batchLines: number;
  private readonly pollMs: number;
  private readonly follow: boolean;
  private readonly checkpoint: CheckpointWriter | null;
  private closed = false;
  private closing: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private acked: TailPosition | null = null;
  private handedOut: TailPosition | null = null;
  private lastStamp: string | null = null;
  private counts = { bytesRead: 0, linesRead: 0, lost: 0, errors: 0 };

  constructor(
    private readonly opts: TailerOptions,
    log: Logger,
  ) {
    super();
    this.log = log.child({ component: 'tail', source: opts.path });
    this.batchLines = Math.max(1, opts.maxBatchLines ?? 1024);
    this.pollMs = Math.max(10, opts.pollIntervalMs ?? 250);
    this.follow = opts.follow ?? true;
    this.checkpoint = opts.checkpointPath
      ? new CheckpointWriter(opts.checkpointPath, Math.max(0, opts.checkpointIntervalMs ?? 1000), () => this.snapshot(), this.log)
      : null;
  }

  async start(): Promise<void> {
    this.boot = await bootId().catch(() => '');
    let cp: Checkpoint | null = null;
    if (this.opts.checkpointPath) {
      await checkCheckpointPath(this.opts.checkpointPath);
      const r = await loadCheckpoint(this.opts.checkpointPath, this.opts.path);
      if (r.ok && r.checkpoint.bootId !== undefined && r.checkpoint.bootId === this.boot) cp = r.checkpoint;
      else if (r.ok) {
        tailMetrics.checkpointLoadFailures.inc({ reason: 'other-boot' });
        this.log.info({ checkpointBoot: r.checkpoint.bootId, boot: this.boot }, 'checkpoint is from another boot: reading the whole ring buffer');
      } else if (r.reason !== 'missing') {
        tailMetrics.checkpointLoadFailures.inc({ reason: r.reason });
        this.log.warn({ reason: r.reason }, `${r.message}; starting at the ${this.opts.startAt ?? 'end'} instead`);
      }
      // After a reboot everything in the buffer is new: start at the start whatever startAt says.
      if (r.ok && !cp) this.fromStart = true;
    }
    // O_NONBLOCK: an empty buffer is EAGAIN, never a read parked in libuv's thread pool.
    this.fh = await fsp.open(this.opts.path, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = await this.fh.stat();
    this.dev = st.dev;
    this.ino = st.ino;
    if (cp) {
      this.nextSeq = cp.position.offset;
      this.lastStamp = cp.lastStamp;
    } else if (!this.fromStart && (this.opts.startAt ?? 'end') === 'end') {
      // No seek to the end on a character device from Node: read past what is there now.
      this.nextSeq = await this.drain();
    }
    this.acked = this.position(Math.max(0, this.nextSeq));
    this.checkpoint?.touch();
    await this.checkpoint?.flush();
    this.log.info({ nextSeq: this.nextSeq, boot: this.boot }, 'tailing the kernel log');
  }

  private position(nextSeq: number): TailPosition {
    return { path: this.opts.path, dev: this.dev, ino: this.ino, offset: nextSeq };
  }

  /** Reads one record; null when none is waiting. */
  private async readRecord(): Promise<KmsgRecord | null> {
    for (;;) {
      let n: number;
      try {
        n = (await this.fh!.read(this.buf, 0, RECORD_BUF, null)).bytesRead;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') return null;
        if (code === 'EPIPE') continue; // overwritten under us; the gap shows in the next sequence number
        throw e;
      }
      if (n === 0) return null;
      this.counts.bytesRead += n;
      tailMetrics.bytesRead.inc(n);
      const rec = parseKmsgRecord(this.buf.toString('utf8', 0, n));
      if (rec) return rec;
    }
  }

  private async drain(): Promise<number> {
    let next = -1;
    for (let r = await this.readRecord(); r; r = await this.readRecord()) next = r.seq + 1;
    return next;
  }

  protected async nextInner(): Promise<IteratorResult<TailBatch>> {
    for (;;) {
      if (this.closed) return { done: true, value: undefined };
      const lines: string[] = [];
      let error = false;
      while (lines.length < this.batchLines) {
        let r: KmsgRecord | null;
        try {
          r = await this.readRecord();
        } catch (e) {
          this.counts.errors++;
          tailMetrics.readErrors.inc();
          if (worthLogging(this.counts.errors)) {
            this.log.error({ err: e }, 'reading the kernel log failed; retrying');
          }
          error = true;
          break;
        }
        if (!r) break;
        if (r.seq < this.nextSeq) continue; // before the checkpoint: handled in an earlier run
        if (this.nextSeq >= 0 && r.seq > this.nextSeq) {
          const lost = r.seq - this.nextSeq;
          this.counts.lost += lost;
          tailMetrics.kmsgLost.inc(lost);
          this.log.warn({ lost, from: this.nextSeq, to: r.seq - 1 }, 'kernel log records were overwritten before they were read');
        }
        this.nextSeq = r.seq + 1;
        lines.push(dmesgLine(r));
      }
      if (lines.length > 0) {
        this.counts.linesRead += lines.length;
        tailMetrics.linesRead.inc(lines.length);
        this.handedOut = this.position(this.nextSeq);
        return { done: false, value: { lines, position: this.handedOut } };
      }
      if (!this.follow && !error) return { done: true, value: undefined };
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.wake = null;
          resolve();
        }, this.pollMs);
        this.wake = () => {
          clearTimeout(t);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  ack(pos: TailPosition, lastStamp?: string | null): void {
    this.acked = { path: pos.path, dev: pos.dev, ino: pos.ino, offset: pos.offset };
    if (lastStamp) this.lastStamp = lastStamp;
    if (!this.closed) this.checkpoint?.touch();
  }

  private snapshot(): Checkpoint | null {
    if (!this.acked) return null;
    return makeCheckpoint(this.opts.path, this.acked, this.lastStamp, { bootId: this.boot });
  }

  stats(): TailStats {
    return {
      bytesRead: this.counts.bytesRead,
      linesRead: this.counts.linesRead,
      overlongLines: 0,
      rotations: 0,
      truncations: 0,
      checkpointWrites: this.checkpoint?.writes ?? 0,
      checkpointFailures: this.checkpoint?.failures ?? 0,
      handedOut: this.handedOut,
      acked: this.acked,
      // Records, not bytes: a ring buffer has no byte offsets.
      lagBytes: Math.max(0, this.nextSeq - (this.acked?.offset ?? 0)),
    };
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.wake?.();
      this.closing = (async () => {
        await this.readsDone();
        await this.checkpoint?.close();
        await this.fh?.close().catch(() => undefined);
        this.fh = null;
      })();
    }
    return this.closing;
  }
}

export async function openKmsgTailer(opts: TailerOptions, log: Logger): Promise<KmsgTailer> {
  const t = new KmsgTailer(opts, log);
  await t.start();
  return t;
}
