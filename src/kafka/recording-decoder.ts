// The aggregator's decoder of recordings-topic values. JSON.parse of a whole message and the checks of every
// field cost ~5 µs a message, two thirds of it in JSON.parse, most of that for the container and pod a node
// repeats in every message of a container (issue 14: the aggregator should take ≥ 100k messages/s).
//
// Fast path: a value laid out exactly as the node sink writes it (JSON.stringify of a TuplesMessage: fixed key
// order, no whitespace) is scanned in place. The container and pod are parsed and checked once per distinct text
// and shared afterwards (read only: sessions keep them as they are); strings are sliced, and JSON.parse'd only
// when they hold an escape. Anything else (another layout, an end marker, a number that is not a plain
// integer, a value that fails a check) goes to the general decoder, decodeRecordingMessage, which parses it
// whole, so the result and the errors (MalformedMessage) are those of the general path by construction.

import type { ContainerRef, PodRef } from '../event/v1';
import { checkContainer, checkPod, decodeRecordingMessage, RECORDING_SCHEMA, type AvcTuple, type RecordingMessage, type SeccompTuple } from './messages';

const PREFIX = `{"schema":"${RECORDING_SCHEMA}","type":"tuples","node":`;
/** Distinct container/pod texts kept; a flood of distinct ones only makes the cache miss. */
const MAX_CACHED = 4096;

/** Thrown inside the scanner: not the node sink's layout, use the general path. */
interface Refs {
  /** `{container},"pod":{pod}` (or null) as the message has them */
  text: string;
  container: ContainerRef;
  pod: PodRef | null;
}

const NOT_CANONICAL = Symbol('not canonical');

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class RecordingDecoder {
  private readonly refs = new Map<string, Refs>();
  private readonly byId = new Map<string, Refs>();
  private last: Refs | null = null;
  /** Calendar dates ("YYYY-MM-DD") Date.parse accepted, and the last one of them. */
  private readonly dates = new Set<string>();
  private lastDate = '\0 none yet';
  private s = '';
  private i = 0;
  /** Values decoded by the fast path and by the general one (tests and profiling). */
  readonly counts = { fast: 0, general: 0 };

  /** Same contract as decodeRecordingMessage: the message, or MalformedMessage. */
  decode(value: Buffer | null): RecordingMessage {
    if (value !== null) {
      const m = this.scan(value.toString('utf8'));
      if (m) {
        this.counts.fast++;
        return m;
      }
    }
    this.counts.general++;
    return decodeRecordingMessage(value);
  }

  private scan(text: string): RecordingMessage | undefined {
    if (!text.startsWith(PREFIX)) return undefined;
    this.s = text;
    this.i = PREFIX.length;
    try {
      const node = this.str();
      this.lit(',"epoch":');
      const epoch = this.str();
      this.lit(',"container":');
      const c0 = this.i;
      // the container and pod text a message of this container id had before, found again here and followed by
      // the seccomp key, is the same complete pair: no scan, and a hash of the id only (the last message's
      // pair first: a node sends a container's tuples in runs)
      let refs: Refs | null | undefined = this.last;
      if (!(refs && this.at(c0, refs.text))) {
        refs = text.slice(c0, c0 + 7) === '{"id":"' ? this.byId.get(this.idAt(c0 + 6)) : undefined;
        if (refs && !this.at(c0, refs.text)) refs = undefined;
      }
      if (refs) {
        this.i = c0 + refs.text.length;
        this.last = refs;
      }
      else {
        this.skipObject();
        this.lit(',"pod":');
        if (this.s.slice(this.i, this.i + 4) === 'null') this.i += 4;
        else this.skipObject();
        refs = this.last = this.refsOf(text.slice(c0, this.i));
        if (this.byId.size >= MAX_CACHED) this.byId.clear();
        this.byId.set(refs.container.id, refs);
      }
      this.lit(',"seccomp":[');
      const seccomp: SeccompTuple[] = [];
      if (this.s.charCodeAt(this.i) === 0x5d /* ] */) this.i++;
      else
        for (;;) {
          seccomp.push(this.seccompTuple());
          if (this.next(',', ']')) break;
        }
      this.lit(',"avc":[');
      const avc: AvcTuple[] = [];
      if (this.s.charCodeAt(this.i) === 0x5d) this.i++;
      else
        for (;;) {
          avc.push(this.avcTuple());
          if (this.next(',', ']')) break;
        }
      this.lit('}');
      if (this.i !== text.length) return undefined;
      return { schema: RECORDING_SCHEMA, type: 'tuples', node, epoch, container: refs.container, pod: refs.pod, seccomp, avc };
    } catch (e) {
      if (e === NOT_CANONICAL) return undefined;
      throw e;
    } finally {
      this.s = '';
    }
  }

  private seccompTuple(): SeccompTuple {
    this.lit('{"arch":');
    const arch = this.strOrNull();
    this.lit(',"syscall":');
    const syscall = this.strOrNull();
    this.lit(',"nr":');
    const nr = this.int();
    this.lit(',"action":');
    const action = this.str();
    const { count, firstSeen, lastSeen, exe } = this.sighting();
    if (this.next(',', '}')) return { arch, syscall, nr, action, count, firstSeen, lastSeen, exe };
    this.lit('"runtimeInit":true}');
    return { arch, syscall, nr, action, count, firstSeen, lastSeen, exe, runtimeInit: true };
  }

  /** The sighting part both tuple kinds end with: `,"count":N,"firstSeen":…,"lastSeen":…,"exe":…`. */
  private sighting(): { count: number; firstSeen: string; lastSeen: string; exe: string | null } {
    this.lit(',"count":');
    const count = this.count();
    this.lit(',"firstSeen":');
    const firstSeen = this.time();
    this.lit(',"lastSeen":');
    const lastSeen = this.time();
    this.lit(',"exe":');
    const exe = this.strOrNull();
    return { count, firstSeen, lastSeen, exe };
  }

  private avcTuple(): AvcTuple {
    this.lit('{"stype":');
    const stype = this.str();
    this.lit(',"ttype":');
    const ttype = this.str();
    this.lit(',"tclass":');
    const tclass = this.str();
    this.lit(',"perm":');
    const perm = this.str();
    this.lit(',"decision":');
    const decision = this.str();
    const { count, firstSeen, lastSeen, exe } = this.sighting();
    this.lit('}');
    return { stype, ttype, tclass, perm, decision, count, firstSeen, lastSeen, exe };
  }

  /** Whether the text at `c0` is `refs` followed by the seccomp key (slice and ===: V8 compares a slice ~4x faster than startsWith). */
  private at(c0: number, refs: string): boolean {
    const end = c0 + refs.length;
    return this.s.slice(c0, end) === refs && this.s.slice(end, end + 12) === ',"seccomp":[';
  }

  /** The raw text of the string at `q` up to the next quote: a cache key only (an id with an escape just misses: byId holds decoded ids). */
  private idAt(q: number): string {
    const s = this.s;
    const end = s.indexOf('"', q + 1);
    return end < 0 ? '' : s.slice(q + 1, end);
  }

  /** The container and pod of this text, parsed and checked by the general path's own checks once. */
  private refsOf(text: string): Refs {
    let r = this.refs.get(text);
    if (r) return r;
    let v: { container?: unknown; pod?: unknown };
    try {
      v = JSON.parse(`{"container":${text}}`) as typeof v;
    } catch {
      throw NOT_CANONICAL;
    }
    try {
      r = { text, container: checkContainer(v.container), pod: checkPod(v.pod) };
    } catch {
      // the general path throws its own MalformedMessage for it
      throw NOT_CANONICAL;
    }
    if (this.refs.size >= MAX_CACHED) this.refs.clear();
    this.refs.set(text, r);
    return r;
  }

  /** Moves past the object (or array) here, strings included; JSON.parse of the text judges the rest. */
  private skipObject(): void {
    const s = this.s;
    if (s.charCodeAt(this.i) !== 0x7b /* { */) throw NOT_CANONICAL;
    let depth = 0;
    for (let j = this.i; j < s.length; j++) {
      const c = s.charCodeAt(j);
      if (c === QUOTE) {
        for (j++; j < s.length; j++) {
          const d = s.charCodeAt(j);
          if (d === QUOTE) break;
          if (d === BACKSLASH) j++;
        }
      } else if (c === 0x7b || c === 0x5b /* [ */) depth++;
      else if (c === 0x7d || c === 0x5d /* } ] */) {
        if (--depth === 0) {
          this.i = j + 1;
          return;
        }
      }
    }
    throw NOT_CANONICAL;
  }

  private lit(l: string): void {
    if (this.s.slice(this.i, this.i + l.length) !== l) throw NOT_CANONICAL;
    this.i += l.length;
  }

  /** Consumes `a` (false) or `b` (true). */
  private next(a: string, b: string): boolean {
    const ch = this.s[this.i];
    this.i++;
    if (ch === a) return false;
    if (ch === b) return true;
    throw NOT_CANONICAL;
  }

  /** A JSON string: sliced when it holds no escape, JSON.parse'd when it does (which also checks the escapes). */
  private str(): string {
    const s = this.s;
    if (s.charCodeAt(this.i) !== QUOTE) throw NOT_CANONICAL;
    const start = this.i + 1;
    let escaped = false;
    for (let j = start; j < s.length; j++) {
      const c = s.charCodeAt(j);
      if (c === QUOTE) {
        this.i = j + 1;
        if (!escaped) return s.slice(start, j);
        try {
          return JSON.parse(s.slice(start - 1, j + 1)) as string;
        } catch {
          throw NOT_CANONICAL;
        }
      }
      if (c === BACKSLASH) {
        escaped = true;
        j++; // the escaped character (a quote or backslash among them) is never the end
      } else if (c < 0x20) throw NOT_CANONICAL; // a raw control character: not JSON
    }
    throw NOT_CANONICAL;
  }

  private strOrNull(): string | null {
    if (this.s.charCodeAt(this.i) === 0x6e /* n */ && this.s.slice(this.i, this.i + 4) === 'null') {
      this.i += 4;
      return null;
    }
    return this.str();
  }

  /** A plain JSON integer (-?(0|[1-9][0-9]*)) of at most 15 digits; fractions and exponents go the general way. */
  private int(): number {
    const s = this.s;
    let j = this.i;
    const neg = s.charCodeAt(j) === 0x2d;
    if (neg) j++;
    const d0 = j;
    let n = 0;
    for (; j < s.length; j++) {
      const c = s.charCodeAt(j) - 0x30;
      if (c < 0 || c > 9) break;
      n = n * 10 + c;
    }
    const digits = j - d0;
    if (digits === 0 || digits > 15 || (digits > 1 && s.charCodeAt(d0) === 0x30)) throw NOT_CANONICAL;
    const c = s.charCodeAt(j);
    if (c === 0x2e || c === 0x65 || c === 0x45) throw NOT_CANONICAL; // . e E
    this.i = j;
    return neg ? -n : n;
  }

  /** checkCount's rule (a positive safe integer), else the general path says why not. */
  private count(): number {
    const n = this.int();
    if (n < 1) throw NOT_CANONICAL;
    return n;
  }

  /**
   * checkTime's rule (Date.parse accepts it) without a Date.parse per timestamp: the node's own layout
   * (YYYY-MM-DDTHH:MM:SS.sssZ) with a time of day in range and a date Date.parse took before; anything else
   * is asked of Date.parse.
   */
  private knownDate(t: string): boolean {
    const date = t.slice(0, 10);
    if (!this.dates.has(date)) return false;
    this.lastDate = date;
    return true;
  }

  private time(): string {
    const t = this.str();
    if (t.length === 24 && t.charCodeAt(10) === 0x54 /* T */ && t.charCodeAt(23) === 0x5a /* Z */ && (t.slice(0, 10) === this.lastDate || this.knownDate(t))) {
      const hh = num2(t, 11);
      const mm = num2(t, 14);
      const ss = num2(t, 17);
      // (the milliseconds: two overlapping pairs of digits are three digits)
      if (t[13] === ':' && t[16] === ':' && t[19] === '.' && hh < 24 && mm < 60 && ss < 60 && num2(t, 20) < 100 && num2(t, 21) < 100) return t;
    }
    if (Number.isNaN(Date.parse(t))) throw NOT_CANONICAL;
    const date = t.slice(0, 10);
    if (t.length === 24 && t[10] === 'T' && DATE.test(date) && !Number.isNaN(Date.parse(`${date}T00:00:00.000Z`))) {
      if (this.dates.size >= MAX_CACHED) this.dates.clear();
      this.dates.add(date);
      this.lastDate = date;
    }
    return t;
  }
}

/** The two decimal digits at s[i], or 100 when they are not two digits. */
function num2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 0x30;
  const b = s.charCodeAt(i + 1) - 0x30;
  if (a < 0 || a > 9 || b < 0 || b > 9) return 100;
  return a * 10 + b;
}
