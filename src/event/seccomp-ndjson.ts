// The NDJSON line of a SECCOMP event, written as bytes straight from a scanned line: whole for an offline
// (not enriched) event, or in two parts around the enrichment for `run` (src/run/seccomp-lines.ts).
//
// `auditflow parse` spends most of its time on SECCOMP events; JSON.stringify of the event object costs
// ~2.5 µs here and building the object ~2 µs. This writer fills a template instead: the constant parts
// are encoded once (per second of timestamps, per input file, per syscall, per seccomp code), values are
// copied from the input bytes and escaped only where JSON needs it. Its output must be byte for byte
// JSON.stringify(eventFromRecord(record, ctx)) (src/event/v1.ts): test/cli/event.test.ts compares both on
// every fixture line and on mutations of them, so a change to the schema that misses this file fails there.

import { digitsValue, Num, StrForm, type SeccompLine, type SyscallInfo } from '../../parsers';
import { SCHEMA_V1, type EventContext } from './v1';
import { timestampSecondPrefix } from './timestamp';

const HEAD = `{"schema":${JSON.stringify(SCHEMA_V1)},"type":"SECCOMP","kind":"seccomp","timestamp":"`;
const NULL = bytes('null');
const K_SERIAL = bytes('Z","serial":');
const K_PID = bytes(',"pid":');
const K_COMM = bytes(',"comm":');
const K_EXE = bytes(',"exe":');
const K_UID = bytes(',"uid":');
const K_GID = bytes(',"gid":');
const K_AUID = bytes(',"auid":');
const K_SES = bytes(',"ses":');
const K_RAW = bytes(',"raw":');
const UNRESOLVED = bytes(',"container":null,"pod":null,"enrichment":"unresolved"');
const CLOSE = bytes('}\n');

/** Entries per cache: real logs need a few hundred (syscalls × arches); memory stays bounded on others. */
const MAX_CACHED = 4096;

function bytes(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

// What JSON.stringify writes for each ASCII byte that needs escaping (undefined: the byte itself).
const ESCAPE: Array<Buffer | undefined> = [];
for (let c = 0; c < 0x80; c++) {
  const j = JSON.stringify(String.fromCharCode(c));
  ESCAPE.push(j.length === 3 ? undefined : bytes(j.slice(1, -1)));
}

export class SeccompNdjson {
  private second = -1;
  private head: Buffer = NULL;
  // The `,"node":…,"source":{…}` part, for the last file and host seen.
  private sourceFile: string | null | undefined = undefined;
  private sourceHost: string | undefined = undefined;
  private source: Buffer[] = [NULL, NULL]; // [auditd, auditd-enriched]
  // The process part, `,"pid":…,"ses":N`, of the last line: a process makes its syscalls in runs, so the
  // next line usually has the same one (same numbers, same comm and exe bytes) and it is copied whole.
  private proc = new ProcessMemo();
  // `,"arch":…,"syscallNr":N` per syscall identity (the scanner shares SyscallInfo objects).
  private readonly bySyscall = new Map<SyscallInfo, Buffer>();
  // `,"action":…,"actionData":N` per code.
  private readonly byCode = new Map<number, Buffer>();
  private readonly notEnrichedJson: Buffer | null;

  private readonly node: string;
  private readonly raw: boolean;
  /** Bound of what the context adds to an event, but for the file name. */
  private readonly fixedBytes: number;

  /** `ctx.file` is followed per event (it changes per input); the rest of `ctx` is read once, here. */
  constructor(private readonly ctx: EventContext) {
    this.node = ctx.node;
    this.raw = ctx.raw;
    this.notEnrichedJson = ctx.notEnriched === undefined ? null : bytes(`,"enrichmentError":${JSON.stringify(ctx.notEnriched)}`);
    // A UTF-16 unit is at most 6 bytes in JSON (\u00XX); constant parts and syscall names stay under 1 KiB.
    this.fixedBytes = 1024 + 6 * (this.node.length + (ctx.notEnriched?.length ?? 0));
  }

  /** An upper bound of the bytes write() appends for `l`. */
  maxBytes(l: SeccompLine): number {
    const n = l.end - l.start;
    // Values come from the line: comm and exe (printable ASCII) at most double when escaped, the raw line
    // grows at most 6× (\u00XX for control bytes).
    return this.fixedBytes + 6 * (this.ctx.file?.length ?? 0) + 2 * n + (this.raw ? 6 * n : 0);
  }

  /** Append the event's NDJSON line (with its newline) to `out` at `p`; returns the offset after it. */
  write(l: SeccompLine, out: Buffer, p: number): number {
    p = this.writeHead(l, out, p);
    p = put(out, p, UNRESOLVED);
    p = this.writeMid(l, out, p, this.notEnrichedJson);
    return put(out, p, CLOSE);
  }

  /**
   * The keys before the enrichment: `{"schema":…` to `"ses":N`. Then come `,"container":…,"pod":…,"enrichment":…`
   * (UNRESOLVED offline), writeMid(), what the enricher added after it (`,"enrichmentError":…`) and `}\n`.
   */
  writeHead(l: SeccompLine, out: Buffer, p: number): number {
    const ms = l.timeMs;
    const sec = Math.floor(ms / 1000);
    if (sec !== this.second) {
      this.head = bytes(HEAD + timestampSecondPrefix(sec));
      this.second = sec;
    }
    p = put(out, p, this.head);
    p = putMillis(out, p, ms - sec * 1000);
    const buf = l.buf;
    const d = l.digits;
    p = put(out, p, K_SERIAL);
    p = putNumber(out, p, buf, d[Num.Serial]!, d[Num.Serial + 1]!);
    p = put(out, p, this.sourceBlock(l));
    const proc = this.proc;
    if (proc.matches(l)) {
      p = put(out, p, proc.json);
    } else {
      const from = p;
      p = put(out, p, K_PID);
      p = putNumber(out, p, buf, d[Num.Pid]!, d[Num.Pid + 1]!);
      p = put(out, p, K_COMM);
      p = putStr(out, p, buf, l.commForm, l.commStart, l.commEnd);
      p = put(out, p, K_EXE);
      p = putStr(out, p, buf, l.exeForm, l.exeStart, l.exeEnd);
      p = put(out, p, K_UID);
      p = putNumber(out, p, buf, d[Num.Uid]!, d[Num.Uid + 1]!);
      p = put(out, p, K_GID);
      p = putNumber(out, p, buf, d[Num.Gid]!, d[Num.Gid + 1]!);
      p = put(out, p, K_AUID);
      p = putNumber(out, p, buf, d[Num.Auid]!, d[Num.Auid + 1]!);
      p = put(out, p, K_SES);
      p = putNumber(out, p, buf, d[Num.Ses]!, d[Num.Ses + 1]!);
      proc.remember(l, out, from, p);
    }
    return p;
  }

  /**
   * The keys after the enrichment: `,"arch":…` to `"actionData":N`, then `before` (offline: the enrichmentError
   * eventFromRecord sets before raw) and the raw line when asked for.
   */
  writeMid(l: SeccompLine, out: Buffer, p: number, before: Buffer | null): number {
    let s = this.bySyscall.get(l.syscall);
    if (s === undefined) {
      const sc = l.syscall;
      if (this.bySyscall.size >= MAX_CACHED) this.bySyscall.clear(); // hostile logs: numbers beyond any table
      s = bytes(`,"arch":${JSON.stringify(sc.arch ?? null)},"syscall":${JSON.stringify(sc.name ?? null)},"syscallNr":${sc.nr}`);
      this.bySyscall.set(l.syscall, s);
    }
    p = put(out, p, s);
    let c = this.byCode.get(l.code);
    if (c === undefined) {
      if (this.byCode.size >= MAX_CACHED) this.byCode.clear(); // hostile logs: any 32-bit code
      c = bytes(`,"action":${JSON.stringify(l.action)},"actionData":${l.actionData}`);
      this.byCode.set(l.code, c);
    }
    p = put(out, p, c);
    if (before !== null) p = put(out, p, before);
    if (this.raw) {
      p = put(out, p, K_RAW);
      out[p++] = 0x22;
      p = putEscaped(out, p, l.buf, l.start, l.end);
      out[p++] = 0x22;
    }
    return p;
  }

  private sourceBlock(l: SeccompLine): Buffer {
    const host = l.hostStart < 0 ? undefined : l.host;
    if (this.ctx.file !== this.sourceFile || host !== this.sourceHost) {
      const node = JSON.stringify(host ?? this.node);
      const file = JSON.stringify(this.ctx.file);
      this.source = ['auditd', 'auditd-enriched'].map((f) => bytes(`,"node":${node},"source":{"file":${file},"format":"${f}"}`));
      this.sourceFile = this.ctx.file;
      this.sourceHost = host;
    }
    return this.source[l.enriched ? 1 : 0]!;
  }
}

/**
 * The process part of the last event written, and the bytes it was made of: the digits of pid, uid, gid,
 * auid and ses and the comm and exe values (with their forms). Same bytes, same JSON.
 */
class ProcessMemo {
  json = Buffer.alloc(0);
  private readonly key = Buffer.alloc(512);
  /** Per part: its length in `key`, -1 for a number without value; -2: nothing remembered. */
  private readonly lens = new Int32Array(7).fill(-2);
  private commForm = StrForm.None;
  private exeForm = StrForm.None;

  matches(l: SeccompLine): boolean {
    if (l.commForm !== this.commForm || l.exeForm !== this.exeForm) return false;
    const d = l.digits;
    const buf = l.buf;
    const key = this.key;
    const lens = this.lens;
    let at = same(buf, d[Num.Pid]!, d[Num.Pid + 1]!, key, lens[0]!, 0);
    if (at >= 0) at = same(buf, d[Num.Uid]!, d[Num.Uid + 1]!, key, lens[1]!, at);
    if (at >= 0) at = same(buf, d[Num.Gid]!, d[Num.Gid + 1]!, key, lens[2]!, at);
    if (at >= 0) at = same(buf, d[Num.Auid]!, d[Num.Auid + 1]!, key, lens[3]!, at);
    if (at >= 0) at = same(buf, d[Num.Ses]!, d[Num.Ses + 1]!, key, lens[4]!, at);
    if (at >= 0) at = same(buf, l.commStart, l.commEnd, key, lens[5]!, at);
    if (at >= 0) at = same(buf, l.exeStart, l.exeEnd, key, lens[6]!, at);
    return at >= 0;
  }

  /** Remember `l`'s process part, whose JSON was written to `out[from, to)`. */
  remember(l: SeccompLine, out: Buffer, from: number, to: number): void {
    const d = l.digits;
    let at = 0;
    for (let i = 0; i < 5; i++) at = this.keep(i, l.buf, d[2 + 2 * i]!, d[3 + 2 * i]!, at);
    at = this.keep(5, l.buf, l.commStart, l.commEnd, at);
    at = this.keep(6, l.buf, l.exeStart, l.exeEnd, at);
    if (at < 0) {
      this.lens.fill(-2); // too long to keep: nothing matches
      return;
    }
    this.commForm = l.commForm;
    this.exeForm = l.exeForm;
    this.json = Buffer.from(out.subarray(from, to));
  }

  private keep(part: number, buf: Buffer, s: number, e: number, at: number): number {
    if (at < 0) return at;
    if (s < 0) {
      this.lens[part] = -1;
      return at;
    }
    if (at + e - s > this.key.length) return -1;
    this.lens[part] = e - s;
    for (let i = s; i < e; i++) this.key[at++] = buf[i]!;
    return at;
  }
}

/**
 * Whether `buf[s, e)` (s = -1: no value) equals the remembered part `len` bytes at `key[at]`; returns the
 * offset of the next part, or -1.
 */
function same(buf: Buffer, s: number, e: number, key: Buffer, len: number, at: number): number {
  if (s < 0) return len === -1 ? at : -1;
  if (e - s !== len) return -1;
  for (let i = 0; i < len; i++) if (buf[s + i] !== key[at + i]) return -1;
  return at + len;
}

export function put(out: Buffer, p: number, b: Buffer): number {
  const n = b.length;
  if (n > 16) {
    out.set(b, p);
    return p + n;
  }
  // Short constants: a loop beats the native call's fixed cost.
  for (let i = 0; i < n; i++) out[p + i] = b[i]!;
  return p + n;
}

/** Milliseconds 0–999 as the three digits of a timestamp. */
export function putMillis(out: Buffer, p: number, m: number): number {
  out[p] = 0x30 + ((m / 100) | 0);
  out[p + 1] = 0x30 + (((m / 10) | 0) % 10);
  out[p + 2] = 0x30 + (m % 10);
  return p + 3;
}

/** A non-negative integer below 2^53, as JSON.stringify writes it. */
export function putUint(out: Buffer, p: number, n: number): number {
  if (n < 10) {
    out[p] = 0x30 + n;
    return p + 1;
  }
  const digits = uintDigits(n);
  let i = p + digits;
  while (n >= 10) {
    const q = Math.floor(n / 10);
    out[--i] = 0x30 + (n - q * 10);
    n = q;
  }
  out[--i] = 0x30 + n;
  return p + digits;
}

/** How many digits putUint() writes for `n`. */
export function uintDigits(n: number): number {
  let d = 1;
  for (; n >= 10; n = Math.floor(n / 10)) d++;
  return d;
}

/**
 * A numeric field whose digits are `buf[s, e)`, s = -1 for no value (null). The digits are the number's
 * JSON unless a zero leads.
 */
export function putNumber(out: Buffer, p: number, buf: Buffer, s: number, e: number): number {
  if (s < 0) return put(out, p, NULL);
  if (buf[s] === 0x30 && e - s > 1) return putUint(out, p, digitsValue(buf, s, e));
  for (let i = s; i < e; i++) out[p++] = buf[i]!;
  return p;
}

/** A string field as fields.ts decodeValue gives it, then as JSON.stringify writes it. */
function putStr(out: Buffer, p: number, buf: Buffer, form: StrForm, s: number, e: number): number {
  if (form === StrForm.None) return put(out, p, NULL);
  out[p++] = 0x22;
  if (form === StrForm.Text) {
    p = putEscaped(out, p, buf, s, e);
  } else {
    // hex.ts decodeHexString: trailing NULs dropped, the others (argv separators) read as spaces.
    while (e - s >= 2 && buf[e - 2] === 0x30 && buf[e - 1] === 0x30) e -= 2;
    for (let i = s; i < e; i += 2) {
      let b = (hex(buf[i]!) << 4) | hex(buf[i + 1]!);
      if (b === 0) b = 0x20;
      const esc = ESCAPE[b];
      if (esc === undefined) out[p++] = b;
      else p = put(out, p, esc);
    }
  }
  out[p++] = 0x22;
  return p;
}

/** ASCII bytes, escaped as JSON.stringify escapes them. */
export function putEscaped(out: Buffer, p: number, buf: Buffer, s: number, e: number): number {
  for (let i = s; i < e; i++) {
    const b = buf[i]!;
    if (b >= 0x20 && b !== 0x22 && b !== 0x5c) {
      out[p++] = b;
      continue;
    }
    p = put(out, p, ESCAPE[b]!);
  }
  return p;
}

function hex(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10;
}
