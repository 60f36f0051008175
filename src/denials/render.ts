// Output of `auditflow denials`: an aligned table for people, JSON or NDJSON for tools.

import type { EventV1 } from '../event/v1';
import { actionOf, whatOf } from '../event/decision';
import type { Group, GroupKey, Row } from './query';
import { terminalText } from '../io/terminal-text';

export type OutputMode = 'table' | 'json' | 'ndjson';

const HEADERS: Record<GroupKey, string> = {
  node: 'NODE',
  namespace: 'NAMESPACE',
  pod: 'NAMESPACE/POD',
  container: 'CONTAINER',
  exe: 'EXE',
  syscall: 'SYSCALL/PERMISSION',
  action: 'ACTION',
  mechanism: 'MECHANISM',
};

/** `ns/pod`, or what enrichment said about a process outside any pod. */
export function podCell(ev: EventV1): string {
  if (ev.pod) return `${ev.pod.namespace}/${ev.pod.name}`;
  if (ev.enrichment === 'host') return '(host)';
  return '-';
}

/** Cells wider than this are cut in the middle: a path's start and its file name both stay visible. */
const MAX_CELL = 72;

/** Cut at code points: half a surrogate pair would be a lone surrogate on the terminal. */
function cutAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c >= 0xdc00 && c <= 0xdfff ? i - 1 : i;
}

function fit(s: string): string {
  if (s.length <= MAX_CELL) return s;
  const head = cutAt(s, Math.floor((MAX_CELL - 1) / 2));
  const tail = cutAt(s, s.length - (MAX_CELL - 1 - head));
  return s.slice(0, head) + '…' + s.slice(tail);
}

export function table(header: string[], rows: string[][], rightAlign: Set<number> = new Set()): string {
  // names in cells come from workloads: escaped so they cannot drive the terminal or fake a column
  const cells = rows.map((r) => r.map((c) => fit(terminalText(c))));
  const w = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (rightAlign.has(i) ? c.padStart(w[i]!) : i === r.length - 1 ? c : c.padEnd(w[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)].join('\n');
}

export function rowsTable(rows: Row[]): string {
  return table(
    ['TIME', 'NAMESPACE/POD', 'CONTAINER', 'EXE', 'SYSCALL/PERMISSION', 'ACTION'],
    rows.map(({ ev }) => [ev.timestamp, podCell(ev), ev.container?.name ?? '-', ev.exe ?? ev.comm ?? '-', whatOf(ev), actionOf(ev) ?? '-']),
  );
}

export function groupsTable(groups: Group[], keys: GroupKey[]): string {
  return table(
    ['COUNT', 'FIRST SEEN', 'LAST SEEN', ...keys.map((k) => HEADERS[k])],
    groups.map((g) => [String(g.count), g.firstSeen, g.lastSeen, ...keys.map((k) => g.key[k] ?? '-')]),
    new Set([0]),
  );
}

/** A group as a flat JSON object: its key fields, then count and first/last seen. */
export function groupObject(g: Group): Record<string, unknown> {
  return { ...g.key, count: g.count, firstSeen: g.firstSeen, lastSeen: g.lastSeen };
}
