// The input of the denials prefilter tests (test/cli/denials-prefilter.test.ts for files,
// test/kafka/denials-prefilter-kafka.test.ts for the events topic): real events from `auditflow parse` (with and
// without raw lines), attributed to pods whose label names mimic the event's own members ("action": "log",
// "actionData"), in another producer's member order, and lines that only nearly match a logged SECCOMP event.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { QueryResult } from '../../src/denials/query';
import type { EventV1 } from '../../src/event/v1';
import { ROOT, runCli } from './cli';

const FIX = path.join(ROOT, 'fixtures/real');

function parsed(raw: boolean): string[] {
  const r = runCli(['parse', '--events', '--node', 'n1', ...(raw ? ['--raw'] : []), path.join(FIX, 'seccomp-auditd.log'), path.join(FIX, 'enriched.log'), path.join(FIX, 'avc-auditd.log'), path.join(FIX, 'multi-record.log')]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

/** An event as the run pipeline writes it: attributed to a pod, whose labels are `labels`. */
function attributed(line: string, labels: Record<string, string>): string {
  const e = JSON.parse(line) as EventV1;
  const { enrichmentError: _dropped, ...rest } = e;
  const ev: EventV1 = { ...rest, container: { id: 'c'.repeat(64), name: 'app', runtime: 'containerd', image: 'img' }, pod: { name: 'p', namespace: 'ns', uid: 'u', labels }, enrichment: 'resolved' };
  // the members in the writer's order: container, pod and enrichment where eventFromRecord has them
  const order = Object.keys(e).filter((k) => k !== 'enrichmentError');
  return JSON.stringify(Object.fromEntries(order.map((k) => [k, ev[k as keyof EventV1]])));
}

/** Another producer's order: the action before the pod, whose labels come last. */
function reordered(line: string, labels: Record<string, string>): string {
  const e = JSON.parse(line) as EventV1;
  const { pod: _p, ...rest } = JSON.parse(attributed(line, labels)) as EventV1;
  return JSON.stringify({ ...rest, action: e.action, actionData: e.actionData, pod: { name: 'p', namespace: 'ns', uid: 'u', labels } });
}

export interface PrefilterCorpus {
  /** every line, in order */
  out: string[];
  /** the SECCOMP events that only logged or were allowed, as parsed (both ways) */
  logged: string[];
  /** the other SECCOMP events, as parsed */
  denied: string[];
}

/** The lines; a query over them must give the same rows and counts with and without the byte check. */
export function prefilterCorpus(): PrefilterCorpus {
  const lines = [...parsed(false), ...parsed(true)];
  const seccomp = lines.filter((l) => (JSON.parse(l) as EventV1).type === 'SECCOMP');
  const logged = seccomp.filter((l) => ['log', 'allow'].includes((JSON.parse(l) as EventV1).action!));
  const denied = seccomp.filter((l) => !logged.includes(l));
  assert.ok(logged.length >= 3 && denied.length >= 2, `the fixtures have logged (${logged.length}) and denied (${denied.length}) SECCOMP events`);
  const mimic = { action: 'log', actionData: '0', app: 'x' };
  const out: string[] = [...lines];
  for (const l of seccomp) {
    out.push(attributed(l, { app: 'web' }), attributed(l, mimic), reordered(l, mimic), reordered(l, { z: 'x', action: 'log' }));
    // nearly: trailing space, a member after the action the writers never put there, a bad escape in raw
    out.push(`${attributed(l, { app: 'web' })} `);
    out.push(attributed(l, { app: 'web' }).replace(/\}$/, ',"extra":1}'));
  }
  for (const l of parsed(true).filter((x) => x.includes('"type":"SECCOMP"') && x.includes('"action":"log"'))) out.push(l.replace(/"raw":"/, '"raw":"\\x'));
  return { out, logged, denied };
}

/**
 * A query over the corpus with every input parsed (`slow`) and with the byte check (`fast`): the same rows and
 * counts from `source`, and exactly the logged events in the writers' layout skipped: as parsed (`logged` has
 * both ways) and attributed with either label set; none in the other order or the near misses.
 */
export function assertSameBothWays(c: PrefilterCorpus, slow: QueryResult, fast: QueryResult, source: 'file' | 'kafka'): void {
  assert.ok(slow.rows.length >= c.denied.length * 5, `denials found (${slow.rows.length})`);
  assert.ok(slow.rows.some((r) => r.ev.pod?.labels['action'] === 'log'), 'among them denials whose pod has an "action": "log" label');
  assert.deepEqual(fast.rows, slow.rows, 'the same denials');
  assert.equal(fast.matched, slow.matched);
  const { unparsed, ...fastCounts } = fast.counts[source];
  const { unparsed: none, ...slowCounts } = slow.counts[source];
  assert.equal(none, 0);
  assert.deepEqual(fastCounts, slowCounts, 'the same inputs, events and garbage counted');
  assert.ok(slow.counts[source].garbage > 0, 'the input with a bad escape is garbage both ways');
  assert.equal(unparsed, c.logged.length * 3, `logged SECCOMP events told from their bytes (${unparsed})`);
}
