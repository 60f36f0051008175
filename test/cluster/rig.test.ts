// The cluster rig itself (test/env/cluster.ts): the node is registered and Ready on the kubelet built from the
// same release as the apiserver, and a pod goes through the whole path -- scheduler, kubelet, containerd, CNI --
// to Running, with an address from the node's pod CIDR and its output in `kubectl logs`.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type ClusterEnv, ensureCluster } from '../env/cluster';
import { kubectl } from '../env/kube';

const NS = `rig-test-${randomBytes(3).toString('hex')}`;

describe('the cluster rig', { timeout: 180 * 60_000 }, () => {
  let cluster: ClusterEnv;
  const k = async (args: string[], input?: string) => {
    const r = await kubectl(cluster.kube, args, input === undefined ? {} : { input });
    assert.equal(r.status, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  before(async () => {
    cluster = await ensureCluster();
  });
  after(async () => {
    if (cluster) await kubectl(cluster.kube, ['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']);
  });

  it('registers one node, Ready, whose kubelet is the apiserver release', async () => {
    const nodes = JSON.parse(await k(['get', 'nodes', '-o', 'json'])).items as any[];
    assert.deepEqual(
      nodes.map((n) => n.metadata.name),
      [cluster.node],
    );
    const n = nodes[0];
    assert.equal(n.status.conditions.find((c: any) => c.type === 'Ready')?.status, 'True', JSON.stringify(n.status.conditions));
    assert.equal(n.status.nodeInfo.kubeletVersion, cluster.kube.version);
    assert.match(n.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\//);
    assert.ok(n.status.addresses.some((a: any) => a.type === 'InternalIP' && a.address === cluster.address), JSON.stringify(n.status.addresses));
  });

  it('runs a pod through the scheduler, kubelet, containerd and CNI', async () => {
    await k(['create', 'namespace', NS]);
    // the rig's busybox image (test/env/cri.sh imports it: it is also the sandbox image, nothing is pulled)
    await k(['apply', '-n', NS, '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'hello' },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'hello', image: 'localhost/busybox:cri-test', imagePullPolicy: 'Never', command: ['/bin/sh', '-c', 'echo hello from $(id -u); sleep 3600'] }],
      },
    }));
    const w = await kubectl(cluster.kube, ['wait', '-n', NS, '--for=condition=Ready', 'pod/hello', '--timeout=300s']);
    if (w.status !== 0) assert.fail(`pod not Ready: ${w.stderr}\n${(await kubectl(cluster.kube, ['describe', 'pod', '-n', NS, 'hello'])).stdout}`);
    const pod = JSON.parse(await k(['get', 'pod', '-n', NS, 'hello', '-o', 'json']));
    assert.equal(pod.spec.nodeName, cluster.node, 'scheduled onto the rig node');
    assert.equal(pod.status.phase, 'Running');
    const prefix = cluster.podCidr.split('.').slice(0, 3).join('.') + '.';
    assert.ok(pod.status.podIP.startsWith(prefix), `pod IP ${pod.status.podIP} from the CNI range ${cluster.podCidr}`);
    // through the apiserver's connection to the kubelet (its client certificate, the node's InternalIP)
    let r = await kubectl(cluster.kube, ['logs', '-n', NS, 'hello']);
    for (let i = 0; i < 60 && !r.stdout.includes('hello'); i++) {
      await new Promise((res) => setTimeout(res, 1000));
      r = await kubectl(cluster.kube, ['logs', '-n', NS, 'hello']);
    }
    assert.equal(r.stdout.trim(), 'hello from 0', `kubectl logs: ${r.stderr}`);
  });
});
