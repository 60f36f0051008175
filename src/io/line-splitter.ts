// Splits a byte stream into lines without ever holding more than one bounded partial line. Lines are handed
// out as byte ranges and nothing is decoded: the hot path reads SECCOMP records from bytes
// (src/io/record-reader.ts), and a caller that wants text decodes the range (UTF-8; invalid bytes become
// U+FFFD, which the parser flags). The tailer's twin, which also tracks file offsets, is src/tail/lines.ts.

import { isAscii } from 'node:buffer';

export interface OverlongHandler {
  /** A line longer than the limit was dropped; `bytes` is how much of it was seen. */
  (bytes: number): void;
}

/** One line as bytes: `buf[start, end)`, without its newline. */
export interface ByteLineHandler {
  /** `clean`: the range holds no NUL and no byte above 0x7f (checked once per chunk, natively). */
  (buf: Buffer, start: number, end: number, clean: boolean): void;
}

/**
 * Splits a byte stream into lines handed out as ranges of the chunk, decoding nothing: the hot path reads
 * the bytes itself and decodes only the lines it must. A line longer than `maxLineBytes` bytes is dropped
 * and reported. A partial line at a chunk's end is copied and completed from the next chunk.
 */
export class ByteLineSplitter {
  private carry: Buffer[] = [];
  private carryBytes = 0;
  /** Dropping the rest of an over-long line until its newline. */
  private skipping = false;
  private skippedBytes = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onOverlong: OverlongHandler,
  ) {}

  push(chunk: Buffer, onLine: ByteLineHandler): void {
    let from = 0;
    if (this.skipping) {
      const nl = chunk.indexOf(10);
      if (nl === -1) {
        this.skippedBytes += chunk.length;
        return;
      }
      this.onOverlong(this.skippedBytes + nl);
      this.skipping = false;
      this.skippedBytes = 0;
      from = nl + 1;
    } else if (this.carryBytes > 0) {
      const nl = chunk.indexOf(10);
      if (nl === -1) {
        this.hold(chunk, 0);
        return;
      }
      this.carry.push(chunk.subarray(0, nl));
      const line = Buffer.concat(this.carry, this.carryBytes + nl);
      this.carry = [];
      this.carryBytes = 0;
      this.emit(line, 0, line.length, isClean(line), onLine);
      from = nl + 1;
    }
    const clean = isClean(from === 0 ? chunk : chunk.subarray(from));
    const len = chunk.length;
    let s = from;
    while (s < len) {
      const e = chunk.indexOf(10, s);
      if (e === -1) break;
      this.emit(chunk, s, e, clean, onLine);
      s = e + 1;
    }
    this.hold(chunk, s);
  }

  /** End of input: a final line without newline is still a line. */
  end(onLine: ByteLineHandler): void {
    if (this.skipping) {
      this.onOverlong(this.skippedBytes);
      this.skipping = false;
      this.skippedBytes = 0;
    } else if (this.carryBytes > 0) {
      const line = Buffer.concat(this.carry, this.carryBytes);
      this.emit(line, 0, line.length, isClean(line), onLine);
    }
    this.carry = [];
    this.carryBytes = 0;
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

  private emit(buf: Buffer, s: number, e: number, clean: boolean, onLine: ByteLineHandler): void {
    if (e - s > this.maxLineBytes) this.onOverlong(e - s);
    else onLine(buf, s, e, clean);
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
