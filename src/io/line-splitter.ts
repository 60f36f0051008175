// Splits a byte stream into lines without ever holding more than one bounded partial line. Lines are handed
// out as byte ranges and nothing is decoded: the hot paths (offline reading in src/io/record-reader.ts, the
// tailer in src/tail) read SECCOMP records from bytes, and a caller that wants text decodes the range (UTF-8;
// invalid bytes become U+FFFD, which the parser flags). Every line also carries the absolute stream offset
// just past its newline, so the tailer can hand out batches that end in the middle of a chunk and checkpoint
// exactly there. Memory is bounded by one chunk plus one partial line of at most maxLineBytes.

import { isAscii } from 'node:buffer';

export interface OverlongHandler {
  /** A line longer than the limit was dropped: `bytes` of it were seen, it ended at stream offset `end`. */
  (bytes: number, end: number): void;
}

/** One line as bytes: `buf[start, end)`, without its newline. */
export interface ByteLineHandler {
  /**
   * `clean`: the range holds no NUL and no byte above 0x7f (checked once per chunk, natively).
   * `offset`: the stream offset just past this line's newline (or past its last byte, for a final line
   * without one). `buf` may be the caller's chunk: it is valid only during the call.
   */
  (buf: Buffer, start: number, end: number, clean: boolean, offset: number): void;
}

/**
 * Splits a byte stream into lines handed out as ranges of the chunk, decoding nothing. A line longer than
 * `maxLineBytes` bytes is dropped and reported. A partial line at a chunk's end is copied and completed from
 * the next chunk. Empty lines are handed out too (callers that count lines count them).
 */
export class ByteLineSplitter {
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

  push(chunk: Buffer, onLine: ByteLineHandler): void {
    const base = this.received;
    this.received += chunk.length;
    let from = 0;
    if (this.skipping) {
      const nl = chunk.indexOf(10);
      if (nl === -1) {
        this.skippedBytes += chunk.length;
        return;
      }
      this.skipping = false;
      this.committed = base + nl + 1;
      this.onOverlong(this.skippedBytes + nl, this.committed);
      this.skippedBytes = 0;
      from = nl + 1;
    } else if (this.carryBytes > 0) {
      const nl = chunk.indexOf(10);
      if (nl === -1) {
        this.hold(chunk, 0);
        return;
      }
      // The carried start is completed and handed out as one buffer: a UTF-8 sequence may straddle chunks.
      this.carry.push(chunk.subarray(0, nl));
      const line = Buffer.concat(this.carry, this.carryBytes + nl);
      this.carry = [];
      this.carryBytes = 0;
      this.emit(line, 0, line.length, isClean(line), base + nl + 1, onLine);
      from = nl + 1;
    }
    const clean = isClean(from === 0 ? chunk : chunk.subarray(from));
    const len = chunk.length;
    let s = from;
    while (s < len) {
      const e = chunk.indexOf(10, s);
      if (e === -1) break;
      this.emit(chunk, s, e, clean, base + e + 1, onLine);
      s = e + 1;
    }
    this.hold(chunk, s);
  }

  /**
   * Starting inside a line (the previous newline is too far back to find): drop bytes up to the next
   * newline; that line is longer than the limit anyway, so it is counted as over-long.
   */
  startSkipping(): void {
    this.skipping = true;
    this.skippedBytes = 0;
  }

  /** End of input (a rotated file, a closed stream): a final line without newline is still a line. */
  end(onLine: ByteLineHandler): void {
    if (this.skipping) {
      this.skipping = false;
      this.onOverlong(this.skippedBytes, this.received);
      this.skippedBytes = 0;
    } else if (this.carryBytes > 0) {
      const line = Buffer.concat(this.carry, this.carryBytes);
      this.carry = [];
      this.carryBytes = 0;
      this.emit(line, 0, line.length, isClean(line), this.received, onLine);
    }
    this.carry = [];
    this.carryBytes = 0;
    this.committed = this.received;
  }

  /** Drops the partial line held (the input ended abnormally, so it is cut short); returns its length in bytes. */
  discard(): number {
    const n = this.skipping ? this.skippedBytes : this.carryBytes;
    this.carry = [];
    this.carryBytes = 0;
    this.skipping = false;
    this.skippedBytes = 0;
    return n;
  }

  private emit(buf: Buffer, s: number, e: number, clean: boolean, offset: number, onLine: ByteLineHandler): void {
    this.committed = offset;
    if (e - s > this.maxLineBytes) this.onOverlong(e - s, offset);
    else onLine(buf, s, e, clean, offset);
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
    // Copy: the caller may reuse its buffer.
    this.carry.push(Buffer.from(chunk.subarray(from)));
    this.carryBytes += n;
  }
}

function isClean(b: Buffer): boolean {
  return isAscii(b) && b.indexOf(0) === -1;
}
