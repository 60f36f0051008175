// One audit log line → its records: the step shared by offline reading (src/io/record-reader.ts) and the node
// pipeline (src/run/pipeline.ts). A line is one record, several glued records (a kmsg/syslog line may carry
// the next record after the first), a parse error, or not audit at all (syslog/kmsg traffic, or a kernel
// "callbacks suppressed" notice). With a SECCOMP handler, a line first goes to the byte-level scanner
// (parsers/seccomp-line.ts), which reads nearly all of a recording without decoding it; the lines it
// declines are decoded and parsed by parseLine().

import { isNonAudit, isParseError, parseLine, scanSeccompLine, SeccompLine, type AuditRecord, type NonAudit, type ParseError, type ParseErrorReason } from '../../parsers';
import type { Logger } from '../log';

/** The longest line read, in bytes (the README's 64 KiB); longer ones are counted errors. */
export const MAX_LINE = 64 * 1024;

/** What a line was, judged by its first record (a glued record's error does not change it). */
export type LineKind = 'record' | 'not-audit' | 'error';

export interface LineHandlers {
  record(rec: AuditRecord): void;
  /**
   * SECCOMP lines the scanner reads come here as a flyweight, valid only during the call. Return false to
   * decline one: it then takes the general path to record(). Absent: every line is parsed.
   */
  seccomp?(line: SeccompLine): boolean;
  failed(err: ParseError): void;
  nonAudit(n: NonAudit): void;
}

export class LineRecords {
  private readonly scanned = new SeccompLine();

  constructor(private readonly h: LineHandlers) {}

  /** One line as bytes (`clean`: no NUL, no byte above 0x7f, as the splitter reports it). */
  bytes(buf: Buffer, start: number, end: number, clean: boolean): LineKind {
    const seccomp = this.h.seccomp;
    if (seccomp !== undefined && scanSeccompLine(buf, start, end, this.scanned, clean) && this.h.seccomp!(this.scanned)) return 'record';
    // Lines are split on bytes; a UTF-8 sequence never spans a newline, so decoding per line reads the
    // same text as decoding the chunk would.
    return this.text(buf.toString('utf8', start, end));
  }

  /** One line as text: each of its records to record(). */
  text(line: string): LineKind {
    let text: string | undefined = line;
    let kind: LineKind | undefined;
    while (text !== undefined) {
      const r = parseLine(text, { maxLineLength: MAX_LINE });
      if (isParseError(r)) {
        this.h.failed(r);
        return kind ?? 'error';
      }
      if (isNonAudit(r)) {
        this.h.nonAudit(r);
        return kind ?? 'not-audit';
      }
      kind = 'record';
      this.h.record(r);
      text = r.rest;
    }
    return kind ?? 'record';
  }
}

/** Parse errors per reason, the first few of each logged in full (hostile input must not flood the log). */
export class ParseFailures {
  constructor(
    private readonly log: Logger,
    readonly counts: Map<ParseErrorReason, number> = new Map(),
    private readonly logFirst = 5,
  ) {}

  add(reason: ParseErrorReason, message: string, excerpt?: string, context?: Record<string, unknown>): void {
    const n = (this.counts.get(reason) ?? 0) + 1;
    this.counts.set(reason, n);
    if (n <= this.logFirst) this.log.warn({ ...context, reason, excerpt }, `parse error: ${message}`);
  }

  /** One line per reason that had more errors than were logged. */
  summarize(): void {
    for (const [reason, n] of this.counts) {
      if (n > this.logFirst) this.log.warn({ reason, count: n }, `parse errors: ${n} lines with reason ${reason} (first ${this.logFirst} logged)`);
    }
  }
}
