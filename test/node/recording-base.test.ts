// Recording from a base profile (issue 16): the recorded SeccompProfile names the base in
// spec.baseProfileName and lists only the syscalls the base does not already allow; NAME.json stays whole
// (the base's rules plus the difference). Local bases here: SeccompProfiles of the profile directory,
// stacked two deep. A base that cannot be resolved: nothing is written until it resolves.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { load } from 'js-yaml';
import pino from 'pino';
import { isRecord, parseLine } from '../../parsers';
import { eventFromRecord, type ContainerRef, type EventV1, type PodRef } from '../../src/event/v1';
import type { RecordingSpec } from '../../src/profile/recording';
import { baseLookup, resolveBase } from '../../src/recording/base';
import { buildProfile } from '../../src/recording/build';
import { ProfileDirectory } from '../../src/recording/profile-dir';
import { Recorder } from '../../src/recording/recorder';
import { buildRunConfig, ConfigError } from '../../src/run/config';
import { parseRecordingFlags, RUN_RECORD_FLAG } from '../../src/recording/flags';
import { readRecordingsFile } from '../../src/aggregate/static-source';
import { applySeccomp, newSession } from '../../src/recording/session';
import { registry } from '../../src/metrics';

async function baseErrorCount(): Promise<number> {
  const m = await registry.getSingleMetric('auditflow_recording_base_errors_total')!.get();
  return m.values.reduce((a, v) => a + v.value, 0);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-recording-base-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const NR: Record<string, number> = { read: 0, write: 1, socket: 41, clone: 56, exit_group: 231, openat: 257, mkdir: 83 };
let serial = 1;
function seccomp(name: string, c: ContainerRef, p: PodRef): EventV1 {
  const line = `type=SECCOMP msg=audit(1795368920.${String(serial).padStart(3, '0')}:${serial++}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=7 comm="app" exe="/app" sig=0 arch=c000003e syscall=${NR[name]} compat=0 ip=0x1 code=0x7ffc0000`;
  const r = parseLine(line);
  assert.ok(isRecord(r), line);
  const ev = eventFromRecord(r, { node: 'n1', file: null, raw: false });
  ev.enrichment = 'resolved';
  ev.container = c;
  ev.pod = p;
  return ev;
}

function writeBase(dir: string, name: string, spec: Record<string, unknown>): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.yaml`), JSON.stringify({ apiVersion: 'security-profiles-operator.x-k8s.io/v1beta1', kind: 'SeccompProfile', metadata: { name }, spec }));
}

const c = { id: 'b'.repeat(64), name: 'main', runtime: 'containerd', image: 'app' };
const p = { name: 'web-1', namespace: 'demo', uid: 'u1', labels: { app: 'web' } };
const spec = (base: string): RecordingSpec => ({ name: 'web', namespace: null, kind: 'SeccompProfile', podSelector: { matchLabels: { app: 'web' } }, mergeStrategy: 'containers', baseProfileName: base });
const seen = ['read', 'write', 'openat', 'clone', 'exit_group', 'socket', 'mkdir'];

describe('recording from a base profile', () => {
  const dir = path.join(tmp, 'profiles');
  // runtime-base stacks on root-base; clone is allowed only for some flags, mkdir is refused
  writeBase(dir, 'root-base', { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['exit_group'] }] });
  writeBase(dir, 'runtime-base', {
    defaultAction: 'SCMP_ACT_ERRNO',
    baseProfileName: 'root-base',
    syscalls: [
      { action: 'SCMP_ACT_ALLOW', names: ['read', 'write'] },
      { action: 'SCMP_ACT_ALLOW', names: ['clone'], args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }] },
      { action: 'SCMP_ACT_ERRNO', names: ['mkdir'] },
    ],
  });

  it('the embedded recorder names the base and lists only what the stack does not allow; NAME.json is whole', async () => {
    const r = new Recorder({ recordings: [spec('runtime-base')], out: new ProfileDirectory(dir), stateDir: null, log: pino({ level: 'silent' }), bases: baseLookup(dir) });
    await r.write(seen.map((s) => seccomp(s, c, p)));
    await r.close();
    const res = load(fs.readFileSync(path.join(dir, 'web-main.yaml'), 'utf8')) as { spec: { baseProfileName?: string; syscalls: Array<{ action: string; names: string[] }> } };
    assert.equal(res.spec.baseProfileName, 'runtime-base');
    // read/write: the base; exit_group: its base; clone: allowed there only for some arguments; mkdir: refused there
    assert.deepEqual(res.spec.syscalls, [{ action: 'SCMP_ACT_ALLOW', names: ['clone', 'mkdir', 'openat', 'socket'] }]);
    const oci = JSON.parse(fs.readFileSync(path.join(dir, 'web-main.json'), 'utf8')) as { defaultAction: string; syscalls: Array<{ action: string; names: string[] }> };
    assert.equal(oci.defaultAction, 'SCMP_ACT_ERRNO');
    const allowedWhole = new Set(oci.syscalls.filter((x) => x.action === 'SCMP_ACT_ALLOW' && !('args' in x)).flatMap((x) => x.names));
    for (const s of seen) assert.ok(allowedWhole.has(s), `${s} is allowed by the whole NAME.json`);
    assert.ok(!oci.syscalls.some((x) => x.action !== 'SCMP_ACT_ALLOW' && x.names.includes('mkdir')), "the base's refusal of mkdir gives way to the recorded allow");
    const ev = JSON.parse(fs.readFileSync(path.join(dir, 'web-main.evidence.json'), 'utf8')) as { evidence: Record<string, unknown> };
    assert.deepEqual(Object.keys(ev.evidence).sort(), [...seen].sort(), 'the evidence still covers every recorded syscall');
  });

  it('the aggregator path (sessions → builder) writes the same resource for the same base', async () => {
    const s = newSession('web', 'SeccompProfile', 0, 'n1', c, p, '2026-01-01T00:00:00.000Z');
    applySeccomp(s, seen.map((n) => ({ arch: 'x86_64', syscall: n, nr: NR[n]!, firstSeen: 't', lastSeen: 't', exe: '/app', count: 1 })), 'n1/e');
    const base = await resolveBase('runtime-base', baseLookup(dir));
    assert.ok(!('error' in base), JSON.stringify(base));
    const prof = buildProfile(spec('runtime-base'), [s], true, { base })!;
    const res = prof.resource as unknown as { spec: { baseProfileName: string; syscalls: unknown } };
    assert.equal(res.spec.baseProfileName, 'runtime-base');
    assert.deepEqual(res.spec.syscalls, [{ action: 'SCMP_ACT_ALLOW', names: ['clone', 'mkdir', 'openat', 'socket'] }]);
  });

  it('a base that cannot be resolved is counted and logged, and the profile is not written until it resolves', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (b: Buffer, _e, cb) => (lines.push(b.toString()), cb()) }));
    const out = path.join(tmp, 'missing');
    const before = await baseErrorCount();
    const r = new Recorder({ recordings: [spec('no-such-base')], out: new ProfileDirectory(out), stateDir: null, log, bases: baseLookup(out) });
    await r.write(['read', 'socket'].map((s) => seccomp(s, c, p)));
    await r.flush();
    assert.ok(!fs.existsSync(path.join(out, 'web-main.yaml')) && !fs.existsSync(path.join(out, 'web-main.json')), 'nothing written for the profile');
    assert.equal(await baseErrorCount(), before + 1);
    assert.ok(lines.some((l) => l.includes('base profile not resolved') && l.includes('not found') && l.includes('"level":50')), lines.join(''));
    // the base appears: the next trigger (here the shutdown) writes the profile, nothing recorded was lost
    writeBase(out, 'no-such-base', { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['read'] }] });
    await r.close();
    const res = load(fs.readFileSync(path.join(out, 'web-main.yaml'), 'utf8')) as { spec: { baseProfileName?: string; syscalls: Array<{ names: string[] }> } };
    assert.equal(res.spec.baseProfileName, 'no-such-base');
    assert.deepEqual(res.spec.syscalls[0]!.names, ['socket']);
  });

  it('a cycle or a hostile base name is an error, not a loop or a path', async () => {
    const d = path.join(tmp, 'cycle');
    writeBase(d, 'a', { defaultAction: 'SCMP_ACT_ERRNO', baseProfileName: 'b' });
    writeBase(d, 'b', { defaultAction: 'SCMP_ACT_ERRNO', baseProfileName: 'a' });
    const cyc = await resolveBase('a', baseLookup(d));
    assert.ok('error' in cyc && /cycle/.test(cyc.error), JSON.stringify(cyc));
    const bad = await resolveBase('../../etc/passwd', baseLookup(d));
    assert.ok('error' in bad, JSON.stringify(bad));
    const oci = await resolveBase('oci://registry.example/base:1', baseLookup(d));
    assert.ok('error' in oci && /not enabled/.test(oci.error), JSON.stringify(oci));
  });

  it('run --record-base and an aggregator recordings file name the base of their SeccompProfile recordings', () => {
    const specs = parseRecordingFlags(['web=app=web'], { ...RUN_RECORD_FLAG, base: 'runtime-base' });
    assert.deepEqual(specs.map((x) => [x.kind, x.baseProfileName]), [['SeccompProfile', 'runtime-base'], ['SelinuxProfile', undefined]]);
    assert.equal(buildRunConfig({ record: ['web=app=web'], 'record-base': 'runtime-base' }, {}).recordings[0]!.baseProfileName, 'runtime-base');
    assert.throws(() => buildRunConfig({ record: ['web=app=web'], 'record-base': '../x' }, {}), ConfigError);
    const f = path.join(tmp, 'recordings.json');
    fs.writeFileSync(f, JSON.stringify([{ name: 'web', podSelector: 'app=web', baseProfileName: 'oci://registry.example/base:1' }]));
    assert.equal(readRecordingsFile(f, 'SeccompProfile', 'containers')[0]!.baseProfileName, 'oci://registry.example/base:1');
  });
});
