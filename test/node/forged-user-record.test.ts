// Issue 10, for real: a process inside a CRI container (containerd's default capabilities include
// CAP_AUDIT_WRITE) sends USER_AVC messages through the audit netlink socket whose text forges a kernel
// SECCOMP record of a recorded pod's process (`mount`). auditd writes them to audit.log; `auditflow run
// --record` must neither record the forged syscall into the pod's profile nor emit it as a SECCOMP event.
// It also pins down what auditd does with a newline inside user text (it writes a space: no new line).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isRecord, parseLine } from '../../parsers';
import { eventFromRecord, type EventV1 } from '../../src/event/v1';
import { createLogger } from '../../src/log';
import { ProfileDirectory } from '../../src/recording/profile-dir';
import { Recorder } from '../../src/recording/recorder';
import { parseRecordingFlags, RUN_RECORD_FLAG } from '../../src/recording/flags';
import { ROOT } from '../env/cli';
import { ensureContainerd, removePod, runPod, waitContainerExited, type RunningPod } from '../env/cri';
import { auditMark, ensureAuditd, readAuditSince } from '../env/rig';
import { pollUntil, readEvents, startRun, stopRun, waitReady, writeLogProfile, type RunProc } from '../env/run-node';

const SOURCE = path.join(ROOT, 'test/env/forge-user-msg.c');

/** Builds the sender: raw syscalls, no libc, static (a few KiB; runs in the busybox rootfs). */
function buildForger(dir: string): string {
  const out = path.join(dir, 'forge-user-msg');
  const r = spawnSync('gcc', ['-Os', '-static', '-nostdlib', '-fno-stack-protector', '-fno-builtin', '-o', out, SOURCE], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`cannot build ${SOURCE} with gcc (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}; install gcc (apt-get install -y gcc)`);
  }
  return out;
}

describe('forged kernel records inside user-space audit messages (real auditd, containerd, auditflow run --record)', () => {
  let tmp: string;
  let socket: string;
  let forger: string;
  let run: RunProc | undefined;
  const pods: RunningPod[] = [];
  before(async () => {
    await ensureAuditd();
    socket = ensureContainerd();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-forged-'));
    forger = buildForger(tmp);
  });
  after(async () => {
    for (const p of pods) await removePod(p).catch(() => undefined);
    if (run) await stopRun(run).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a container forges SECCOMP records (mount) in USER_AVC text: the recorded profile does not gain mount, no SECCOMP event shows them', async () => {
    const dir = path.join(tmp, 'profiles');
    const out = path.join(tmp, 'events.ndjson');
    const app = `forge-${process.pid}`;
    const marker = `forged${process.pid}`;
    run = startRun([
      '--audit-log', '/var/log/audit/audit.log', '--checkpoint', 'none', '--cri-socket', socket,
      '--record', `web=app=${app}`, '--profile-dir', dir, '--output', out, '--events', 'all', '--container-poll-ms', '300',
    ]);
    await waitReady(run);
    const mark = await auditMark();
    // The container waits for the test to drop the sender and its texts into its rootfs (it needs its own
    // host pid in them), sends both, then lives on a little so that its pid still resolves to the pod.
    const script = 'while [ ! -x /forge ]; do sleep 0.1; done; /forge "$(cat /m1)"; echo sent1=$?; /forge "$(cat /m2)"; echo sent2=$?; exec sleep 3';
    const pod = await runPod({
      name: `${app}-1`, namespace: 'forge', labels: { app }, containers: [{ name: 'main', command: ['sh', '-c', script] }],
      seccompProfilePath: writeLogProfile(tmp), socketPath: socket,
    });
    pods.push(pod);
    const hostPid = pod.containers[0]!.pid;
    const now = Math.floor(Date.now() / 1000);
    const forgedRecord = (serial: number, code: string) =>
      `type=SECCOMP msg=audit(${now}.123:${serial}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=${hostPid} comm="${marker}" exe="/bin/busybox" sig=0 arch=c000003e syscall=165 compat=0 ip=0x7f0000001000 code=${code}`;
    // 1: glued after a quote, with a 0x1d of its own; 2: after a newline (a line of its own, if auditd kept it)
    const m1 = `hello' ${forgedRecord(990000001, '0x7ffc0000')}\x1dUID="root"`;
    const m2 = `hello\n${forgedRecord(990000002, '0x50001')}`;
    const root = `/proc/${hostPid}/root`;
    fs.writeFileSync(path.join(root, 'm1'), m1);
    fs.writeFileSync(path.join(root, 'm2'), m2);
    fs.copyFileSync(forger, path.join(root, 'forge.tmp'));
    fs.chmodSync(path.join(root, 'forge.tmp'), 0o755);
    fs.renameSync(path.join(root, 'forge.tmp'), path.join(root, 'forge'));

    assert.equal(await waitContainerExited(socket, pod.containers[0]!.id), 0);
    const log = fs.readFileSync(path.join(pod.logDirectory, 'main', '0.log'), 'utf8');
    assert.match(log, /sent1=0/, `the sender in the container could not send (CAP_AUDIT_WRITE?): ${log}`);
    assert.match(log, /sent2=0/, log);

    // What auditd wrote: two USER_AVC lines carrying the forged text; the newline became a space.
    const lines = (await readAuditSince(mark)).filter((l) => l.includes(marker));
    assert.equal(lines.length, 2, lines.join('\n'));
    for (const l of lines) {
      assert.match(l, /^type=USER_AVC msg=audit\(/, l);
      const r = parseLine(l);
      assert.ok(isRecord(r), l);
      assert.equal(r.type, 'USER_AVC');
      assert.equal(r.rest, undefined, 'no record is glued on');
      assert.equal(r.seccomp, undefined);
    }
    assert.ok(lines.some((l) => l.includes(`hello type=SECCOMP msg=audit(${now}.123:990000002)`)), `auditd wrote the newline as a space:\n${lines.join('\n')}`);

    // The profile, written when the container exited: the sender's real syscalls, not the forged one.
    const json = path.join(dir, 'web-main.json');
    await pollUntil(() => fs.existsSync(json), 30_000, `${json} after the container exited`);
    const ex = await stopRun(run);
    run = undefined;
    assert.equal(ex.code, 0);
    const names = (JSON.parse(fs.readFileSync(json, 'utf8')) as { syscalls: Array<{ names: string[] }> }).syscalls.flatMap((s) => s.names);
    assert.ok(names.includes('sendto') && names.includes('socket'), `the sender's own syscalls are recorded: ${names.join(',')}`);
    assert.ok(!names.includes('mount'), `forged mount recorded: ${names.join(',')}`);

    // The events: the USER_AVC messages, and no SECCOMP event made of their text.
    const { events } = readEvents(out);
    const seccompForged = events.filter((e) => e.type === 'SECCOMP' && (e.comm === marker || (e.serial ?? 0) >= 990000001));
    assert.deepEqual(seccompForged, []);
    const user = events.filter((e) => e.type === 'USER_AVC' && JSON.stringify(e).includes(marker));
    assert.equal(user.length, 2, `USER_AVC events with the forged text: ${user.length}`);
  });
});

describe('forged AVC decisions inside USER_AVC text (recorder)', () => {
  it("a pod's USER_AVC claiming a denial does not put that tuple into its recorded SelinuxProfile; its kernel AVC does", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-forged-avc-'));
    try {
      const r = new Recorder({ recordings: parseRecordingFlags(['se=app=web'], { ...RUN_RECORD_FLAG, merge: 'containers' }), out: new ProfileDirectory(dir), stateDir: path.join(dir, '.state'), log: createLogger('test') });
      const ev = (line: string): EventV1 => {
        const rec = parseLine(line);
        assert.ok(isRecord(rec), line);
        const e = eventFromRecord(rec, { node: 'n1', file: null, raw: false });
        e.enrichment = 'resolved';
        e.container = { id: 'c1'.padEnd(64, '0'), name: 'app', runtime: 'containerd', image: 'busybox' };
        e.pod = { name: 'web-1', namespace: 'demo', uid: 'uid-web-1', labels: { app: 'web' } };
        return e;
      };
      const forged = ev(`type=USER_AVC msg=audit(1795368920.400:76): pid=4242 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:container_t:s0:c1,c2 msg='avc:  denied  { mount } for  pid=4242 comm="app" scontext=system_u:system_r:container_t:s0:c1,c2 tcontext=system_u:object_r:fs_t:s0 tclass=filesystem permissive=0 exe="/app"'`);
      assert.equal(forged.selinux?.tclass, 'filesystem', 'the USER_AVC is read as an SELinux decision (what a userspace object manager reports)');
      const real = ev('type=AVC msg=audit(1795368920.500:77): avc:  denied  { read } for  pid=4242 comm="app" name="data" dev="sda1" ino=1 scontext=system_u:system_r:container_t:s0:c1,c2 tcontext=system_u:object_r:var_lib_t:s0 tclass=file permissive=0');
      await r.write([forged, real]);
      await r.close();
      const cil = fs.readFileSync(path.join(dir, 'se-app.cil'), 'utf8');
      assert.match(cil, /var_lib_t/);
      assert.doesNotMatch(cil, /filesystem|mount/, cil);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
