// The Helm chart deploy/helm/auditflow: `helm lint` passes, `helm template` renders exactly the objects of the
// standalone overlay (the chart is generated from it by deploy/helm/generate.py; this catches a chart left
// behind), and `helm install` into the cluster rig brings every workload to Ready with the image built from
// this checkout. helm is built from the Go module proxy (test/env/helm-build.sh).
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadAll } from 'js-yaml';
import { type ClusterEnv, ensureCluster, ensureImage } from '../env/cluster';
import { ensureKafka, type KafkaBroker } from '../env/kafka';
import { findUp } from '../env/find-up';
import { kubectl, repoRoot, run } from '../env/kube';

const NS = 'auditflow';
const RELEASE = 'auditflow';
const chart = () => path.join(repoRoot(), 'deploy', 'helm', 'auditflow');
const WORKLOADS = ['daemonset/auditflow-node', 'daemonset/auditflow-audit-rules', 'daemonset/auditflow-agent', 'deployment/auditflow-aggregator', 'deployment/auditflow-webhook'];

type Obj = { kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

function objects(text: string): Map<string, Obj> {
  const out = new Map<string, Obj>();
  for (const o of loadAll(text) as (Obj | null)[]) if (o) out.set(`${o.kind}/${o.metadata.name}`, o);
  return out;
}

describe('deploy/helm/auditflow', { timeout: 180 * 60_000 }, () => {
  let helm: string;
  let cluster: ClusterEnv;
  let kafka: KafkaBroker | undefined;
  let installed = false;

  const h = async (args: string[], timeoutMs = 10 * 60_000) => {
    const r = await run(helm, args, { timeoutMs, env: { ...process.env, KUBECONFIG: cluster.kube.kubeconfig, HELM_CACHE_HOME: '/tmp/auditflow-helm/cache', HELM_CONFIG_HOME: '/tmp/auditflow-helm/config', HELM_DATA_HOME: '/tmp/auditflow-helm/data' } });
    assert.equal(r.status, 0, `helm ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  before(async () => {
    const b = await run('bash', [findUp(path.join('test', 'env', 'helm-build.sh'))], { timeoutMs: 90 * 60_000 });
    if (b.status !== 0) throw new Error(`test/env/helm-build.sh failed (exit ${b.status}):\n${b.stderr.slice(-6000)}`);
    helm = b.stdout.trim().split('\n').pop()!;
    cluster = await ensureCluster();
  });

  after(async () => {
    if (installed) await run(helm, ['uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '5m'], { env: { ...process.env, KUBECONFIG: cluster.kube.kubeconfig }, timeoutMs: 6 * 60_000 });
    await kafka?.stop();
  });

  it('passes helm lint', async () => {
    const out = await h(['lint', chart()]);
    assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('renders the objects of the standalone overlay (CRDs included), the namespace and image as values', async () => {
    const rendered = objects(await h(['template', RELEASE, chart(), '--namespace', NS, '--include-crds']));
    const k = await kubectl(cluster.kube, ['kustomize', path.join(repoRoot(), 'deploy', 'overlays', 'standalone')]);
    assert.equal(k.status, 0, k.stderr);
    const expected = objects(k.stdout);
    expected.delete(`Namespace/${NS}`); // helm keeps its release in the namespace: it exists before the chart
    assert.deepEqual([...rendered.keys()].sort(), [...expected.keys()].sort());
    for (const [key, want] of expected) assert.deepEqual(rendered.get(key), want, `${key} differs between the chart and the overlay`);
    // the values move what they name
    const other = objects(await h(['template', RELEASE, chart(), '--namespace', 'elsewhere', '--set', 'image.repository=registry.example/af', '--set', 'image.tag=9']));
    const ds = other.get('DaemonSet/auditflow-node') as any;
    assert.equal(ds.metadata.namespace, 'elsewhere');
    assert.equal(ds.spec.template.spec.containers[0].image, 'registry.example/af:9');
    const crb = [...other.values()].filter((o) => o.kind === 'ClusterRoleBinding') as any[];
    assert.ok(crb.length > 0 && crb.every((b) => b.subjects.every((s: any) => s.namespace === 'elsewhere')), 'cluster role bindings name the release namespace');
  });

  it('installs into the cluster rig: every workload Running and Ready with the built image', async () => {
    const image = await ensureImage(cluster);
    kafka = await ensureKafka({ host: cluster.address });
    // the namespace of a previous file's kustomize install may still be terminating
    for (let i = 0; i < 120; i++) {
      const r = await kubectl(cluster.kube, ['get', 'namespace', NS]);
      if (r.status !== 0) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    await kubectl(cluster.kube, ['create', 'namespace', NS]);
    const i = image.lastIndexOf(':');
    installed = true;
    await h(
      ['install', RELEASE, chart(), '-n', NS, '--set', `image.repository=${image.slice(0, i)}`, '--set', `image.tag=${image.slice(i + 1)}`, '--set', `config.kafkaBrokers=${kafka.brokers.join(',')}`],
      12 * 60_000,
    );
    for (const w of WORKLOADS) {
      const r = await kubectl(cluster.kube, ['rollout', 'status', '-n', NS, w, '--timeout=600s']);
      if (r.status !== 0) {
        const pods = await kubectl(cluster.kube, ['describe', 'pods', '-n', NS]);
        assert.fail(`${w} did not become ready:\n${r.stderr}${r.stdout}\n${pods.stdout.slice(-6000)}`);
      }
    }
    const pods = JSON.parse((await kubectl(cluster.kube, ['get', 'pods', '-n', NS, '-o', 'json'])).stdout).items as any[];
    // one per DaemonSet on the one node, the aggregator, the webhook's two replicas
    assert.equal(pods.length, 6, pods.map((p) => p.metadata.name).join(', '));
    for (const p of pods) {
      assert.equal(p.status.phase, 'Running', p.metadata.name);
      assert.ok(p.spec.containers.every((c: any) => c.image === image), `${p.metadata.name} runs ${image}`);
      assert.ok(p.status.containerStatuses.every((s: any) => s.ready), `${p.metadata.name} ready`);
    }
    const list = await h(['list', '-n', NS, '-o', 'json']);
    assert.equal(JSON.parse(list)[0]?.status, 'deployed');
  });
});
