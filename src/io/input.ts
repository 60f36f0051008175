// Input files for the offline commands: plain or gzip-compressed files (recognised by their magic bytes,
// not their name), or stdin for "-". Read in large chunks; the line splitter does the rest.
//
// Nothing here seeks: FIFOs, `<(…)`, /dev/stdin as a pipe and stdin itself are read like files, and gzip is
// recognised from the first bytes of the stream itself (stdin included). A gzip problem (bad CRC, truncated
// tail) ends the input after everything that decompressed was handed out, with an InputError.

import * as fs from 'node:fs';
import { GzipError, gunzip, isGzipMagic } from './gunzip';

export interface Input {
  /** The path as given, or "-" for stdin. */
  name: string;
  /** Size in bytes on disk (compressed size for .gz), when known: drives the progress bar. */
  size: number | undefined;
  /** Known once the first chunk was read. */
  compressed: boolean;
  /**
   * Chunks of the (decompressed) content. `onRaw` sees the on-disk bytes consumed, for progress. Throws an
   * InputError (after every good byte was handed out) when the input cannot be read to its end.
   */
  chunks(onRaw?: (bytes: number) => void): AsyncIterable<Buffer>;
}

const CHUNK = 1 << 20;
const STDIN_NAMES = ['/dev/stdin', '/dev/fd/0', '/proc/self/fd/0'];

/** An input that cannot be opened or read to its end (the message names it); `cause` is the error underneath. */
export class InputError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'InputError';
  }
}

/** `ENOENT (no such file or directory)` for a system error, else its message. */
export function describeError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && err.syscall) return `${err.code} (${err.message.replace(/^[A-Z]+: /, '').replace(/, \w+( '.*')?$/, '')})`;
  return err?.message ?? String(e);
}

export function openInput(name: string): Input {
  if (name === '-') return streamInput(name, undefined, () => process.stdin);
  let fd: number;
  try {
    fd = fs.openSync(name, 'r');
  } catch (e) {
    // /dev/stdin cannot be reopened when stdin is a socket (a parent's socketpair): it is stdin all the same
    if ((e as NodeJS.ErrnoException).code === 'ENXIO' && STDIN_NAMES.includes(name)) return streamInput(name, undefined, () => process.stdin);
    throw new InputError(`cannot open ${name}: ${describeError(e)}`, { cause: e });
  }
  const st = fs.fstatSync(fd);
  if (st.isDirectory()) {
    fs.closeSync(fd);
    throw new InputError(`${name} is a directory`);
  }
  // no `start`: read from the current position, which works on pipes and FIFOs as on files
  return streamInput(name, st.isFile() ? st.size : undefined, () => fs.createReadStream('', { fd, highWaterMark: CHUNK }));
}

function streamInput(name: string, size: number | undefined, open: () => NodeJS.ReadableStream): Input {
  const input: Input = {
    name,
    size,
    compressed: false,
    chunks: (onRaw) => content(input, open(), onRaw),
  };
  return input;
}

async function* raw(input: Input, stream: NodeJS.ReadableStream, onRaw?: (bytes: number) => void): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      onRaw?.(b.length);
      yield b;
    }
  } catch (e) {
    throw new InputError(`cannot read ${input.name === '-' ? 'stdin' : input.name}: ${describeError(e)}`, { cause: e });
  }
}

async function* content(input: Input, stream: NodeJS.ReadableStream, onRaw?: (bytes: number) => void): AsyncGenerator<Buffer> {
  const it = raw(input, stream, onRaw);
  try {
    // sniff the magic bytes from the stream itself: no seeking back
    const head: Buffer[] = [];
    let n = 0;
    while (n < 2) {
      const r = await it.next();
      if (r.done) break;
      head.push(r.value);
      n += r.value.length;
    }
    const first = head.length === 1 ? head[0]! : Buffer.concat(head);
    input.compressed = isGzipMagic(first);
    async function* all(): AsyncGenerator<Buffer> {
      if (first.length) yield first;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    }
    if (!input.compressed) {
      yield* all();
      return;
    }
    try {
      yield* gunzip(all(), CHUNK);
    } catch (e) {
      if (e instanceof GzipError) throw new InputError(`${input.name === '-' ? 'stdin' : input.name}: ${e.message}`, { cause: e });
      throw e;
    }
  } finally {
    await it.return(undefined);
    // a stream left unread (the reader stopped early) must not keep the process alive
    (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  }
}
