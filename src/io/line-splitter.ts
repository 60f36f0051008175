// Splits a byte stream into lines without ever holding more than one bounded partial line.
//
// LineSplitter hands out text: each chunk is decoded once (UTF-8; invalid bytes become U+FFFD, which the
// parser flags) up to its last newline, so the per-line cost is one indexOf. `committed` is the byte
// offset just past the last newline handed out: the position a checkpoint may safely store once those
// lines are processed downstream. ByteLineSplitter hands out byte ranges and decodes nothing, for the
// hot path that reads SECCOMP records from bytes (src/io/record-reader.ts).

import { isAscii } from 'node:buffer';

export interface LineHandler {
  (line: string): void;
}

export interface OverlongHandler {
  /** A line longer than the limit was dropped; `bytes` is how much of it was seen. */
  (bytes: number): void;
}

export class LineSplitter {
  private carry: Buffer[] = [];
  private carryBytes = 0;
  /** Dropping the rest of an over-long line until its newline. */
  private skipping = false;
  private skippedBytes = 0;
  /** Bytes consumed through the last complete line (or dropped over-long line). */
  committed: number;
  /** Bytes received so far. */
  received: number;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onOverlong: OverlongHandler,
    startOffset = 0,
  ) {
    this.committed = startOffset;
    this.received = startOffset;
  }

  push(chunk: Buffer, onLine: LineHandler): void {
    this.received += chunk.length;
    let from = 0;
    if (this.skipping) {
      const nl = chunk.indexOf(10);
      if (nl === -1) {
        this.skippedBytes += chunk.length;
        return;
      }
      this.skippedBytes += nl;
      this.onOverlong(this.skippedBytes);
      this.skipping = false;
      this.skippedBytes = 0;
      this.committed = this.received - chunk.length + nl + 1;
      from = nl + 1;
    }
    const last = chunk.lastIndexOf(10);
    if (last < from) {
      this.hold(chunk, from);
      return;
    }
    let text: string;
    if (this.carryBytes > 0) {
      // The carried partial line must be decoded together with its end: a UTF-8 sequence may straddle.
      this.carry.push(chunk.subarray(from, last));
      text = Buffer.concat(this.carry).toString('utf8');
      this.carry = [];
      this.carryBytes = 0;
    } else {
      text = chunk.toString('utf8', from, last);
    }
    // Lines are separated by '\n'; the final line of the decoded block ends at `last`.
    let s = 0;
    for (;;) {
      const e = text.indexOf('\n', s);
      if (e === -1) {
        this.emit(text, s, text.length, onLine);
        break;
      }
      this.emit(text, s, e, onLine);
      s = e + 1;
    }
    this.committed = this.received - chunk.length + last + 1;
    this.hold(chunk, last + 1);
  }

  /** End of input: a final line without newline is still a line. */
  end(onLine: LineHandler): void {
    if (this.skipping) {
      this.onOverlong(this.skippedBytes);
      this.skipping = false;
    } else if (this.carryBytes > 0) {
      const text = Buffer.concat(this.carry).toString('utf8');
      this.emit(text, 0, text.length, onLine);
    }
    this.carry = [];
    this.carryBytes = 0;
    this.committed = this.received;
  }

  private emit(text: string, s: number, e: number, onLine: LineHandler): void {
    if (e - s > this.maxLineBytes) {
      // Counted in characters here; a line that long is dropped either way.
      this.onOverlong(e - s);
      return;
    }
    onLine(s === 0 && e === text.length ? text : text.slice(s, e));
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
