// One NDJSON line or Kafka message value → a schema-v1 event, or the reason it is not one. Inputs are
// untrusted (a truncated spool, a file someone appended to, another producer on the topic): nothing here
// throws, and the caller counts and logs what is skipped.

import { SCHEMA_V1, type EventV1 } from '../event/v1';
import type { Logger } from '../log';
import { eventsRead, garbageRead } from './metrics';
import { badField, tooDeep } from './event-shape';
import { terminalText } from '../io/terminal-text';

export type GarbageReason = 'not-json' | 'not-an-event' | 'other-schema' | 'bad-timestamp' | 'bad-field' | 'too-deep' | 'line-too-long';

/** An event, or why the input is not one (`field`: the wrongly typed field, for the log). */
export type Decoded = { ev: EventV1; timeMs: number } | { garbage: GarbageReason; field?: string };

export function decodeEvent(text: string): Decoded {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { garbage: 'not-json' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { garbage: 'not-an-event' };
  const o = v as Record<string, unknown>;
  if (o['schema'] !== SCHEMA_V1) return { garbage: typeof o['schema'] === 'string' ? 'other-schema' : 'not-an-event' };
  if (typeof o['type'] !== 'string' || typeof o['kind'] !== 'string' || typeof o['node'] !== 'string') return { garbage: 'not-an-event' };
  if (typeof o['source'] !== 'object' || o['source'] === null) return { garbage: 'not-an-event' };
  const t = typeof o['timestamp'] === 'string' ? Date.parse(o['timestamp']) : NaN;
  if (Number.isNaN(t)) return { garbage: 'bad-timestamp' };
  // Types at the boundary: every field later code reads has the schema's type, so a filter, a table or a
  // SIEM mapping can trust it; and no nesting a writer would overflow the stack on.
  if (tooDeep(o)) return { garbage: 'too-deep' };
  const field = badField(o);
  if (field !== undefined) return { garbage: 'bad-field', field: terminalText(field) }; // a path of the input's own keys
  return { ev: o as unknown as EventV1, timeMs: t };
}

export interface ReadCounts {
  /** Lines or messages looked at (blank lines not counted). */
  inputs: number;
  events: number;
  /** of those events, the ones counted from their bytes without being parsed (logged-seccomp.ts) */
  unparsed: number;
  garbage: number;
  garbageByReason: Map<GarbageReason, number>;
}

export function newCounts(): ReadCounts {
  return { inputs: 0, events: 0, unparsed: 0, garbage: 0, garbageByReason: new Map() };
}

/** Counts one skipped input (metric + counts) and logs the first few of each reason in full. */
export function countGarbage(
  counts: ReadCounts,
  source: 'file' | 'kafka',
  reason: GarbageReason,
  where: Record<string, unknown>,
  excerpt: string,
  log: Logger,
  logFirst = 5,
): void {
  counts.garbage++;
  const n = (counts.garbageByReason.get(reason) ?? 0) + 1;
  counts.garbageByReason.set(reason, n);
  garbageRead.inc({ source, reason });
  // the excerpt is the input's own text, shown on a terminal: escaped like any name there
  if (n <= logFirst) log.warn({ ...where, reason, excerpt: terminalText(excerpt.slice(0, 200)) }, `skipped input that is not a schema-v1 event (${reason})`);
}

export function countEvent(counts: ReadCounts, source: 'file' | 'kafka'): void {
  counts.events++;
  eventsRead.inc({ source });
}

/** Counts one event told from its bytes and not parsed (logged-seccomp.ts): an event, and an unparsed one. */
export function countUnparsedEvent(counts: ReadCounts, source: 'file' | 'kafka'): void {
  countEvent(counts, source);
  counts.unparsed++;
}
