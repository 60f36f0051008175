// deploy/'s RBAC against the real kube-apiserver: the standalone overlay is applied for real, then each component's
// service-account identity is checked two ways: `kubectl auth can-i --as=...` (what RBAC grants) and real REST calls
// with the component's own bearer token (what the apiserver then does, admission policies included). Each
// component can do its job and nothing next to it.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { loadAll } from 'js-yaml';
import { API_VERSION, GROUP, NODE_STATUS_VERSION } from '../../src/k8s/api';
import { apiRequest, ensureKube, kubectl, repoRoot, SA_NAMESPACE, serviceAccountUser, type ApiResponse, type KubeEnv } from '../env/kube';

const suffix = randomBytes(3).toString('hex');
const G = `/apis/${GROUP}/v1`;
const GNS = `/apis/${GROUP}/${NODE_STATUS_VERSION}`;
const TAILER = serviceAccountUser('auditflow-tailer');
const AGENT = serviceAccountUser('auditflow-agent');
const AGGREGATOR = serviceAccountUser('auditflow-aggregator');

async function ok(env: KubeEnv, args: string[], input?: string): Promise<string> {
  const r = await kubectl(env, args, input === undefined ? {} : { input });
  assert.equal(r.status, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

function expectStatus(r: ApiResponse, want: number, what: string): void {
  assert.equal(r.status, want, `${what}: HTTP ${r.status} (want ${want}): ${r.text.slice(0, 600)}`);
}

/** Polls `fn` until it returns true or the deadline passes (admission policies take effect asynchronously). */
async function eventually(what: string, fn: () => Promise<boolean>, deadlineMs = 60_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) assert.fail(`${what}: not true within ${deadlineMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

type Check = [verb: string, resource: string, namespace: string | null, allowed: boolean];

const profiles = `seccompprofiles.${GROUP}`;
const selinux = `selinuxprofiles.${GROUP}`;
const recordings = `profilerecordings.${GROUP}`;
const nodeStatuses = `securityprofilenodestatuses.${GROUP}`;
const raw = `rawselinuxprofiles.${GROUP}`;
const apparmor = `apparmorprofiles.${GROUP}`;
const bindings = `profilebindings.${GROUP}`;

const matrix: Record<string, Check[]> = {
  // the tailer uses no Kubernetes API at all (procfs + CRI for enrichment, Kafka for output)
  [TAILER]: [
    ['list', 'pods', null, false],
    ['get', 'pods', 'kube-system', false],
    ['create', 'pods', 'default', false],
    ['delete', 'pods', 'default', false],
    ['list', 'secrets', SA_NAMESPACE, false],
    ['list', 'nodes', null, false],
    ['list', profiles, null, false],
    ['list', recordings, null, false],
    ['create', 'events', 'default', false],
    ['create', 'pods/exec', 'default', false],
  ],
  [AGENT]: [
    ['list', profiles, null, true],
    ['watch', selinux, null, true],
    ['patch', `${profiles}/status`, null, true],
    ['update', `${selinux}/status`, null, true],
    ['update', `${profiles}/finalizers`, null, true],
    ['patch', profiles, null, true],
    ['create', profiles, null, false],
    ['delete', profiles, null, false],
    ['delete', selinux, null, false],
    ['watch', raw, null, true],
    ['watch', apparmor, null, true],
    ['patch', `${raw}/status`, null, true],
    ['patch', `${apparmor}/status`, null, true],
    ['update', `${apparmor}/finalizers`, null, true],
    ['create', raw, null, false],
    ['delete', apparmor, null, false],
    ['list', bindings, null, false],
    ['list', 'pods', null, true],
    // SPO 1.0's node statuses are cluster-scoped
    ['create', nodeStatuses, null, true],
    ['delete', nodeStatuses, null, true],
    ['list', nodeStatuses, null, true],
    ['patch', `${nodeStatuses}/status`, null, true],
    ['create', 'events', 'default', true],
    ['list', recordings, null, false],
    ['list', 'secrets', SA_NAMESPACE, false],
    ['list', 'configmaps', SA_NAMESPACE, false],
    ['create', 'pods', SA_NAMESPACE, false],
  ],
  [AGGREGATOR]: [
    ['watch', recordings, null, true],
    ['patch', `${recordings}/status`, 'default', true],
    ['update', `${recordings}/finalizers`, 'default', true],
    ['create', recordings, 'default', false],
    ['delete', recordings, 'default', false],
    ['create', profiles, null, true],
    ['delete', selinux, null, true],
    ['update', profiles, null, true],
    ['list', 'pods', null, true],
    ['create', 'events', 'default', true],
    ['create', nodeStatuses, null, false],
    ['create', raw, null, false],
    ['list', bindings, null, false],
    ['list', 'secrets', SA_NAMESPACE, false],
    ['create', 'pods', 'default', false],
    ['list', 'nodes', null, false],
  ],
  nobody: [
    ['list', 'pods', null, false],
    ['list', profiles, null, false],
  ],
};

describe('RBAC of deploy/ on a real kube-apiserver', () => {
  let env: KubeEnv;
  let profileName: string;
  let recordingName: string;

  before(async () => {
    env = await ensureKube();
    // For real: service accounts, roles, bindings, admission policies (and the workloads, which stay inert here:
    // there is no kubelet or controller-manager).
    const overlay = path.join(repoRoot(), 'deploy', 'overlays', 'standalone');
    await ok(env, ['apply', '--server-side', '--force-conflicts', '--field-manager=auditflow-test', '-k', overlay]);
    // The apiserver outlives test runs: grants an earlier deploy/ applied and this one no longer has must go, so
    // that the checks below see exactly this deploy/'s permissions (what `apply --prune` would do).
    const docs = loadAll(await ok(env, ['kustomize', overlay])) as ({ kind: string; metadata: { name: string } } | null)[];
    const want = new Set(docs.filter((d) => !!d).map((d) => `${d!.kind}/${d!.metadata.name}`));
    const kinds = 'clusterroles,clusterrolebindings,roles,rolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings';
    const found = JSON.parse(await ok(env, ['get', kinds, '-A', '-l', 'app.kubernetes.io/name=auditflow', '-o', 'json'])).items as { kind: string; metadata: { name: string; namespace?: string } }[];
    for (const o of found) {
      if (want.has(`${o.kind}/${o.metadata.name}`)) continue;
      await ok(env, ['delete', ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []), o.kind.toLowerCase(), o.metadata.name]);
    }
    await ok(env, ['wait', '--for=condition=Established', '--timeout=120s', `crd/${profiles}`, `crd/${selinux}`, `crd/${recordings}`, `crd/${nodeStatuses}`]);
    profileName = `rbac-${suffix}`;
    await ok(env, ['create', '-f', '-'], JSON.stringify({ apiVersion: API_VERSION, kind: 'SeccompProfile', metadata: { name: profileName }, spec: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['read'] }] } }));
    recordingName = `rbac-${suffix}`;
    await ok(env, ['-n', 'default', 'create', '-f', '-'], JSON.stringify({ apiVersion: API_VERSION, kind: 'ProfileRecording', metadata: { name: recordingName }, spec: { kind: 'SeccompProfile', recorder: 'Logs', podSelector: { matchLabels: { app: 'x' } } } }));
  });

  for (const [user, checks] of Object.entries(matrix)) {
    it(`kubectl auth can-i --as=${user}: ${checks.filter((c) => c[3]).length} allowed, ${checks.filter((c) => !c[3]).length} forbidden`, async () => {
      const wrong: string[] = [];
      for (const [verb, resource, ns, allowed] of checks) {
        // "pods/exec" on the can-i command line would mean the pod named exec: subresources go in --subresource
        const [res, sub] = resource.split('/') as [string, string | undefined];
        const args = ['auth', 'can-i', verb, res, ...(sub ? [`--subresource=${sub}`] : []), `--as=${user}`, ...(ns ? ['-n', ns] : ['--all-namespaces'])];
        if (user.startsWith('system:serviceaccount:')) args.push('--as-group=system:serviceaccounts', `--as-group=system:serviceaccounts:${SA_NAMESPACE}`);
        const r = await kubectl(env, args);
        const answer = r.stdout.trim();
        assert.ok(answer === 'yes' || answer === 'no', `kubectl ${args.join(' ')}: ${r.stderr}${r.stdout}`);
        if ((answer === 'yes') !== allowed) wrong.push(`${verb} ${resource}${ns ? ` -n ${ns}` : ''}: ${answer}, want ${allowed ? 'yes' : 'no'}`);
      }
      assert.deepEqual(wrong, [], `${user}`);
    });
  }

  it("tailer's identity: refused everything (it has no use for the API)", async () => {
    const as = { user: TAILER };
    expectStatus(await apiRequest(env, as, 'GET', '/api/v1/pods?limit=1'), 403, 'list pods');
    expectStatus(await apiRequest(env, as, 'GET', `/api/v1/namespaces/${SA_NAMESPACE}/secrets`), 403, 'list secrets');
    expectStatus(await apiRequest(env, as, 'GET', `${G}/seccompprofiles`), 403, 'list seccompprofiles');
    expectStatus(await apiRequest(env, as, 'GET', `${G}/profilerecordings`), 403, 'list profilerecordings');
    const denied = await apiRequest(env, as, 'POST', '/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' }, spec: { containers: [{ name: 'x', image: 'x' }] } });
    expectStatus(denied, 403, 'create pod');
    assert.match(denied.body.message, /system:serviceaccount:auditflow:auditflow-tailer/, 'the apiserver names the identity it refused');
  });

  it("agent's token: status, finalizer and node status work; creating, deleting or editing a profile's spec does not", async () => {
    const as = { user: AGENT };
    expectStatus(await apiRequest(env, as, 'GET', `${G}/seccompprofiles`), 200, 'list seccompprofiles');
    expectStatus(await apiRequest(env, as, 'GET', `${G}/selinuxprofiles`), 200, 'list selinuxprofiles');
    expectStatus(await apiRequest(env, as, 'GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1'), 200, 'list pods of its node');
    const st = await apiRequest(env, as, 'PATCH', `${G}/seccompprofiles/${profileName}/status`, { status: { status: 'Installed', localhostProfile: `operator/${profileName}.json` } }, 'application/merge-patch+json');
    expectStatus(st, 200, 'patch status');
    assert.equal(st.body.status.status, 'Installed');
    const fin = await apiRequest(env, as, 'PATCH', `${G}/seccompprofiles/${profileName}`, { metadata: { finalizers: ['node-1-delete'] } }, 'application/merge-patch+json');
    expectStatus(fin, 200, 'add its node finalizer');
    assert.deepEqual(fin.body.metadata.finalizers, ['node-1-delete']);
    // The admission policy is compiled and started asynchronously after it is applied: wait until it bites.
    await eventually('agent spec change refused by the admission policy', async () => {
      const r = await apiRequest(env, as, 'PATCH', `${G}/seccompprofiles/${profileName}`, { spec: { defaultAction: 'SCMP_ACT_ALLOW' } }, 'application/merge-patch+json');
      if (r.status === 200) {
        // not enforced yet: undo, try again
        await ok(env, ['patch', profiles, profileName, '--type=merge', '-p', '{"spec":{"defaultAction":"SCMP_ACT_ERRNO"}}']);
        return false;
      }
      expectStatus(r, 403, 'agent patches the spec');
      assert.match(r.body.message, /may change only the metadata \(finalizers\) and status/);
      return true;
    });
    const after = JSON.parse(await ok(env, ['get', profiles, profileName, '-o', 'json']));
    assert.equal(after.spec.defaultAction, 'SCMP_ACT_ERRNO', 'the spec is unchanged');
    // the finalizer can be removed again by the agent
    expectStatus(await apiRequest(env, as, 'PATCH', `${G}/seccompprofiles/${profileName}`, { metadata: { finalizers: null } }, 'application/merge-patch+json'), 200, 'remove its finalizer');
    expectStatus(
      await apiRequest(env, as, 'POST', `${G}/seccompprofiles`, { apiVersion: API_VERSION, kind: 'SeccompProfile', metadata: { name: `agent-${suffix}` }, spec: { defaultAction: 'SCMP_ACT_ALLOW' } }),
      403,
      'create a profile',
    );
    expectStatus(await apiRequest(env, as, 'DELETE', `${G}/seccompprofiles/${profileName}`), 403, 'delete a profile');
    const ns = {
      apiVersion: `${GROUP}/${NODE_STATUS_VERSION}`,
      kind: 'SecurityProfileNodeStatus',
      metadata: { name: `seccompprofile-${profileName}-node-1`, labels: { 'spo.x-k8s.io/profile-id': `SeccompProfile-${profileName}` } },
      spec: { nodeName: 'node-1' },
    };
    expectStatus(await apiRequest(env, as, 'POST', `${GNS}/securityprofilenodestatuses`, ns), 201, 'create a (cluster-scoped) node status');
    const stp = await apiRequest(env, as, 'PATCH', `${GNS}/securityprofilenodestatuses/${ns.metadata.name}/status`, { status: { status: 'Terminating' } }, 'application/merge-patch+json');
    expectStatus(stp, 200, 'update node status through its status subresource');
    assert.equal(stp.body.status.status, 'Terminating');
    expectStatus(await apiRequest(env, as, 'DELETE', `${GNS}/securityprofilenodestatuses/${ns.metadata.name}`), 200, 'delete node status');
    expectStatus(
      await apiRequest(env, as, 'POST', '/api/v1/namespaces/default/events', {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `agent-${suffix}` },
        involvedObject: { apiVersion: API_VERSION, kind: 'SeccompProfile', name: profileName },
        reason: 'Installed',
        message: 'installed on node-1',
        type: 'Normal',
      }),
      201,
      'create an event',
    );
    expectStatus(await apiRequest(env, as, 'GET', `/api/v1/namespaces/${SA_NAMESPACE}/secrets`), 403, 'list secrets');
    expectStatus(await apiRequest(env, as, 'GET', `${G}/profilerecordings`), 403, 'list recordings');
  });

  it("aggregator's token: writes profiles and recording status; a recording's spec and other objects are out of reach", async () => {
    const as = { user: AGGREGATOR };
    const name = `agg-${suffix}`;
    const created = await apiRequest(env, as, 'POST', `${G}/seccompprofiles`, {
      apiVersion: API_VERSION,
      kind: 'SeccompProfile',
      metadata: { name, labels: { 'spo.x-k8s.io/recording-id': recordingName, 'spo.x-k8s.io/recording-namespace': 'default' } },
      spec: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['read', 'write'] }] },
    });
    expectStatus(created, 201, 'create a SeccompProfile');
    expectStatus(await apiRequest(env, as, 'PATCH', `${G}/seccompprofiles/${name}`, { spec: { syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['close', 'read', 'write'] }] } }, 'application/merge-patch+json'), 200, 'update its profile');
    expectStatus(await apiRequest(env, as, 'DELETE', `${G}/seccompprofiles/${name}`), 200, 'delete its profile');
    // the recording controller writes profiles by server-side apply (field manager "auditflow"): create + update
    const applied = { apiVersion: API_VERSION, kind: 'SeccompProfile', metadata: { name: `${name}-ssa` }, spec: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['read'] }] } };
    const ssaPath = `${G}/seccompprofiles/${name}-ssa?fieldManager=auditflow&force=true`;
    expectStatus(await apiRequest(env, as, 'PATCH', ssaPath, applied, 'application/apply-patch+yaml'), 201, 'server-side apply creates a profile');
    applied.spec.syscalls[0]!.names.push('write');
    expectStatus(await apiRequest(env, as, 'PATCH', ssaPath, applied, 'application/apply-patch+yaml'), 200, 'server-side apply updates it');
    expectStatus(await apiRequest(env, as, 'DELETE', `${G}/seccompprofiles/${name}-ssa`), 200, 'delete it');
    expectStatus(
      await apiRequest(env, as, 'POST', `${G}/selinuxprofiles`, { apiVersion: API_VERSION, kind: 'SelinuxProfile', metadata: { name }, spec: { inherit: [{ kind: 'System', name: 'container' }], allow: { var_log_t: { file: ['read'] } } } }),
      201,
      'create a SelinuxProfile',
    );
    expectStatus(await apiRequest(env, as, 'DELETE', `${G}/selinuxprofiles/${name}`), 200, 'delete it');
    expectStatus(await apiRequest(env, as, 'GET', `${G}/profilerecordings`), 200, 'list recordings');
    const rs = await apiRequest(
      env,
      as,
      'PATCH',
      `${G}/namespaces/default/profilerecordings/${recordingName}/status`,
      { status: { conditions: [{ type: 'Recording', status: 'True', reason: 'PodsSelected', message: '2 pods', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }], profiles: [name] } },
      'application/merge-patch+json',
    );
    expectStatus(rs, 200, 'patch recording status');
    expectStatus(await apiRequest(env, as, 'PATCH', `${G}/namespaces/default/profilerecordings/${recordingName}`, { metadata: { finalizers: ['spo.x-k8s.io/recording-cleanup'] } }, 'application/merge-patch+json'), 200, 'add the cleanup finalizer');
    await eventually('aggregator spec change refused by the admission policy', async () => {
      const r = await apiRequest(env, as, 'PATCH', `${G}/namespaces/default/profilerecordings/${recordingName}`, { spec: { podSelector: { matchLabels: { app: 'everything' } } } }, 'application/merge-patch+json');
      if (r.status === 200) {
        await ok(env, ['-n', 'default', 'patch', recordings, recordingName, '--type=merge', '-p', '{"spec":{"podSelector":{"matchLabels":{"app":"x"}}}}']);
        return false;
      }
      expectStatus(r, 403, 'aggregator patches a recording spec');
      assert.match(r.body.message, /never its spec/);
      return true;
    });
    expectStatus(await apiRequest(env, as, 'PATCH', `${G}/namespaces/default/profilerecordings/${recordingName}`, { metadata: { finalizers: null } }, 'application/merge-patch+json'), 200, 'remove the finalizer');
    expectStatus(await apiRequest(env, as, 'DELETE', `${G}/namespaces/default/profilerecordings/${recordingName}`), 403, 'delete a recording');
    expectStatus(
      await apiRequest(env, as, 'POST', `${G}/namespaces/default/profilerecordings`, { apiVersion: API_VERSION, kind: 'ProfileRecording', metadata: { name }, spec: { kind: 'SeccompProfile', recorder: 'Logs', podSelector: {} } }),
      403,
      'create a recording',
    );
    expectStatus(await apiRequest(env, as, 'GET', `${GNS}/securityprofilenodestatuses`), 403, 'read node statuses');
    expectStatus(await apiRequest(env, as, 'GET', `/api/v1/namespaces/${SA_NAMESPACE}/secrets`), 403, 'list secrets');
    expectStatus(await apiRequest(env, as, 'GET', '/api/v1/pods?labelSelector=app%3Dx'), 200, 'list the selected pods');
  });

  it('an admin is not bound by the components’ admission policies', async () => {
    await ok(env, ['patch', profiles, profileName, '--type=merge', '-p', '{"spec":{"defaultAction":"SCMP_ACT_LOG"}}']);
    const got = JSON.parse(await ok(env, ['get', profiles, profileName, '-o', 'json']));
    assert.equal(got.spec.defaultAction, 'SCMP_ACT_LOG');
  });

  it("a real service-account token (TokenRequest for deploy/'s auditflow-agent) gets the agent's rights", async () => {
    const token = (await ok(env, ['-n', SA_NAMESPACE, 'create', 'token', 'auditflow-agent', '--duration=10m'])).trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
    const who = await apiRequest(env, { token }, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
    expectStatus(who, 201, 'selfsubjectreview');
    assert.equal(who.body.status.userInfo.username, AGENT);
    expectStatus(await apiRequest(env, { token }, 'GET', `${G}/seccompprofiles`), 200, 'list profiles');
    expectStatus(await apiRequest(env, { token }, 'DELETE', `${G}/seccompprofiles/${profileName}`), 403, 'delete a profile');
  });

  it("an agent token bound to a node (authentication.kubernetes.io/node-name) may write only that node's SecurityProfileNodeStatus", async () => {
    const node = `rbac-node-${suffix}`;
    await ok(env, ['apply', '--server-side', '--field-manager=auditflow-test', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: node } }));
    try {
      const uid = (await ok(env, ['get', 'node', node, '-o', 'jsonpath={.metadata.uid}'])).trim();
      const token = (await ok(env, ['-n', SA_NAMESPACE, 'create', 'token', 'auditflow-agent', '--duration=10m', '--bound-object-kind=Node', `--bound-object-name=${node}`, `--bound-object-uid=${uid}`])).trim();
      const who = await apiRequest(env, { token }, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
      assert.deepEqual(who.body.status.userInfo.extra?.['authentication.kubernetes.io/node-name'], [node], 'the token names its node');
      const status = (nodeName: string, name: string) => ({ apiVersion: `${GROUP}/${NODE_STATUS_VERSION}`, kind: 'SecurityProfileNodeStatus', metadata: { name }, spec: { nodeName } });
      const own = `seccompprofile-${profileName}-${node}`;
      await eventually('the own-node policy is enforced', async () => {
        const r = await apiRequest(env, { token }, 'POST', `${GNS}/securityprofilenodestatuses`, status(`other-${node}`, `seccompprofile-${profileName}-other-${node}`));
        if (r.status === 201) {
          await ok(env, ['delete', nodeStatuses, `seccompprofile-${profileName}-other-${node}`]);
          return false;
        }
        expectStatus(r, 403, "create another node's status");
        assert.match(r.body.message, /may write only the SecurityProfileNodeStatus objects of its own node/);
        return true;
      });
      expectStatus(await apiRequest(env, { token }, 'POST', `${GNS}/securityprofilenodestatuses`, status(node, own)), 201, "create its own node's status");
      expectStatus(await apiRequest(env, { token }, 'PATCH', `${GNS}/securityprofilenodestatuses/${own}/status`, { status: { status: 'Installed' } }, 'application/merge-patch+json'), 200, 'update its status');
      expectStatus(await apiRequest(env, { token }, 'PATCH', `${GNS}/securityprofilenodestatuses/${own}`, { spec: { nodeName: 'elsewhere' } }, 'application/merge-patch+json'), 403, 'move it to another node');
      expectStatus(await apiRequest(env, { token }, 'DELETE', `${GNS}/securityprofilenodestatuses/${own}`), 200, 'delete its own');
    } finally {
      await kubectl(env, ['delete', '--ignore-not-found', 'node', node]);
    }
  });

  it('the unprivileged user "nobody" is refused everything auditflow serves', async () => {
    for (const p of [`${G}/seccompprofiles`, `${G}/selinuxprofiles`, `${G}/rawselinuxprofiles`, `${G}/apparmorprofiles`, `${G}/profilerecordings`, `${G}/profilebindings`, `${GNS}/securityprofilenodestatuses`, '/api/v1/pods']) {
      expectStatus(await apiRequest(env, { user: 'nobody' }, 'GET', p), 403, `nobody GET ${p}`);
    }
    expectStatus(await apiRequest(env, { token: 'not-a-token' }, 'GET', '/api/v1/pods'), 401, 'a bad token');
  });
});
