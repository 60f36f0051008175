// Tokenizer for the `key=value key="value" key='nested payload'` body of an audit record.
//
// It never materialises a key or value while scanning: it keeps offsets into the line and compares keys
// in place, so a record that is only counted or only asked for four fields costs one pass over its text.
// Values are found by exact key, never by searching the text, so a process named `scontext=x` cannot
// plant a field (its comm is written quoted or hex-encoded by the kernel and is consumed here as one value).

import { decodeHexString, isHexString } from './hex';
import { recordTypeTraits } from './record-types';

const SPACE = 0x20;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const GS = 0x1d; // auditd ENRICHED separator

/** How a value was written. */
export const enum Quote {
  None = 0,
  Double = 1,
  Single = 2,
}

// Per field, five numbers in one flat array: key start, key end (the '='), value start, value end, quote.
const STRIDE = 5;

export class Fields {
  /** The text the offsets point into (the whole line, or the nested payload's line). */
  readonly text: string;
  private readonly at: Int32Array;

  constructor(text: string, at: Int32Array) {
    this.text = text;
    this.at = at;
  }

  private indexOf(key: string): number {
    const at = this.at;
    const n = key.length;
    const k0 = key.charCodeAt(0);
    const text = this.text;
    for (let i = 0; i < at.length; i += STRIDE) {
      const s = at[i]!;
      if (at[i + 1]! - s === n && text.charCodeAt(s) === k0 && text.startsWith(key, s)) return i;
    }
    return -1;
  }

  has(key: string): boolean {
    return this.indexOf(key) !== -1;
  }

  /** How many fields. */
  get size(): number {
    return this.at.length / STRIDE;
  }

  /** Offsets and quote of the last field: [key start, value start, value end, quote]; undefined when none. */
  last(): [number, number, number, Quote] | undefined {
    const i = this.at.length - STRIDE;
    return i < 0 ? undefined : [this.at[i]!, this.at[i + 2]!, this.at[i + 3]!, this.at[i + 4] as Quote];
  }

  /** These fields without the last one (a field a cut line may have cut). */
  withoutLast(): Fields {
    return new Fields(this.text, this.at.slice(0, Math.max(0, this.at.length - STRIDE)));
  }

  /** These fields and one more, given by its offsets. */
  with(ks: number, ke: number, vs: number, ve: number, q: Quote): Fields {
    const at = new Int32Array(this.at.length + STRIDE);
    at.set(this.at);
    at.set([ks, ke, vs, ve, q], this.at.length);
    return new Fields(this.text, at);
  }

  /** The value as written, without its quotes; undefined when the key is absent. First occurrence wins. */
  get(key: string): string | undefined {
    const i = this.indexOf(key);
    return i === -1 ? undefined : this.text.slice(this.at[i + 2]!, this.at[i + 3]!);
  }

  /** Offsets of the value of `key` in `text` (inside its quotes), or undefined when absent. */
  rangeOf(key: string): [number, number] | undefined {
    const i = this.indexOf(key);
    return i === -1 ? undefined : [this.at[i + 2]!, this.at[i + 3]!];
  }

  /** How the value of `key` was quoted, or undefined when absent. */
  quoteOf(key: string): Quote | undefined {
    const i = this.indexOf(key);
    return i === -1 ? undefined : (this.at[i + 4] as Quote);
  }

  /**
   * An untrusted string field as auditd writes it (`comm`, `exe`, `name`, `cwd`, `proctitle`, `key`, …):
   * quoted → the text; unquoted hex → decoded; `(null)`, `?` and `(none)` → undefined.
   */
  str(key: string): string | undefined {
    const i = this.indexOf(key);
    if (i === -1) return undefined;
    return decodeValue(this.text, this.at[i + 2]!, this.at[i + 3]!, this.at[i + 4] as Quote);
  }

  /** A decimal integer field (`pid=123`); undefined when absent or not a number. */
  int(key: string): number | undefined {
    const i = this.indexOf(key);
    if (i === -1) return undefined;
    return parseDecimal(this.text, this.at[i + 2]!, this.at[i + 3]!);
  }

  /** All fields in order, values as `str` would give them (undefined ones kept as null). */
  toObject(): Record<string, string | null> {
    const out: Record<string, string | null> = Object.create(null);
    const at = this.at;
    for (let i = 0; i < at.length; i += STRIDE) {
      const k = this.text.slice(at[i]!, at[i + 1]!);
      if (k in out) continue; // first occurrence wins, as in get()
      // only auditd's untrusted-string fields are hex-encoded; `ppid=6894` or `a0=7ffe` are numbers, not hex text
      out[k] = (ENCODED.has(k) ? decodeValue(this.text, at[i + 2]!, at[i + 3]!, at[i + 4] as Quote) : rawValue(this.text, at[i + 2]!, at[i + 3]!, at[i + 4] as Quote)) ?? null;
    }
    return out;
  }
}

const EMPTY_FIELDS = new Fields('', new Int32Array(0));
export function emptyFields(): Fields {
  return EMPTY_FIELDS;
}

/**
 * The fields auditd writes with audit_log_untrustedstring (quoted, or uppercase hex when the value has spaces,
 * quotes or control bytes), after audit-userspace's table of escaped fields.
 */
const ENCODED = new Set([
  'acct', 'cmd', 'comm', 'cwd', 'data', 'dir', 'exe', 'file', 'grp', 'key', 'name', 'new_group', 'ocomm',
  'old_group', 'path', 'proctitle', 'root_dir', 'sw', 'vm', 'watch',
]);

/** A value as written: quotes removed, `(null)`/`(none)`/`?` as absent, never hex-decoded. */
function rawValue(text: string, s: number, e: number, q: Quote): string | undefined {
  if (q !== Quote.None) return text.slice(s, e);
  const raw = text.slice(s, e);
  return raw === '(null)' || raw === '(none)' || raw === '?' ? undefined : raw;
}

function decodeValue(text: string, s: number, e: number, q: Quote): string | undefined {
  if (q !== Quote.None) return text.slice(s, e);
  const len = e - s;
  if (len === 0) return '';
  const c = text.charCodeAt(s);
  if (c === 0x28 /* ( */ && (text.startsWith('(null)', s) || text.startsWith('(none)', s)) && len === 6) return undefined;
  if (c === 0x3f /* ? */ && len === 1) return undefined;
  const raw = text.slice(s, e);
  return isHexString(raw) ? decodeHexString(raw) : raw;
}

export function parseDecimal(text: string, s: number, e: number): number | undefined {
  if (s >= e) return undefined;
  let neg = false;
  if (text.charCodeAt(s) === 0x2d /* - */) {
    neg = true;
    s++;
    if (s >= e) return undefined;
  }
  let n = 0;
  for (let i = s; i < e; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return neg ? -n : n;
}

/** Side results of the last tokenize() call (kept out of its return value to save an allocation a line). */
export const scan = {
  /** A quoted value ran to the end without its closing quote. */
  truncated: false,
  /** Offset where a second record glued onto this line begins (`type=X msg=audit(`), or -1. */
  gluedAt: -1,
  /** Offset of interpreted fields whose 0x1d separator was lost (`key=(null)ARCH=x86_64`), or -1. */
  lostSeparatorAt: -1,
  /**
   * Set when an LSM label ran past the `end` given (the label held a 0x1d byte, which an AppArmor exec path
   * can): the offset where the raw fields really end (the 0x1d after the label, or the text's length).
   */
  rawEnd: -1,
};

/**
 * Where the value of an LSM label (`subj=`, `obj=`, `subj_<lsm>=`, `obj_<lsm>=`) ends.
 *
 * The kernel writes labels unquoted (audit_log_task_context: `" subj=%s"`; audit_log_name: `" obj=%s"`), and
 * an AppArmor label holds spaces and, for a child under a null profile, its exec path:
 * `subj=prof//null-/tmp/x syscall=59 (complain)`. A workload chooses that path, so nothing inside a label
 * may be read as a field. What bounds the label is what the kernel writes after it:
 *  - for the record types listed in LABEL_NEXT, one known key (audit_log_task → ` pid=` for SECCOMP and
 *    ANOM_ABEND; audit_log_task_info + audit_log_key → ` key=` for SYSCALL; audit_log_set_loginuid →
 *    ` old-auid=` for LOGIN). The kernel writes that key once, after the label, and every field after it is
 *    a number, a keyword or an audit_log_untrustedstring value (quoted only when it has no space, quote or
 *    control byte; hex otherwise), none of which can hold ` key=`. So the LAST ` key=` of the line is the
 *    genuine one, and the label runs up to it, whatever the label contains;
 *  - otherwise (PATH `obj=` before `nametype=`/`objtype=`, OBJ_PID before `ocomm=`, CONFIG_CHANGE before
 *    `op=`, DAEMON_* before `res=`, IPC at the end, …): the same property read backwards. From the end of the
 *    line, fields that have no space in their value (key=value, key="value") are the kernel's; the label is
 *    what is left before them: it ends with its last word that is not such a field (AppArmor always ends a
 *    confined label with ` (mode)`), or is the one word after `subj=` (SELinux and Smack labels have no
 *    spaces).
 * `next` is LABEL_NEXT's ` key=` for the record type, '' for the backwards rule, '$' when the label runs to
 * `end` (USER_* records, where the caller cut the text before ` msg='`). Returns the label's end offset.
 */
export function labelEnd(text: string, vs: number, end: number, next: string): number {
  if (next === '$') {
    while (end > vs && text.charCodeAt(end - 1) === SPACE) end--;
    return end;
  }
  const lineEnd = text.length > 0 && text.charCodeAt(text.length - 1) === 0x0d ? text.length - 1 : text.length;
  if (next !== '') {
    // interpreted (ENRICHED) keys are upper case, so ` pid=` is never one of them
    const at = text.lastIndexOf(next, lineEnd);
    if (at >= vs) return at;
  }
  // Backwards: words split on spaces and 0x1d; stop at the first one that is not a field.
  let we = lineEnd;
  for (;;) {
    while (we > vs && isWordSep(text.charCodeAt(we - 1))) we--;
    if (we <= vs) return vs;
    let ws = we;
    while (ws > vs && !isWordSep(text.charCodeAt(ws - 1))) ws--;
    if (ws === vs || !isFieldWord(text, ws, we)) return we;
    we = ws;
  }
}

const isWordSep = (c: number) => c === SPACE || c === GS;

/** `key=value` or `key="value"` with a key of letters, digits, `_` and `-`, and no space in the word. */
function isFieldWord(text: string, s: number, e: number): boolean {
  let i = s;
  for (; i < e; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3d /* = */) break;
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d;
    if (!ok) return false;
  }
  if (i === s || i === e) return false;
  const v = i + 1;
  if (v < e && text.charCodeAt(v) === DQUOTE) return e - v >= 2 && text.charCodeAt(e - 1) === DQUOTE && text.indexOf('"', v + 1) === e - 1;
  if (v < e && text.charCodeAt(v) === SQUOTE) return false; // msg='…' payloads hold spaces: not a word
  return true;
}

/** `subj`, `obj`, `subj_<lsm>`, `obj_<lsm>` (MAC_TASK_CONTEXTS / MAC_OBJ_CONTEXTS with several LSMs). */
function isLabelKey(text: string, ks: number, ke: number): boolean {
  const n = ke - ks;
  const c = text.charCodeAt(ks);
  if (c === 0x73 /* s */) return n >= 4 && text.startsWith('subj', ks) && (n === 4 || text.charCodeAt(ks + 4) === 0x5f);
  if (c === 0x6f /* o */) return n >= 3 && text.startsWith('obj', ks) && (n === 3 || text.charCodeAt(ks + 3) === 0x5f);
  return false;
}

/**
 * The `next` argument of tokenize() for a kernel record of `type`: how its labels are bounded (the key the
 * kernel writes right after the task's label, from the record-type table; see labelEnd).
 */
export function labelNextFor(type: string): string {
  return recordTypeTraits(type).labelNext ?? '';
}

/**
 * In an unquoted value, `=` at `eq` may be the start of ENRICHED interpreted fields glued on without their
 * separator: an upper-case key (`AUID`, `ARCH`, `SYSCALL`, …) right after the raw value's last character,
 * which is never upper case in raw values (hex is written in lower case there; ids, `(null)`).
 * Returns where that key starts, or -1.
 */
function interpretedKeyStart(text: string, vs: number, eq: number): number {
  let k = eq;
  while (k > vs) {
    const c = text.charCodeAt(k - 1);
    if ((c >= 0x41 && c <= 0x5a) || c === 0x5f) k--;
    else break;
  }
  if (k === vs || eq - k < 3) return -1;
  const before = text.charCodeAt(k - 1);
  const ok = (before >= 0x30 && before <= 0x39) || (before >= 0x61 && before <= 0x7a) || before === 0x29; /* ) */
  return ok ? k : -1;
}

/**
 * Scan `text[start, end)` into fields. Words without '=' (the `avc:  denied  {` prose, `(enforce)`) are
 * skipped. A quoted value runs to its closing quote; an unterminated one (a truncated line) runs to `end`
 * and sets `scan.truncated`. A `msg=audit(` field means another record was glued onto the line: scanning
 * stops before its `type=` and `scan.gluedAt` says where it starts.
 *
 * `labels`: for the kernel's own fields, how LSM labels (`subj=`, `obj=`) are bounded (labelEnd's `next`:
 * labelNextFor(type), or '$'); their text is one value, never scanned for fields or glued records.
 * Undefined for text that has no kernel labels (a user-space payload, the ENRICHED part).
 */
// Fields are written here first and copied out once, sized, per record: cheaper than growing an array.
let SCRATCH = new Int32Array(STRIDE * 256);

function grow(): void {
  const bigger = new Int32Array(SCRATCH.length * 2);
  bigger.set(SCRATCH);
  SCRATCH = bigger;
}

export function tokenize(text: string, start: number, end: number, labels?: string): Fields {
  let n = 0;
  scan.truncated = false;
  scan.gluedAt = -1;
  scan.lostSeparatorAt = -1;
  scan.rawEnd = -1;
  let i = start;
  // Native indexOf does the scanning; `eq` is always the next '=' at or after `i` (or beyond `end`).
  let eq = text.indexOf('=', i);
  while (i < end) {
    let c = text.charCodeAt(i);
    // NBSP and U+FFFD (an undecodable byte) also separate: real AVCs have been logged with 0xA0 for spaces.
    while (c === SPACE || c === GS || c === 0xa0 || c === 0xfffd) {
      if (++i >= end) return new Fields(text, SCRATCH.slice(0, n));
      c = text.charCodeAt(i);
    }
    if (eq !== -1 && eq < i) eq = text.indexOf('=', i);
    if (eq === -1 || eq >= end) break; // only bare words left
    const sp = text.indexOf(' ', i);
    const wordEnd = sp === -1 || sp > end ? end : sp;
    if (wordEnd < eq) {
      i = wordEnd + 1; // a bare word (`avc:`, `denied`, `{`, `(enforce)`): not a field
      continue;
    }
    const ks = i;
    const ke = eq;
    if (ke === ks) {
      i = wordEnd + 1; // "=value": not a field
      continue;
    }
    i = eq + 1;
    c = i < end ? text.charCodeAt(i) : SPACE;
    if (n + STRIDE > SCRATCH.length) grow();
    if (c === DQUOTE || c === SQUOTE) {
      // Nested payloads (msg='…') hold spaces and double quotes but no single quote: they end at the next one.
      const vs = i + 1;
      let ve = text.indexOf(c === DQUOTE ? '"' : "'", vs);
      if (ve === -1 || ve >= end) {
        ve = end;
        scan.truncated = true;
      }
      SCRATCH[n] = ks;
      SCRATCH[n + 1] = ke;
      SCRATCH[n + 2] = vs;
      SCRATCH[n + 3] = ve;
      SCRATCH[n + 4] = c === DQUOTE ? Quote.Double : Quote.Single;
      n += STRIDE;
      i = ve + 1;
      continue;
    }
    if (labels !== undefined && isLabelKey(text, ks, ke)) {
      // An LSM label: its whole text is the value (labelEnd), spaces, `=` and quotes included.
      let le = labelEnd(text, i, end, labels);
      if (le > end) {
        // the label held the 0x1d byte that `end` was: the raw fields end at the 0x1d after the label
        const gs = text.indexOf('\x1d', le);
        end = gs === -1 ? text.length : gs;
        scan.rawEnd = end;
        if (le > end) le = end;
      }
      SCRATCH[n] = ks;
      SCRATCH[n + 1] = ke;
      SCRATCH[n + 2] = i;
      SCRATCH[n + 3] = le;
      SCRATCH[n + 4] = Quote.None;
      n += STRIDE;
      i = le;
      eq = text.indexOf('=', i);
      continue;
    }
    const vs = i;
    const ve = wordEnd;
    eq = text.indexOf('=', vs);
    if (eq !== -1 && eq < ve) {
      // '=' inside an unquoted value: ENRICHED fields that lost their separator, or a value like `=label`.
      const k = interpretedKeyStart(text, vs, eq);
      if (k !== -1) {
        SCRATCH.set([ks, ke, vs, k, Quote.None], n);
        n += STRIDE;
        scan.lostSeparatorAt = k;
        return new Fields(text, SCRATCH.slice(0, n));
      }
    }
    if (ke - ks === 3 && n >= STRIDE && text.startsWith('msg=audit(', ks) && SCRATCH[n - STRIDE + 1]! - SCRATCH[n - STRIDE]! === 4 &&
      text.startsWith('type', SCRATCH[n - STRIDE]!)) {
      // Two records on one line: the previous field was the next record's `type=` (maybe after node=/host=).
      let g = n - STRIDE;
      while (g >= STRIDE && isPrefixKey(text, SCRATCH[g - STRIDE]!, SCRATCH[g - STRIDE + 1]!)) g -= STRIDE;
      scan.gluedAt = SCRATCH[g]!;
      return new Fields(text, SCRATCH.slice(0, g));
    }
    SCRATCH[n] = ks;
    SCRATCH[n + 1] = ke;
    SCRATCH[n + 2] = vs;
    SCRATCH[n + 3] = ve;
    SCRATCH[n + 4] = Quote.None;
    n += STRIDE;
    i = ve;
  }
  return new Fields(text, SCRATCH.slice(0, n));
}

function isPrefixKey(text: string, ks: number, ke: number): boolean {
  return ke - ks === 4 && (text.startsWith('node', ks) || text.startsWith('host', ks));
}
