// The hot path: a kernel type=SECCOMP record as auditd writes it, read straight from the bytes of the log.
//
// Recording a seccomp profile logs every syscall of the workload, so SECCOMP lines are nearly all of the
// volume. parseLine() decodes the line into a string, tokenizes it and builds a record with its objects
// (~2 µs here, where a JS string costs 2-4 ns a character); this scanner reads the bytes once, keeps
// offsets and numbers, and decodes nothing. It is strict: it accepts only what it can read exactly as
// parseLine() would, and declines (returns false) anything else, which then goes through parseLine():
// other header forms (syslog, kmsg, journald), bytes outside printable ASCII in the raw fields, bare words,
// `=` inside an unquoted value (ENRICHED lines that lost their 0x1d), `msg=` (glued records), single
// quotes, signed or over-long numbers, a syscall given by name, a bad `code=`. Everything it accepts gives
// the same values as parseLine() (test/parsers/seccomp-line.test.ts compares both on variants of the
// fixtures' SECCOMP records, on byte mutations of them and on random bytes).

import { decodeHexString } from './hex';
import { parseLine, type AuditRecord } from './record';
import { decodeSeccompCode } from './seccomp';
import { resolveSyscall } from './syscalls';
import type { NonAudit, ParseError, SeccompAction, SyscallInfo } from './types';

const SPACE = 0x20;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const EQ = 0x3d;
const GS = 0x1d; // auditd ENRICHED separator

// Byte classes, so the loops over keys and values test one table entry per byte (half the time of the range
// tests they stand for, on the hot path): 1 where the loop goes on.
function byteClass(ok: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = ok(c) ? 1 : 0;
  return t;
}
/** A key's bytes, and an unquoted value's: printable ASCII but space and `=`. */
const BARE = byteClass((c) => c >= 0x21 && c <= 0x7e && c !== EQ);
/** A quoted value's: printable ASCII and space, but the quote. */
const QUOTED = byteClass((c) => c >= 0x20 && c <= 0x7e && c !== DQUOTE);
/** A label's after its first byte: printable ASCII and space, but `=`. */
const LABEL = byteClass((c) => c >= 0x20 && c <= 0x7e && c !== EQ);

/** How a string field (`comm`, `exe`) was written, which decides its value (see Fields.str). */
export const enum StrForm {
  /** Absent, or `(null)`, `(none)`, `?`: no value. */
  None = 0,
  /** Quoted, or unquoted and not hex: the bytes as they are (printable ASCII). */
  Text = 1,
  /** Unquoted even-length hex: an encoded string whose bytes are printable ASCII or NUL once decoded. */
  Hex = 2,
}

/** Largest timeMs formatTimestamp() renders as YYYY-MM-DDTHH:MM:SS.mmmZ (9999-12-31T23:59:59.999Z). */
const MAX_4_DIGIT_YEAR_MS = 253402300799999;

/**
 * One scanned SECCOMP line. A flyweight: scanSeccompLine() overwrites it, and its offsets point into the
 * caller's buffer, so it is valid only until the next scan or until that buffer is reused. Numeric
 * fields (pid, uid, …) read -1 when absent or not a number (where a record's int() gives undefined).
 */
export class SeccompLine {
  buf: Buffer = Buffer.alloc(0);
  /** The line, without its newline. */
  start = 0;
  end = 0;
  timeMs = 0;
  serial = 0;
  /** The `node=`/`host=` prefix's value, or -1 when there is none. */
  hostStart = -1;
  hostEnd = -1;
  /** A 0x1d separator was found: format `auditd-enriched` (else `auditd`). */
  enriched = false;
  /**
   * Where the digits of serial, pid, uid, gid, auid and ses are in `buf`: start and end, in that order, in
   * the slots Num.Serial… below. A start of -1: no value (absent, empty or not a number, where a record's
   * int() gives undefined). Writers copy the digits: they are the number's JSON unless a zero leads.
   */
  readonly digits = new Int32Array(12);
  commForm = StrForm.None;
  commStart = 0;
  commEnd = 0;
  exeForm = StrForm.None;
  exeStart = 0;
  exeEnd = 0;
  /** Shared between lines with the same arch and number: never mutate. */
  syscall: SyscallInfo = NO_SYSCALL;
  action: SeccompAction = 'unknown';
  actionData = 0;
  /** The `code=` value as a number, for callers that cache per code. */
  code = 0;

  get pid(): number {
    return this.number(Num.Pid);
  }
  get uid(): number {
    return this.number(Num.Uid);
  }
  get gid(): number {
    return this.number(Num.Gid);
  }
  get auid(): number {
    return this.number(Num.Auid);
  }
  get ses(): number {
    return this.number(Num.Ses);
  }

  /** The value of the digits in slot `at`, -1 when there is none. */
  number(at: Num): number {
    return digitsValue(this.buf, this.digits[at]!, this.digits[at + 1]!);
  }

  get comm(): string | undefined {
    return decodeStr(this.buf, this.commForm, this.commStart, this.commEnd);
  }

  get exe(): string | undefined {
    return decodeStr(this.buf, this.exeForm, this.exeStart, this.exeEnd);
  }

  get host(): string | undefined {
    return this.hostStart < 0 ? undefined : this.buf.toString('latin1', this.hostStart, this.hostEnd);
  }

  /** The line as text (the scanner accepted only ASCII lines, so latin1 reads it exactly). */
  text(): string {
    return this.buf.toString('latin1', this.start, this.end);
  }

  /** parseLine() of this line: the full record, for callers that need more than the scan keeps. */
  toRecord(): AuditRecord | ParseError | NonAudit {
    return parseLine(this.text());
  }
}

/** Slots of SeccompLine.digits. */
export const enum Num {
  Serial = 0,
  Pid = 2,
  Uid = 4,
  Gid = 6,
  Auid = 8,
  Ses = 10,
}

/** The number the digits `buf[s, e)` (at most 15) spell; -1 when s is -1. */
export function digitsValue(buf: Buffer, s: number, e: number): number {
  if (s < 0) return -1;
  let n = 0;
  for (let i = s; i < e; i++) n = n * 10 + (buf[i]! - 0x30);
  return n;
}

const NO_SYSCALL: SyscallInfo = { arch: undefined, auditArch: undefined, nr: 0, name: undefined };

function decodeStr(buf: Buffer, form: StrForm, s: number, e: number): string | undefined {
  if (form === StrForm.None) return undefined;
  const t = buf.toString('latin1', s, e);
  return form === StrForm.Hex ? decodeHexString(t) : t;
}

// Keys of 3 and 4 characters packed into an int (8 bits a character), so recognising one is a switch.
function pack(key: string): number {
  let k = 0;
  for (let i = 0; i < key.length; i++) k = (k << 8) | key.charCodeAt(i);
  return k;
}
const K_PID = pack('pid');
const K_UID = pack('uid');
const K_GID = pack('gid');
const K_SES = pack('ses');
const K_EXE = pack('exe');
const K_MSG = pack('msg');
const K_AUID = pack('auid');
const K_COMM = pack('comm');
const K_ARCH = pack('arch');
const K_CODE = pack('code');
const K_SUBJ = pack('subj');
const K_OBJ = pack('obj');
const PID_KEY = Buffer.from(' pid=', 'latin1');
const SYSCALL = Buffer.from('syscall', 'latin1');

const HEADER = Buffer.from('type=SECCOMP msg=audit(', 'latin1');

/**
 * Scan `buf[start, end)` (one line, no newline) as a SECCOMP record into `out`. Returns false when the line
 * is anything else or anything this scanner does not read exactly like parseLine(); the caller then hands
 * the line to parseLine(). `clean`: the caller checked that the range holds no NUL and no byte above 0x7f
 * (one native check per chunk), so the ENRICHED part after 0x1d, which is not otherwise read, need not be.
 */
export function scanSeccompLine(buf: Buffer, start: number, end: number, out: SeccompLine, clean: boolean): boolean {
  let p = start;
  let hostStart = -1;
  let hostEnd = -1;
  // `node=X host=Y ` prefixes (auditd name_format); the first one names the host.
  while (p + 5 <= end && (buf[p] === 0x6e || buf[p] === 0x68) && isNodeOrHost(buf, p)) {
    const vs = p + 5;
    p = vs;
    while (p < end && buf[p] !== SPACE) {
      const c = buf[p]!;
      if (c < 0x21 || c > 0x7e) return false;
      p++;
    }
    if (p === end) return false;
    if (hostStart < 0) {
      hostStart = vs;
      hostEnd = p;
    }
    p++;
  }
  if (end - p < HEADER.length) return false;
  for (let i = 0; i < HEADER.length; i++) if (buf[p + i] !== HEADER[i]) return false;
  p += HEADER.length;

  // audit(SEC.FRAC:SERIAL): the same arithmetic as header.ts stamp(), so the same numbers.
  let sec = 0;
  let q = p;
  while (p < end && isDigit(buf[p]!)) sec = sec * 10 + (buf[p++]! - 0x30);
  if (p === q || p - q > 12 || p >= end || buf[p] !== 0x2e) return false;
  p++;
  let frac = 0;
  let scale = 1;
  q = p;
  while (p < end && isDigit(buf[p]!)) {
    if (scale < 1000) {
      frac = frac * 10 + (buf[p]! - 0x30);
      scale *= 10;
    }
    p++;
  }
  if (p === q || p >= end || buf[p] !== 0x3a) return false;
  p++;
  let serial = 0;
  const serialStart = p;
  while (p < end && isDigit(buf[p]!)) serial = serial * 10 + (buf[p++]! - 0x30);
  const serialEnd = p;
  if (p === serialStart || p - serialStart > 15 || p >= end || buf[p] !== 0x29) return false;
  p++;
  if (p < end && buf[p] === 0x3a) p++;
  const timeMs = sec * 1000 + Math.round((frac * 1000) / scale);
  if (timeMs > MAX_4_DIGIT_YEAR_MS) return false;

  // Value ranges of the fields kept; -1: not seen yet (the first occurrence of a key wins).
  let vPid = -1, ePid = 0, vUid = -1, eUid = 0, vGid = -1, eGid = 0, vAuid = -1, eAuid = 0, vSes = -1, eSes = 0;
  let vComm = -1, eComm = 0, qComm = false, vExe = -1, eExe = 0, qExe = false;
  let vArch = -1, eArch = 0, vSys = -1, eSys = 0, vCode = -1, eCode = 0;
  let enriched = false;
  // The fields, as fields.ts tokenize() splits them, restricted to printable ASCII.
  for (;;) {
    while (p < end && buf[p] === SPACE) p++;
    if (p >= end) break;
    if (buf[p] === GS) {
      enriched = true;
      break;
    }
    const ks = p;
    while (p < end && BARE[buf[p]!] === 1) p++;
    // a bare word (at the end, or before a space), or a byte the tokenizer reads differently
    if (p >= end || buf[p] !== EQ) return false;
    const keyLen = p - ks;
    if (keyLen === 0) return false;
    p++;
    let vs = p;
    let ve: number;
    let quoted = false;
    const c0 = p < end ? buf[p]! : SPACE;
    if (keyLen >= 4 && c0 !== DQUOTE && c0 !== SQUOTE && isLabelKey(buf, ks, keyLen)) {
      // The task's LSM label (`subj=system_u:system_r:container_t:s0`, `subj=prof (enforce)`): as
      // fields.ts labelEnd() bounds it for SECCOMP, it runs up to the last ` pid=` of the line. Taken here
      // only when that is after it and the label is plain (printable ASCII, no `=` but a leading one):
      // anything else, like a label holding an exec path with `=` in it, goes to parseLine.
      if (keyLen !== 4) return false; // subj_<lsm>: several LSMs
      const at = lastIndexOf(buf, PID_KEY, vs, end);
      if (at < 0) return false;
      if (vs < at && (buf[vs]! < 0x20 || buf[vs]! > 0x7e)) return false;
      for (let i = vs + 1; i < at; i++) if (LABEL[buf[i]!] !== 1) return false;
      p = at;
      continue;
    }
    if (keyLen === 3 && buf[ks] === 0x6f && (((buf[ks]! << 16) | (buf[ks + 1]! << 8) | buf[ks + 2]!) === K_OBJ)) return false;
    if (c0 === DQUOTE) {
      vs = ++p;
      while (p < end && QUOTED[buf[p]!] === 1) p++;
      if (p >= end || buf[p] !== DQUOTE) return false; // no closing quote (truncated), or a byte not printable
      ve = p++;
      quoted = true;
    } else if (c0 === SQUOTE) {
      return false;
    } else {
      while (p < end && BARE[buf[p]!] === 1) p++;
      if (p < end && buf[p] !== SPACE && buf[p] !== GS) return false;
      ve = p;
    }
    if (keyLen === 3) {
      switch ((buf[ks]! << 16) | (buf[ks + 1]! << 8) | buf[ks + 2]!) {
        case K_PID: if (vPid < 0) { vPid = vs; ePid = ve; } break;
        case K_UID: if (vUid < 0) { vUid = vs; eUid = ve; } break;
        case K_GID: if (vGid < 0) { vGid = vs; eGid = ve; } break;
        case K_SES: if (vSes < 0) { vSes = vs; eSes = ve; } break;
        case K_EXE: if (vExe < 0) { vExe = vs; eExe = ve; qExe = quoted; } break;
        case K_MSG: return false; // a second record glued on, or a user-space record's payload
      }
    } else if (keyLen === 4) {
      switch ((buf[ks]! << 24) | (buf[ks + 1]! << 16) | (buf[ks + 2]! << 8) | buf[ks + 3]!) {
        case K_AUID: if (vAuid < 0) { vAuid = vs; eAuid = ve; } break;
        case K_COMM: if (vComm < 0) { vComm = vs; eComm = ve; qComm = quoted; } break;
        case K_ARCH: if (vArch < 0) { vArch = vs; eArch = ve; } break;
        case K_CODE: if (vCode < 0) { vCode = vs; eCode = ve; } break;
      }
    } else if (keyLen === 7 && vSys < 0 && matches(buf, ks, SYSCALL)) {
      vSys = vs;
      eSys = ve;
    }
  }
  if (enriched && !clean) {
    // Not read, but a NUL makes the line an error and a byte above 0x7f may be invalid UTF-8 (counted).
    for (let i = p + 1; i < end; i++) {
      const c = buf[i]!;
      if (c === 0 || c > 0x7f) return false;
    }
  }

  if (vSys < 0 || vCode < 0) return false;
  const nr = readUint(buf, vSys, eSys);
  if (nr < 0) return false; // a name (ausearch -i) or garbage: parseLine looks it up or reports it
  const code = readHex32(buf, vCode, eCode);
  if (code < 0) return false;
  // Numbers are only checked here (computing them would cost a heap number each for 4294967295): a
  // start of -1 then means no value.
  const pid = numberForm(buf, vPid, ePid);
  const uid = numberForm(buf, vUid, eUid);
  const gid = numberForm(buf, vGid, eGid);
  const auid = numberForm(buf, vAuid, eAuid);
  const ses = numberForm(buf, vSes, eSes);
  if (pid === DECLINE || uid === DECLINE || gid === DECLINE || auid === DECLINE || ses === DECLINE) return false;
  const commForm = strForm(buf, vComm, eComm, qComm);
  const exeForm = strForm(buf, vExe, eExe, qExe);
  if (commForm === -1 || exeForm === -1) return false;

  out.buf = buf;
  out.start = start;
  out.end = end;
  out.timeMs = timeMs;
  out.serial = serial;
  out.hostStart = hostStart;
  out.hostEnd = hostEnd;
  out.enriched = enriched;
  const d = out.digits;
  d[Num.Serial] = serialStart;
  d[Num.Serial + 1] = serialEnd;
  d[Num.Pid] = pid === NUMBER ? vPid : -1;
  d[Num.Pid + 1] = ePid;
  d[Num.Uid] = uid === NUMBER ? vUid : -1;
  d[Num.Uid + 1] = eUid;
  d[Num.Gid] = gid === NUMBER ? vGid : -1;
  d[Num.Gid + 1] = eGid;
  d[Num.Auid] = auid === NUMBER ? vAuid : -1;
  d[Num.Auid + 1] = eAuid;
  d[Num.Ses] = ses === NUMBER ? vSes : -1;
  d[Num.Ses + 1] = eSes;
  // An absent string gets an empty range, so the range of a line is always within its buffer.
  out.commForm = commForm;
  out.commStart = vComm < 0 ? 0 : vComm;
  out.commEnd = vComm < 0 ? 0 : eComm;
  out.exeForm = exeForm;
  out.exeStart = vExe < 0 ? 0 : vExe;
  out.exeEnd = vExe < 0 ? 0 : eExe;
  out.syscall = syscallFor(buf, vArch, eArch, nr);
  out.code = code;
  setAction(out, code);
  return true;
}

/** `subj`, `subj_*` or `obj_*` at `ks` (fields.ts isLabelKey, for keys of 4 characters or more). */
function isLabelKey(buf: Buffer, ks: number, n: number): boolean {
  const c = buf[ks];
  if (c === 0x73 /* s */) return ((buf[ks]! << 24) | (buf[ks + 1]! << 16) | (buf[ks + 2]! << 8) | buf[ks + 3]!) === K_SUBJ && (n === 4 || buf[ks + 4] === 0x5f);
  if (c === 0x6f /* o */) return buf[ks + 1] === 0x62 && buf[ks + 2] === 0x6a && buf[ks + 3] === 0x5f;
  return false;
}

/** The last offset in [from, end) where `what` starts, or -1. */
function lastIndexOf(buf: Buffer, what: Buffer, from: number, end: number): number {
  const at = buf.lastIndexOf(what, end - what.length);
  return at >= from ? at : -1;
}

function isNodeOrHost(buf: Buffer, p: number): boolean {
  const a = buf[p];
  return (
    buf[p + 4] === EQ &&
    ((a === 0x6e && buf[p + 1] === 0x6f && buf[p + 2] === 0x64 && buf[p + 3] === 0x65) || // node
      (a === 0x68 && buf[p + 1] === 0x6f && buf[p + 2] === 0x73 && buf[p + 3] === 0x74)) // host
  );
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Decimal digits only (1–15 of them, so the number is exact); -1 otherwise. */
function readUint(buf: Buffer, s: number, e: number): number {
  if (e <= s || e - s > 15) return -1;
  let n = 0;
  for (let i = s; i < e; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

const NO_NUMBER = 0;
const NUMBER = 1;
const DECLINE = -1;

/**
 * How Fields.int() reads a numeric field: absent, empty or not a number → NO_NUMBER (no value); digits →
 * NUMBER; a sign, or more digits than a double holds exactly → DECLINE (left to parseLine).
 */
function numberForm(buf: Buffer, s: number, e: number): number {
  if (s < 0 || e === s) return NO_NUMBER;
  if (buf[s] === 0x2d || e - s > 15) return DECLINE;
  for (let i = s; i < e; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return NO_NUMBER;
  }
  return NUMBER;
}

/** `0x7ffc0000` → its value, as seccomp.ts parseHex32 reads it; -1 if it is not 1–8 hex digits. */
function readHex32(buf: Buffer, s: number, e: number): number {
  if (e - s > 1 && buf[s] === 0x30 && (buf[s + 1]! | 0x20) === 0x78) s += 2;
  if (e - s < 1 || e - s > 8) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i]! | 0x20;
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
    else return -1;
    v = v * 16 + d;
  }
  return v;
}

/** The form of a string field's value (fields.ts decodeValue); -1 for what this scanner leaves to parseLine. */
function strForm(buf: Buffer, s: number, e: number, quoted: boolean): StrForm | -1 {
  if (s < 0) return StrForm.None;
  if (quoted) return StrForm.Text;
  const n = e - s;
  if (n === 1 && buf[s] === 0x3f) return StrForm.None; // ?
  if (n === 6 && buf[s] === 0x28 && (matches(buf, s, NULL) || matches(buf, s, NONE))) return StrForm.None;
  if (n === 0 || (n & 1) === 1) return StrForm.Text;
  for (let i = s; i < e; i++) if (hexValue(buf[i]!) < 0) return StrForm.Text;
  // Encoded: accept it when it decodes to printable ASCII (NULs read as spaces), so no UTF-8 decoding
  // (and no U+FFFD) is involved.
  for (let i = s; i < e; i += 2) {
    const b = hexValue(buf[i]!) * 16 + hexValue(buf[i + 1]!);
    if (b !== 0 && (b < 0x20 || b > 0x7e)) return -1;
  }
  return StrForm.Hex;
}

const NULL = Buffer.from('(null)', 'latin1');
const NONE = Buffer.from('(none)', 'latin1');

function matches(buf: Buffer, s: number, what: Buffer): boolean {
  for (let i = 0; i < what.length; i++) if (buf[s + i] !== what[i]) return false;
  return true;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

// Syscall identity per (arch value, number), resolved once: lines come in long runs from one arch.
interface ArchCache {
  bytes: Buffer;
  text: string | undefined;
  byNr: Array<SyscallInfo | undefined>;
}
const archCaches: ArchCache[] = [];
const MEMO_NR = 4096;

function syscallFor(buf: Buffer, s: number, e: number, nr: number): SyscallInfo {
  let c: ArchCache | undefined;
  for (let i = 0; i < archCaches.length; i++) {
    const a = archCaches[i]!;
    if (s < 0 ? a.text === undefined : a.text !== undefined && a.bytes.length === e - s && matches(buf, s, a.bytes)) {
      c = a;
      break;
    }
  }
  if (c === undefined) {
    const text = s < 0 ? undefined : buf.toString('latin1', s, e);
    c = { bytes: Buffer.from(text ?? '', 'latin1'), text, byNr: [] };
    if (archCaches.length >= 8) archCaches.shift(); // a hostile log cycling arch values stays bounded
    archCaches.push(c);
  }
  if (nr >= MEMO_NR) return resolveSyscall(c.text, nr);
  return (c.byNr[nr] ??= resolveSyscall(c.text, nr));
}

let lastCode = -1;
let lastAction: SeccompAction = 'unknown';

function setAction(out: SeccompLine, code: number): void {
  if (code !== lastCode) {
    lastAction = decodeSeccompCode(code.toString(16))!.action;
    lastCode = code;
  }
  out.action = lastAction;
  out.actionData = code % 0x10000;
}
