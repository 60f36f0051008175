// Recognises where an audit record starts in a line and reads its header, in every form the record reaches
// a log in: auditd (`type=NAME msg=audit(S.MS:SERIAL):`, optionally `node=`/`host=` prefixed), the kernel's
// own (`audit: type=NNNN audit(S.MS:SERIAL):`) bare, in dmesg/kmsg (`[ 6044.127265] audit: …`), in syslog
// (RFC 3164 and RFC 3339 timestamps, `kernel:` tag, `<PRI>` prefix) or glued after other console text, and
// journald's `host audit[PID]: TYPE fields` which has no audit(…) stamp at all.

import type { ParseErrorReason, SourceFormat } from './types';
import { recordTypeName, recordTypeNumber } from './record-types';

export interface Header {
  format: SourceFormat;
  type: string;
  typeNr: number | undefined;
  timeMs: number;
  serial: number;
  /** `node=` of auditd, or the syslog host. */
  host: string | undefined;
  /** Offset where the record's fields begin. */
  bodyStart: number;
}

export type HeaderResult = Header | { error: ParseErrorReason; message: string } | { skip: true } | null;

const MONTHS: Record<string, number> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};

/** The largest time a JavaScript Date represents (ECMA-262: 8.64e15 ms after the epoch). */
const MAX_DATE_MS = 8.64e15;

/**
 * Parse `audit(SEC.FRAC:SERIAL)` starting at `i` (pointing at the `(`). Returns the offset after the `)`
 * and any `:` that follows, or a negative number: -1 malformed, -2 the line ends inside it.
 */
function stamp(line: string, i: number, out: { timeMs: number; serial: number }): number {
  const n = line.length;
  let p = i + 1;
  let sec = 0;
  const s0 = p;
  while (p < n) {
    const d = line.charCodeAt(p) - 0x30;
    if (d < 0 || d > 9) break;
    sec = sec * 10 + d;
    p++;
  }
  if (p === n) return -2;
  if (p === s0 || line.charCodeAt(p) !== 0x2e /* . */) return -1;
  p++;
  let frac = 0;
  let scale = 1;
  const f0 = p;
  while (p < n) {
    const d = line.charCodeAt(p) - 0x30;
    if (d < 0 || d > 9) break;
    if (scale < 1000) {
      frac = frac * 10 + d;
      scale *= 10;
    }
    p++;
  }
  if (p === n) return -2;
  if (p === f0 || line.charCodeAt(p) !== 0x3a /* : */) return -1;
  p++;
  let serial = 0;
  const r0 = p;
  while (p < n) {
    const d = line.charCodeAt(p) - 0x30;
    if (d < 0 || d > 9) break;
    serial = serial * 10 + d;
    p++;
  }
  if (p === n) return -2;
  if (p === r0 || line.charCodeAt(p) !== 0x29 /* ) */) return -1;
  p++;
  if (p < n && line.charCodeAt(p) === 0x3a) p++;
  const timeMs = sec * 1000 + Math.round((frac * 1000) / scale);
  if (timeMs > MAX_DATE_MS) return -1; // no date has it: it would make events unrenderable
  out.timeMs = timeMs;
  out.serial = serial;
  return p;
}

const scratch = { timeMs: 0, serial: 0 };

/** `1326` or `SECCOMP` → both forms; undefined when it is neither a number nor a type name. */
function resolveType(typeText: string): { type: string; typeNr: number | undefined } | undefined {
  const c0 = typeText.charCodeAt(0);
  if (c0 >= 0x30 && c0 <= 0x39) {
    const typeNr = Number(typeText);
    return Number.isInteger(typeNr) ? { type: recordTypeName(typeNr), typeNr } : undefined;
  }
  return isTypeName(typeText) ? { type: typeText, typeNr: recordTypeNumber(typeText) } : undefined;
}

function finish(line: string, format: SourceFormat, typeText: string, parenAt: number, host: string | undefined): HeaderResult {
  const p = stamp(line, parenAt, scratch);
  if (p === -2) return { error: 'truncated', message: 'line ends inside the audit(…) stamp' };
  if (p < 0) return { error: 'bad-timestamp', message: 'malformed audit(SEC.MS:SERIAL) stamp' };
  const t = resolveType(typeText);
  if (!t) return { error: 'bad-type', message: `bad record type "${typeText.slice(0, 40)}"` };
  return { format, type: t.type, typeNr: t.typeNr, timeMs: scratch.timeMs, serial: scratch.serial, host, bodyStart: p };
}

function isTypeName(s: string): boolean {
  if (s.length === 0 || s.length > 40) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x5b || c === 0x5d;
    if (!ok) return false;
  }
  return true;
}

/** `type=NAME msg=audit(` or `type=NNNN audit(` at `t` (pointing at `type=`). */
function typedHeader(line: string, t: number, format: SourceFormat, host: string | undefined): HeaderResult {
  const sp = line.indexOf(' ', t + 5);
  if (sp === -1) return { error: 'truncated', message: 'line ends after type=' };
  const typeText = line.slice(t + 5, sp);
  if (line.startsWith('msg=audit(', sp + 1)) return finish(line, format, typeText, sp + 10, host);
  if (line.startsWith('audit(', sp + 1)) return finish(line, format, typeText, sp + 6, host);
  if (sp + 1 >= line.length || 'msg=audit('.startsWith(line.slice(sp + 1, sp + 11))) {
    return { error: 'truncated', message: 'line ends before the audit(…) stamp' };
  }
  return { error: 'no-audit-header', message: 'type= is not followed by an audit(…) stamp' };
}

/** `node=X host=Y ` prefixes written by auditd's name_format and by setroubleshoot. */
function auditdPrefixed(line: string): HeaderResult {
  let i = 0;
  let host: string | undefined;
  while (line.startsWith('node=', i) || line.startsWith('host=', i)) {
    const sp = line.indexOf(' ', i);
    if (sp === -1) return { error: 'truncated', message: 'line ends after node=' };
    host ??= line.slice(i + 5, sp);
    i = sp + 1;
  }
  if (!line.startsWith('type=', i)) return { error: 'no-audit-header', message: 'node= prefix without type=' };
  return typedHeader(line, i, 'auditd', host);
}

// A syslog or kmsg line prefix: `<PRI>`, an RFC 3164 or RFC 3339 timestamp, or a `[uptime]` stamp.
const SYSLOG_3164 = /^(?:<\d{1,3}>)?([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d) (\S+) /;
const SYSLOG_3339 = /^(?:<\d{1,3}>)?(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d) (\S+) /;
const KMSG = /^(?:<\d{1,3}>)?\[ *\d+\.\d+\]/;

export interface HeaderOptions {
  /** Year for RFC 3164 syslog timestamps, which have none (journald-forwarded records need it). */
  year: number;
}

function syslogTime(line: string, opts: HeaderOptions): { timeMs: number; host: string; end: number } | null {
  let m = SYSLOG_3164.exec(line);
  if (m) {
    const mon = MONTHS[m[1]!];
    if (mon === undefined) return null;
    const t = Date.UTC(opts.year, mon, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
    return { timeMs: t, host: m[6]!, end: m[0].length };
  }
  m = SYSLOG_3339.exec(line);
  if (m) {
    const t = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ? '.' + m[7].slice(0, 3) : ''}${m[8]}`);
    if (Number.isNaN(t)) return null;
    return { timeMs: t, host: m[9]!, end: m[0].length };
  }
  return null;
}

/** `audit(S.MS:N): type=NNNN body` (2.6-era kernels put the stamp first). */
function stampFirst(line: string, a: number, format: SourceFormat, host: string | undefined): HeaderResult {
  const p = stamp(line, a + 5, scratch);
  if (p < 0) return null;
  let t = p;
  while (t < line.length && line.charCodeAt(t) === 0x20) t++;
  if (!line.startsWith('type=', t)) return null;
  const sp = line.indexOf(' ', t + 5);
  const typeText = sp === -1 ? line.slice(t + 5) : line.slice(t + 5, sp);
  const rt = resolveType(typeText);
  if (!rt) return null;
  return { format, type: rt.type, typeNr: rt.typeNr, timeMs: scratch.timeMs, serial: scratch.serial, host, bodyStart: sp === -1 ? line.length : sp + 1 };
}

/**
 * Find and read the header. null: not an audit line at all (the caller decides whether that is noise or
 * garbage); `{skip:true}`: a syslog/kmsg line that is not audit.
 */
export function parseHeader(line: string, opts: HeaderOptions): HeaderResult {
  const c0 = line.charCodeAt(0);
  // auditd's own log: the hot path.
  if (c0 === 0x74 /* t */ && line.startsWith('type=')) return typedHeader(line, 0, 'auditd', undefined);
  if (c0 === 0x6e /* n */ || c0 === 0x68 /* h */) {
    if (line.startsWith('node=') || line.startsWith('host=')) return auditdPrefixed(line);
  }
  const sys = syslogTime(line, opts);
  const wrapped: SourceFormat = sys ? 'syslog' : 'kmsg';
  // `type=NNNN audit(` (kernel, with or without the `audit: ` tag) or `type=NAME msg=audit(` (auditd lines
  // forwarded through syslog), wherever it sits in the line: console text may be glued in front.
  for (let k = line.indexOf('type='); k !== -1; k = line.indexOf('type=', k + 5)) {
    if (k > 0 && !' :]>'.includes(line[k - 1]!)) continue; // after console text or a grep file: prefix
    const sp = line.indexOf(' ', k + 5);
    if (sp === -1) break;
    const kernelForm = line.startsWith('audit(', sp + 1);
    if (!kernelForm && !line.startsWith('msg=audit(', sp + 1)) continue;
    let host = sys?.host;
    const node = line.lastIndexOf('node=', k);
    if (!kernelForm && node !== -1 && (node === 0 || line.charCodeAt(node - 1) === 0x20)) {
      host = line.slice(node + 5, line.indexOf(' ', node));
    }
    return typedHeader(line, k, kernelForm ? wrapped : sys ? 'syslog' : 'auditd', host);
  }
  const a = line.indexOf('audit(');
  if (a !== -1) {
    const h = stampFirst(line, a, wrapped, sys?.host);
    if (h) return h;
  }
  if (sys) {
    // journald: `host audit[PID]: TYPE fields…`, no audit(…) stamp, so no serial.
    if (line.startsWith('audit[', sys.end)) {
      const close = line.indexOf(']: ', sys.end + 6);
      if (close !== -1) {
        const ts = close + 3;
        const sp = line.indexOf(' ', ts);
        const typeText = sp === -1 ? line.slice(ts) : line.slice(ts, sp);
        if (isTypeName(typeText)) {
          const bodyStart = sp === -1 ? line.length : sp + 1;
          return { format: 'journal', type: typeText, typeNr: recordTypeNumber(typeText), timeMs: sys.timeMs, serial: 0, host: sys.host, bodyStart };
        }
      }
    }
    // dbus-daemon logs its AppArmor mediation decisions itself (what auditd would get as USER_AVC).
    const tag = line.indexOf(': apparmor="', sys.end);
    if (tag !== -1 && line.indexOf(' ', sys.end) > tag - 1) {
      return { format: 'syslog', type: 'USER_AVC', typeNr: 1107, timeMs: sys.timeMs, serial: 0, host: sys.host, bodyStart: tag + 2 };
    }
    return { skip: true };
  }
  if (KMSG.test(line) || line.startsWith('time->') || line.startsWith('----')) return { skip: true }; // dmesg noise; ausearch separators
  return null;
}
