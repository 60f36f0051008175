// One line of text → one parsed audit record, a typed parse error, or "not an audit line". Never throws.

import { apparmorInfo } from './apparmor';
import { emptyFields, labelNextFor, Quote, scan, tokenize, type Fields } from './fields';
import { parseHeader, type Header } from './header';
import { isUserSpaceType, kindOfType } from './record-types';
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
  fields: Fields;
  /**
   * The record was cut short (a syslog daemon truncated the line, …): fields the kernel always writes are
   * missing, or a quoted value has no closing quote. Such a record only comes as the `partial` of a
   * `truncated` ParseError, with its last (possibly cut) field dropped.
   */
  truncated = false;
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
  partial?: AuditRecord;
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

  const user = isUserSpaceType(h.type, h.typeNr) ?? hasUserPayload(line, h.bodyStart);
  if (user) {
    const u = userRecord(line, h, end);
    if (u !== undefined) return u;
  }

  // ENRICHED: raw fields end at 0x1d; the interpreted ones after it are kept separately.
  let rawEnd = line.indexOf('\x1d', h.bodyStart);
  let interpretedAt = -1;
  if (rawEnd === -1) rawEnd = end;
  else interpretedAt = rawEnd + 1;
  let fields = tokenize(line, h.bodyStart, rawEnd, user ? '' : labelNextFor(h.type));
  if (scan.rawEnd !== -1) {
    // an LSM label held a 0x1d: the separator is the one after the label
    rawEnd = Math.min(scan.rawEnd, end);
    interpretedAt = rawEnd < end ? rawEnd + 1 : -1;
  }
  const glued = scan.gluedAt;
  const cutQuote = scan.truncated;
  if (scan.lostSeparatorAt !== -1) {
    // A published or forwarded ENRICHED line that lost its 0x1d: the interpreted fields start at the key.
    rawEnd = scan.lostSeparatorAt;
    interpretedAt = rawEnd;
  }
  const format = interpretedAt !== -1 && h.format === 'auditd' ? 'auditd-enriched' : h.format;
  if (cutQuote) fields = fields.withoutLast();

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
    glued === -1 && !cutQuote ? interpretedAt : -1,
  );
  if (glued !== -1) rec.rest = line.slice(glued);
  if (line.indexOf('\ufffd') !== -1) rec.utf8Invalid = true;

  const err = enrichByType(rec, line, h.bodyStart, glued === -1 ? rawEnd : glued, user);
  if (cutQuote) return truncatedRecord(rec, fail('truncated', 'a quoted value has no closing quote', line));
  if (err?.error === 'truncated') return truncatedRecord(rec, err);
  return err ?? rec;
}

/** A `truncated` failure that keeps what could be read, marked. */
function truncatedRecord(rec: AuditRecord, err: Failure): Failure {
  rec.truncated = true;
  rec.rest = undefined;
  if (rec.avc) rec.avc.truncated = true;
  err.partial = rec;
  return err;
}

/** A record of a type this parser does not know by name that carries a user-space `msg='…'` payload. */
function hasUserPayload(line: string, bodyStart: number): boolean {
  return line.startsWith("msg='", bodyStart) || line.indexOf(" msg='", bodyStart) !== -1;
}

/**
 * A user-space record (USER_AVC, USER_*, CRED_*, …): `pid= uid= auid= ses= [subj=LABEL] msg='TEXT'`, where
 * TEXT is what the sending process wrote, unescaped (kernel/audit.c audit_receive_msg: `" msg='%.*s'"`). Any
 * process with CAP_AUDIT_WRITE (containerd's default capability set has it) chooses TEXT, so TEXT may hold
 * `'`, 0x1d, `type=SECCOMP msg=audit(…): … syscall=…`: nothing in it is ever read as a kernel field, a glued
 * record or the ENRICHED separator. The kernel writes the closing quote last, so the payload runs to the
 * LAST `'` that is followed by auditd's 0x1d or by the end of the line; the ENRICHED part starts at that
 * 0x1d. Without such a quote the record was cut: a `truncated` error, its payload not read.
 *
 * Newlines: the kernel writes TEXT as sent, newlines included, but auditd (3.0.9, checked on a real auditd:
 * test/node/forged-user-record.test.ts sends one) writes each newline of the record as a space, so a newline
 * cannot start a line of audit.log that looks like a kernel record. The kernel's printk path (no auditd
 * running: kmsg, syslog) is different: a record printed with a newline inside is split by syslog daemons
 * that read /proc/kmsg, and its continuation has no `audit:` / `type=NNNN audit(` prefix of its own unless
 * TEXT forged one; /dev/kmsg readers get the newline escaped (`\x0a`). Deployments that read kmsg/syslog
 * should not rely on USER_* records there.
 *
 * Returns undefined when the record has no `msg='` (USER_TTY's `data=` is hex-encoded): the caller then
 * reads it like a kernel record.
 */
function userRecord(line: string, h: Header, end: number): AuditRecord | Failure | undefined {
  const bs = h.bodyStart;
  let m = line.startsWith("msg='", bs) ? bs : line.indexOf(" msg='", bs);
  if (m === -1 || m >= end) return undefined;
  if (m !== bs) m++;
  const ps = m + 5;
  let q = line.lastIndexOf("'", end - 1);
  while (q >= ps && !(q + 1 >= end || line.charCodeAt(q + 1) === 0x1d)) q = line.lastIndexOf("'", q - 1);
  // The kernel's fields before msg=: numbers and a label, which runs up to ` msg='`.
  const prefix = tokenize(line, bs, m, '$');
  const cut = q < ps;
  const fields = cut ? prefix : prefix.with(m, m + 3, ps, q, Quote.Single);
  const interpretedAt = !cut && q + 1 < end ? q + 2 : -1;
  const format = interpretedAt !== -1 && h.format === 'auditd' ? 'auditd-enriched' : h.format;
  const rec = new AuditRecord(line, h.type, h.typeNr, kindOfType(h.type), h.timeMs, h.serial, format, h.host, fields, interpretedAt);
  if (line.indexOf('\ufffd') !== -1) rec.utf8Invalid = true;
  if (cut) return truncatedRecord(rec, fail('truncated', "user-space record whose msg='…' has no closing quote", line));
  enrichByType(rec, line, bs, q, true);
  return rec;
}

function enrichByType(rec: AuditRecord, line: string, bodyStart: number, bodyEnd: number, user: boolean): Failure | undefined {
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
      const cut = avcCut(line, bodyStart, bodyEnd, rec.avc);
      if (cut !== undefined) {
        // What the cut may have shortened is the last field, when it ran to the end unquoted: drop it.
        const last = f.last();
        if (last && last[3] === Quote.None && line.slice(last[2], bodyEnd).trim() === '') {
          rec.fields = f.withoutLast();
          rec.avc = parseAvc(line, bodyStart, bodyEnd, rec.fields);
        }
        return fail('truncated', `AVC record cut short: ${cut}`, line);
      }
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
      else if (user) {
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

/**
 * Why an AVC decision was cut short, or undefined when it is whole. The kernel writes a decision as
 * `avc:  denied  { perms } for … scontext=… tcontext=… tclass=…` (avc_audit_post_callback: the contexts and
 * the class come last, after the object's fields), so a line without all three, or without the `}` that
 * closes the permissions, lost its end.
 */
function avcCut(line: string, start: number, end: number, avc: AvcInfo | undefined): string | undefined {
  if (avc === undefined) {
    const a = line.indexOf('avc:', start);
    if (a === -1 || a >= end) return undefined;
    const d = line.slice(a + 4, Math.min(end, a + 40)).trimStart();
    if (!d.startsWith('denied') && !d.startsWith('granted')) return undefined; // not a decision (policy loaded, …)
    const open = line.indexOf('{', a);
    if (open !== -1 && open < end && (line.indexOf('}', open) === -1 || line.indexOf('}', open) >= end)) return 'no } after the permissions';
    return undefined;
  }
  if (avc.scontext === undefined) return 'no scontext';
  if (avc.tcontext === undefined) return 'no tcontext';
  if (avc.tclass === undefined) return 'no tclass';
  return undefined;
}

/** Offsets of the text inside `msg='…'` of a user-space record. */
function nestedRange(rec: AuditRecord): [number, number] | undefined {
  return rec.fields.quoteOf('msg') === Quote.Single ? rec.fields.rangeOf('msg') : undefined;
}
