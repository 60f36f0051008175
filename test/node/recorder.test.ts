// The embedded recorder: which events it takes (selected pods, seccomp log/allow, AVC denials), the files it
// writes (atomically, per profile name), its state surviving a restart, and hostile names refused.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { isRecord, parseLine } from '../../parsers';
import { eventFromRecord, type ContainerRef, type EventV1, type PodRef } from '../../src/event/v1';
import { createLogger } from '../../src/log';
import { RUNC_BASE_SYSCALLS } from '../../src/profile/runtime-base';
import { parseRecordingFlags, RUN_RECORD_FLAG } from '../../src/recording/flags';
import { ProfileDirectory } from '../../src/recording/profile-dir';
import { Recorder } from '../../src/recording/recorder';

const log = createLogger('test');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-recorder-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

let serial = 1;
function seccomp(nr: number, container: ContainerRef, pod: PodRef | null, comm = 'sh', code = '0x7ffc0000'): EventV1 {
  const line = `type=SECCOMP msg=audit(1795368920.417:${serial++}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=26925 comm="${comm}" exe="/bin/busybox" sig=0 arch=c000003e syscall=${nr} compat=0 ip=0x49641b code=${code}`;
  const r = parseLine(line);
  assert.ok(isRecord(r), line);
  const ev = eventFromRecord(r, { node: 'n1', file: null, raw: false });
  ev.enrichment = 'resolved';
  ev.container = container;
  ev.pod = pod;
  return ev;
}
const AVC =
  'type=AVC msg=audit(1795368920.500:77): avc:  denied  { read write } for  pid=4242 comm="app" name="data" dev="sda1" ino=1 scontext=system_u:system_r:container_t:s0:c1,c2 tcontext=system_u:object_r:var_lib_t:s0 tclass=file permissive=0';

const ctr = (id: string, name: string): ContainerRef => ({ id: id.padEnd(64, '0'), name, runtime: 'containerd', image: 'busybox' });
const pod = (name: string, labels: Record<string, string>, ns = 'demo'): PodRef => ({ name, namespace: ns, uid: `uid-${name}`, labels });

function recorder(dir: string, values: string[], merge: 'containers' | 'none' = 'containers'): Recorder {
  return new Recorder({ recordings: parseRecordingFlags(values, { ...RUN_RECORD_FLAG, merge }), out: new ProfileDirectory(dir), stateDir: path.join(dir, '.state'), log });
}

describe('Recorder', () => {
  it('records selected pods only, seccomp log/allow only, and writes OCI + SeccompProfile on container end', async () => {
    const dir = path.join(tmp, 'a');
    const r = recorder(dir, ['web=app=web']);
    const web = ctr('a1', 'main');
    const other = ctr('b1', 'main');
    const pw = pod('web-1', { app: 'web' });
    await r.write([
      seccomp(0, web, pw), // read
      seccomp(1, web, pw), // write
      seccomp(1, web, pw),
      seccomp(83, web, pw, 'sh', '0x50001'), // errno denial: not a recorded syscall
      seccomp(59, other, pod('db-1', { app: 'db' })), // not selected
      seccomp(157, web, pw, 'runc:[2:INIT]'),
    ]);
    assert.equal(fs.existsSync(path.join(dir, 'web-main.json')), false, 'nothing written before the container ends');
    await r.containerEnded({ container: web, pod: pw, at: new Date().toISOString(), reason: 'exited' });
    const oci = JSON.parse(fs.readFileSync(path.join(dir, 'web-main.json'), 'utf8'));
    assert.equal(oci.defaultAction, 'SCMP_ACT_ERRNO');
    const names: string[] = oci.syscalls[0].names;
    for (const s of ['read', 'write', 'prctl', ...RUNC_BASE_SYSCALLS]) assert.ok(names.includes(s), s);
    assert.ok(!names.includes('mkdir'), 'the denied syscall is not allowed');
    const yaml = fs.readFileSync(path.join(dir, 'web-main.yaml'), 'utf8');
    assert.match(yaml, /name: "web-main"/);
    assert.match(yaml, /"spo.x-k8s.io\/recording-namespace"|spo.x-k8s.io\/recording-namespace: "demo"/);
    const ev = JSON.parse(fs.readFileSync(path.join(dir, 'web-main.evidence.json'), 'utf8'));
    assert.equal(ev.evidence.write.count, 2);
    assert.equal(ev.final, true);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => !f.startsWith('.')).sort(), ['web-main.evidence.json', 'web-main.json', 'web-main.yaml']);
  });

  it('AVC denials of a selected pod make a SelinuxProfile (CIL + resource)', async () => {
    const dir = path.join(tmp, 'se');
    const r = recorder(dir, ['se=app=web']);
    const rec = parseLine(AVC);
    assert.ok(isRecord(rec));
    const ev = eventFromRecord(rec, { node: 'n1', file: null, raw: false });
    ev.enrichment = 'resolved';
    ev.container = ctr('c1', 'app');
    ev.pod = pod('web-2', { app: 'web' });
    await r.write([ev]);
    await r.close();
    const cil = fs.readFileSync(path.join(dir, 'se-app.cil'), 'utf8');
    assert.match(cil, /\(allow process var_lib_t \( file \( read write \)\)\)/);
    const yaml = fs.readFileSync(path.join(dir, 'se-app.selinux.yaml'), 'utf8');
    assert.match(yaml, /kind: "?SelinuxProfile"?/);
    assert.match(yaml, /"?auditflow.dev\/evidence"?: "?se-app\.selinux\.evidence\.json"?/, 'the resource names its evidence file, as the aggregator\'s do');
    const evidence = JSON.parse(fs.readFileSync(path.join(dir, 'se-app.selinux.evidence.json'), 'utf8'));
    assert.deepEqual(Object.keys(evidence.evidence).sort(), ['var_lib_t:file:read', 'var_lib_t:file:write']);
  });

  it('merge none: one profile per replica, named after the pod', async () => {
    const dir = path.join(tmp, 'none');
    const r = recorder(dir, ['web=app=web'], 'none');
    await r.write([seccomp(0, ctr('d1', 'main'), pod('web-7d9f8-x2k4p', { app: 'web' })), seccomp(1, ctr('d2', 'main'), pod('fixed', { app: 'web' }))]);
    await r.close();
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json') && !f.includes('evidence'));
    assert.deepEqual(files.sort(), ['web-main-uidfixed.json', 'web-main-x2k4p.json'].sort());
  });

  it('state survives a restart: a recorder killed before the container ended still writes the whole profile', async () => {
    const dir = path.join(tmp, 'restart');
    const c = ctr('e1', 'main');
    const p = pod('web-3', { app: 'web' });
    const r1 = recorder(dir, ['web=app=web']);
    await r1.write([seccomp(0, c, p), seccomp(2, c, p)]); // read, open: in the state file once write() resolved
    // (r1 is dropped without close: a crash)
    const r2 = recorder(dir, ['web=app=web']);
    await r2.load();
    assert.deepEqual(r2.activeContainers(), [c.id], 'the unfinished container is watched for its end again');
    await r2.write([seccomp(3, c, p)]); // close
    await r2.containerEnded({ container: c, pod: p, at: new Date().toISOString(), reason: 'exited' });
    const names: string[] = JSON.parse(fs.readFileSync(path.join(dir, 'web-main.json'), 'utf8')).syscalls[0].names;
    assert.deepEqual(names, ['close', 'open', 'read']);
  });

  it('hostile container names are refused (not written), other containers still recorded', async () => {
    const dir = path.join(tmp, 'hostile');
    const r = recorder(dir, ['web=app=web']);
    const p = pod('web-4', { app: 'web' });
    for (const name of ['../../etc/passwd', 'UPPER', 'x'.repeat(300), 'a/b', '']) await r.write([seccomp(0, ctr(`h${name.length}`, name), p)]);
    await r.write([seccomp(0, ctr('ok1', 'fine'), p)]);
    await r.close();
    const files = fs.readdirSync(dir).filter((f) => !f.startsWith('.'));
    assert.deepEqual(files.sort(), ['web-fine.evidence.json', 'web-fine.json', 'web-fine.yaml']);
    assert.equal(fs.existsSync('/etc/passwd.json'), false);
  });
});
