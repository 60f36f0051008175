// Offline reading: inputs → lines → parsed records, with every line accounted for. A line is a record,
// a counted parse error (logged, first few per reason in full), noise that is not audit at all
// (syslog/kmsg traffic), or a kernel "callbacks suppressed" notice (counted as lost records).

import { isNonAudit, isParseError, parseLine, type AuditRecord, type ParseErrorReason } from '../../parsers';
import type { Logger } from '../log';
import { openInput, type Input } from './input';
import { LineSplitter } from './line-splitter';

export const MAX_LINE = 64 * 1024;

export interface ReadStats {
  lines: number;
  records: number;
  /** Lines that are ordinary syslog/kmsg traffic, not audit records. */
  notAudit: number;
  /** Audit records the kernel said it dropped (kauditd_printk_skb: N callbacks suppressed). */
  suppressed: number;
  errors: Map<ParseErrorReason, number>;
  /** Records whose line had invalid UTF-8 (parsed; the bad bytes read as U+FFFD). */
  invalidUtf8: number;
  bytes: number;
}

export function newStats(): ReadStats {
  return { lines: 0, records: 0, notAudit: 0, suppressed: 0, errors: new Map(), invalidUtf8: 0, bytes: 0 };
}

export function errorCount(s: ReadStats): number {
  let n = 0;
  for (const v of s.errors.values()) n += v;
  return n;
}

export interface ReadOptions {
  log: Logger;
  /** Called after each chunk's records were handed out: await here for output backpressure. */
  afterChunk?: () => Promise<void> | void;
  /** On-disk bytes consumed, for progress. */
  onRaw?: (input: Input, bytes: number) => void;
  onInput?: (input: Input) => void;
  /** Log at most this many parse errors in full per reason. Default 5. */
  logFirst?: number;
}

export async function readRecords(
  names: string[],
  onRecord: (rec: AuditRecord, input: Input) => void,
  opts: ReadOptions,
  stats: ReadStats = newStats(),
): Promise<ReadStats> {
  const logFirst = opts.logFirst ?? 5;
  for (const name of names) {
    const input = openInput(name);
    opts.onInput?.(input);
    let lineNo = 0;
    const failed = (reason: ParseErrorReason, message: string, excerpt?: string) => {
      const n = (stats.errors.get(reason) ?? 0) + 1;
      stats.errors.set(reason, n);
      if (n <= logFirst) opts.log.warn({ input: name, line: lineNo, reason, excerpt }, `parse error: ${message}`);
    };
    const onLine = (line: string) => {
      lineNo++;
      stats.lines++;
      let text: string | undefined = line;
      while (text !== undefined) {
        const r = parseLine(text, { maxLineLength: MAX_LINE });
        if (isParseError(r)) {
          failed(r.error, r.message, r.excerpt);
          return;
        }
        if (isNonAudit(r)) {
          if (r.skip === 'printk-suppressed') stats.suppressed += r.suppressed;
          else stats.notAudit++;
          return;
        }
        stats.records++;
        if (r.utf8Invalid) stats.invalidUtf8++;
        onRecord(r, input);
        text = r.rest;
      }
    };
    const splitter = new LineSplitter(MAX_LINE, (bytes) => {
      lineNo++;
      stats.lines++;
      failed('line-too-long', `line of ${bytes} bytes exceeds the limit of ${MAX_LINE}`);
    });
    for await (const chunk of input.chunks((b) => opts.onRaw?.(input, b))) {
      stats.bytes += chunk.length;
      splitter.push(chunk, onLine);
      await opts.afterChunk?.();
    }
    splitter.end(onLine);
    await opts.afterChunk?.();
  }
  for (const [reason, n] of stats.errors) {
    if (n > logFirst) opts.log.warn({ reason, count: n }, `parse errors: ${n} lines with reason ${reason} (first ${logFirst} logged)`);
  }
  return stats;
}
