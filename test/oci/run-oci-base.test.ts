// `auditflow run --record --record-base oci://…@sha256:…` for real (issue 16): a base SeccompProfile pushed and
// signed by `auditflow push` to the rig registry, a real pod (containerd through CRI, auditd) recorded on top
// of it. The recorded SeccompProfile names the reference and lists only what the base does not allow; NAME.json
// (what a runtime reads) is the whole stack and runs the same command again. The same base pushed unsigned is
// refused by the default policy (a signature is required): nothing is written for the profile, the refusal is
// logged with its reason and counted in auditflow_recording_base_errors_total.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { load } from 'js-yaml';
import { ensureContainerd, removePod, runPod, waitContainerExited, type RunningPod } from '../env/cri';
import type { RegistryEnv } from '../env/registry';
import { ensureAuditd } from '../env/rig';
import { httpGet, metricValue, pollUntil, startRun, stopRun, waitReady, writeLogProfile, type RunProc } from '../env/run-node';
import { cli, keyPair, registry, regFlags, scratch, uniqueRepo } from './setup';

// no forks: every process of the run lives long enough to be attributed while it runs
const COMMAND = ['sh', '-c', 'echo hello; read -r l < /proc/self/status; echo "$l"; exec sleep 2'];
/** What the base allows: syscalls every run of COMMAND makes, so the difference visibly leaves them out. */
const BASE_SYSCALLS = ['exit_group', 'read', 'write'];

describe('auditflow run --record on an oci:// base from the rig registry', () => {
  let reg: RegistryEnv;
  let tmp: string;
  let socket: string;
  let trusted: { key: string; pub: string };
  let dockerConfig: string;
  const runs: RunProc[] = [];
  const pods: RunningPod[] = [];

  before(async () => {
    reg = registry();
    await ensureAuditd();
    socket = ensureContainerd();
    tmp = scratch('run-base');
    trusted = keyPair(tmp, 'trusted');
    dockerConfig = path.join(tmp, 'config.json');
    fs.writeFileSync(dockerConfig, JSON.stringify({ auths: { [reg.address]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } } }));
  });
  after(async () => {
    for (const p of pods) await removePod(p).catch(() => undefined);
    for (const r of runs) await stopRun(r).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Pushes the base (signed with `key` when given) and returns its digest-pinned oci:// reference. */
  async function pushBase(tag: string, key?: string): Promise<string> {
    const f = path.join(tmp, `base-${tag}.yaml`);
    fs.writeFileSync(f, JSON.stringify({
      apiVersion: 'security-profiles-operator.x-k8s.io/v1beta1', kind: 'SeccompProfile', metadata: { name: 'runtime-base' },
      spec: { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ action: 'SCMP_ACT_ALLOW', names: BASE_SYSCALLS }] },
    }));
    const r = await cli(['push', ...regFlags(reg), ...(key ? ['--sign-key', key] : []), `${reg.address}/${uniqueRepo('run-base')}:${tag}`, f]);
    assert.equal(r.code, 0, r.stderr);
    const pushed = /-> (\S+)\n/.exec(r.stdout.toString())?.[1];
    assert.ok(pushed && /@sha256:[a-f0-9]{64}$/.test(pushed), `push reports the digest: ${r.stdout.toString()}`);
    return `oci://${pushed}`;
  }

  /** `auditflow run --record` of one pod labelled app=`app` on `base`; returns the run and the profile directory once the container exited. */
  async function recordOn(base: string, app: string): Promise<{ run: RunProc; dir: string; port: number }> {
    const dir = path.join(tmp, app);
    const run = startRun([
      '--audit-log', '/var/log/audit/audit.log', '--checkpoint', 'none', '--cri-socket', socket,
      '--record', `web=app=${app}`, '--record-base', base, '--profile-dir', dir, '--output', path.join(tmp, `${app}.ndjson`), '--container-poll-ms', '300',
      '--oci-verify-key', trusted.pub, '--oci-ca-file', reg.ca, '--oci-docker-config', dockerConfig, '--oci-allowed-registry', reg.address,
    ]);
    runs.push(run);
    const port = await waitReady(run);
    const pod = await runPod({
      name: `${app}-1`, namespace: 'rec', labels: { app }, containers: [{ name: 'main', command: COMMAND }],
      seccompProfilePath: writeLogProfile(tmp), socketPath: socket,
    });
    pods.push(pod);
    assert.equal(await waitContainerExited(socket, pod.containers[0]!.id), 0);
    return { run, dir, port };
  }

  it('a signed base: the recorded profile names it and carries only the difference; NAME.json is the whole stack and enforces', async () => {
    const ref = await pushBase('signed', trusted.key);
    const app = `ocibase-${process.pid}`;
    const { run, dir } = await recordOn(ref, app);
    const yamlFile = path.join(dir, 'web-main.yaml');
    await pollUntil(() => fs.existsSync(yamlFile), 30_000, `${yamlFile} after the container exited`);
    assert.equal((await stopRun(run)).code, 0, run.stderr().slice(-2000));

    const res = load(fs.readFileSync(yamlFile, 'utf8')) as { spec: { baseProfileName?: string; syscalls: Array<{ action: string; names: string[] }> } };
    assert.equal(res.spec.baseProfileName, ref);
    const diff = res.spec.syscalls.flatMap((s) => s.names);
    for (const s of BASE_SYSCALLS) assert.ok(!diff.includes(s), `${s} is allowed by the base, yet listed: ${diff.join(',')}`);
    for (const s of ['execve', 'openat']) assert.ok(diff.includes(s), `${s} missing from the difference ${diff.join(',')}`);
    // every recorded syscall is allowed by the stack: in the base or in the difference
    const evidence = JSON.parse(fs.readFileSync(path.join(dir, 'web-main.evidence.json'), 'utf8')) as { evidence: Record<string, unknown> };
    const recorded = new Set(Object.keys(evidence.evidence));
    assert.ok(recorded.size > 0, 'evidence recorded');
    for (const s of recorded) assert.ok(BASE_SYSCALLS.includes(s) || diff.includes(s), `${s} was recorded, yet neither in the base nor in the difference`);
    assert.ok([...recorded].some((s) => BASE_SYSCALLS.includes(s)), 'the container used syscalls of the base (else nothing was subtracted)');

    const json = path.join(dir, 'web-main.json');
    const oci = JSON.parse(fs.readFileSync(json, 'utf8')) as { defaultAction: string; syscalls: Array<{ action: string; names: string[] }> };
    const whole = new Set(oci.syscalls.filter((s) => s.action === 'SCMP_ACT_ALLOW').flatMap((s) => s.names));
    for (const s of [...BASE_SYSCALLS, ...diff]) assert.ok(whole.has(s), `${s} missing from NAME.json`);
    const enforced = await runPod({ name: `${app}-enforced`, namespace: 'rec', containers: [{ name: 'main', command: COMMAND }], seccompProfilePath: json, socketPath: socket });
    pods.push(enforced);
    assert.equal(await waitContainerExited(socket, enforced.containers[0]!.id), 0, 'exit code under the recorded stack');
  });

  it('an unsigned base is refused (a signature is required): nothing written for the profile, the reason logged and counted', async () => {
    const ref = await pushBase('unsigned');
    const app = `ocibase-unsigned-${process.pid}`;
    const { run, dir, port } = await recordOn(ref, app);
    // the profile is due at the container's end: the refusal shows in the log and the counter instead
    await pollUntil(() => run.stderr().includes('base profile not resolved'), 30_000, 'the refusal logged');
    const metrics = (await httpGet(port, '/metrics')).body;
    assert.ok(metricValue(metrics, 'auditflow_recording_base_errors_total') >= 1, metrics.split('\n').filter((l) => l.includes('base_errors')).join('\n'));
    assert.equal((await stopRun(run)).code, 0, run.stderr().slice(-2000));
    const line = run.stderr().split('\n').find((l) => l.includes('base profile not resolved'))!;
    assert.match(line, /signature/i, line);
    assert.ok(line.includes(ref.slice(0, 60)), line);
    const written = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => !f.startsWith('.')) : [];
    assert.deepEqual(written, [], 'nothing written for the profile, not even at shutdown');
  });

  it('an oci:// base with a signature required and no key is a usage error at start, before anything is read', async () => {
    const r = await cli(['run', '--once', '--checkpoint', 'none', '--cri-socket', 'none', '--listen', 'none', '--no-progress', '--audit-log', '/dev/null',
      '--record', 'web=app=web', '--record-base', `oci://${reg.address}/x/base:1`, '--profile-dir', path.join(tmp, 'nokey')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--oci-verify-key/);
    const bad = await cli(['run', '--once', '--checkpoint', 'none', '--cri-socket', 'none', '--listen', 'none', '--no-progress', '--audit-log', '/dev/null',
      '--record', 'web=app=web', '--record-base', 'oci://no-repository', '--oci-insecure-skip-verify']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--record-base "oci:\/\/no-repository"/);
  });
});
