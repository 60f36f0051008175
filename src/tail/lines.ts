// Splits file bytes into bounded lines that each carry the byte offset just past their newline.
//
// src/io/line-splitter.ts only knows the offset after a whole chunk; the tailer hands out batches that may end
// in the middle of a chunk (maxBatchLines) and must checkpoint exactly there, so every line carries its end.
// Memory is bounded by one chunk plus one partial line of at most maxLineBytes.

export interface LineEntry {
  text: string;
  /** Byte offset just past this line's newline (or past the last byte, for a final line without one). */
  end: number;
}

export interface OverlongHandler {
  /** A line longer than the limit was dropped: `bytes` of it were seen, it ended at byte offset `end`. */
  (bytes: number, end: number): void;
}

export class OffsetLineSplitter {
  private carry: Buffer[] = [];
  private carryBytes = 0;
  /** Dropping the rest of an over-long line until its newline. */
  private skipping = false;
  private skippedBytes = 0;
  /** Offset just past the last complete (emitted or dropped) line: where a re-read must restart. */
  committed: number;
  /** Offset of the next byte to receive. */
  received: number;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onOverlong: OverlongHandler,
    startOffset = 0,
  ) {
    this.committed = startOffset;
    this.received = startOffset;
  }

  /** Bytes held for a line not yet complete (the part a restart would read again). */
  get partialBytes(): number {
    return this.received - this.committed;
  }

  push(chunk: Buffer, out: LineEntry[]): void {
    const base = this.received;
    this.received += chunk.length;
    let from = 0;
    if (this.skipping) {
      const nl = chunk.indexOf(10);
      if (nl === -1) {
        this.skippedBytes += chunk.length;
        return;
      }
      this.skippedBytes += nl;
      this.skipping = false;
      this.committed = base + nl + 1;
      this.onOverlong(this.skippedBytes, this.committed);
      this.skippedBytes = 0;
      from = nl + 1;
    }
    for (;;) {
      const nl = chunk.indexOf(10, from);
      if (nl === -1) break;
      const end = base + nl + 1;
      const len = this.carryBytes + (nl - from);
      if (len > this.maxLineBytes) {
        this.carry = [];
        this.carryBytes = 0;
        this.committed = end;
        this.onOverlong(len, end);
      } else {
        let text: string;
        if (this.carryBytes > 0) {
          // Decode the carried start together with its end: a UTF-8 sequence may straddle chunks.
          this.carry.push(chunk.subarray(from, nl));
          text = Buffer.concat(this.carry).toString('utf8');
          this.carry = [];
          this.carryBytes = 0;
        } else {
          text = chunk.toString('utf8', from, nl);
        }
        this.committed = end;
        // An empty line carries no data; its bytes are still consumed (the offset moves past it).
        if (text.length > 0) out.push({ text, end });
      }
      from = nl + 1;
    }
    this.hold(chunk, from);
  }

  /**
   * Starting inside a line (the previous newline is too far back to find): drop bytes up to the next
   * newline; that line is longer than the limit anyway, so it is counted as over-long.
   */
  startSkipping(): void {
    this.skipping = true;
    this.skippedBytes = 0;
  }

  /** The input is finished (a rotated file, a closed stream): a final line without newline is still a line. */
  end(out: LineEntry[]): void {
    if (this.skipping) {
      this.skipping = false;
      this.onOverlong(this.skippedBytes, this.received);
      this.skippedBytes = 0;
    } else if (this.carryBytes > 0) {
      const text = Buffer.concat(this.carry).toString('utf8');
      out.push({ text, end: this.received });
    }
    this.carry = [];
    this.carryBytes = 0;
    this.committed = this.received;
  }

  private hold(chunk: Buffer, from: number): void {
    const n = chunk.length - from;
    if (n <= 0) return;
    if (this.carryBytes + n > this.maxLineBytes) {
      this.skipping = true;
      this.skippedBytes = this.carryBytes + n;
      this.carry = [];
      this.carryBytes = 0;
      return;
    }
    // Copy: the caller reuses its read buffer.
    this.carry.push(Buffer.from(chunk.subarray(from)));
    this.carryBytes += n;
  }
}
