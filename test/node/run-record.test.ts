// The embedded recorder end to end: `auditflow run --record` watches a real pod (containerd through CRI,
// Localhost SCMP_ACT_LOG profile, auditd), writes the container's profile when it exits, and that OCI profile
// — defaultAction SCMP_ACT_ERRNO, only what was recorded allowed — lets the same command run again (exit 0).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureContainerd, removePod, runPod, waitContainerExited, type RunningPod } from '../env/cri';
import { ensureAuditd } from '../env/rig';
import { pollUntil, startRun, stopRun, waitReady, writeLogProfile, type RunProc } from '../env/run-node';

// no forks: every process of the run lives long enough to be attributed while it runs
const COMMAND = ['sh', '-c', 'echo hello; read -r l < /proc/self/status; echo "$l"; exec sleep 2'];

describe('auditflow run --record: a real container, recorded and enforced', () => {
  let tmp: string;
  let socket: string;
  let run: RunProc | undefined;
  const pods: RunningPod[] = [];
  before(async () => {
    await ensureAuditd();
    socket = ensureContainerd();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-run-record-'));
  });
  after(async () => {
    for (const p of pods) await removePod(p).catch(() => undefined);
    if (run) await stopRun(run).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('records a container; its OCI profile with defaultAction SCMP_ACT_ERRNO lets the same command run (exit 0)', async () => {
    const dir = path.join(tmp, 'profiles');
    const app = `rec-${process.pid}`;
    run = startRun([
      '--audit-log', '/var/log/audit/audit.log', '--checkpoint', 'none', '--cri-socket', socket,
      '--record', `web=app=${app}`, '--profile-dir', dir, '--output', path.join(tmp, 'denials.ndjson'), '--container-poll-ms', '300',
    ]);
    await waitReady(run);
    const recorded = await runPod({
      name: `${app}-1`, namespace: 'rec', labels: { app }, containers: [{ name: 'main', command: COMMAND }],
      seccompProfilePath: writeLogProfile(tmp), socketPath: socket,
    });
    pods.push(recorded);
    // a pod the selector does not match is not recorded
    const other = await runPod({
      name: `${app}-other`, namespace: 'rec', labels: { app: 'something-else' }, containers: [{ name: 'main', command: COMMAND }],
      seccompProfilePath: writeLogProfile(tmp), socketPath: socket,
    });
    pods.push(other);
    assert.equal(await waitContainerExited(socket, recorded.containers[0]!.id), 0);
    // written on container exit, while auditflow still runs
    const json = path.join(dir, 'web-main.json');
    await pollUntil(() => fs.existsSync(json), 30_000, `${json} after the container exited`);
    const ex = await stopRun(run);
    assert.equal(ex.code, 0, run.stderr().slice(-2000));
    assert.deepEqual(fs.readdirSync(dir).filter((f) => !f.startsWith('.')).sort(), ['web-main.evidence.json', 'web-main.json', 'web-main.yaml']);

    const oci = JSON.parse(fs.readFileSync(json, 'utf8')) as { defaultAction: string; architectures: string[]; syscalls: Array<{ names: string[]; action: string }> };
    assert.equal(oci.defaultAction, 'SCMP_ACT_ERRNO');
    assert.ok(oci.architectures.includes('SCMP_ARCH_X86_64'), JSON.stringify(oci.architectures));
    const names = oci.syscalls[0]!.names;
    for (const s of ['execve', 'read', 'write', 'openat']) assert.ok(names.includes(s), `${s} missing from ${names.join(',')}`);
    const yaml = fs.readFileSync(path.join(dir, 'web-main.yaml'), 'utf8');
    assert.match(yaml, /kind: "?SeccompProfile"?/);
    assert.match(yaml, /spo\.x-k8s\.io\/recording-id: "web"/);
    assert.match(yaml, /spo\.x-k8s\.io\/container-id: "main"/);
    assert.match(yaml, /spo\.x-k8s\.io\/recording-namespace: "rec"/);

    // enforce: the same command under the recorded profile
    const enforced = await runPod({
      name: `${app}-enforced`, namespace: 'rec', containers: [{ name: 'main', command: COMMAND }], seccompProfilePath: json, socketPath: socket,
    });
    pods.push(enforced);
    assert.equal(await waitContainerExited(socket, enforced.containers[0]!.id), 0, 'exit code under the recorded profile');
    const log = fs.readFileSync(path.join(enforced.logDirectory, 'main', '0.log'), 'utf8');
    assert.match(log, /hello/);
    assert.match(log, /Name:\s+sh/);
  });
});
