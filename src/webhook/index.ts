// `auditflow webhook` as a library: certificates (made, stored, caBundle patched, rotated), the HTTPS admission
// server, and the in-use controller, started in that order and stopped in reverse.

import type { Logger } from '../log';
import type { KubeClient } from '../k8s/client';
import { logProfileLocalhost } from './api';
import { CertManager } from './cert-manager';
import { webhookConfiguration, type FailurePolicy } from './configuration';
import { MUTATING_WEBHOOK_CONFIGURATIONS } from './api';
import { resourcePath } from '../k8s/resources';
import type { LabelSelectorRequirement } from '../profile/selector';
import { InUseController } from './in-use';
import { WebhookServer, type WebhookName } from './server';

export interface WebhookOptions {
  client: KubeClient;
  log: Logger;
  /** auditflow's namespace: the Secret's, and the logging profile's directory (operator/<namespace>/). */
  namespace: string;
  secretName: string;
  hosts: string[];
  /**
   * The MutatingWebhookConfiguration: `managed` is written by auditflow (server-side apply) with the caBundle;
   * `static` names existing ones whose caBundle alone is patched.
   */
  configuration:
    | {
        managed: {
          name: string;
          target: { service: { name: string; namespace: string; port?: number } } | { url: string };
          clusterBindingFailurePolicy?: FailurePolicy;
          scope?: LabelSelectorRequirement[];
          webhooks?: WebhookName[];
        };
      }
    | { static: string[] };
  host: string;
  port: number;
  caValidityMs?: number;
  certValidityMs?: number;
  renewFraction?: number;
  /** Re-check the certificates this often (default: see CertManager.startRotation). */
  rotationCheckMs?: number;
  /** Run the in-use controller (finalizers on used profiles and applied bindings); default true. */
  inUse?: boolean;
  /** Only pods of these namespaces count for it (default all). */
  inUseNamespaces?: string[];
}

export interface Webhook {
  server: WebhookServer;
  certs: CertManager;
  inUse: InUseController | undefined;
  stop(): Promise<void>;
}

export async function startWebhook(o: WebhookOptions): Promise<Webhook> {
  let server: WebhookServer | undefined;
  const certs = new CertManager({
    client: o.client,
    log: o.log.child({ component: 'webhook-certs' }),
    namespace: o.namespace,
    secretName: o.secretName,
    hosts: o.hosts,
    webhookConfigurations: 'static' in o.configuration ? o.configuration.static : [],
    ...('managed' in o.configuration ? { publishCaBundle: (caBundle: string) => applyConfiguration(o, caBundle) } : {}),
    ...(o.caValidityMs ? { caValidityMs: o.caValidityMs } : {}),
    ...(o.certValidityMs ? { certValidityMs: o.certValidityMs } : {}),
    ...(o.renewFraction ? { renewFraction: o.renewFraction } : {}),
    onChange: (pair) => server?.setCertificate(pair.cert, pair.key),
  });
  const state = await certs.ensure();
  server = new WebhookServer({ client: o.client, log: o.log.child({ component: 'webhook' }), logProfile: logProfileLocalhost(o.namespace), host: o.host, port: o.port, cert: state.serving.cert, key: state.serving.key });
  await server.start();
  certs.startRotation(o.rotationCheckMs);
  let inUse: InUseController | undefined;
  if (o.inUse !== false) {
    inUse = new InUseController({ client: o.client, log: o.log.child({ component: 'in-use' }), seccompProfiles: server.seccompProfiles, bindings: server.bindings, clusterBindings: server.clusterBindings, ...(o.inUseNamespaces ? { namespaces: o.inUseNamespaces } : {}) });
    await inUse.start();
  }
  return {
    server,
    certs,
    inUse,
    async stop() {
      certs.stop();
      await inUse?.stop();
      await server.stop();
    },
  };
}

async function applyConfiguration(o: WebhookOptions, caBundle: string): Promise<void> {
  if (!('managed' in o.configuration)) return;
  const m = o.configuration.managed;
  const body = webhookConfiguration({
    name: m.name,
    namespace: o.namespace,
    target: m.target,
    caBundle,
    ...(m.clusterBindingFailurePolicy ? { clusterBindingFailurePolicy: m.clusterBindingFailurePolicy } : {}),
    ...(m.scope ? { scope: m.scope } : {}),
    ...(m.webhooks ? { webhooks: m.webhooks } : {}),
  });
  await o.client.apply(resourcePath(MUTATING_WEBHOOK_CONFIGURATIONS, { name: m.name }), body);
  o.log.info({ configuration: m.name }, 'webhook configuration applied');
}
