// `auditflow denials` over NDJSON files: real events from `auditflow parse` (the real fixtures, and a live
// seccomp EPERM denial auditd writes during the test), filters, time windows, grouping, the three outputs,
// and garbage lines counted, never fatal.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { EventV1 } from '../../src/event/v1';
import { ROOT, runCli } from '../env/cli';
import { auditMark, readAuditSince, recordsForPid, runUnderSeccomp } from '../env/rig';

const FIX = path.join(ROOT, 'fixtures/real');
const FIXTURES = ['seccomp-auditd.log', 'seccomp-syslog.log', 'avc-auditd.log', 'avc-syslog.log', 'apparmor.log', 'multi-record.log', 'enriched.log', 'odd.log'];

let dir: string;
let fixtureFile: string; // all fixture events, schema v1
let podFile: string; // real denials attributed to pods, as the enricher attributes them
let liveFile: string; // a seccomp errno denial and the logged syscalls of the same run, written now
let fixtureEvents: EventV1[];
let podEvents: EventV1[];
let liveEvents: EventV1[];
let livePid: number;

// The definition of a denial (issue 12: one for every output), written independently of src/event: an
// `avc: denied` message in whichever record carried it, and SELINUX_ERR (a refused context), count too.
function denied(e: EventV1): boolean {
  return (
    (e.kind === 'seccomp' && e.action !== undefined && e.action !== 'log' && e.action !== 'allow') ||
    e.selinux?.decision === 'denied' ||
    e.selinuxError !== undefined ||
    e.apparmor?.apparmor === 'DENIED'
  );
}

const key = (e: EventV1) => `${e.node}|${e.timestamp}|${e.serial}|${e.type}`;
const ndjson = (evs: EventV1[]) => evs.map((e) => JSON.stringify(e)).join('\n') + '\n';

function denials(args: string[], input?: string): { code: number | null; out: EventV1[]; stdout: string; stderr: string } {
  const r = runCli(['denials', ...args], input);
  const out = r.code === 0 && !args.includes('table') && !args.includes('json') ? r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as EventV1) : [];
  return { code: r.code, out, stdout: r.stdout, stderr: r.stderr };
}

function parseEvents(files: string[]): EventV1[] {
  const r = runCli(['parse', '--events', '--node', 'node-a', ...files]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as EventV1);
}

function attribute(e: EventV1, ns: string, pod: string, ctr: string, n: number): EventV1 {
  const a: EventV1 = {
    ...e,
    node: n % 2 ? 'node-b' : 'node-a',
    container: { id: `c0ffee${n.toString(16).padStart(6, '0')}`, name: ctr, runtime: 'containerd', image: 'localhost/busybox:cri-test' },
    pod: { name: pod, namespace: ns, uid: `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`, labels: { app: pod.split('-')[0]! } },
    enrichment: 'resolved',
  };
  delete a.enrichmentError;
  return a;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'af-denials-'));
  fixtureEvents = parseEvents(FIXTURES.map((f) => path.join(FIX, f)));
  fixtureFile = path.join(dir, 'fixtures.ndjson');
  fs.writeFileSync(fixtureFile, ndjson(fixtureEvents));

  // Real denials of three kinds, attributed to pods: the seccomp kills to shop/web-*, SELinux to shop/db-0,
  // AppArmor to kube-system/agent-*.
  const kills = fixtureEvents.filter((e) => e.kind === 'seccomp' && e.action?.startsWith('kill'));
  const avcs = fixtureEvents.filter((e) => e.type === 'AVC' && e.selinux?.decision === 'denied').slice(0, 5);
  const aas = fixtureEvents.filter((e) => e.apparmor?.apparmor === 'DENIED').slice(0, 4);
  podEvents = [
    ...kills.map((e, i) => attribute(e, 'shop', i % 2 ? 'web-2' : 'web-1', 'app', i)),
    ...avcs.map((e, i) => attribute(e, 'shop', 'db-0', 'db', 100 + i)),
    ...aas.map((e, i) => attribute(e, 'kube-system', `agent-${i % 2}`, 'agent', 200 + i)),
  ];
  podFile = path.join(dir, 'pods.ndjson');
  fs.writeFileSync(podFile, ndjson(podEvents));

  const mark = await auditMark();
  const run = await runUnderSeccomp(['/bin/busybox', 'mkdir', path.join(dir, 'made')], { errno: 83 });
  assert.notEqual(run.exitCode, 0, `mkdir under --errno 83 must fail: ${run.stderr}`);
  livePid = run.pid;
  const log = path.join(dir, 'audit.log');
  fs.writeFileSync(log, recordsForPid(await readAuditSince(mark), run.pid).join('\n') + '\n');
  liveEvents = parseEvents([log]);
  liveFile = path.join(dir, 'live.ndjson');
  fs.writeFileSync(liveFile, ndjson(liveEvents));
  assert.ok(liveEvents.some((e) => e.action === 'errno' && e.syscall === 'mkdir'), 'the live run wrote its errno denial');
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('by default exactly the denials come out, oldest first, as schema-v1 NDJSON (not a TTY)', () => {
  const r = denials([fixtureFile, liveFile]);
  assert.equal(r.code, 0, r.stderr);
  const want = [...fixtureEvents, ...liveEvents].filter(denied);
  assert.ok(want.length > 250, `the fixtures hold many denials (${want.length})`);
  assert.deepEqual(r.out.map(key).sort(), want.map(key).sort());
  for (let i = 1; i < r.out.length; i++) assert.ok(Date.parse(r.out[i - 1]!.timestamp) <= Date.parse(r.out[i]!.timestamp), 'ordered by time');
  assert.ok(r.out.every((e) => e.schema === 'auditflow.event/v1'));
});

test('the live EPERM denial is found with its pid, exe, syscall and action', () => {
  const r = denials(['--syscall', 'mkdir', '--action', 'errno', liveFile]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.out.length, 1, r.stdout);
  const e = r.out[0]!;
  assert.equal(e.pid, livePid);
  assert.equal(e.exe, '/usr/bin/busybox');
  assert.equal(e.syscall, 'mkdir');
  assert.equal(e.action, 'errno');
  assert.equal(denials(['--syscall', '83', liveFile]).out.length, 1, 'a syscall by number');
});

test('--action takes exact values and wildcards; several values are alternatives', () => {
  const kp = denials(['--action', 'kill_process', fixtureFile]).out;
  assert.deepEqual(kp.map(key).sort(), fixtureEvents.filter((e) => e.action === 'kill_process').map(key).sort());
  const kills = denials(['--action', 'kill*', fixtureFile]).out;
  assert.equal(kills.length, fixtureEvents.filter((e) => e.kind === 'seccomp' && e.action?.startsWith('kill')).length);
  assert.ok(kills.length > kp.length);
  const both = denials(['--action', 'kill_process,kill_thread', fixtureFile]).out;
  assert.equal(both.length, kills.length);
  const mac = denials(['--action', 'denied', fixtureFile]).out;
  assert.equal(mac.length, fixtureEvents.filter((e) => denied(e) && e.kind !== 'seccomp').length, 'SELinux and AppArmor denials');
});

test('--permission matches SELinux permissions and AppArmor masks', () => {
  const dac = denials(['--permission', 'dac_override', fixtureFile]).out;
  const want = fixtureEvents.filter((e) => denied(e) && e.selinux?.permissions.includes('dac_override'));
  assert.ok(want.length > 0);
  assert.deepEqual(dac.map(key).sort(), want.map(key).sort());
  const r = denials(['--permission', 'r', fixtureFile]).out;
  assert.ok(r.length > 0 && r.every((e) => e.apparmor && (e.apparmor.deniedMask ?? e.apparmor.requestedMask) === 'r'), 'AppArmor denials with mask r');
});

test('--namespace, --pod, --container and --node select by the enriched attribution', () => {
  const shop = denials(['--namespace', 'shop', podFile]).out;
  assert.equal(shop.length, podEvents.filter((e) => e.pod!.namespace === 'shop').length);
  const web = denials(['--pod', 'web-*', podFile]).out;
  assert.ok(web.length > 0 && web.every((e) => e.pod!.name.startsWith('web-') && e.kind === 'seccomp'));
  const db = denials(['--namespace', 'shop', '--container', 'db', podFile]).out;
  assert.deepEqual(db.map(key).sort(), podEvents.filter((e) => e.container!.name === 'db').map(key).sort());
  assert.equal(denials(['--namespace', 'shop', '--container', 'agent', podFile]).out.length, 0, 'flags combine with AND');
  const nodeB = denials(['--node', 'node-b', podFile]).out;
  assert.deepEqual(nodeB.map(key).sort(), podEvents.filter((e) => e.node === 'node-b').map(key).sort());
  assert.equal(denials(['--pod', 'web-1', fixtureFile]).out.length, 0, 'unattributed events have no pod');
});

test('--since is inclusive, --until exclusive, in RFC 3339 or as a date', () => {
  const ds = fixtureEvents.filter(denied).sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
  const lo = ds[10]!.timestamp;
  const hi = ds[40]!.timestamp;
  const r = denials(['--since', lo, '--until', hi, fixtureFile]);
  assert.equal(r.code, 0, r.stderr);
  const want = ds.filter((e) => Date.parse(e.timestamp) >= Date.parse(lo) && Date.parse(e.timestamp) < Date.parse(hi));
  assert.deepEqual(r.out.map(key).sort(), want.map(key).sort());
  assert.ok(r.out.some((e) => e.timestamp === lo), 'an event exactly at --since is in');
  assert.ok(!r.out.some((e) => e.timestamp === hi), 'an event exactly at --until is out');
  const y2010 = denials(['--since', '2010-01-01', '--until', '2011-01-01', fixtureFile]).out;
  assert.equal(y2010.length, ds.filter((e) => e.timestamp.startsWith('2010-')).length);
  assert.ok(y2010.length > 0);
});

test('--since accepts a duration back from now: only the denial made during this test run', () => {
  const soon = new Date(Date.now() + 5 * 60_000).toISOString(); // the fixtures hold one record dated in the future
  const r = denials(['--since', '15m', '--until', soon, fixtureFile, liveFile]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.out.map((e) => [e.pid, e.syscall, e.action]), [[livePid, 'mkdir', 'errno']]);
});

test('--all also keeps the allowed decisions (here the logged syscalls of the live run)', () => {
  const r = denials(['--all', liveFile]).out;
  assert.equal(r.length, liveEvents.filter((e) => e.kind === 'seccomp').length);
  assert.ok(r.some((e) => e.action === 'log') && r.some((e) => e.action === 'errno'));
});

test('table output: the documented columns, one row per denial, a footer with counts', () => {
  const r = denials(['-o', 'table', podFile, liveFile]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^TIME\s+NAMESPACE\/POD\s+CONTAINER\s+EXE\s+SYSCALL\/PERMISSION\s+ACTION$/);
  const n = podEvents.length + 1;
  assert.equal(lines.length, 1 + n + 1);
  assert.equal(lines.at(-1), `(${n} denials, ${podEvents.length + liveEvents.length} events read)`);
  const live = lines.find((l) => l.includes('/usr/bin/busybox'))!;
  assert.match(live, /^\S+Z\s+-\s+-\s+\/usr\/bin\/busybox\s+mkdir\s+errno$/);
  const kill = lines.find((l) => l.includes('/usr/libexec/virtiofsd'))!;
  assert.match(kill, /\sshop\/web-\d\s+app\s+\/usr\/libexec\/virtiofsd\s+sigreturn\s+kill_process$/);
  assert.ok(lines.some((l) => / kube-system\/agent-\d\s+agent\s+\S+\s+open r \/\S*\s+denied$/.test(l)), 'AppArmor: operation, mask and path');
});

test('json output is one array of the same events as ndjson', () => {
  const j = runCli(['denials', '-o', 'json', podFile]);
  assert.equal(j.code, 0, j.stderr);
  const arr = JSON.parse(j.stdout) as EventV1[];
  assert.deepEqual(arr, denials(['-o', 'ndjson', podFile]).out);
  assert.equal(arr.length, podEvents.length);
});

test('--group-by pod,container,syscall counts with first and last seen, biggest group first', () => {
  const r = runCli(['denials', '--group-by', 'pod,container,syscall', '-o', 'ndjson', podFile]);
  assert.equal(r.code, 0, r.stderr);
  const groups = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  // expected, computed from the input directly
  const want = new Map<string, EventV1[]>();
  for (const e of podEvents) {
    const what = e.kind === 'seccomp' ? e.syscall! : undefined;
    const k = `${e.pod!.namespace}/${e.pod!.name}|${e.container!.name}|${what ?? ''}`;
    if (what !== undefined) want.set(k, [...(want.get(k) ?? []), e]);
  }
  for (const [k, evs] of want) {
    const [pod, container, syscall] = k.split('|');
    const g = groups.find((x) => x['pod'] === pod && x['container'] === container && x['syscall'] === syscall);
    assert.ok(g, `group ${k}`);
    const ts = evs.map((e) => e.timestamp).sort((a, b) => Date.parse(a) - Date.parse(b));
    assert.equal(g['count'], evs.length, k);
    assert.equal(g['firstSeen'], ts[0]);
    assert.equal(g['lastSeen'], ts.at(-1));
  }
  assert.equal(groups.reduce((n, g) => n + (g['count'] as number), 0), podEvents.length, 'every denial in exactly one group');
  for (let i = 1; i < groups.length; i++) assert.ok((groups[i - 1]!['count'] as number) >= (groups[i]!['count'] as number), 'biggest first');

  const t = runCli(['denials', '--group-by', 'pod', '-o', 'table', podFile]);
  assert.equal(t.code, 0, t.stderr);
  const lines = t.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^COUNT\s+FIRST SEEN\s+LAST SEEN\s+NAMESPACE\/POD$/);
  const db = lines.find((l) => l.endsWith('shop/db-0'))!;
  assert.match(db, /^\s*5\s/, 'five SELinux denials in shop/db-0');
  assert.equal(lines.at(-1), `(${podEvents.length} denials, ${new Set(podEvents.map((e) => e.pod!.name)).size} groups, ${podEvents.length} events read)`);
});

test('--limit keeps the most recent denials', () => {
  const all = denials([fixtureFile]).out;
  const last3 = denials(['--limit', '3', fixtureFile]).out;
  assert.deepEqual(last3.map(key), all.slice(-3).map(key));
});

test('garbage lines are counted and reported, and the good events still come out', () => {
  const good = podEvents.slice(0, 3);
  const text =
    JSON.stringify(good[0]) + '\n' +
    'not json at all\n' +
    '{"truncated": \n' +
    JSON.stringify(good[1]) + '\n' +
    '[1,2,3]\n' +
    JSON.stringify({ ...good[2], schema: 'auditflow.event/v0' }) + '\n' +
    JSON.stringify({ ...good[2], timestamp: 'yesterday' }) + '\n' +
    '\n' +
    JSON.stringify(good[2]) + '\n';
  const file = path.join(dir, 'garbage.ndjson');
  fs.writeFileSync(file, text);
  const r = denials([file]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.out.map(key).sort(), good.map(key).sort());
  const logs = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const summary = logs.find((l) => l['garbage'] !== undefined);
  assert.ok(summary, r.stderr);
  assert.equal(summary['garbage'], 5);
  assert.deepEqual(summary['reasons'], { 'not-json': 2, 'not-an-event': 1, 'other-schema': 1, 'bad-timestamp': 1 });
  assert.ok(logs.some((l) => l['reason'] === 'not-json' && l['line'] === 2), 'each skipped line is logged with its line number');
  const t = runCli(['denials', '-o', 'table', file]);
  assert.match(t.stdout, /\(3 denials, 3 events read, 5 garbage lines skipped\)/);
});

test('gzip files and stdin are read like plain files', () => {
  const gz = path.join(dir, 'pods.ndjson.gz');
  fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(podFile)));
  const plain = denials([podFile]).out;
  assert.deepEqual(denials([gz]).out, plain);
  assert.deepEqual(denials(['-'], fs.readFileSync(podFile, 'utf8')).out, plain);
});

test('hostile names cannot drive the terminal: control characters are escaped in the table', () => {
  const e = { ...podEvents[0]!, exe: '/tmp/\u001b[2J\u001b]0;owned\u0007evil' };
  const file = path.join(dir, 'hostile.ndjson');
  fs.writeFileSync(file, JSON.stringify(e) + '\n');
  const t = runCli(['denials', '-o', 'table', file]);
  assert.equal(t.code, 0, t.stderr);
  assert.ok(!t.stdout.includes('\u001b') && !t.stdout.includes('\u0007'));
  assert.ok(t.stdout.includes('/tmp/\\x1b[2J\\x1b]0;owned\\x07evil'));
});

test('bad options are usage errors (exit 2) with a hint', () => {
  for (const args of [
    ['--since', 'last tuesday', podFile],
    ['--until', '2026-13-45T99:00:00Z', podFile],
    ['-o', 'yaml', podFile],
    ['--format', 'cef', podFile],
    ['--group-by', 'colour', podFile],
    ['--limit', '0', podFile],
  ]) {
    const r = runCli(['denials', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /auditflow denials: .*\nRun "auditflow denials --help"/);
  }
  const missing = runCli(['denials', path.join(dir, 'nope.ndjson')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot open .*nope\.ndjson: ENOENT/);
});
