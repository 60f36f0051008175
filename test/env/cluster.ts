// The cluster rig for test/cluster: one real node (kubelet, kube-controller-manager, kube-scheduler, kube-proxy,
// containerd with a CNI bridge) on its own etcd + kube-apiserver, provisioned by test/env/cluster/start.sh (which
// builds what it needs from the Go module proxy on first use), and the auditflow image built by
// deploy/image/build.sh and imported into the node's containerd. One instance per machine, reused while healthy.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findUp } from './find-up';
import { type KubeEnv, kubeEnvFromFile, repoRoot, run } from './kube';

export interface ClusterEnv {
  /** The cluster's apiserver, as test/env/kube.ts describes one (admin and the component tokens). */
  kube: KubeEnv;
  /** The node's name (Ready when ensureCluster() resolves). */
  node: string;
  /** This machine's address that pods reach: the apiserver (through the kubernetes Service) and Kafka listen there. */
  address: string;
  /** The node's containerd socket, and the directory holding it (what the tailer pods mount as the CRI). */
  containerdSocket: string;
  criSocketDir: string;
  /** The kubelet's --root-dir (its seccomp root is <dir>/seccomp). */
  kubeletRootDir: string;
  podCidr: string;
  serviceCidr: string;
  /** Where kubectl, kubelet and the rest live. */
  bin: string;
}

interface ClusterFile {
  kube: string;
  node: string;
  address: string;
  containerdSocket: string;
  criSocketDir: string;
  kubeletRootDir: string;
  podCidr: string;
  serviceCidr: string;
  bin: string;
}

const script = (name: string) => findUp(path.join('test', 'env', 'cluster', name));

let current: Promise<ClusterEnv> | undefined;

/**
 * Starts (or reuses) the one-node cluster and resolves once the node is Ready. Throws, saying what is missing,
 * when that is impossible (not root, no Go toolchain, a build or a component failing to start).
 */
export function ensureCluster(): Promise<ClusterEnv> {
  current ??= (async () => {
    if (process.getuid?.() !== 0) throw new Error('the cluster rig needs root (kubelet, containerd, iptables): run the tests as root');
    // The first run builds kube-apiserver, kubectl, kubelet, kube-controller-manager, kube-scheduler and kube-proxy.
    const r = await run('bash', [script('start.sh'), 'start'], { timeoutMs: 150 * 60_000 });
    if (r.status !== 0) throw new Error(`test/env/cluster/start.sh failed (exit ${r.status}); it said:\n${r.stderr.slice(-8000)}`);
    const envPath = r.stdout.trim().split('\n').pop() ?? '';
    if (!envPath || !fs.existsSync(envPath)) throw new Error(`test/env/cluster/start.sh printed no env.json path (got ${JSON.stringify(envPath)})`);
    const f = JSON.parse(fs.readFileSync(envPath, 'utf8')) as ClusterFile;
    return { ...f, kube: kubeEnvFromFile(f.kube) };
  })();
  current.catch(() => {
    current = undefined; // a later call may retry
  });
  return current;
}

/**
 * Builds the auditflow image from this checkout with deploy/image/build.sh (cached by content) and imports it into
 * the node's containerd; resolves to its reference (localhost/auditflow:<tag>).
 */
export async function ensureImage(cluster: ClusterEnv): Promise<string> {
  const r = await run('bash', [path.join(repoRoot(), 'deploy', 'image', 'build.sh'), '--import', cluster.containerdSocket], { timeoutMs: 60 * 60_000 });
  if (r.status !== 0) throw new Error(`deploy/image/build.sh failed (exit ${r.status}); it said:\n${r.stderr.slice(-8000)}`);
  const ref = r.stdout.trim().split('\n').pop() ?? '';
  if (!/^[\w./-]+:[\w.-]+$/.test(ref)) throw new Error(`deploy/image/build.sh printed no image reference (got ${JSON.stringify(ref)})`);
  return ref;
}
