// Tokenizer for the `key=value key="value" key='nested payload'` body of an audit record.
//
// It never materialises a key or value while scanning: it keeps offsets into the line and compares keys
// in place, so a record that is only counted or only asked for four fields costs one pass over its text.
// Values are found by exact key, never by searching the text, so a process named `scontext=x` cannot
// plant a field (its comm is written quoted or hex-encoded by the kernel and is consumed here as one value).

import { decodeHexString, isHexString } from './hex';

const SPACE = 0x20;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const EQUALS = 0x3d;
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
  private readonly at: number[];

  constructor(text: string, at: number[]) {
    this.text = text;
    this.at = at;
  }

  get size(): number {
    return this.at.length / STRIDE;
  }

  private indexOf(key: string): number {
    const at = this.at;
    const n = key.length;
    const text = this.text;
    for (let i = 0; i < at.length; i += STRIDE) {
      if (at[i + 1]! - at[i]! === n && text.startsWith(key, at[i]!)) return i;
    }
    return -1;
  }

  has(key: string): boolean {
    return this.indexOf(key) !== -1;
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
      out[k] = decodeValue(this.text, at[i + 2]!, at[i + 3]!, at[i + 4] as Quote) ?? null;
    }
    return out;
  }

  /** Raw (undecoded) key/value pairs, in order, duplicates included. */
  *entries(): IterableIterator<[string, string, Quote]> {
    const at = this.at;
    for (let i = 0; i < at.length; i += STRIDE) {
      yield [this.text.slice(at[i]!, at[i + 1]!), this.text.slice(at[i + 2]!, at[i + 3]!), at[i + 4] as Quote];
    }
  }
}

const EMPTY_FIELDS = new Fields('', []);
export function emptyFields(): Fields {
  return EMPTY_FIELDS;
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
};

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
 */
export function tokenize(text: string, start: number, end: number): Fields {
  const at: number[] = [];
  scan.truncated = false;
  scan.gluedAt = -1;
  scan.lostSeparatorAt = -1;
  let i = start;
  while (i < end) {
    // skip separators
    let c = text.charCodeAt(i);
    // NBSP and U+FFFD (an undecodable byte) also separate: real AVCs have been logged with 0xA0 for spaces.
    while (c === SPACE || c === GS || c === 0xa0 || c === 0xfffd) {
      if (++i >= end) return new Fields(text, at);
      c = text.charCodeAt(i);
    }
    // a key runs to '=' unless a space comes first (then it is a bare word)
    const ks = i;
    while (i < end) {
      c = text.charCodeAt(i);
      if (c === EQUALS || c === SPACE || c === GS) break;
      i++;
    }
    if (i >= end || c !== EQUALS) continue; // bare word or trailing text: not a field
    const ke = i;
    i++; // past '='
    if (ke === ks) {
      // "=value": not a field; skip the value
      while (i < end && text.charCodeAt(i) !== SPACE) i++;
      continue;
    }
    c = i < end ? text.charCodeAt(i) : SPACE;
    if (c === DQUOTE) {
      const vs = i + 1;
      let ve = text.indexOf('"', vs);
      if (ve === -1 || ve >= end) {
        ve = end;
        scan.truncated = true;
      }
      at.push(ks, ke, vs, ve, Quote.Double);
      i = ve + 1;
    } else if (c === SQUOTE) {
      // Nested payloads (msg='…') contain spaces and double quotes but no single quote; the payload ends
      // at the next single quote.
      const vs = i + 1;
      let ve = text.indexOf("'", vs);
      if (ve === -1 || ve >= end) {
        ve = end;
        scan.truncated = true;
      }
      at.push(ks, ke, vs, ve, Quote.Single);
      i = ve + 1;
    } else {
      const vs = i;
      while (i < end) {
        c = text.charCodeAt(i);
        if (c === SPACE || c === GS) break;
        if (c === EQUALS) {
          const k = interpretedKeyStart(text, vs, i);
          if (k !== -1) {
            at.push(ks, ke, vs, k, Quote.None);
            scan.lostSeparatorAt = k;
            return new Fields(text, at);
          }
        }
        i++;
      }
      const last = at.length - STRIDE;
      if (ke - ks === 3 && last >= 0 && text.startsWith('msg=audit(', ks) && at[last + 1]! - at[last]! === 4 &&
        text.startsWith('type', at[last]!)) {
        // Two records on one line: the previous field was the next record's `type=` (maybe after node=/host=).
        let g = at.length - STRIDE;
        while (g >= STRIDE && isPrefixKey(text, at[g - STRIDE]!, at[g - STRIDE + 1]!)) g -= STRIDE;
        scan.gluedAt = at[g]!;
        at.length = g;
        return new Fields(text, at);
      }
      at.push(ks, ke, vs, i, Quote.None);
    }
  }
  return new Fields(text, at);
}

function isPrefixKey(text: string, ks: number, ke: number): boolean {
  return ke - ks === 4 && (text.startsWith('node', ks) || text.startsWith('host', ks));
}
