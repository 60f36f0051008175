// Offline reading: inputs → lines → parsed records, with every line accounted for. A line is a record,
// a counted parse error (logged, first few per reason in full), noise that is not audit at all
// (syslog/kmsg traffic), or a kernel "callbacks suppressed" notice (counted as lost records).
//
// Lines are split on bytes (src/io/line-splitter.ts) and read into records by src/io/line-records.ts, the
// step the node pipeline shares; with `onSeccomp`, SECCOMP lines take the byte scanner's hot path.

import type { AuditRecord, ParseErrorReason, SeccompLine } from '../../parsers';
import type { Logger } from '../log';
import { InputError, openInput, type Input } from './input';
import { LineRecords, MAX_LINE, ParseFailures } from './line-records';
import { ByteLineSplitter } from './line-splitter';

export { MAX_LINE };

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
  /**
   * Inputs that could not be read to their end (a gzip with a bad CRC or a truncated tail, a read error):
   * what was read of them before the problem was handed out, and the other inputs were read. The caller
   * finishes its output, then reports these (`failIfInputErrors`) and exits 1.
   */
  inputErrors: InputError[];
}

export function newStats(): ReadStats {
  return { lines: 0, records: 0, notAudit: 0, suppressed: 0, errors: new Map(), invalidUtf8: 0, bytes: 0, inputErrors: [] };
}

/** Throws the read errors of the inputs, as one InputError (one line per input), if there were any. */
export function failIfInputErrors(stats: ReadStats): void {
  const errs = stats.inputErrors;
  if (errs.length === 0) return;
  if (errs.length === 1) throw errs[0]!;
  throw new InputError(errs.map((e) => e.message).join('\n'), { cause: new AggregateError(errs) });
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
  /**
   * The hot path: SECCOMP lines the byte scanner reads (nearly all of a recording's volume) come here as a
   * flyweight SeccompLine, valid only during the call, instead of as an AuditRecord to onRecord. Return
   * false to decline one: it then takes the general path to onRecord, like every other line. Without
   * onSeccomp, every record goes to onRecord.
   */
  onSeccomp?: (line: SeccompLine, input: Input) => boolean;
}

export async function readRecords(
  names: string[],
  onRecord: (rec: AuditRecord, input: Input) => void,
  opts: ReadOptions,
  stats: ReadStats = newStats(),
): Promise<ReadStats> {
  const failures = new ParseFailures(opts.log, stats.errors, opts.logFirst ?? 5);
  for (const name of names) {
    const input = openInput(name);
    opts.onInput?.(input);
    let lineNo = 0;
    const failed = (reason: ParseErrorReason, message: string, excerpt?: string) => failures.add(reason, message, excerpt, { input: name, line: lineNo });
    const onSeccomp = opts.onSeccomp;
    const lines = new LineRecords({
      record: (r) => {
        stats.records++;
        if (r.utf8Invalid) stats.invalidUtf8++;
        onRecord(r, input);
      },
      seccomp:
        onSeccomp &&
        ((l) => {
          if (!onSeccomp(l, input)) return false;
          stats.records++;
          return true;
        }),
      failed: (r) => failed(r.error, r.message, r.excerpt),
      nonAudit: (r) => {
        if (r.skip === 'printk-suppressed') stats.suppressed += r.suppressed;
        else stats.notAudit++;
      },
    });
    const onLine = (buf: Buffer, start: number, end: number, clean: boolean) => {
      lineNo++;
      stats.lines++;
      lines.bytes(buf, start, end, clean);
    };
    // Over-long lines are measured in bytes (the README's 64 KiB), before any decoding.
    const splitter = new ByteLineSplitter(MAX_LINE, (bytes) => {
      lineNo++;
      stats.lines++;
      failed('line-too-long', `line of ${bytes} bytes exceeds the limit of ${MAX_LINE}`);
    });
    try {
      for await (const chunk of input.chunks((b) => opts.onRaw?.(input, b))) {
        stats.bytes += chunk.length;
        splitter.push(chunk, onLine);
        await opts.afterChunk?.();
      }
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      // what was read before the problem still counts; a last line without its newline was cut short by it
      // (a record cut mid-field could parse as another record): counted as truncated, not parsed
      const cut = splitter.discard();
      if (cut > 0) {
        lineNo++;
        stats.lines++;
        failed('truncated', `last line (${cut} bytes) cut short: ${err.message}`);
      }
      // the other inputs are still read
      stats.inputErrors.push(err);
    }
    splitter.end(onLine);
    await opts.afterChunk?.();
  }
  failures.summarize();
  return stats;
}
