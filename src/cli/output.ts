// Batched byte output that honours backpressure: lines are written into a buffer and handed to the stream
// when it fills and at flush(); when the stream's own buffer is full, flush() waits for 'drain' so memory
// stays bounded on slow consumers. Writers that produce bytes themselves (the SECCOMP hot path) write
// straight into the buffer: reserve(), then commit().

const SIZE = 1 << 20;

export class OutputWriter {
  private buf: Buffer = Buffer.allocUnsafe(SIZE);
  private pos = 0;
  /** Buffers the stream has finished writing, for reuse (fresh ones cost page faults and GC). */
  private readonly spare: Buffer[] = [];
  private closed = false;
  /** The stream asked us to wait (write() returned false) since the last flush. */
  private full = false;

  constructor(private readonly stream: NodeJS.WritableStream) {
    // A failed stream (reader gone: EPIPE; disk full) is not written again; the error is reported by the
    // command (src/io/stdout.ts), never thrown from this event: that would be an uncaught exception.
    stream.on('error', () => {
      this.closed = true;
    });
  }

  /** A line of text; the newline is added. */
  line(s: string): void {
    // UTF-16 code unit → at most 3 UTF-8 bytes.
    const b = this.reserve(3 * s.length + 1);
    let p = this.pos;
    p += b.write(s, p, 'utf8');
    b[p++] = 0x0a;
    this.pos = p;
  }

  /** A buffer with room for `n` more bytes from `offset`; write there, then commit() the new offset. */
  reserve(n: number): Buffer {
    if (this.pos + n > this.buf.length) this.handOff(n);
    return this.buf;
  }

  get offset(): number {
    return this.pos;
  }

  commit(offset: number): void {
    this.pos = offset;
  }

  async flush(): Promise<void> {
    this.handOff(0);
    if (!this.full || this.closed) return;
    this.full = false;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        this.stream.off('error', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('close', done);
      this.stream.on('error', done);
    });
  }

  private recycle(b: Buffer): void {
    if (b.length === SIZE && this.spare.length < 4) this.spare.push(b);
  }

  /** Write out what the buffer holds and start a new one with room for at least `n` bytes. */
  private handOff(n: number): void {
    if (this.pos > 0 && !this.closed) {
      // The stream keeps the buffer until it is written; only then may it be reused.
      const b = this.buf;
      if (!this.stream.write(b.subarray(0, this.pos), () => this.recycle(b))) this.full = true;
      this.buf = n <= SIZE && this.spare.length > 0 ? this.spare.pop()! : Buffer.allocUnsafe(Math.max(SIZE, n));
    } else if (n > this.buf.length) {
      this.buf = Buffer.allocUnsafe(n);
    }
    this.pos = 0;
  }
}
