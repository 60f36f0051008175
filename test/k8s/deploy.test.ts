// deploy/ against the real kube-apiserver (test/env/kube.ts): the kustomize overlays pass a server-side dry-run
// apply, the CRDs serve the shapes of src/k8s/api.ts (nothing pruned, status through the subresource, SPO's
// printer columns; spo-compat.test.ts checks them against SPO's own CRDs), every README example under deploy/examples is accepted and invalid objects are rejected by
// the schema, naming the offending field.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadAll } from 'js-yaml';
import { API_VERSION, GROUP, NODE_STATUS_VERSION, type ProfileRecording, type SeccompProfile, type SecurityProfileNodeStatus, type SelinuxProfile } from '../../src/k8s/api';
import { ensureKube, kubectl, repoRoot, type KubeEnv } from '../env/kube';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any; [k: string]: any };

const root = repoRoot();
const deployDir = path.join(root, 'deploy');
const suffix = randomBytes(3).toString('hex');
/** A namespace of this test run for the namespaced objects (never deleted: the rig has no namespace controller). */
const NS = `deploy-test-${suffix}`;

async function ok(env: KubeEnv, args: string[], input?: string): Promise<string> {
  const r = await kubectl(env, args, input === undefined ? {} : { input });
  assert.equal(r.status, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function kustomize(env: KubeEnv, dir: string): Promise<Obj[]> {
  const out = await ok(env, ['kustomize', path.join(deployDir, dir)]);
  return (loadAll(out) as (Obj | null)[]).filter((o): o is Obj => !!o);
}

function kindsAndNames(objs: Obj[]): string[] {
  return objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
}

describe('deploy/ on a real kube-apiserver', () => {
  let env: KubeEnv;
  const cleanup: string[][] = [];

  before(async () => {
    env = await ensureKube();
    await env.applyCrds();
    // A server-side dry run does not create the namespace it applies, and admission (NamespaceLifecycle) then
    // refuses the objects inside it: the namespace must exist first, as it does on any re-install.
    await ok(env, ['apply', '--server-side', '--field-manager=auditflow-test', '-f', path.join(deployDir, 'base', 'namespace.yaml')]);
    await ok(env, ['create', 'namespace', NS]);
    // No controller-manager here to create it: pods (the example) need their service account.
    await ok(env, ['-n', NS, 'create', 'serviceaccount', 'default']);
  });

  after(async () => {
    for (const args of cleanup.reverse()) await kubectl(env, ['delete', '--ignore-not-found', '--wait=false', ...args]);
  });

  for (const overlay of ['standalone', 'with-spo']) {
    it(`kubectl apply --server-side --dry-run=server -k deploy/overlays/${overlay} is accepted, object by object`, async () => {
      const objs = await kustomize(env, `overlays/${overlay}`);
      const r = await kubectl(env, ['apply', '--server-side', '--dry-run=server', '--field-manager=auditflow-test', '-k', path.join(deployDir, 'overlays', overlay)]);
      assert.equal(r.status, 0, `dry-run apply of ${overlay} failed:\n${r.stderr}${r.stdout}`);
      const applied = r.stdout.split('\n').filter((l) => l.endsWith('(server dry run)'));
      assert.equal(applied.length, objs.length, `every object of the overlay is applied:\n${r.stdout}`);
      for (const o of objs) {
        const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
        const ref = `${o.kind.toLowerCase()}${group ? `.${group}` : ''}/${o.metadata.name}`;
        assert.ok(applied.some((l) => l.startsWith(`${ref} `)), `${ref} in the dry-run output:\n${r.stdout}`);
      }
      assert.doesNotMatch(r.stderr, /Warning/i, 'no deprecation or validation warnings');
    });
  }

  it('standalone brings its CRDs and the node agent; with-spo brings neither and keeps the rest', async () => {
    const standalone = await kustomize(env, 'overlays/standalone');
    const withSpo = await kustomize(env, 'overlays/with-spo');
    const crds = standalone.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name).sort();
    assert.deepEqual(crds, [...['apparmorprofiles', 'profilebindings', 'profilerecordings', 'rawselinuxprofiles', 'seccompprofiles', 'securityprofilenodestatuses', 'selinuxprofiles'].map((p) => `${p}.${GROUP}`), 'clusterprofilebindings.auditflow.dev'].sort());
    assert.ok(kindsAndNames(standalone).includes('DaemonSet/auditflow-agent'));
    assert.ok(kindsAndNames(standalone).includes('ServiceAccount/auditflow-agent'));
    const spo = kindsAndNames(withSpo);
    assert.ok(!spo.some((n) => n.startsWith('CustomResourceDefinition/')), 'with-spo reuses SPO CRDs');
    assert.ok(!spo.some((n) => n.endsWith('/auditflow-agent')), `with-spo has no node agent: ${spo.join(', ')}`);
    for (const n of ['DaemonSet/auditflow-node', 'Deployment/auditflow-aggregator', 'ConfigMap/auditflow-config', 'Service/auditflow-metrics', 'Namespace/auditflow']) {
      assert.ok(spo.includes(n) && kindsAndNames(standalone).includes(n), `${n} in both overlays`);
    }
    // everything namespaced lands in auditflow
    for (const o of [...standalone, ...withSpo]) {
      if (['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].includes(o.kind)) continue;
      assert.equal(o.metadata.namespace, 'auditflow', `${o.kind}/${o.metadata.name}`);
    }
  });

  it('host access: the tailer mounts /proc and the audit log read-only, only the agent writes the kubelet seccomp root', async () => {
    const objs = await kustomize(env, 'overlays/standalone');
    const ds = (name: string) => objs.find((o) => o.kind === 'DaemonSet' && o.metadata.name === name)!.spec.template.spec;
    const hostMounts = (pod: any) =>
      Object.fromEntries(
        pod.containers.flatMap((c: any) =>
          (c.volumeMounts ?? []).flatMap((m: any) => {
            const v = pod.volumes.find((x: any) => x.name === m.name);
            return v?.hostPath ? [[v.hostPath.path, { readOnly: m.readOnly === true, mountPath: m.mountPath }]] : [];
          }),
        ),
      );
    const node = hostMounts(ds('auditflow-node'));
    assert.deepEqual(node['/proc'], { readOnly: true, mountPath: '/host/proc' });
    // /var/log, which every node has: a node without auditd has no /var/log/audit (the tailer falls back)
    assert.deepEqual(node['/var/log'], { readOnly: true, mountPath: '/var/log' });
    assert.equal(node['/var/log/audit'], undefined);
    assert.deepEqual(node['/run/containerd'], { readOnly: true, mountPath: '/run/containerd' });
    assert.equal(node['/var/lib/auditflow']?.readOnly, false, 'its own checkpoint/spool directory');
    assert.equal(node['/var/lib/kubelet/seccomp'], undefined, 'the tailer cannot write profiles');
    const agent = hostMounts(ds('auditflow-agent'));
    assert.deepEqual(Object.keys(agent), ['/var/lib/kubelet/seccomp']);
    assert.equal(agent['/var/lib/kubelet/seccomp'].readOnly, false);
    for (const name of ['auditflow-node', 'auditflow-agent']) {
      const pod = ds(name);
      for (const c of pod.containers) {
        assert.equal(c.image, 'ghcr.io/auditflow/auditflow:0.1.0');
        assert.equal(c.securityContext.privileged, undefined, `${name}: not privileged`);
        assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], `${name}: no capabilities`);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true);
        assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      }
      assert.equal(pod.hostPID, undefined, `${name}: no host pid namespace`);
      assert.equal(pod.hostNetwork, undefined, `${name}: no host network`);
    }
    assert.equal(ds('auditflow-node').automountServiceAccountToken, false, 'the tailer gets no API token');
    // the lineage rule's installer: the only pod with the host pid namespace, holding CAP_AUDIT_CONTROL alone,
    // with no host path, token or port
    const rules = ds('auditflow-audit-rules');
    assert.equal(rules.hostPID, true);
    assert.deepEqual(rules.containers[0].securityContext.capabilities, { drop: ['ALL'], add: ['AUDIT_CONTROL'] });
    assert.equal(rules.containers[0].securityContext.readOnlyRootFilesystem, true);
    assert.deepEqual(hostMounts(rules), {});
    assert.equal(rules.automountServiceAccountToken, false);
    assert.equal(rules.containers[0].ports, undefined);
    assert.deepEqual(rules.containers[0].args, ['audit-rules', '--interval=60']);
    assert.equal(ds('auditflow-agent').automountServiceAccountToken, true, 'the agent uses the API');
    const agg = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'auditflow-aggregator')!.spec.template.spec;
    assert.ok(!agg.volumes.some((v: any) => v.hostPath), 'the aggregator touches no host path');
    assert.equal(agg.securityContext.runAsNonRoot, true);
  });

  it("CRDs are Established with SPO's group/versions, scopes, the status subresource and printer columns", async () => {
    const want: Record<string, { scope: string; versions: string[]; columns: string[] }> = {
      seccompprofiles: { scope: 'Cluster', versions: ['v1', 'v1beta1'], columns: ['Status', 'Age', 'LocalhostProfile'] },
      selinuxprofiles: { scope: 'Cluster', versions: ['v1', 'v1alpha2'], columns: ['Usage', 'State'] },
      rawselinuxprofiles: { scope: 'Cluster', versions: ['v1', 'v1alpha2'], columns: ['Usage', 'State'] },
      apparmorprofiles: { scope: 'Cluster', versions: ['v1', 'v1alpha1'], columns: ['Status'] },
      profilerecordings: { scope: 'Namespaced', versions: ['v1', 'v1alpha1'], columns: ['PodSelector'] },
      profilebindings: { scope: 'Namespaced', versions: ['v1', 'v1alpha1'], columns: [] },
      securityprofilenodestatuses: { scope: 'Cluster', versions: [NODE_STATUS_VERSION, 'v1alpha1'], columns: ['Status', 'Age', 'Node'] },
    };
    for (const [plural, w] of Object.entries(want)) {
      const crd = JSON.parse(await ok(env, ['get', 'crd', `${plural}.${GROUP}`, '-o', 'json']));
      assert.equal(crd.spec.scope, w.scope, plural);
      assert.deepEqual(crd.spec.versions.map((v: any) => v.name), w.versions, plural);
      assert.deepEqual(crd.spec.versions.map((v: any) => [v.served, v.storage]), w.versions.map((_, i) => [true, i === 0]), `${plural}: all served, the first stored`);
      const v = crd.spec.versions[0];
      assert.equal(!!v.subresources?.status, true, `${plural} status subresource`);
      assert.deepEqual((v.additionalPrinterColumns ?? []).map((c: any) => c.name), w.columns, plural);
      const established = crd.status.conditions.find((c: any) => c.type === 'Established');
      assert.equal(established?.status, 'True', `${plural} Established`);
      assert.equal(crd.status.conditions.find((c: any) => c.type === 'NonStructuralSchema'), undefined, `${plural} schema is structural`);
      assert.doesNotMatch(JSON.stringify(v.schema), /x-kubernetes-preserve-unknown-fields/, `${plural}: no unknown fields kept`);
    }
  });

  it('every example in deploy/examples is accepted by the server, without a field dropped', async () => {
    const files = fs.readdirSync(path.join(deployDir, 'examples')).filter((f) => f.endsWith('.yaml')).sort();
    assert.ok(files.length >= 5, `examples: ${files.join(', ')}`);
    for (const f of files) {
      const docs = (loadAll(fs.readFileSync(path.join(deployDir, 'examples', f), 'utf8')) as (Obj | null)[]).filter((o): o is Obj => !!o);
      assert.ok(docs.length > 0, f);
      for (const doc of docs) {
        const r = await kubectl(env, ['-n', NS, 'create', '--dry-run=server', '--validate=strict', '-o', 'json', '-f', '-'], { input: JSON.stringify(doc) });
        assert.equal(r.status, 0, `${f} (${doc.kind}/${doc.metadata.name}) rejected:\n${r.stderr}`);
        const back = JSON.parse(r.stdout);
        assert.equal(back.kind, doc.kind, f);
        // as written, plus SPO's defaults (state: Enabled, mergeStrategy, ...)
        if (doc.apiVersion === API_VERSION) for (const [k, v] of Object.entries(doc.spec)) assert.deepEqual(back.spec[k], v, `${f}: the server kept spec.${k} as written`);
      }
    }
  });

  it('objects of every shape in src/k8s/api.ts round-trip unchanged, status through the status subresource', async () => {
    const t = '2026-11-22T17:35:20Z';
    const seccomp: SeccompProfile = {
      apiVersion: API_VERSION,
      kind: 'SeccompProfile',
      metadata: {
        name: `rt-seccomp-${suffix}`,
        labels: { 'spo.x-k8s.io/recording-id': 'rec', 'spo.x-k8s.io/container-id': 'app', 'spo.x-k8s.io/recording-namespace': NS },
        annotations: { 'spo.x-k8s.io/syscall-coverage': '{"version":"v1","total":3,"syscalls":{"read":2,"write":1}}' },
      },
      spec: {
        defaultAction: 'SCMP_ACT_ERRNO',
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
        syscalls: [
          { action: 'SCMP_ACT_ALLOW', names: ['read', 'write'] },
          { action: 'SCMP_ACT_ERRNO', names: ['personality'], errnoRet: 1, args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
        ],
        baseProfileName: 'runc-v1.1.12',
        flags: ['SECCOMP_FILTER_FLAG_LOG'],
        listenerPath: '/var/run/security-profiles-operator/agent.sock',
        listenerMetadata: 'meta',
        state: 'Enabled',
      },
    };
    const seccompStatus: NonNullable<SeccompProfile['status']> = {
      status: 'Installed',
      conditions: [{ type: 'Ready', status: 'True', reason: 'Available', message: 'installed on 1 node', lastTransitionTime: t }],
      localhostProfile: `operator/${seccomp.metadata.name}.json`,
      path: `/var/lib/kubelet/seccomp/operator/${seccomp.metadata.name}.json`,
      activeWorkloads: [`${NS}/web-0`],
    };
    const selinux: SelinuxProfile = {
      apiVersion: API_VERSION,
      kind: 'SelinuxProfile',
      metadata: { name: `rt-selinux-${suffix}` },
      spec: {
        inherit: [{ kind: 'System', name: 'container' }],
        allow: { '@self': { tcp_socket: ['listen'] }, var_log_t: { file: ['append', 'open'] } },
        mode: 'Permissive',
        state: 'Disabled',
      },
    };
    const selinuxStatus: NonNullable<SelinuxProfile['status']> = {
      status: 'Partial',
      conditions: [{ type: 'Ready', status: 'False', reason: 'Installing', message: '', lastTransitionTime: t }],
      usage: `${selinux.metadata.name}.process`,
      activeWorkloads: [],
    };
    const recording: ProfileRecording = {
      apiVersion: API_VERSION,
      kind: 'ProfileRecording',
      metadata: { name: `rt-rec-${suffix}`, namespace: NS },
      spec: {
        kind: 'SeccompProfile',
        recorder: 'Logs',
        podSelector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }, { key: 'canary', operator: 'DoesNotExist' }] },
        containers: ['web', 'sidecar'],
        mergeStrategy: 'Containers',
        disableProfileAfterRecording: true,
      },
    };
    const recordingStatus: NonNullable<ProfileRecording['status']> = {
      conditions: [{ type: 'Recording', status: 'True', reason: 'PodsSelected', message: '2 pods', lastTransitionTime: t }],
      activeWorkloads: [`${NS}/web-0`, `${NS}/web-1`],
      profiles: [`rt-rec-${suffix}-web`],
    };
    const nodeStatus: SecurityProfileNodeStatus = {
      apiVersion: `${GROUP}/${NODE_STATUS_VERSION}`,
      kind: 'SecurityProfileNodeStatus',
      metadata: {
        name: `seccompprofile-${seccomp.metadata.name}-node-1`,
        labels: { 'spo.x-k8s.io/profile-id': `SeccompProfile-${seccomp.metadata.name}`, 'spo.x-k8s.io/node-name': 'node-1', 'spo.x-k8s.io/profile-state': 'Error', 'spo.x-k8s.io/profile-kind': 'SeccompProfile' },
        annotations: { 'auditflow.dev/reason': 'write /var/lib/kubelet/seccomp/operator: read-only file system' },
      },
      spec: { nodeName: 'node-1' },
    };

    const cases: [Obj, Record<string, unknown> | undefined, string][] = [
      [seccomp as Obj, seccompStatus, 'seccompprofiles'],
      [selinux as Obj, selinuxStatus, 'selinuxprofiles'],
      [recording as Obj, recordingStatus, 'profilerecordings'],
      [nodeStatus as unknown as Obj, { status: 'Error' }, 'securityprofilenodestatuses'],
    ];
    for (const [obj, status, plural] of cases) {
      const ns = obj.metadata.namespace ? ['-n', obj.metadata.namespace] : [];
      cleanup.push([...ns, `${plural}.${GROUP}`, obj.metadata.name]);
      // a status sent with the object is dropped: it belongs to the subresource
      const created = JSON.parse(await ok(env, ['create', '--validate=strict', '-o', 'json', '-f', '-'], JSON.stringify(status ? { ...obj, status } : obj)));
      for (const [k, v] of Object.entries(obj)) {
        if (k === 'metadata') continue;
        assert.deepEqual(created[k], v, `${plural}.${k} kept as sent`);
      }
      assert.deepEqual(created.metadata.labels, obj.metadata.labels ?? undefined);
      assert.deepEqual(created.metadata.annotations, (obj.metadata as any).annotations ?? undefined);
      if (!status) continue;
      assert.equal(created.status, undefined, `${plural}: status in a create is ignored (status subresource)`);
      const patched = JSON.parse(
        await ok(env, [...ns, 'patch', `${plural}.${GROUP}`, obj.metadata.name, '--subresource=status', '--type=merge', '-o', 'json', '-p', JSON.stringify({ status, spec: { bogusButIgnored: 1 } })]),
      );
      assert.deepEqual(patched.status, status, `${plural}: status round-trips unchanged`);
      assert.deepEqual(patched.spec, obj.spec, `${plural}: a status update leaves the spec alone`);
    }

    // SPO's v1alpha1 spells the recording enums in lower case: served as SPO serves it
    const lower = { ...recording, apiVersion: `${GROUP}/v1alpha1`, metadata: { name: `rt-rec-lower-${suffix}`, namespace: NS }, spec: { ...recording.spec, recorder: 'logs', mergeStrategy: 'none' } };
    await ok(env, ['create', '--dry-run=server', '-f', '-'], JSON.stringify(lower));
  });

  it('kubectl get shows the printer columns with the status values', async () => {
    const name = `cols-${suffix}`;
    cleanup.push([`seccompprofiles.${GROUP}`, name]);
    await ok(env, ['create', '-f', '-'], JSON.stringify({ apiVersion: API_VERSION, kind: 'SeccompProfile', metadata: { name }, spec: { defaultAction: 'SCMP_ACT_LOG' } }));
    await ok(env, ['patch', 'sp', name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { status: 'Installed', localhostProfile: `operator/${name}.json` } })]);
    const out = await ok(env, ['get', 'seccompprofile', name]);
    const [head, row] = out.trim().split('\n');
    assert.deepEqual(head!.split(/\s+/), ['NAME', 'STATUS', 'AGE']);
    assert.deepEqual(row!.split(/\s+/).slice(0, 2), [name, 'Installed']);
    const wide = (await ok(env, ['get', 'seccompprofile', name, '-o', 'wide'])).trim().split('\n');
    assert.deepEqual(wide[0]!.split(/\s+/), ['NAME', 'STATUS', 'AGE', 'LOCALHOSTPROFILE']);
    assert.equal(wide[1]!.split(/\s+/)[3], `operator/${name}.json`);
  });

  describe('invalid objects are rejected by the schema', () => {
    const recording = (spec: Record<string, unknown>, name = `bad-${suffix}`) => ({ apiVersion: API_VERSION, kind: 'ProfileRecording', metadata: { name, namespace: NS }, spec });
    const seccomp = (spec: Record<string, unknown>, name = `bad-${suffix}`) => ({ apiVersion: API_VERSION, kind: 'SeccompProfile', metadata: { name }, spec });
    const selinux = (spec: Record<string, unknown>, name = `bad-${suffix}`) => ({ apiVersion: API_VERSION, kind: 'SelinuxProfile', metadata: { name }, spec });
    const goodRec = { kind: 'SeccompProfile', recorder: 'Logs', podSelector: { matchLabels: { app: 'a' } } };
    const cases: [string, object, RegExp][] = [
      ['a ProfileRecording without podSelector', recording({ kind: 'SeccompProfile', recorder: 'Logs' }), /spec\.podSelector: Required value/],
      ['a ProfileRecording without kind', recording({ recorder: 'Logs', podSelector: {} }), /spec\.kind: Required value/],
      ['a ProfileRecording of an unknown kind', recording({ ...goodRec, kind: 'ApparmorProfile' }), /spec\.kind: Unsupported value: "ApparmorProfile"/],
      ['a ProfileRecording with the v1alpha1 spelling in v1', recording({ ...goodRec, recorder: 'bpf' }), /spec\.recorder: Unsupported value: "bpf"/],
      ['a SeccompProfile with a bad defaultAction', seccomp({ defaultAction: 'SCMP_ACT_MAYBE' }), /spec\.defaultAction: Unsupported value: "SCMP_ACT_MAYBE"/],
      ['a SeccompProfile without defaultAction', seccomp({ syscalls: [] }), /spec\.defaultAction: Required value/],
      ['an unknown architecture', seccomp({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_Z80'] }), /spec\.architectures\[0\]: Unsupported value: "SCMP_ARCH_Z80"/],
      ['a rule with a bad action', seccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'ALLOW', names: ['read'] }] }), /spec\.syscalls\[0\]\.action: Unsupported value: "ALLOW"/],
      ['a syscall name that is not one', seccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['read; rm -rf /'] }] }), /spec\.syscalls\[0\]\.names\[0\]: Invalid value/],
      ['a rule without names', seccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW' }] }), /spec\.syscalls\[0\]\.names: Required value/],
      ['an unknown spec field', seccomp({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrno: 1 }), /unknown field "spec\.defaultErrno"/],
      ['an SELinux target type smuggling CIL', selinux({ allow: { 'x) (allow process shadow_t (file (read))) (': { file: ['read'] } } }), /target types must be SELinux identifiers/],
      ['an SELinux class smuggling CIL', selinux({ allow: { var_log_t: { 'file (read)))': ['read'] } } }), /object classes must be SELinux identifiers/],
      ['an SELinux permission smuggling CIL', selinux({ allow: { var_log_t: { file: ['read ) )'] } } }), /spec\.allow\.var_log_t\.file\[0\]: Invalid value/],
      ['an SELinux inherit of an unknown kind', selinux({ inherit: [{ kind: 'Module', name: 'container' }] }), /spec\.inherit\[0\]\.kind: Unsupported value: "Module"/],
      ['a SecurityProfileNodeStatus without spec', { apiVersion: `${GROUP}/${NODE_STATUS_VERSION}`, kind: 'SecurityProfileNodeStatus', metadata: { name: `bad-${suffix}` } }, /spec: Required value/],
      ['a SecurityProfileNodeStatus with an empty nodeName', { apiVersion: `${GROUP}/${NODE_STATUS_VERSION}`, kind: 'SecurityProfileNodeStatus', metadata: { name: `bad-${suffix}` }, spec: { nodeName: '' } }, /spec\.nodeName: Invalid value/],
      ['a spec.state other than Enabled/Disabled', seccomp({ defaultAction: 'SCMP_ACT_ERRNO', state: 'Off' }), /spec\.state: Unsupported value: "Off"/],
      ['the never-released spec.disabled', seccomp({ defaultAction: 'SCMP_ACT_ERRNO', disabled: true }), /unknown field "spec\.disabled"/],
      ['a ProfileBinding without profileRef', { apiVersion: API_VERSION, kind: 'ProfileBinding', metadata: { name: `bad-${suffix}`, namespace: NS }, spec: { image: 'nginx' } }, /spec\.profileRef: Required value/],
      ['a ProfileBinding to an unknown kind', { apiVersion: API_VERSION, kind: 'ProfileBinding', metadata: { name: `bad-${suffix}`, namespace: NS }, spec: { image: 'nginx', profileRef: { kind: 'Pod', name: 'x' } } }, /spec\.profileRef\.kind: Unsupported value: "Pod"/],
      ['an AppArmorProfile in an unknown mode', { apiVersion: API_VERSION, kind: 'AppArmorProfile', metadata: { name: `bad-${suffix}` }, spec: { mode: 'Audit' } }, /spec\.mode: Unsupported value: "Audit"/],
      ['a RawSelinuxProfile with an empty policy', { apiVersion: API_VERSION, kind: 'RawSelinuxProfile', metadata: { name: `bad-${suffix}` }, spec: { policy: '' } }, /spec\.policy: Invalid value/],
    ];
    for (const [what, obj, expected] of cases) {
      it(`rejects ${what}`, async () => {
        const r = await kubectl(env, ['create', '--dry-run=server', '--validate=strict', '-f', '-'], { input: JSON.stringify(obj) });
        assert.notEqual(r.status, 0, `accepted:\n${r.stdout}`);
        assert.match(r.stderr, expected);
      });
    }
  });
});
