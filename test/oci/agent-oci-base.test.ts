// The node agent with `baseProfileName: oci://…@sha256:…` against the real kube-apiserver (deploy/'s RBAC and
// admission policy, the agent's own service account) and the rig registry: the base is pulled, its cosign
// signature verified, the stack installed and SPO's `syscalls` annotation set; a workload in a real pod (private
// containerd, test/env/cri.sh) then runs under the stacked profile: the top profile's rule and the OCI base's rule
// both deny. Unsigned, wrongly signed and disallowed-registry bases give status Error with the reason and no file.
process.env.AUDITFLOW_LOG_LEVEL ??= 'warn';

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgent, type Agent } from '../../src/agent/agent';
import { ANNOTATION_SYSCALLS, OciBases } from '../../src/agent/oci-base';
import { nodeStatusName } from '../../src/agent/status';
import { ANNOTATION_REASON, API_VERSION, type SeccompProfile, type SecurityProfileNodeStatus } from '../../src/k8s/api';
import type { KubeClient } from '../../src/k8s/client';
import { NODE_STATUSES, resourcePath, SECCOMP_PROFILES } from '../../src/k8s/resources';
import { createLogger } from '../../src/log';
import { loadPublicKey } from '../../src/oci/cosign';
import { ensureContainerd, removePod, runPod, type RunningPod } from '../env/cri';
import { clientAs, ensureDeployed, eventually, forgetNode, getOrUndefined, uniqueName } from '../env/k8s-setup';
import { SA_NAMESPACE } from '../env/kube';
import type { RegistryEnv } from '../env/registry';
import { cli, keyPair, registry, regFlags, scratch, uniqueRepo } from './setup';

const NODE = uniqueName('oci-node');
let reg: RegistryEnv;
let tmp: string;
let kubeletDir: string;
let admin: KubeClient;
let agentClient: KubeClient;
let agent: Agent | undefined;
let trusted: { key: string; pub: string };
let other: { key: string; pub: string };
const created: string[] = [];
const pods: RunningPod[] = [];

/** The OCI base: denies chmod (and its *at forms), allows everything else it names. */
const BASE: SeccompProfile = {
  apiVersion: API_VERSION,
  kind: 'SeccompProfile',
  metadata: { name: 'chmod-denied-base' },
  spec: { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ action: 'SCMP_ACT_ERRNO', names: ['chmod', 'fchmodat', 'fchmodat2'] }] },
};

async function push(tag: string, key?: string, content: string = JSON.stringify(BASE), repo = uniqueRepo('base')): Promise<string> {
  const f = path.join(tmp, `${tag}.yaml`);
  fs.writeFileSync(f, content);
  const r = await cli(['push', ...regFlags(reg), ...(key ? ['--sign-key', key] : []), `${reg.address}/${repo}:${tag}`, f]);
  assert.equal(r.code, 0, r.stderr);
  return 'oci://' + /-> (\S+)\n/.exec(r.stdout.toString())![1]!;
}

async function put(name: string, base: string, extra: Partial<SeccompProfile['spec']> = {}): Promise<void> {
  created.push(name);
  await admin.apply(resourcePath(SECCOMP_PROFILES, { name }), {
    apiVersion: API_VERSION,
    kind: 'SeccompProfile',
    metadata: { name },
    spec: { defaultAction: 'SCMP_ACT_ALLOW', baseProfileName: base, syscalls: [{ action: 'SCMP_ACT_ERRNO', names: ['mkdir', 'mkdirat'] }], ...extra },
  });
}

const fileOf = (name: string) => path.join(kubeletDir, 'seccomp', 'operator', `${name}.json`);

const reasonOf = (s: SecurityProfileNodeStatus) => s.metadata.annotations?.[ANNOTATION_REASON];

async function nodeState(name: string, state: string, reason?: RegExp): Promise<SecurityProfileNodeStatus> {
  return eventually(`node status of ${name} is ${state} ${reason ?? ''}`, async () => {
    const s = await getOrUndefined<SecurityProfileNodeStatus>(admin, resourcePath(NODE_STATUSES, { name: nodeStatusName('SeccompProfile', name, NODE) }));
    return s && s.status?.status === state && (!reason || reason.test(reasonOf(s) ?? '')) ? s : undefined;
  }, 60_000);
}

before(async () => {
  reg = registry();
  tmp = scratch('agent');
  kubeletDir = path.join(tmp, 'kubelet');
  trusted = keyPair(tmp, 'trusted');
  other = keyPair(tmp, 'other');
  const dockerConfig = path.join(tmp, 'config.json');
  fs.writeFileSync(dockerConfig, JSON.stringify({ auths: { [reg.address]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } } }));
  const env = await ensureDeployed();
  ensureContainerd();
  admin = clientAs(env, 'admin');
  agentClient = clientAs(env, 'auditflow-agent', 'auditflow-agent');
  const ociBases = new OciBases({ keys: [loadPublicKey(fs.readFileSync(trusted.pub))], ca: fs.readFileSync(reg.ca), dockerConfig, allowedRegistries: [reg.address] });
  agent = await startAgent({
    client: agentClient,
    nodeName: NODE,
    kubeletDir,
    namespace: SA_NAMESPACE,
    log: createLogger('oci-agent-test'),
    ociBases,
    ociRetry: { initialMs: 500, maxMs: 2000 },
  });
});

after(async () => {
  await agent?.stop();
  for (const p of pods) await removePod(p).catch(() => undefined);
  if (admin) {
    await forgetNode(admin, NODE, SA_NAMESPACE);
    for (const n of created) await admin.delete(resourcePath(SECCOMP_PROFILES, { name: n })).catch(() => undefined);
    admin.close();
  }
  agentClient?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('node agent: oci:// base profiles', () => {
  it('installs a profile stacked on a signed oci://…@sha256 base, sets the syscalls annotation, and a pod runs under it', async () => {
    const base = await push('v1', trusted.key);
    assert.match(base, /@sha256:[0-9a-f]{64}$/);
    const name = uniqueName('oci-app');
    await put(name, base);
    await nodeState(name, 'Installed');
    const installed = JSON.parse(fs.readFileSync(fileOf(name), 'utf8'));
    assert.deepEqual(installed, {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: ['chmod', 'fchmodat', 'fchmodat2', 'mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
    });
    const p = await eventually('syscalls annotation', async () => {
      const p = await getOrUndefined<SeccompProfile>(admin, resourcePath(SECCOMP_PROFILES, { name }));
      return p?.metadata.annotations?.[ANNOTATION_SYSCALLS] ? p : undefined;
    });
    assert.deepEqual(JSON.parse(p.metadata.annotations![ANNOTATION_SYSCALLS]!), installed.syscalls);
    await eventually('profile status Installed', async () => (await getOrUndefined<SeccompProfile>(admin, resourcePath(SECCOMP_PROFILES, { name })))?.status?.status === 'Installed');

    // a real pod under the installed file: the app's own rule (mkdir) and the OCI base's (chmod) both deny
    const pod = await runPod({
      name: `oci-stack-${process.pid}`,
      namespace: 'default',
      containers: [{ name: 'main', command: ['sh', '-c', 'echo started; mkdir /d; echo "mkdir=$?"; touch /f; echo "touch=$?"; chmod 600 /f; echo "chmod=$?"; echo done'], mayExit: true }],
      seccompProfilePath: fileOf(name),
    });
    pods.push(pod);
    const log = path.join(pod.logDirectory, 'main', '0.log');
    const out = await eventually(`container output in ${log}`, () => (fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('done') ? fs.readFileSync(log, 'utf8') : undefined), 60_000);
    assert.match(out, /mkdir=1/, 'mkdir denied by the top profile');
    assert.match(out, /chmod=1/, 'chmod denied by the OCI base');
    assert.match(out, /touch=0/, 'everything else allowed');
    assert.match(out, /Operation not permitted/);
  });

  it('an unsigned base: status Error "no signature", nothing written', async () => {
    const name = uniqueName('oci-unsigned');
    await put(name, await push('unsigned'));
    const s = await nodeState(name, 'Error', /no signature/);
    assert.match(reasonOf(s)!, /oci:\/\//);
    assert.equal(fs.existsSync(fileOf(name)), false);
    const p = await eventually('profile status Error', async () => {
      const p = await getOrUndefined<SeccompProfile>(admin, resourcePath(SECCOMP_PROFILES, { name }));
      return p?.status?.status === 'Error' ? p : undefined;
    });
    assert.match(p.status!.conditions!.find((c) => c.type === 'Ready')!.message!, /no signature/);
  });

  it('a base signed by an unknown key: Error, nothing written', async () => {
    const name = uniqueName('oci-unknown');
    await put(name, await push('other', other.key));
    await nodeState(name, 'Error', /none of the trusted keys/);
    assert.equal(fs.existsSync(fileOf(name)), false);
  });

  it('a registry outside the policy: Error, nothing pulled or written', async () => {
    const name = uniqueName('oci-denied');
    await put(name, 'oci://registry.invalid:5000/bases/runc@sha256:' + 'a'.repeat(64));
    await nodeState(name, 'Error', /registry registry\.invalid:5000 is not allowed/);
    assert.equal(fs.existsSync(fileOf(name)), false);
  });

  it('a base pushed after the profile that names it: Error first, then Installed by the timed retry, the profile untouched', async () => {
    const repo = uniqueRepo('late');
    const name = uniqueName('oci-late');
    await put(name, `oci://${reg.address}/${repo}:v1`);
    await nodeState(name, 'Error', /pull failed/);
    assert.equal(fs.existsSync(fileOf(name)), false);
    const before = await admin.get<SeccompProfile>(resourcePath(SECCOMP_PROFILES, { name }));
    await push('v1', trusted.key, JSON.stringify(BASE), repo);
    await nodeState(name, 'Installed');
    const installed = JSON.parse(fs.readFileSync(fileOf(name), 'utf8'));
    assert.deepEqual(installed.syscalls, [{ names: ['chmod', 'fchmodat', 'fchmodat2', 'mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }]);
    const after = await admin.get<SeccompProfile>(resourcePath(SECCOMP_PROFILES, { name }));
    assert.equal(after.metadata.generation, before.metadata.generation, 'the spec was not touched: the timer reconciled it');
  });

  it('a base that is not a seccomp profile: Error', async () => {
    const name = uniqueName('oci-selinux');
    const selinux = { apiVersion: 'security-profiles-operator.x-k8s.io/v1alpha2', kind: 'SelinuxProfile', metadata: { name: 'x' }, spec: { allow: {} } };
    await put(name, await push('selinux', trusted.key, JSON.stringify(selinux)));
    await nodeState(name, 'Error', /holds a SelinuxProfile, not a seccomp profile/);
  });
});

describe('OciBases cache', () => {
  it('is bounded in count and age, and a failed pull is not cached', async () => {
    let now = 0;
    const bases = new OciBases({ keys: [loadPublicKey(fs.readFileSync(trusted.pub))], ca: fs.readFileSync(reg.ca), dockerConfig: path.join(tmp, 'config.json'), maxEntries: 2, ttlMs: 1000, now: () => now });
    const refs = [await push('c1', trusted.key), await push('c2', trusted.key), await push('c3', trusted.key)];
    for (const r of refs) assert.ok(!('error' in (await bases.fetch(r))));
    assert.equal(bases.size, 2, 'the oldest entry went');
    assert.equal(bases.cached(refs[0]!), undefined);
    assert.ok(bases.cached(refs[2]!));
    now = 1001;
    assert.equal(bases.cached(refs[2]!), undefined, 'expired after the TTL');
    const bad = await bases.fetch(await push('c4'));
    assert.ok('error' in bad && /no signature/.test(bad.error));
  });
});
