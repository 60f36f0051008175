// The enricher's Kubernetes API fallback (src/enrich/kube-fallback.ts) against the real apiserver: pods bound to
// a node name of this test (no kubelet runs: their container statuses are written to /status as admin), found
// by pod uid and container id; pods of other nodes ignored; lists single-flight and rate-limited; an
// unreachable apiserver rejects.
process.env.AUDITFLOW_LOG_LEVEL ??= 'warn';

import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KubePodFallback, type PodListClient } from '../../src/enrich/kube-fallback';
import { ApiError, KubeClient } from '../../src/k8s/client';
import { clientAs, ensureDeployed, ensureNamespace, uniqueName } from '../env/k8s-setup';
import type { KubeEnv } from '../env/kube';

const hex64 = () => randomBytes(32).toString('hex');

interface Pod {
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string };
}

let env: KubeEnv;
let admin: KubeClient;
let ns: string;
const node = uniqueName('fallback-node');
const otherNode = uniqueName('fallback-other');
const ids = { app: hex64(), sidecar: hex64(), init: hex64(), previous: hex64(), other: hex64() };
let web: Pod;
let elsewhere: Pod;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-kube-fallback-'));

/** A pod bound to `nodeName`, with the statuses kubelet would have written. */
async function makePod(name: string, nodeName: string, labels: Record<string, string>, status: Record<string, unknown>): Promise<Pod> {
  const created = await admin.create<Pod>(`/api/v1/namespaces/${ns}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels },
    spec: {
      nodeName,
      initContainers: [{ name: 'setup', image: 'registry.example/setup:1' }],
      containers: [
        { name: 'app', image: 'registry.example/app:1' },
        { name: 'sidecar', image: 'registry.example/sidecar:2' },
      ],
    },
  });
  return admin.mergePatch<Pod>(`/api/v1/namespaces/${ns}/pods/${name}/status`, { status }, {}).then((p) => {
    assert.equal(p.metadata.uid, created.metadata.uid);
    return p;
  });
}

/** The real client, counting the lists it is asked for. */
function counting(c: KubeClient): PodListClient & { calls: number } {
  const w = {
    calls: 0,
    request<T>(...a: Parameters<KubeClient['request']>): Promise<T> {
      w.calls++;
      return c.request<T>(...a);
    },
  };
  return w;
}

before(async () => {
  env = await ensureDeployed();
  admin = clientAs(env, 'admin');
  ns = uniqueName('fallback');
  await ensureNamespace(admin, ns);
  const running = { running: { startedAt: new Date().toISOString() } };
  web = await makePod('web', node, { app: 'web', tier: 'front' }, {
    phase: 'Running',
    initContainerStatuses: [{ name: 'setup', image: 'registry.example/setup:1', imageID: '', ready: false, restartCount: 0, containerID: `cri-o://${ids.init}`, state: { terminated: { exitCode: 0 } } }],
    containerStatuses: [
      {
        name: 'app',
        image: 'registry.example/app:1',
        imageID: '',
        ready: true,
        restartCount: 1,
        containerID: `containerd://${ids.app}`,
        state: running,
        lastState: { terminated: { exitCode: 1, containerID: `containerd://${ids.previous}` } },
      },
      { name: 'sidecar', image: 'registry.example/sidecar:2', imageID: '', ready: true, restartCount: 0, containerID: `docker://${ids.sidecar}`, state: running },
    ],
  });
  elsewhere = await makePod('elsewhere', otherNode, { app: 'other' }, {
    phase: 'Running',
    containerStatuses: [{ name: 'app', image: 'registry.example/app:1', imageID: '', ready: true, restartCount: 0, containerID: `containerd://${ids.other}`, state: running }],
  });
});

after(async () => {
  if (admin && ns) await admin.delete(`/api/v1/namespaces/${ns}`).catch(() => undefined);
  admin?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('KubePodFallback', () => {
  it('resolves a container id and pod uid of a pod on its node to the container and pod names, image and labels', async () => {
    const f = new KubePodFallback({ client: admin, nodeName: node, minRefreshMs: 0 });
    const r = await f.lookup(web.metadata.uid, ids.app);
    assert.deepEqual(r, {
      container: { id: ids.app, name: 'app', runtime: 'containerd', image: 'registry.example/app:1' },
      pod: { name: 'web', namespace: ns, uid: web.metadata.uid, labels: { app: 'web', tier: 'front' } },
    });
  });

  it('takes the runtime from the containerID prefix, and finds init containers and the previous instance of a restarted one', async () => {
    const f = new KubePodFallback({ client: admin, nodeName: node, minRefreshMs: 0 });
    const sidecar = await f.lookup(web.metadata.uid, ids.sidecar.toUpperCase());
    assert.deepEqual(sidecar?.container, { id: ids.sidecar, name: 'sidecar', runtime: 'docker', image: 'registry.example/sidecar:2' });
    const init = await f.lookup(web.metadata.uid, ids.init);
    assert.deepEqual(init?.container, { id: ids.init, name: 'setup', runtime: 'cri-o', image: 'registry.example/setup:1' });
    const prev = await f.lookup(web.metadata.uid, ids.previous);
    assert.deepEqual(prev?.container, { id: ids.previous, name: 'app', runtime: 'containerd', image: 'registry.example/app:1' });
    assert.equal(prev?.pod.name, 'web');
  });

  it('answers null for an unknown container id, and for a known id under another pod uid', async () => {
    const f = new KubePodFallback({ client: admin, nodeName: node, minRefreshMs: 0 });
    assert.equal(await f.lookup(web.metadata.uid, hex64()), null);
    assert.equal(await f.lookup(elsewhere.metadata.uid, ids.app), null);
  });

  it('ignores pods bound to other nodes', async () => {
    const f = new KubePodFallback({ client: admin, nodeName: node, minRefreshMs: 0 });
    assert.equal(await f.lookup(elsewhere.metadata.uid, ids.other), null);
    // the same pod is found by a fallback of its own node: the null above is the node filter, not the data
    const g = new KubePodFallback({ client: admin, nodeName: otherNode, minRefreshMs: 0 });
    assert.equal((await g.lookup(elsewhere.metadata.uid, ids.other))?.pod.name, 'elsewhere');
  });

  it('shares one list among concurrent lookups and lists again on a miss only after minRefreshMs', async () => {
    const c = counting(admin);
    const f = new KubePodFallback({ client: c, nodeName: node, minRefreshMs: 60_000 });
    const answers = await Promise.all([...Array(20)].map((_, i) => f.lookup(web.metadata.uid, i % 2 ? ids.app : hex64())));
    assert.equal(c.calls, 1, 'one list for 20 concurrent lookups');
    assert.equal(answers.filter((a) => a?.container.name === 'app').length, 10);
    // misses within the interval are answered from the index
    for (let i = 0; i < 5; i++) assert.equal(await f.lookup(web.metadata.uid, hex64()), null);
    assert.equal(c.calls, 1, 'no list for misses within minRefreshMs');

    // a container started after the list is found on a miss once the interval has passed
    const late = hex64();
    const c2 = counting(admin);
    const g = new KubePodFallback({ client: c2, nodeName: node, minRefreshMs: 300 });
    assert.equal(await g.lookup(web.metadata.uid, late), null);
    const calls = c2.calls;
    await admin.jsonPatch(`/api/v1/namespaces/${ns}/pods/web/status`, [
      { op: 'add', path: '/status/ephemeralContainerStatuses', value: [{ name: 'debug', image: 'registry.example/debug:3', imageID: '', ready: false, restartCount: 0, containerID: `containerd://${late}`, state: { running: {} } }] },
    ]);
    assert.equal(await g.lookup(web.metadata.uid, late), null, 'within minRefreshMs the miss is not listed again');
    assert.equal(c2.calls, calls);
    await new Promise((r) => setTimeout(r, 350));
    const found = await g.lookup(web.metadata.uid, late);
    assert.deepEqual(found?.container, { id: late, name: 'debug', runtime: 'containerd', image: 'registry.example/debug:3' });
    assert.equal(c2.calls, calls + 1);
  });

  it('rejects with the API error when the apiserver cannot be reached, and keeps rejecting without a request within minRefreshMs', async () => {
    // a port that was just free: nothing listens there
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
      s.on('error', reject);
    });
    const kc = path.join(tmp, 'closed-port.kubeconfig');
    fs.writeFileSync(
      kc,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:' + port + '", insecure-skip-tls-verify: true}}]',
        'users: [{name: u, user: {token: nothing}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
        '',
      ].join('\n'),
    );
    const client = KubeClient.load(kc);
    try {
      const c = counting(client);
      const f = new KubePodFallback({ client: c, nodeName: node, minRefreshMs: 60_000 });
      const first = await f.lookup(web.metadata.uid, ids.app).then(
        () => assert.fail('resolved against a closed port'),
        (e: unknown) => e,
      );
      assert.ok(first instanceof ApiError && first.status === 0, `an unreachable ApiError, got ${String(first)}`);
      assert.match(first.message, /ECONNREFUSED/);
      await assert.rejects(f.lookup(web.metadata.uid, ids.app), (e) => e === first);
      assert.equal(c.calls, 1, 'the failure is remembered for minRefreshMs');
    } finally {
      client.close();
    }
  });
});
