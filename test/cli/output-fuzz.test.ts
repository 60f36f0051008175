// Issue 10, every output keeps its syntax: a seeded fuzz of the real fixtures with hostile names (controls,
// bidi, quotes, backslashes, YAML specials, "../../etc", invalid UTF-8, very long names) written into comm,
// exe, paths, AppArmor profiles and SELinux types, pushed through every output: schema-v1 NDJSON, ECS and
// OCSF, SeccompProfile and SelinuxProfile YAML, CIL, OCI seccomp JSON, and the tables (parse --summary,
// denials rows and groups, explain). Each output must parse back and carry the strings it was given.
// Deterministic (xorshift seeds below): a failure names its seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isRecord, parseLine, type AuditRecord } from '../../parsers';
import { eventFromRecord, type EventV1 } from '../../src/event/v1';
import { toEcs, toOcsf } from '../../src/sink/format';
import { decodeEvent } from '../../src/denials/event-input';
import { groupRows } from '../../src/denials/query';
import { groupsTable, rowsTable } from '../../src/denials/render';
import { Summary } from '../../src/cli/summary';
import { newStats } from '../../src/io/record-reader';
import { SeccompProfileBuilder } from '../../src/profile/seccomp';
import { isCilName, SELF, SelinuxProfileBuilder } from '../../src/profile/selinux';
import { toYaml } from '../../src/profile/yaml';
import { runCli } from '../env/cli';
import { cilModule } from '../env/cil-check';
import { rng, REAL_FIXTURES } from '../env/seeded';
import { assertTerminalSafe, unescapeTerminal } from '../env/terminal-check';
import { jsYamlLoad, pyYamlLoad } from '../env/yaml-check';

const SEEDS = [0x0f1, 0xbad5eed, 0x10c0ffee];
const SHARED_FIXTURES = '/work/shared/fixtures/real';

const pick = <T>(rand: () => number, a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;

const PIECES = [
  '\x1b]0;owned\x07', '\x1b[2J', '\x07', '\x08', '\t', '\x7f', '\x85', '\x9b', '\u202e', '\u2066', '\u200f', '\u061c', '\u2028', '\u2029',
  '\u200b', '\ufeff', '\u00ad', '"', "'", '\\', '\\x1b', '`', '$(id)', '../../etc', '/etc/shadow', ' ', ': ', ' #', '- ', '&a', '*a', '!!str',
  '{', '}', '[', ']', ',', '%', '@', '|', '>', '?', ';', '(', ')', 'é', '日本', '😀', 'x', '/',
];
const WHOLE = ['null', 'NULL', '~', 'on', 'yes', 'y', 'n', 'true', 'off', 'no', '0x1f', '1e3', '0o7', '1_000', '12:30', '.inf', '<<', '', '-', '---', '...'];
/** Raw byte strings: invalid UTF-8 among them (decoded as U+FFFD by the parser). */
const BYTES = [[0xff], [0xfe, 0xfe], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf]];

function hostileBytes(rand: () => number): Buffer {
  if (rand() < 0.03) return Buffer.from('/' + 'long-name/'.repeat(200 + Math.floor(rand() * 300)) + pick(rand, PIECES));
  if (rand() < 0.15) return Buffer.from(pick(rand, WHOLE));
  const parts: Buffer[] = [];
  for (let i = 0, n = 1 + Math.floor(rand() * 5); i < n; i++) parts.push(rand() < 0.15 ? Buffer.from(pick(rand, BYTES)) : Buffer.from(pick(rand, PIECES)));
  return Buffer.concat(parts);
}

/** A SELinux type as a kernel line could hold it unquoted: no space, ":", NUL or line break. */
function hostileType(rand: () => number): string {
  if (rand() < 0.3) return pick(rand, ['null', 'yes', 'on', 'y', 'N', 'true', 'off', 'self', 'all', 'my_container.process', 'container_file_t', 'a.b.c']);
  let s = '';
  for (let i = 0, n = 1 + Math.floor(rand() * 4); i < n; i++) s += pick(rand, PIECES).replace(/[\s:\0]/gu, '');
  return s || 'x';
}

const hexOf = (b: Buffer) => b.toString('hex').toUpperCase();

function mutate(line: string, rand: () => number): string {
  let l = line.replace(/\b(comm|exe|name|profile|cwd|proctitle)=("[^"]*"|\S+)/g, (m, k: string) => (rand() < 0.7 ? `${k}=${hexOf(hostileBytes(rand))}` : m));
  l = l.replace(/\b([st]context)=([^:\s]+):([^:\s]+):([^:\s]+)/g, (m, k: string, u: string, r: string) => (rand() < 0.6 ? `${k}=${u}:${r}:${hostileType(rand)}` : m));
  if (rand() < 0.2) l = l.replace(/tclass=\S+/, () => `tclass=${hostileType(rand)}`);
  if (rand() < 0.2) l = l.replace(/\{ ([^}]*) \}/, (_m, p: string) => `{ ${p} ${hostileType(rand)} }`);
  return l;
}

function fixtureLines(): string[] {
  const lines = new Set<string>();
  for (const dir of [REAL_FIXTURES, SHARED_FIXTURES]) {
    assert.ok(fs.existsSync(dir), `fixtures missing: ${dir}`);
    for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.log')).sort()) {
      for (const l of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) if (l.trim()) lines.add(l);
    }
  }
  return [...lines];
}

/** Every string leaf of a JSON value. */
function strings(v: unknown, out = new Set<string>()): Set<string> {
  if (typeof v === 'string') out.add(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (out.add(k), strings(x, out));
  return out;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

interface SeedRun {
  seed: number;
  events: EventV1[];
  yaml: Array<{ what: string; text: string; want: unknown }>;
}

function runSeed(seed: number, base: string[]): SeedRun {
  const t0 = Date.now();
  const rand = rng(seed);
  const at = `seed 0x${seed.toString(16)}`;
  const records: AuditRecord[] = [];
  for (const line of base) {
    const r = parseLine(mutate(line, rand));
    if (isRecord(r)) records.push(r);
  }
  assert.ok(records.length > 500, `${at}: ${records.length} records`);
  const yaml: SeedRun['yaml'] = [];
  const events: EventV1[] = [];
  const summary = new Summary();
  const seccomp = new SeccompProfileBuilder();
  const selinux = new SelinuxProfileBuilder();
  const givenTypes = new Set<string>();

  for (const [i, r] of records.entries()) {
    summary.add(r);
    const ev = eventFromRecord(r, { node: 'node-a', file: null, raw: rand() < 0.3 });
    if (rand() < 0.7) {
      const b = hostileBytes(rand).toString('utf8');
      ev.container = { id: `c${i}`, name: `ctr${b}`, runtime: 'containerd', image: null };
      ev.pod = { name: `pod${b}`, namespace: 'ns', uid: 'u', labels: { app: b } };
      ev.enrichment = 'resolved';
    }
    events.push(ev);

    // schema-v1 NDJSON: one line, parses back equal, and the boundary of `denials` accepts it
    const line = JSON.stringify(ev);
    assert.ok(!line.includes('\n'), `${at}: NDJSON line break`);
    const back = JSON.parse(line) as EventV1;
    for (const k of ['comm', 'exe', 'cwd', 'proctitle'] as const) assert.equal(back[k], ev[k], `${at}: NDJSON ${k}`);
    assert.deepEqual([back.apparmor, back.selinux, back.pod, back.container, back.paths], [ev.apparmor, ev.selinux, ev.pod, ev.container, ev.paths], `${at}: NDJSON names`);
    const d = decodeEvent(line);
    assert.ok('ev' in d, `${at}: denials refused our own event: ${JSON.stringify(d)} ${line.slice(0, 300)}`);
    if (ev.exe !== null) assert.equal(ev.exe, r.str('exe'));
    if (ev.comm !== null) assert.equal(ev.comm, r.str('comm'));

    // ECS and OCSF: one line each, parse back, carry exe and comm
    for (const [name, doc] of [['ecs', toEcs(ev)], ['ocsf', toOcsf(ev)]] as const) {
      const s = JSON.stringify(doc);
      assert.ok(!s.includes('\n'), `${at}: ${name} line break`);
      const all = strings(JSON.parse(s));
      for (const want of [ev.exe, ev.comm]) if (want) assert.ok(all.has(want), `${at}: ${name} lost ${JSON.stringify(want)}`);
    }

    if (r.seccomp && r.syscall) seccomp.add(r.syscall.arch, r.syscall.name, r.syscall.nr);
    if (r.avc && r.avc.decision === 'denied') {
      selinux.add(r.avc);
      if (r.avc.target?.type) givenTypes.add(r.avc.target.type);
    }
  }

  // names straight from the hostile pool too: the builder must keep only CIL names, whatever arrives
  for (let i = 0; i < 200; i++) {
    const t = rand() < 0.5 ? hostileType(rand) : hostileBytes(rand).toString('utf8');
    givenTypes.add(t);
    selinux.add({
      decision: 'denied', permissions: [pick(rand, ['read', 'write', 'all', hostileType(rand)])], scontext: undefined, tcontext: undefined,
      tclass: pick(rand, ['file', 'dir', hostileType(rand)]), permissive: undefined,
      source: { user: 'u', role: 'r', type: 'container_t', level: undefined }, target: { user: 'u', role: 'r', type: t, level: undefined },
    } as never);
  }

  // OCI seccomp JSON and the SeccompProfile YAML (labels with hostile values, as names from a recording would be)
  const oci = JSON.stringify(seccomp.toOci(), null, 2);
  assert.deepEqual(JSON.parse(oci), clone(seccomp.toOci()));
  const labels: Record<string, string> = {};
  for (let i = 0; i < 8; i++) labels[`spo.x-k8s.io/l${i}`] = hostileBytes(rand).toString('utf8');
  labels[hostileBytes(rand).toString('utf8')] = 'key from the log';
  const sres = seccomp.toResource({ name: 'fuzz', labels, baseProfileName: hostileBytes(rand).toString('utf8') });
  yaml.push({ what: `${at}: SeccompProfile`, text: toYaml(sres), want: clone(sres) });

  // SelinuxProfile YAML and CIL: the same rules in both; every identifier a CIL name that was given
  const rules = selinux.rules();
  const eres = selinux.toResource('fuzz', { 'spo.x-k8s.io/recording-id': hostileBytes(rand).toString('utf8') });
  yaml.push({ what: `${at}: SelinuxProfile`, text: toYaml(eres), want: clone(eres) });
  const m = cilModule(selinux.toCil('fuzz'));
  const want: Array<[string, string, string[]]> = [];
  for (const [t, byClass] of Object.entries(rules)) for (const [c, p] of Object.entries(byClass)) want.push([t === SELF ? 'process' : t, c, p]);
  assert.deepEqual(m.allows, want, `${at}: CIL rules`);
  for (const [t, c, perms] of m.allows) {
    assert.ok(t === 'process' || (isCilName(t, true) && givenTypes.has(t)), `${at}: CIL type ${JSON.stringify(t)}`);
    assert.ok(isCilName(c), `${at}: CIL class ${JSON.stringify(c)}`);
    for (const p of perms) assert.ok(isCilName(p), `${at}: CIL permission ${JSON.stringify(p)}`);
  }
  assert.ok(selinux.rejected.size > 0 && selinux.size > 0, `${at}: the fuzz reaches both kept and rejected names`);
  // the raw YAML of a hostile-keyed map as well
  const hostileMap: Record<string, unknown> = {};
  for (let i = 0; i < 100; i++) hostileMap[hostileBytes(rand).toString('utf8')] = [hostileBytes(rand).toString('utf8'), { [hostileType(rand)]: hostileBytes(rand).toString('utf8') }];
  yaml.push({ what: `${at}: hostile map`, text: toYaml({ allow: hostileMap }), want: clone({ allow: hostileMap }) });

  // tables: parse --summary, denials rows and groups: no raw control/bidi character, one row per denial
  const text = summary.render(newStats(), 1, 1000);
  assertTerminalSafe(text, `${at}: summary`);
  const shownRows = new Set(unescapeTerminal(text).split('\n').map((l) => l.replace(/\s+\d+$/, '')));
  for (const k of summary.denials.keys()) assert.ok(shownRows.has(k), `${at}: summary row for ${JSON.stringify(k)}`);
  const rows = events.filter((e) => e.action ?? e.selinux ?? e.apparmor).map((ev, i) => ({ ev, timeMs: i }));
  const table = rowsTable(rows);
  assertTerminalSafe(table, `${at}: denials table`);
  const lines = table.split('\n');
  assert.equal(lines.length, rows.length + 1, `${at}: one row per denial`);
  for (const [i, { ev }] of rows.entries()) {
    const exe = ev.exe ?? ev.comm ?? '-';
    const shown = unescapeTerminal(lines[i + 1]!);
    if (JSON.stringify(exe).length < 60) assert.ok(shown.includes(exe), `${at}: row ${i} shows exe ${JSON.stringify(exe)}: ${lines[i + 1]}`);
  }
  const groups = groupRows(rows, ['pod', 'exe', 'syscall']);
  const gt = groupsTable(groups, ['pod', 'exe', 'syscall']);
  assertTerminalSafe(gt, `${at}: groups table`);
  assert.equal(gt.split('\n').length, groups.length + 1);
  if (process.env.FUZZ_TIMING) console.error(`seed ${seed}: ${Date.now() - t0} ms`);
  return { seed, events, yaml };
}

test('seeded hostile names through every output: each parses back and carries the same strings', () => {
  const base = fixtureLines();
  const runs = SEEDS.map((s) => runSeed(s, base));

  // YAML: js-yaml (1.2) here, PyYAML (1.1) in one python3 run for all documents
  const docs = runs.flatMap((r) => r.yaml);
  for (const d of docs) assert.deepEqual(jsYamlLoad(d.text), d.want, `${d.what} (js-yaml)`);
  const py = pyYamlLoad(docs.map((d) => d.text));
  for (const [i, d] of docs.entries()) {
    const p = py[i]!;
    assert.ok('ok' in p, `${d.what}: PyYAML refused it: ${'error' in p ? p.error : ''}`);
    assert.deepEqual(p.ok, d.want, `${d.what} (PyYAML)`);
  }

  // explain, through the CLI: an evidence file of the fuzzed exes and pods
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'af-fuzz-'));
  try {
    const evs = runs[0]!.events.filter((e) => e.exe !== null).slice(0, 200);
    const evidence: Record<string, { exe: string | null; pod: string | null; namespace: string | null }> = {};
    // keys TYPE:CLASS:PERM-like with a common part, so that one `explain FILE fuzz` shows them all
    for (const [i, e] of evs.entries()) {
      evidence[`fuzz:s${i}:${e.comm ?? ''}`] = { firstSeen: e.timestamp, lastSeen: e.timestamp, count: i + 1, exe: e.exe, pod: e.pod?.name ?? null, namespace: e.pod?.namespace ?? null } as never;
    }
    const file = path.join(dir, 'fuzz.evidence.json');
    fs.writeFileSync(file, JSON.stringify({ name: 'fuzz', kind: 'SeccompProfile', recording: 'r', container: 'c', final: true, evidence }));
    const r = runCli(['explain', file, 'fuzz']);
    assert.equal(r.code, 0, r.stderr);
    assertTerminalSafe(r.stdout, 'explain');
    const blocks = r.stdout.split('\n').filter((l) => / in SeccompProfile fuzz /.test(l));
    assert.equal(blocks.length, evs.length, 'explain: one entry per evidence key');
    const text = unescapeTerminal(r.stdout);
    for (const [k, e] of Object.entries(evidence)) {
      const pod = e.pod ? `${e.namespace ? `${e.namespace}/` : ''}${e.pod}` : '(no pod)';
      assert.ok(text.includes(`${k} in SeccompProfile fuzz `), `explain shows key ${JSON.stringify(k)}`);
      assert.ok(text.includes(`by ${e.exe} in pod ${pod}\n`), `explain shows exe ${JSON.stringify(e.exe)} and pod ${JSON.stringify(pod)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
