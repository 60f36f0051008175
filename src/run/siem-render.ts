// SECCOMP events of `run --events all --format ecs|ocsf` rendered from templates instead of a document each.
//
// The general path builds the event, maps it (toEcs/toOcsf), compacts the map and stringifies ~1.5 KB of
// JSON: ~35–40 µs a SECCOMP record here, most of a SIEM feed's cost. Yet a logged SECCOMP record's document
// depends on its process, syscall, action, source and its group's enrichment, which stay the same for long
// runs of records, and per record only on its timestamp, serial and raw line. So the document is built the
// general way once per (variant, enrichment), a variant being the record but those three and its pid, with
// sentinel values in their place; its JSON is cut at the sentinels into a template, and each record fills in its
// own. With the pid open, a shell's short-lived children share their templates as one long-lived process does.
//
// Exactness does not rest on knowing where a mapper puts those values, or in which forms (OCSF has the time
// both as text and as epoch milliseconds): the document is built twice, with two sets of random sentinels,
// and the template is used only when both cut into the same constant parts with sentinels of the same kinds
// in the same places. Anything else (a value that changes the document's shape, a sentinel met in the data,
// say in a pod label) sends that variant's records the general way, one document each.
// test/node/run-quiet-seccomp.test.ts compares the output byte for byte with the general path.

import { randomInt } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { isRecord, Num, parseLine, type StrForm, type SeccompLine, type SyscallInfo } from '../../parsers';
import { put, putEscaped, putMillis, putNumber, putUint, uintDigits } from '../event/seccomp-ndjson';
import { timestampSecondPrefix, formatTimestamp } from '../event/timestamp';
import { eventFromAuditEvent, type EventContext, type EventV1 } from '../event/v1';
import { MAX_LINE } from '../io/line-records';
import { RenderArena, type LineRenderer, type RenderedLine, type RenderScope } from './seccomp-render';

/** What a template leaves open, in the order Sentinels lists them. */
const enum Slot {
  /** the RFC 3339 timestamp, YYYY-MM-DDTHH:MM:SS.mmmZ */
  Iso = 0,
  /** the timestamp as epoch milliseconds */
  Ms = 1,
  Serial = 2,
  /** the raw line's JSON string content */
  Raw = 3,
  /** the process id, for a variant whose pid is plain (Variant.pid) */
  Pid = 4,
}

/** Values standing for a record's own in a document, and how each appears in its JSON. */
export interface Sentinels {
  ms: number;
  serial: number;
  raw: string;
  /** a pid as the kernel may hand out (PLAIN_PID), put in the variant's line in place of its own */
  pid: number;
}

/** Two sets of sentinels, random per process: a workload cannot plant them in what it controls. */
export function randomSentinels(): [Sentinels, Sentinels] {
  // timestamps in 2100–2199 (13 digits), serials of 15 digits, raw lines of 24 letters: none is a part of another
  const one = (): Sentinels => ({
    ms: 4102444800000 + randomInt(0, 3155760000000),
    serial: 100000000000000 + randomInt(0, 2 ** 47),
    raw: `zq${randomInt(0, 2 ** 47).toString(36)}${randomInt(0, 2 ** 47).toString(36)}`.padEnd(24, 'x'),
    pid: randomInt(1_000_000, PID_MAX + 1),
  });
  const a = one();
  let b = one();
  while (b.ms === a.ms || b.serial === a.serial || b.raw === a.raw || b.pid === a.pid) b = one();
  return [a, b];
}

/** The kernel's largest pid (PID_MAX_LIMIT on 64-bit). */
const PID_MAX = 4_194_304;
/** A pid the parser reads as the number its digits say: no leading zero, at most PID_MAX. */
const PLAIN_PID = /^[1-9][0-9]{0,6}$/;

interface Template {
  /** constant parts, one more than slots */
  consts: Buffer[];
  slots: Uint8Array;
  constBytes: number;
}

/**
 * The bytes a line's document depends on besides its timestamp, serial and raw line: pid, uid, gid, auid,
 * ses, comm, exe and host (with their forms), syscall, code and format, and the source file.
 */
class Variant {
  /** a line of this variant, to build its documents from */
  readonly text: string;
  private readonly key: Buffer;
  /** per part, its length in key; -1: absent */
  private readonly lens = new Int32Array(PARTS);
  private readonly commForm: StrForm;
  private readonly exeForm: StrForm;
  private readonly syscall: SyscallInfo;
  private readonly code: number;
  private readonly enriched: boolean;
  private readonly file: string | null;
  /**
   * all its documents depend on, as text: the key of its templates across batches (a variant lives in one batch's
   * group). Without the pid when that is plain: processes of one executable and enrichment share templates.
   */
  readonly sig: string;
  /** a plain pid's digits (its JSON), filled into its templates' Pid slots; null: the pid is in sig and templates */
  readonly pid: Buffer | null = null;
  /** where the pid's digits are in text */
  readonly pidFrom: number = -1;
  readonly pidTo: number = -1;
  /** the group event the template was last looked up for, and the template (null: the general way for these) */
  ev: EventV1 | null = null;
  tpl: Template | null = null;

  constructor(l: SeccompLine, file: string | null) {
    this.text = l.text();
    this.commForm = l.commForm;
    this.exeForm = l.exeForm;
    this.syscall = l.syscall;
    this.code = l.code;
    this.enriched = l.enriched;
    this.file = file;
    const r = rangesOf(l);
    const parts: Buffer[] = [];
    for (let i = 0; i < PARTS; i++) {
      const s = r[2 * i]!;
      this.lens[i] = s < 0 ? -1 : r[2 * i + 1]! - s;
      if (s >= 0) parts.push(l.buf.subarray(s, r[2 * i + 1]!));
    }
    this.key = Buffer.concat(parts);
    const pidLen = this.lens[0]!;
    let sigKey = this.key;
    let sigLens = this.lens.join(',');
    const pidText = pidLen > 0 ? this.key.toString('latin1', 0, pidLen) : '';
    if (PLAIN_PID.test(pidText) && Number(pidText) <= PID_MAX) {
      this.pid = Buffer.from(this.key.subarray(0, pidLen));
      this.pidFrom = r[0]! - l.start;
      this.pidTo = r[1]! - l.start;
      sigKey = this.key.subarray(pidLen);
      sigLens = `pid,${this.lens.subarray(1).join(',')}`;
    }
    this.sig = `${l.syscall.auditArch}:${l.syscall.nr}:${l.code}:${l.enriched ? 1 : 0}:${l.commForm}${l.exeForm}:${sigLens}:${file}:${sigKey.toString('latin1')}`;
  }

  /** Its line with the pid `pid` in place of its own (a plain pid only). */
  lineWithPid(pid: number): string {
    return this.pid === null ? this.text : `${this.text.slice(0, this.pidFrom)}${pid}${this.text.slice(this.pidTo)}`;
  }

  matches(l: SeccompLine, file: string | null): boolean {
    if (l.syscall !== this.syscall || l.code !== this.code || l.enriched !== this.enriched || l.commForm !== this.commForm || l.exeForm !== this.exeForm || file !== this.file) return false;
    const r = rangesOf(l);
    const buf = l.buf;
    const key = this.key;
    let at = 0;
    for (let i = 0; i < PARTS; i++) {
      const s = r[2 * i]!;
      const n = this.lens[i]!;
      if (s < 0) {
        if (n !== -1) return false;
        continue;
      }
      if (r[2 * i + 1]! - s !== n) return false;
      for (let j = 0; j < n; j++) if (buf[s + j] !== key[at + j]) return false;
      at += n;
    }
    return true;
  }
}

const PARTS = 8;
const ranges = new Int32Array(2 * PARTS);

/** The byte ranges a variant is made of (start -1: absent), in a scratch array valid until the next call. */
function rangesOf(l: SeccompLine): Int32Array {
  const d = l.digits;
  for (let i = 0; i < 10; i++) ranges[i] = d[Num.Pid + i]!;
  ranges[10] = l.commStart;
  ranges[11] = l.commEnd;
  ranges[12] = l.exeStart;
  ranges[13] = l.exeEnd;
  ranges[14] = l.hostStart;
  ranges[15] = l.hostEnd;
  return ranges;
}

/**
 * Variants kept per group (the group fixes process, second, syscall and executable: its lines differ at most in
 * their ids and action). Beyond them (a log cycling ids) a line makes a variant of its own.
 */
const GROUP_VARIANTS = 8;
/**
 * Templates kept, by group enrichment and variant. A group holds one second of one process's syscall, so keyed by
 * the group's event a busy process's templates were built anew every second, and a short-lived process's for
 * each of its groups (at 10k records/s of a churning workload, the larger part of an ECS feed's CPU).
 */
const TEMPLATES_KEPT = 4096;
const TEMPLATE_BYTES = 16 << 20;
/** A variant whose two cuts disagreed: its records go the general way. */
const NO_TEMPLATE = Symbol('no template');
const ISO_BYTES = 24;

export class SiemRenderer implements LineRenderer {
  private readonly arena = new RenderArena();
  /** complete()'s output, reused as the arena is */
  private readonly out = new RenderArena();
  private second = -1;
  private isoPrefix = Buffer.alloc(0);
  /** templates by the group's enrichment and the variant (enrichmentKeys' value NUL Variant.sig) */
  private readonly templates = new LRUCache<string, Template | typeof NO_TEMPLATE>({
    max: TEMPLATES_KEPT,
    // keys hold the pod's labels, which a cluster's users choose: bounded in bytes too
    maxSize: TEMPLATE_BYTES,
    sizeCalculation: (t, k) => 2 * k.length + (t === NO_TEMPLATE ? 0 : t.constBytes) + 64,
  });
  /** per enriched group event, all a template takes from it: its container, pod and enrichment, as JSON */
  private readonly enrichmentKeys = new WeakMap<EventV1, string>();
  /** the sentinels' JSON, per set, in Slot order */
  private readonly marks: [string[], string[]];
  general = 0;
  /** templates built (two documents each) since it was made */
  built = 0;

  constructor(
    private readonly ctx: EventContext,
    /** the format's mapper, as the sink applies it to an event (src/sink/format) */
    private readonly map: (ev: EventV1) => unknown,
    private readonly sentinels: [Sentinels, Sentinels] = randomSentinels(),
  ) {
    const marks = (s: Sentinels) => [formatTimestamp(s.ms), String(s.ms), String(s.serial), s.raw, String(s.pid)];
    this.marks = [marks(sentinels[0]), marks(sentinels[1])];
  }

  reset(): void {
    this.arena.reset();
    this.out.reset();
  }

  /** Keeps the line's serial (as JSON) and, with raw lines, its escaped text: `arena[from, mid)`, `arena[mid, to)`. */
  add(l: SeccompLine, into: RenderedLine, scope: RenderScope): void {
    const arena = this.arena.reserve(16 + (this.ctx.raw ? 6 * (l.end - l.start) : 0));
    const from = this.arena.used;
    const d = l.digits;
    const mid = putNumber(arena, from, l.buf, d[Num.Serial]!, d[Num.Serial + 1]!);
    const to = this.ctx.raw ? putEscaped(arena, mid, l.buf, l.start, l.end) : mid;
    this.arena.used = to;
    into.arena = arena;
    into.from = from;
    into.mid = mid;
    into.to = to;
    into.timeMs = l.timeMs;
    into.tag = this.variantFor(l, scope);
  }

  complete(lines: readonly RenderedLine[], evs: readonly EventV1[]): Buffer {
    // sizes first: one buffer for all
    const tpls: Array<Template | Buffer> = new Array(lines.length);
    let n = 0;
    for (let i = 0; i < lines.length; i++) {
      const r = lines[i]!;
      const v = r.tag as Variant;
      const ev = evs[i]!;
      if (v.ev !== ev) {
        v.ev = ev;
        v.tpl = this.templateFor(v, ev);
      }
      const t = v.tpl;
      if (t === null) {
        const doc = Buffer.from(this.generalLine(r.buf.toString('latin1', r.start, r.end), ev), 'utf8');
        tpls[i] = doc;
        n += doc.length;
        this.general++;
        continue;
      }
      tpls[i] = t;
      n += t.constBytes;
      const slots = t.slots;
      for (let k = 0; k < slots.length; k++) {
        switch (slots[k]) {
          case Slot.Iso: n += ISO_BYTES; break;
          case Slot.Ms: n += uintDigits(r.timeMs); break;
          case Slot.Serial: n += r.mid - r.from; break;
          case Slot.Raw: n += r.to - r.mid; break;
          case Slot.Pid: n += v.pid!.length; break;
        }
      }
    }
    const out = this.out.take(n);
    let p = 0;
    for (let i = 0; i < lines.length; i++) {
      const t = tpls[i]!;
      if (Buffer.isBuffer(t)) {
        p += t.copy(out, p);
        continue;
      }
      const r = lines[i]!;
      const v = r.tag as Variant;
      const { consts, slots } = t;
      for (let k = 0; k < slots.length; k++) {
        p = put(out, p, consts[k]!);
        switch (slots[k]) {
          case Slot.Iso: p = this.putIso(out, p, r.timeMs); break;
          case Slot.Ms: p = putUint(out, p, r.timeMs); break;
          case Slot.Serial: p += r.arena.copy(out, p, r.from, r.mid); break;
          case Slot.Raw: p += r.arena.copy(out, p, r.mid, r.to); break;
          case Slot.Pid: p = put(out, p, v.pid!); break;
        }
      }
      p = put(out, p, consts[slots.length]!);
    }
    return out;
  }

  /** formatTimestamp(ms) as bytes, its `YYYY-MM-DDTHH:MM:SS.` kept per second. */
  private putIso(out: Buffer, p: number, ms: number): number {
    const sec = Math.floor(ms / 1000);
    if (sec !== this.second) {
      this.isoPrefix = Buffer.from(timestampSecondPrefix(sec), 'latin1');
      this.second = sec;
    }
    p = putMillis(out, put(out, p, this.isoPrefix), ms - sec * 1000);
    out[p++] = 0x5a; // Z
    return p;
  }

  /** The event of `line` as the general path builds it, with the enrichment of its group's event `gev`. */
  private eventOf(line: string, gev: EventV1): EventV1 | null {
    const r = parseLine(line, { maxLineLength: MAX_LINE });
    if (!isRecord(r)) return null; // not for a line the scanner took; then the general way, which reports it
    const ev = eventFromAuditEvent({ timeMs: r.timeMs, serial: r.serial, records: [r] }, this.ctx);
    ev.container = gev.container;
    ev.pod = gev.pod;
    ev.enrichment = gev.enrichment;
    if (gev.enrichmentError !== undefined) ev.enrichmentError = gev.enrichmentError;
    return ev;
  }

  /** One line the general way: its document and a newline. */
  private generalLine(line: string, gev: EventV1): string {
    const ev = this.eventOf(line, gev);
    return ev === null ? '' : JSON.stringify(this.map(ev)) + '\n';
  }

  private templateFor(v: Variant, gev: EventV1): Template | null {
    // eventOf() takes exactly these from the group's event; the rest of a document comes from the variant's line.
    // The error of a process gone before it was attributed names its pid: keyed by its pieces around the pid, such
    // processes share templates too.
    let ek = this.enrichmentKeys.get(gev);
    if (ek === undefined) this.enrichmentKeys.set(gev, (ek = JSON.stringify([gev.container, gev.pod, gev.enrichment, aroundPid(gev.enrichmentError, v.pid) ?? null])));
    const key = `${ek}\0${v.sig}`;
    const kept = this.templates.get(key);
    if (kept !== undefined) return kept === NO_TEMPLATE ? null : kept;
    const t = this.template(v, gev);
    this.built++;
    this.templates.set(key, t ?? NO_TEMPLATE);
    return t;
  }

  /**
   * The template of a variant's documents with group event `gev`, or null when the two cuts disagree. Each set of
   * sentinels has its own event, parsed from the line with that set's pid in place of the variant's (when plain):
   * wherever a pid ends up in a document, it is then either a slot in both cuts or a disagreement.
   */
  private template(v: Variant, gev: EventV1): Template | null {
    const cuts: Cut[] = [];
    const pieces = aroundPid(gev.enrichmentError, v.pid);
    for (let i = 0; i < 2; i++) {
      const s = this.sentinels[i]!;
      const enrichmentError = Array.isArray(pieces) ? pieces.join(String(s.pid)) : pieces;
      const base = this.eventOf(v.lineWithPid(s.pid), { ...gev, enrichmentError });
      if (base === null) return null;
      const doc = JSON.stringify(this.map({ ...base, timestamp: formatTimestamp(s.ms), serial: s.serial, raw: base.raw === undefined ? undefined : s.raw }));
      cuts.push(cut(doc + '\n', this.marks[i]!));
    }
    const [a, b] = cuts as [Cut, Cut];
    if (a.slots.length !== b.slots.length || a.consts.length !== b.consts.length) return null;
    for (let i = 0; i < a.slots.length; i++) if (a.slots[i] !== b.slots[i]) return null;
    for (let i = 0; i < a.consts.length; i++) if (a.consts[i] !== b.consts[i]) return null;
    // a pid slot where the variant has no plain pid to fill in: the sentinel was met in the data
    if (v.pid === null && a.slots.includes(Slot.Pid)) return null;
    const consts = a.consts.map((c) => Buffer.from(c, 'utf8'));
    return { consts, slots: Uint8Array.from(a.slots), constBytes: consts.reduce((t, c) => t + c.length, 0) };
  }

  private variantFor(l: SeccompLine, scope: RenderScope): Variant {
    const file = this.ctx.file;
    let vs = scope.renderState as Variant[] | null;
    if (vs === null) scope.renderState = vs = [];
    for (let i = 0; i < vs.length; i++) if (vs[i]!.matches(l, file)) return vs[i]!;
    const v = new Variant(l, file);
    if (vs.length < GROUP_VARIANTS) vs.push(v);
    return v;
  }
}

/**
 * `error` cut at each number equal to the plain pid `own` (bounded by non-digits); without a plain pid, the error
 * whole. Templates are keyed by the pieces (as JSON: no text an error holds can stand for a cut), so a record of
 * another process shares them only if its error holds its own pid in exactly those places and is the same
 * elsewhere; the template, cut from the pieces joined with a sentinel pid, then fills in the record's own.
 */
function aroundPid(error: string | undefined, own: Buffer | null): string | string[] | undefined {
  if (error === undefined || own === null) return error;
  return error.split(new RegExp(`(?<![0-9])${own.toString('latin1')}(?![0-9])`));
}

interface Cut {
  consts: string[];
  slots: Slot[];
}

/** `doc` cut at every occurrence of the marks (the earliest first; at one place, the longest). */
function cut(doc: string, marks: readonly string[]): Cut {
  const consts: string[] = [];
  const slots: Slot[] = [];
  let from = 0;
  for (;;) {
    let at = -1;
    let slot = -1;
    for (let k = 0; k < marks.length; k++) {
      const i = doc.indexOf(marks[k]!, from);
      if (i >= 0 && (at < 0 || i < at || (i === at && marks[k]!.length > marks[slot]!.length))) {
        at = i;
        slot = k;
      }
    }
    if (at < 0) break;
    consts.push(doc.slice(from, at));
    slots.push(slot as Slot);
    from = at + marks[slot]!.length;
  }
  consts.push(doc.slice(from));
  return { consts, slots };
}

