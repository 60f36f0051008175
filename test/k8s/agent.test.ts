// The node agent against the real kube-apiserver, with its own service-account identity (deploy/'s RBAC and
// admission policy): create / update / delete of SeccompProfiles into a temporary kubelet directory,
// stacking, hostile names, deletion held while a pod on the node uses the profile, and an apiserver restart
// in the middle of the watches; SPO 1.0's spec.state Disabled and node status objects; SelinuxProfile,
// RawSelinuxProfile and AppArmorProfile on a node without SELinux or AppArmor.
process.env.AUDITFLOW_LOG_LEVEL ??= 'warn';

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { startAgent, type Agent } from '../../src/agent/agent';
import { detectAppArmor } from '../../src/agent/apparmor';
import { ROOT } from '../env/cli';
import { nodeStatusName } from '../../src/agent/status';
import { ANNOTATION_REASON, API_VERSION, FINALIZER_NODE, LABEL_NODE_NAME, LABEL_PROFILE_ID, LABEL_PROFILE_KIND, LABEL_PROFILE_STATE, type SeccompProfile, type SecurityProfileNodeStatus } from '../../src/k8s/api';
import { ApiError, type KubeClient } from '../../src/k8s/client';
import { APPARMOR_PROFILES, NODE_STATUSES, RAW_SELINUX_PROFILES, resourcePath, SECCOMP_PROFILES, SELINUX_PROFILES } from '../../src/k8s/resources';
import { createLogger } from '../../src/log';
import { registry } from '../../src/metrics';
import { clientAs, ensureDeployed, ensureNamespace, eventually, forgetNode, getOrUndefined, uniqueName } from '../env/k8s-setup';
import { SA_NAMESPACE, type KubeEnv } from '../env/kube';

const NODE = uniqueName('agent-node');
const TEST_NS = 'auditflow-agent-test';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-agent-'));
const kubeletDir = path.join(tmp, 'kubelet');
const seccompDir = path.join(kubeletDir, 'seccomp', 'operator');
const created: string[] = [];

let env: KubeEnv;
let admin: KubeClient;
let agentClient: KubeClient;
let agent: Agent | undefined;

const profilePath = (name: string) => resourcePath(SECCOMP_PROFILES, { name });
const fileOf = (name: string) => path.join(seccompDir, `${name}.json`);
const readJson = (name: string) => JSON.parse(fs.readFileSync(fileOf(name), 'utf8')) as { defaultAction: string; syscalls?: { names: string[]; action: string }[] };
const allowed = (name: string) => readJson(name).syscalls?.find((s) => s.action === 'SCMP_ACT_ALLOW')?.names ?? [];

function seccomp(name: string, names: string[], extra: Partial<SeccompProfile['spec']> = {}): SeccompProfile {
  return {
    apiVersion: API_VERSION,
    kind: 'SeccompProfile',
    metadata: { name },
    spec: { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ action: 'SCMP_ACT_ALLOW', names }], ...extra },
  };
}

async function put(p: SeccompProfile): Promise<void> {
  if (!created.includes(p.metadata.name)) created.push(p.metadata.name);
  await admin.apply(profilePath(p.metadata.name), p);
}

const nodeStatus = (profile: string, kind = 'SeccompProfile') => getOrUndefined<SecurityProfileNodeStatus>(admin, resourcePath(NODE_STATUSES, { name: nodeStatusName(kind, profile, NODE) }));
const reasonOf = (s: SecurityProfileNodeStatus) => s.metadata.annotations?.[ANNOTATION_REASON];
const nodeStatusOn = (profile: string, kind: string, node: string) => getOrUndefined<SecurityProfileNodeStatus>(admin, resourcePath(NODE_STATUSES, { name: nodeStatusName(kind, profile, node) }));
const getProfile = (name: string) => getOrUndefined<SeccompProfile>(admin, profilePath(name));

async function waitNodeState(profile: string, state: string, reason?: RegExp): Promise<SecurityProfileNodeStatus> {
  return eventually(`node status of ${profile} on ${NODE} is ${state}${reason ? ` (${reason})` : ''}`, async () => {
    const s = await nodeStatus(profile);
    return s && s.status?.status === state && (!reason || reason.test(reasonOf(s) ?? '')) ? s : undefined;
  });
}

async function waitFile(name: string, pred: (names: string[]) => boolean, what: string): Promise<void> {
  await eventually(`${fileOf(name)}: ${what}`, () => fs.existsSync(fileOf(name)) && pred(allowed(name)));
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name);
  assert.ok(m, `metric ${name} is registered`);
  const { values } = await m.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

/** Every file under the temporary directory (nothing may ever appear outside the seccomp root). */
function filesUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map(String).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

before(async () => {
  env = await ensureDeployed();
  admin = clientAs(env, 'admin');
  agentClient = clientAs(env, 'auditflow-agent', 'auditflow-agent');
  await ensureNamespace(admin, TEST_NS);
  agent = await startAgent({ client: agentClient, nodeName: NODE, kubeletDir, namespace: SA_NAMESPACE, log: createLogger('agent-test') });
});

after(async () => {
  await agent?.stop();
  // Leave nothing behind: this node's finalizer on every profile (the agent is gone) and its node statuses,
  // then our profiles.
  if (admin) {
    await forgetNode(admin, NODE, SA_NAMESPACE);
    for (const n of created) await admin.delete(profilePath(n)).catch(() => undefined);
    admin.close();
  }
  agentClient?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('node agent: SeccompProfile lifecycle', () => {
  const name = uniqueName('lifecycle');

  it('installs a created profile as <kubeletDir>/seccomp/operator/<name>.json (0644) and reports Installed', async () => {
    await put(seccomp(name, ['write', 'read', 'exit_group']));
    await waitFile(name, (n) => n.length === 3, 'holds the 3 syscalls');
    assert.deepEqual(readJson(name), { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['exit_group', 'read', 'write'] }] });
    assert.equal(fs.statSync(fileOf(name)).mode & 0o777, 0o644);
    const ns = await waitNodeState(name, 'Installed');
    // SPO 1.0's node status: cluster-scoped v1, spec.nodeName, status.status, SPO's labels, owned by the profile.
    assert.equal(ns.apiVersion, 'security-profiles-operator.x-k8s.io/v1');
    assert.equal(ns.metadata.namespace, undefined);
    assert.equal(ns.metadata.name, `seccompprofile-${name}-${NODE}`);
    assert.deepEqual(ns.spec, { nodeName: NODE });
    assert.deepEqual(ns.metadata.labels, { [LABEL_PROFILE_ID]: `SeccompProfile-${name}`, [LABEL_NODE_NAME]: NODE, [LABEL_PROFILE_STATE]: 'Installed', [LABEL_PROFILE_KIND]: 'SeccompProfile' });
    assert.deepEqual(ns.metadata.ownerReferences?.map((o) => [o.kind, o.name]), [['SeccompProfile', name]]);
    const p = await eventually('profile status Installed', async () => {
      const p = await getProfile(name);
      return p?.status?.status === 'Installed' ? p : undefined;
    });
    assert.equal(p.status!.localhostProfile, `operator/${name}.json`);
    assert.equal(p.status!.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.ok(p.metadata.finalizers?.includes(FINALIZER_NODE(NODE)), 'the per-node finalizer is set before the file is relied on');
  });

  it('rewrites the file when the profile is updated', async () => {
    await put(seccomp(name, ['write', 'read', 'exit_group', 'openat']));
    await waitFile(name, (n) => n.includes('openat'), 'gains openat');
    assert.deepEqual(allowed(name), ['exit_group', 'openat', 'read', 'write']);
  });

  it('removes the file, the node status and its finalizer when the profile is deleted', async () => {
    await admin.delete(profilePath(name));
    await eventually('profile gone from the API', async () => (await getProfile(name)) === undefined);
    assert.equal(fs.existsSync(fileOf(name)), false);
    await eventually('node status deleted', async () => (await nodeStatus(name)) === undefined);
  });
});

describe('node agent: stacking', () => {
  const base = uniqueName('base');
  const app = uniqueName('app');

  it('reports a missing base as Error and writes nothing, then installs the merged stack when the base appears', async () => {
    await put(seccomp(app, ['write'], { baseProfileName: base }));
    const st = await waitNodeState(app, 'Error', new RegExp(`base profile "${base}" not found`));
    assert.match(reasonOf(st)!, new RegExp(`${app} -> ${base}`));
    await eventually('profile-wide status Error', async () => (await getProfile(app))?.status?.status === 'Error');
    assert.equal(fs.existsSync(fileOf(app)), false);

    await put(seccomp(base, ['futex', 'execve'], { architectures: ['SCMP_ARCH_X86'] }));
    await waitFile(app, (n) => n.includes('futex'), 'holds the base syscalls');
    assert.deepEqual(readJson(app), {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['execve', 'futex', 'write'] }],
    });
    await waitNodeState(app, 'Installed');
  });

  it('rewrites the stacked profile when its base changes', async () => {
    await put(seccomp(base, ['futex', 'execve', 'clone3'], { architectures: ['SCMP_ARCH_X86'] }));
    await waitFile(app, (n) => n.includes('clone3'), 'gains the base\'s clone3');
    assert.deepEqual(allowed(app), ['clone3', 'execve', 'futex', 'write']);
  });

  it('reports cycles and hostile base names as Errors with a reason, writing nothing', async () => {
    const x = uniqueName('cyc-x');
    const y = uniqueName('cyc-y');
    const evil = uniqueName('evil-base');
    await put(seccomp(x, ['read'], { baseProfileName: y }));
    await put(seccomp(y, ['read'], { baseProfileName: x }));
    await put(seccomp(evil, ['read'], { baseProfileName: '../../../../etc/passwd' }));
    await waitNodeState(x, 'Error', /cycle/);
    await waitNodeState(y, 'Error', /cycle/);
    await waitNodeState(evil, 'Error', /is invalid: name contains a path separator/);
    for (const n of [x, y, evil]) assert.equal(fs.existsSync(fileOf(n)), false, n);
    assert.deepEqual(
      filesUnder(tmp).filter((f) => !f.startsWith(path.join('kubelet', 'seccomp', 'operator') + path.sep)),
      [],
      'nothing outside the seccomp root',
    );
  });
});

describe('node agent: hostile names', () => {
  it('the apiserver refuses names that are not DNS-1123; a name too long for a file is an Error on the node; nothing reaches the disk', async () => {
    const before = filesUnder(tmp);
    for (const bad of ['../escape', 'a/b', 'UPPER', '.', 'x'.repeat(254)]) {
      await assert.rejects(
        admin.create(resourcePath(SECCOMP_PROFILES), seccomp(bad, ['read'])),
        (e: unknown) => e instanceof ApiError && e.status >= 400 && e.status < 500,
        `name ${JSON.stringify(bad.slice(0, 20))} (${bad.length})`,
      );
    }
    // A name of exactly 250 characters is the longest that fits "<name>.json" in NAME_MAX: installed.
    const longest = `${uniqueName('l')}-${'a'.repeat(240)}`.slice(0, 250);
    await put(seccomp(longest, ['read']));
    await waitFile(longest, (n) => n.includes('read'), 'installed');
    // 251 characters: a valid object name (SPO's CRD accepts it), but "<name>.json" exceeds NAME_MAX.
    const tooLong = `${uniqueName('t')}-${'b'.repeat(245)}`.slice(0, 251);
    await put(seccomp(tooLong, ['read']));
    await waitNodeState(tooLong, 'Error', /invalid profile name/);
    assert.deepEqual(
      filesUnder(tmp).filter((f) => !before.includes(f)),
      [path.join('kubelet', 'seccomp', 'operator', `${longest}.json`)],
    );
  });
});

describe('node agent: deletion while in use', () => {
  const name = uniqueName('in-use');
  const pod = uniqueName('user');
  const elsewhere = uniqueName('other-node-user');

  it('keeps the file and reports Terminating while a pod on this node references it, removes it once the pod is gone', async () => {
    await put(seccomp(name, ['read', 'write']));
    await waitFile(name, (n) => n.length === 2, 'installed');
    const podSpec = (podName: string, nodeName: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: podName, namespace: TEST_NS },
      spec: {
        nodeName,
        automountServiceAccountToken: false,
        containers: [{ name: 'c', image: 'busybox', securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: `operator/${name}.json` } } }],
      },
    });
    await admin.create(`/api/v1/namespaces/${TEST_NS}/pods`, podSpec(pod, NODE));
    // A pod on another node must not hold this node's file.
    await admin.create(`/api/v1/namespaces/${TEST_NS}/pods`, podSpec(elsewhere, `${NODE}-other`));
    try {
      await admin.delete(profilePath(name));
      const st = await waitNodeState(name, 'Terminating', new RegExp(`${TEST_NS}/${pod}`));
      assert.doesNotMatch(reasonOf(st)!, new RegExp(elsewhere));
      const p = await getProfile(name);
      assert.ok(p?.metadata.deletionTimestamp, 'the profile waits for this node');
      assert.ok(fs.existsSync(fileOf(name)), 'the file stays while the pod may (re)start containers');
      await eventually('profile-wide status Terminating', async () => (await getProfile(name))?.status?.status === 'Terminating');
    } finally {
      await admin.delete(`/api/v1/namespaces/${TEST_NS}/pods/${pod}`, { gracePeriodSeconds: 0 });
      await admin.delete(`/api/v1/namespaces/${TEST_NS}/pods/${elsewhere}`, { gracePeriodSeconds: 0 });
    }
    await eventually('file removed once the pod is gone', () => !fs.existsSync(fileOf(name)));
    await eventually('profile deleted', async () => (await getProfile(name)) === undefined);
    await eventually('node status deleted', async () => (await nodeStatus(name)) === undefined);
  });
});

describe('node agent: spec.state Disabled (SPO)', () => {
  const name = uniqueName('disabled');
  const pod = uniqueName('dis-user');

  it('does not install a Disabled profile and reports Disabled; installs it once Enabled', async () => {
    await put(seccomp(name, ['read'], { state: 'Disabled' }));
    await waitNodeState(name, 'Disabled');
    await eventually('profile-wide status Disabled', async () => (await getProfile(name))?.status?.status === 'Disabled');
    assert.equal(fs.existsSync(fileOf(name)), false, 'nothing installed');
    await put(seccomp(name, ['read'], { state: 'Enabled' }));
    await waitFile(name, (n) => n.includes('read'), 'installed once Enabled');
    await waitNodeState(name, 'Installed');
  });

  it('removes a Disabled profile from the node, but only once no pod on the node uses it', async () => {
    await admin.create(`/api/v1/namespaces/${TEST_NS}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod, namespace: TEST_NS },
      spec: { nodeName: NODE, automountServiceAccountToken: false, containers: [{ name: 'c', image: 'busybox', securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: `operator/${name}.json` } } }] },
    });
    try {
      await put(seccomp(name, ['read'], { state: 'Disabled' }));
      const st = await waitNodeState(name, 'Disabled', new RegExp(`${TEST_NS}/${pod}`));
      assert.match(reasonOf(st)!, /file kept/);
      assert.ok(fs.existsSync(fileOf(name)), 'kept while the pod may restart containers');
    } finally {
      await admin.delete(`/api/v1/namespaces/${TEST_NS}/pods/${pod}`, { gracePeriodSeconds: 0 });
    }
    await eventually('file removed once the pod is gone', () => !fs.existsSync(fileOf(name)));
    await eventually('node status Disabled without the "file kept" reason once the file is gone', async () => {
      const st = await nodeStatus(name);
      return st?.status?.status === 'Disabled' && reasonOf(st) === undefined;
    });
  });
});

describe('node agent: LSM profiles on a node without SELinux or AppArmor (this VM)', () => {
  const cases = [
    { kind: 'SelinuxProfile', type: SELINUX_PROFILES, spec: { inherit: [{ kind: 'System', name: 'container' }], allow: { var_log_t: { file: ['read'] } } }, why: /^Unsupported: .*SELinux is not enabled/ },
    { kind: 'RawSelinuxProfile', type: RAW_SELINUX_PROFILES, spec: { policy: '(blockinherit container)\n(allow process var_log_t (file (read)))' }, why: /^Unsupported: .*SELinux is not enabled/ },
    { kind: 'AppArmorProfile', type: APPARMOR_PROFILES, spec: { abstract: { filesystem: { readOnlyPaths: ['/etc/hosts'] } } }, why: /^Unsupported: AppArmor is not enabled/ },
  ] as const;
  for (const c of cases) {
    it(`${c.kind}: the node status is SPO's Error with an "Unsupported: ..." reason; profile-wide Error, Ready reason Unsupported`, async () => {
      const name = uniqueName(c.kind.toLowerCase());
      const p = resourcePath(c.type, { name });
      await admin.apply(p, { apiVersion: API_VERSION, kind: c.kind, metadata: { name }, spec: c.spec });
      try {
        const st = await eventually(`${c.kind} node status`, async () => {
          const s = await nodeStatus(name, c.kind);
          return s?.status?.status === 'Error' ? s : undefined;
        });
        assert.equal(st.metadata.labels?.[LABEL_PROFILE_KIND], c.kind);
        assert.match(reasonOf(st)!, c.why);
        const prof = await eventually('profile-wide status Error', async () => {
          const x = await getOrUndefined<{ status?: { status?: string; conditions?: { type: string; reason: string }[] } }>(admin, p);
          return x?.status?.status === 'Error' ? x : undefined;
        });
        assert.equal(prof.status?.conditions?.find((x) => x.type === 'Ready')?.reason, 'Unsupported');
        assert.deepEqual(await getOrUndefined<{ metadata: { finalizers?: string[] } }>(admin, p).then((x) => x?.metadata.finalizers ?? []), [], 'nothing installed: no finalizer');
      } finally {
        await admin.delete(p).catch(() => undefined);
      }
      await eventually(`${c.kind} and node status gone`, async () => (await getOrUndefined(admin, p)) === undefined && (await nodeStatus(name, c.kind)) === undefined);
    });
  }
});

describe('node agent: AppArmorProfile on a node with AppArmor (enabled file Y, apparmor_parser compile-only)', () => {
  // This VM has no AppArmor LSM: the node's enabled file is a temporary one saying Y, and "apparmor_parser" a
  // wrapper running Debian's real apparmor_parser in compile-only mode (-QT -K) on what the agent pipes in.
  const aaTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-aa-'));
  const node = `${NODE}-aa`;
  let aaAgent: Agent | undefined;

  it('installs (compiles and keeps) the rendered profile, reports Installed; an unusable path is an Error; deletion removes it', async () => {
    execFileSync('bash', [path.join(ROOT, 'test', 'env', 'packages.sh'), 'apparmor'], { stdio: 'inherit' });
    const enabled = path.join(aaTmp, 'enabled');
    fs.writeFileSync(enabled, 'Y\n');
    const wrapper = path.join(aaTmp, 'apparmor_parser');
    fs.writeFileSync(wrapper, '#!/bin/sh\ncase "$*" in *--remove*) cat >/dev/null; exit 0;; esac\nexec /usr/sbin/apparmor_parser -QT -K\n', { mode: 0o755 });
    const support = detectAppArmor(enabled);
    assert.equal(support.ok, true, JSON.stringify(support));
    aaAgent = await startAgent({ client: agentClient, nodeName: node, kubeletDir, log: createLogger('agent-aa'), apparmor: { ok: true, parser: wrapper }, apparmorDir: path.join(aaTmp, 'profiles') });
    const good = uniqueName('aa-good');
    const bad = uniqueName('aa-bad');
    const p = (n: string) => resourcePath(APPARMOR_PROFILES, { name: n });
    try {
      await admin.apply(p(good), { apiVersion: API_VERSION, kind: 'AppArmorProfile', metadata: { name: good }, spec: { abstract: { filesystem: { readOnlyPaths: ['/etc/hosts'] }, network: { allowedProtocols: { allowTcp: true } } } } });
      await admin.apply(p(bad), { apiVersion: API_VERSION, kind: 'AppArmorProfile', metadata: { name: bad }, spec: { abstract: { filesystem: { readOnlyPaths: ['/etc/x, /etc/shadow rw'] } } } });
      await eventually(`${good} Installed on ${node}`, async () => (await nodeStatusOn(good, 'AppArmorProfile', node))?.status?.status === 'Installed');
      const text = fs.readFileSync(path.join(aaTmp, 'profiles', good), 'utf8');
      assert.match(text, new RegExp(`^profile ${good} `, 'm'));
      assert.match(text, /^ {2}\/etc\/hosts r,$/m);
      const st = await eventually(`${bad} Error on ${node}`, async () => {
        const s = await nodeStatusOn(bad, 'AppArmorProfile', node);
        return s?.status?.status === 'Error' ? s : undefined;
      });
      assert.match(reasonOf(st)!, /not an absolute path AppArmor can take/);
      await admin.delete(p(good));
      await eventually('profile file removed and profile gone', async () => !fs.existsSync(path.join(aaTmp, 'profiles', good)) && (await getOrUndefined(admin, p(good))) === undefined);
    } finally {
      await aaAgent?.stop();
      await forgetNode(admin, node);
      for (const n of [good, bad]) await admin.delete(p(n)).catch(() => undefined);
      fs.rmSync(aaTmp, { recursive: true, force: true });
    }
  });
});

describe('node agent: apiserver restart', () => {
  it('resumes its watches after kube-apiserver restarts: later changes are installed', async () => {
    const before = await metric('auditflow_k8s_watch_restarts_total', { resource: 'seccompprofiles' });
    const kept = uniqueName('kept');
    await put(seccomp(kept, ['read']));
    await waitFile(kept, (n) => n.includes('read'), 'installed before the restart');
    await env.restartApiserver();
    const fresh = uniqueName('after-restart');
    await eventually('apiserver answers again', async () => (await put(seccomp(fresh, ['read', 'getpid'])), true), 60_000);
    await put(seccomp(kept, ['read', 'getppid']));
    await eventually(`${fresh} installed after the restart`, () => fs.existsSync(fileOf(fresh)) && allowed(fresh).includes('getpid'), 60_000);
    await eventually(`${kept} updated after the restart`, () => allowed(kept).includes('getppid'), 60_000);
    assert.ok((await metric('auditflow_k8s_watch_restarts_total', { resource: 'seccompprofiles' })) > before, 'the watch was restarted (metric)');
  });
});
