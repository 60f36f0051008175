// Shared setup of the agent and recording-controller tests against the real apiserver (test/env/kube.ts):
// deploy/'s standalone overlay applied for real (CRDs, namespace, service accounts, RBAC, admission
// policies), API clients per identity, unique names, and polling with a deadline.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { KubeClient, isNotFound } from '../../src/k8s/client';
import { ensureKube, kubectl, repoRoot, type KubeEnv } from './kube';

let deployed: Promise<KubeEnv> | undefined;

/** The apiserver with deploy/overlays/standalone applied (idempotent, once per process). */
export function ensureDeployed(): Promise<KubeEnv> {
  deployed ??= (async () => {
    const env = await ensureKube();
    await env.applyCrds();
    const dir = path.join(repoRoot(), 'deploy', 'overlays', 'standalone');
    const r = await kubectl(env, ['apply', '--server-side', '--force-conflicts', '--field-manager=auditflow-test', '-k', dir]);
    if (r.status !== 0) throw new Error(`kubectl apply -k ${dir} failed:\n${r.stderr}${r.stdout}`);
    return env;
  })();
  deployed.catch(() => (deployed = undefined));
  return deployed;
}

/** A client acting as `user` ("admin", or a component service account such as "auditflow-agent"). */
export function clientAs(env: KubeEnv, user: string, fieldManager = 'auditflow-test'): KubeClient {
  return KubeClient.load(env.kubeconfigFor(user), fieldManager);
}

/** A DNS-1123 name unique to this run. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Polls `fn` until it returns a value other than undefined/false; fails with `what` and the last value seen. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, deadlineMs = 30_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) assert.fail(`${what}: not within ${deadlineMs / 1000} s (last: ${last instanceof Error ? last.message : JSON.stringify(last)?.slice(0, 500)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** GET that answers undefined for 404. */
export async function getOrUndefined<T>(c: KubeClient, p: string): Promise<T | undefined> {
  try {
    return await c.get<T>(p);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** A namespace for test pods, with the "default" service account (no controller-manager creates it here). */
export async function ensureNamespace(admin: KubeClient, ns: string): Promise<void> {
  await admin.apply(`/api/v1/namespaces/${ns}`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await admin.apply(`/api/v1/namespaces/${ns}/serviceaccounts/default`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } });
}

/**
 * What a node agent leaves behind when its node goes away for good (here: when a test's agent stops): its
 * `<node>-delete` finalizer on every profile, which would hold their deletion forever, and its per-node
 * status objects.
 */
export async function forgetNode(admin: KubeClient, node: string, _namespace = 'auditflow'): Promise<void> {
  const finalizer = `${node}-delete`;
  for (const plural of ['seccompprofiles', 'selinuxprofiles', 'rawselinuxprofiles', 'apparmorprofiles']) {
    const base = `/apis/security-profiles-operator.x-k8s.io/v1/${plural}`;
    const list = await admin.get<{ items: { metadata: { name: string; finalizers?: string[] } }[] }>(base);
    for (const p of list.items) {
      const f = p.metadata.finalizers ?? [];
      if (!f.includes(finalizer)) continue;
      try {
        await admin.jsonPatch(`${base}/${p.metadata.name}`, [
          { op: 'test', path: '/metadata/finalizers', value: f },
          { op: 'replace', path: '/metadata/finalizers', value: f.filter((x) => x !== finalizer) },
        ]);
      } catch (e) {
        if (isNotFound(e)) continue;
        throw new Error(`cannot remove finalizer ${finalizer} from ${plural}/${p.metadata.name}: ${(e as Error).message}`);
      }
    }
  }
  // SPO 1.0's node statuses: cluster-scoped v1, spec.nodeName.
  const statuses = `/apis/security-profiles-operator.x-k8s.io/v1/securityprofilenodestatuses`;
  const list = await admin.get<{ items: { metadata: { name: string }; spec?: { nodeName?: string } }[] }>(statuses);
  for (const s of list.items) if (s.spec?.nodeName === node) await admin.delete(`${statuses}/${s.metadata.name}`).catch(() => undefined);
}
