// The admission webhook end to end on the real kube-apiserver: the apiserver calls `auditflow webhook` (in this
// process, with deploy/'s service-account identity and the certificates it made) when pods are created, and the
// tests read back the pods as stored. Recording injection in an opted-in namespace and none elsewhere, the
// Warning events of SPO, ProfileBinding by image and by "*", ClusterProfileBinding with exclusions and its
// precedence below namespaced bindings, a bound profile whose deletion waits until no pod uses it, hostile
// images and names, and auditflow's own pods and namespace never locked out by the fail-closed webhooks.
process.env.AUDITFLOW_LOG_LEVEL ??= 'warn';

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { API_VERSION, type ProfileBinding, type ProfileRecording, type SeccompProfile } from '../../src/k8s/api';
import { ApiError, type KubeClient } from '../../src/k8s/client';
import { PROFILE_BINDINGS, PROFILE_RECORDINGS, resourcePath, SECCOMP_PROFILES } from '../../src/k8s/resources';
import { registry } from '../../src/metrics';
import { CLUSTER_PROFILE_BINDINGS, FINALIZER_BINDING, FINALIZER_IN_USE, LABEL_ENABLE_BINDING, LABEL_ENABLE_RECORDING, type ClusterProfileBinding } from '../../src/webhook/api';
import type { Webhook } from '../../src/webhook';
import { clientAs, ensureDeployed, eventually, getOrUndefined, uniqueName } from '../env/k8s-setup';
import { SA_NAMESPACE, type KubeEnv } from '../env/kube';
import { deleteConfiguration, SCOPE_LABEL, startTestWebhook, tmpDir, webhookServiceAccountClient } from '../env/webhook';

const RUN = uniqueName('wh').slice(3);
const LOG_PROFILE = `operator/${SA_NAMESPACE}/log-enricher-trace.json`;
const NS = {
  rec: `wh-rec-${RUN}`,
  plain: `wh-plain-${RUN}`,
  bind: `wh-bind-${RUN}`,
  excluded: `wh-excl-${RUN}`,
};
const dir = tmpDir();

let env: KubeEnv;
let admin: KubeClient;
let saClient: KubeClient;
let webhook: (Webhook & { url: string; configName: string }) | undefined;
const profiles: string[] = [];
const clusterBindings: string[] = [];
const pods: [string, string][] = [];

type Pod = {
  metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    securityContext?: { seccompProfile?: { type: string; localhostProfile?: string } };
    containers: { name: string; image: string; securityContext?: { privileged?: boolean; seccompProfile?: { type: string; localhostProfile?: string } } }[];
    initContainers?: { name: string; image: string; securityContext?: { seccompProfile?: { type: string; localhostProfile?: string } } }[];
  };
};

async function namespace(name: string, labels: Record<string, string>): Promise<void> {
  await admin.apply(`/api/v1/namespaces/${name}`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { [SCOPE_LABEL]: RUN, ...labels } } });
  await admin.apply(`/api/v1/namespaces/${name}/serviceaccounts/default`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: name } });
}

function pod(name: string, containers: Pod['spec']['containers'], extra: { labels?: Record<string, string>; annotations?: Record<string, string>; podProfile?: string; init?: Pod['spec']['initContainers'] } = {}): Pod {
  return {
    metadata: { name, namespace: '', ...(extra.labels ? { labels: extra.labels } : {}), ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: {
      containers,
      ...(extra.init ? { initContainers: extra.init } : {}),
      ...(extra.podProfile ? { securityContext: { seccompProfile: { type: extra.podProfile } } } : {}),
    },
  };
}

async function create(ns: string, p: Pod): Promise<Pod> {
  pods.push([ns, p.metadata.name]);
  return admin.create<Pod>(`/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'Pod', ...p, metadata: { ...p.metadata, namespace: ns } });
}

async function deletePod(ns: string, name: string): Promise<void> {
  await admin.delete(`/api/v1/namespaces/${ns}/pods/${name}`, { gracePeriodSeconds: 0 }).catch(() => undefined);
}

async function seccompProfile(name: string, installed = true): Promise<void> {
  profiles.push(name);
  const p: SeccompProfile = { apiVersion: API_VERSION, kind: 'SeccompProfile', metadata: { name }, spec: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['read', 'write', 'exit_group'] }] } };
  await admin.apply(resourcePath(SECCOMP_PROFILES, { name }), p);
  // No node agent here: say what one would have said.
  if (installed) await admin.mergePatch(resourcePath(SECCOMP_PROFILES, { name, subresource: 'status' }), { status: { status: 'Installed', localhostProfile: `operator/${name}.json` } });
  await eventually(`webhook sees SeccompProfile ${name}`, () => !!webhook!.server.seccompProfiles.get(name));
}

async function binding(ns: string, name: string, image: string, profile: string): Promise<void> {
  const b: ProfileBinding = { apiVersion: API_VERSION, kind: 'ProfileBinding', metadata: { name, namespace: ns }, spec: { image, profileRef: { kind: 'SeccompProfile', name: profile } } };
  await admin.apply(resourcePath(PROFILE_BINDINGS, { namespace: ns, name }), b);
  await eventually(`webhook sees ProfileBinding ${ns}/${name}`, () => !!webhook!.server.bindings.get(`${ns}/${name}`));
}

async function clusterBinding(name: string, image: string, profile: string, exclude: string[]): Promise<void> {
  clusterBindings.push(name);
  const b: ClusterProfileBinding = { apiVersion: 'auditflow.dev/v1alpha1', kind: 'ClusterProfileBinding', metadata: { name }, spec: { image, profileRef: { kind: 'SeccompProfile', name: profile }, exclude } };
  await admin.apply(resourcePath(CLUSTER_PROFILE_BINDINGS, { name }), b);
  await eventually(`webhook sees ClusterProfileBinding ${name}`, () => !!webhook!.server.clusterBindings.get(name));
}

async function recording(ns: string, name: string, selector: Record<string, string>): Promise<void> {
  const r: ProfileRecording = { apiVersion: API_VERSION, kind: 'ProfileRecording', metadata: { name, namespace: ns }, spec: { kind: 'SeccompProfile', recorder: 'Logs', podSelector: { matchLabels: selector } } };
  await admin.apply(resourcePath(PROFILE_RECORDINGS, { namespace: ns, name }), r);
  await eventually(`webhook sees ProfileRecording ${ns}/${name}`, () => !!webhook!.server.recordings.get(`${ns}/${name}`));
}

async function warningEvents(ns: string, involved: string, reason: string): Promise<{ message: string; type: string }[]> {
  const l = await admin.get<{ items: { message: string; type: string; reason: string }[] }>(`/api/v1/namespaces/${ns}/events`, { fieldSelector: `involvedObject.name=${involved},reason=${reason}` });
  return l.items;
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name);
  assert.ok(m, `metric ${name} is registered`);
  const { values } = await m.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

const localhostOf = (c: { securityContext?: { seccompProfile?: { type: string; localhostProfile?: string } } } | undefined) => c?.securityContext?.seccompProfile;

before(async () => {
  env = await ensureDeployed();
  admin = clientAs(env, 'admin');
  saClient = await webhookServiceAccountClient(env, dir);
  await namespace(NS.rec, { [LABEL_ENABLE_RECORDING]: '' });
  await namespace(NS.plain, {});
  await namespace(NS.bind, { [LABEL_ENABLE_BINDING]: 'true' });
  await namespace(NS.excluded, { [LABEL_ENABLE_BINDING]: 'true' });
  webhook = await startTestWebhook({ client: saClient, scope: RUN, namespaces: Object.values(NS) });
});

after(async () => {
  if (admin) {
    if (webhook) await deleteConfiguration(admin, webhook.configName);
    for (const [ns, n] of pods) await deletePod(ns, n);
  }
  await webhook?.stop().catch(() => undefined);
  if (admin) {
    for (const n of clusterBindings) await admin.delete(resourcePath(CLUSTER_PROFILE_BINDINGS, { name: n })).catch(() => undefined);
    for (const n of profiles) await admin.delete(resourcePath(SECCOMP_PROFILES, { name: n })).catch(() => undefined);
    admin.close();
  }
  saClient?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('recording webhook', () => {
  it('injects the logging profile and the trace-logs annotations into a selected pod of an opted-in namespace, nothing into others', async () => {
    await recording(NS.rec, 'demo-rec', { app: 'demo' });
    await recording(NS.plain, 'demo-rec', { app: 'demo' });
    const before = await metric('auditflow_webhook_admissions_total', { webhook: 'recording', result: 'mutated' });
    const got = await create(NS.rec, pod('demo-1', [{ name: 'app', image: 'registry.example/demo:1' }, { name: 'side', image: 'registry.example/side:1' }], { labels: { app: 'demo' } }));
    for (const c of got.spec.containers) assert.deepEqual(localhostOf(c), { type: 'Localhost', localhostProfile: LOG_PROFILE }, `container ${c.name}`);
    for (const c of ['app', 'side']) assert.match(got.metadata.annotations?.[`io.containers.trace-logs/${c}`] ?? '', new RegExp(`^demo-rec_${c}_[0-9a-f]{5}_\\d{10}$`), `annotation of ${c}`);
    assert.equal(await metric('auditflow_webhook_admissions_total', { webhook: 'recording', result: 'mutated' }), before + 1);

    const other = await create(NS.rec, pod('other-1', [{ name: 'app', image: 'registry.example/demo:1' }], { labels: { app: 'other' } }));
    assert.equal(localhostOf(other.spec.containers[0]), undefined, 'a pod the recording does not select is untouched');
    assert.equal(other.metadata.annotations, undefined);

    const plain = await create(NS.plain, pod('demo-1', [{ name: 'app', image: 'registry.example/demo:1' }], { labels: { app: 'demo' } }));
    assert.equal(localhostOf(plain.spec.containers[0]), undefined, 'a namespace without spo.x-k8s.io/enable-recording is not recorded');
    assert.equal(plain.metadata.annotations, undefined);
  });

  it('warns (Warning events on the recording, admission warnings) for a privileged container and a pod that had a profile, and records them anyway', async () => {
    await recording(NS.rec, 'warn-rec', { app: 'warned' });
    const got = await create(
      NS.rec,
      pod('warned-1', [{ name: 'priv', image: 'registry.example/priv:1', securityContext: { privileged: true } }, { name: 'own', image: 'registry.example/own:1', securityContext: { seccompProfile: { type: 'RuntimeDefault' } } }], {
        labels: { app: 'warned' },
        podProfile: 'RuntimeDefault',
      }),
    );
    for (const c of got.spec.containers) assert.deepEqual(localhostOf(c), { type: 'Localhost', localhostProfile: LOG_PROFILE }, `container ${c.name} is recorded`);
    assert.equal(got.spec.containers[0]!.securityContext?.privileged, true, 'privileged is left as the author set it');
    const priv = await eventually('PrivilegedContainer event', async () => ((await warningEvents(NS.rec, 'warn-rec', 'PrivilegedContainer')).length ? warningEvents(NS.rec, 'warn-rec', 'PrivilegedContainer') : undefined));
    assert.equal(priv[0]!.type, 'Warning');
    assert.match(priv[0]!.message, /Container "priv" in pod "warned-1" is privileged/);
    const already = await eventually('SecurityContextAlreadySet events', async () => {
      const l = await warningEvents(NS.rec, 'warn-rec', 'SecurityContextAlreadySet');
      return l.length >= 2 ? l : undefined;
    });
    assert.ok(already.every((e) => e.type === 'Warning'));
    assert.ok(already.some((e) => /Container "own" had SecurityContext already set/.test(e.message)));
    assert.ok(already.some((e) => /Pod "warned-1" had a seccomp profile/.test(e.message)));
  });
});

describe('binding webhooks', () => {
  const P = { nginx: `wh-nginx-${RUN}`, star: `wh-star-${RUN}`, cluster: `wh-cluster-${RUN}`, clusterImg: `wh-cluster-img-${RUN}`, odd: `wh-odd-${RUN}` };

  before(async () => {
    for (const p of Object.values(P)) await seccompProfile(p);
  });

  it('ProfileBinding by image: matching containers get Localhost operator/<name>.json, others not; an author-set profile is kept', async () => {
    await binding(NS.bind, 'nginx-binding', 'nginx:1.25', P.nginx);
    const got = await create(
      NS.bind,
      pod('img-1', [{ name: 'web', image: 'nginx:1.25' }, { name: 'other', image: 'busybox:1' }, { name: 'own', image: 'nginx:1.25', securityContext: { seccompProfile: { type: 'RuntimeDefault' } } }], {
        init: [{ name: 'init', image: 'nginx:1.25' }],
      }),
    );
    assert.deepEqual(localhostOf(got.spec.containers[0]), { type: 'Localhost', localhostProfile: `operator/${P.nginx}.json` });
    assert.equal(localhostOf(got.spec.containers[1]), undefined, 'another image is not bound');
    assert.deepEqual(localhostOf(got.spec.containers[2]), { type: 'RuntimeDefault' }, "the author's profile stays (SPO v1)");
    assert.deepEqual(localhostOf(got.spec.initContainers![0]), { type: 'Localhost', localhostProfile: `operator/${P.nginx}.json` }, 'init containers too');
    assert.equal(got.metadata.annotations?.['spo.x-k8s.io/profile-bindings'], 'nginx-binding');
    const plain = await create(NS.plain, pod('img-1', [{ name: 'web', image: 'nginx:1.25' }]));
    assert.equal(localhostOf(plain.spec.containers[0]), undefined, 'bindings only apply in namespaces labeled spo.x-k8s.io/enable-binding');
  });

  it('ProfileBinding "*": the pod security context gets the profile; an image binding still wins for its containers', async () => {
    await binding(NS.bind, 'star-binding', '*', P.star);
    const got = await create(NS.bind, pod('star-1', [{ name: 'web', image: 'nginx:1.25' }, { name: 'any', image: 'registry.example/whatever:7' }]));
    assert.deepEqual(got.spec.securityContext?.seccompProfile, { type: 'Localhost', localhostProfile: `operator/${P.star}.json` });
    assert.deepEqual(localhostOf(got.spec.containers[0]), { type: 'Localhost', localhostProfile: `operator/${P.nginx}.json` }, 'image binding over "*"');
    assert.equal(localhostOf(got.spec.containers[1]), undefined, 'inherits the pod-level profile');
    assert.equal(got.metadata.annotations?.['spo.x-k8s.io/profile-bindings'], 'nginx-binding,star-binding');
  });

  it('ClusterProfileBinding applies in every namespace except the excluded ones, and a namespaced binding wins over it', async () => {
    await clusterBinding(`wh-cpb-star-${RUN}`, '*', P.cluster, [NS.excluded]);
    await clusterBinding(`wh-cpb-img-${RUN}`, 'redis:7', P.clusterImg, [NS.excluded]);
    // a plain namespace (no opt-in): the cluster bindings apply
    const plain = await create(NS.plain, pod('cpb-1', [{ name: 'db', image: 'redis:7' }, { name: 'x', image: 'registry.example/x:1' }]));
    assert.deepEqual(localhostOf(plain.spec.containers[0]), { type: 'Localhost', localhostProfile: `operator/${P.clusterImg}.json` }, 'image cluster binding over "*"');
    assert.deepEqual(localhostOf(plain.spec.containers[1]), { type: 'Localhost', localhostProfile: `operator/${P.cluster}.json` });
    assert.equal(plain.metadata.annotations?.['auditflow.dev/cluster-profile-bindings'], [`wh-cpb-img-${RUN}`, `wh-cpb-star-${RUN}`].sort().join(','));
    // excluded namespace: untouched by the cluster bindings (and it has no ProfileBinding)
    const excl = await create(NS.excluded, pod('cpb-1', [{ name: 'db', image: 'redis:7' }, { name: 'x', image: 'registry.example/x:1' }]));
    assert.equal(localhostOf(excl.spec.containers[0]), undefined);
    assert.equal(localhostOf(excl.spec.containers[1]), undefined);
    assert.equal(excl.spec.securityContext?.seccompProfile, undefined);
    // opted-in namespace with an image binding and a "*" binding: both namespaced ones win
    const bound = await create(NS.bind, pod('cpb-1', [{ name: 'web', image: 'nginx:1.25' }, { name: 'db', image: 'redis:7' }]));
    assert.deepEqual(localhostOf(bound.spec.containers[0]), { type: 'Localhost', localhostProfile: `operator/${P.nginx}.json` });
    assert.equal(localhostOf(bound.spec.containers[1]), undefined, 'the namespace\'s "*" binding (pod level) covers it, not the cluster image binding');
    assert.deepEqual(bound.spec.securityContext?.seccompProfile, { type: 'Localhost', localhostProfile: `operator/${P.star}.json` });
    assert.equal(bound.metadata.annotations?.['auditflow.dev/cluster-profile-bindings'], undefined);
  });

  it("a pod's odd image string or pre-existing odd annotations cannot change the patch's structure", async () => {
    const image = 'x:1","op":"remove","path":"/spec"} ~1/~0 \u2028 }]';
    await binding(NS.bind, 'odd-binding', image, P.odd);
    // Written by server-side apply (YAML): U+2028 must survive (it is a line break to YAML 1.1).
    const stored = await admin.get<ProfileBinding>(resourcePath(PROFILE_BINDINGS, { namespace: NS.bind, name: 'odd-binding' }));
    assert.equal(stored.spec.image, image, 'the binding keeps the image as given');
    const annotations = { 'example.com/a_b.c': '"}],{"op":"add","path":"/spec/hostPID","value":true}', 'plain': '~1~0/' };
    const got = await create(NS.bind, pod('odd-1', [{ name: 'odd', image }, { name: 'web', image: 'nginx:1.25' }], { annotations }));
    assert.equal(got.spec.containers[0]!.image, image, 'the image is stored as given');
    assert.deepEqual(localhostOf(got.spec.containers[0]), { type: 'Localhost', localhostProfile: `operator/${P.odd}.json` });
    assert.deepEqual(localhostOf(got.spec.containers[1]), { type: 'Localhost', localhostProfile: `operator/${P.nginx}.json` });
    assert.equal((got.spec as { hostPID?: boolean }).hostPID, undefined);
    assert.deepEqual({ ...got.metadata.annotations, 'spo.x-k8s.io/profile-bindings': undefined }, { ...annotations, 'spo.x-k8s.io/profile-bindings': undefined });
    assert.equal(got.metadata.annotations?.['spo.x-k8s.io/profile-bindings'], 'nginx-binding,odd-binding,star-binding');
  });

  it('a profile in use cannot be deleted: the delete only marks it until the last pod using it is gone; bindings get active-workload-lock', async () => {
    const name = `wh-inuse-${RUN}`;
    await seccompProfile(name);
    await binding(NS.bind, 'inuse-binding', 'registry.example/inuse:1', name);
    await create(NS.bind, pod('inuse-1', [{ name: 'c', image: 'registry.example/inuse:1' }]));
    const sp = await eventually('in-use finalizer and activeWorkloads on the profile', async () => {
      const p = await getOrUndefined<SeccompProfile>(admin, resourcePath(SECCOMP_PROFILES, { name }));
      return p?.metadata.finalizers?.includes(FINALIZER_IN_USE) && p.status?.activeWorkloads?.includes(`${NS.bind}/inuse-1`) ? p : undefined;
    });
    assert.deepEqual(sp.status!.activeWorkloads, [`${NS.bind}/inuse-1`]);
    const pb = await eventually('active-workload-lock on the binding', async () => {
      const b = await getOrUndefined<ProfileBinding>(admin, resourcePath(PROFILE_BINDINGS, { namespace: NS.bind, name: 'inuse-binding' }));
      return b?.metadata.finalizers?.includes(FINALIZER_BINDING) ? b : undefined;
    });
    assert.deepEqual(pb.status?.activeWorkloads, [`${NS.bind}/inuse-1`]);

    await admin.delete(resourcePath(SECCOMP_PROFILES, { name }));
    const held = await getOrUndefined<SeccompProfile>(admin, resourcePath(SECCOMP_PROFILES, { name }));
    assert.ok(held, 'the profile is still there while the pod uses it');
    assert.ok(held.metadata.deletionTimestamp, 'marked for deletion');
    await eventually('webhook sees the deletion', () => !!webhook!.server.seccompProfiles.get(name)?.metadata.deletionTimestamp);
    // A new pod cannot be bound to a profile on its way out (it would be left without its file).
    const late = await create(NS.bind, pod('inuse-2', [{ name: 'c', image: 'registry.example/inuse:1' }]));
    assert.equal(localhostOf(late.spec.containers[0]), undefined, 'a terminating profile is not bound');

    await deletePod(NS.bind, 'inuse-1');
    await eventually('profile deleted once no pod uses it', async () => {
      const p = await getOrUndefined<SeccompProfile>(admin, resourcePath(SECCOMP_PROFILES, { name }));
      // Another session's node agent may hold its own finalizer for a moment; ours must be gone.
      return p === undefined || !p.metadata.finalizers?.includes(FINALIZER_IN_USE);
    });
    await eventually('binding unlocked', async () => {
      const b = await getOrUndefined<ProfileBinding>(admin, resourcePath(PROFILE_BINDINGS, { namespace: NS.bind, name: 'inuse-binding' }));
      return !!b && !b.metadata.finalizers?.includes(FINALIZER_BINDING) && !b.status?.activeWorkloads?.length;
    });
    await admin.delete(resourcePath(PROFILE_BINDINGS, { namespace: NS.bind, name: 'inuse-binding' }));
    assert.equal(await getOrUndefined(admin, resourcePath(PROFILE_BINDINGS, { namespace: NS.bind, name: 'inuse-binding' })), undefined, 'an unused binding is deleted at once');
  });
});

describe('lock-out: failure policy and selectors', () => {
  it("the written configuration excludes auditflow's namespace and pods; recording and binding fail closed, cluster-binding open", async () => {
    const cfg = await admin.get<{ webhooks: { name: string; failurePolicy: string; sideEffects: string; namespaceSelector: { matchExpressions: { key: string; operator: string; values?: string[] }[] }; objectSelector: unknown }[] }>(
      `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${webhook!.configName}`,
    );
    assert.deepEqual(
      cfg.webhooks.map((w) => [w.name, w.failurePolicy, w.sideEffects]),
      [
        ['recording.auditflow.dev', 'Fail', 'NoneOnDryRun'],
        ['binding.auditflow.dev', 'Fail', 'NoneOnDryRun'],
        ['cluster-binding.auditflow.dev', 'Ignore', 'NoneOnDryRun'],
      ],
    );
    for (const w of cfg.webhooks) {
      assert.ok(w.namespaceSelector.matchExpressions.some((e) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn' && e.values?.includes(SA_NAMESPACE) && e.values.includes('kube-system')), `${w.name}: not in auditflow, kube-system`);
      assert.deepEqual(w.objectSelector, { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'NotIn', values: ['auditflow'] }] }, `${w.name}: never auditflow's pods`);
    }
  });

  it('with the webhook down: pods of opted-in namespaces are refused, auditflow-labeled pods and other namespaces are admitted', async () => {
    await recording(NS.rec, 'all-rec', {});
    const w = webhook!;
    const port = Number(new URL(w.url).port);
    await w.stop();
    webhook = undefined;
    try {
      await assert.rejects(create(NS.rec, pod('down-1', [{ name: 'c', image: 'registry.example/c:1' }])), (e: unknown) => e instanceof ApiError && /recording\.auditflow\.dev/.test(e.message), 'fail closed in an opted-in namespace');
      const own = await create(NS.rec, pod('down-own', [{ name: 'c', image: 'ghcr.io/auditflow/auditflow:0.1.0' }], { labels: { 'app.kubernetes.io/name': 'auditflow' } }));
      assert.equal(localhostOf(own.spec.containers[0]), undefined, "auditflow's own pod is admitted, unmutated");
      const plain = await create(NS.plain, pod('down-plain', [{ name: 'c', image: 'registry.example/c:1' }]));
      assert.equal(localhostOf(plain.spec.containers[0]), undefined, 'the cluster-wide binding fails open');
    } finally {
      webhook = await startTestWebhook({ client: saClient, scope: RUN, port, namespaces: Object.values(NS) });
    }
    // and back up, the same namespace admits again
    await eventually('webhook sees all-rec', () => !!webhook!.server.recordings.get(`${NS.rec}/all-rec`));
    const back = await create(NS.rec, pod('down-2', [{ name: 'c', image: 'registry.example/c:1' }]));
    assert.deepEqual(localhostOf(back.spec.containers[0]), { type: 'Localhost', localhostProfile: LOG_PROFILE });
  });
});
