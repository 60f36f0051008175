// One line of text → one parsed audit record, a typed parse error, or "not an audit line". Never throws.

import { apparmorInfo } from './apparmor';
import { emptyFields, Quote, scan, tokenize, type Fields } from './fields';
import { parseHeader } from './header';
import { kindOfType } from './record-types';
import { seccompInfo } from './seccomp';
import { parseAvc, selinuxErrInfo } from './selinux';
import { archFromAudit, resolveSyscall, syscallNumber } from './syscalls';
import type {
  AppArmorInfo,
  AvcInfo,
  NonAudit,
  ParseError,
  ParseErrorReason,
  RecordKind,
  SeccompInfo,
  SelinuxErrInfo,
  SourceFormat,
  SyscallInfo,
} from './types';

export interface ParseOptions {
  /** Longest line accepted, in characters. The kernel caps a record near 9 KiB; the default leaves room. */
  maxLineLength?: number;
  /** Year for syslog timestamps that have none (journald-forwarded records). Default: the current UTC year. */
  year?: number;
}

const DEFAULT_MAX_LINE = 64 * 1024;

export class AuditRecord {
  /** The raw fields (before the ENRICHED 0x1d separator), by exact key. */
  readonly fields: Fields;
  /** Set when a second record was glued onto the same line: parse it with parseLine(record.rest). */
  rest: string | undefined = undefined;
  /** The line held bytes that were not valid UTF-8 (they read as U+FFFD). */
  utf8Invalid = false;
  syscall: SyscallInfo | undefined = undefined;
  seccomp: SeccompInfo | undefined = undefined;
  avc: AvcInfo | undefined = undefined;
  selinuxErr: SelinuxErrInfo | undefined = undefined;
  apparmor: AppArmorInfo | undefined = undefined;
  /** For USER_AVC and other user-space records: the fields inside `msg='…'`. */
  nested: Fields | undefined = undefined;
  private interpretedAt: number;
  private interpretedFields: Fields | undefined = undefined;

  constructor(
    readonly line: string,
    readonly type: string,
    readonly typeNr: number | undefined,
    public kind: RecordKind,
    readonly timeMs: number,
    readonly serial: number,
    readonly format: SourceFormat,
    readonly host: string | undefined,
    fields: Fields,
    interpretedAt: number,
  ) {
    this.fields = fields;
    this.interpretedAt = interpretedAt;
  }

  /** auditd ENRICHED's interpreted fields (after 0x1d): `UID="root" ARCH=x86_64 …`. Empty when raw. */
  get interpreted(): Fields {
    if (this.interpretedFields === undefined) {
      this.interpretedFields =
        this.interpretedAt < 0 ? emptyFields() : tokenize(this.line, this.interpretedAt, this.line.length);
    }
    return this.interpretedFields;
  }

  /** A process field from the record, or from the nested payload of a user-space record. */
  str(key: string): string | undefined {
    return this.fields.str(key) ?? this.nested?.str(key);
  }

  int(key: string): number | undefined {
    return this.fields.int(key) ?? this.nested?.int(key);
  }
}

class Failure implements ParseError {
  constructor(
    readonly error: ParseErrorReason,
    readonly message: string,
    readonly excerpt: string,
  ) {}
}

class Skip implements NonAudit {
  constructor(
    readonly skip: 'not-audit' | 'printk-suppressed',
    readonly suppressed: number,
  ) {}
}

const NOT_AUDIT = new Skip('not-audit', 0);

export function isParseError(x: unknown): x is ParseError {
  return x instanceof Failure;
}
export function isNonAudit(x: unknown): x is NonAudit {
  return x instanceof Skip;
}
export function isRecord(x: unknown): x is AuditRecord {
  return x instanceof AuditRecord;
}

function fail(reason: ParseErrorReason, message: string, line: string): Failure {
  return new Failure(reason, message, line.length > 256 ? line.slice(0, 256) : line);
}

const SUPPRESSED = /kauditd_printk_skb: (\d+) callbacks suppressed/;

let cachedYear = 0;
function defaultYear(): number {
  if (cachedYear === 0) cachedYear = new Date().getUTCFullYear();
  return cachedYear;
}

/** Parse one line (without its newline). */
export function parseLine(line: string, opts?: ParseOptions): AuditRecord | ParseError | NonAudit {
  const max = opts?.maxLineLength ?? DEFAULT_MAX_LINE;
  const n = line.length;
  if (n === 0) return fail('empty', 'empty line', line);
  if (n > max) return fail('line-too-long', `line of ${n} characters exceeds the limit of ${max}`, line);
  if (line.indexOf('\0') !== -1) return fail('nul-byte', 'line contains a NUL byte', line);
  let end = n;
  if (line.charCodeAt(n - 1) === 0x0d) end--; // CRLF files

  const h = parseHeader(line, { year: opts?.year ?? defaultYear() });
  if (h === null || 'skip' in h) {
    const m = SUPPRESSED.exec(line);
    if (m) return new Skip('printk-suppressed', Number(m[1]));
    if (h !== null) return NOT_AUDIT;
    return fail('no-audit-header', 'no audit record header (type=… msg=audit(…) or audit: type=…)', line);
  }
  if ('error' in h) return fail(h.error, h.message, line);

  // ENRICHED: raw fields end at 0x1d; the interpreted ones after it are kept separately.
  let rawEnd = line.indexOf('\x1d', h.bodyStart);
  let interpretedAt = -1;
  if (rawEnd === -1) rawEnd = end;
  else interpretedAt = rawEnd + 1;
  const fields = tokenize(line, h.bodyStart, rawEnd);
  const glued = scan.gluedAt;
  if (scan.lostSeparatorAt !== -1) {
    // A published or forwarded ENRICHED line that lost its 0x1d: the interpreted fields start at the key.
    rawEnd = scan.lostSeparatorAt;
    interpretedAt = rawEnd;
  }
  const format = interpretedAt !== -1 && h.format === 'auditd' ? 'auditd-enriched' : h.format;
  if (scan.truncated) return fail('truncated', 'a quoted value has no closing quote', line);

  const rec = new AuditRecord(
    glued === -1 ? line : line.slice(0, glued).trimEnd(),
    h.type,
    h.typeNr,
    kindOfType(h.type),
    h.timeMs,
    h.serial,
    format,
    h.host,
    fields,
    glued === -1 ? interpretedAt : -1,
  );
  if (glued !== -1) rec.rest = line.slice(glued);
  if (line.indexOf('\ufffd') !== -1) rec.utf8Invalid = true;

  const err = enrichByType(rec, line, h.bodyStart, glued === -1 ? rawEnd : glued);
  return err ?? rec;
}

function enrichByType(rec: AuditRecord, line: string, bodyStart: number, bodyEnd: number): Failure | undefined {
  const f = rec.fields;
  switch (rec.type) {
    case 'SECCOMP': {
      const nr = syscallNr(f);
      const code = f.get('code');
      if (nr === undefined || code === undefined) {
        return fail('truncated', 'SECCOMP record without syscall= or code=', line);
      }
      rec.seccomp = seccompInfo(f, code);
      if (!rec.seccomp) return fail('bad-field', `SECCOMP code=${code.slice(0, 20)} is not a seccomp return value`, line);
      rec.syscall = resolveSyscall(f.get('arch'), nr);
      return undefined;
    }
    case 'SYSCALL': {
      const nr = syscallNr(f);
      if (nr !== undefined) rec.syscall = resolveSyscall(f.get('arch'), nr);
      return undefined;
    }
    case 'AVC': {
      if (f.has('apparmor')) {
        rec.kind = 'apparmor';
        rec.apparmor = apparmorInfo(f, rec.type);
        return undefined;
      }
      rec.avc = parseAvc(line, bodyStart, bodyEnd, f);
      return undefined;
    }
    case 'USER_AVC':
    case 'USER_SELINUX_ERR':
    case 'USER_MAC_POLICY_LOAD': {
      const msg = nestedRange(rec);
      if (msg) {
        const nested = tokenize(line, msg[0], msg[1]);
        rec.nested = nested;
        if (nested.has('apparmor')) {
          rec.kind = 'apparmor';
          rec.apparmor = apparmorInfo(nested, rec.type);
        } else {
          rec.avc = parseAvc(line, msg[0], msg[1], nested);
        }
      }
      return undefined;
    }
    case 'SELINUX_ERR':
      rec.selinuxErr = selinuxErrInfo(f);
      return undefined;
    default:
      if (rec.kind === 'apparmor') rec.apparmor = apparmorInfo(f, rec.type);
      else if (rec.type.startsWith('USER_') || rec.type.startsWith('CRED_')) {
        const msg = nestedRange(rec);
        if (msg) rec.nested = tokenize(line, msg[0], msg[1]);
      }
      return undefined;
  }
}

/**
 * The syscall number: the raw decimal field; or, when a tool (ausearch -i) already replaced it with its
 * name, the number that name has on the record's arch.
 */
function syscallNr(f: Fields): number | undefined {
  const n = f.int('syscall');
  if (n !== undefined) return n;
  const name = f.get('syscall');
  const arch = f.get('arch');
  if (name === undefined || arch === undefined) return undefined;
  const a = archFromAudit(arch);
  return a === undefined ? undefined : syscallNumber(a, name);
}

/** Offsets of the text inside `msg='…'` of a user-space record. */
function nestedRange(rec: AuditRecord): [number, number] | undefined {
  return rec.fields.quoteOf('msg') === Quote.Single ? rec.fields.rangeOf('msg') : undefined;
}
