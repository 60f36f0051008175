// The admission webhook in the test process against the real apiserver (test/env/kube.ts): served on
// 127.0.0.1 with the certificates it makes itself, and reached by the apiserver through a `url:` client
// config (there is no kubelet, so no Service endpoints). Its MutatingWebhookConfiguration is the production
// one (src/webhook/configuration.ts) plus one namespace requirement, `scope`, so that it only ever selects
// this test's namespaces: the rig is shared, and no other session's pods may depend on this process.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubeClient } from '../../src/k8s/client';
import { createLogger } from '../../src/log';
import { startWebhook, type Webhook } from '../../src/webhook';
import { MUTATING_WEBHOOK_CONFIGURATIONS } from '../../src/webhook/api';
import { resourcePath } from '../../src/k8s/resources';
import { kubectl, SA_NAMESPACE, type KubeEnv } from './kube';

export const SCOPE_LABEL = 'auditflow.dev/webhook-test';

/** A client with a real token of deploy/'s auditflow-webhook service account (TokenRequest), so its RBAC is what is tested. */
export async function webhookServiceAccountClient(env: KubeEnv, dir: string): Promise<KubeClient> {
  const r = await kubectl(env, ['-n', SA_NAMESPACE, 'create', 'token', 'auditflow-webhook', '--duration=2h']);
  if (r.status !== 0) throw new Error(`kubectl create token auditflow-webhook failed (is deploy/base/webhook.yaml applied?):\n${r.stderr}`);
  const token = r.stdout.trim();
  const ca = env.ca.startsWith('-----BEGIN') ? env.ca : fs.readFileSync(env.ca, 'utf8');
  const file = path.join(dir, 'webhook-sa.kubeconfig');
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'rig', cluster: { server: env.server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
    users: [{ name: 'webhook', user: { token } }],
    contexts: [{ name: 'webhook', context: { cluster: 'rig', user: 'webhook' } }],
    'current-context': 'webhook',
  };
  fs.writeFileSync(file, JSON.stringify(cfg), { mode: 0o600 });
  return KubeClient.load(file, 'auditflow-webhook');
}

export interface TestWebhookOptions {
  client: KubeClient;
  /** Value of SCOPE_LABEL on this test's namespaces. */
  scope: string;
  configName?: string;
  namespace?: string;
  secretName?: string;
  port?: number;
  /** The test's namespaces: only their pods count for the in-use finalizers (other sessions' profiles stay untouched). */
  namespaces: string[];
}

export async function startTestWebhook(o: TestWebhookOptions): Promise<Webhook & { url: string; configName: string }> {
  const configName = o.configName ?? 'auditflow-webhook';
  // A fixed port across restarts of the webhook in one test (the configuration names it); 0 picks one first.
  let port = o.port ?? 0;
  const make = (p: number) =>
    startWebhook({
      client: o.client,
      log: createLogger('webhook-test'),
      namespace: o.namespace ?? SA_NAMESPACE,
      secretName: o.secretName ?? 'auditflow-webhook-tls',
      hosts: ['127.0.0.1'],
      configuration: { managed: { name: configName, target: { url: `https://127.0.0.1:${p}` }, scope: [{ key: SCOPE_LABEL, operator: 'In', values: [o.scope] }] } },
      host: '127.0.0.1',
      port: p,
      inUseNamespaces: o.namespaces,
    });
  if (port === 0) {
    // The URL must be known before the configuration is written: take a free port first.
    const net = await import('node:net');
    port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
  }
  const w = await make(port);
  return Object.assign(w, { url: `https://127.0.0.1:${port}`, configName });
}

export async function deleteConfiguration(admin: KubeClient, name: string): Promise<void> {
  await admin.delete(resourcePath(MUTATING_WEBHOOK_CONFIGURATIONS, { name })).catch(() => undefined);
}

export const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-webhook-'));
