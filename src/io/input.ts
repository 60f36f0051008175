// Input files for the offline commands: plain or gzip-compressed files (recognised by their magic bytes,
// not their name), or stdin for "-". Read in large chunks; the line splitter does the rest.

import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

export interface Input {
  /** The path as given, or "-" for stdin. */
  name: string;
  /** Size in bytes on disk (compressed size for .gz), when known: drives the progress bar. */
  size: number | undefined;
  compressed: boolean;
  /** Chunks of the (decompressed) content. `onRaw` sees the on-disk bytes consumed, for progress. */
  chunks(onRaw?: (bytes: number) => void): AsyncIterable<Buffer>;
}

const CHUNK = 1 << 20;

export class InputError extends Error {}

export function openInput(name: string): Input {
  if (name === '-') {
    return {
      name,
      size: undefined,
      compressed: false,
      chunks: (onRaw) => counted(process.stdin, onRaw),
    };
  }
  let fd: number;
  try {
    fd = fs.openSync(name, 'r');
  } catch (e) {
    throw new InputError(`cannot open ${name}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const st = fs.fstatSync(fd);
  if (st.isDirectory()) {
    fs.closeSync(fd);
    throw new InputError(`${name} is a directory`);
  }
  const magic = Buffer.alloc(2);
  const got = fs.readSync(fd, magic, 0, 2, 0);
  const compressed = got === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  return {
    name,
    size: st.isFile() ? st.size : undefined,
    compressed,
    chunks(onRaw) {
      const raw = fs.createReadStream('', { fd, highWaterMark: CHUNK, start: 0 });
      if (!compressed) return counted(raw, onRaw);
      const gunzip = zlib.createGunzip({ chunkSize: CHUNK });
      raw.on('data', (b: string | Buffer) => onRaw?.(b.length));
      raw.on('error', (e) => gunzip.destroy(e));
      return raw.pipe(gunzip);
    },
  };
}

async function* counted(stream: NodeJS.ReadableStream, onRaw?: (bytes: number) => void): AsyncIterable<Buffer> {
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    onRaw?.(b.length);
    yield b;
  }
}
