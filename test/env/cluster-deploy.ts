// deploy/overlays/standalone on the cluster rig, as a user applies it: an overlay of the test's own that names the
// image deploy/image/build.sh built (kustomize `images:`) and the rig's Kafka broker, plus whatever a test adds
// (extra JSON patches), applied server-side; then every workload rolled out. Shared by test/cluster/deploy.test.ts
// and test/cluster/flagship.test.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ClusterEnv } from './cluster';
import { kubectl, repoRoot } from './kube';

export const DEPLOY_NS = 'auditflow';
export const WORKLOADS = [
  { kind: 'daemonset', name: 'auditflow-node' },
  { kind: 'daemonset', name: 'auditflow-audit-rules' },
  { kind: 'daemonset', name: 'auditflow-agent' },
  { kind: 'deployment', name: 'auditflow-aggregator' },
  { kind: 'deployment', name: 'auditflow-webhook' },
] as const;

/** A JSON patch of the overlay: `target` as kustomize writes it ({kind: DaemonSet, name: auditflow-agent}). */
export interface OverlayPatch {
  target: string;
  ops: { op: 'add' | 'replace' | 'remove'; path: string; value?: string }[];
}

/** Writes the overlay into a new temporary directory and returns it (remove it with fs.rmSync). */
export function writeStandaloneOverlay(image: string, brokers: string[], extra: OverlayPatch[] = []): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-cluster-overlay-'));
  const [name, tag] = [image.slice(0, image.lastIndexOf(':')), image.slice(image.lastIndexOf(':') + 1)];
  const patches: OverlayPatch[] = [{ target: '{kind: ConfigMap, name: auditflow-config}', ops: [{ op: 'replace', path: '/data/KAFKA_BROKERS', value: brokers.join(',') }] }, ...extra];
  const lines = [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'resources:',
    // kustomize takes no absolute path for a base
    `- ${path.relative(dir, path.join(repoRoot(), 'deploy', 'overlays', 'standalone'))}`,
    'images:',
    '- name: ghcr.io/auditflow/auditflow',
    `  newName: ${name}`,
    `  newTag: "${tag}"`,
    'patches:',
  ];
  for (const p of patches) {
    lines.push(`- target: ${p.target}`, '  patch: |');
    for (const o of p.ops) {
      lines.push(`    - op: ${o.op}`, `      path: ${o.path}`);
      if (o.value !== undefined) lines.push(`      value: ${JSON.stringify(o.value)}`);
    }
  }
  fs.writeFileSync(path.join(dir, 'kustomization.yaml'), `${lines.join('\n')}\n`);
  return dir;
}

/** What the pods and the node say, for a failure message. */
export async function diagnoseDeploy(cluster: ClusterEnv, ns = DEPLOY_NS): Promise<string> {
  const parts: string[] = [];
  for (const args of [
    ['get', 'pods', '-n', ns, '-o', 'wide'],
    ['describe', 'pods', '-n', ns],
    ['get', 'events', '-n', ns, '--sort-by=.lastTimestamp'],
  ]) {
    const r = await kubectl(cluster.kube, args);
    parts.push(`$ kubectl ${args.join(' ')}\n${r.stdout}${r.stderr}`.slice(-6000));
  }
  for (const w of WORKLOADS) {
    const r = await kubectl(cluster.kube, ['logs', '-n', DEPLOY_NS, `${w.kind}/${w.name}`, '--all-containers', '--tail=30']);
    parts.push(`$ kubectl logs ${w.kind}/${w.name}\n${r.stdout}${r.stderr}`.slice(-4000));
  }
  return parts.join('\n');
}

/** `kubectl apply --server-side -k <overlay>`, then every workload rolled out; throws with the pods' story if not. */
export async function applyStandalone(cluster: ClusterEnv, overlay: string): Promise<void> {
  const a = await kubectl(cluster.kube, ['apply', '--server-side', '--force-conflicts', '--field-manager=auditflow-test', '-k', overlay]);
  if (a.status !== 0) throw new Error(`kubectl apply -k ${overlay} failed:\n${a.stderr}${a.stdout}`);
  for (const w of WORKLOADS) {
    const r = await kubectl(cluster.kube, ['rollout', 'status', '-n', DEPLOY_NS, `${w.kind}/${w.name}`, '--timeout=600s']);
    if (r.status !== 0) throw new Error(`${w.kind}/${w.name} did not become ready:\n${r.stderr}${r.stdout}\n${await diagnoseDeploy(cluster)}`);
  }
}

/** Removes what the overlay applied, waiting for it (the next test file installs the same names). */
export async function deleteStandalone(cluster: ClusterEnv, overlay: string): Promise<void> {
  await kubectl(cluster.kube, ['delete', '-k', overlay, '--ignore-not-found', '--wait=true', '--timeout=300s']);
}
