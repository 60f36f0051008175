// Issue 10, bad input to `denials` and `explain`: a wrongly typed field, a deeply nested value, a null
// entry or a line that is no object is counted (metric reason, stderr summary, a log line) and skipped;
// the rest of the query comes out whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { EventV1 } from '../../src/event/v1';
import { decodeEvent } from '../../src/denials/event-input';
import { runCli } from '../env/cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'af-badinput-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function denial(i: number): EventV1 {
  return {
    schema: 'auditflow.event/v1', type: 'SECCOMP', kind: 'seccomp', timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(), serial: i,
    node: 'node-a', source: { file: null, format: 'auditd' }, pid: 100 + i, comm: 'mkdir', exe: '/bin/mkdir', uid: 0, gid: 0, auid: null, ses: null,
    arch: 'x86_64', syscall: 'mkdir', syscallNr: 83, action: 'errno', actionData: 1,
    container: { id: 'c0ffee', name: 'app', runtime: 'containerd', image: null },
    pod: { name: `web-${i % 3}`, namespace: 'shop', uid: 'u', labels: { app: 'web' } }, enrichment: 'resolved',
  };
}

const DEEP = 100_000;
// each: the line, and the reason it is counted under
const BAD: Array<[string, string]> = [
  [JSON.stringify({ ...denial(0), exe: 1 }), 'bad-field'],
  [JSON.stringify({ ...denial(0), pod: 'x' }), 'bad-field'],
  [JSON.stringify({ ...denial(0), syscall: {} }), 'bad-field'],
  [JSON.stringify({ ...denial(0), pod: { name: 2, namespace: 'shop', uid: 'u', labels: {} } }), 'bad-field'],
  [JSON.stringify({ ...denial(0), container: { id: 'c', name: ['x'] } }), 'bad-field'],
  [JSON.stringify({ ...denial(0), comm: [] }), 'bad-field'],
  [JSON.stringify({ ...denial(0), serial: 'seven' }), 'bad-field'],
  [JSON.stringify({ ...denial(0), action: 7 }), 'bad-field'],
  [JSON.stringify({ ...denial(0), kind: 'selinux', type: 'AVC', selinux: { decision: 'denied', permissions: [1] } }), 'bad-field'],
  [JSON.stringify({ ...denial(0), kind: 'selinux', type: 'AVC', selinux: { decision: null, permissions: ['read'] } }), 'bad-field'],
  [JSON.stringify({ ...denial(0), kind: 'apparmor', type: 'AVC', apparmor: { apparmor: 'DENIED', deniedMask: 5 } }), 'bad-field'],
  [JSON.stringify({ ...denial(0), fields: { a: { b: 1 } } }), 'bad-field'],
  [JSON.stringify({ ...denial(0), pod: { name: 'p', namespace: 'n', uid: 'u', labels: { app: null } } }), 'bad-field'],
  [JSON.stringify(denial(0)).slice(0, -1) + `,"extra":${'['.repeat(DEEP)}${']'.repeat(DEEP)}}`, 'too-deep'],
  [JSON.stringify(denial(0)).slice(0, -1) + `,"exe":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}`, 'too-deep'],
  ['['.repeat(DEEP), 'not-json'],
  ['['.repeat(DEEP) + ']'.repeat(DEEP), 'not-an-event'],
  ['null', 'not-an-event'],
  ['42', 'not-an-event'],
  ['"a string"', 'not-an-event'],
  ['[]', 'not-an-event'],
  ['true', 'not-an-event'],
];

test('decodeEvent types every field at the boundary: each bad line has its reason, the good event passes', () => {
  assert.ok('ev' in decodeEvent(JSON.stringify(denial(1))));
  for (const [line, reason] of BAD) {
    const d = decodeEvent(line);
    assert.ok('garbage' in d, line.slice(0, 120));
    assert.equal(d.garbage, reason, line.slice(0, 120));
  }
});

test('denials: 300 good denials with bad lines interleaved: 300 out in every output, the bad ones counted, exit 0', () => {
  const lines: string[] = [];
  for (let i = 0; i < 300; i++) {
    lines.push(JSON.stringify(denial(i)));
    if (i % 13 === 0) lines.push(BAD[(i / 13) % BAD.length]![0]);
  }
  const nBad = lines.length - 300;
  const expectReasons: Record<string, number> = {};
  for (let i = 0; i < 300; i += 13) {
    const r = BAD[(i / 13) % BAD.length]![1];
    expectReasons[r] = (expectReasons[r] ?? 0) + 1;
  }
  const file = path.join(tmp, 'mixed.ndjson');
  fs.writeFileSync(file, lines.join('\n') + '\n');

  const nd = runCli(['denials', '-o', 'ndjson', file]);
  assert.equal(nd.code, 0, nd.stderr.slice(0, 2000));
  const out = nd.stdout.trim().split('\n').map((l) => JSON.parse(l) as EventV1);
  assert.deepEqual(out.map((e) => e.serial), [...Array(300).keys()]);
  const logs = nd.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const summary = logs.find((l) => l['garbage'] !== undefined);
  assert.ok(summary, nd.stderr.slice(0, 2000));
  assert.equal(summary['garbage'], nBad);
  assert.deepEqual(summary['reasons'], expectReasons);
  assert.ok(logs.some((l) => l['reason'] === 'bad-field' && l['field'] === 'exe' && l['line'] === 2), 'the skipped line is logged with its number and field');

  const table = runCli(['denials', '-o', 'table', file]);
  assert.equal(table.code, 0, table.stderr.slice(0, 2000));
  const rows = table.stdout.trimEnd().split('\n');
  assert.equal(rows.length, 1 + 300 + 1);
  assert.equal(rows.at(-1), `(300 denials, 300 events read, ${nBad} garbage lines skipped)`);

  const json = runCli(['denials', '-o', 'json', file]);
  assert.equal(json.code, 0, json.stderr.slice(0, 2000));
  assert.equal((JSON.parse(json.stdout) as unknown[]).length, 300);

  for (const format of ['ecs', 'ocsf']) {
    const f = runCli(['denials', '--format', format, file]);
    assert.equal(f.code, 0, `${format}: ${f.stderr.slice(0, 2000)}`);
    assert.equal(f.stdout.trim().split('\n').length, 300);
  }

  const grouped = runCli(['denials', '--group-by', 'pod,exe,syscall', file]);
  assert.equal(grouped.code, 0, grouped.stderr.slice(0, 2000));
  const groups = grouped.stdout.trim().split('\n').map((l) => JSON.parse(l) as { count: number });
  assert.equal(groups.reduce((n, g) => n + g.count, 0), 300);
});

function evidenceFile(name: string, doc: unknown): string {
  const file = path.join(tmp, `${name}.evidence.json`);
  fs.writeFileSync(file, JSON.stringify(doc));
  return file;
}

const entry = (exe: string) => ({ firstSeen: '2026-01-01T00:00:00.000Z', lastSeen: '2026-01-02T00:00:00.000Z', count: 3, exe, pod: 'db-0', namespace: 'shop' });

test('explain: a null evidence entry and entries of the wrong shape are skipped and counted; the rest is explained', () => {
  const file = evidenceFile('se-db', {
    name: 'se-db', kind: 'SelinuxProfile', recording: 'se', container: 'db', final: true,
    evidence: {
      'shadow_t:file:read': entry('/bin/cat'),
      'shadow_t:file:write': null,
      'shadow_t:file:open': { ...entry('/bin/cat'), exe: 1 },
      'shadow_t:file:getattr': [],
      'shadow_t:file:lock': 'x',
      'shadow_t:file:ioctl': { ...entry('/bin/cat'), count: '3' },
      'tmp_t:dir:search': entry('/bin/ls'),
    },
  });
  const r = runCli(['explain', file, 'shadow_t']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^shadow_t:file:read in SelinuxProfile se-db \(recording se, container db\):\n {2}first seen {2}2026-01-01T00:00:00.000Z {2}by \/bin\/cat in pod shop\/db-0\n/);
  assert.equal(r.stdout.split('\n').filter((l) => / in SelinuxProfile /.test(l)).length, 1);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines.includes(`auditflow explain: skipped 5 malformed evidence entries or fields in ${file} (1× entry is null, not an object, 1× entry "exe" is not a string or null, 1× entry is an array, not an object, 1× entry is a string, not an object, 1× entry "count" is not a number)`), r.stderr);
  const log = lines.map((l) => (l.startsWith('{') ? (JSON.parse(l) as Record<string, unknown>) : undefined)).find((l) => l?.['skipped'] === 5);
  assert.ok(log, `a log line counts the skipped entries: ${r.stderr}`);

  const j = runCli(['explain', '--json', file, 'read']);
  assert.equal(j.code, 0, j.stderr);
  assert.deepEqual(JSON.parse(j.stdout), { 'shadow_t:file:read': entry('/bin/cat') });
  const gone = runCli(['explain', file, 'shadow_t:file:write']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /"shadow_t:file:write" is not in profile se-db \(2 entries\)/);
});

test('explain: a file that is not an evidence object fails with a message, not a stack trace', () => {
  for (const [name, doc] of [['a', null], ['b', [1]], ['c', { name: 'c', evidence: 5 }], ['d', 'text']] as const) {
    const r = runCli(['explain', evidenceFile(name, doc), 'read']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^auditflow explain: .* is not an evidence file: /, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});
