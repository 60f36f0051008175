// The webhooks' pure parts without an apiserver: the JSON Patch a pod gets, applied here with an RFC 6901/6902
// reading of its own, for hostile container names and annotation keys (which mutating admission sees before
// validation rejects them); the admission HTTP endpoint answering junk; and the in-process certificates used
// for a real TLS handshake.
process.env.AUDITFLOW_LOG_LEVEL ??= 'silent';

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { installLogProfile, logProfileLocalhost } from '../../src/agent/log-profile';
import { describe, it } from 'node:test';
import { API_VERSION, type ProfileBinding, type ProfileRecording, type SeccompProfile } from '../../src/k8s/api';
import { newCa, newServingCert } from '../../src/webhook/certs';
import { bindingMutation, clusterBindingMutation, recordingMutation } from '../../src/webhook/mutate';
import type { PatchOp, PodLike } from '../../src/webhook/patch';
import type { ClusterProfileBinding } from '../../src/webhook/api';

/** RFC 6902 add (the only op the webhooks emit), strictly: the parent must exist, "-" and indices as in the RFC. */
function apply(doc: unknown, ops: PatchOp[]): unknown {
  const out = structuredClone(doc) as Record<string, unknown>;
  for (const op of ops) {
    assert.equal(op.op, 'add');
    assert.match(op.path, /^(\/[^/]*)+$/);
    const parts = op.path
      .slice(1)
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    let cur: Record<string, unknown> = out;
    for (const p of parts.slice(0, -1)) {
      assert.ok(cur && typeof cur === 'object' && p in cur, `parent ${p} of ${op.path} exists`);
      cur = cur[p] as Record<string, unknown>;
    }
    cur[parts.at(-1)!] = structuredClone(op.value);
  }
  return out;
}

const recording = (name: string, extra: Partial<ProfileRecording['spec']> = {}): ProfileRecording => ({
  apiVersion: API_VERSION,
  kind: 'ProfileRecording',
  metadata: { name, namespace: 'ns' },
  spec: { kind: 'SeccompProfile', recorder: 'Logs', podSelector: { matchLabels: { app: 'demo' } }, ...extra },
});

const HOSTILE = ['a/b', '~0~1', '"}],[{"op":"remove","path":"/spec"}', '../..', 'x\u2028y', ''];

describe('webhook mutations', () => {
  it('hostile container names and annotation keys: only the intended fields change, escaped in the paths', () => {
    const pod: PodLike = {
      metadata: { name: 'p', labels: { app: 'demo' }, annotations: { 'a/b~c': '"}]' } },
      spec: { containers: HOSTILE.map((name, i) => ({ name, image: `img${i}` })) },
    };
    const m = recordingMutation({ pod, recordings: [recording('rec')], logProfile: 'operator/auditflow/log-enricher-trace.json' });
    assert.equal(m.ops.length, HOSTILE.length * 2, 'one annotation and one securityContext per container');
    for (const op of m.ops) assert.match(op.path, /^\/(metadata\/annotations\/io\.containers\.trace-logs~1|spec\/containers\/\d+\/securityContext$)/, op.path);
    const got = apply(pod, m.ops) as PodLike;
    assert.deepEqual(got.spec!.containers!.map((c) => c.name), HOSTILE, 'names unchanged');
    for (const c of got.spec!.containers!) assert.deepEqual(c.securityContext, { seccompProfile: { type: 'Localhost', localhostProfile: 'operator/auditflow/log-enricher-trace.json' } });
    for (const n of HOSTILE) assert.match(got.metadata!.annotations![`io.containers.trace-logs/${n}`]!, /^rec_/);
    assert.equal(got.metadata!.annotations!['a/b~c'], '"}]', 'the existing annotation stays');
    assert.equal(Object.keys(got.metadata!.annotations!).length, HOSTILE.length + 1);
  });

  it('a pod without annotations or securityContext gets whole objects added, not members of missing parents', () => {
    const pod: PodLike = { metadata: { labels: { app: 'demo' } }, spec: { containers: [{ name: 'c', image: 'i' }] } };
    const m = recordingMutation({ pod, recordings: [recording('rec')], logProfile: 'operator/x/log.json' });
    assert.deepEqual(
      m.ops.map((o) => o.path),
      ['/metadata/annotations', '/spec/containers/0/securityContext'],
    );
    apply(pod, m.ops);
  });

  it('only the containers a recording lists; SelinuxProfile recordings annotate (trace-avcs) without a seccomp profile', () => {
    const pod: PodLike = { metadata: { labels: { app: 'demo' } }, spec: { containers: [{ name: 'a', image: 'i' }, { name: 'b', image: 'i' }] } };
    const m = recordingMutation({ pod, recordings: [recording('only-b', { containers: ['b'] }), recording('se', { kind: 'SelinuxProfile' })], logProfile: 'operator/x/log.json' });
    const got = apply(pod, m.ops) as PodLike;
    assert.equal(got.spec!.containers![0]!.securityContext, undefined);
    assert.ok(got.spec!.containers![1]!.securityContext?.seccompProfile);
    assert.deepEqual(Object.keys(got.metadata!.annotations!).sort(), ['io.containers.trace-avcs/a', 'io.containers.trace-avcs/b', 'io.containers.trace-logs/b']);
  });

  it('bindings: oldest binding of an image wins; a missing profile is skipped with a Warning event, not an error', () => {
    const profile = (name: string): SeccompProfile => ({ apiVersion: API_VERSION, kind: 'SeccompProfile', metadata: { name }, spec: { defaultAction: 'SCMP_ACT_ERRNO' }, status: { status: 'Installed' } });
    const pb = (name: string, image: string, prof: string, t: string): ProfileBinding & { metadata: { creationTimestamp: string } } => ({
      apiVersion: API_VERSION,
      kind: 'ProfileBinding',
      metadata: { name, namespace: 'ns', creationTimestamp: t },
      spec: { image, profileRef: { kind: 'SeccompProfile', name: prof } },
    });
    const pod: PodLike = { metadata: {}, spec: { containers: [{ name: 'c', image: 'nginx' }, { name: 'd', image: 'gone' }] } };
    const profiles = { seccomp: (n: string) => (n === 'missing' ? undefined : profile(n)), selinux: () => undefined };
    const m = bindingMutation({
      pod,
      namespace: 'ns',
      bindingEnabled: true,
      bindings: [pb('newer', 'nginx', 'p-new', '2026-02-01T00:00:00Z'), pb('older', 'nginx', 'p-old', '2026-01-01T00:00:00Z'), pb('broken', 'gone', 'missing', '2026-01-01T00:00:00Z')],
      clusterBindings: [],
      profiles,
    });
    const got = apply(pod, m.ops) as PodLike;
    assert.equal(got.spec!.containers![0]!.securityContext?.seccompProfile?.localhostProfile, 'operator/p-old.json');
    assert.equal(got.spec!.containers![1]!.securityContext, undefined);
    assert.deepEqual(
      m.events.map((e) => [e.regarding.name, e.type, e.reason]),
      [['broken', 'Warning', 'ProfileNotFound']],
    );
    // cluster: excluded namespace gets nothing
    const cpb: ClusterProfileBinding = { apiVersion: 'auditflow.dev/v1alpha1', kind: 'ClusterProfileBinding', metadata: { name: 'all' }, spec: { image: '*', profileRef: { kind: 'SeccompProfile', name: 'p' }, exclude: ['ns'] } };
    assert.deepEqual(clusterBindingMutation({ pod, namespace: 'ns', bindingEnabled: false, bindings: [], clusterBindings: [cpb], profiles }).ops, []);
    const other = apply(pod, clusterBindingMutation({ pod, namespace: 'other', bindingEnabled: false, bindings: [], clusterBindings: [cpb], profiles }).ops) as PodLike;
    assert.deepEqual(
      other.spec!.containers!.map((c) => c.securityContext?.seccompProfile?.localhostProfile),
      ['operator/p.json', 'operator/p.json'],
    );
    assert.equal(other.metadata!.annotations!['auditflow.dev/cluster-profile-bindings'], 'all');
  });
});

describe('webhook certificates', () => {
  it('a node TLS client trusting only the CA completes a handshake with the serving certificate for 127.0.0.1', async () => {
    const ca = newCa('test-ca', 3_600_000);
    const serving = newServingCert(ca, ['127.0.0.1', 'webhook.test'], 3_600_000);
    const server = https.createServer({ cert: serving.cert, key: serving.key }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const body = await new Promise<string>((resolve, reject) => {
        https.get({ host: '127.0.0.1', port, ca: ca.cert, path: '/' }, (res) => {
          let b = '';
          res.on('data', (c) => (b += c));
          res.on('end', () => resolve(b));
        }).on('error', reject);
      });
      assert.equal(body, 'ok');
      // another CA is refused: the check is real
      const other = newCa('other', 3_600_000);
      await assert.rejects(
        new Promise((resolve, reject) => https.get({ host: '127.0.0.1', port, ca: other.cert, path: '/' }, resolve).on('error', reject)),
        /self[- ]signed|unable to verify|certificate/i,
      );
    } finally {
      server.close();
    }
  });
});

describe('the logging profile the recording webhook points at', () => {
  it('the agent writes operator/<namespace>/log-enricher-trace.json (SCMP_ACT_LOG, 0644) under the kubelet seccomp root, once', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-logprofile-'));
    try {
      const first = await installLogProfile(tmp, 'auditflow');
      assert.equal(first.path, path.join(tmp, 'seccomp', logProfileLocalhost('auditflow')));
      assert.equal(logProfileLocalhost('auditflow'), 'operator/auditflow/log-enricher-trace.json');
      assert.deepEqual(JSON.parse(fs.readFileSync(first.path, 'utf8')), { defaultAction: 'SCMP_ACT_LOG' });
      assert.equal(fs.statSync(first.path).mode & 0o777, 0o644);
      assert.equal(first.changed, true);
      assert.equal((await installLogProfile(tmp, 'auditflow')).changed, false, 'unchanged the second time');
      await assert.rejects(installLogProfile(tmp, '../etc'), /not a namespace name/);
      assert.deepEqual(fs.readdirSync(path.join(tmp, 'seccomp', 'operator')), ['auditflow']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
