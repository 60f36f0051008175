// SECCOMP events of `run --events all` rendered as v1 NDJSON lines straight from the scanned bytes.
//
// The pipeline enriches logged/allowed SECCOMP records once per group (process, second, syscall, executable),
// so the only parts of an event that depend on the enrichment are `container`, `pod`, `enrichment` and a
// trailing `enrichmentError`. A line is rendered when it is scanned, in two parts around those keys
// (SeccompNdjson.writeHead/writeMid), and completed when its group's enrichment is known: no event object,
// no JSON.stringify of the pod's labels per record. The result is byte for byte JSON.stringify of the event
// the general path builds (test/node/run-quiet-seccomp.test.ts compares both).

import type { SeccompLine } from '../../parsers';
import { SeccompNdjson } from '../event/seccomp-ndjson';
import type { EventContext, EventV1 } from '../event/v1';

/**
 * A scanned line in its place among the events, and what a renderer made of it at scan time: `arena[from, mid)`
 * and `arena[mid, to)`, two parts whose meaning is the renderer's, and `tag`, which is the renderer's too.
 */
export interface RenderedLine {
  /** the line itself, `buf[start, end)`: still there when complete() runs (its batch holds its chunk until written) */
  readonly buf: Buffer;
  readonly start: number;
  readonly end: number;
  arena: Buffer;
  from: number;
  mid: number;
  to: number;
  /** the line's audit time */
  timeMs: number;
  tag: unknown;
}

/** A group of lines (QuietGroup) as a renderer sees it: a slot for what it keeps per group, null at first. */
export interface RenderScope {
  renderState: unknown;
}

/**
 * Renders quiet SECCOMP lines for the sinks that take rendered lines (EventSink.writeRendered), in two steps:
 * what does not depend on the enrichment when the line is scanned (add), the whole lines once their groups are
 * enriched (complete). reset(): every line added so far has been completed and written.
 */
export interface LineRenderer {
  /** `scope`: the line's group (same process, second, syscall, executable), where the renderer may keep state */
  add(l: SeccompLine, into: RenderedLine, scope: RenderScope): void;
  /** The lines, whole, as one buffer: the renderer's, written into again after reset() (as its arena is). */
  complete(lines: readonly RenderedLine[], evs: readonly EventV1[]): Buffer;
  reset(): void;
  /** lines it completed the general way (an event object and JSON.stringify each) since it was made */
  readonly general: number;
}

const ARENA_BYTES = 1 << 20;

/**
 * Where renderers write lines at scan time, until complete() copies them out. Reused from the start once every
 * line in it is written (reset()): without that, every MiB of output was a fresh buffer outside V8's heap,
 * whose growth made it collect far more often. A line that does not fit starts a new one; lines already in
 * the old one keep it alive until they are written.
 */
export class RenderArena {
  buf = Buffer.allocUnsafe(ARENA_BYTES);
  /** where the next line goes */
  used = 0;

  /** `n` bytes of its own to write into, from `used` on (a view). */
  take(n: number): Buffer {
    const buf = this.reserve(n);
    const from = this.used;
    this.used = from + n;
    return buf.subarray(from, from + n);
  }

  /** Makes room for `max` bytes at `used`, and returns the buffer to write them into. */
  reserve(max: number): Buffer {
    if (this.used + max > this.buf.length) {
      this.buf = Buffer.allocUnsafe(Math.max(ARENA_BYTES, max));
      this.used = 0;
    }
    return this.buf;
  }

  reset(): void {
    this.used = 0;
  }
}

/** v1 lines: the whole line but its enrichment is written at scan time, from the bytes. */
export class SeccompRenderer implements LineRenderer {
  private readonly writer: SeccompNdjson;
  private readonly arena = new RenderArena();
  /** complete()'s output: reused as the arena is, for the same reason */
  private readonly out = new RenderArena();
  /** the enrichment's two parts per enriched group event (events are kept across batches by the pipeline) */
  private readonly parts = new WeakMap<EventV1, [Buffer, Buffer]>();
  readonly general = 0;

  constructor(ctx: EventContext) {
    this.writer = new SeccompNdjson(ctx);
  }

  reset(): void {
    this.arena.reset();
    this.out.reset();
  }

  /** Renders the parts of `l` that do not depend on its enrichment, and says where in `into`. */
  add(l: SeccompLine, into: RenderedLine): void {
    const arena = this.arena.reserve(this.writer.maxBytes(l));
    const from = this.arena.used;
    const mid = this.writer.writeHead(l, arena, from);
    const to = this.writer.writeMid(l, arena, mid, null);
    this.arena.used = to;
    into.arena = arena;
    into.from = from;
    into.mid = mid;
    into.to = to;
  }

  /** The whole lines of `lines`, each completed with the enrichment of `evs[i]`, as one buffer. */
  complete(lines: readonly RenderedLine[], evs: readonly EventV1[]): Buffer {
    let n = 0;
    const ps: Array<[Buffer, Buffer]> = new Array(lines.length);
    for (let i = 0; i < lines.length; i++) {
      const p = this.enrichmentParts(evs[i]!);
      ps[i] = p;
      const r = lines[i]!;
      n += r.to - r.from + p[0].length + p[1].length;
    }
    const out = this.out.take(n);
    let o = 0;
    for (let i = 0; i < lines.length; i++) {
      const r = lines[i]!;
      const [open, close] = ps[i]!;
      o += r.arena.copy(out, o, r.from, r.mid);
      o += open.copy(out, o);
      o += r.arena.copy(out, o, r.mid, r.to);
      o += close.copy(out, o);
    }
    return out;
  }

  /**
   * `,"container":…,"pod":…,"enrichment":…` and what follows the raw line: the enricher's enrichmentError (a
   * key it adds last) and the closing brace.
   */
  private enrichmentParts(ev: EventV1): [Buffer, Buffer] {
    let p = this.parts.get(ev);
    if (p === undefined) {
      const open = `,"container":${JSON.stringify(ev.container)},"pod":${JSON.stringify(ev.pod)},"enrichment":${JSON.stringify(ev.enrichment)}`;
      const close = `${ev.enrichmentError === undefined ? '' : `,"enrichmentError":${JSON.stringify(ev.enrichmentError)}`}}\n`;
      p = [Buffer.from(open, 'utf8'), Buffer.from(close, 'utf8')];
      this.parts.set(ev, p);
    }
    return p;
  }
}
