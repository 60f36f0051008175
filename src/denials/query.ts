// A denials query: read the sources once, keep the events the filter selects, order them by time and,
// when asked, group them ("top denials by pod") with counts and first/last seen.

import type { EventV1 } from '../event/v1';
import type { Logger } from '../log';
import { actionOf, decisionOf, whatOf } from '../event/decision';
import { newCounts, type ReadCounts } from './event-input';
import { compileFilter, compileScope, type DenialFilter } from './filter';
import type { SuppressedMessage } from '../kafka/messages';
import { readEventFiles } from './source-file';
import { isLoggedSeccompLine } from './logged-seccomp';
import type { KafkaSourceOptions } from './kafka-options';

export interface Row {
  ev: EventV1;
  timeMs: number;
}

export interface DenialQuery {
  /** NDJSON files ("-" for stdin). */
  files: string[];
  kafka?: KafkaSourceOptions;
  filter: DenialFilter;
  /** Keep only the most recent N rows (after ordering). */
  limit?: number;
  /** Parse every line, even those the byte check finds to be logged SECCOMP events (tests compare both ways). */
  parseAll?: boolean;
}

export interface QueryResult {
  rows: Row[];
  /**
   * Events of the selected pods/containers/nodes and window that node agents held back (per-container rate
   * limit) and only counted on the topic: they may include denials this query cannot show.
   */
  suppressed: number;
  /** Rows matched before --limit cut them. */
  matched: number;
  counts: { file: ReadCounts; kafka: ReadCounts };
}

export async function runQuery(q: DenialQuery, log: Logger): Promise<QueryResult> {
  const keep = compileFilter(q.filter);
  const rows: Row[] = [];
  const onEvent = (ev: EventV1, timeMs: number) => {
    if (keep(ev, timeMs)) rows.push({ ev, timeMs });
  };
  const counts = { file: newCounts(), kafka: newCounts() };
  let suppressed = 0;
  const scope = compileScope(q.filter);
  const onSuppressed = (s: SuppressedMessage) => {
    if (scope(s)) suppressed += s.count;
  };
  // without --all only denials are kept: a logged SECCOMP event (a line of a file, a message of the events
  // topic) is told from its bytes and not parsed
  const unwanted = q.filter.all || q.parseAll ? undefined : isLoggedSeccompLine;
  if (q.files.length) await readEventFiles(q.files, onEvent, counts.file, log, unwanted);
  if (q.kafka) {
    // loaded on demand: kafkajs adds a quarter second to every CLI start otherwise
    const { readEventsTopic } = require('./source-kafka') as typeof import('./source-kafka');
    await readEventsTopic(q.kafka, onEvent, counts.kafka, log, onSuppressed, unwanted);
  }
  rows.sort(byTime);
  const matched = rows.length;
  const out = q.limit !== undefined && rows.length > q.limit ? rows.slice(rows.length - q.limit) : rows;
  return { rows: out, matched, suppressed, counts };
}

function byTime(a: Row, b: Row): number {
  return a.timeMs - b.timeMs || a.ev.node.localeCompare(b.ev.node) || a.ev.serial - b.ev.serial;
}

export const GROUP_KEYS = ['node', 'namespace', 'pod', 'container', 'exe', 'syscall', 'action', 'mechanism'] as const;
export type GroupKey = (typeof GROUP_KEYS)[number];

export function isGroupKey(s: string): s is GroupKey {
  return (GROUP_KEYS as readonly string[]).includes(s);
}

/** The value of one grouping dimension; `syscall` is the refused thing (syscall or permission). */
export function keyValue(ev: EventV1, k: GroupKey): string | null {
  switch (k) {
    case 'node':
      return ev.node;
    case 'namespace':
      return ev.pod?.namespace ?? null;
    case 'pod':
      return ev.pod ? `${ev.pod.namespace}/${ev.pod.name}` : null;
    case 'container':
      return ev.container?.name ?? null;
    case 'exe':
      return ev.exe ?? ev.comm ?? null;
    case 'syscall':
      return whatOf(ev);
    case 'action':
      return actionOf(ev) ?? null;
    case 'mechanism':
      return decisionOf(ev) ?? null;
  }
}

export interface Group {
  key: Partial<Record<GroupKey, string | null>>;
  count: number;
  firstSeen: string;
  lastSeen: string;
}

/** Groups ordered by count (most first), then by most recent. */
export function groupRows(rows: Row[], keys: GroupKey[]): Group[] {
  const groups = new Map<string, Group & { firstMs: number; lastMs: number }>();
  for (const { ev, timeMs } of rows) {
    const key: Partial<Record<GroupKey, string | null>> = {};
    for (const k of keys) key[k] = keyValue(ev, k);
    const id = JSON.stringify(keys.map((k) => key[k]));
    const g = groups.get(id);
    if (!g) {
      groups.set(id, { key, count: 1, firstSeen: ev.timestamp, lastSeen: ev.timestamp, firstMs: timeMs, lastMs: timeMs });
      continue;
    }
    g.count++;
    if (timeMs < g.firstMs) (g.firstMs = timeMs), (g.firstSeen = ev.timestamp);
    if (timeMs > g.lastMs) (g.lastMs = timeMs), (g.lastSeen = ev.timestamp);
  }
  return [...groups.values()]
    .sort((a, b) => b.count - a.count || b.lastMs - a.lastMs)
    .map(({ key, count, firstSeen, lastSeen }) => ({ key, count, firstSeen, lastSeen }));
}
