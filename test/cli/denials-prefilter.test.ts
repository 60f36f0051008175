// `auditflow denials` (without --all) skips logged SECCOMP events from their bytes, unparsed
// (src/denials/logged-seccomp.ts). It must find exactly what parsing every line finds: on real events from
// `auditflow parse` (with and without raw lines), attributed to pods whose label names mimic the event's own
// members ("action": "log", "actionData"), in another producer's member order, and with lines that only nearly
// match. The query is run both ways over the same file and must give the same rows and counts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EventV1 } from '../../src/event/v1';
import { createLogger } from '../../src/log';
import { runQuery } from '../../src/denials/query';
import { isLoggedSeccompLine } from '../../src/denials/logged-seccomp';
import { ROOT, runCli } from '../env/cli';

const FIX = path.join(ROOT, 'fixtures/real');
let dir: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-denials-prefilter-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

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

test('denials: logged SECCOMP events skipped from their bytes give the same rows and counts as parsing every line', async () => {
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
  const file = path.join(dir, 'events.ndjson');
  fs.writeFileSync(file, out.join('\n') + '\n');

  const log = createLogger('test');
  const query = (parseAll: boolean) => runQuery({ files: [file], filter: {}, parseAll }, log);
  const slow = await query(true);
  const fast = await query(false);
  assert.ok(slow.rows.length >= denied.length * 5, `denials found (${slow.rows.length})`);
  assert.ok(slow.rows.some((r) => r.ev.pod?.labels['action'] === 'log'), 'among them denials whose pod has an "action": "log" label');
  assert.deepEqual(fast.rows, slow.rows, 'the same denials');
  assert.equal(fast.matched, slow.matched);
  const { unparsed, ...fastCounts } = fast.counts.file;
  const { unparsed: none, ...slowCounts } = slow.counts.file;
  assert.equal(none, 0);
  assert.deepEqual(fastCounts, slowCounts, 'the same inputs, events and garbage counted');
  assert.ok(slow.counts.file.garbage > 0, 'the line with a bad escape is garbage both ways');
  // each logged event in the writers' layout was skipped: as parsed (`logged` has both ways) and attributed with
  // either label set; none in the other order or the near misses
  assert.equal(unparsed, logged.length * 3, `logged SECCOMP lines told from their bytes (${unparsed})`);

  // --all keeps logged events: nothing skipped
  const all = await runQuery({ files: [file], filter: { all: true } }, log);
  assert.equal(all.counts.file.unparsed, 0);
});

test('denials: the byte check takes only a top-level logged action at the end of a SECCOMP event', () => {
  const check = (s: string) => {
    const b = Buffer.from(`xx\n${s}\nyy`, 'utf8');
    return isLoggedSeccompLine(b, 3, 3 + Buffer.byteLength(s));
  };
  const head = '{"schema":"auditflow.event/v1","type":"SECCOMP","kind":"seccomp","timestamp":"2026-01-01T00:00:00.000Z"';
  assert.equal(check(`${head},"action":"log","actionData":0}`), true);
  assert.equal(check(`${head},"action":"allow","actionData":0,"enrichmentError":"e \\"q\\" \\u00e9","raw":"type=SECCOMP \\u001d x"}`), true);
  assert.equal(check(`${head},"action":"errno","actionData":1}`), false, 'a denial');
  assert.equal(check(`${head},"action":"log","actionData":01}`), false, 'not a JSON number');
  assert.equal(check(`${head},"action":"log","actionData":0,"raw":"\\q"}`), false, 'a bad escape');
  assert.equal(check(`${head},"action":"log","actionData":0,"raw":"\u0001"}`), false, 'a raw control byte');
  assert.equal(check(`${head},"pod":{"labels":{"action":"log","actionData":0}}}`), false, 'a label');
  assert.equal(check(`${head},"action":"log","actionData":0}}`), false, 'nested');
  assert.equal(check(`${head.replace('SECCOMP', 'AVC')},"action":"log","actionData":0}`), false, 'another type');
});
