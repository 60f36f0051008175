// One NDJSON line or Kafka message value → a schema-v1 event, or the reason it is not one. Inputs are
// untrusted (a truncated spool, a file someone appended to, another producer on the topic): nothing here
// throws, and the caller counts and logs what is skipped.

import { SCHEMA_V1, type EventV1 } from '../event/v1';
import type { Logger } from '../log';
import { eventsRead, garbageRead } from './metrics';

export type GarbageReason = 'not-json' | 'not-an-event' | 'other-schema' | 'bad-timestamp' | 'line-too-long';

export type Decoded = { ev: EventV1; timeMs: number } | { garbage: GarbageReason };

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
  // Optional objects must be objects when present, so later code can trust their shape.
  for (const k of ['selinux', 'apparmor', 'container', 'pod'] as const) {
    const x = o[k];
    if (x !== undefined && x !== null && typeof x !== 'object') return { garbage: 'not-an-event' };
  }
  if (o['selinux'] && !Array.isArray((o['selinux'] as Record<string, unknown>)['permissions'])) return { garbage: 'not-an-event' };
  return { ev: o as unknown as EventV1, timeMs: t };
}

export interface ReadCounts {
  /** Lines or messages looked at (blank lines not counted). */
  inputs: number;
  events: number;
  garbage: number;
  garbageByReason: Map<GarbageReason, number>;
}

export function newCounts(): ReadCounts {
  return { inputs: 0, events: 0, garbage: 0, garbageByReason: new Map() };
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
  if (n <= logFirst) log.warn({ ...where, reason, excerpt: excerpt.slice(0, 200) }, `skipped input that is not a schema-v1 event (${reason})`);
}

export function countEvent(counts: ReadCounts, source: 'file' | 'kafka'): void {
  counts.events++;
  eventsRead.inc({ source });
}
