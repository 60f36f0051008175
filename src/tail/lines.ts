// The lines a tailer holds between reading a chunk and handing them out in batches. Splitting is
// src/io/line-splitter.ts (the one byte splitter, with absolute offsets); this is what a tailer keeps of
// each line.

export interface LineEntry {
  text: string;
  /** Byte offset just past this line's newline (or past the last byte, for a final line without one). */
  end: number;
}

/** A ByteLineHandler that decodes each non-empty line into `out()` (an empty line's bytes are still consumed). */
export function collectLines(out: () => LineEntry[]): (buf: Buffer, start: number, end: number, clean: boolean, offset: number) => void {
  return (buf, start, end, _clean, offset) => {
    if (end > start) out().push({ text: buf.toString('utf8', start, end), end: offset });
  };
}
