// Streaming gzip decoding that hands out every byte it could decompress before it reports a problem.
//
// zlib's Gunzip stream checks a member's CRC in the same native call that produces its last output, and on
// failure discards that output: a log with a bad CRC or a truncated tail lost up to a whole chunk of records
// that had decompressed fine. Here the gzip framing (RFC 1952: header, trailer, concatenated members) is
// read in JavaScript and only the deflate data goes through zlib (InflateRaw, which reports where its
// stream ended through bytesWritten); the CRC-32 and length are checked by us once the member's data has
// been yielded. A truncated file yields all that decompressed, then fails. Corrupt deflate data mid-stream
// still loses the output of zlib's last call before the error (at most one output chunk).

import * as zlib from 'node:zlib';

export class GzipError extends Error {
  constructor(
    message: string,
    /** Decompressed bytes handed out before the problem. */
    readonly bytesOut: number,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
    this.name = 'GzipError';
  }
}

const FTEXT_MASK = 0xe0; // reserved flag bits must be zero
const FHCRC = 2;
const FEXTRA = 4;
const FNAME = 8;
const FCOMMENT = 16;

/** Whether `b` starts like a gzip member. */
export function isGzipMagic(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/**
 * Decompresses a gzip byte stream (one or more members). Yields decompressed chunks as they come; throws a
 * GzipError at the point where the data turns out bad (after everything before it was yielded).
 */
export async function* gunzip(src: AsyncIterable<Buffer>, chunkSize = 1 << 20): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]();
  let pending: Buffer = Buffer.alloc(0);
  let srcDone = false;
  let out = 0;
  let members = 0;
  /** Reads more source bytes into `pending`; false at the end of the source. */
  const more = async (): Promise<boolean> => {
    if (srcDone) return false;
    const r = await it.next();
    if (r.done) {
      srcDone = true;
      return false;
    }
    pending = pending.length ? Buffer.concat([pending, r.value]) : r.value;
    return true;
  };
  const need = async (n: number): Promise<boolean> => {
    while (pending.length < n) if (!(await more())) return false;
    return true;
  };
  try {
    for (;;) {
      // between members: the end, or another member
      if (pending.length === 0 && !(await more())) {
        if (members === 0) throw new GzipError('empty gzip file', out);
        return;
      }
      if (!(await need(2)) || !isGzipMagic(pending)) {
        if (members > 0) {
          while (pending.length < 1 << 20 && (await more()));
          if (srcDone && pending.every((b) => b === 0)) return; // zero padding (tape blocks), as gzip(1) accepts
        }
        throw new GzipError(`not gzip data after member ${members} (${out} bytes decompressed before)`, out);
      }
      const hdrLen = await headerLength();
      pending = pending.subarray(hdrLen);
      const { crc, size } = yield* member();
      if (!(await need(8))) throw new GzipError(`truncated gzip file: the trailer of member ${members + 1} is missing (${out} bytes decompressed were read)`, out);
      const wantCrc = pending.readUInt32LE(0);
      const wantSize = pending.readUInt32LE(4);
      pending = pending.subarray(8);
      if (wantCrc !== crc) throw new GzipError(`corrupt gzip file: CRC mismatch in member ${members + 1} (${out} bytes decompressed were read)`, out);
      if (wantSize !== size % 2 ** 32) throw new GzipError(`corrupt gzip file: length mismatch in member ${members + 1} (${out} bytes decompressed were read)`, out);
      members++;
    }
  } finally {
    await it.return?.();
  }

  /** The length of the member header at the start of `pending` (read in full). */
  async function headerLength(): Promise<number> {
    const truncated = () => new GzipError(`truncated gzip file: header of member ${members + 1} cut short`, out);
    if (!(await need(10))) throw truncated();
    if (pending[2] !== 8) throw new GzipError(`unsupported gzip compression method ${pending[2]}`, out);
    const flags = pending[3]!;
    if (flags & FTEXT_MASK) throw new GzipError('corrupt gzip header (reserved flags set)', out);
    let p = 10;
    if (flags & FEXTRA) {
      if (!(await need(p + 2))) throw truncated();
      p += 2 + pending.readUInt16LE(p);
    }
    for (const f of [FNAME, FCOMMENT]) {
      if (!(flags & f)) continue;
      for (;;) {
        if (!(await need(p + 1))) throw truncated();
        const z = pending.indexOf(0, p);
        if (z !== -1) {
          p = z + 1;
          break;
        }
        if (!(await more())) throw truncated();
      }
    }
    if (flags & FHCRC) p += 2;
    if (!(await need(p))) throw truncated();
    return p;
  }

  /** Inflates one member's deflate data from `pending` and the source; leaves what follows it in `pending`. */
  async function* member(): AsyncGenerator<Buffer, { crc: number; size: number }> {
    const inf = zlib.createInflateRaw({ chunkSize });
    let crc = 0;
    let size = 0;
    let error: Error | null = null;
    let ended = false;
    let wake: (() => void) | null = null;
    const signal = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    inf.on('readable', signal);
    inf.on('end', () => {
      ended = true;
      signal();
    });
    inf.on('error', (e) => {
      error = e;
      signal();
    });
    // what was handed to zlib and not yet known to be consumed: the end of the deflate data lies in there
    const fed: Buffer[] = [];
    let fedBase = 0; // total offset of fed[0]
    let writing = 0;
    let finishing = false;
    const feed = (b: Buffer) => {
      fed.push(b);
      writing++;
      inf.write(b, () => {
        writing--;
        signal();
      });
    };
    try {
      if (pending.length) feed(pending);
      pending = Buffer.alloc(0);
      for (;;) {
        let b: Buffer | null;
        while ((b = inf.read() as Buffer | null) !== null) {
          crc = zlib.crc32(b, crc);
          size += b.length;
          out += b.length;
          yield b;
        }
        if (error) {
          const e = error as NodeJS.ErrnoException;
          if (finishing && e.code === 'Z_BUF_ERROR') throw new GzipError(`truncated gzip file: it ends inside compressed data (${out} bytes decompressed were read)`, out, { cause: e });
          throw new GzipError(`corrupt gzip file: ${e.message} (${out} bytes decompressed were read)`, out, { cause: e });
        }
        if (ended) break;
        // drop what zlib has certainly consumed
        while (fed.length > 1 && fedBase + fed[0]!.length <= inf.bytesWritten) fedBase += fed.shift()!.length;
        const waiting = new Promise<void>((r) => (wake = r));
        if (writing === 0 && !finishing) {
          const r = await it.next();
          if (r.done) {
            srcDone = true;
            finishing = true;
            inf.end();
          } else feed(r.value);
        }
        await waiting;
      }
      // the deflate data ended at bytesWritten: what follows it was fed too, and is the trailer and beyond
      const consumed = inf.bytesWritten;
      const rest = Buffer.concat(fed);
      pending = rest.subarray(consumed - fedBase);
      return { crc, size };
    } finally {
      inf.destroy();
    }
  }
}
