// Issue 10, terminals: names a workload chose (exe, comm, AppArmor profiles, paths, SELinux types, pod
// names) reach `parse --summary`, `explain` and the `denials` tables. None of them may carry a raw control
// (ESC/OSC/BEL retitle or clear the terminal), C1, DEL, bidi override, line/paragraph separator or
// zero-width/format character: all are shown as visible escapes by the one function, terminalText.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { terminalText } from '../../src/io/terminal-text';
import type { EventV1 } from '../../src/event/v1';
import { runCli } from '../env/cli';
import { assertTerminalSafe, RAW_UNSAFE, unescapeTerminal } from '../env/terminal-check';

const EVIL = [
  '/tmp/\x1b]0;owned\x07evil', // OSC title + BEL
  '\x1b[2J\x1b[H', // clear screen
  'txt.\u202eexe', // RLO
  'a\u202ab\u202bc\u202cd\u202de', // LRE RLE PDF LRO
  '\u2066x\u2067y\u2068z\u2069', // isolates
  '\u061c\u200e\u200f', // ALM LRM RLM
  'line\u2028sep\u2029para',
  'c1\x85\x9b2J\x9d0;t\x9c', // NEL, CSI, OSC, ST (C1)
  'del\x7f',
  'zero\u200bwidth\u200c\u200d\u2060\ufeff',
  'tab\tcr\rnl?',
  'soft\u00adhyphen',
  'tag\u{e0041}',
  'lit\\x1b and \\u202e',
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'af-terminal-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

test('terminalText escapes C0, DEL, C1, bidi, separators, format characters and "\\", nothing else, and reversibly', () => {
  for (const s of EVIL) {
    const t = terminalText(s);
    assert.equal(RAW_UNSAFE.exec(t), null, JSON.stringify(s));
    assert.equal(unescapeTerminal(t), s, 'escaping loses nothing');
  }
  for (const plain of ['/usr/bin/chmod', 'kube-system/agent-0', 'Grüße 日本 😀', 'a b:c{d}']) assert.equal(terminalText(plain), plain);
  assert.equal(terminalText('\x1b\u202e\\\x9b\u2028\u{e0041}'), '\\x1b\\u202e\\\\\\x9b\\u2028\\u{e0041}');
});

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase();

test('parse --summary: hex-decoded AppArmor profiles and raw SELinux types are escaped in the table', () => {
  // the table shows the top 10 denials: the names in runs of 7, with the SELinux line
  for (let from = 0; from < EVIL.length; from += 7) {
    const names = EVIL.slice(from, from + 7);
    const log = path.join(tmp, `hostile-${from}.log`);
    const lines = names.map(
      (e, i) =>
        `type=AVC msg=audit(1279948288.415:${100 + i}): apparmor="DENIED" operation="open" parent=1 profile=${hex(e)} name=${hex(e + '/x')} pid=12 comm=${hex(e)} requested_mask="r" denied_mask="r" fsuid=0 ouid=0`,
    );
    // kernels write contexts unquoted: a type with format characters in it (spaces and controls end a field)
    lines.push('type=AVC msg=audit(1170021493.977:293): avc:  denied  { read } for  pid=1 comm="x" scontext=u:r:a\u202eb_t:s0 tcontext=u:r:z\u2028\u200b_t:s0 tclass=file');
    fs.writeFileSync(log, lines.join('\n') + '\n');
    const r = runCli(['parse', '--summary', log]);
    assert.equal(r.code, 0, r.stderr);
    assertTerminalSafe(r.stdout, 'parse --summary');
    const table = r.stdout.slice(r.stdout.indexOf('\ntop denials'));
    const rows = table.split('\n').filter((l) => l.startsWith('apparmor ') || l.startsWith('selinux '));
    assert.equal(rows.length, names.length + 1, 'one row per denial');
    const shown = rows.map((l) => unescapeTerminal(l.replace(/\s+\d+$/, '')));
    for (const e of names) assert.ok(shown.includes(`apparmor ${e} open r`), `the profile ${JSON.stringify(e)} is shown, escaped`);
    assert.ok(shown.includes('selinux a\u202eb_t → z\u2028\u200b_t file { read }'));
  }
});

test('explain: a hostile exe, pod, profile name and key in the evidence file are escaped', () => {
  const evidence: Record<string, unknown> = {};
  EVIL.forEach((e, i) => {
    evidence[`t${i}:file:${e}`] = { firstSeen: '2026-01-01T00:00:00.000Z', lastSeen: '2026-01-02T00:00:00.000Z', count: i + 1, exe: e, pod: `p${e}`, namespace: `n${e}` };
  });
  const file = path.join(tmp, 'evil.evidence.json');
  fs.writeFileSync(file, JSON.stringify({ name: EVIL[0], kind: 'SelinuxProfile', recording: EVIL[1], container: EVIL[2], final: true, evidence }));
  const r = runCli(['explain', file, 'file']);
  assert.equal(r.code, 0, r.stderr);
  assertTerminalSafe(r.stdout, 'explain');
  assertTerminalSafe(r.stderr, 'explain (stderr)');
  const text = unescapeTerminal(r.stdout);
  for (const e of EVIL) {
    assert.ok(text.includes(`by ${e} in pod n${e}/p${e}\n`), `exe and pod ${JSON.stringify(e)}`);
  }
  assert.ok(text.includes(`in SelinuxProfile ${EVIL[0]} (recording ${EVIL[1]}, container ${EVIL[2]}):`));
  assert.equal(r.stdout.split('\n').filter((l) => l.includes(' in SelinuxProfile ')).length, EVIL.length, 'one block per entry');
  // a name asked for that is not there is echoed escaped too
  const miss = runCli(['explain', file, '\x1b]0;x\x07']);
  assert.equal(miss.code, 1);
  assertTerminalSafe(miss.stderr, 'explain (not found)');
});

function denialEvent(i: number, exe: string, pod: string): EventV1 {
  return {
    schema: 'auditflow.event/v1', type: 'SECCOMP', kind: 'seccomp', timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), serial: i,
    node: 'node-a', source: { file: null, format: 'auditd' }, pid: 100 + i, comm: exe.slice(0, 15), exe, uid: 0, gid: 0, auid: null, ses: null,
    arch: 'x86_64', syscall: 'mkdir', syscallNr: 83, action: 'errno', actionData: 1,
    container: { id: 'c0ffee', name: `ctr${exe}`, runtime: 'containerd', image: null },
    pod: { name: pod, namespace: 'ns', uid: 'u', labels: {} }, enrichment: 'resolved',
  };
}

test('denials tables: bidi, C1, DEL, U+2028/2029 and zero-width characters are escaped, one row per denial', () => {
  const evs = EVIL.map((e, i) => denialEvent(i, e, `pod${e}`));
  const file = path.join(tmp, 'evil.ndjson');
  fs.writeFileSync(file, evs.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const t = runCli(['denials', '-o', 'table', file]);
  assert.equal(t.code, 0, t.stderr);
  assertTerminalSafe(t.stdout, 'denials table');
  const lines = t.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 1 + EVIL.length + 1, 'header, one row per denial, footer');
  for (const [i, e] of EVIL.entries()) {
    const row = unescapeTerminal(lines[1 + i]!);
    assert.ok(row.includes(` ns/pod${e} `) && row.includes(` ctr${e} `) && row.includes(` ${e} `), `row ${i}: ${lines[1 + i]}`);
  }
  const g = runCli(['denials', '-o', 'table', '--group-by', 'pod,container,exe', file]);
  assert.equal(g.code, 0, g.stderr);
  assertTerminalSafe(g.stdout, 'denials --group-by table');
  assert.equal(g.stdout.trimEnd().split('\n').length, 1 + EVIL.length + 1);
});

test('error messages on stderr: a hostile path quoted in the error is escaped, and says which file', () => {
  for (const evil of EVIL) {
    const name = path.join(tmp, `missing-${evil.replace(/\//g, '_')}.log`);
    const r = runCli(['parse', name]);
    assert.notEqual(r.code, 0, 'a missing input is an error');
    assert.match(r.stderr, /^auditflow parse: /);
    assertTerminalSafe(r.stderr, 'stderr');
    assert.ok(r.stderr.includes(terminalText(name)), `the escaped path is named: ${JSON.stringify(r.stderr)}`);
  }
});
