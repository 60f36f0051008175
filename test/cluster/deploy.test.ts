// deploy/ for real: `kubectl apply --server-side -k` of the standalone overlay on the one-node cluster rig
// (test/env/cluster.ts: kubelet + containerd + controllers), with the image deploy/image/build.sh built from this
// checkout and imported into the node's containerd, named through kustomize `images:`. The tailer, lineage-rule
// and agent DaemonSets and the aggregator Deployment must become Running and Ready with the manifests' own
// hostPaths, probes, RBAC, securityContext, read-only root filesystems and tokens; only the Kafka address
// (the rig's broker) is set by the test's overlay.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type ClusterEnv, ensureCluster, ensureImage } from '../env/cluster';
import { applyStandalone, DEPLOY_NS as NS, deleteStandalone, writeStandaloneOverlay } from '../env/cluster-deploy';
import { ensureKafka, type KafkaBroker } from '../env/kafka';
import { kubectl } from '../env/kube';

describe('deploy/overlays/standalone on a real kubelet', { timeout: 180 * 60_000 }, () => {
  let cluster: ClusterEnv;
  let kafka: KafkaBroker;
  let image: string;
  let overlay: string;

  const k = async (args: string[], input?: string) => {
    const r = await kubectl(cluster.kube, args, input === undefined ? {} : { input });
    assert.equal(r.status, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  before(async () => {
    cluster = await ensureCluster();
    image = await ensureImage(cluster);
    // pods reach the broker at this machine's address
    kafka = await ensureKafka({ host: cluster.address });
    overlay = writeStandaloneOverlay(image, kafka.brokers);
  });

  after(async () => {
    // everything applied goes (the cluster stays up for the next test file: helm.test.ts installs the same names)
    if (cluster && overlay) await deleteStandalone(cluster, overlay);
    await kafka?.stop();
    if (overlay) fs.rmSync(overlay, { recursive: true, force: true });
  });

  it('applies server-side with the built image, and every workload becomes Ready', async () => {
    await applyStandalone(cluster, overlay);
    const pods = JSON.parse(await k(['get', 'pods', '-n', NS, '-o', 'json'])).items as any[];
    const components = new Set(pods.map((p) => p.metadata.labels['app.kubernetes.io/component']));
    assert.deepEqual([...components].sort(), ['agent', 'aggregator', 'audit-rules', 'tailer', 'webhook']);
    for (const p of pods) {
      const who = p.metadata.name;
      assert.equal(p.status.phase, 'Running', `${who}: ${JSON.stringify(p.status)}`);
      assert.equal(p.spec.nodeName, cluster.node);
      for (const c of p.spec.containers) {
        assert.equal(c.image, image, `${who} runs the image built from this checkout`);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true, `${who}: read-only root filesystem`);
        assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      }
      for (const s of p.status.containerStatuses) {
        assert.equal(s.ready, true, `${who}/${s.name} ready`);
        assert.equal(s.restartCount, 0, `${who}/${s.name} never restarted: ${JSON.stringify(s.lastState)}`);
      }
    }
  });

  it('the tailer follows the node audit log it detects, through the host /proc, and reaches the CRI socket', async () => {
    const log = await k(['logs', '-n', NS, 'daemonset/auditflow-node']);
    // the rig's auditd runs on this machine: "auto" must find it through /host/proc, not the pod's own /proc
    assert.match(log, /"kind":"auditd"/, `the tailer did not detect the node's auditd:\n${log.slice(-3000)}`);
    const pod = JSON.parse(await k(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/component=tailer', '-o', 'json'])).items[0];
    assert.equal(pod.spec.automountServiceAccountToken, false, 'the tailer gets no token');
    assert.ok(!pod.spec.volumes.some((v: any) => v.projected), 'no projected token volume in the tailer pod');
  });

  it('the lineage audit rule is in place, installed by the audit-rules pod with CAP_AUDIT_CONTROL', async () => {
    const log = await k(['logs', '-n', NS, 'daemonset/auditflow-audit-rules']);
    // inPlace is true only when auditctl, inside the pod, listed or installed both rules
    assert.match(log, /"inPlace":true/, `the audit-rules pod could not install the rules:\n${log.slice(-3000)}`);
    const pod = JSON.parse(await k(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/component=audit-rules', '-o', 'json'])).items[0];
    assert.deepEqual(pod.spec.containers[0].securityContext.capabilities, { drop: ['ALL'], add: ['AUDIT_CONTROL'] });
    assert.ok(!pod.spec.volumes?.some((v: any) => v.hostPath), 'no host path in the audit-rules pod');
  });

  it('the aggregator and the agent use their projected tokens against the cluster', async () => {
    // both are Ready only once their informers have synced through the kubernetes Service (kube-proxy)
    for (const c of ['aggregator', 'agent']) {
      const pod = JSON.parse(await k(['get', 'pods', '-n', NS, '-l', `app.kubernetes.io/component=${c}`, '-o', 'json'])).items[0];
      assert.ok(pod.spec.volumes.some((v: any) => v.projected?.sources?.some((s: any) => s.serviceAccountToken)), `${c}: a projected token`);
      assert.equal(pod.status.conditions.find((x: any) => x.type === 'Ready')?.status, 'True', `${c} Ready`);
    }
  });
});
