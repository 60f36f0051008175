// NDJSON files of schema-v1 events (what `auditflow parse`/`run` write, a spool, an export), plain or
// gzip, or "-" for stdin. Read once, line by line, without holding more than one line.

import { openInput } from '../io/input';
import { ByteLineSplitter } from '../io/line-splitter';
import type { Logger } from '../log';
import type { EventV1 } from '../event/v1';
import { countEvent, countGarbage, countUnparsedEvent, decodeEvent, type ReadCounts } from './event-input';

/** An event carries its records' fields and maybe raw lines; the kernel caps one record near 9 KiB. */
export const MAX_EVENT_LINE = 4 << 20;

export async function readEventFiles(
  names: string[],
  onEvent: (ev: EventV1, timeMs: number) => void,
  counts: ReadCounts,
  log: Logger,
  /** lines the caller does not want, told from their bytes (logged-seccomp.ts): counted as events, not parsed */
  unwanted?: (buf: Buffer, start: number, end: number) => boolean,
): Promise<void> {
  for (const name of names) {
    const input = openInput(name);
    let lineNo = 0;
    const onLine = (line: string) => {
      lineNo++;
      if (line.trim() === '') return;
      counts.inputs++;
      const d = decodeEvent(line);
      if ('garbage' in d) return countGarbage(counts, 'file', d.garbage, { input: name, line: lineNo, ...(d.field ? { field: d.field } : {}) }, line, log);
      countEvent(counts, 'file');
      onEvent(d.ev, d.timeMs);
    };
    const onBytes = (b: Buffer, s: number, e: number) => {
      if (unwanted !== undefined && unwanted(b, s, e)) {
        lineNo++;
        counts.inputs++;
        countUnparsedEvent(counts, 'file');
        return;
      }
      onLine(b.toString('utf8', s, e));
    };
    const splitter = new ByteLineSplitter(MAX_EVENT_LINE, (bytes) => {
      lineNo++;
      counts.inputs++;
      countGarbage(counts, 'file', 'line-too-long', { input: name, line: lineNo, bytes }, '', log);
    });
    for await (const chunk of input.chunks()) splitter.push(chunk, onBytes);
    splitter.end(onBytes);
  }
}
