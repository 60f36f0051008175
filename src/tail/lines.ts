// The lines a tailer holds between reading a chunk and handing them out in batches, kept as bytes. Splitting
// is src/io/line-splitter.ts (the one byte splitter, with absolute offsets); this keeps what the splitter
// handed out, so that a batch goes to the pipeline as byte ranges (its hot path scans SECCOMP lines from
// bytes) and is decoded to text only where someone asks for `lines`.
//
// Ranges live in typed arrays and a batch is a view of them (subarray), not a copy: one JS array per field,
// pushed per line and copied per batch, was the live path's largest allocation (issue 14: ~200 bytes a
// record, most of it promoted before the batch was done, so the old generation filled and a major GC ran
// about twice a second at 50k records/s). Lines of one read share a buffer and a clean flag (the splitter
// checks a chunk once), so those are kept per run of lines, not per line.

import type { LineBytes, TailBatch, TailPosition } from './types';

/** Lines before the arrays first grow: a 256 KiB chunk of ~300-byte audit lines fits. */
const FIRST_CAPACITY = 1024;

/** Lines as byte ranges, in file order: line i is `bufs[r][starts[i], ends[i])` for its run r, ending at stream offset `offsets[i]`. */
export class ByteLines implements LineBytes {
  length = 0;
  starts: Int32Array;
  ends: Int32Array;
  offsets: Float64Array;
  /** run r: lines [runFrom[r], runFrom[r + 1] or length) are in runBufs[r], all clean or not (runClean[r]) */
  runFrom: number[] = [];
  runBufs: Buffer[] = [];
  runClean: boolean[] = [];

  constructor(capacity = FIRST_CAPACITY) {
    this.starts = new Int32Array(capacity);
    this.ends = new Int32Array(capacity);
    this.offsets = new Float64Array(capacity);
  }

  /** Empty again, with the arrays as they are: batches sliced from the lines before are overwritten by the next ones. */
  reset(): void {
    this.length = 0;
    this.runFrom.length = 0;
    this.runBufs.length = 0;
    this.runClean.length = 0;
  }

  /** A ByteLineHandler: keeps each non-empty line (an empty line's bytes are still consumed by the offsets). */
  readonly add = (buf: Buffer, start: number, end: number, clean: boolean, offset: number): void => {
    if (end <= start) return;
    const i = this.length;
    if (i === this.starts.length) this.grow();
    const r = this.runBufs.length - 1;
    if (r < 0 || this.runBufs[r] !== buf || this.runClean[r] !== clean) {
      this.runFrom.push(i);
      this.runBufs.push(buf);
      this.runClean.push(clean);
    }
    this.starts[i] = start;
    this.ends[i] = end;
    this.offsets[i] = offset;
    this.length = i + 1;
  };

  private grow(): void {
    const cap = this.starts.length * 2;
    const starts = new Int32Array(cap);
    const ends = new Int32Array(cap);
    const offsets = new Float64Array(cap);
    starts.set(this.starts);
    ends.set(this.ends);
    offsets.set(this.offsets);
    this.starts = starts;
    this.ends = ends;
    this.offsets = offsets;
  }

  /** The run that holds line i. */
  runOf(i: number): number {
    let r = this.runFrom.length - 1;
    while (r > 0 && this.runFrom[r]! > i) r--;
    return r;
  }

  bufAt(i: number): Buffer {
    return this.runBufs[this.runOf(i)]!;
  }

  text(i: number): string {
    return this.bufAt(i).toString('utf8', this.starts[i], this.ends[i]);
  }

  /** Lines [from, to) as their own ByteLines: views of these arrays, sharing the buffers (no copy). */
  slice(from: number, to: number): ByteLines {
    const b = new ByteLines(0);
    b.starts = this.starts.subarray(from, to);
    b.ends = this.ends.subarray(from, to);
    b.offsets = this.offsets.subarray(from, to);
    b.length = to - from;
    if (to <= from) return b;
    for (let r = this.runOf(from); r < this.runFrom.length && this.runFrom[r]! < to; r++) {
      b.runFrom.push(Math.max(0, this.runFrom[r]! - from));
      b.runBufs.push(this.runBufs[r]!);
      b.runClean.push(this.runClean[r]!);
    }
    return b;
  }
}

/** A batch of byte lines; `lines` (text) is decoded on first use only. */
export class ByteBatch implements TailBatch {
  private decoded: string[] | undefined;

  constructor(
    readonly bytes: ByteLines,
    readonly position: TailPosition,
  ) {}

  get lines(): string[] {
    if (this.decoded === undefined) {
      const n = this.bytes.length;
      const out = new Array<string>(n);
      for (let i = 0; i < n; i++) out[i] = this.bytes.text(i);
      this.decoded = out;
    }
    return this.decoded;
  }
}
