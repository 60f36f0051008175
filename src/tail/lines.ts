// The lines a tailer holds between reading a chunk and handing them out in batches, kept as bytes. Splitting
// is src/io/line-splitter.ts (the one byte splitter, with absolute offsets); this keeps what the splitter
// handed out, so that a batch goes to the pipeline as byte ranges (its hot path scans SECCOMP lines from
// bytes) and is decoded to text only where someone asks for `lines`.

import type { LineBytes, TailBatch, TailPosition } from './types';

/** Lines as byte ranges, in file order: `bufs[i][starts[i], ends[i])`, ending at stream offset `offsets[i]`. */
export class ByteLines implements LineBytes {
  bufs: Buffer[] = [];
  starts: number[] = [];
  ends: number[] = [];
  /** no NUL and no byte above 0x7f in the line (the splitter's flag) */
  clean: boolean[] = [];
  offsets: number[] = [];

  get length(): number {
    return this.starts.length;
  }

  /** A ByteLineHandler: keeps each non-empty line (an empty line's bytes are still consumed by the offsets). */
  readonly add = (buf: Buffer, start: number, end: number, clean: boolean, offset: number): void => {
    if (end <= start) return;
    this.bufs.push(buf);
    this.starts.push(start);
    this.ends.push(end);
    this.clean.push(clean);
    this.offsets.push(offset);
  };

  text(i: number): string {
    return this.bufs[i]!.toString('utf8', this.starts[i], this.ends[i]);
  }

  /** Lines [from, to) as their own ByteLines (sharing the buffers). */
  slice(from: number, to: number): ByteLines {
    const b = new ByteLines();
    b.bufs = this.bufs.slice(from, to);
    b.starts = this.starts.slice(from, to);
    b.ends = this.ends.slice(from, to);
    b.clean = this.clean.slice(from, to);
    b.offsets = this.offsets.slice(from, to);
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
