// One model per concept (issue 12): the embedded recorder and the Kafka path (node dedup → recording
// messages → sessions → profile, as the aggregator runs it) select the same containers, take the same
// tuples, build with one builder and write one directory layout. Each test feeds both paths the same
// events and compares what comes out, or checks one of the rules where the two used to disagree.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { isRecord, parseLine } from '../../parsers';
import { eventFromRecord, type ContainerRef, type EventV1, type PodRef } from '../../src/event/v1';
import type { Logger } from '../../src/log';
import type { RecordingSpec } from '../../src/profile/recording';
import { ANNOTATION_EVIDENCE, buildProfile, ProfileNameError } from '../../src/recording/build';
import { groupKey } from '../../src/recording/naming';
import { ProfileDirectory } from '../../src/recording/profile-dir';
import { Recorder } from '../../src/recording/recorder';
import { recordingSelects, selectedByRecordings } from '../../src/recording/select';
import { applyAvc, applySeccomp, newSession, type SessionState } from '../../src/recording/session';
import { parseRecordingFlags, RUN_RECORD_FLAG } from '../../src/recording/flags';
import { RecordingDedup } from '../../src/sink/kafka/dedup';
import { runCli } from '../env/cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-recording-paths-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A logger whose lines are kept, to check what each path warns about. */
function capture(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'warn' }, stream), lines };
}

let serial = 1;
let second = 20;
function event(line: string, container: ContainerRef, pod: PodRef | null): EventV1 {
  const r = parseLine(line);
  assert.ok(isRecord(r), line);
  const ev = eventFromRecord(r, { node: 'n1', file: null, raw: false });
  ev.enrichment = 'resolved';
  ev.container = container;
  ev.pod = pod;
  return ev;
}
const seccomp = (nr: number, c: ContainerRef, p: PodRef | null, comm = 'sh', exe = '/bin/busybox') =>
  event(`type=SECCOMP msg=audit(17953689${second++}.417:${serial++}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=26925 comm="${comm}" exe="${exe}" sig=0 arch=c000003e syscall=${nr} compat=0 ip=0x49641b code=0x7ffc0000`, c, p);
const avc = (type: 'AVC' | 'USER_AVC', perms: string, c: ContainerRef, p: PodRef | null) =>
  event(
    type === 'AVC'
      ? `type=AVC msg=audit(17953689${second++}.500:${serial++}): avc:  denied  { ${perms} } for  pid=4242 comm="app" exe="/app" name="data" dev="sda1" ino=1 scontext=system_u:system_r:container_t:s0:c1,c2 tcontext=system_u:object_r:var_lib_t:s0 tclass=file permissive=0`
      : `type=USER_AVC msg=audit(17953689${second++}.500:${serial++}): pid=4242 uid=0 auid=4294967295 ses=4294967295 msg='avc:  denied  { ${perms} } for  scontext=system_u:system_r:container_t:s0:c1,c2 tcontext=system_u:object_r:shadow_t:s0 tclass=file permissive=0 exe="/app" sauid=0 hostname=? addr=? terminal=?'`,
    c,
    p,
  );

const ctr = (id: string, name: string, sandbox = false): ContainerRef => ({ id: id.padEnd(64, '0'), name, runtime: 'containerd', image: 'busybox', ...(sandbox ? { sandbox: true as const } : {}) });
const pod = (name: string, labels: Record<string, string>, ns = 'demo'): PodRef => ({ name, namespace: ns, uid: `uid-${name}`, labels });

/** The Kafka path without a broker: RecordingDedup's messages applied to sessions as the aggregator applies them, each group built and written. */
async function kafkaPath(recordings: RecordingSpec[], events: EventV1[], dir: string, log: Logger): Promise<void> {
  const dedup = new RecordingDedup('n1', 'epoch-1', recordings);
  for (const ev of events) dedup.add(ev);
  const sessions = new Map<string, SessionState>();
  for (const msg of dedup.takeChanged()) {
    for (const rec of recordings) {
      const tuples = rec.kind === 'SeccompProfile' ? msg.seccomp : msg.avc;
      if (tuples.length === 0 || !recordingSelects(rec, msg.container, msg.pod)) continue;
      const id = `${rec.kind}/${rec.name}/${msg.container.id}`;
      let s = sessions.get(id);
      if (!s) sessions.set(id, (s = newSession(rec.name, rec.kind, 0, msg.node, msg.container, msg.pod, tuples[0]!.firstSeen)));
      if (rec.kind === 'SeccompProfile') applySeccomp(s, msg.seccomp, `${msg.node}/${msg.epoch}`);
      else applyAvc(s, msg.avc, `${msg.node}/${msg.epoch}`);
    }
  }
  const groups = new Map<string, { rec: RecordingSpec; members: SessionState[] }>();
  for (const s of sessions.values()) {
    const rec = recordings.find((r) => r.name === s.recording && r.kind === s.kind)!;
    const key = groupKey(rec, s.container, s.pod);
    const g = groups.get(key) ?? { rec, members: [] };
    g.members.push(s);
    groups.set(key, g);
  }
  const out = new ProfileDirectory(dir);
  for (const { rec, members } of groups.values()) {
    const p = buildProfile(rec, members, true, { log });
    if (p) await out.write(p);
  }
}

function filesOf(dir: string): Map<string, string> {
  return new Map(fs.readdirSync(dir).filter((f) => !f.startsWith('.')).sort().map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
}

describe('the embedded recorder and the Kafka path', () => {
  const recordings = parseRecordingFlags(['web=app=web'], RUN_RECORD_FLAG); // a SeccompProfile and a SelinuxProfile recording named web
  const main = ctr('a1', 'main');
  const p1 = pod('web-7d9f8-x2k4p', { app: 'web' });
  const p2 = pod('web-7d9f8-q8r2z', { app: 'web' });
  const main2 = ctr('a2', 'main');
  const events = [
    seccomp(0, main, p1),
    seccomp(1, main, p1),
    seccomp(1, main2, p2, 'sh', '/bin/other'),
    seccomp(157, main, p1, 'runc:[2:INIT]'),
    seccomp(999, main, p1), // no name on x86_64
    avc('AVC', 'read write', main, p1),
    avc('AVC', 'read', main2, p2),
    avc('USER_AVC', 'read', main, p1), // forged by the pod: never a tuple
    seccomp(2, ctr('s1', 'POD', true), p1), // the pod's sandbox
    seccomp(3, ctr('n1', 'main'), null), // not in a pod
  ];

  const dirA = path.join(tmp, 'embedded');
  const dirB = path.join(tmp, 'kafka');
  const logA = capture();
  const logB = capture();

  it('write the same files, byte for byte, for the same events', async () => {
    const r = new Recorder({ recordings, out: new ProfileDirectory(dirA), stateDir: null, log: logA.log });
    await r.write(events);
    await r.close();
    await kafkaPath(recordings, events, dirB, logB.log);
    const a = filesOf(dirA);
    const b = filesOf(dirB);
    assert.deepEqual([...a.keys()], ['web-main.cil', 'web-main.evidence.json', 'web-main.json', 'web-main.selinux.evidence.json', 'web-main.selinux.yaml', 'web-main.yaml']);
    assert.deepEqual([...b.keys()], [...a.keys()]);
    for (const [f, text] of a) assert.equal(b.get(f), text, f);
    const ev = JSON.parse(a.get('web-main.evidence.json')!) as { evidence: Record<string, { count: number; exe: string }> };
    assert.equal(ev.evidence.write!.count, 2, 'both replicas merged');
    assert.ok(!('mknod' in ev.evidence) && !('open' in ev.evidence), 'neither the sandbox nor the pod-less container is recorded');
    const se = JSON.parse(a.get('web-main.selinux.evidence.json')!) as { evidence: Record<string, { count: number }> };
    assert.deepEqual(Object.keys(se.evidence).sort(), ['var_lib_t:file:read', 'var_lib_t:file:write']);
    assert.ok(!a.get('web-main.cil')!.includes('shadow_t'), 'the forged USER_AVC made no rule');
  });

  it('name the evidence file on the resource, for both kinds', () => {
    assert.match(fs.readFileSync(path.join(dirA, 'web-main.yaml'), 'utf8'), new RegExp(`"?${ANNOTATION_EVIDENCE}"?: "?web-main\\.evidence\\.json"?`));
    assert.match(fs.readFileSync(path.join(dirA, 'web-main.selinux.yaml'), 'utf8'), new RegExp(`"?${ANNOTATION_EVIDENCE}"?: "?web-main\\.selinux\\.evidence\\.json"?`));
  });

  it('both warn about the syscall they cannot name (and leave it out)', () => {
    for (const [which, lines] of [['embedded', logA.lines], ['kafka', logB.lines]] as const) {
      const w = lines.find((l) => String(l.msg).startsWith('syscall number without a name'));
      assert.ok(w, `${which}: ${JSON.stringify(lines)}`);
      assert.equal(w.profile, 'web-main');
    }
    const names = (JSON.parse(fs.readFileSync(path.join(dirA, 'web-main.json'), 'utf8')) as { syscalls: Array<{ names: string[] }> }).syscalls[0]!.names;
    assert.ok(names.includes('write') && !names.some((n) => n.includes('999')));
  });

  it('explain finds the evidence of both kinds: by name, and by any file of either profile', () => {
    const byName = runCli(['explain', '--profile-dir', dirA, 'web-main', 'read']);
    assert.equal(byName.code, 0, byName.stderr);
    assert.match(byName.stdout, /^read in SeccompProfile web-main/m);
    assert.match(byName.stdout, /^var_lib_t:file:read in SelinuxProfile web-main/m);
    for (const f of ['web-main.cil', 'web-main.selinux.yaml', 'web-main.selinux.evidence.json']) {
      const r = runCli(['explain', path.join(dirA, f), 'write']);
      assert.equal(r.code, 0, `${f}: ${r.stderr}`);
      assert.match(r.stdout, /^var_lib_t:file:write in SelinuxProfile web-main/m, f);
      assert.doesNotMatch(r.stdout, /SeccompProfile/, f);
    }
    const seccompOnly = runCli(['explain', path.join(dirA, 'web-main.yaml'), 'write']);
    assert.equal(seccompOnly.code, 0, seccompOnly.stderr);
    assert.match(seccompOnly.stdout, /^write in SeccompProfile web-main/m);
    assert.doesNotMatch(seccompOnly.stdout, /SelinuxProfile/);
    const none = runCli(['explain', '--profile-dir', dirA, 'nope', 'read']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no evidence for profile "nope"/);
  });
});

describe('one rule where the copies disagreed', () => {
  const [web] = parseRecordingFlags(['web=app=web'], RUN_RECORD_FLAG);
  const any: RecordingSpec = { name: 'all', namespace: null, kind: 'SeccompProfile', podSelector: {}, mergeStrategy: 'containers' };

  it('a container outside a pod or a pod sandbox is never selected (the node dedup took them with an empty selector or list)', () => {
    const p = pod('web-1', { app: 'web' });
    assert.equal(recordingSelects(web!, ctr('x', 'main'), p), true);
    for (const [what, c, pd] of [['no pod', ctr('x', 'main'), null], ['sandbox', ctr('y', 'POD', true), p]] as const) {
      assert.equal(recordingSelects(any, c, pd), false, `${what}: a recording selecting everything`);
      assert.equal(selectedByRecordings([], c, pd), false, `${what}: a node without a recording list`);
      const d = new RecordingDedup('n1', 'e', []);
      d.add(seccomp(0, c, pd));
      assert.equal(d.containerCount, 0, `${what}: dedup`);
    }
  });

  it('the node dedup makes tuples from whole kernel AVC denials only, as the recorder does', () => {
    const c = ctr('z', 'main');
    const p = pod('web-1', { app: 'web' });
    const d = new RecordingDedup('n1', 'e', []);
    d.add(avc('USER_AVC', 'read', c, p));
    const cut = avc('AVC', 'read', c, p);
    cut.truncated = true;
    d.add(cut);
    assert.deepEqual(d.takeChanged().flatMap((m) => m.avc), []);
    d.add(avc('AVC', 'read', c, p));
    assert.deepEqual(d.takeChanged().flatMap((m) => m.avc.map((t) => `${t.ttype}:${t.perm}`)), ['var_lib_t:read']);
  });

  it('the aggregator refuses a name whose files would exceed NAME_MAX, as the recorder does', () => {
    const long = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(50)}`; // a valid subdomain: 236 bytes with "web-"
    const se: RecordingSpec = { ...web!, kind: 'SelinuxProfile' };
    const s = newSession('web', 'SelinuxProfile', 0, 'n1', ctr('l', long), pod('web-1', { app: 'web' }), '2026-01-01T00:00:00.000Z');
    applyAvc(s, [{ stype: 'container_t', ttype: 'var_lib_t', tclass: 'file', perm: 'read', firstSeen: 't', lastSeen: 't', exe: null, count: 1 }], 'n1/e');
    assert.throws(() => buildProfile(se, [s], true), (e: unknown) => e instanceof ProfileNameError && /too long for a file name/.test(e.message));
  });
});
